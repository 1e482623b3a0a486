"""Feed parsing benchmark: feedparser against the fast path, on generated RSS.

Builds ``generated_feed(N, seed)`` (finance news, RSS 2.0 with CDATA HTML
summaries; 20,000 items and about 11 MB by default) and parses it in one
process with :func:`monitor.news.feeds.parse_feed`:

(a) the baseline, ``engine="feedparser"``: what ``parse_feed`` did before the
    fast path (feedparser's SAX parser, then the articles);
(b) ``engine="auto"``, the default: expat's tree read as feedparser would read
    it, the same articles (feedparser only for documents the fast path
    declines).

Both runs include the whole of ``parse_feed``: the entity refusal, parsing,
turning entries into articles (markup to text, dates, links) and dropping
duplicates. It checks that both give the same batch, then prints the seconds
and items per second of each and the speed-up. The project's target is 2,000
items/s end to end (fetch, parse, dedup, tag, store), so parsing has to be far
faster than that. Run from the project root::

    .venv/bin/python benchmarks/bench_feed_parse.py [--n 20000] [--seed 1] [--repeat 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import feed_server  # noqa: E402

from monitor.news import SourceBatch  # noqa: E402
from monitor.news.feeds import parse_feed  # noqa: E402

#: The end-to-end rate the project aims for (items per second, one core).
TARGET_ITEMS_PER_SECOND = 2_000


def _parse(body: bytes, engine: str) -> tuple[float, SourceBatch]:
    """Seconds one ``parse_feed`` call takes, and its batch."""
    started = time.perf_counter()
    batch = parse_feed(
        body,
        source="feed:bench",
        default_tz=ZoneInfo("America/New_York"),
        fetched_at=datetime(2025, 2, 5, 12, 0, tzinfo=timezone.utc),
        base_url="https://news.example.com/markets/rss",
        engine=engine,  # type: ignore[arg-type]
    )
    return time.perf_counter() - started, batch


def _report(label: str, items: int, seconds: float) -> None:
    print(f"{label:<40} {seconds:8.3f} s  {items / seconds:>10,.0f} items/s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=20_000, help="items in the generated feed (default 20000)")
    parser.add_argument("--seed", type=int, default=1, help="seed of the generated feed (default 1)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each engine; the fastest counts (default 1)")
    args = parser.parse_args(argv)

    body = feed_server.generated_feed(args.n, seed=args.seed)
    print(f"generated_feed({args.n:,}, seed={args.seed}): {len(body) / 1e6:.1f} MB")
    # interleaved, so that a machine that slows down during the run slows both engines
    baseline_runs, fast_runs = [], []
    for _ in range(max(1, args.repeat)):
        baseline_runs.append(_parse(body, "feedparser"))
        fast_runs.append(_parse(body, "auto"))
    baseline, reference = min(baseline_runs, key=lambda run: run[0])
    fast, batch = min(fast_runs, key=lambda run: run[0])
    if batch != reference:
        print("the fast path and feedparser gave different batches", file=sys.stderr)
        return 1
    items = len(batch.articles) + len(batch.dropped)
    print(f"{len(batch.articles):,} articles, {len(batch.dropped):,} dropped; both engines gave the same batch")
    _report("(a) baseline: parse_feed, feedparser", items, baseline)
    _report("(b) parse_feed, auto (fast path)", items, fast)
    print(f"speed-up (a) / (b): {baseline / fast:.1f}x")
    share = fast / (items / TARGET_ITEMS_PER_SECOND)
    print(f"parsing takes {share:.0%} of the {TARGET_ITEMS_PER_SECOND:,} items/s end-to-end budget (feedparser: {baseline / (items / TARGET_ITEMS_PER_SECOND):.0%})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
