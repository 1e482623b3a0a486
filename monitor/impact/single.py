"""Event-study maths: returns, abnormal returns, CARs and their statistics.

Pure numpy/pandas (scipy.stats for p-values); no I/O. Two levels:

* One event, one instrument: :func:`event_study` fits a normal-return model
  over an estimation window of sessions before the event and measures the
  abnormal return over event windows (raw, buy-and-hold abnormal, CAR,
  t-statistic). This is what the pipeline stores as
  :class:`monitor.models.EventReturn`.
* Many firms, one event date: :func:`market_model_abnormal` and
  :func:`brown_warner_1985` reproduce the cross-sectional test of the R
  package estudy2 (Brown and Warner, 1985).

Return series contract
----------------------
A return series is a ``pd.Series`` of dtype float64, indexed by a naive
``pd.DatetimeIndex`` of session labels (midnight, no time zone), sorted
strictly increasing, with NaN where there is no return and no infinite value
(:func:`validate_returns`). For :func:`event_study` the index is the full grid
of the instrument's sessions up to the last finished one, so that *relative
day k* is simply the session k positions after the event session: relative
days count trading sessions, never calendar days.

Returns are simple returns as fractions (``-0.0565`` is -5.65 %).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from scipy import special

from monitor.errors import DataValidationError

log = logging.getLogger(__name__)

#: Normal-return models understood by :func:`event_study`.
MODELS: tuple[str, ...] = ("market", "market_adjusted", "mean")
#: Event windows (first, last relative day, inclusive) measured by default.
DEFAULT_WINDOWS: tuple[tuple[int, int], ...] = ((0, 0), (-1, 1), (0, 5))
#: Estimation window (first, last relative day, inclusive) by default.
DEFAULT_ESTIMATION: tuple[int, int] = (-250, -11)
#: Fewest usable estimation returns for a fit, by default.
DEFAULT_MIN_OBS = 120

#: Parameters each model estimates; the residual degrees of freedom are n minus
#: this (at least 1: a standard deviation with ddof=1 has n - 1).
_N_PARAMS = {"market": 2, "market_adjusted": 1, "mean": 1}


# --------------------------------------------------------------------------- #
# Contract checks and returns
# --------------------------------------------------------------------------- #


def _check_session_index(index: pd.Index, name: str) -> None:
    """Raise DataValidationError unless ``index`` is naive, normalised, strictly increasing."""
    if not isinstance(index, pd.DatetimeIndex):
        raise DataValidationError(
            f"{name} must be indexed by a pandas DatetimeIndex of session labels, "
            f"got {type(index).__name__}"
        )
    if index.tz is not None:
        raise DataValidationError(
            f"{name} index must hold naive session labels, got time zone {index.tz}; "
            "take the session date of each timestamp and drop the zone"
        )
    if index.hasnans:
        raise DataValidationError(f"{name} index contains NaT; every row needs a session label")
    off_midnight = index != index.normalize()
    if off_midnight.any():
        raise DataValidationError(
            f"{name} index must be session labels at midnight, got {index[off_midnight][0]}"
        )
    if not index.is_unique:
        raise DataValidationError(
            f"{name} index has duplicated sessions, first {index[index.duplicated()][0].date()}"
        )
    if not index.is_monotonic_increasing:
        i = int(np.flatnonzero(np.diff(index.asi8) < 0)[0])
        raise DataValidationError(
            f"{name} index must be sorted increasing: {index[i + 1].date()} "
            f"comes after {index[i].date()}"
        )


def _check_float_values(values: pd.Series, name: str) -> None:
    """Raise DataValidationError unless ``values`` is numpy float and has no +-inf."""
    if not (isinstance(values.dtype, np.dtype) and values.dtype.kind == "f"):
        raise DataValidationError(f"{name} must have a numpy float dtype, got {values.dtype}")
    infinite = np.isinf(values.to_numpy())
    if infinite.any():
        raise DataValidationError(
            f"{name} has {int(infinite.sum())} infinite value(s), first on "
            f"{values.index[infinite][0]}; returns must be finite or NaN"
        )


def validate_returns(returns: pd.Series, name: str = "returns") -> pd.Series:
    """Check that a series follows the return series contract.

    Parameters
    ----------
    returns : pd.Series
        Series to check. Expected: float dtype (numpy ``float64`` or
        ``float32``), NaN where there is no value, no ``+-inf``; index a
        ``pd.DatetimeIndex`` of naive session labels normalised to midnight,
        sorted strictly increasing (hence unique).
    name : str, default "returns"
        What the series is, for the error message (``"asset"``, ``"closes"``).

    Returns
    -------
    pd.Series
        ``returns`` itself, unchanged.

    Raises
    ------
    DataValidationError
        If ``returns`` is not a Series or breaks any rule above; the message
        names ``name`` and the first offending label.
    """
    if not isinstance(returns, pd.Series):
        raise DataValidationError(f"{name} must be a pandas Series, got {type(returns).__name__}")
    _check_session_index(returns.index, name)
    _check_float_values(returns, name)
    return returns


def simple_returns(closes: pd.Series) -> pd.Series:
    """Session-to-session simple returns of a close price series.

    Parameters
    ----------
    closes : pd.Series
        Closes, float dtype, strictly positive, NaN where there is no close.
        Index: ``pd.DatetimeIndex`` of naive session labels (midnight),
        sorted strictly increasing: the instrument's session grid.

    Returns
    -------
    pd.Series
        float64, same index and name as ``closes``:
        ``r_t = c_t / c_{t-1} - 1`` where ``c_{t-1}`` is the close of the
        previous element of the index. NaN where either close is missing, so a
        missing close makes the return of its session and of the next session
        NaN (no return ever spans two sessions). The first element is NaN.

    Raises
    ------
    DataValidationError
        If ``closes`` breaks the contract of :func:`validate_returns` or has a
        close that is zero or negative.
    """
    validate_returns(closes, "closes")
    non_positive = closes.to_numpy() <= 0
    if non_positive.any():
        raise DataValidationError(
            f"closes must be positive, got {closes[non_positive].iloc[0]} on "
            f"{closes.index[non_positive][0].date()}"
        )
    return (closes / closes.shift(1) - 1.0).astype("float64")


# --------------------------------------------------------------------------- #
# Single-event study
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class ModelFit:
    """The normal-return model fitted over an event's estimation window.

    Attributes
    ----------
    model : str
        One of :data:`MODELS`.
    alpha, beta : float or None
        Market-model intercept and slope (``None`` for the other models).
    sigma : float
        Residual standard deviation over the estimation window:
        ``sqrt(SSR / (n - 2))`` for ``market``, ``std(R - Rm, ddof=1)`` for
        ``market_adjusted``, ``std(R, ddof=1)`` for ``mean``.
    n_obs : int
        Estimation returns used (sessions where every series the model needs
        has a return).
    estimation_start, estimation_end : pd.Timestamp or None
        Sessions of the first and last estimation return used.
    """

    model: str
    alpha: float | None
    beta: float | None
    sigma: float
    n_obs: int
    estimation_start: pd.Timestamp | None
    estimation_end: pd.Timestamp | None


@dataclass(frozen=True)
class WindowResult:
    """The reaction over one event window ``(first, last)`` relative day, inclusive.

    All return figures are over the same days: the window's days that have
    happened and have an abnormal return. They are ``None`` when there is no
    such day (then ``n_obs`` is 0). When the model could not be fitted
    (insufficient history) the abnormal figures are ``None`` and ``n_obs`` is
    0, but ``raw_return`` (and ``benchmark_return`` where the benchmark has
    every day) still give the move over the window's days with a return.

    Attributes
    ----------
    window : tuple of int
        ``(first, last)`` relative day.
    raw_return : float or None
        Compounded asset return, ``prod(1 + R) - 1``.
    benchmark_return : float or None
        Compounded benchmark return, ``prod(1 + Rm) - 1`` (``None`` for ``mean``).
    abnormal_return : float or None
        Buy-and-hold abnormal return, ``prod(1 + R) - prod(1 + E[R])``.
    car : float or None
        Cumulative abnormal return, the sum of the daily abnormal returns.
    t_stat : float or None
        ``car / (sigma * sqrt(n_obs))``; ``None`` if ``sigma`` is 0.
    p_value : float or None
        Two-sided, Student t with the estimation degrees of freedom
        (``n - 2`` for ``market``, ``n - 1`` otherwise).
    n_obs : int
        Days of the window with an abnormal return.
    complete : bool
        Whether the window's last day is on or before the last session of the
        index (the whole window has happened).
    """

    window: tuple[int, int]
    raw_return: float | None
    benchmark_return: float | None
    abnormal_return: float | None
    car: float | None
    t_stat: float | None
    p_value: float | None
    n_obs: int
    complete: bool


@dataclass(frozen=True)
class EventStudyResult:
    """Everything :func:`event_study` measured for one event.

    Attributes
    ----------
    event_session : pd.Timestamp
        Naive session label of relative day 0.
    model : str
        One of :data:`MODELS`.
    status : str
        ``"ok"``; ``"insufficient_history"`` (too few estimation returns:
        ``fit`` is None and every window value is None); or
        ``"no_event_data"`` (the fit is there but no window has a return yet).
    reason : str or None
        A sentence explaining a status other than ``"ok"``.
    fit : ModelFit or None
        The fitted normal-return model.
    abnormal : pd.Series
        Daily abnormal returns, float64, named ``"abnormal_return"``, indexed
        by relative day (int64 index named ``"relative_day"``), for the days
        from the earliest window start to the latest window end that have
        happened and have an abnormal return (days without one are left out).
        Empty unless ``status`` is ``"ok"``.
    windows : tuple of WindowResult
        One per requested window, in the order requested.
    """

    event_session: pd.Timestamp
    model: str
    status: str
    reason: str | None
    fit: ModelFit | None
    abnormal: pd.Series
    windows: tuple[WindowResult, ...]


def _check_span(span: tuple[int, int], what: str) -> tuple[int, int]:
    first, last = (int(span[0]), int(span[1]))
    if first > last:
        raise ValueError(f"{what} {span} ends before it starts")
    return first, last


def _as_session(value: pd.Timestamp | date | str) -> pd.Timestamp:
    session = pd.Timestamp(value)
    if session.tz is not None or session != session.normalize():
        raise DataValidationError(
            f"event_session must be a naive session label at midnight, got {session}"
        )
    return session


def _empty_abnormal() -> pd.Series:
    return pd.Series(
        [], index=pd.Index([], dtype="int64", name="relative_day"),
        dtype="float64", name="abnormal_return",
    )


def _usable(r: np.ndarray, rm: np.ndarray | None, positions: np.ndarray) -> np.ndarray:
    """The positions among ``positions`` where ``r`` (and ``rm``, if given) have a value."""
    ok = ~np.isnan(r[positions])
    if rm is not None:
        ok &= ~np.isnan(rm[positions])
    return positions[ok]


def _ols(y: np.ndarray, x: np.ndarray) -> tuple[float, float, float]:
    """Intercept, slope and residual sum of squares of the OLS fit ``y = a + b x``."""
    dx = x - x.mean()
    sxx = float(dx @ dx)
    if sxx == 0.0:
        raise DataValidationError(
            "benchmark returns are constant over the estimation sessions: "
            "the market model's beta is undefined"
        )
    beta = float(dx @ (y - y.mean())) / sxx
    alpha = float(y.mean()) - beta * float(x.mean())
    resid = y - alpha - beta * x
    return alpha, beta, float(resid @ resid)


def event_study(
    asset: pd.Series,
    benchmark: pd.Series | None,
    event_session: pd.Timestamp | date | str,
    *,
    model: str = "market",
    estimation: tuple[int, int] = DEFAULT_ESTIMATION,
    windows: Sequence[tuple[int, int]] = DEFAULT_WINDOWS,
    min_obs: int = DEFAULT_MIN_OBS,
) -> EventStudyResult:
    """Abnormal returns of one instrument around one event session.

    Parameters
    ----------
    asset : pd.Series
        Simple returns of the instrument (see :func:`validate_returns`),
        float64, NaN where there is no return. Index: naive
        ``pd.DatetimeIndex`` of session labels, the full grid of the
        instrument's sessions up to the last session that has finished.
        Relative day ``k`` is the element ``k`` positions after
        ``event_session`` in this index.
    benchmark : pd.Series or None
        Simple returns of the benchmark on exactly the same index as
        ``asset``. Required by ``market`` and ``market_adjusted``; checked but
        not used by ``mean``.
    event_session : pd.Timestamp
        Session of relative day 0 (naive, midnight; a ``datetime.date`` or an
        ISO string is accepted too). Either an element of the index, or later
        than its last element: the event's session has not finished yet. In
        that case the event is taken to be the session right after the last
        one for the estimation window, and no window has started (every
        window is incomplete with ``n_obs`` 0).
    model : {"market", "market_adjusted", "mean"}, default "market"
        Normal-return model. ``market``: OLS of asset on benchmark over the
        estimation sessions, ``AR = R - (alpha + beta * Rm)``.
        ``market_adjusted``: ``AR = R - Rm``. ``mean``:
        ``AR = R - mean(R over the estimation sessions)``.
    estimation : tuple of int, default (-250, -11)
        First and last relative day (inclusive) of the estimation window. It
        may reach before the start of the index; only sessions where every
        series the model needs has a return count.
    windows : sequence of (int, int), default ((0, 0), (-1, 1), (0, 5))
        Event windows, first and last relative day inclusive. Days after the
        end of the index have not happened and contribute nothing; days
        without a return are skipped.
    min_obs : int, default 120
        Fewest usable estimation returns; below it the status is
        ``"insufficient_history"``. At least 3 for ``market``, 2 otherwise.

    Returns
    -------
    EventStudyResult
        The fit, the daily abnormal returns by relative day and one
        :class:`WindowResult` per window.

    Raises
    ------
    ValueError
        Unknown ``model``, a model that needs a benchmark without one, a
        window or estimation window that ends before it starts, no window,
        or ``min_obs`` too small for the model.
    DataValidationError
        A series breaks the return contract, the benchmark's index differs
        from the asset's, ``event_session`` lies before the first session or
        between two sessions of the index, or the benchmark is constant over
        the estimation window (``market``).
    """
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r}; expected one of {', '.join(MODELS)}")
    if model != "mean" and benchmark is None:
        raise ValueError(f"model {model!r} needs a benchmark; use model 'mean' without one")
    est_first, est_last = _check_span(estimation, "estimation window")
    spans = tuple(_check_span(w, "window") for w in windows)
    if not spans:
        raise ValueError("no event window given")
    min_needed = _N_PARAMS[model] + 1
    if min_obs < min_needed:
        raise ValueError(
            f"min_obs must be at least {min_needed} for model {model!r}, got {min_obs}"
        )

    validate_returns(asset, "asset")
    index = asset.index
    if len(index) == 0:
        raise DataValidationError("asset has no sessions")
    if benchmark is not None:
        validate_returns(benchmark, "benchmark")
        if not benchmark.index.equals(index):
            raise DataValidationError(
                "benchmark must be on the same session index as asset; reindex both "
                "on the instrument's session grid"
            )
    rm = None if model == "mean" or benchmark is None else benchmark.to_numpy(dtype="float64")
    r = asset.to_numpy(dtype="float64")

    event = _as_session(event_session)
    last = len(index) - 1
    if event < index[0]:
        raise DataValidationError(
            f"event session {event.date()} is before the first session {index[0].date()} "
            "of the returns"
        )
    started = event <= index[-1]
    if started:
        pos = int(index.searchsorted(event))
        if index[pos] != event:
            raise DataValidationError(
                f"event session {event.date()} is not a session of the returns index"
            )
    else:
        pos = last + 1

    est_positions = np.arange(max(pos + est_first, 0), min(pos + est_last, last) + 1)
    used = _usable(r, rm, est_positions)

    def no_data(s: int, e: int) -> WindowResult:
        complete = started and pos + e <= last
        return WindowResult((s, e), None, None, None, None, None, None, 0, complete)

    def raw_only(s: int, e: int) -> WindowResult:
        # Without a model the raw (and benchmark) move is still worth showing.
        days = np.arange(max(pos + s, 0), min(pos + e, last) + 1) if started else np.arange(0)
        days = days[~np.isnan(r[days])]
        if len(days) == 0:
            return no_data(s, e)
        bench = None
        if rm is not None and not np.isnan(rm[days]).any():
            bench = float(np.prod(1.0 + rm[days]) - 1.0)
        raw = float(np.prod(1.0 + r[days]) - 1.0)
        return WindowResult((s, e), raw, bench, None, None, None, None, 0, pos + e <= last)

    if len(used) < min_obs:
        reason = (
            f"insufficient history: {len(used)} estimation returns in sessions "
            f"[{est_first},{est_last}], need {min_obs}"
        )
        return EventStudyResult(event, model, "insufficient_history", reason, None,
                                _empty_abnormal(), tuple(raw_only(s, e) for s, e in spans))

    alpha: float | None = None
    beta: float | None = None
    if model == "market":
        assert rm is not None
        alpha, beta, ssr = _ols(r[used], rm[used])
        sigma = math.sqrt(ssr / (len(used) - 2))
        expected = alpha + beta * rm
    elif model == "market_adjusted":
        assert rm is not None
        sigma = float(np.std(r[used] - rm[used], ddof=1))
        expected = rm
    else:
        sigma = float(np.std(r[used], ddof=1))
        expected = np.full(len(r), float(r[used].mean()))
    fit = ModelFit(
        model=model,
        alpha=alpha,
        beta=beta,
        sigma=sigma,
        n_obs=len(used),
        estimation_start=index[used[0]],
        estimation_end=index[used[-1]],
    )
    dof = len(used) - _N_PARAMS[model]
    ar = r - expected

    results = []
    for s, e in spans:
        days = np.arange(max(pos + s, 0), min(pos + e, last) + 1) if started else np.arange(0)
        days = days[~np.isnan(ar[days])]
        k = len(days)
        if k == 0:
            results.append(no_data(s, e))
            continue
        growth = float(np.prod(1.0 + r[days]))
        car = float(ar[days].sum())
        t_stat = car / (sigma * math.sqrt(k)) if sigma > 0 else None
        results.append(
            WindowResult(
                window=(s, e),
                raw_return=growth - 1.0,
                benchmark_return=None if rm is None else float(np.prod(1.0 + rm[days]) - 1.0),
                abnormal_return=growth - float(np.prod(1.0 + expected[days])),
                car=car,
                t_stat=t_stat,
                p_value=None if t_stat is None else float(2.0 * special.stdtr(dof, -abs(t_stat))),
                n_obs=k,
                complete=pos + e <= last,
            )
        )

    first_day = min(s for s, _ in spans)
    last_day = max(e for _, e in spans)
    if not any(w.n_obs for w in results):
        if started:
            reason = (
                f"no event data: no return in relative days {first_day}..{last_day} "
                f"around {event.date()}"
            )
        else:
            reason = (
                f"no event data: event session {event.date()} is after the last session "
                f"{index[-1].date()}; no window has started"
            )
        return EventStudyResult(event, model, "no_event_data", reason, fit,
                                _empty_abnormal(), tuple(results))

    days = np.arange(max(pos + first_day, 0), min(pos + last_day, last) + 1)
    days = days[~np.isnan(ar[days])]
    abnormal = pd.Series(
        ar[days],
        index=pd.Index(days - pos, dtype="int64", name="relative_day"),
        dtype="float64",
        name="abnormal_return",
    )
    return EventStudyResult(event, model, "ok", None, fit, abnormal, tuple(results))


# --------------------------------------------------------------------------- #
# Cross-sectional tests (estudy2)
# --------------------------------------------------------------------------- #


def market_model_abnormal(
    asset_returns: pd.DataFrame,
    market: pd.Series,
    estimation: slice,
    event: slice,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Single-index market-model abnormal returns of several firms.

    Parameters
    ----------
    asset_returns : pd.DataFrame
        Returns, one float column per firm, NaN where missing. Index: naive
        ``pd.DatetimeIndex`` of dates, sorted strictly increasing.
    market : pd.Series
        Market returns, float, on the same index.
    estimation, event : slice
        Date label slices of the index, both ends inclusive
        (``slice("2019-04-01", "2020-03-13")``).

    Returns
    -------
    estimation_ar, event_ar : pd.DataFrame
        Abnormal returns ``R - (alpha + beta * Rm)`` over the ``estimation``
        and ``event`` rows, same columns as ``asset_returns``, float64, NaN
        where the firm or the market has no return. For each firm, alpha and
        beta are the OLS fit on the estimation rows where both exist; a firm
        with fewer than 3 such rows gets an all-NaN column (logged).

    Raises
    ------
    DataValidationError
        If the index or values break the contract or ``market``'s index
        differs from ``asset_returns``'.
    """
    if not isinstance(asset_returns, pd.DataFrame):
        raise DataValidationError(
            f"asset_returns must be a pandas DataFrame, got {type(asset_returns).__name__}"
        )
    _check_session_index(asset_returns.index, "asset_returns")
    for column in asset_returns.columns:
        _check_float_values(asset_returns[column], f"asset_returns[{column!r}]")
    validate_returns(market, "market")
    if not market.index.equals(asset_returns.index):
        raise DataValidationError("market must be on the same date index as asset_returns")

    est_market = market.loc[estimation].to_numpy(dtype="float64")
    abnormal = {}
    for column in asset_returns.columns:
        est_asset = asset_returns[column].loc[estimation].to_numpy(dtype="float64")
        used = _usable(est_asset, est_market, np.arange(len(est_asset)))
        if len(used) < 3:
            log.warning("market_model_abnormal: %s has %d estimation returns, left out",
                        column, len(used))
            abnormal[column] = pd.Series(np.nan, index=asset_returns.index)
            continue
        alpha, beta, _ = _ols(est_asset[used], est_market[used])
        abnormal[column] = asset_returns[column] - (alpha + beta * market)
    ar = pd.DataFrame(abnormal, index=asset_returns.index, columns=asset_returns.columns,
                      dtype="float64")
    return ar.loc[estimation], ar.loc[event]


def brown_warner_1985(estimation_ar: pd.DataFrame, event_ar: pd.DataFrame) -> pd.DataFrame:
    """Brown and Warner (1985) cross-sectional test, as estudy2's ``brown.warner.1985``.

    Parameters
    ----------
    estimation_ar : pd.DataFrame
        Abnormal returns over the estimation window: dates x firms, float,
        NaN where a firm has none (from :func:`market_model_abnormal`).
    event_ar : pd.DataFrame
        Abnormal returns over the event days, same layout.

    Returns
    -------
    pd.DataFrame
        Indexed like ``event_ar``, columns:

        - ``mean_ar`` (float64): mean abnormal return of the firms with one
          that day;
        - ``n`` (int64): number of those firms;
        - ``statistic`` (float64): ``mean_ar`` over the standard deviation
          (ddof=1) of the daily cross-sectional mean abnormal return over the
          estimation window (days with no firm left out);
        - ``p_value`` (float64): two-sided, standard normal.

        Days with no firm have NaN ``mean_ar``, ``statistic`` and ``p_value``.
    """
    sd = float(estimation_ar.mean(axis=1).std(ddof=1))
    mean_ar = event_ar.mean(axis=1).astype("float64")
    statistic = mean_ar / sd
    return pd.DataFrame(
        {
            "mean_ar": mean_ar,
            "n": event_ar.count(axis=1).astype("int64"),
            "statistic": statistic,
            "p_value": pd.Series(2.0 * special.ndtr(-statistic.abs().to_numpy()), index=event_ar.index),
        },
        index=event_ar.index,
    )
