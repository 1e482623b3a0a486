"""Benchmark: from a new article in a feed to its alert in a webhook receiver.

A store already holds the demo (its prices are cached). A local feed then
carries a new story naming CoreCivic, and one pipeline pass (the scheduler's
job) polls it, tags it, places it in market time, evaluates a ``new_article``
alert rule and delivers the alert to a local webhook receiver. The latency
beyond the polling interval is the time from the pass's start to the
receiver's getting the alert. As a baseline, the same process times a bare
HTTP fetch of the feed. Target: under 1 second. Run from the repository root::

    python benchmarks/bench_alert_latency.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import datetime, timezone
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import feed_server  # noqa: E402

from monitor.config import AlertChannel, AlertRule, FeedConfig, load_settings  # noqa: E402
from monitor.pipeline import Pipeline  # noqa: E402
from monitor.store import db  # noqa: E402

TARGET_SECONDS = 1.0


class Receiver(BaseHTTPRequestHandler):
    """Records the time each webhook POST arrives."""

    arrivals: list[tuple[float, dict]] = []

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Receiver.arrivals.append((time.perf_counter(), json.loads(body or b"{}")))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")


def rss(title: str, when: datetime, guid: str) -> bytes:
    return f"""<?xml version="1.0"?><rss version="2.0"><channel><title>desk</title>
<item><title>{title}</title><guid>{guid}</guid><pubDate>{format_datetime(when)}</pubDate>
<description>CoreCivic, Inc. CXW said it won a new detention contract; shares rose.</description></item>
</channel></rss>""".encode()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=5, help="new stories measured (default 5)")
    args = parser.parse_args(argv)

    receiver = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    webhook = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
    latencies, fetches = [], []
    with tempfile.TemporaryDirectory() as folder, feed_server.serve() as server:
        seeds = Path(folder) / "seeds"
        shutil.copytree(ROOT / "seeds", seeds)
        url = server.url("/desk.rss")
        base = dict(database_url=f"sqlite:///{folder}/m.db", seeds_dir=seeds, allow_private_feeds=True)
        now = datetime(2025, 3, 3, 15, 0, tzinfo=timezone.utc)  # Monday, New York morning
        Pipeline(load_settings(**base), db.open_store(base["database_url"])).run_pass(now=now)  # prices cached
        settings = load_settings(
            **base,
            feeds=[FeedConfig(name="desk", url=url)],
            alert_rules=[AlertRule(name="cxw-news", kind="new_article", tickers=["CXW"], min_relevance=50,
                                   channels=["hook"])],
            alert_channels=[AlertChannel(name="hook", kind="webhook", url=webhook)],
        )
        engine = db.open_store(settings.database_url)
        for i in range(args.repeat):
            server.add("/desk.rss", rss(f"CoreCivic wins contract number {i}", now, f"story-{i}"))
            started = time.perf_counter()
            with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - a local server
                answer.read()
            fetches.append(time.perf_counter() - started)
            Receiver.arrivals.clear()
            started = time.perf_counter()
            Pipeline(settings, engine).run_pass(now=now)
            if not Receiver.arrivals:
                print(f"story {i}: no alert reached the webhook", file=sys.stderr)
                return 1
            latencies.append(Receiver.arrivals[0][0] - started)
        engine.dispose()
    receiver.shutdown()
    median = statistics.median(latencies)
    fetch = statistics.median(fetches)
    print(f"{len(latencies)} new stories: feed -> tag -> event -> alert rule -> webhook")
    print(f"baseline: bare HTTP fetch of the feed   {fetch * 1000:8.1f} ms (median)")
    print(f"latency beyond the polling interval     {median * 1000:8.1f} ms (median), worst "
          f"{max(latencies) * 1000:.1f} ms")
    print(f"ratio latency / fetch: {median / fetch:.0f}x; target under {TARGET_SECONDS:.0f} s: "
          f"{'met' if max(latencies) < TARGET_SECONDS else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
