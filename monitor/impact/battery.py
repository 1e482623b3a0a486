"""Cross-event test battery: is the average abnormal return different from zero?

Pure numpy/scipy on plain arrays, no I/O, so that it works with any engine:
rows are events, columns are days.

* :func:`battery` tests the cumulative abnormal return over a window of event
  days (one row per test);
* :func:`battery_by_day` runs it on each event day alone (one row per day, one
  column per test, like the tables of the R package estudy2);
* :func:`from_panel` reads an :class:`~monitor.impact.engine.EventPanel`;
* :func:`forecast_error_variance` and :func:`mean_cross_correlation` are the
  building blocks of the Patell / BMP / Kolari-Pynnonen statistics.

Notation
--------
Event ``i = 1..N``; ``e_it`` its estimation residuals on the ``T_i`` estimation
days where it has one (``est_ar``, NaN elsewhere); ``A_it`` its abnormal
returns on the event days (``event_ar``); ``W`` the window (``days``) of ``L``
event days; ``CAR_i = sum_{t in W} A_it``; ``CAAR = mean_i CAR_i``;
``AAR_t = mean_i A_it``. ``sd`` is the sample standard deviation (ddof=1).
``n_params`` is the number of parameters of the normal-return model that
produced the residuals (2 for the market model, 1 for the mean or
market-adjusted model).

Statistics (``name`` in :data:`TESTS`; p-values are two-sided)
----------------------------------------------------------------
``caar_t``
    Cross-sectional t test (Boehmer, Musumeci and Poulsen 1991, "ordinary
    cross-sectional"; estudy2 ``t_test``):
    ``t = CAAR / (sd_i(CAR_i) / sqrt(N))``, Student t with ``N - 1`` df.
``brown_warner_1980``
    Brown and Warner (1980), independence: ``s_i^2 = var(e_i)`` (ddof=1),
    ``t = CAAR / (sqrt(L) * sqrt(sum_i s_i^2) / N)``, Student t with
    ``mean_i(T_i) - 1`` df.
``brown_warner_1985``
    Brown and Warner (1985), crude dependence adjustment: the standard
    deviation ``S`` (ddof=1) of the daily cross-sectional mean residual
    ``mean_i e_it`` over the estimation days that have one (``D`` days),
    ``t = CAAR / (sqrt(L) * S)``, Student t with ``D - 1`` df. The statistic
    is that of :func:`monitor.impact.single.brown_warner_1985`, which gives
    the normal-limit p-value instead.
``lamb``
    Lamb (1995): the crude dependence adjustment with the market model's
    prediction-error correction of the portfolio,
    ``t = CAAR / (S * sqrt(sum_{t in W} (1 + 1/T + (Rm_t - Rm_bar)^2 / SSm)))``
    with ``S`` as in Brown-Warner 1985, ``Rm`` the common benchmark (the mean
    across events of ``event_market`` / ``est_market``, column by column),
    ``Rm_bar`` and ``SSm = sum (Rm - Rm_bar)^2`` over the estimation days;
    normal. Needs ``event_market`` and ``est_market``.
``patell``
    Patell (1976) standardized residuals: ``SCAR_i = CAR_i / sqrt(sum_{t in W}
    v_it)`` with ``v_it`` the forecast-error variance (``event_var``), and
    ``Z = sum_i SCAR_i / sqrt(sum_i k_i)`` where ``k_i = d_i / (d_i - 2)``,
    ``d_i = T_i - n_params``, is the variance of a t-distributed
    standardized residual; normal. For one day this is Patell's ``Z``; over a
    window it is the ``J2`` of Campbell, Lo and MacKinlay (1997, ch. 4)
    with the covariances of the daily forecast errors left out.
``bmp``
    Boehmer, Musumeci and Poulsen (1991) standardized cross-sectional test:
    ``t = mean_i SCAR_i / (sd_i(SCAR_i) / sqrt(N))``, Student t, ``N - 1`` df.
``kolari_pynnonen``
    Kolari and Pynnonen (2010) adjusted BMP:
    ``t_adj = t_bmp * sqrt((1 - r) / (1 + (N - 1) r))`` with ``r`` the mean
    pairwise correlation of the estimation residuals
    (:func:`mean_cross_correlation`); Student t, ``N - 1`` df. The columns of
    ``est_ar`` must be aligned in calendar time for ``r`` to mean anything
    (events on the same date, as in estudy2); for events on unrelated dates
    ``r`` is near 0 and the adjustment near 1.
``sign``
    Binomial sign test: ``w`` = number of events with ``CAR_i > 0`` (zero
    counts as not positive), ``Z = (w - N/2) / sqrt(N/4)``; normal.
``generalized_sign``
    Cowan (1992): ``Z = (w - N p) / sqrt(N p (1 - p))`` with ``p`` the
    fraction of positive estimation residuals; normal. Cowan's ``p`` is the
    mean over events of each event's fraction.
``corrado_sign``
    Corrado and Zivney (1992) sign test: over each event's combined period
    (estimation days, then all event days) ``G_it = sign(x_it - median_i)``;
    daily ``Z_t = sum_i G_it / sqrt(N_t)``; ``S_G = sqrt(sum_t Z_t^2 / D)``
    over the ``D`` days of the combined period that have an observation;
    ``Z = sum_{t in W} Z_t / (sqrt(L) S_G)``; normal.
``rank``
    Corrado (1989) rank test: ``K_it`` the rank of ``x_it`` among the event's
    ``M_i`` observations of the combined period (ties: average rank);
    ``Kbar_t = mean_i (K_it - (M_i + 1)/2)`` over the ``N_t`` events with an
    observation that day; ``S_K = sqrt(sum_t Kbar_t^2 / D)``;
    ``Z = sum_{t in W} Kbar_t / (sqrt(L) S_K)`` (the window form is Campbell
    and Wasley 1993); normal.
``modified_rank``
    Corrado and Zivney (1992) standardized ranks ``U_it = K_it / (M_i + 1)``,
    robust to missing returns: daily ``Z_t = sum_i (U_it - 1/2) / sqrt(N_t)``,
    ``S_U = sqrt(sum_t Z_t^2 / D)``, ``Z = sum_{t in W} Z_t / (sqrt(L) S_U)``;
    normal.
``wilcoxon``
    Wilcoxon (1945) signed-rank test on the ``CAR_i`` (zeros dropped, ties:
    average rank). The statistic is ``W+``, the sum of the ranks of ``|CAR_i|``
    over the positive ``CAR_i`` (as estudy2); the p-value is
    ``scipy.stats.wilcoxon``'s (exact for small samples without ties).

Forecast-error variance ``v_it`` (Patell, BMP, Kolari-Pynnonen)
---------------------------------------------------------------
``event_var`` if given. Otherwise, when both ``event_market`` and
``est_market`` are given, the single-index OLS prediction-error variance
(:func:`forecast_error_variance`)
``v_it = s_i^2 (1 + 1/T_i + (Rm_it - Rm_bar_i)^2 / sum_tau (Rm_i,tau - Rm_bar_i)^2)``.
Otherwise ``v_it = s_i^2``, no prediction-error correction. In the textbook
convention ``s_i^2 = sum_tau (e_i,tau - e_bar_i)^2 / (T_i - n_params)``
(``SSR / (T - 2)`` for the market model: OLS residuals have mean 0).

Missing values
--------------
An event is used by every statistic, or by none: it must have an abnormal
return on every day of the window (and a finite, positive ``v_it`` there),
and at least ``n_params + 3`` estimation residuals (so that ``d_i > 2``) of
non-zero variance. Other events are left out of everything, estimation-side
quantities included, and the ``note`` says how many. Missing estimation
residuals are simply skipped (each event uses its own ``T_i`` days).
:func:`battery_by_day` applies the rule day by day, so a day uses the events
that have a return that day. ``n`` is the number of events used.

Conventions: ``"textbook"`` and ``"estudy2"``
---------------------------------------------
``convention="estudy2"`` reproduces estudy2 0.10 (``parametric_tests`` and
``nonparametric_tests``, R package by Rudnytskyi) where it departs from the
published definitions above; :func:`battery_by_day` then matches the tables
of the estudy2 vignette to 6 decimals for all 12 statistics it prints. The
differences, and why we keep the textbook form as the default:

1. ``s_i^2`` (Patell, BMP, KP) is ``var(e_i)`` with ddof=1, i.e.
   ``SSR / (T_i - 1)``, where the market model's unbiased estimator divides by
   ``T_i - 2``; and ``k_i = (T_i - 2) / (T_i - 4)`` whatever ``n_params``.
2. The prediction-error correction takes ``Rm_bar`` and ``SSm`` over every
   estimation day on which the benchmark has a return, including days on
   which the firm has none (before an IPO, say), whereas the OLS variance
   formula needs the firm's own fitting sample (textbook: the days where both
   ``est_ar`` and ``est_market`` exist). With complete data they agree.
3. Lamb: ``1/T`` uses the mean ``T_i`` and ``Rm_bar``, ``SSm`` every day with a
   benchmark return; textbook: the ``D`` days on which the portfolio has a
   residual.
4. Generalized sign: ``p`` is pooled over all estimation residuals (firms
   with more days weigh more), Cowan's is the mean of the firms' fractions.
5. Rank, modified rank and Corrado sign: the daily sums are computed as the
   mean over the events present times the number of events (R's
   ``rowMeans(x, na.rm = TRUE) * ncol(x)``), which inflates the days on which
   some events have no observation; and ``D`` is the mean number of
   observations per event instead of the number of days. Both change the
   statistics as soon as some estimation residuals are missing (in the
   vignette ZM and UBER lack 13 and 28 days), so the textbook values differ
   from the vignette in the second decimal.

Not reproduced from estudy2: its significance stars use other reference
distributions in places (Brown-Warner with ``mean(T_i) - 1`` df; Wilcoxon
with one-sided upper and two-sided lower critical values), and where some
events miss an *event* day estudy2 keeps them in the estimation-side
quantities and scales the day sums by ``N / N_t``; here such events are left
out (rule above), which is the textbook treatment and does not arise in the
vignette.

References
----------
Boehmer E., Musumeci J., Poulsen A.B. (1991), JFE 30(2):253-272.
Brown S.J., Warner J.B. (1980), JFE 8:205-258; (1985), JFE 14:3-31.
Campbell C.J., Wasley C.E. (1993), JFE 33:73-92.
Campbell J.Y., Lo A.W., MacKinlay A.C. (1997), The Econometrics of Financial
Markets, ch. 4.
Corrado C.J. (1989), JFE 23:385-395.
Corrado C.J., Zivney T.L. (1992), JFQA 27(3):465-478.
Cowan A.R. (1992), Review of Quantitative Finance and Accounting 2:343-358.
Kolari J.W., Pynnonen S. (2010), Review of Financial Studies 23(11):3996-4025.
Lamb R.P. (1995), Journal of Risk and Insurance 62(1):111-123.
Patell J.M. (1976), Journal of Accounting Research 14(2):246-276.
Wilcoxon F. (1945), Biometrics Bulletin 1(6):80-83.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

#: Statistics of the battery, in the order they are reported.
TESTS: tuple[str, ...] = (
    "caar_t",
    "brown_warner_1980",
    "brown_warner_1985",
    "lamb",
    "patell",
    "bmp",
    "kolari_pynnonen",
    "sign",
    "generalized_sign",
    "corrado_sign",
    "rank",
    "modified_rank",
    "wilcoxon",
)

#: Conventions understood by the battery (see the module docstring).
CONVENTIONS: tuple[str, ...] = ("textbook", "estudy2")

#: estudy2's column name of each statistic it prints -> the battery's test name.
ESTUDY2_COLUMNS: dict[str, str] = {
    "bw_1980_stat": "brown_warner_1980",
    "bw_1985_stat": "brown_warner_1985",
    "t_test_stat": "caar_t",
    "pt_stat": "patell",
    "bh_stat": "bmp",
    "lmb_stat": "lamb",
    "sign_stat": "sign",
    "gsign_stat": "generalized_sign",
    "csign_stat": "corrado_sign",
    "rank_stat": "rank",
    "mrank_stat": "modified_rank",
    "wlcx_stat": "wilcoxon",
}

_COLUMNS = ("name", "statistic", "p_value", "n", "note")

#: Parameters of the engine's normal-return models (``EventPanel.spec.model``).
_MODEL_PARAMS = {"market": 2, "market_adjusted": 1, "mean": 1, "ff3": 4}


# --------------------------------------------------------------------------- #
# Small helpers
# --------------------------------------------------------------------------- #


def _nanmean(x: np.ndarray, **kwargs: Any) -> np.ndarray:
    """``np.nanmean`` giving NaN for an all-NaN slice without a warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(x, **kwargs)


def _p_normal(z: float) -> float:
    return float(2.0 * special.ndtr(-abs(z)))


def _p_student(t: float, df: float) -> float:
    if not df > 0:
        return math.nan
    return float(2.0 * special.stdtr(df, -abs(t)))


def _finite_or_nan(x: float) -> float:
    x = float(x)
    return x if math.isfinite(x) else math.nan


def _as_matrix(values: Any, name: str) -> np.ndarray:
    array = np.asarray(values, dtype="float64")
    if array.ndim != 2:
        raise ValueError(f"{name} must be 2-D (events x days), got {array.ndim}-D")
    if np.isinf(array).any():
        raise ValueError(f"{name} has infinite values; use NaN for missing")
    return array


def _check_convention(convention: str) -> None:
    if convention not in CONVENTIONS:
        raise ValueError(f"unknown convention {convention!r}; expected one of {CONVENTIONS}")


def _check_tests(tests: Sequence[str] | None) -> tuple[str, ...]:
    if tests is None:
        return TESTS
    if isinstance(tests, str):
        tests = (tests,)
    unknown = [t for t in tests if t not in TESTS]
    if unknown:
        raise ValueError(f"unknown test(s) {unknown}; expected names from {TESTS}")
    return tuple(tests)


def _window_positions(days: slice | Sequence[int] | None, n_days: int) -> np.ndarray:
    if days is None:
        positions = np.arange(n_days)
    elif isinstance(days, slice):
        positions = np.arange(n_days)[days]
    else:
        positions = np.asarray(list(days), dtype="int64").reshape(-1)
        if len(positions) and (positions.min() < 0 or positions.max() >= n_days):
            raise ValueError(f"days {positions.tolist()} out of range for {n_days} event days")
        if len(np.unique(positions)) != len(positions):
            raise ValueError(f"days {positions.tolist()} repeat a day")
    if len(positions) == 0:
        raise ValueError("the window has no event day")
    return positions


# --------------------------------------------------------------------------- #
# Building blocks
# --------------------------------------------------------------------------- #


def _residual_variance(est_ar: np.ndarray, convention: str, n_params: int) -> np.ndarray:
    """``s_i^2``: squared deviations from the event's mean over ``T_i - n_params``
    (textbook) or ``T_i - 1`` (estudy2); NaN where that is not positive."""
    n_obs = np.sum(~np.isnan(est_ar), axis=1)
    ddof = 1 if convention == "estudy2" else n_params
    with np.errstate(all="ignore"):
        centred = est_ar - _nanmean(est_ar, axis=1, keepdims=True)
        ss = np.nansum(centred**2, axis=1)
        dof = n_obs - ddof
        return np.where(dof > 0, ss / np.where(dof > 0, dof, 1), np.nan)


def forecast_error_variance(
    est_ar: np.ndarray,
    est_market: np.ndarray,
    event_market: np.ndarray,
    *,
    convention: str = "textbook",
    n_params: int = 2,
) -> np.ndarray:
    """Single-index (market model, OLS) forecast-error variance of each event day.

    ``v_it = s_i^2 * (1 + 1/T_i + (Rm_it - Rm_bar_i)^2 / sum_tau (Rm_i,tau - Rm_bar_i)^2)``
    (Patell 1976; Campbell, Lo and MacKinlay 1997, eq. 4.4.7), the variance of
    the abnormal return of a day outside the estimation window given that
    ``alpha`` and ``beta`` were estimated on ``T_i`` days.

    Parameters
    ----------
    est_ar : array (N, T)
        Estimation residuals, NaN where missing; ``T_i`` is the count of
        non-NaN values of row ``i``.
    est_market, event_market : array (N, T), array (N, L)
        Benchmark returns over each event's estimation and event days.
    convention : {"textbook", "estudy2"}
        ``"textbook"``: ``s_i^2 = SSR_i / (T_i - n_params)``; ``Rm_bar_i`` and
        the sum of squares over the event's fitting sample (days where both
        ``est_ar`` and ``est_market`` exist). ``"estudy2"``: ``s_i^2`` with
        ddof=1, ``Rm_bar_i`` and the sum of squares over every day on which
        ``est_market`` exists.
    n_params : int, default 2
        Parameters of the normal-return model (textbook ``s_i^2`` only).

    Returns
    -------
    np.ndarray (N, L)
        float64, NaN where it cannot be computed (benchmark missing that day,
        fewer than ``n_params + 1`` residuals, constant benchmark).
    """
    _check_convention(convention)
    est_ar = _as_matrix(est_ar, "est_ar")
    est_market = _as_matrix(est_market, "est_market")
    event_market = _as_matrix(event_market, "event_market")
    if est_market.shape != est_ar.shape:
        raise ValueError(f"est_market has shape {est_market.shape}, est_ar {est_ar.shape}")
    if event_market.shape[0] != est_ar.shape[0]:
        raise ValueError("event_market and est_ar must have the same number of events")
    s2 = _residual_variance(est_ar, convention, n_params)
    n_obs = np.sum(~np.isnan(est_ar), axis=1)
    market = est_market if convention == "estudy2" else np.where(np.isnan(est_ar), np.nan, est_market)
    with np.errstate(all="ignore"):
        mean_m = _nanmean(market, axis=1, keepdims=True)
        ss_m = np.nansum((market - mean_m) ** 2, axis=1, keepdims=True)
        ss_m = np.where(ss_m > 0, ss_m, np.nan)
        factor = 1.0 + 1.0 / n_obs[:, None] + (event_market - mean_m) ** 2 / ss_m
        return s2[:, None] * factor


def mean_cross_correlation(est_ar: np.ndarray, *, min_common: int = 3) -> float:
    """Mean pairwise correlation of the events' estimation residuals (Kolari-Pynnonen ``r``).

    ``r = 2 / (N (N - 1)) * sum_{i<j} corr(e_i, e_j)``, each correlation the
    Pearson correlation over the days both events have a residual
    (pairwise-complete). Pairs with fewer than ``min_common`` common days, or a
    constant series on them, are left out of the mean. Standardizing each
    event's residuals by a constant (Kolari and Pynnonen use standardized
    residuals) does not change a correlation.

    Returns NaN if no pair qualifies (fewer than two events).
    """
    x = _as_matrix(est_ar, "est_ar")
    present = (~np.isnan(x)).astype("float64")
    v = np.where(np.isnan(x), 0.0, x)
    n = present @ present.T
    sx = v @ present.T  # sum of x_i over the days both i and j have one
    sxx = (v * v) @ present.T
    sxy = v @ v.T
    with np.errstate(all="ignore"):
        cov = sxy - sx * sx.T / n
        var_i = sxx - sx**2 / n
        var_j = var_i.T
        corr = cov / np.sqrt(var_i * var_j)
    upper = np.triu(np.ones_like(n, dtype=bool), k=1)
    ok = upper & (n >= min_common) & (var_i > 0) & (var_j > 0) & np.isfinite(corr)
    if not ok.any():
        return math.nan
    return float(np.mean(np.clip(corr[ok], -1.0, 1.0)))


# --------------------------------------------------------------------------- #
# Inputs and the sample of events used
# --------------------------------------------------------------------------- #


class _Data:
    """Validated inputs and the per-event quantities (independent of the sample)."""

    def __init__(
        self,
        event_ar: Any,
        est_ar: Any,
        event_var: Any,
        event_market: Any,
        est_market: Any,
        convention: str,
        n_params: int,
    ) -> None:
        _check_convention(convention)
        if int(n_params) != n_params or n_params < 0:
            raise ValueError(f"n_params must be a non-negative integer, got {n_params!r}")
        self.convention = convention
        self.n_params = int(n_params)
        self.event_ar = _as_matrix(event_ar, "event_ar")
        self.est_ar = _as_matrix(est_ar, "est_ar")
        n_events, n_days = self.event_ar.shape
        if self.est_ar.shape[0] != n_events:
            raise ValueError(
                f"est_ar has {self.est_ar.shape[0]} events, event_ar {n_events}"
            )
        if (event_market is None) != (est_market is None):
            raise ValueError("give both event_market and est_market, or neither")
        self.event_market = None if event_market is None else _as_matrix(event_market, "event_market")
        self.est_market = None if est_market is None else _as_matrix(est_market, "est_market")
        if self.event_market is not None and self.event_market.shape != self.event_ar.shape:
            raise ValueError(
                f"event_market has shape {self.event_market.shape}, event_ar {self.event_ar.shape}"
            )
        if self.est_market is not None and self.est_market.shape != self.est_ar.shape:
            raise ValueError(
                f"est_market has shape {self.est_market.shape}, est_ar {self.est_ar.shape}"
            )

        self.n_est = np.sum(~np.isnan(self.est_ar), axis=1)
        self.s2 = _residual_variance(self.est_ar, convention, self.n_params)
        self.s2_bw = _residual_variance(self.est_ar, "estudy2", 1)  # var(e_i), ddof=1
        if event_var is not None:
            self.var = _as_matrix(event_var, "event_var")
            if self.var.shape != self.event_ar.shape:
                raise ValueError(
                    f"event_var has shape {self.var.shape}, event_ar {self.event_ar.shape}"
                )
            self.var_source = "event_var"
        elif self.event_market is not None:
            assert self.est_market is not None
            self.var = forecast_error_variance(
                self.est_ar, self.est_market, self.event_market,
                convention=convention, n_params=self.n_params,
            )
            self.var_source = "market-model forecast-error variance"
        else:
            self.var = np.repeat(self.s2[:, None], n_days, axis=1)
            self.var_source = "s_i^2, no prediction-error correction"
        if convention == "estudy2":
            dof = self.n_est.astype("float64")
            self.min_est = max(self.n_params + 3, 5)
        else:
            dof = (self.n_est - self.n_params).astype("float64")
            self.min_est = self.n_params + 3
        with np.errstate(all="ignore"):
            # variance of a standardized residual that is Student t with d df
            self.k = (dof - 2.0) / (dof - 4.0) if convention == "estudy2" else dof / (dof - 2.0)
        self.usable_est = (self.n_est >= self.min_est) & (self.s2 > 0) & (self.s2_bw > 0)
        #: window-independent quantities of an event set, keyed by (rows, name)
        self.cache: dict[tuple[bytes, str], Any] = {}

    @property
    def n_events(self) -> int:
        return self.event_ar.shape[0]

    def select(self, positions: np.ndarray) -> tuple[np.ndarray, str]:
        """Rows used for a window, and a note on those left out."""
        window_ok = ~np.isnan(self.event_ar[:, positions]).any(axis=1)
        with np.errstate(invalid="ignore"):
            var_ok = np.isfinite(self.var[:, positions]).all(axis=1) & (
                self.var[:, positions] > 0
            ).all(axis=1)
        rows = window_ok & self.usable_est & var_ok
        reasons = []
        if (~window_ok).sum():
            reasons.append(f"{int((~window_ok).sum())} missing window data")
        short = window_ok & ~self.usable_est
        if short.sum():
            reasons.append(
                f"{int(short.sum())} with fewer than {self.min_est} estimation residuals "
                "or zero variance"
            )
        no_var = window_ok & self.usable_est & ~var_ok
        if no_var.sum():
            reasons.append(f"{int(no_var.sum())} without a forecast-error variance")
        note = f"{int((~rows).sum())} event(s) left out: " + ", ".join(reasons) if reasons else ""
        return np.flatnonzero(rows), note


class _Sample:
    """The events used for a window, and their cross-sectional quantities (lazy)."""

    def __init__(self, data: _Data, rows: np.ndarray, positions: np.ndarray) -> None:
        self.data = data
        self.rows = rows
        self.positions = positions
        self.estudy2 = data.convention == "estudy2"
        self.n = len(rows)
        self.est = data.est_ar[rows]
        self.event = data.event_ar[rows]
        self.window = self.event[:, positions]
        self.car = self.window.sum(axis=1)
        self.L = len(positions)

    # -- pieces that do not depend on the window: shared by every window (and
    # every day of battery_by_day) that uses the same events

    def _shared(self, key: str, compute: Callable[[], Any]) -> Any:
        cache_key = (self.rows.tobytes(), key)
        if cache_key not in self.data.cache:
            self.data.cache[cache_key] = compute()
        return self.data.cache[cache_key]

    @property
    def est_aar(self) -> np.ndarray:
        """Daily mean residual over the estimation days with at least one event."""

        def compute() -> np.ndarray:
            present = ~np.isnan(self.est).all(axis=0)
            with np.errstate(all="ignore"):
                return _nanmean(self.est[:, present], axis=0)

        return self._shared("est_aar", compute)

    @cached_property
    def scar(self) -> np.ndarray:
        var = self.data.var[self.rows][:, self.positions]
        return self.car / np.sqrt(var.sum(axis=1))

    @property
    def full(self) -> np.ndarray:
        """Combined period: estimation days, then every event day."""
        return self._shared("full", lambda: np.concatenate([self.est, self.event], axis=1))

    @property
    def full_count(self) -> np.ndarray:
        return self._shared("full_count", lambda: np.sum(~np.isnan(self.full), axis=0))

    @property
    def n_full(self) -> np.ndarray:
        return self._shared("n_full", lambda: np.sum(~np.isnan(self.full), axis=1))

    @property
    def ranks(self) -> np.ndarray:
        return self._shared(
            "ranks", lambda: stats.rankdata(self.full, axis=1, nan_policy="omit")
        )

    def day_sums(self, x: np.ndarray) -> np.ndarray:
        """Sum over events of each day of the combined period (NaN if none).

        estudy2 computes it as ``rowMeans(x, na.rm = TRUE) * ncol(x)``."""
        with np.errstate(all="ignore"):
            if self.estudy2:
                return _nanmean(x, axis=0) * self.n
            sums = np.nansum(x, axis=0)
        return np.where(self.full_count > 0, sums, np.nan)

    def period_length(self) -> float:
        """``D``: days of the combined period with an observation (estudy2: mean
        observations per event)."""
        if self.estudy2:
            return float(self.n_full.mean())
        return float(np.sum(self.full_count > 0))

    def day_series_test(self, key: str, daily: Callable[[], np.ndarray]) -> float:
        """``sum_{t in W} s_t / (sqrt(L) * sqrt(sum_t s_t^2 / D))`` for a daily series ``s``
        over the combined period."""

        def compute() -> tuple[np.ndarray, float]:
            with np.errstate(all="ignore"):
                series = daily()
            return series, math.sqrt(np.nansum(series**2) / self.period_length())

        series, sd = self._shared(key, compute)
        event_days = self.est.shape[1] + self.positions
        return float(np.sum(series[event_days]) / (math.sqrt(self.L) * sd))

    def cross_correlation(self) -> float:
        return self._shared("r", lambda: mean_cross_correlation(self.est))

    def market(self) -> tuple[np.ndarray, np.ndarray]:
        """Common benchmark: the mean across the events, day by day."""
        assert self.data.est_market is not None and self.data.event_market is not None
        with np.errstate(all="ignore"):
            est_m = _nanmean(self.data.est_market[self.rows], axis=0)
            event_m = _nanmean(self.data.event_market[self.rows], axis=0)
        return est_m, event_m[self.positions]


# --------------------------------------------------------------------------- #
# The statistics: each returns (statistic, p_value, note)
# --------------------------------------------------------------------------- #

_Result = tuple[float, float, str]


def _caar_t(s: _Sample) -> _Result:
    df = s.n - 1
    t = s.car.mean() / (s.car.std(ddof=1) / math.sqrt(s.n)) if s.n > 1 else math.nan
    return t, _p_student(t, df), f"Student t, {df} df"


def _brown_warner_1980(s: _Sample) -> _Result:
    s2 = s.data.s2_bw[s.rows]
    t = s.car.mean() / (math.sqrt(s.L) * math.sqrt(s2.sum()) / s.n)
    df = float(s.data.n_est[s.rows].mean()) - 1.0
    return t, _p_student(t, df), f"Student t, {df:g} df (mean estimation length - 1)"


def _brown_warner_1985(s: _Sample) -> _Result:
    daily = s.est_aar
    days = len(daily)
    sd = float(np.std(daily, ddof=1)) if days > 1 else math.nan
    t = s.car.mean() / (math.sqrt(s.L) * sd)
    return t, _p_student(t, days - 1), f"Student t, {days - 1} df (estimation days - 1)"


def _lamb(s: _Sample) -> _Result:
    if s.data.est_market is None:
        return math.nan, math.nan, "needs event_market and est_market"
    # (the correction is the single-index market model's, whatever model made the residuals)
    est_m, event_m = s.market()
    has_aar = ~np.isnan(s.est).all(axis=0)
    if s.estudy2:
        days_m = ~np.isnan(est_m)
        t_len = float(s.data.n_est[s.rows].mean())
    else:
        days_m = has_aar & ~np.isnan(est_m)
        t_len = float(days_m.sum())
    m = est_m[days_m]
    if len(m) < 2 or np.isnan(event_m).any():
        return math.nan, math.nan, "needs benchmark returns on the estimation and window days"
    mean_m = m.mean()
    ss_m = float(np.sum((m - mean_m) ** 2))
    daily = s.est_aar
    sd = float(np.std(daily, ddof=1)) if len(daily) > 1 else math.nan
    with np.errstate(all="ignore"):
        factor = np.sum(1.0 + 1.0 / t_len + (event_m - mean_m) ** 2 / ss_m)
        z = s.car.mean() / (sd * math.sqrt(factor))
    return z, _p_normal(z), "normal"


def _patell(s: _Sample) -> _Result:
    k = s.data.k[s.rows]
    z = s.scar.sum() / math.sqrt(k.sum())
    return z, _p_normal(z), f"normal; variance: {s.data.var_source}"


def _bmp_t(s: _Sample) -> float:
    if s.n < 2:
        return math.nan
    return float(s.scar.mean() / (s.scar.std(ddof=1) / math.sqrt(s.n)))


def _bmp(s: _Sample) -> _Result:
    t = _bmp_t(s)
    return t, _p_student(t, s.n - 1), f"Student t, {s.n - 1} df; variance: {s.data.var_source}"


def _kolari_pynnonen(s: _Sample) -> _Result:
    r = s.cross_correlation()
    with np.errstate(all="ignore"):
        t = _bmp_t(s) * math.sqrt((1.0 - r) / (1.0 + (s.n - 1) * r)) if s.n > 1 else math.nan
    return t, _p_student(t, s.n - 1), f"Student t, {s.n - 1} df; mean cross-correlation r={r:.6g}"


def _sign(s: _Sample) -> _Result:
    w = int(np.sum(s.car > 0))
    z = (w - 0.5 * s.n) / math.sqrt(0.25 * s.n)
    return z, _p_normal(z), f"normal; {w} of {s.n} positive"


def _generalized_sign(s: _Sample) -> _Result:
    positive = np.where(np.isnan(s.est), np.nan, (s.est > 0).astype("float64"))
    if s.estudy2:
        p = float(_nanmean(positive))
    else:
        p = float(np.mean(_nanmean(positive, axis=1)))
    w = int(np.sum(s.car > 0))
    with np.errstate(all="ignore"):
        z = (w - s.n * p) / math.sqrt(s.n * p * (1.0 - p)) if 0 < p < 1 else math.nan
    return z, _p_normal(z), f"normal; {w} of {s.n} positive, p_hat={p:.6g}"


def _corrado_sign(s: _Sample) -> _Result:
    def daily() -> np.ndarray:
        g = np.sign(s.full - np.nanmedian(s.full, axis=1, keepdims=True))
        return s.day_sums(g) / np.sqrt(s.full_count)

    z = s.day_series_test("corrado_sign", daily)
    return z, _p_normal(z), "normal"


def _rank(s: _Sample) -> _Result:
    def daily() -> np.ndarray:
        deviation = s.ranks - (s.n_full[:, None] + 1.0) / 2.0
        return s.day_sums(deviation) / s.full_count

    z = s.day_series_test("rank", daily)
    return z, _p_normal(z), "normal"


def _modified_rank(s: _Sample) -> _Result:
    def daily() -> np.ndarray:
        u = s.ranks / (s.n_full[:, None] + 1.0) - 0.5
        return s.day_sums(u) / np.sqrt(s.full_count)

    z = s.day_series_test("modified_rank", daily)
    return z, _p_normal(z), "normal"


def _wilcoxon(s: _Sample) -> _Result:
    x = s.car[s.car != 0]
    if len(x) == 0:
        return math.nan, math.nan, "no non-zero CAR"
    ranks = stats.rankdata(np.abs(x))
    w_plus = float(ranks[x > 0].sum())
    p = float(stats.wilcoxon(x, zero_method="wilcox", alternative="two-sided").pvalue)
    dropped = s.n - len(x)
    note = "W+ = sum of the ranks of positive CARs; p from scipy.stats.wilcoxon"
    if dropped:
        note += f"; {dropped} zero CAR(s) dropped"
    return w_plus, p, note


_STATISTICS: dict[str, Callable[[_Sample], _Result]] = {
    "caar_t": _caar_t,
    "brown_warner_1980": _brown_warner_1980,
    "brown_warner_1985": _brown_warner_1985,
    "lamb": _lamb,
    "patell": _patell,
    "bmp": _bmp,
    "kolari_pynnonen": _kolari_pynnonen,
    "sign": _sign,
    "generalized_sign": _generalized_sign,
    "corrado_sign": _corrado_sign,
    "rank": _rank,
    "modified_rank": _modified_rank,
    "wilcoxon": _wilcoxon,
}


def _run(data: _Data, positions: np.ndarray, tests: tuple[str, ...]) -> tuple[list[tuple], _Sample]:
    rows, left_out = data.select(positions)
    sample = _Sample(data, rows, positions)
    out = []
    for name in tests:
        if sample.n == 0:
            statistic, p_value, note = math.nan, math.nan, "no event usable"
        else:
            with np.errstate(all="ignore"):
                statistic, p_value, note = _STATISTICS[name](sample)
            statistic = _finite_or_nan(statistic)
            p_value = _finite_or_nan(p_value) if not math.isnan(statistic) else math.nan
            if math.isnan(statistic) and "needs" not in note:
                note = f"undefined ({note})"
        if left_out:
            note = f"{note}; {left_out}" if note else left_out
        out.append((name, statistic, p_value, sample.n, note))
    return out, sample


# --------------------------------------------------------------------------- #
# Public API
# --------------------------------------------------------------------------- #


def battery(
    event_ar: np.ndarray,
    est_ar: np.ndarray,
    *,
    event_var: np.ndarray | None = None,
    event_market: np.ndarray | None = None,
    est_market: np.ndarray | None = None,
    days: slice | Sequence[int] | None = None,
    tests: Sequence[str] | None = None,
    convention: str = "textbook",
    n_params: int = 2,
) -> pd.DataFrame:
    """Test the cumulative abnormal return over a window of event days, across events.

    Parameters
    ----------
    event_ar : array (N, L)
        Abnormal returns of N events on L event days, NaN where missing.
    est_ar : array (N, T)
        Estimation residuals of the same events, NaN where missing. For the
        rank and sign tests the combined period is the T estimation days
        followed by the L event days.
    event_var : array (N, L), optional
        Forecast-error variance of each event day (Patell, BMP,
        Kolari-Pynnonen). Default: computed from the benchmarks if both are
        given (:func:`forecast_error_variance`), else ``s_i^2``.
    event_market, est_market : array (N, L), array (N, T), optional
        Benchmark returns on the event and estimation days (Lamb, and the
        default ``event_var``). Give both or neither.
    days : slice or sequence of int, optional
        Positions (0-based columns of ``event_ar``) of the window's days.
        Default: every event day.
    tests : sequence of str, optional
        Names from :data:`TESTS`; default all, in that order.
    convention : {"textbook", "estudy2"}
        See the module docstring.
    n_params : int, default 2
        Parameters of the normal-return model behind the residuals.

    Returns
    -------
    pd.DataFrame
        One row per test, in the order asked, columns ``name`` (str),
        ``statistic`` (float64), ``p_value`` (float64, two-sided; NaN where
        the statistic is undefined), ``n`` (int64, events used) and ``note``
        (str: the reference distribution, events left out and why).
        ``attrs`` holds ``caar`` (mean CAR of the events used), ``n_events``,
        ``days`` (the positions) and ``convention``.

    Raises
    ------
    ValueError
        On shapes that do not match, infinite values, an empty or
        out-of-range window, an unknown test or convention, or only one of
        the two benchmark arrays.
    """
    names = _check_tests(tests)
    data = _Data(event_ar, est_ar, event_var, event_market, est_market, convention, n_params)
    positions = _window_positions(days, data.event_ar.shape[1])
    rows, sample = _run(data, positions, names)
    frame = pd.DataFrame(rows, columns=list(_COLUMNS)).astype(
        {"name": "object", "statistic": "float64", "p_value": "float64", "n": "int64",
         "note": "object"}
    )
    frame.attrs.update(
        caar=float(sample.car.mean()) if sample.n else math.nan,
        n_events=data.n_events,
        days=positions.tolist(),
        convention=convention,
    )
    return frame


def battery_by_day(
    event_ar: np.ndarray,
    est_ar: np.ndarray,
    *,
    event_var: np.ndarray | None = None,
    event_market: np.ndarray | None = None,
    est_market: np.ndarray | None = None,
    tests: Sequence[str] | None = None,
    convention: str = "textbook",
    n_params: int = 2,
    day_labels: Sequence[Any] | None = None,
    p_values: bool = False,
) -> pd.DataFrame:
    """The battery on each event day alone (estudy2's ``parametric_tests`` /
    ``nonparametric_tests`` tables).

    Parameters are those of :func:`battery`, and:

    day_labels : sequence, optional
        Index labels of the L event days (dates, relative days); default
        ``0..L-1``.
    p_values : bool, default False
        Add a ``<test>_p`` column after each statistic.

    Returns
    -------
    pd.DataFrame
        Indexed by ``day_labels`` (index named ``"day"``), columns ``n``
        (int64, events used that day), ``mean`` (float64, their mean abnormal
        return) and one float64 column per test, named as in :data:`TESTS`
        (see :data:`ESTUDY2_COLUMNS` for estudy2's names).
    """
    names = _check_tests(tests)
    data = _Data(event_ar, est_ar, event_var, event_market, est_market, convention, n_params)
    n_days = data.event_ar.shape[1]
    labels = list(range(n_days)) if day_labels is None else list(day_labels)
    if len(labels) != n_days:
        raise ValueError(f"{len(labels)} day_labels for {n_days} event days")
    records = []
    for j in range(n_days):
        rows, sample = _run(data, np.array([j]), names)
        record: dict[str, Any] = {
            "n": sample.n,
            "mean": float(sample.car.mean()) if sample.n else math.nan,
        }
        for name, statistic, p_value, _, _ in rows:
            record[name] = statistic
            if p_values:
                record[f"{name}_p"] = p_value
        records.append(record)
    columns = ["n", "mean"] + [c for name in names for c in ([name, f"{name}_p"] if p_values else [name])]
    frame = pd.DataFrame.from_records(records, columns=columns, index=pd.Index(labels, name="day"))
    return frame.astype({c: ("int64" if c == "n" else "float64") for c in columns})


def _aligned(panel: Any, attribute: str, like: pd.DataFrame) -> np.ndarray | None:
    value = getattr(panel, attribute, None)
    if value is None:
        return None
    if not isinstance(value, pd.DataFrame):
        raise ValueError(f"panel.{attribute} must be a DataFrame, got {type(value).__name__}")
    return value.reindex(index=like.index, columns=like.columns).to_numpy(dtype="float64")


def from_panel(
    panel: Any,
    window: tuple[int, int],
    *,
    tests: Sequence[str] | None = None,
    convention: str = "textbook",
    n_params: int | None = None,
    by_day: bool = False,
) -> pd.DataFrame:
    """Run the battery on an :class:`~monitor.impact.engine.EventPanel`.

    Parameters
    ----------
    panel : EventPanel
        Read through its attributes: ``events`` (DataFrame with a ``status``
        column; its ``id`` column, or else its index, names the events),
        ``event_ar`` (DataFrame, index event id, columns relative days),
        ``est_ar`` (same index, estimation relative days), and optionally
        ``event_var`` (shaped like ``event_ar``), ``event_market`` (like
        ``event_ar``) and ``est_market`` (like ``est_ar``). Only events with
        status ``"ok"`` are tested.
    window : (first, last)
        Relative days, inclusive; every day in between must be a column of
        ``event_ar``.
    tests, convention
        As in :func:`battery`.
    n_params : int, optional
        As in :func:`battery`; default from ``panel.spec.model`` (market 2,
        market_adjusted 1, mean 1, ff3 4), else 2.
    by_day : bool, default False
        Return :func:`battery_by_day` over the window's days (indexed by
        relative day, with p-values) instead of one test of the window's CAR.

    Returns
    -------
    pd.DataFrame
        As :func:`battery` (``attrs["window"]`` added) or :func:`battery_by_day`.
    """
    if n_params is None:
        model = getattr(getattr(panel, "spec", None), "model", None)
        n_params = _MODEL_PARAMS.get(model, 2) if isinstance(model, str) else 2
    first, last = int(window[0]), int(window[1])
    if first > last:
        raise ValueError(f"window {window} ends before it starts")
    events = panel.events
    ok = (events["status"] == "ok").to_numpy()
    ids = events["id"][ok] if "id" in events.columns else events.index[ok]
    event_ar: pd.DataFrame = panel.event_ar
    event_ar = event_ar.loc[event_ar.index.isin(list(ids))]
    est_ar = panel.est_ar.reindex(index=event_ar.index)
    columns = list(event_ar.columns)
    missing = [d for d in range(first, last + 1) if d not in columns]
    if missing:
        raise ValueError(
            f"window {window}: relative day(s) {missing} are not columns of the panel's event_ar"
        )
    positions = [columns.index(d) for d in range(first, last + 1)]
    event_var = _aligned(panel, "event_var", event_ar)
    event_market = _aligned(panel, "event_market", event_ar)
    est_market = _aligned(panel, "est_market", est_ar)
    if event_market is None or est_market is None:
        event_market = est_market = None
    arrays = dict(
        event_var=event_var, event_market=event_market, est_market=est_market,
        tests=tests, convention=convention, n_params=n_params,
    )
    if by_day:
        # every event day stays in the combined period of the rank and sign tests
        frame = battery_by_day(
            event_ar.to_numpy(dtype="float64"), est_ar.to_numpy(dtype="float64"),
            **arrays, day_labels=columns, p_values=True,
        )
        frame = frame.iloc[positions]
        frame.index.name = "relative_day"
        return frame
    frame = battery(
        event_ar.to_numpy(dtype="float64"), est_ar.to_numpy(dtype="float64"),
        days=positions, **arrays,
    )
    frame.attrs["window"] = (first, last)
    return frame
