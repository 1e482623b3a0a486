"""Many events at once: a vectorised event-study engine.

Pure numpy/pandas; no I/O. :func:`run_events` measures every event of an
events table against one normal-return model and returns an
:class:`EventPanel`: one row per event (status, fit, confounding, abnormal
volume), the abnormal-return paths and their forecast-error variances on a
grid of relative days, the estimation residuals, the benchmark returns on the
same grids, and one row per (event, window) with raw return, CAR, BHAR and t.
The cross-event test battery (:mod:`monitor.impact.battery`) consumes the
panel.

Conventions (the same as :func:`monitor.impact.single.event_study`)
--------------------------------------------------------------------
* Returns are simple returns as fractions, float, NaN where missing; ``inf``
  is refused. ``returns`` is a sessions x symbols frame on a naive, sorted,
  unique ``DatetimeIndex``: that index is **the session grid** shared by every
  symbol (a symbol not yet listed or delisted simply has NaN there).
* **Relative day** ``k`` of an event is the session ``k`` positions after its
  event session on the grid: relative days count sessions, never calendar
  days. Days before the first or after the last session of the grid have no
  return.
* **Event session mapping.** An event session that is a grid session is day
  0. One that falls between two grid sessions (a weekend, a holiday, a
  session the grid lacks) maps to the *next* grid session. One after the last
  grid session (the event has not had its first session yet) or before the
  first grid session, or NaT, is ``out_of_range``. The ``session`` column of
  :attr:`EventPanel.events` is the mapped day-0 session; ``given_session``
  keeps the one given. A time of day on an event session is refused
  (:class:`~monitor.errors.DataValidationError`): sessions are labels at
  midnight, and choosing the session of an intraday timestamp is the
  caller's job (:mod:`monitor.calendars`).
* **Benchmark alignment.** ``market``, ``factors`` and ``volumes`` are
  aligned on the grid by session label; a grid session they lack is NaN.
* **Usable estimation return**: a session of the estimation window (relative
  days ``spec.estimation``, inclusive) where every series the model needs has
  a value: the asset (``mean``), asset and benchmark (``market``,
  ``market_adjusted``), asset and all four factors (``ff3``). ``n_est`` counts
  them; fewer than ``spec.min_obs`` gives ``insufficient_history``.
* **Models** (``k`` = number of parameters; the residual standard deviation
  ``sigma`` uses ``ddof = k``: ``sqrt(SSR / (n_est - k))``; the t statistics'
  degrees of freedom are ``n_est - k``):

  - ``mean`` (k=1): ``AR = R - mean(R_est)``; sigma = ``std(R_est, ddof=1)``.
  - ``market_adjusted`` (k=1): ``AR = R - Rm``; sigma =
    ``std(R_est - Rm_est, ddof=1)`` (about its mean, as the single-event code).
  - ``market`` (k=2): OLS ``R = alpha + beta Rm`` on the usable estimation
    returns; ``AR = R - alpha - beta Rm``.
  - ``ff3`` (k=4): OLS ``R - rf = alpha + b_mkt mkt_rf + b_smb smb + b_hml hml``;
    ``AR = R - rf - (alpha + b . f)``. The "benchmark" of an ff3 event is the
    market return ``mkt_rf + rf``.

* **Forecast-error variance** of an event-day AR (``event_var``), with ``T =
  n_est``: ``mean`` ``s^2 (1 + 1/T)``; ``market_adjusted`` ``s^2``; ``market``
  ``s^2 (1 + 1/T + (Rm_t - mean Rm_est)^2 / sum (Rm_est - mean)^2)``; ``ff3``
  ``s^2 (1 + x0' (X'X)^-1 x0)`` with ``x0 = (1, f_t)``, computed in the
  equivalent centred form ``s^2 (1 + 1/T + d' S^-1 d)``, ``d = f_t - mean f_est``,
  ``S`` the centred cross-product matrix. NaN wherever the AR is NaN.
* **Windows** ``(first, last)`` inclusive. Everything of a window is measured
  over the same days: for an ``ok`` event the days of the window that have an
  AR (``n_obs`` of them). ``car`` = sum of ARs; ``raw`` = ``prod(1+R) - 1``;
  ``benchmark`` = ``prod(1+Rm) - 1``; ``bhar`` = ``prod(1+R) - prod(1+E[R])``
  with ``E[R] = R - AR``; ``t_stat`` = ``car / (sigma sqrt(n_obs))`` (NaN when
  sigma is 0 or ``n_obs`` is 0). A day that has not happened (after the last
  grid session) or lacks a return is left out, **never zero-filled**:
  ``complete`` is True only when every day of the window has an AR, so a
  window running past the last price is incomplete and its CAR covers the
  observed days only. For an event that is not ``ok`` but has prices
  (``insufficient_history``, ``no_benchmark``), ``raw`` (and ``benchmark``
  when the benchmark has every one of those days) is still the observed move
  over the window's days with a return, as in the single-event code, and
  ``complete`` says whether every day has a return; every model number (car,
  bhar, t, alpha, beta, sigma, ARs, variances, residuals) is NaN with
  ``n_obs`` 0: never a number.
* **Status** precedence: ``no_prices`` (symbol not a column of ``returns``),
  ``out_of_range``, ``no_benchmark`` (the event's benchmark cannot be found),
  ``insufficient_history`` (fewer than ``min_obs`` usable estimation returns,
  or a degenerate design: benchmark or a factor constant, or factors
  collinear, over them), ``ok``. ``reason`` is a sentence for every status but
  ``ok`` (None), e.g. ``"insufficient history: 40 estimation returns in
  sessions [-250,-11], need 120"``.
* **Benchmark per event** (``market``/``market_adjusted``): the event's
  ``benchmark`` value when the column exists and the value is not null,
  looked up first among the columns of ``market`` (a DataFrame), then among
  the symbols of ``returns``; otherwise ``market`` itself when it is a Series
  (or a one-column DataFrame). Column ``benchmark`` of the output names the
  series used (a Series' name, or ``"market"`` when unnamed; ``"mkt_rf+rf"``
  for ff3; None for ``mean``).
* **Confounding**: ``confounded`` is True when another event (another id) of
  the same symbol has its day-0 session inside this event's confound window
  (``spec.confound_window``, relative days, default ``(estimation start,
  last window end)``) at a *different* session. Events of the same symbol on
  the same day-0 session are duplicates of one market reaction, not
  confounders: they are excluded (the event itself is excluded by id) and
  counted in ``duplicates``. Events without a grid position
  (``out_of_range``) neither are nor make confounded.
* **Abnormal volume** (when ``volumes`` is given and has the symbol): volumes
  <= 0 or NaN are missing. ``abnormal_volume_log = log(V_0 / mean V_est)``
  over the estimation window's sessions with a volume;
  ``abnormal_volume_z = (log V_0 - mean log V_est) / std(log V_est, ddof=1)``
  (needs two such sessions and a positive sd). Computed for every event with
  a grid position and the symbol in ``volumes``, whatever its return status.
* ``betas`` of ff3 are three columns ``beta_mkt``, ``beta_smb``,
  ``beta_hml`` (NaN for the other models); ``alpha`` holds the intercept of
  ``market`` and ``ff3`` (NaN for ``mean`` and ``market_adjusted``); ``beta``
  only the market model's slope.

Vectorisation and precision
---------------------------
No Python work is done per event (except the reason sentence of a non-ok
event); the event rows are never looped over.

* **Fits from prefix sums.** The regressors (a benchmark, or the factors) are
  shared by every symbol that uses them, so their usable-day count, sums and
  cross-products are prefix-summed once per benchmark along the session grid.
  For each distinct (symbol, benchmark) pair only the regressand ``y`` (the
  asset's return, minus the benchmark for ``market_adjusted``, minus ``rf``
  for ``ff3``), its products with the regressors and ``y^2`` are
  prefix-summed, in cache-sized groups of pairs. An event's estimation sums
  are then two gathered rows; the sessions inside its window where the
  regressors exist but the asset has no return (a sparse, sorted list of
  cells) are subtracted, summed directly. The OLS (closed form for one
  regressor, a batched 3x3 inverse for ff3), sigma and the variance terms
  follow in closed form for all events at once.
* **Event days** (returns, benchmarks, factors) are gathered by fancy
  indexing into (days x events) blocks; windows are reductions over rows.
* **Precision.** Sums are taken about a per-series centre close to its mean,
  so prefix differences lose about ``1e-15`` relatively. ``SSR = S_yy - b'S_xy``
  loses digits as a fit nears perfection, so the few events whose SSR is
  below 1e-3 of their sum of squares (R^2 > 0.999, or noise-free data) are
  refitted from their gathered estimation block with centred OLS, as the
  single-event code does. Results agree with :func:`event_study` to about
  1e-13 (tested to 1e-10) and do not depend on the order of the events.

``est_ar`` and ``est_market`` (events x 240 floats: 190 MB each for 100,000
events) are **materialised on first access** (then cached), from the stored
fit and a gather of each event's estimation block. The panel keeps a
shallow, copy-on-write snapshot of the input frames for that, so later
in-place changes of the caller's frames do not reach it. A panel can also be
built directly with a frame for every field.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Callable

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from monitor.errors import DataValidationError

#: Normal-return models understood by :func:`run_events`.
MODELS: tuple[str, ...] = ("market", "market_adjusted", "mean", "ff3")
#: Parameters of each model: the ddof of its residual standard deviation.
N_PARAMS: dict[str, int] = {"market": 2, "market_adjusted": 1, "mean": 1, "ff3": 4}
#: Every status an event can get.
STATUSES: tuple[str, ...] = ("ok", "insufficient_history", "no_prices", "out_of_range",
                             "no_benchmark")
#: Columns ``factors`` must have for model ``ff3``.
FACTOR_COLUMNS: tuple[str, ...] = ("mkt_rf", "smb", "hml", "rf")
#: Name of the ff3 benchmark (the market return ``mkt_rf + rf``).
FF3_BENCHMARK = "mkt_rf+rf"
#: Regressors of each model (besides the intercept).
_N_REGRESSORS = {"market": 1, "market_adjusted": 0, "mean": 0, "ff3": 3}
#: Prefix-sum elements per group of pairs (sessions x quantities x pairs).
_PREFIX_ELEMENTS = 500_000
#: Events per block when gathering estimation windows.
_EST_CHUNK = 4096
#: A centred sum of squares at most this share of the uncentred one is zero.
_DEGENERATE = 1e-12
#: Events whose SSR is at most this share of their sum of squares are refitted directly.
_REFIT_SHARE = 1e-3


def _span(value: Any, what: str) -> tuple[int, int]:
    try:
        if len(value) != 2:
            raise ValueError
        first, last = (int(value[0]), int(value[1]))
    except (TypeError, ValueError, IndexError):
        raise ValueError(f"{what} must be a pair of ints (first, last), got {value!r}") from None
    if first > last:
        raise ValueError(f"{what} {(first, last)} ends before it starts")
    return first, last


@dataclass(frozen=True)
class StudySpec:
    """What to measure: model, estimation window, event windows.

    Attributes
    ----------
    model : {"market", "market_adjusted", "mean", "ff3"}
    estimation : (int, int)
        First and last relative session of the estimation window, inclusive.
    windows : tuple of (int, int)
        Event windows, first and last relative session inclusive; at least
        one, no duplicate.
    min_obs : int
        Fewest usable estimation returns; at least ``N_PARAMS[model] + 1``.
    confound_window : (int, int) or None
        Relative sessions searched for other events of the same symbol;
        None means ``(min(estimation start, first window start), last window end)``.

    Spans given as lists are normalised to tuples of ints; a bad value raises
    ValueError on construction.
    """

    model: str = "market"
    estimation: tuple[int, int] = (-250, -11)
    windows: tuple[tuple[int, int], ...] = ((0, 0), (-1, 1), (0, 5))
    min_obs: int = 120
    confound_window: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(f"unknown model {self.model!r}; expected one of {', '.join(MODELS)}")
        object.__setattr__(self, "estimation", _span(self.estimation, "estimation window"))
        windows = tuple(_span(w, "window") for w in self.windows)
        if not windows:
            raise ValueError("no event window given")
        if len(set(windows)) != len(windows):
            raise ValueError(f"duplicated event window in {windows}")
        object.__setattr__(self, "windows", windows)
        need = N_PARAMS[self.model] + 1
        if int(self.min_obs) < need:
            raise ValueError(
                f"min_obs must be at least {need} for model {self.model!r}, got {self.min_obs}"
            )
        object.__setattr__(self, "min_obs", int(self.min_obs))
        if self.confound_window is not None:
            object.__setattr__(self, "confound_window",
                               _span(self.confound_window, "confound window"))

    @property
    def event_days(self) -> tuple[int, int]:
        """First and last relative day covered by the windows (the ``event_ar`` columns)."""
        return min(s for s, _ in self.windows), max(e for _, e in self.windows)

    @property
    def confound_span(self) -> tuple[int, int]:
        """The confound window in force (the default filled in)."""
        if self.confound_window is not None:
            return self.confound_window
        first, last = self.event_days
        return min(self.estimation[0], first), last


class _Lazy:
    """A frame built on first access (see :class:`EventPanel`)."""

    __slots__ = ("build",)

    def __init__(self, build: Callable[[], pd.DataFrame]) -> None:
        self.build = build


_LAZY_FIELDS = frozenset({"est_ar", "est_market"})


@dataclass(frozen=True, eq=False, repr=False)
class EventPanel:
    """Everything :func:`run_events` measured, one row per event.

    Attributes
    ----------
    spec : StudySpec
    events : pd.DataFrame
        Index ``id`` (the events' ids, in input order). Columns: ``symbol``
        (object), ``session`` (datetime64: mapped day-0 session, NaT when
        out_of_range), ``given_session`` (datetime64, as given), ``benchmark``
        (object: name of the benchmark series or None), ``status`` (object,
        one of :data:`STATUSES`), ``reason`` (object, str or None), ``n_est``
        (int64), ``alpha``, ``beta``, ``beta_mkt``, ``beta_smb``,
        ``beta_hml``, ``sigma`` (float64), ``confounded`` (bool),
        ``duplicates`` (int64: other events of the symbol on the same
        session), ``abnormal_volume_log``, ``abnormal_volume_z`` (float64).
    event_ar, event_var : pd.DataFrame
        Index id, int64 columns named ``relative_day``: every relative day
        from the first window start to the last window end; float64 abnormal
        returns and their forecast-error variances, NaN where not (yet)
        available or the event is not ok.
    est_ar : pd.DataFrame
        Index id, int64 columns: the relative days of the estimation window;
        float64 estimation residuals (``AR`` of the estimation days), NaN
        where not usable or the event is not ok. Built on first access.
    event_market, est_market : pd.DataFrame
        The benchmark returns on the ``event_ar`` and ``est_ar`` grids
        (float64; ``mkt_rf + rf`` for ff3; all NaN for the mean model and for
        events without prices or position). ``est_market`` is built on first
        access.
    windows : pd.DataFrame
        Long form, RangeIndex, one row per (event, window), events in input
        order then windows in spec order. Columns: ``id`` (object),
        ``window`` (object: tuple), ``start``, ``end`` (int64), ``raw``,
        ``benchmark``, ``car``, ``bhar``, ``t_stat`` (float64), ``n_obs``
        (int64), ``complete`` (bool).

    Methods ``ok()`` (ids of the ok events) and ``car(window)`` (a Series by
    id). The panel may be built directly with frames for every field (tests).
    """

    spec: StudySpec
    events: pd.DataFrame
    event_ar: pd.DataFrame
    event_var: pd.DataFrame
    est_ar: pd.DataFrame
    event_market: pd.DataFrame
    est_market: pd.DataFrame
    windows: pd.DataFrame

    def __getattribute__(self, name: str) -> Any:
        value = object.__getattribute__(self, name)
        if name in _LAZY_FIELDS and type(value) is _Lazy:
            value = value.build()
            object.__setattr__(self, name, value)
        return value

    def __reduce__(self):
        return (EventPanel, tuple(getattr(self, f.name) for f in fields(self)))

    def ok(self) -> pd.Index:
        """Ids of the events with status ``ok``, in input order."""
        return self.events.index[(self.events["status"] == "ok").to_numpy()]

    def car(self, window: tuple[int, int]) -> pd.Series:
        """CAR of every event over ``window`` (one of ``spec.windows``), indexed by id.

        NaN for events that are not ok or have no AR in the window.
        """
        return self.window_values(window, "car")

    def window_values(self, window: tuple[int, int], column: str) -> pd.Series:
        """Column ``column`` of :attr:`windows` for ``window``, indexed by id."""
        s, e = _span(window, "window")
        if (s, e) not in self.spec.windows:
            raise KeyError(f"window {(s, e)} is not one of the study's windows {self.spec.windows}")
        k = self.spec.windows.index((s, e))
        step = len(self.spec.windows)
        values = self.windows[column].to_numpy()[k::step]
        return pd.Series(values, index=self.events.index, name=column)

    def __repr__(self) -> str:
        counts = self.events["status"].value_counts().to_dict() if len(self.events) else {}
        return (f"EventPanel(model={self.spec.model!r}, events={len(self.events)}, "
                f"status={counts}, windows={self.spec.windows})")


# --------------------------------------------------------------------------- #
# Input preparation
# --------------------------------------------------------------------------- #


def _check_grid(index: pd.Index, name: str) -> pd.DatetimeIndex:
    if not isinstance(index, pd.DatetimeIndex):
        raise DataValidationError(
            f"{name} must be indexed by a pandas DatetimeIndex of sessions, "
            f"got {type(index).__name__}"
        )
    if index.tz is not None:
        raise DataValidationError(f"{name} index must hold naive session labels, got {index.tz}")
    if index.hasnans:
        raise DataValidationError(f"{name} index contains NaT")
    if not index.is_unique:
        raise DataValidationError(
            f"{name} index has duplicated sessions, first {index[index.duplicated()][0]}"
        )
    if not index.is_monotonic_increasing:
        raise DataValidationError(f"{name} index must be sorted increasing")
    return index


def _float_values(frame: pd.DataFrame | pd.Series, name: str) -> np.ndarray:
    try:
        values = frame.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"{name} must hold numbers: {exc}") from None
    if np.isinf(values).any():
        raise DataValidationError(f"{name} has infinite values; values must be finite or NaN")
    return values


def _on_grid(frame: pd.DataFrame | pd.Series, grid: pd.DatetimeIndex, name: str):
    """``frame`` reindexed on the grid (a copy-on-write shallow copy when already on it)."""
    _check_grid(frame.index, name)
    if frame.index.equals(grid):
        return frame.copy(deep=False)
    return frame.reindex(grid)


@dataclass
class _Inputs:
    """Arrays the numpy core works on (built by :func:`_prepare`)."""

    model: str
    n: int
    status: np.ndarray          # object, per event
    reason: np.ndarray          # object, per event
    position: np.ndarray        # int64 grid position of day 0 (-1 when none)
    values: np.ndarray          # (sessions, symbols) returns
    sym_col: np.ndarray         # int64 column of each event's symbol (-1 when none)
    bench: np.ndarray | None    # (sessions, benchmarks + 1) returns; last column all NaN
    bench_col: np.ndarray       # int64 per event
    factors: np.ndarray | None  # (sessions, 4) mkt_rf, smb, hml, rf
    volume: np.ndarray | None   # (sessions, volume symbols)
    vol_col: np.ndarray         # int64 per event (-1 when none)


def _prepare(returns, events, spec, market, factors, volumes) -> tuple[_Inputs, dict]:
    """Validate the frames and turn them into arrays; returns (_Inputs, meta)."""
    model = spec.model
    if not isinstance(returns, pd.DataFrame):
        raise DataValidationError(f"returns must be a DataFrame, got {type(returns).__name__}")
    grid = _check_grid(returns.index, "returns")
    if not returns.columns.is_unique:
        raise DataValidationError("returns has duplicated symbol columns")
    if not isinstance(events, pd.DataFrame):
        raise DataValidationError(f"events must be a DataFrame, got {type(events).__name__}")
    missing = {"id", "symbol", "session"} - set(events.columns)
    if missing:
        raise DataValidationError(f"events lacks column(s) {', '.join(sorted(missing))}")
    ids = pd.Index(events["id"].to_numpy(dtype=object, copy=True), name="id", dtype=object)
    if ids.hasnans:
        raise DataValidationError("events has an empty id")
    if not ids.is_unique:
        raise DataValidationError(f"events has duplicated ids, first {ids[ids.duplicated()][0]!r}")
    has_bench_column = "benchmark" in events.columns
    if model in ("market", "market_adjusted") and market is None and not has_bench_column:
        raise ValueError(f"model {model!r} needs market returns or an events.benchmark column")
    if model == "ff3":
        if factors is None:
            raise ValueError("model 'ff3' needs factors (columns mkt_rf, smb, hml, rf)")
        if not isinstance(factors, pd.DataFrame):
            raise DataValidationError("factors must be a DataFrame")
        lacking = [c for c in FACTOR_COLUMNS if c not in factors.columns]
        if lacking:
            raise DataValidationError(f"factors lacks column(s) {', '.join(lacking)}")

    n = len(events)
    n_sessions = len(grid)
    symbols = events["symbol"].to_numpy(dtype=object, copy=True)
    try:
        given = pd.DatetimeIndex(events["session"])
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"events.session must hold session timestamps: {exc}") from None
    if given.tz is not None:
        raise DataValidationError(f"events.session must be naive session labels, got {given.tz}")
    off_midnight = np.asarray(given != given.normalize()) & ~np.asarray(given.isna())
    if off_midnight.any():
        i = int(np.flatnonzero(off_midnight)[0])
        raise DataValidationError(
            f"event {ids[i]!r}: session {given[i]} has a time of day; give the session label "
            "(midnight) of the trading session the event belongs to"
        )

    status = np.repeat(np.array(["ok"], dtype=object), n)
    reason = np.repeat(np.array([None], dtype=object), n)

    # Symbols.
    sym_col = np.asarray(returns.columns.get_indexer(pd.Index(symbols, dtype=object)),
                         dtype=np.int64) if n else np.zeros(0, np.int64)
    for i in np.flatnonzero(sym_col < 0):
        status[i] = "no_prices"
        reason[i] = f"no prices: symbol {symbols[i]!r} is not a column of returns"

    # Sessions -> grid positions (a non-session date maps to the next session).
    nat = np.asarray(given.isna())
    position = np.full(n, -1, dtype=np.int64)
    if n_sessions and n:
        unit = grid.unit
        raw_pos = np.searchsorted(grid.asi8, given.as_unit(unit).asi8, side="left").astype(np.int64)
        before = ~nat & np.asarray(given < grid[0])
        after = ~nat & (raw_pos >= n_sessions)
        inside = ~(nat | before | after)
        position[inside] = raw_pos[inside]
    else:
        before = np.zeros(n, dtype=bool)
        inside = np.zeros(n, dtype=bool)
    for i in np.flatnonzero(~inside & (status == "ok")):
        status[i] = "out_of_range"
        if nat[i]:
            reason[i] = "out of range: the event has no session"
        elif not n_sessions:
            reason[i] = "out of range: the returns have no session"
        elif before[i]:
            reason[i] = (f"out of range: event session {given[i].date()} is before the first "
                         f"session {grid[0].date()} of the returns")
        else:
            reason[i] = (f"out of range: event session {given[i].date()} is after the last "
                         f"session {grid[-1].date()} of the returns; no window has started")

    snapshot = returns.copy(deep=False)       # copy-on-write: protects the lazy frames
    values = _float_values(snapshot, "returns")

    bench = None
    bench_col = np.zeros(n, dtype=np.int64)
    bench_name = np.full(n, None, dtype=object)
    if model in ("market", "market_adjusted"):
        bench, bench_col, bench_name = _benchmarks(
            snapshot, values, grid, events, has_bench_column, market, status, reason)
    elif model == "ff3":
        bench_name[:] = FF3_BENCHMARK

    fac = None
    if model == "ff3":
        fac = _float_values(_on_grid(factors[list(FACTOR_COLUMNS)], grid, "factors"), "factors")

    vol = None
    vol_col = np.full(n, -1, dtype=np.int64)
    if volumes is not None:
        if not isinstance(volumes, pd.DataFrame):
            raise DataValidationError("volumes must be a DataFrame of sessions x symbols")
        if not volumes.columns.is_unique:
            raise DataValidationError("volumes has duplicated symbol columns")
        vol = _float_values(_on_grid(volumes, grid, "volumes"), "volumes")
        if n:
            vol_col = np.asarray(volumes.columns.get_indexer(pd.Index(symbols, dtype=object)),
                                 dtype=np.int64)

    inputs = _Inputs(model=model, n=n, status=status, reason=reason, position=position,
                     values=values, sym_col=sym_col, bench=bench, bench_col=bench_col,
                     factors=fac, volume=vol, vol_col=vol_col)
    meta = {"ids": ids, "symbols": symbols, "given": given, "grid": grid,
            "bench_name": bench_name}
    return inputs, meta


def _benchmarks(returns, values, grid, events, has_bench_column, market, status, reason):
    """Resolve each event's benchmark: (sessions x benchmarks+1 matrix, column, name)."""
    n = len(events)
    n_sessions = len(grid)
    default_name = None
    market_frame = None
    market_series = None
    if isinstance(market, pd.Series):
        default_name = market.name if market.name is not None else "market"
        market_series = market
    elif isinstance(market, pd.DataFrame):
        if not market.columns.is_unique:
            raise DataValidationError("market has duplicated benchmark columns")
        market_frame = market
        if market.shape[1] == 1:
            default_name = market.columns[0]
            market_series = market.iloc[:, 0]
    elif market is not None:
        raise DataValidationError(
            f"market must be a Series or a DataFrame, got {type(market).__name__}")

    wanted = np.full(n, None, dtype=object)
    if has_bench_column and n:
        column = events["benchmark"]
        named = column.notna().to_numpy()
        wanted[named] = column.to_numpy(dtype=object)[named]
    columns: list[np.ndarray] = []
    bench_col = np.full(n, -1, dtype=np.int64)
    bench_name = np.full(n, None, dtype=object)
    market_cols = market_frame.columns if market_frame is not None else pd.Index([])

    def use(mask: np.ndarray, name: Any, series: np.ndarray) -> None:
        bench_col[mask] = len(columns)
        bench_name[mask] = name
        columns.append(series)

    named = ~pd.isna(wanted) if n else np.zeros(0, dtype=bool)
    for name in (pd.unique(wanted[named]) if named.any() else []):
        if name in market_cols:
            series = _float_values(_on_grid(market_frame[name], grid, "market"),
                                   f"market[{name!r}]")
        elif name in returns.columns:
            series = values[:, returns.columns.get_loc(name)]
        elif market_series is not None and name == default_name:
            series = _float_values(_on_grid(market_series, grid, "market"), "market")
        else:
            continue
        use(wanted == name, name, series)
    if (~named).any() and market_series is not None:
        use(~named, default_name,
            _float_values(_on_grid(market_series, grid, "market"), "market"))
    for i in np.flatnonzero((bench_col < 0) & (status == "ok")):
        status[i] = "no_benchmark"
        if wanted[i] is None:
            reason[i] = "no benchmark: the event names none and market is not a single series"
        else:
            reason[i] = (f"no benchmark: {wanted[i]!r} is neither a column of market nor a "
                         "symbol of returns")
    matrix = np.full((n_sessions, len(columns) + 1), np.nan)
    for j, series in enumerate(columns):
        matrix[:, j] = series
    bench_col[bench_col < 0] = len(columns)
    return matrix, bench_col, bench_name


# --------------------------------------------------------------------------- #
# The numpy core
# --------------------------------------------------------------------------- #


def _pairs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(keys, return_inverse=True)`` plus the order that sorts ``keys``."""
    order = np.argsort(keys, kind="stable")
    ordered = keys[order]
    new = np.empty(len(keys), dtype=bool)
    new[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=new[1:])
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse, order


def _window_sums(fill: Callable[..., np.ndarray], pair_of: np.ndarray, order: np.ndarray,
                 n_pairs: int, lo: np.ndarray, hi: np.ndarray, n_sessions: int,
                 n_quantities: int, n_centres: int) -> tuple[np.ndarray, np.ndarray]:
    """Sums over each event's sessions ``[lo, hi)`` of per-pair quantities, by prefix sums.

    ``fill(pairs, out, ev, local)`` writes, for an array of pair numbers, the
    quantities to sum into ``out`` (sessions x n_quantities x pairs, zero where
    a session is not usable) and returns the (n_centres x pairs) centres it
    subtracted from the data; ``ev`` are the events of those pairs and
    ``local`` their pair's column in ``out`` (for per-event work done while
    the pairs' data is in cache). ``order`` sorts the events by pair. Pairs are
    processed in groups that keep the prefix block in cache. Returns (sums:
    n_quantities x events, centres: n_centres x events).
    """
    n_events = len(pair_of)
    sums = np.empty((n_quantities, n_events))       # in pair order, unpermuted at the end
    centres = np.empty((n_centres, n_events))
    bounds = np.searchsorted(pair_of[order], np.arange(n_pairs + 1), side="left")
    group = max(1, _PREFIX_ELEMENTS // max(1, (n_sessions + 1) * n_quantities))
    buffer = np.empty((n_sessions + 1) * n_quantities * min(group, max(n_pairs, 1)))
    for first in range(0, n_pairs, group):
        pairs = np.arange(first, min(first + group, n_pairs))
        width = len(pairs)
        block = buffer[:(n_sessions + 1) * n_quantities * width].reshape(
            n_sessions + 1, n_quantities, width)
        block[0] = 0.0
        a, b = bounds[first], bounds[first + width]
        ev = order[a:b]
        local = pair_of[ev] - first
        centre = fill(pairs, block[1:], ev, local)
        flat = block.reshape(n_sessions + 1, n_quantities * width)
        np.add.accumulate(flat, axis=0, out=flat)
        sums[:, a:b] = (block[hi[ev], :, local] - block[lo[ev], :, local]).T
        centres[:, a:b] = centre[:, local]
    back = np.empty_like(order)
    back[order] = np.arange(n_events)
    return sums[:, back], centres[:, back]


def _pilot_centre(y: np.ndarray) -> np.ndarray:
    """A cheap centre per column: the mean of every 16th session's values (0 if none).

    Sums are taken about it; any value within a few standard deviations of the
    column's mean keeps the prefix differences accurate.
    """
    sample = y[::16]
    present = ~np.isnan(sample)
    count = present.sum(axis=0)
    total = np.where(present, sample, 0.0).sum(axis=0)
    return total / np.maximum(count, 1)


def _gather_days(matrix: np.ndarray, columns: np.ndarray, position: np.ndarray,
                 days: np.ndarray) -> np.ndarray:
    """``matrix[position + day, column]``, days x events; NaN off the grid."""
    n_rows = matrix.shape[0]
    idx = days[:, None] + position[None, :]
    clipped = np.clip(idx, 0, n_rows - 1)
    if len(columns) and (columns == columns[0]).all():
        out = matrix[:, columns[0]][clipped]          # one series: a 1-D gather
    else:
        out = matrix[clipped, columns[None, :]]
    _blank_off_grid(out, idx, position, days, n_rows)
    return out


def _blank_off_grid(out: np.ndarray, idx: np.ndarray, position: np.ndarray, days: np.ndarray,
                    n_rows: int) -> None:
    """Set NaN where ``idx`` (days x events) falls off the grid of ``n_rows`` sessions."""
    edge = np.flatnonzero((position + days[0] < 0) | (position + days[-1] >= n_rows))
    if len(edge):
        sub = idx[:, edge]
        out[:, edge] = np.where((sub < 0) | (sub >= n_rows), np.nan, out[:, edge])


def _estimation_sums(inp: _Inputs, todo: np.ndarray, lo: np.ndarray, hi: np.ndarray,
                     days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sums over each event's usable estimation sessions ``[lo, hi)``.

    Returns ``sums`` (rows: usable count, the k centred regressors, the
    centred regressand y, the regressor cross-products (upper triangle), the
    regressor-y products, y^2; columns: events of ``todo``) and ``centres``
    (rows: y's centre, then the regressors'; columns: events), and the
    asset's returns on the event ``days`` (events x days, NaN off the grid),
    gathered while each symbol's column is in cache.

    The regressors (benchmark or factors) are shared by every symbol that uses
    them, so their moments are prefix-summed once per regressor group over
    the sessions where they exist; the sessions where the asset lacks a
    return (a sparse set) are then subtracted, from a sorted list of those
    cells. Only y, its products with the regressors and y^2 are prefix-summed
    per (symbol, group) pair.
    """
    model = inp.model
    k = _N_REGRESSORS[model]
    values = inp.values
    n_sessions = values.shape[0]
    tri = [(a, c) for a in range(k) for c in range(a, k)]
    n_shared = 1 + k + len(tri)                 # usable, regressors, cross-products
    n_pair = k + 2                              # y, regressor*y, y^2
    m = len(todo)

    # Regressor groups: what each event regresses on.
    if model in ("market", "market_adjusted"):
        group_of = inp.bench_col[todo]
    else:
        group_of = np.zeros(m, dtype=np.int64)
    groups, group_local = np.unique(group_of, return_inverse=True)
    group_local = group_local.reshape(-1).astype(np.int64)

    def group_series(g: int) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
        """(regressors T x k, regressor sessions usable T, shift of the regressand or None)."""
        if model in ("market", "market_adjusted"):
            bench = inp.bench[:, g]
            z = bench[:, None] if model == "market" else np.zeros((n_sessions, 0))
            return z, ~np.isnan(bench), (bench if model == "market_adjusted" else None)
        if model == "ff3":
            fac = inp.factors
            return fac[:, :3], ~np.isnan(fac).any(axis=1), fac[:, 3]
        return np.zeros((n_sessions, 0)), np.ones(n_sessions, dtype=bool), None

    n_groups = len(groups)
    shared_rows = np.zeros((n_groups, n_sessions, n_shared))
    shared_prefix = np.zeros((n_groups, n_sessions + 1, n_shared))
    zc_all = np.zeros((n_groups, n_sessions, k))
    z_centre = np.zeros((n_groups, k))
    usable_all = np.zeros((n_groups, n_sessions), dtype=bool)
    shifts: list[np.ndarray | None] = []
    for gi, g in enumerate(groups):
        z, usable, shift = group_series(int(g))
        shifts.append(shift)
        usable_all[gi] = usable
        for j in range(k):
            column = np.where(usable, z[:, j], np.nan)
            z_centre[gi, j] = _pilot_centre(column[:, None])[0]
            zc_all[gi, :, j] = np.where(usable, column - z_centre[gi, j], 0.0)
        rows = shared_rows[gi]
        rows[:, 0] = usable
        rows[:, 1:1 + k] = zc_all[gi]
        for t, (a, c) in enumerate(tri):
            rows[:, 1 + k + t] = zc_all[gi, :, a] * zc_all[gi, :, c]
        np.cumsum(rows, axis=0, out=shared_prefix[gi, 1:])

    usable_everywhere = usable_all.all(axis=1)

    # Pairs (symbol, group): y and its products, by prefix sums.
    pair_key = inp.sym_col[todo] * n_groups + group_local
    pair_keys, pair_of, pair_order = _pairs(pair_key)
    pair_sym = pair_keys // n_groups
    pair_group = pair_keys % n_groups
    missing_pairs: list[np.ndarray] = []
    missing_sessions: list[np.ndarray] = []

    position = inp.position[todo]
    r_ev = np.empty((len(days), m))

    def fill(pairs: np.ndarray, out: np.ndarray, ev: np.ndarray, local: np.ndarray) -> np.ndarray:
        y = out[:, 0, :]
        cols = pair_sym[pairs]
        if cols[-1] - cols[0] == len(cols) - 1:     # sorted distinct: a run of columns
            raw = values[:, cols[0]:cols[-1] + 1]   # a view, no copy
        else:
            raw = np.take(values, cols, axis=1)
        idx = days[:, None] + position[ev]
        r_ev[:, ev] = raw[np.clip(idx, 0, n_sessions - 1), local]
        gs = pair_group[pairs]
        one = bool((gs == gs[0]).all())
        if shifts[gs[0]] is not None:               # y = r - benchmark, or r - rf
            shift = shifts[gs[0]][:, None] if one else np.stack([shifts[g] for g in gs], axis=1)
            np.subtract(raw, shift, out=y)
            centre = _pilot_centre(y)
            y -= centre
        else:
            centre = _pilot_centre(raw)
            np.subtract(raw, centre, out=y)
        # Zero y where it cannot be used; list the cells where only the asset's return
        # is missing (the regressors are there): their regressor moments are subtracted.
        width = len(pairs)
        if one:
            flat = np.flatnonzero(np.isnan(y))       # sparse: y is NaN only where missing
            t_idx, p_idx = np.divmod(flat, width)
            y[t_idx, p_idx] = 0.0
            if not usable_everywhere[gs[0]]:
                usable = usable_all[gs[0]]
                y[~usable] = 0.0
                keep = usable[t_idx]
                t_idx, p_idx = t_idx[keep], p_idx[keep]
        else:
            usable = usable_all[gs].T
            lacking = np.isnan(y)
            t_idx, p_idx = np.divmod(np.flatnonzero(lacking & usable), width)
            np.copyto(y, 0.0, where=lacking | ~usable)
        if len(t_idx):
            missing_pairs.append(pairs[p_idx])
            missing_sessions.append(t_idx)
        zc = zc_all[gs[0]][:, None, :] if one else zc_all[gs].transpose(1, 0, 2)
        for j in range(k):
            np.multiply(zc[:, :, j], y, out=out[:, 1 + j, :])
        np.multiply(y, y, out=out[:, 1 + k, :])
        return centre[None, :]

    pair_sums, y_centre = _window_sums(fill, pair_of, pair_order, len(pair_keys), lo, hi,
                                       n_sessions,
                                       n_pair, 1)

    # Regressor moments over the usable sessions: shared sums minus the missing cells.
    gl = group_local
    shared = shared_prefix[gl, hi] - shared_prefix[gl, lo]              # (m, n_shared)
    if missing_pairs:
        cell_pair = np.concatenate(missing_pairs)
        cell_t = np.concatenate(missing_sessions)
        cell_key = cell_pair * (n_sessions + 1) + cell_t
        order = np.argsort(cell_key, kind="stable")
        cell_key, cell_pair, cell_t = cell_key[order], cell_pair[order], cell_t[order]
        cell_rows = np.zeros((len(cell_key) + 1, n_shared))          # + a zero row
        cell_rows[:-1] = shared_rows[pair_group[cell_pair], cell_t]
        # Only events whose pair has missing cells need a search; each sums the cells
        # of its window directly (no long prefix sums, so no loss of precision).
        first_cell = np.searchsorted(cell_pair, np.arange(len(pair_keys) + 1))
        some = np.flatnonzero(first_cell[pair_of + 1] > first_cell[pair_of])
        base = pair_of[some] * (n_sessions + 1)
        a = np.searchsorted(cell_key, base + lo[some])
        b = np.searchsorted(cell_key, base + hi[some])
        # reduceat over interleaved (a, b) bounds sorted by a: the gaps between windows
        # (odd slices, discarded) then add up to at most the number of cells.
        by_start = np.argsort(a, kind="stable")
        some, a, b = some[by_start], a[by_start], b[by_start]
        bounds = np.empty(2 * len(some), dtype=np.int64)
        bounds[0::2], bounds[1::2] = a, b
        if len(bounds):
            within = np.add.reduceat(cell_rows, bounds, axis=0)[0::2]
            shared[some] -= np.where((b > a)[:, None], within, 0.0)
    sums = np.empty((1 + k + 1 + len(tri) + k + 1, m))
    sums[0] = shared[:, 0]
    sums[1:1 + k] = shared[:, 1:1 + k].T
    sums[1 + k] = pair_sums[0]
    sums[2 + k:2 + k + len(tri)] = shared[:, 1 + k:].T
    sums[2 + k + len(tri):] = pair_sums[1:]
    centres = np.vstack([y_centre[0][None, :], z_centre[gl].T])
    _blank_off_grid(r_ev, days[:, None] + position[None, :], position, days, n_sessions)
    return sums, centres, r_ev


def _direct_fit(inp: _Inputs, rows: np.ndarray, estimation: tuple[int, int]) -> dict:
    """The fit of events ``rows`` from their gathered estimation blocks (centred OLS).

    The numerically careful path, as the single-event code computes it, for
    the few events whose prefix-sum fit is ill-conditioned.
    """
    model = inp.model
    k = _N_REGRESSORS[model]
    days = np.arange(estimation[0], estimation[1] + 1)
    pos = inp.position[rows]
    y = _gather_days(inp.values, inp.sym_col[rows], pos, days).T          # (m, E)
    zs: list[np.ndarray] = []
    if model in ("market", "market_adjusted"):
        bench = _gather_days(inp.bench, inp.bench_col[rows], pos, days).T
        if model == "market":
            zs = [bench]
        else:
            y = y - bench
    elif model == "ff3":
        fac = [_gather_days(inp.factors, np.full(len(rows), j), pos, days).T for j in range(4)]
        y = y - fac[3]
        zs = fac[:3]
    valid = ~np.isnan(y)
    for z in zs:
        valid &= ~np.isnan(z)
    n = valid.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        my = np.where(valid, y, 0.0).sum(axis=1) / n
        dy = np.where(valid, y - my[:, None], 0.0)
        mz = np.stack([np.where(valid, z, 0.0).sum(axis=1) / n for z in zs]) if k \
            else np.zeros((0, len(rows)))
        dz = [np.where(valid, z - mz[j][:, None], 0.0) for j, z in enumerate(zs)]
        out = {"my": my}
        if k:
            S = np.einsum("jme,lme->mjl", np.stack(dz), np.stack(dz))
            sxy = np.einsum("jme,me->mj", np.stack(dz), dy)
            S_inv = np.linalg.inv(S)
            b = np.einsum("mjl,ml->mj", S_inv, sxy)
            resid = dy - sum(b[:, j:j + 1] * dz[j] for j in range(k))
            out.update(alpha=my - np.einsum("mj,jm->m", b, mz), b=b, mz=mz, S_inv=S_inv)
        else:
            resid = dy
        out["ssr"] = np.einsum("me,me->m", resid, resid)
    return out


def _fit(inp: _Inputs, spec: StudySpec) -> dict[str, np.ndarray]:
    """Fit the model of every event with prices; ARs and variances of the event days."""
    n, model = inp.n, inp.model
    k = _N_REGRESSORS[model]
    n_sessions = inp.values.shape[0]
    est0, est1 = spec.estimation
    day0, day1 = spec.event_days
    days = np.arange(day0, day1 + 1)
    out: dict[str, np.ndarray] = {
        "n_est": np.zeros(n, dtype=np.int64),
        "alpha": np.full(n, np.nan),
        "mean": np.full(n, np.nan),
        "b": np.full((n, k), np.nan),
        "sigma": np.full(n, np.nan),
        "singular": np.zeros(n, dtype=bool),
        # days x events: the layout of a DataFrame's block, and of the window sums
        "event_ar": np.full((len(days), n), np.nan),
        "event_var": np.full((len(days), n), np.nan),
        "event_r": np.full((len(days), n), np.nan),
        "event_market": np.full((len(days), n), np.nan),
    }
    todo = np.flatnonzero((inp.status == "ok") | (inp.status == "no_benchmark"))
    if len(todo) == 0:
        return out
    pos = inp.position[todo]
    lo = np.clip(pos + est0, 0, n_sessions)
    hi = np.clip(pos + est1 + 1, 0, n_sessions)
    bench, fac = inp.bench, inp.factors

    tri = [(a, c) for a in range(k) for c in range(a, k)]
    sums, centres, r_ev = _estimation_sums(inp, todo, lo, hi, days)
    cnt = np.rint(sums[0]).astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        nf = cnt.astype(np.float64)
        sz = sums[1:1 + k]                                   # (k, m)
        sy = sums[1 + k]
        szz_raw = sums[2 + k:2 + k + len(tri)]
        szy_raw = sums[2 + k + len(tri):2 + 2 * k + len(tri)]
        syy = sums[-1] - sy * sy / nf
        my = centres[0] + sy / nf                            # mean of y over usable days
        mz = centres[1:] + sz / nf                           # (k, m) means of regressors
        if k == 0:
            ssr = np.maximum(syy, 0.0)
            b = np.zeros((len(todo), 0))
            singular = np.zeros(len(todo), dtype=bool)
            alpha = np.full(len(todo), np.nan)
        elif k == 1:                                          # the market model, closed form
            sxx = szz_raw[0] - sz[0] * sz[0] / nf
            sxy1 = szy_raw[0] - sz[0] * sy / nf
            singular = (cnt > 0) & ~(sxx > _DEGENERATE * szz_raw[0])
            beta = sxy1 / sxx
            alpha = my - beta * mz[0]
            ssr = np.maximum(syy - beta * sxy1, 0.0)
            b = beta[:, None]
            S_inv = (1.0 / sxx)[:, None, None]
        else:
            S = np.empty((len(todo), k, k))
            for t, (a, c) in enumerate(tri):
                S[:, a, c] = S[:, c, a] = szz_raw[t] - sz[a] * sz[c] / nf
            sxy = (szy_raw - sz * sy / nf).T                  # (m, k)
            diag = np.stack([S[:, a, a] for a in range(k)], axis=1)
            raw_diag = np.stack([szz_raw[tri.index((a, a))] for a in range(k)], axis=1)
            singular = (cnt > 0) & ~(diag > _DEGENERATE * raw_diag).all(axis=1)
            # Collinear factors: a scale-free test on the correlation matrix's determinant.
            scale = np.sqrt(np.abs(diag[:, :, None] * diag[:, None, :]))
            corr = np.where(scale > 0, S / np.where(scale > 0, scale, 1.0), 0.0)
            corr = np.where(np.isfinite(corr), corr, 0.0)
            singular |= (cnt > 0) & ~(np.linalg.det(corr) > 1e-10)
            safe = singular | ~np.isfinite(S).all(axis=(1, 2))
            S_inv = np.linalg.inv(np.where(safe[:, None, None], np.eye(k), S))
            S_inv[safe] = np.nan
            b = np.einsum("mkl,ml->mk", S_inv, sxy)
            alpha = my - np.einsum("mk,km->m", b, mz)
            ssr = np.maximum(syy - np.einsum("mk,mk->m", b, sxy), 0.0)
        if k == 0:
            S_inv = np.zeros((len(todo), 0, 0))
        # Where the residual sum of squares is a small share of the (centred-about-the-
        # pilot) total, SSR = Syy - b'Sxy loses digits: refit those events directly.
        fragile = np.flatnonzero((nf > k + 1) & ~singular & ~(ssr > _REFIT_SHARE * sums[-1]))
        if len(fragile):
            direct = _direct_fit(inp, todo[fragile], spec.estimation)
            my[fragile] = direct["my"]
            ssr[fragile] = direct["ssr"]
            if k:
                alpha[fragile] = direct["alpha"]
                b[fragile] = direct["b"]
                mz[:, fragile] = direct["mz"]
                S_inv[fragile] = direct["S_inv"]
        dof = nf - (k + 1)
        s2 = np.where(dof > 0, ssr / np.where(dof > 0, dof, 1.0), np.nan)

    # Event days.
    if model in ("market", "market_adjusted"):
        m_ev = _gather_days(bench, inp.bench_col[todo], pos, days)
        z_ev = [m_ev] if model == "market" else []
        y_ev = r_ev if model == "market" else r_ev - m_ev
    elif model == "ff3":
        f_ev = [_gather_days(fac, np.full(len(todo), j), pos, days) for j in range(4)]
        m_ev = f_ev[0] + f_ev[3]
        z_ev = f_ev[:3]
        y_ev = r_ev - f_ev[3]
    else:
        m_ev = np.full_like(r_ev, np.nan)
        z_ev = []
        y_ev = r_ev
    with np.errstate(invalid="ignore", divide="ignore"):
        # Everything below is days x events.
        if model == "mean":
            ar = y_ev - my
            factor = np.broadcast_to(1.0 + 1.0 / nf, ar.shape)
        elif model == "market_adjusted":
            ar = y_ev
            factor = np.ones_like(ar)
        else:
            ar = y_ev - alpha
            for j in range(k):
                ar -= b[:, j] * z_ev[j]
            if k == 1:
                d = z_ev[0] - mz[0]
                quad = d * d * S_inv[:, 0, 0]
            else:
                d = np.stack([z_ev[j] - mz[j] for j in range(k)], axis=2)   # (D, m, k)
                quad = np.einsum("dmk,mkl,dml->dm", d, S_inv, d)
            factor = 1.0 + 1.0 / nf + quad
        var = s2 * factor
        var[np.isnan(ar)] = np.nan

    out["n_est"][todo] = cnt
    out["alpha"][todo] = alpha
    out["mean"][todo] = my
    out["b"][todo] = b
    out["sigma"][todo] = np.sqrt(s2)
    out["singular"][todo] = singular
    every = len(todo) == n
    for key, value in (("event_ar", ar), ("event_var", var), ("event_r", r_ev),
                       ("event_market", m_ev)):
        if every:
            out[key] = np.ascontiguousarray(value)
        else:
            out[key][:, todo] = value
    return out


def _finish_status(inp: _Inputs, spec: StudySpec, fit: dict[str, np.ndarray]) -> np.ndarray:
    """Apply insufficient_history; blank the model numbers of events that are not ok."""
    est0, est1 = spec.estimation
    status, reason = inp.status, inp.reason
    cnt = fit["n_est"]
    few = np.flatnonzero((status == "ok") & (cnt < spec.min_obs))
    status[few] = "insufficient_history"
    reason[few] = [f"insufficient history: {c} estimation returns in sessions "
                   f"[{est0},{est1}], need {spec.min_obs}" for c in cnt[few].tolist()]
    degenerate = (status == "ok") & fit["singular"]
    what = "the factors are constant or collinear" if inp.model == "ff3" else \
        "the benchmark returns are constant"
    for i in np.flatnonzero(degenerate):
        status[i] = "insufficient_history"
        reason[i] = (f"insufficient history: {what} over the {cnt[i]} estimation returns in "
                     f"sessions [{est0},{est1}]; the model is undefined")
    bad = status != "ok"
    for key in ("alpha", "mean", "b", "sigma"):
        fit[key][bad] = np.nan
    for key in ("event_ar", "event_var"):
        fit[key][:, bad] = np.nan
    return ~bad


def _windows(spec: StudySpec, fit: dict[str, np.ndarray], ok: np.ndarray,
             has_bench: bool) -> dict[str, np.ndarray]:
    """Window figures, arrays of shape (events, windows).

    The event-day arrays are days x events, so a window's reductions run over
    contiguous rows.
    """
    n = len(ok)
    day0 = spec.event_days[0]
    nw = len(spec.windows)
    res = {key: np.empty((n, nw)) for key in ("raw", "benchmark", "car", "bhar", "t_stat")}
    res["n_obs"] = np.empty((n, nw), dtype=np.int64)
    res["complete"] = np.empty((n, nw), dtype=bool)
    if not has_bench:
        res["benchmark"][:] = np.nan
    ar = fit["event_ar"]
    r = fit["event_r"]
    sigma = fit["sigma"]
    has_ar = ~np.isnan(ar)
    days = np.where(ok, has_ar, ~np.isnan(r))
    with np.errstate(invalid="ignore", divide="ignore"):
        growth = np.where(days, 1.0 + r, 1.0)
        expected = np.where(has_ar, 1.0 + r - ar, 1.0)
        ar0 = np.where(has_ar, ar, 0.0)
        if has_bench:
            m = fit["event_market"]
            bench = np.where(days, 1.0 + m, 1.0)
            bench_gap = days & np.isnan(m)
        for j, (s, e) in enumerate(spec.windows):
            c0, c1 = s - day0, e - day0 + 1
            n_days = days[c0:c1].sum(axis=0)
            n_obs = has_ar[c0:c1].sum(axis=0)
            any_day = n_days > 0
            g = growth[c0:c1].prod(axis=0)
            res["raw"][:, j] = np.where(any_day, g - 1.0, np.nan)
            if has_bench:
                res["benchmark"][:, j] = np.where(any_day & ~bench_gap[c0:c1].any(axis=0),
                                               bench[c0:c1].prod(axis=0) - 1.0, np.nan)
            has = n_obs > 0
            car = np.where(has, ar0[c0:c1].sum(axis=0), np.nan)
            res["car"][:, j] = car
            res["bhar"][:, j] = np.where(has, g - expected[c0:c1].prod(axis=0), np.nan)
            res["t_stat"][:, j] = np.where(has & (sigma > 0), car / (sigma * np.sqrt(n_obs)),
                                           np.nan)
            res["n_obs"][:, j] = n_obs
            res["complete"][:, j] = n_days == e - s + 1
    return res


def _confounding(symbols: np.ndarray, sym_col: np.ndarray, position: np.ndarray,
                 span: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(confounded, duplicates) per event, by sorted keys and binary search."""
    n = len(symbols)
    confounded = np.zeros(n, dtype=bool)
    duplicates = np.zeros(n, dtype=np.int64)
    placed = np.flatnonzero(position >= 0)
    if len(placed) == 0:
        return confounded, duplicates
    # Symbol codes: the returns column, or past the columns for symbols without prices.
    codes = sym_col[placed].copy()
    unknown = codes < 0
    if unknown.any():
        extra, _ = pd.factorize(symbols[placed][unknown])
        codes[unknown] = int(sym_col.max(initial=0)) + 1 + np.asarray(extra, dtype=np.int64)
    key = codes * (np.int64(1) << np.int64(40)) + position[placed]
    order = np.argsort(key)
    keys = key[order]
    c0, c1 = span
    same = np.searchsorted(keys, keys, "right") - np.searchsorted(keys, keys, "left") - 1
    in_window = np.searchsorted(keys, keys + c1, "right") - np.searchsorted(keys, keys + c0, "left")
    if c0 <= 0 <= c1:
        in_window = in_window - same - 1
    confounded[placed[order]] = in_window > 0
    duplicates[placed[order]] = same
    return confounded, duplicates


def _abnormal_volume(inp: _Inputs, spec: StudySpec) -> tuple[np.ndarray, np.ndarray]:
    """(log ratio, z) of the day-0 volume against the estimation window's volumes."""
    n = inp.n
    log_ratio = np.full(n, np.nan)
    z = np.full(n, np.nan)
    if inp.volume is None:
        return log_ratio, z
    todo = np.flatnonzero((inp.position >= 0) & (inp.vol_col >= 0))
    if len(todo) == 0:
        return log_ratio, z
    volume = inp.volume
    n_sessions = volume.shape[0]
    est0, est1 = spec.estimation
    pos = inp.position[todo]
    lo = np.clip(pos + est0, 0, n_sessions)
    hi = np.clip(pos + est1 + 1, 0, n_sessions)
    cols, pair_of, pair_order = _pairs(inp.vol_col[todo])

    def fill(pairs: np.ndarray, out: np.ndarray, ev: np.ndarray, local: np.ndarray) -> np.ndarray:
        v = volume[:, cols[pairs]]
        with np.errstate(invalid="ignore", divide="ignore"):
            valid = v > 0
            lv = np.log(np.where(valid, v, np.nan))
        centre = _pilot_centre(lv)
        np.subtract(lv, centre, out=out[:, 2, :])
        np.copyto(out[:, 2, :], 0.0, where=~valid)
        np.copyto(out[:, 0, :], valid)
        np.copyto(out[:, 1, :], np.where(valid, v, 0.0))
        np.multiply(out[:, 2, :], out[:, 2, :], out=out[:, 3, :])
        return centre[None, :]

    sums, centres = _window_sums(fill, pair_of, pair_order, len(cols), lo, hi, n_sessions, 4, 1)
    v0 = volume[pos, inp.vol_col[todo]]
    with np.errstate(invalid="ignore", divide="ignore"):
        cnt = np.rint(sums[0])
        has0 = v0 > 0
        l0 = np.log(np.where(has0, v0, 1.0))
        mean_v = sums[1] / cnt
        slv = sums[2]
        mean_lv = centres[0] + slv / cnt
        var_lv = np.maximum(sums[3] - slv * slv / cnt, 0.0) / (cnt - 1)
        sd = np.sqrt(var_lv)
        log_ratio[todo] = np.where(has0 & (cnt > 0), l0 - np.log(mean_v), np.nan)
        z[todo] = np.where(has0 & (cnt > 1) & (sd > 0), (l0 - mean_lv) / sd, np.nan)
    return log_ratio, z


def _estimation_frames(inp: _Inputs, spec: StudySpec, fit: dict[str, np.ndarray],
                       ok: np.ndarray, ids: pd.Index) -> tuple[_Lazy, _Lazy]:
    """Builders of ``est_ar`` and ``est_market`` (called on first access).

    The series are laid out series-major with NaN padding, so that each
    event's estimation window is one contiguous slice, gathered for a block
    of events at a time through a sliding-window view.
    """
    est0, est1 = spec.estimation
    width = est1 - est0 + 1
    columns = pd.Index(np.arange(est0, est1 + 1, dtype=np.int64), name="relative_day")
    model = inp.model
    n = inp.n
    n_sessions = inp.values.shape[0]
    pad_left, pad_right = max(0, -est0), max(0, est1)
    placed = np.flatnonzero(np.isin(inp.status, ("ok", "no_benchmark", "insufficient_history")))
    alpha, mean, b = fit["alpha"], fit["mean"], fit["b"]

    class _Series:
        """Columns of a (sessions x series) matrix, series-major and NaN-padded."""

        def __init__(self, matrix: np.ndarray, column_of_rows: np.ndarray) -> None:
            used, local = np.unique(column_of_rows, return_inverse=True)
            padded = np.full((len(used), pad_left + n_sessions + pad_right), np.nan)
            padded[:, pad_left:pad_left + n_sessions] = matrix[:, used].T
            self.view = sliding_window_view(padded, width, axis=1)
            self.local = local.reshape(-1)

        def windows(self, chunk: slice, rows: np.ndarray) -> np.ndarray:
            """Estimation windows (events x width) of ``rows[chunk]``."""
            starts = inp.position[rows[chunk]] + est0 + pad_left
            return self.view[self.local[chunk], starts]

    def market_series(rows: np.ndarray) -> _Series | None:
        if model in ("market", "market_adjusted"):
            return _Series(inp.bench, inp.bench_col[rows])
        if model == "ff3":
            market = (inp.factors[:, 0] + inp.factors[:, 3])[:, None]
            return _Series(market, np.zeros(len(rows), np.int64))
        return None

    def chunks(rows: np.ndarray):
        for c in range(0, len(rows), _EST_CHUNK):
            yield slice(c, c + _EST_CHUNK)

    def frame(values: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(values, index=ids, columns=columns, copy=False)

    def build_market() -> pd.DataFrame:
        out = np.full((n, width), np.nan)
        if model != "mean" and len(placed):
            market = market_series(placed)
            for chunk in chunks(placed):
                out[placed[chunk]] = market.windows(chunk, placed)
        return frame(out)

    def build_ar() -> pd.DataFrame:
        out = np.full((n, width), np.nan)
        rows = np.flatnonzero(ok)
        if len(rows) == 0:
            return frame(out)
        asset = _Series(inp.values, inp.sym_col[rows])
        market = market_series(rows) if model in ("market", "market_adjusted") else None
        fac = [_Series(inp.factors[:, j:j + 1], np.zeros(len(rows), np.int64))
               for j in range(4)] if model == "ff3" else []
        for chunk in chunks(rows):
            r = asset.windows(chunk, rows)
            here = rows[chunk]
            if model == "mean":
                r = r - mean[here, None]
            elif model == "market_adjusted":
                r = r - market.windows(chunk, rows)
            elif model == "market":
                r = r - (alpha[here, None] + b[here, 0:1] * market.windows(chunk, rows))
            else:
                f = [series.windows(chunk, rows) for series in fac]
                r = r - f[3] - (alpha[here, None] + sum(b[here, j:j + 1] * f[j] for j in range(3)))
            out[here] = r
        return frame(out)

    return _Lazy(build_ar), _Lazy(build_market)


def _assemble(inp: _Inputs, meta: dict, spec: StudySpec, fit: dict[str, np.ndarray],
              ok: np.ndarray, win: dict[str, np.ndarray], confounded: np.ndarray,
              duplicates: np.ndarray, volume: tuple[np.ndarray, np.ndarray]) -> EventPanel:
    ids: pd.Index = meta["ids"]
    grid: pd.DatetimeIndex = meta["grid"]
    n = inp.n
    placed = inp.position >= 0
    session_values = np.full(n, np.datetime64("NaT"), dtype=grid.dtype)
    if placed.any():
        session_values[placed] = grid.to_numpy()[inp.position[placed]]

    def obj(values: np.ndarray) -> pd.Series:
        # object dtype keeps None (pandas 3's str dtype would turn it into NaN)
        return pd.Series(values, index=ids, dtype=object, copy=False)

    betas = np.full((n, 3), np.nan)
    beta = np.full(n, np.nan)
    if inp.model == "ff3":
        betas = fit["b"]
    elif inp.model == "market":
        beta = fit["b"][:, 0]
    alpha = fit["alpha"] if inp.model in ("market", "ff3") else np.full(n, np.nan)
    events = pd.DataFrame(
        {
            "symbol": obj(meta["symbols"]),
            "session": session_values,
            "given_session": meta["given"].to_numpy(copy=True),
            "benchmark": obj(meta["bench_name"]),
            "status": obj(inp.status),
            "reason": obj(inp.reason),
            "n_est": fit["n_est"],
            "alpha": alpha,
            "beta": beta,
            "beta_mkt": np.ascontiguousarray(betas[:, 0]),
            "beta_smb": np.ascontiguousarray(betas[:, 1]),
            "beta_hml": np.ascontiguousarray(betas[:, 2]),
            "sigma": fit["sigma"],
            "confounded": confounded,
            "duplicates": duplicates,
            "abnormal_volume_log": volume[0],
            "abnormal_volume_z": volume[1],
        },
        index=ids,
        copy=False,
    )
    day0, day1 = spec.event_days
    event_cols = pd.Index(np.arange(day0, day1 + 1, dtype=np.int64), name="relative_day")

    def frame(values: np.ndarray) -> pd.DataFrame:
        # values is days x events: its transpose view is the frame's native block
        return pd.DataFrame(values.T, index=ids, columns=event_cols, copy=False)

    nw = len(spec.windows)
    window_tuples = np.empty(nw, dtype=object)
    window_tuples[:] = list(spec.windows)
    windows = pd.DataFrame(
        {
            "id": pd.Series(np.repeat(ids.to_numpy(dtype=object), nw), dtype=object, copy=False),
            "window": pd.Series(np.tile(window_tuples, n), dtype=object, copy=False),
            "start": np.tile(np.array([s for s, _ in spec.windows], dtype=np.int64), n),
            "end": np.tile(np.array([e for _, e in spec.windows], dtype=np.int64), n),
            **{key: win[key].reshape(-1) for key in
               ("raw", "benchmark", "car", "bhar", "t_stat", "n_obs", "complete")},
        },
        copy=False,
    )
    est_ar, est_market = _estimation_frames(inp, spec, fit, ok, ids)
    return EventPanel(
        spec=spec,
        events=events,
        event_ar=frame(fit["event_ar"]),
        event_var=frame(fit["event_var"]),
        est_ar=est_ar,
        event_market=frame(fit["event_market"]),
        est_market=est_market,
        windows=windows,
    )


def _stages(returns, events, spec, market, factors, volumes, clock=None):
    tick = clock or (lambda: 0.0)
    t0 = tick()
    inp, meta = _prepare(returns, events, spec, market, factors, volumes)
    t1 = tick()
    fit = _fit(inp, spec)
    ok = _finish_status(inp, spec, fit)
    win = _windows(spec, fit, ok, has_bench=spec.model != "mean")
    confounded, duplicates = _confounding(meta["symbols"], inp.sym_col, inp.position,
                                           spec.confound_span)
    volume = _abnormal_volume(inp, spec)
    t2 = tick()
    panel = _assemble(inp, meta, spec, fit, ok, win, confounded, duplicates, volume)
    t3 = tick()
    return panel, {"prepare": t1 - t0, "core": t2 - t1, "assemble": t3 - t2, "total": t3 - t0}


def run_events(
    returns: pd.DataFrame,
    events: pd.DataFrame,
    spec: StudySpec = StudySpec(),
    *,
    market: pd.DataFrame | pd.Series | None = None,
    factors: pd.DataFrame | None = None,
    volumes: pd.DataFrame | None = None,
) -> EventPanel:
    """Measure every event of ``events`` with one normal-return model, vectorised.

    Parameters
    ----------
    returns : pd.DataFrame
        Sessions x symbols simple returns, float, NaN where missing, on a naive,
        sorted, unique DatetimeIndex: the session grid of relative days.
    events : pd.DataFrame
        Columns ``id`` (unique), ``symbol``, ``session`` (naive Timestamp at
        midnight); optional ``benchmark`` (a column of ``market`` or a symbol
        of ``returns``). Other columns are ignored.
    spec : StudySpec
        Model, estimation window, event windows, min_obs, confound window.
    market : pd.Series or pd.DataFrame, optional
        Benchmark returns by session: one Series for every event, or a
        sessions x benchmarks frame chosen per event by ``events.benchmark``.
        Needed (or an ``events.benchmark`` column) by ``market`` and
        ``market_adjusted``; ignored by ``mean`` and ``ff3``.
    factors : pd.DataFrame, optional
        Columns ``mkt_rf``, ``smb``, ``hml``, ``rf`` (fractions) by session;
        required by ``ff3``.
    volumes : pd.DataFrame, optional
        Sessions x symbols share volumes, for the abnormal volume columns.

    Returns
    -------
    EventPanel
        See the module docstring for every convention.

    Raises
    ------
    ValueError
        A model lacking its required inputs.
    DataValidationError
        A frame breaking its contract (index, dtypes, inf, duplicated ids,
        an event session with a time of day).
    """
    if not isinstance(spec, StudySpec):
        raise TypeError(f"spec must be a StudySpec, got {type(spec).__name__}")
    panel, _ = _stages(returns, events, spec, market, factors, volumes)
    return panel


def _run_timed(returns, events, spec=StudySpec(), *, market=None, factors=None,
               volumes=None) -> tuple[EventPanel, dict[str, float]]:
    """:func:`run_events` with the seconds of each stage (for the benchmark).

    Stages: ``prepare`` (frames to arrays), ``core`` (the numpy maths: fits,
    ARs, variances, windows, confounding, volume) and ``assemble`` (arrays to
    the panel's frames; ``est_ar``/``est_market`` are built later, on access).
    """
    import time

    return _stages(returns, events, spec, market, factors, volumes, clock=time.perf_counter)


__all__ = ["MODELS", "N_PARAMS", "STATUSES", "FACTOR_COLUMNS", "FF3_BENCHMARK", "StudySpec",
           "EventPanel", "run_events"]
