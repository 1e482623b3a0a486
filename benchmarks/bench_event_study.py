"""Benchmark of the vectorised event-study engine against the PyPI package ``eventstudy``.

Generates seeded synthetic data: ``--symbols`` symbols x ``--years`` years of
daily simple returns (252 sessions a year) driven by one market series
(``R = a + b Rm + e``), with a few symbols listed late (too little history for
some events) and a few scattered missing returns, and ``--events`` events on
random symbols and dates (one in ten on a calendar day that is not a session,
which maps to the next session). Then:

1. runs :func:`monitor.impact.engine.run_events` (market model, estimation
   (-250, -11), windows (0, 0), (-1, 1), (0, 5)) and prints the total time,
   events per second and the time of each stage: ``prepare`` (frames to
   arrays), ``core`` (the pure numpy maths) and ``assemble`` (arrays to the
   panel's frames), then the time to build ``est_ar`` and ``est_market``,
   which the panel materialises on first access. Target: the whole run under
   5 s for 100,000 events over 2,000 symbols and 10 years, on one core;
2. runs ``eventstudy.Single.market_model`` on ``--compare`` of those events
   (ok events whose estimation and event span has no missing return, since
   eventstudy's OLS does not skip missing values), prints its time per event
   and the speed ratio against the engine's time per event (``run_events``
   total / events; target: over 100x; the ratio counting the estimation
   frames too is printed as well), and checks that both give the same
   numbers.

Conventions aligned for the comparison
--------------------------------------
* Windows: eventstudy has one event window ``(T2, T3)`` and an estimation of
  ``estimation_size`` returns ending ``buffer_size`` returns before ``T2``.
  The engine's span is reproduced with ``event_window = (-1, 5)`` (first
  window start, last window end), ``estimation_size = 240`` and
  ``buffer_size = 9``: estimation relative days -250..-11 in both.
* Event dates: eventstudy looks the date up in its date column (or up to 4
  calendar days later); it is given the engine's day-0 session.
* CAR: eventstudy's CAR is cumulative from ``T2``; a window ``(s, e)``'s CAR
  is ``CAR[e] - CAR[s - 1]`` (``CAR[e]`` when ``s = T2``). ARs are compared
  day by day.
* Residual variance: eventstudy uses ``np.var`` (ddof 0) and ``df = T - 1``;
  the engine ``SSR / (T - 2)`` (ddof = 2 parameters) and ``T - 2`` degrees of
  freedom. Its t (``CAR / sqrt(L var)``) is rescaled by
  ``sqrt((T - 2) / T)`` before comparison, and the engine's sigma^2 is
  compared with ``var * T / (T - 2)``.
* Variance of an AR: eventstudy uses the residual variance alone; the engine's
  ``event_var`` adds the forecast-error terms ``1/T + (Rm - mean)^2 / Sxx``.
  Not compared (different by design); the t statistics of both use sigma alone.

Run from the repository root::

    python benchmarks/bench_event_study.py [--events 100000] [--symbols 2000]
        [--years 10] [--compare 200] [--seed 7] [--json]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor.impact.engine import StudySpec, _run_timed  # noqa: E402

#: Seconds allowed for the full-size run, on one core.
TARGET_SECONDS = 5.0
#: Speed ratio per event wanted against eventstudy.
TARGET_RATIO = 100.0
#: Largest difference of AR, CAR (and t, sigma^2 relative) accepted as "identical".
TOLERANCE = 1e-8
SPEC = StudySpec(model="market", estimation=(-250, -11), windows=((0, 0), (-1, 1), (0, 5)),
                 min_obs=120)


def generate(n_symbols: int, years: int, n_events: int, seed: int):
    """Seeded returns (sessions x symbols), market Series and events frame."""
    rng = np.random.default_rng(seed)
    n_sessions = 252 * years
    grid = pd.bdate_range("2010-01-04", periods=n_sessions)
    market = rng.normal(0.0003, 0.01, n_sessions)
    alpha = rng.normal(0.0, 0.0005, n_symbols)
    beta = rng.uniform(0.3, 1.8, n_symbols)
    noise = rng.normal(0.0, 0.02, (n_sessions, n_symbols))
    values = alpha + market[:, None] * beta + noise
    # A few late listings (NaN before) and scattered missing returns.
    late = rng.choice(n_symbols, size=max(1, n_symbols // 50), replace=False)
    for j, first in zip(late, rng.integers(0, n_sessions, len(late)), strict=True):
        values[:first, j] = np.nan
    gaps = rng.choice(n_symbols, size=max(1, n_symbols // 20), replace=False)
    for j in gaps:
        values[rng.integers(0, n_sessions, 5), j] = np.nan
    symbols = [f"S{j:04d}" for j in range(n_symbols)]
    returns = pd.DataFrame(values, index=grid, columns=symbols)
    market_s = pd.Series(market, index=grid, name="MKT")
    positions = rng.integers(0, n_sessions, n_events)
    sessions = grid[positions]
    off_grid = rng.random(n_events) < 0.1
    sessions = sessions.where(~off_grid, sessions - pd.Timedelta(days=1))  # Mondays -> Sundays
    events = pd.DataFrame({
        "id": [f"ev{i:07d}" for i in range(n_events)],
        "symbol": np.asarray(symbols, dtype=object)[rng.integers(0, n_symbols, n_events)],
        "session": sessions,
    })
    return returns, market_s, events


def compare_eventstudy(returns, market, panel, n_compare: int, engine_per_event: float) -> dict:
    """Run eventstudy on ``n_compare`` clean ok events; timings and differences."""
    result: dict = {"requested": n_compare}
    try:
        t0 = time.perf_counter()
        import eventstudy as es  # noqa: PLC0415
        result["import_seconds"] = time.perf_counter() - t0
        result["version"] = getattr(es, "__version__", None)
    except Exception as exc:  # noqa: BLE001 - any import failure just skips the comparison
        result.update(available=False, error=f"{type(exc).__name__}: {exc}")
        return result
    result["available"] = True
    spec = panel.spec
    est0, est1 = spec.estimation
    day0, day1 = spec.event_days
    ev = panel.events
    grid = returns.index
    # Clean ok events: every return of the span present (eventstudy's OLS has no NaN handling).
    ok = ev[ev["status"] == "ok"]
    pos = grid.get_indexer(ok["session"])
    clean = ((ok["n_est"] == est1 - est0 + 1).to_numpy()
             & (pos + day1 < len(grid))
             & panel.event_ar.loc[ok.index].notna().all(axis=1).to_numpy())
    chosen = ok.index[clean][:n_compare]
    result["n"] = int(len(chosen))
    if len(chosen) == 0:
        result.update(identical=False, error="no clean ok event to compare")
        return result
    data = {"date": grid.to_numpy()}
    for sym in pd.unique(ev.loc[chosen, "symbol"]):
        data[sym] = returns[sym].to_numpy()
    data["__market__"] = market.reindex(grid).to_numpy()
    es.Single._save_parameter("returns", data)
    estimation_size = est1 - est0 + 1
    buffer_size = (day0 - 1) - est1
    window = (day0, day1)
    studies = []
    t0 = time.perf_counter()
    for event_id in chosen:
        studies.append(es.Single.market_model(
            security_ticker=ev.at[event_id, "symbol"], market_ticker="__market__",
            event_date=ev.at[event_id, "session"].to_datetime64(), event_window=window,
            estimation_size=estimation_size, buffer_size=buffer_size))
    es_seconds = time.perf_counter() - t0
    T = estimation_size
    max_ar = max_car = max_t = max_s2 = 0.0
    cars = {w: panel.car(w) for w in spec.windows}
    tstats = {w: panel.window_values(w, "t_stat") for w in spec.windows}
    for event_id, study in zip(chosen, studies, strict=True):
        ar = np.asarray(study.AR, dtype=float)
        cum = np.asarray(study.CAR, dtype=float)
        ours_ar = panel.event_ar.loc[event_id].to_numpy()
        max_ar = max(max_ar, float(np.max(np.abs(ar - ours_ar))))
        var_es = float(study.var_AR[0])
        sigma = float(ev.at[event_id, "sigma"])
        max_s2 = max(max_s2, abs(sigma ** 2 - var_es * T / (T - 2)) / sigma ** 2)
        for s, e in spec.windows:
            car_es = cum[e - day0] - (cum[s - 1 - day0] if s > day0 else 0.0)
            length = e - s + 1
            t_es = car_es / math.sqrt(length * var_es) * math.sqrt((T - 2) / T)
            max_car = max(max_car, abs(car_es - float(cars[(s, e)][event_id])))
            max_t = max(max_t, abs(t_es - float(tstats[(s, e)][event_id])))
    result.update(
        eventstudy_seconds=es_seconds,
        eventstudy_seconds_per_event=es_seconds / len(chosen),
        engine_seconds_per_event=engine_per_event,
        speed_ratio=(es_seconds / len(chosen)) / engine_per_event,
        target_ratio=TARGET_RATIO,
        max_abs_diff_ar=max_ar,
        max_abs_diff_car=max_car,
        max_abs_diff_t=max_t,
        max_rel_diff_sigma2=max_s2,
        tolerance=TOLERANCE,
        identical=bool(max_ar <= TOLERANCE and max_car <= TOLERANCE and max_t <= TOLERANCE
                       and max_s2 <= TOLERANCE),
        conventions=[
            f"estimation relative days [{est0},{est1}] in both: eventstudy estimation_size="
            f"{estimation_size}, buffer_size={buffer_size}, event_window={window}",
            "window CAR from eventstudy's cumulative CAR: CAR[e] - CAR[s-1]",
            "eventstudy residual variance np.var (ddof 0), df T-1; engine SSR/(T-2), df T-2: "
            "its t rescaled by sqrt((T-2)/T), engine sigma^2 compared with var*T/(T-2)",
            "eventstudy's AR variance has no forecast-error terms; event_var not compared",
            "eventstudy has no missing-value handling: only events whose whole span has "
            "returns are compared",
        ],
    )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--symbols", type=int, default=2_000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--compare", type=int, default=200,
                        help="events also run through eventstudy (0: no comparison)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object only")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    returns, market, events = generate(args.symbols, args.years, args.events, args.seed)
    gen_seconds = time.perf_counter() - t0
    _run_timed(returns.iloc[:300, :2], events.iloc[:2], SPEC, market=market)  # warm-up
    panel, stages = _run_timed(returns, events, SPEC, market=market)
    total = stages["total"]
    t0 = time.perf_counter()
    panel.est_ar, panel.est_market  # noqa: B018 - built on first access
    est_seconds = time.perf_counter() - t0
    report = {
        "events": args.events,
        "symbols": args.symbols,
        "years": args.years,
        "sessions": len(returns.index),
        "seed": args.seed,
        "model": SPEC.model,
        "estimation": list(SPEC.estimation),
        "windows": [list(w) for w in SPEC.windows],
        "generate_seconds": gen_seconds,
        "total_seconds": total,
        "prepare_seconds": stages["prepare"],
        "core_seconds": stages["core"],
        "assemble_seconds": stages["assemble"],
        "est_frames_seconds": est_seconds,
        "events_per_second": args.events / total if total > 0 else float("inf"),
        "core_events_per_second": args.events / stages["core"] if stages["core"] > 0
        else float("inf"),
        "target_seconds": TARGET_SECONDS,
        "within_target": bool(total < TARGET_SECONDS),
        "status": {k: int(v) for k, v in panel.events["status"].value_counts().items()},
    }
    engine_per_event = total / max(args.events, 1)
    if args.compare > 0:
        report["eventstudy"] = compare_eventstudy(returns, market, panel, args.compare,
                                                  engine_per_event)
    if args.json:
        cmp = report.get("eventstudy")
        if cmp is not None and not cmp["available"]:
            print(f"eventstudy not available ({cmp['error']}): comparison skipped",
                  file=sys.stderr)
        print(json.dumps(report, indent=2))
        return 0

    print(f"data: {args.symbols} symbols x {len(returns.index)} sessions, {args.events} events "
          f"(generated in {gen_seconds:.2f} s)")
    print(f"run_events, market model: {total:.3f} s total, "
          f"{report['events_per_second']:,.0f} events/s "
          f"({'within' if report['within_target'] else 'OVER'} the {TARGET_SECONDS:.0f} s target)")
    print(f"  prepare {stages['prepare']:.3f} s, numpy core {stages['core']:.3f} s "
          f"({report['core_events_per_second']:,.0f} events/s), assemble "
          f"{stages['assemble']:.3f} s")
    print(f"  est_ar + est_market built on first access: {est_seconds:.3f} s more "
          f"({args.events * (SPEC.estimation[1] - SPEC.estimation[0] + 1) * 2:,} values)")
    print(f"  status: {report['status']}")
    cmp = report.get("eventstudy")
    if cmp is not None:
        if not cmp["available"]:
            print(f"eventstudy not available ({cmp['error']}): comparison skipped")
        elif cmp.get("n", 0) == 0:
            print(f"eventstudy: {cmp.get('error')}")
        else:
            print(f"eventstudy {cmp['version']} on {cmp['n']} events: "
                  f"{cmp['eventstudy_seconds_per_event'] * 1e3:.3f} ms/event, engine "
                  f"{cmp['engine_seconds_per_event'] * 1e6:.2f} us/event: "
                  f"{cmp['speed_ratio']:,.0f}x faster per event (target > {TARGET_RATIO:.0f}x)")
            with_est = (total + est_seconds) / max(args.events, 1)
            print(f"  counting the estimation frames too: {with_est * 1e6:.2f} us/event, "
                  f"{cmp['eventstudy_seconds_per_event'] / with_est:,.0f}x")
            print(f"  max |diff| AR {cmp['max_abs_diff_ar']:.2e}, "
                  f"CAR {cmp['max_abs_diff_car']:.2e}, "
                  f"t {cmp['max_abs_diff_t']:.2e}, sigma^2 rel {cmp['max_rel_diff_sigma2']:.2e}: "
                  f"{'identical' if cmp['identical'] else 'DIFFERENT'} (tolerance {TOLERANCE:g})")
            for line in cmp["conventions"]:
                print(f"  - {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
