"""Write a large synthetic store for the dashboard's benchmark: events, articles, mentions, results, prices.

    python benchmarks/gen_dashboard_store.py --events 100000 --tickers 500 --years 5 --out /tmp/big.db

What it writes (SQLite, the monitor's schema at the newest migration):

* ``price_bars``: daily OHLCV bars for every ticker and the benchmark SPY on the
  NYSE sessions of the last ``--years`` years (5 years x 500 tickers: 629,000
  bars). Returns follow a market model: SPY with Student-t (4 df) days, each
  stock ``alpha + beta * SPY + e`` with beta 0.5-1.8 and residual sd 1-3.5 %,
  plus a news shock on day 0 of 40 % of the events (sd 4 %); volumes are
  log-normal with a spike on news days.
* ``articles``, ``mentions``, ``events``: ``--events`` events on about 0.75
  as many articles (one to three tickers each), spread over the sessions with
  a Zipf-like popularity of tickers (a few tickers have thousands of events),
  six sources, timings (pre-market, regular, after hours, date only) and a
  relevance from 10 to 98; the mention spans point at "Name TICKER" in the
  text, as the tagger's ``name_ticker`` rule would.
* ``event_returns``: the windows [0,0], [-1,+1], [0,+5] of every event under
  the market model, computed by the monitor's engine
  (:func:`monitor.impact.engine.run_events`) from those prices, so the numbers
  are consistent with what the dashboard recomputes; ``events`` carry the
  engine's confounding flag and abnormal volume.
* ``alerts``: an alert for every event with ``|AR d0| >= 8 %`` and ``|t| >= 2``.

Rows go in through sqlite3's ``executemany`` in the formats SQLAlchemy uses
(naive UTC ``YYYY-MM-DD HH:MM:SS.ffffff`` timestamps, ISO dates, 0/1
booleans). Deterministic for a given ``--seed``. About 15 s for the full size
on the development machine.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sqlite3
import sys
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from monitor import calendars  # noqa: E402
from monitor.impact.engine import StudySpec, run_events  # noqa: E402
from monitor.store import db  # noqa: E402

END = date(2025, 6, 30)
WINDOWS = ((0, 0), (-1, 1), (0, 5))
SOURCES = ["rss:reuters", "rss:benzinga", "yahoo", "rss:marketwatch", "files", "jsonl:wire"]
SOURCE_WEIGHTS = [0.3, 0.25, 0.2, 0.12, 0.03, 0.1]
VERBS = ["jumps", "falls", "slides", "rallies", "surges", "drops", "edges higher", "slips", "soars", "sinks"]
REASONS = ["after earnings beat", "on guidance cut", "as CEO steps down", "after analyst upgrade",
           "on merger talks", "after FDA decision", "on buyback news", "as sales miss estimates",
           "after contract win", "on dividend increase", "amid probe report", "after product recall"]
TIMINGS = ["pre_market", "regular", "after_hours", "date_only"]
TIMING_WEIGHTS = [0.2, 0.45, 0.2, 0.15]
NY = "America/New_York"


def _symbols(rng: np.random.Generator, n: int) -> list[str]:
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    seen: set[str] = {"SPY"}
    out: list[str] = []
    while len(out) < n:
        size = int(rng.choice([3, 4], p=[0.6, 0.4]))
        sym = "".join(rng.choice(letters, size))
        if sym not in seen:
            seen.add(sym)
            out.append(sym)
    return out


def _ts(values: pd.Series | pd.DatetimeIndex) -> list[str]:
    """Aware or naive-UTC timestamps as SQLAlchemy writes them on SQLite."""
    stamps = pd.DatetimeIndex(values)
    if stamps.tz is not None:
        stamps = stamps.tz_convert("UTC").tz_localize(None)
    return list(stamps.strftime("%Y-%m-%d %H:%M:%S.%f"))


def generate(out: Path, *, events: int, tickers: int, years: float, seed: int = 7, quiet: bool = False) -> dict:
    """Write the store to ``out`` (replaced); return counts and seconds."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(seed)
    for suffix in ("", "-wal", "-shm"):
        Path(str(out) + suffix).unlink(missing_ok=True)
    engine = db.open_store(f"sqlite:///{out}")
    engine.dispose()

    start = END - timedelta(days=int(365.25 * years))
    sessions = calendars.sessions_in_range("XNYS", start, END)
    n_days = len(sessions)
    symbols = _symbols(rng, tickers)

    # Prices -------------------------------------------------------------------------------
    market = 0.0003 + 0.009 * rng.standard_t(4, n_days) / math.sqrt(2)
    beta = rng.uniform(0.5, 1.8, tickers)
    alpha = rng.normal(0.0001, 0.0003, tickers)
    resid_sd = rng.uniform(0.01, 0.035, tickers)
    returns = alpha + np.outer(market, beta) + rng.standard_t(4, (n_days, tickers)) / math.sqrt(2) * resid_sd

    # Events: tickers by a Zipf-like popularity, sessions after some history for most.
    weights = 1.0 / np.arange(1, tickers + 1) ** 0.8
    ticker_of = rng.choice(tickers, events, p=weights / weights.sum())
    day_of = rng.integers(int(n_days * 0.15), n_days, events)
    early = rng.random(events) < 0.03  # too little history for the market model: "insufficient history"
    day_of[early] = rng.integers(1, max(2, int(n_days * 0.15)), int(early.sum()))
    shocked = rng.random(events) < 0.4
    np.add.at(returns, (day_of[shocked], ticker_of[shocked]), rng.normal(0, 0.04, shocked.sum()))
    returns = np.clip(returns, -0.6, 1.5)

    closes = np.vstack([rng.uniform(15, 250, tickers), 1 + returns[1:]]).cumprod(axis=0)
    spy = 380 * np.concatenate([[1.0], 1 + market[1:]]).cumprod()
    opens = np.vstack([closes[:1], closes[:-1]]) * (1 + rng.normal(0, 0.004, closes.shape))
    high = np.maximum(opens, closes) * (1 + np.abs(rng.normal(0, 0.008, closes.shape)))
    low = np.minimum(opens, closes) * (1 - np.abs(rng.normal(0, 0.008, closes.shape)))
    volume = np.exp(rng.normal(13.5, 0.35, closes.shape)) * np.exp(rng.normal(0, 1.2, tickers))
    np.multiply.at(volume, (day_of, ticker_of), rng.uniform(1.5, 5.0, events))

    session_text = list(sessions.strftime("%Y-%m-%d"))
    ts_text = [s + " 00:00:00.000000" for s in session_text]
    fetched = datetime.now(timezone.utc).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")

    conn = sqlite3.connect(out)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    bar_sql = ("INSERT INTO price_bars (symbol, interval, ts, session, open, high, low, close, volume, adjusted, "
               "final, source, fetched_at, flags) VALUES (?, '1d', ?, ?, ?, ?, ?, ?, ?, 1, 1, 'synthetic', ?, '')")

    def bar_rows(sym: str, o: np.ndarray, h: np.ndarray, lo: np.ndarray, c: np.ndarray, v: np.ndarray):  # noqa: ANN202
        return zip([sym] * n_days, ts_text, session_text, o.round(4).tolist(), h.round(4).tolist(),
                   lo.round(4).tolist(), c.round(4).tolist(), v.round(0).tolist(), [fetched] * n_days)

    conn.executemany(bar_sql, bar_rows("SPY", spy * 0.999, spy * 1.004, spy * 0.995, spy,
                                       np.exp(rng.normal(18, 0.3, n_days))))
    for k, sym in enumerate(symbols):
        conn.executemany(bar_sql, bar_rows(sym, opens[:, k], high[:, k], low[:, k], closes[:, k], volume[:, k]))
    now_text = fetched
    conn.executemany(
        "INSERT INTO instruments (symbol, name, asset_class, calendar, benchmark, exchange, aliases, codes, "
        "taggable, updated_at) VALUES (?, ?, ?, 'XNYS', ?, ?, '[]', '[]', 1, ?)",
        [("SPY", "SPDR S&P 500 ETF Trust", "etf", None, "NYSE Arca", now_text)]
        + [(s, f"{s.title()} Holdings", "equity", "SPY", "NYSE" if i % 3 else "NASDAQ", now_text)
           for i, s in enumerate(symbols)],
    )
    t_prices = time.perf_counter() - t0

    # Articles, mentions, events -----------------------------------------------------------------
    order = np.argsort(day_of, kind="stable")
    ticker_of, day_of, shocked = ticker_of[order], day_of[order], shocked[order]
    # Group consecutive events of the same day into articles of 1-3 tickers.
    article_of = np.zeros(events, dtype=np.int64)
    art, i = 0, 0
    sizes = rng.choice([1, 2, 3], size=events, p=[0.7, 0.2, 0.1])
    while i < events:
        k = int(sizes[art])
        j = i + 1
        while j < min(events, i + k) and day_of[j] == day_of[i] and ticker_of[j] not in ticker_of[i:j]:
            j += 1
        article_of[i:j] = art
        art += 1
        i = j
    n_articles = art
    timing_of = rng.choice(len(TIMINGS), n_articles, p=TIMING_WEIGHTS)
    source_of = rng.choice(len(SOURCES), n_articles, p=SOURCE_WEIGHTS)
    first_event = np.searchsorted(article_of, np.arange(n_articles))
    article_day = day_of[first_event]
    minutes = rng.integers(0, 60, n_articles)
    hours = np.select([timing_of == 0, timing_of == 1, timing_of == 2],
                      [rng.integers(6, 9, n_articles), rng.integers(10, 16, n_articles),
                       rng.integers(16, 20, n_articles)], 0)
    # After-hours news on day d is published the evening of the session before.
    pub_day = np.where((timing_of == 2) & (article_day > 0), article_day - 1, article_day)
    local = (pd.DatetimeIndex(sessions[pub_day]) + pd.to_timedelta(hours, unit="h")
             + pd.to_timedelta(minutes, unit="m"))
    published = local.tz_localize(NY).tz_convert("UTC")
    date_only = timing_of == 3
    published = pd.DatetimeIndex(np.where(date_only, pd.DatetimeIndex(sessions[pub_day]).tz_localize("UTC"),
                                          published))
    published_text = _ts(published)

    relevance = np.clip(rng.beta(2.2, 2.0, events) * 100, 10, 98).round(1)
    article_rows, mention_rows, event_rows, keys = [], [], [], []
    for a in range(n_articles):
        lo_e = first_event[a]
        hi_e = first_event[a + 1] if a + 1 < n_articles else events
        syms = [symbols[t] for t in ticker_of[lo_e:hi_e]]
        lead = syms[0]
        title = f"{lead.title()} Holdings {VERBS[a % len(VERBS)]} {REASONS[(a * 7) % len(REASONS)]}"
        parts, spans, pos = [], [], len(title) + 2
        for s in syms:
            sentence = f"{s.title()} Holdings {s} was named in the report. "
            spans.append((s, pos, pos + len(s.title()) + 10 + len(s), f"{s.title()} Holdings {s}"))
            parts.append(sentence)
            pos += len(sentence)
        body = "".join(parts) + f"Story {a} of the synthetic benchmark wire; analysts weighed the move."
        key = hashlib.sha256(f"{seed}:{a}:{title}".encode()).hexdigest()
        keys.append(key)
        article_rows.append((key, SOURCES[source_of[a]], f"item-{a}", f"https://news.example.com/{a}", title, body,
                             published_text[a], int(date_only[a]), 1, now_text, key, 100.0))
        for n, (s, st, en, matched) in enumerate(spans):
            rel = float(relevance[lo_e + n])
            mention_rows.append((key, s, st, en, matched, "name_ticker", rel))
    calendar_timing = ["pre_market", "regular", "after_hours", "date_only"]
    for e in range(events):
        a = article_of[e]
        event_rows.append((keys[a], symbols[ticker_of[e]], published_text[a], session_text[day_of[e]],
                           calendar_timing[timing_of[a]], "XNYS", int(date_only[a]), float(relevance[e]), now_text))
    conn.executemany(
        "INSERT INTO articles (article_key, source, source_id, url, title, body, published_at, date_only, zone_given, "
        "ingested_at, story_key, novelty, undated) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0)", article_rows)
    conn.executemany(
        'INSERT INTO mentions (article_key, symbol, start, "end", matched, method, relevance) '
        "VALUES (?, ?, ?, ?, ?, ?, ?)", mention_rows)
    conn.executemany(
        "INSERT INTO events (article_key, symbol, published_at, session, timing, calendar, date_only, relevance, "
        "created_at, confounded) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0)", event_rows)
    t_text = time.perf_counter() - t0 - t_prices

    # Results from the engine ------------------------------------------------------------------------
    frame = pd.DataFrame(returns, index=pd.DatetimeIndex(sessions, name="session"), columns=symbols)
    frame.iloc[0] = np.nan
    frame["SPY"] = np.concatenate([[np.nan], market[1:]])
    vols = pd.DataFrame(volume, index=frame.index, columns=symbols)
    ev = pd.DataFrame({"id": np.arange(events), "symbol": [symbols[t] for t in ticker_of],
                       "session": pd.DatetimeIndex(sessions[day_of]), "benchmark": "SPY"})
    panel = run_events(frame, ev, StudySpec(model="market", estimation=(-250, -11), windows=WINDOWS, min_obs=120),
                       volumes=vols)
    w = panel.windows
    info = panel.events
    ids = w["id"].to_numpy().astype(np.int64)
    status = info["status"].to_numpy()[ids]
    reason = info["reason"].to_numpy()[ids]
    event_symbol = np.array([symbols[t] for t in ticker_of])

    def num(values: np.ndarray) -> list:
        return [None if not np.isfinite(v) else float(v) for v in values]

    bench_ret = num(w["benchmark"].to_numpy())
    result_rows = list(zip(
        [keys[article_of[i]] for i in ids], event_symbol[ids].tolist(), w["start"].tolist(), w["end"].tolist(),
        num(w["raw"].to_numpy()), bench_ret, num(w["bhar"].to_numpy()), num(w["car"].to_numpy()),
        num(w["t_stat"].to_numpy()), w["n_obs"].astype(int).tolist(), w["complete"].astype(int).tolist(),
        status.tolist(), [r if isinstance(r, str) else None for r in reason],
        num(info["alpha"].to_numpy()[ids]), num(info["beta"].to_numpy()[ids]), num(info["sigma"].to_numpy()[ids]),
        info["n_est"].to_numpy()[ids].astype(int).tolist(),
    ))
    conn.executemany(
        "INSERT INTO event_returns (article_key, symbol, window_start, window_end, model, benchmark, raw_return, "
        "benchmark_return, abnormal_return, car, t_stat, n_obs, complete, status, reason, alpha, beta, sigma, "
        f"estimation_obs, computed_at) VALUES (?, ?, ?, ?, 'market', 'SPY', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        f"'{now_text}')",
        result_rows,
    )
    conn.executemany(
        "UPDATE events SET confounded = ?, abnormal_volume_log = ?, abnormal_volume_z = ? WHERE id = ?",
        zip(info["confounded"].astype(int).tolist(), num(info["abnormal_volume_log"].to_numpy()),
            num(info["abnormal_volume_z"].to_numpy()), (np.arange(events) + 1).tolist()),
    )
    day0 = w[w["start"].eq(0) & w["end"].eq(0)]
    strong = day0[(day0["car"].abs() >= 0.08) & (day0["t_stat"].abs() >= 2)]
    alert_rows = []
    for row in strong.itertuples():
        e = int(row.id)
        sym, key = symbols[ticker_of[e]], keys[article_of[e]]
        text = (f"{sym} {row.car * 100:+.2f}% abnormal on {session_text[day_of[e]]} "
                f"(day 0, market model, t {row.t_stat:+.2f})")
        created = (published[article_of[e]] + pd.Timedelta(hours=7)).tz_convert("UTC").tz_localize(None)
        alert_rows.append((f"big-movers:{key}:{sym}", "big-movers", "abnormal_return", sym, key, text, text,
                           json.dumps({"car": row.car}), created.strftime("%Y-%m-%d %H:%M:%S.%f")))
    conn.executemany(
        "INSERT INTO alerts (dedup_key, rule, kind, symbol, article_key, title, text, payload, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", alert_rows)
    conn.commit()
    conn.execute("ANALYZE")
    conn.commit()
    conn.close()
    seconds = time.perf_counter() - t0
    counts = {"events": events, "articles": n_articles, "tickers": tickers, "sessions": n_days,
              "price_bars": n_days * (tickers + 1), "event_returns": len(result_rows), "alerts": len(alert_rows),
              "ok_events": int((info["status"] == "ok").sum())}
    if not quiet:
        print(f"wrote {out}: " + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in counts.items())
              + f" in {seconds:.1f} s (prices {t_prices:.1f} s, text {t_text:.1f} s)")
    return counts | {"seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events to write (default 100,000)")
    parser.add_argument("--tickers", type=int, default=500, help="tickers with daily bars (default 500)")
    parser.add_argument("--years", type=float, default=5, help="years of daily bars (default 5)")
    parser.add_argument("--out", type=Path, required=True, help="the SQLite file to write (replaced)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    generate(args.out, events=args.events, tickers=args.tickers, years=args.years, seed=args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
