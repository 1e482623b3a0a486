"""Ingestion benchmark: 20,000 generated feed items from a local server, end to end.

Serves ``generated_feed(N)`` (finance news with about 5 % exact and 10 %
near duplicates) from a local HTTP server, then measures in one process:

* baseline: fetching the document and parsing it into articles (``parse_feed``),
* duplicate detection alone: canonical URLs, SimHash fingerprints and story
  grouping of the parsed articles,
* end to end: one ``Pipeline.poll`` of the feed: fetch, parse, exact and
  near-duplicate detection, tagging, market-time placement and storing
  articles, mentions and events in SQLite.

Prints seconds and items per second of each and the ratios; the target is at
least 2,000 items/s end to end on one core. Run from the project root::

    .venv/bin/python benchmarks/bench_ingest.py [--n 20000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

import feed_server  # noqa: E402

from monitor import calendars  # noqa: E402
from monitor.config import FeedConfig, load_settings  # noqa: E402
from monitor.news.dedup import StoryIndex, canonical_url, simhashes  # noqa: E402
from monitor.news.feeds import parse_feed  # noqa: E402
from monitor.news.http import fetch  # noqa: E402
from monitor.pipeline import PassReport, Pipeline, story_text  # noqa: E402
from monitor.store import db, repo  # noqa: E402

TARGET = 2_000.0


def watchlist(path: Path) -> None:
    lines = ['[defaults]\nbenchmark = "SPY"\n']
    for name, ticker, exchange in feed_server.COMPANIES:
        lines.append(f'[[instrument]]\nsymbol = "{ticker}"\nname = "{name}"\nexchange = "{exchange}"\n')
    lines.append('[[instrument]]\nsymbol = "SPY"\nname = "SPDR S&P 500 ETF Trust"\nasset_class = "etf"\n'
                 'benchmark = ""\ntaggable = false\n')
    path.write_text("\n".join(lines))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20_000, help="feed items (default 20000)")
    args = parser.parse_args()
    body = feed_server.generated_feed(args.n, seed=1)
    tz = ZoneInfo("America/New_York")
    with tempfile.TemporaryDirectory() as tmp, feed_server.serve() as server:
        folder = Path(tmp)
        watchlist(folder / "watchlist.toml")
        server.add("/wire.rss", body)
        url = server.url("/wire.rss")
        print(f"{args.n:,} generated items, {len(body) / 1e6:.1f} MB of RSS, served from {url}")

        t0 = time.perf_counter()
        fetched = fetch(url, allow_private=True, max_bytes=200_000_000)
        batch = parse_feed(fetched.body, source="feed:wire", default_tz=tz, fetched_at=datetime.now(timezone.utc))
        baseline = time.perf_counter() - t0
        n = len(batch.articles)

        t0 = time.perf_counter()
        unique = list({a.key: a for a in batch.articles}.values())
        urls = [canonical_url(a.url) for a in unique]
        prints = simhashes([story_text(a) for a in unique])
        index = StoryIndex(max_distance=10, window=timedelta(hours=72))
        ordered = sorted(zip(unique, prints), key=lambda p: p[0].published_at)
        repeats = sum(not index.add(a.key, int(fp), a.published_at).is_first for a, fp in ordered)
        dedup = time.perf_counter() - t0

        settings = load_settings(
            database_url=f"sqlite:///{folder / 'bench.db'}", watchlist=folder / "watchlist.toml",
            news_dirs=[folder / "no-news"], allow_private_feeds=True, feed_max_bytes=200_000_000,
            feeds=[FeedConfig(name="wire", url=url)],
        )
        engine = db.open_store(settings.database_url)
        pipeline = Pipeline(settings, engine)
        feed = next(s for s in pipeline.sources if s.name == "feed:wire")
        report = PassReport()
        with engine.begin() as conn:
            repo.save_instruments(conn, list(pipeline.instruments.values()))
        # Steady state: the exchange calendar is built once per process (about
        # 0.4 s), as in a long-running scheduler, before the clock starts.
        calendars.event_time(datetime.now(timezone.utc), "XNYS")
        t0 = time.perf_counter()
        pipeline.poll(feed, report)
        end_to_end = time.perf_counter() - t0
        engine.dispose()

    rate = n / end_to_end
    print(f"baseline: fetch + parse        {baseline:7.2f} s  {n / baseline:9,.0f} items/s")
    print(f"duplicate detection alone      {dedup:7.2f} s  {n / dedup:9,.0f} items/s  "
          f"({len(set(u for u in urls if u)):,} URLs, {repeats:,} near-duplicate repeats)")
    print(f"end to end (fetch .. store)    {end_to_end:7.2f} s  {rate:9,.0f} items/s")
    print(f"stored: {report.articles_new:,} articles ({report.duplicates:,} exact duplicates skipped, "
          f"{report.repeats:,} repeats), {report.mentions_new:,} mentions, {report.events_new:,} events")
    print(f"ratio end-to-end / baseline: {end_to_end / baseline:.2f}x; "
          f"duplicate detection is {dedup / end_to_end:.0%} of end to end")
    print(f"target {TARGET:,.0f} items/s end to end: {'met' if rate >= TARGET else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
