"""Abnormal-return paths and studies for the dashboard, computed on the fly from stored prices.

The store keeps each event's results per window (``event_returns``), not its
day-by-day abnormal returns. The ticker, event and study views need those
paths (relative days -10..+10), so they are computed here with the same
engine and conventions as the pipeline (:func:`monitor.impact.engine.run_events`:
estimation window and minimum observations from the settings, the trading
calendar's session grid up to the last closed session, simple returns of
adjusted daily closes), from the closes :mod:`dashboards.queries` loads. A
test holds the paths to the stored CARs.

Everything here is per request and bounded: a ticker view measures its
ticker's events (one query for the closes of the ticker and its benchmark),
a study at most :data:`MAX_STUDY_EVENTS` events.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sqlalchemy.engine import Connection

from dashboards import queries
from monitor import calendars
from monitor.config import Settings
from monitor.errors import MonitorError
from monitor.impact import battery as tests
from monitor.impact.engine import N_PARAMS, EventPanel, StudySpec, run_events

log = logging.getLogger(__name__)

#: Relative days of the CAR curves.
PATH_DAYS: tuple[int, int] = (-10, 10)
#: Most events a study measures (the newest ones of the selection).
MAX_STUDY_EVENTS = 2000
#: Calendar days of slack when turning sessions into a date range (holidays, weekends).
_SLACK = 1.6


@dataclass
class Measured:
    """Abnormal-return paths of a set of events.

    ``events``: one row per event id (str) with symbol, session, status,
    reason, model, benchmark. ``ar``/``car``: index event id, columns the
    relative days; NaN where there is no return. ``panels``: the engine's
    panels (one per calendar), for the test battery.
    """

    events: pd.DataFrame
    ar: pd.DataFrame
    car: pd.DataFrame
    model: str
    spec: StudySpec
    panels: list[EventPanel] = field(default_factory=list)

    @property
    def ok(self) -> pd.Index:
        return self.events.index[(self.events["status"] == "ok").to_numpy()]

    def status_counts(self) -> dict[str, int]:
        return {str(k): int(v) for k, v in self.events["status"].value_counts().items()}


def _span_days(settings: Settings, windows: Sequence[tuple[int, int]]) -> tuple[int, int]:
    est_start, _ = settings.estimation
    first = min(est_start, *(w[0] for w in windows)) - 1  # one more close for the first return
    last = max(w[1] for w in windows)
    return first, last


def _grid(calendar: str, start: date, end: date) -> pd.DatetimeIndex:
    """The calendar's sessions from ``start`` to ``end``: relative days count sessions, as in the pipeline.

    A calendar that cannot say (unknown, or a range it does not cover) raises
    :class:`~monitor.errors.CalendarError`; :func:`measure` reports those events
    as not measured, with the reason.
    """
    return calendars.sessions_in_range(calendar, start, end)


def cumulate(ar: pd.DataFrame) -> pd.DataFrame:
    """CAR paths from AR paths: cumulative sums over the days with a return; NaN on days without one."""
    car = ar.fillna(0.0).cumsum(axis=1)
    return car.mask(ar.isna())


def measure(
    conn: Connection,
    selected: Sequence[dict[str, Any]],
    settings: Settings,
    *,
    model: str | None = None,
    windows: Sequence[tuple[int, int]] = (),
    now: datetime | None = None,
) -> Measured:
    """Measure ``selected`` events (dicts with id, symbol, session, calendar, benchmark).

    ``model`` None: each event's pipeline model (all events must then share
    one; the ticker and event views hold one instrument). Windows: the CAR
    path days plus ``windows`` (for the battery).
    """
    days = (min(PATH_DAYS[0], *(w[0] for w in windows)) if windows else PATH_DAYS[0],
            max(PATH_DAYS[1], *(w[1] for w in windows)) if windows else PATH_DAYS[1])
    spec_windows = tuple(dict.fromkeys([days, *windows]))
    if model is None:
        models = {settings.model_for(e.get("benchmark")) for e in selected} or {settings.model}
        model = sorted(models)[0] if len(models) == 1 else settings.model
    spec = StudySpec(model=model, estimation=settings.estimation, windows=spec_windows,
                     min_obs=settings.min_estimation_obs)
    now = now or datetime.now(timezone.utc)
    frame = pd.DataFrame(list(selected))
    columns = list(range(days[0], days[1] + 1))
    if frame.empty:
        empty = pd.DataFrame(columns=columns, dtype="float64")
        return Measured(pd.DataFrame(columns=["symbol", "session", "status", "reason", "benchmark"]),
                        empty, empty, model, spec)
    frame["id"] = frame["id"].astype(str)
    frame["session"] = pd.to_datetime(frame["session"])
    if "benchmark" not in frame:
        frame["benchmark"] = None
    frame["benchmark"] = frame["benchmark"].where(frame["benchmark"].notna(), None)
    if model == "mean":
        frame["benchmark"] = None
    first_rel, last_rel = _span_days(settings, spec_windows)
    panels: list[EventPanel] = []
    parts_events, parts_ar = [], []
    for calendar, group in frame.groupby("calendar", sort=True):
        try:
            panel = _measure_calendar(conn, group, str(calendar), spec, first_rel, last_rel, now)
        except (MonitorError, ValueError) as exc:
            log.warning("cannot measure %d event(s) on calendar %s: %s", len(group), calendar, exc)
            failed = group.set_index("id")[["symbol", "session", "benchmark"]].assign(
                status="no_prices", reason=f"cannot build the session grid: {exc}")
            parts_events.append(failed)
            parts_ar.append(pd.DataFrame(np.nan, index=failed.index, columns=columns))
            continue
        panels.append(panel)
        ev = panel.events.copy()
        ev["session"] = ev["session"].fillna(ev["given_session"])
        ev = ev[["symbol", "session", "benchmark", "status", "reason"]]
        parts_events.append(ev)
        parts_ar.append(panel.event_ar.reindex(columns=columns))
    events_out = pd.concat(parts_events)
    events_out["model"] = model
    ar = pd.concat(parts_ar).reindex(events_out.index)
    ar.columns = columns
    return Measured(events_out, ar, cumulate(ar), model, spec, panels)


def _measure_calendar(
    conn: Connection, group: pd.DataFrame, calendar: str, spec: StudySpec,
    first_rel: int, last_rel: int, now: datetime,
) -> EventPanel:
    symbols = sorted(set(group["symbol"]) | {b for b in group["benchmark"] if b})
    first_session = group["session"].min().date()
    last_session = group["session"].max().date()
    start = first_session - timedelta(days=int(math.ceil(-first_rel * 7 / 5 * _SLACK)) + 10)
    end_wanted = last_session + timedelta(days=int(math.ceil(max(last_rel, 0) * 7 / 5 * _SLACK)) + 10)
    try:
        last_closed = calendars.last_closed_session(calendar, now)
    except MonitorError:
        last_closed = now.date()
    held_last = queries.last_session(conn, symbols) or last_session
    end = min(end_wanted, last_closed, max(held_last, last_session))
    closes = queries.close_matrix(conn, symbols, start, max(end, start))
    if closes.empty:
        grid = pd.DatetimeIndex([], name="session")
    else:
        first_held = closes.index.min().date()
        lo = max(start, first_held)
        grid = _grid(calendar, lo, max(end, lo)) if lo <= end else pd.DatetimeIndex([])
    closes = closes.reindex(index=grid, columns=symbols)
    closes = closes.where(closes > 0)
    returns = (closes / closes.shift(1) - 1).astype("float64")
    returns.index.name = "session"
    events_in = group[["id", "symbol", "session", "benchmark"]].reset_index(drop=True)
    return run_events(returns, events_in, spec)


# Summaries ----------------------------------------------------------------------
@dataclass
class Band:
    """Cross-sectional mean of CAR paths by relative day, with a t confidence band."""

    mean: pd.Series
    lower: pd.Series
    upper: pd.Series
    n: pd.Series


def mean_band(car: pd.DataFrame, level: float = 0.95) -> Band:
    """Mean CAR per relative day over the events with a value that day, and its ``level`` interval.

    The interval is ``mean ± t(1 - (1-level)/2, n-1) * sd / sqrt(n)`` (sample
    sd, ddof 1): the cross-sectional t interval of the CAAR; NaN where fewer
    than two events have a value.
    """
    n = car.notna().sum(axis=0).astype(int)
    mean = car.mean(axis=0, skipna=True)
    sd = car.std(axis=0, ddof=1, skipna=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        crit = pd.Series(stats.t.ppf(0.5 + level / 2, (n - 1).clip(lower=1)), index=n.index)
        half = crit * sd / np.sqrt(n)
    half = half.where(n >= 2)
    mean = mean.where(n >= 1)
    return Band(mean=mean, lower=mean - half, upper=mean + half, n=n)


def battery_table(measured: Measured, window: tuple[int, int]) -> pd.DataFrame:
    """The cross-event test battery (:mod:`monitor.impact.battery`) over ``window``.

    Panels of several calendars are stacked: the relative days and the
    estimation days are the same for every event of one study.
    """
    ok_parts = []
    for panel in measured.panels:
        ids = panel.ok()
        if len(ids):
            ok_parts.append((panel, ids))
    if not ok_parts:
        return pd.DataFrame(columns=["name", "statistic", "p_value", "n", "note"])
    days = list(ok_parts[0][0].event_ar.columns)
    missing = [d for d in range(window[0], window[1] + 1) if d not in days]
    if missing:
        raise ValueError(f"window {window} lies outside the measured days {days[0]}..{days[-1]}")
    positions = [days.index(d) for d in range(window[0], window[1] + 1)]

    def stack(attr: str) -> np.ndarray:
        return np.vstack([getattr(p, attr).loc[ids].to_numpy(dtype="float64") for p, ids in ok_parts])

    use_market = measured.model in ("market", "market_adjusted")
    frame = tests.battery(
        stack("event_ar"), stack("est_ar"), event_var=stack("event_var"),
        event_market=stack("event_market") if use_market else None,
        est_market=stack("est_market") if use_market else None,
        days=positions, n_params=N_PARAMS[measured.model],
    )
    return frame


#: Human names of the battery's tests.
TEST_LABELS: dict[str, str] = {
    "caar_t": "CAAR cross-sectional t",
    "brown_warner_1980": "Brown-Warner 1980",
    "brown_warner_1985": "Brown-Warner 1985 (crude dependence)",
    "lamb": "Lamb 1995",
    "patell": "Patell Z",
    "bmp": "Boehmer-Musumeci-Poulsen",
    "kolari_pynnonen": "Kolari-Pynnönen adjusted BMP",
    "sign": "Sign test",
    "generalized_sign": "Generalized sign (Cowan)",
    "corrado_sign": "Corrado-Zivney sign",
    "rank": "Corrado rank",
    "modified_rank": "Modified rank",
    "wilcoxon": "Wilcoxon signed rank",
}
