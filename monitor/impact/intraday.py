"""Intraday reaction: how far a price moved in the minutes after a story, beyond the benchmark.

Pure pandas/numpy, no I/O. For a publication time ``t``:

* the reference price is the close of the last bar that ended at or before
  ``t`` (a bar starting at ``s`` with interval ``d`` ends at ``s + d``), so
  nothing the story could have moved is in it;
* the price at horizon ``h`` (``+5m``, ``+15m``, ``+60m``) is the close of the
  last bar that ended at or before ``t + h``, provided that bar ended after
  ``t`` (otherwise the market had no trade in between: no value) and belongs
  to day 0's session;
* ``close`` is the last bar of day 0's session (the session the story first
  moves; for news after the close, the next session).

The reaction is the simple return of the asset minus that of the benchmark
over the same two instants (market-adjusted). A horizon that has not been
reached yet (``t + h`` after the last bar held) is incomplete; news outside
trading hours has no minute horizons, only ``close``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

#: Horizons measured by default: minutes after publication, and "close" (day 0's session close).
DEFAULT_HORIZONS: tuple[str, ...] = ("5m", "15m", "60m", "close")

_INTERVAL_MINUTES = {"1m": 1, "2m": 2, "5m": 5, "15m": 15, "30m": 30, "60m": 60, "90m": 90}


@dataclass(frozen=True)
class Reaction:
    """The move over one horizon after a story."""

    horizon: str
    raw: float | None  #: the asset's simple return from the reference price
    benchmark: float | None  #: the benchmark's over the same instants (None without a benchmark)
    abnormal: float | None  #: raw minus benchmark (raw without a benchmark)
    start: datetime | None  #: the end of the reference bar (UTC)
    end: datetime | None  #: the end of the bar the horizon is measured at (UTC)
    complete: bool  #: the horizon has passed and a bar marks it
    reason: str | None = None  #: why there is no value


def reactions(
    published_at: datetime,
    asset: pd.DataFrame,
    benchmark: pd.DataFrame | None = None,
    *,
    session: pd.Timestamp | None = None,
    session_close: datetime | None = None,
    interval: str = "5m",
    horizons: Sequence[str] = DEFAULT_HORIZONS,
) -> list[Reaction]:
    """Measure the intraday reaction of ``asset`` to a story published at ``published_at``.

    Parameters
    ----------
    published_at
        Aware publication time.
    asset, benchmark
        Intraday bars (columns ``ts`` aware UTC bar start, ``session`` naive,
        ``close``) of one interval, any order.
    session
        Day 0's session (naive); default: the session of the first bar that
        ends after publication.
    session_close
        When day 0's session closes (aware); the ``close`` horizon is complete
        once a bar ends there. Without it, ``close`` is complete when bars of
        a later session are held.
    interval
        The bars' interval (``5m``); a bar ends ``interval`` after it starts.
    horizons
        ``"<minutes>m"`` or ``"close"``.
    """
    if published_at.tzinfo is None:
        raise ValueError("published_at must carry a time zone")
    step = pd.Timedelta(minutes=_INTERVAL_MINUTES[interval])
    t = pd.Timestamp(published_at).tz_convert("UTC")
    a = _prepare(asset, step)
    b = _prepare(benchmark, step) if benchmark is not None else None
    if a.empty:
        return [Reaction(h, None, None, None, None, None, False, "no intraday bars held") for h in horizons]
    if session is None:
        after = a[a["end"] > t]
        session = after["session"].iloc[0] if not after.empty else None
    before = a[a["end"] <= t]
    if before.empty:
        return [Reaction(h, None, None, None, None, None, False, "no bar before the story") for h in horizons]
    ref_end = before["end"].iloc[-1]
    day = a[a["session"] == session] if session is not None else a.iloc[0:0]
    out = []
    for horizon in horizons:
        if horizon == "close":
            if day.empty:
                out.append(Reaction(horizon, None, None, None, ref_end, None, False, "day 0 has no bars yet"))
                continue
            target = day["end"].iloc[-1]
            if session_close is not None:
                complete = bool(target >= pd.Timestamp(session_close).tz_convert("UTC"))
            else:
                complete = bool((a["session"] > session).any())
        else:
            target = t + pd.Timedelta(minutes=int(horizon.rstrip("m")))
            if target > a["end"].iloc[-1]:
                out.append(Reaction(horizon, None, None, None, ref_end, None, False, "the horizon has not passed"))
                continue
            complete = True
        end = _last_until(a, target)
        if end is None or end <= t or end not in set(day["end"]):
            out.append(Reaction(horizon, None, None, None, ref_end, None, complete,
                                "no trade between the story and the horizon (market closed)"))
            continue
        raw = _ret(a, ref_end, end)
        bench = _ret(b, ref_end, end) if b is not None else None
        abnormal = None if raw is None else (raw - bench if bench is not None else raw)
        out.append(Reaction(horizon, raw, bench, abnormal, ref_end.to_pydatetime(), end.to_pydatetime(),
                            complete and raw is not None))
    return out


def _prepare(bars: pd.DataFrame | None, step: pd.Timedelta) -> pd.DataFrame:
    if bars is None or bars.empty:
        return pd.DataFrame(columns=["end", "session", "close"])
    frame = bars[["ts", "session", "close"]].dropna(subset=["close"]).sort_values("ts")
    frame = frame.assign(end=pd.to_datetime(frame["ts"], utc=True) + step)
    return frame.reset_index(drop=True)


def _last_until(frame: pd.DataFrame, when: pd.Timestamp) -> pd.Timestamp | None:
    """The end of the last bar that ended at or before ``when``."""
    position = pd.Index(frame["end"]).searchsorted(when, side="right") - 1
    return None if position < 0 else frame["end"].iloc[position]


def _ret(frame: pd.DataFrame | None, start: pd.Timestamp, stop: pd.Timestamp) -> float | None:
    """Simple return between the closes of the last bars ended by ``start`` and by ``stop``."""
    if frame is None or frame.empty:
        return None
    first, last = _last_until(frame, start), _last_until(frame, stop)
    if first is None or last is None or last <= first:
        return None
    ends = pd.Index(frame["end"])
    p0 = float(frame["close"].iloc[ends.get_loc(first)])
    p1 = float(frame["close"].iloc[ends.get_loc(last)])
    return p1 / p0 - 1.0 if p0 else None
