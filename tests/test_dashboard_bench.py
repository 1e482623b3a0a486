"""Smoke test of the dashboard benchmark: a tiny generated store, one timed run in Chromium.

The full run (100,000 events, 500 tickers, 5 years) is `python benchmarks/bench_dashboard.py`; here the
generator's store must be consistent (every event has its article, mentions pointing at the text, results
from the engine) and the overview must list it with the right count. Timings are printed, not asserted.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import pytest

from dashboard_browser import ROOT, chromium_missing_reason

sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_dashboard  # noqa: E402
from gen_dashboard_store import generate  # noqa: E402


def test_the_generated_store_is_consistent(tmp_path: Path) -> None:
    store = tmp_path / "small.db"
    counts = generate(store, events=2000, tickers=20, years=1, quiet=True)
    with sqlite3.connect(store) as conn:
        def one(sql: str) -> int:
            return conn.execute(sql).fetchone()[0]

        assert one("SELECT count(*) FROM events") == 2000 == counts["events"]
        assert one("SELECT count(*) FROM price_bars") == counts["price_bars"] == 21 * counts["sessions"]
        assert one("SELECT count(*) FROM event_returns") == 3 * 2000
        assert one("SELECT count(*) FROM events e LEFT JOIN articles a USING (article_key) WHERE a.id IS NULL") == 0
        assert one("SELECT count(*) FROM mentions") == 2000
        spans = ("SELECT a.title, a.body, m.start, m.end, m.matched "
                 "FROM mentions m JOIN articles a USING (article_key)")
        for title, body, start, end, matched in conn.execute(spans):
            assert (title + "\n\n" + body)[start:end] == matched
        assert one("SELECT count(DISTINCT status) FROM event_returns") == 2  # ok and insufficient_history
        assert one("SELECT count(*) FROM alerts") == counts["alerts"]


def test_the_browser_benchmark_runs_on_a_tiny_store(tmp_path: Path) -> None:
    missing = chromium_missing_reason()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(missing)
        pytest.skip(missing)
    store = tmp_path / "small.db"
    generate(store, events=2000, tickers=20, years=1, quiet=True)
    out = bench_dashboard.run(store, runs=1, quiet=True)
    assert out["errors"] == []
    assert out["rows_shown"] == 25 and out["total_shown"] == out["events"] == 2000
    assert set(out["median"]) >= {"first_load", "filter_relevance", "filter_move", "filter_ticker", "sort"}
    assert all(0 < v < 30 for v in out["median"].values())
    assert out["baseline"]["naive_rows"] == 6000 and out["baseline"]["page_rows"] == 25
    bench_dashboard.report(out, 1)
