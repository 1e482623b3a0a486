"""The dashboard's overview with a large store, measured in the browser (Debian's Chromium via Playwright).

    python benchmarks/bench_dashboard.py                     # generates 100,000 events, 500 tickers, 5 years
    python benchmarks/bench_dashboard.py --store /tmp/big.db # an existing store (gen_dashboard_store.py)

What is timed, each a median of ``--runs`` runs:

* **first load**: a new browser context (nothing cached) opens ``/``; from
  navigation start (``performance.timeOrigin``) to the first event row in the
  DOM, read in the page by a MutationObserver installed before any script
  runs. Target 2 s.
* **filter change**: in the loaded page, a new minimum relevance typed and
  Enter pressed; from the keydown (a capture listener) to the table's summary
  changing (a MutationObserver). Target 300 ms. The same for a minimum
  |move| (the filter that joins the day-0 results for its count) and a ticker
  picked in the dropdown (from the option's click).
* **sort**: a click on the "AR d0" header to the first row changing
  (informative: every event joins its result to be ordered).

Baseline, in the same process and on the same store: the naive way to fill
the table, loading every event with its article and results
(:func:`monitor.store.repo.event_results`, unpaginated) to filter and page in
Python, against the dashboard's SQL page query for the same view. The ratio
is printed. Nothing is asserted: the numbers are printed (the smoke test in
``tests/test_dashboard_bench.py`` runs a tiny store).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "benchmarks"))

from dashboard_browser import PageWatch, ServedApp, launch_chromium, wait_for_page  # noqa: E402

FIRST_ROW_OBSERVER = """
(() => {
  window.__bench = {rows: null, changes: []};
  const seen = () => {
    if (window.__bench.rows === null && document.querySelector('#ov-table tr.ov-row')) {
      window.__bench.rows = performance.now();
    }
  };
  new MutationObserver(seen).observe(document, {childList: true, subtree: true});
})();
"""

ARM = """
(selector) => {
  window.__bench.t0 = null; window.__bench.t1 = null;
  const start = () => { if (window.__bench.t0 === null) window.__bench.t0 = performance.now(); };
  document.addEventListener('keydown', start, {capture: true, once: true});
  document.addEventListener('mousedown', start, {capture: true, once: true});
  const target = document.querySelector(selector);
  const before = target.innerText;
  const obs = new MutationObserver(() => {
    if (target.innerText !== before && window.__bench.t1 === null) {
      window.__bench.t1 = performance.now(); obs.disconnect();
    }
  });
  obs.observe(target, {childList: true, subtree: true, characterData: true});
}
"""


def _settings(store: Path):  # noqa: ANN202 - monitor.config.Settings
    from monitor.config import load_settings

    return load_settings(database_url=f"sqlite:///{store}")


def _timed_change(tab: Any, watch_selector: str, action: Any, timeout: float = 30_000) -> float:
    tab.evaluate(ARM, watch_selector)
    action()
    tab.wait_for_function("() => window.__bench.t1 !== null && window.__bench.t0 !== null", timeout=timeout)
    return float(tab.evaluate("() => window.__bench.t1 - window.__bench.t0")) / 1000


def baseline(store: Path, settings: Any) -> dict[str, float]:
    """Seconds of the naive unpaginated load (once) and of the dashboard's page query (median of 5), same view:
    events with relevance 50 or more, newest first, the first 25."""
    from dashboards import queries
    from monitor.store import db

    engine = db.make_engine(settings.database_url)
    try:
        with engine.connect() as conn:
            times = []
            for _ in range(5):
                t = time.perf_counter()
                page = queries.overview_page(conn, queries.EventFilter(min_relevance=50), model=settings.model,
                                             car_window=(-1, 1))
                times.append(time.perf_counter() - t)
            paged = statistics.median(times)
            t = time.perf_counter()
            frame = queries.all_events_naive(conn)
            kept = frame[frame["relevance"] >= 50].drop_duplicates(["article_key", "symbol"]).head(25)
            naive = time.perf_counter() - t
    finally:
        engine.dispose()
    return {"paged": paged, "naive": naive, "naive_rows": float(len(frame)), "page_rows": float(len(page.rows)),
            "kept": float(len(kept))}


def run(store: Path, *, runs: int = 5, quiet: bool = False) -> dict[str, Any]:
    """Serve the dashboard on ``store`` and time it in Chromium; returns the medians (seconds) and checks."""
    from dashboards import queries
    from monitor.store import db

    settings = _settings(store)
    engine = db.make_engine(settings.database_url)
    with engine.connect() as conn:
        total = queries.count_events(conn, queries.EventFilter(), model=settings.model)
        tickers = queries.filter_options(conn)["tickers"]
    engine.dispose()
    out: dict[str, Any] = {"events": total, "first_load": [], "filter_relevance": [], "filter_move": [],
                           "filter_ticker": [], "sort": [], "errors": []}
    with ServedApp(settings) as served, launch_chromium() as browser:
        for i in range(runs):
            context = browser.new_context(viewport={"width": 1400, "height": 1000})
            context.add_init_script(FIRST_ROW_OBSERVER)
            tab = context.new_page()
            watch = PageWatch().attach(tab)
            tab.goto(served.url + "/")
            tab.wait_for_function("() => window.__bench && window.__bench.rows !== null", timeout=60_000)
            out["first_load"].append(float(tab.evaluate("() => window.__bench.rows")) / 1000)
            wait_for_page(tab)
            if i == 0:
                out["rows_shown"] = tab.locator("#ov-table tr.ov-row").count()
                out["total_shown"] = int(tab.inner_text("#ov-total").replace(",", ""))
            relevance = str(40 + 5 * (i % 8))

            def type_relevance(value: str = relevance) -> None:
                tab.fill("#ov-min-rel", value)
                tab.press("#ov-min-rel", "Enter")

            out["filter_relevance"].append(_timed_change(tab, "#ov-summary", type_relevance))
            move = str(1 + i % 5)

            def type_move(value: str = move) -> None:
                tab.fill("#ov-min-move", value)
                tab.press("#ov-min-move", "Enter")

            out["filter_move"].append(_timed_change(tab, "#ov-summary", type_move))
            tab.goto(served.url + "/")
            wait_for_page(tab)
            symbol = tickers[(i * 7) % len(tickers)]
            tab.click("#ov-ticker")
            tab.keyboard.type(symbol)  # the dropdown's search box narrows 500 options to this one
            option = tab.get_by_role("option", name=symbol, exact=True)
            option.wait_for()
            out["filter_ticker"].append(_timed_change(tab, "#ov-summary", option.click))
            tab.goto(served.url + "/")
            wait_for_page(tab)
            sort_header = "#ov-table th button:has-text('AR d0')"
            out["sort"].append(_timed_change(tab, "#ov-body", lambda: tab.click(sort_header)))
            out["errors"].extend(watch.errors)
            context.close()
    out["baseline"] = baseline(store, settings)
    med = {k: statistics.median(v) for k, v in out.items() if isinstance(v, list) and v and k != "errors"}
    out["median"] = med
    if not quiet:
        report(out, runs)
    return out


def report(out: dict[str, Any], runs: int) -> None:
    med, base = out["median"], out["baseline"]
    lines = [
        f"dashboard overview, {out['events']:,} events in the store; medians of {runs} run(s) in Chromium",
        f"  first load (navigation start -> rows visible, cold cache): {med['first_load'] * 1000:7.0f} ms"
        f"   target 2000 ms  {'ok' if med['first_load'] < 2 else 'OVER'}",
        f"  filter change, min relevance (Enter -> table updated):     {med['filter_relevance'] * 1000:7.0f} ms"
        f"   target  300 ms  {'ok' if med['filter_relevance'] < 0.3 else 'OVER'}",
        f"  filter change, min |move| (joins day-0 results):           {med['filter_move'] * 1000:7.0f} ms"
        f"   target  300 ms  {'ok' if med['filter_move'] < 0.3 else 'OVER'}",
        f"  filter change, ticker dropdown (click -> table updated):   {med['filter_ticker'] * 1000:7.0f} ms"
        f"   target  300 ms  {'ok' if med['filter_ticker'] < 0.3 else 'OVER'}",
        f"  sort by AR d0 (click -> rows reordered):                   {med['sort'] * 1000:7.0f} ms",
        f"  baseline, same process: every event and result loaded unpaginated ({base['naive_rows']:,.0f} rows) "
        f"{base['naive'] * 1000:,.0f} ms against the dashboard's page query {base['paged'] * 1000:.1f} ms: "
        f"{base['naive'] / max(base['paged'], 1e-9):,.0f}x",
        f"  rows shown {out.get('rows_shown')}, total shown {out.get('total_shown'):,}; console errors: "
        f"{len(out['errors'])}",
    ]
    print("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", type=Path, help="an existing store (default: generate one in a temporary folder)")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--tickers", type=int, default=500)
    parser.add_argument("--years", type=float, default=5)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        store = args.store
        if store is None:
            from gen_dashboard_store import generate

            store = Path(tmp) / "dashboard.db"
            generate(store, events=args.events, tickers=args.tickers, years=args.years)
        run(store, runs=args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
