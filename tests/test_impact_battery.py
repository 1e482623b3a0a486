"""Cross-event test battery (monitor.impact.battery).

Three parts:

* hand-computed examples: every statistic on 3 events x 6 estimation days x 2
  event days, with the arithmetic written out;
* properties (hypothesis): order of events, NaN handling, p-values in [0, 1];
* the estudy2 vignette (needs MONITOR_REFERENCE_DATA): every statistic its
  ``parametric_tests`` and ``nonparametric_tests`` tables print.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pytest import approx
from scipy import stats

from monitor.impact import brown_warner_1985, market_model_abnormal
from monitor.impact.battery import (
    ESTUDY2_COLUMNS,
    TESTS,
    battery,
    battery_by_day,
    forecast_error_variance,
    from_panel,
    mean_cross_correlation,
)

# --------------------------------------------------------------------------- #
# The hand example. Units of 0.01 (one percent) throughout the comments.
#
#   estimation residuals (6 days)        event abnormal returns (2 days)   CAR
#   e1 =  1  -1   1  -1   1  -1          a1 =  2    1.5                   3.5
#   e2 =  1  -1  -1   1   0   0          a2 =  3   -0.5                   2.5
#   e3 =  2  -2   1  -1   0   0          a3 = -3    0.5                  -2.5
#
# Every residual series has mean 0 (as OLS residuals do); sums of squares
# 6, 4 and 10 (x 1e-4). The benchmark (same for the three events):
#   estimation  m = 1  -1   2   0   0  -2   (mean 0, sum of squares 10e-4)
#   event           1   3
# --------------------------------------------------------------------------- #

EST = np.array([
    [1, -1, 1, -1, 1, -1],
    [1, -1, -1, 1, 0, 0],
    [2, -2, 1, -1, 0, 0],
]) * 0.01
EVENT = np.array([
    [2, 1.5],
    [3, -0.5],
    [-3, 0.5],
]) * 0.01
EST_M = np.tile(np.array([1, -1, 2, 0, 0, -2]) * 0.01, (3, 1))
EVENT_M = np.tile(np.array([1, 3]) * 0.01, (3, 1))

CAR = np.array([0.035, 0.025, -0.025])
CAAR = 0.035 / 3  # (3.5 + 2.5 - 2.5) / 3 percent


def _row(table: pd.DataFrame, name: str) -> pd.Series:
    (i,) = np.flatnonzero(table["name"] == name)
    return table.iloc[i]


def _p_norm(z):
    return 2 * stats.norm.sf(abs(z))


def _p_t(t, df):
    return 2 * stats.t.sf(abs(t), df)


def test_result_layout():
    table = battery(EVENT, EST)
    assert list(table.columns) == ["name", "statistic", "p_value", "n", "note"]
    assert list(table["name"]) == list(TESTS)
    assert table["statistic"].dtype == np.float64
    assert table["p_value"].dtype == np.float64
    assert table["n"].dtype == np.int64
    assert list(table["n"]) == [3] * len(TESTS)
    assert table.attrs["caar"] == approx(CAAR)
    assert table.attrs["days"] == [0, 1]
    # Lamb needs the benchmark; everything else is defined here
    assert math.isnan(_row(table, "lamb")["statistic"])
    assert _row(table, "lamb")["note"] == "needs event_market and est_market"
    defined = table[table["name"] != "lamb"]
    assert defined["statistic"].notna().all() and defined["p_value"].between(0, 1).all()


def test_caar_t_hand_computed():
    # CAR = 3.5, 2.5, -2.5; CAAR = 3.5/3; s_CAR^2 = sum (CAR - CAAR)^2 / (N - 1)
    var = ((0.035 - CAAR) ** 2 + (0.025 - CAAR) ** 2 + (-0.025 - CAAR) ** 2) / 2
    t = CAAR / math.sqrt(var / 3)
    assert t == approx(0.628619, abs=1e-6)
    row = _row(battery(EVENT, EST), "caar_t")
    assert row["statistic"] == approx(t, rel=1e-12)
    assert row["p_value"] == approx(_p_t(t, 2), rel=1e-12)
    assert row["note"] == "Student t, 2 df"


def test_brown_warner_1980_hand_computed():
    # s_i^2 = var(e_i), ddof=1: 6e-4/5, 4e-4/5, 10e-4/5 -> sum 4e-4, sqrt 0.02
    # t = CAAR / (sqrt(L) * sqrt(sum s_i^2) / N) with L = 2, N = 3
    t = CAAR / (math.sqrt(2) * 0.02 / 3)
    assert t == approx(1.237437, abs=1e-6)
    row = _row(battery(EVENT, EST), "brown_warner_1980")
    assert row["statistic"] == approx(t, rel=1e-12)
    assert row["p_value"] == approx(_p_t(t, 6 - 1), rel=1e-12)  # mean T_i - 1 df


def test_brown_warner_1985_hand_computed():
    # daily mean residual: 4/3, -4/3, 1/3, -1/3, 1/3, -1/3 (mean 0)
    # S^2 = (2 * 16/9 + 4 * 1/9) / 5 = 4/5 (x 1e-4)
    s = math.sqrt(0.8e-4)
    t = CAAR / (math.sqrt(2) * s)
    assert t == approx(0.922331, abs=1e-6)
    row = _row(battery(EVENT, EST), "brown_warner_1985")
    assert row["statistic"] == approx(t, rel=1e-12)
    assert row["p_value"] == approx(_p_t(t, 6 - 1), rel=1e-12)  # D - 1 df, D = 6 days


def test_brown_warner_1985_single_days_match_the_existing_function():
    days = pd.Index([10, 11])
    existing = brown_warner_1985(pd.DataFrame(EST.T), pd.DataFrame(EVENT.T, index=days))
    table = battery_by_day(EVENT, EST, tests=["brown_warner_1985"], day_labels=days)
    np.testing.assert_allclose(table["brown_warner_1985"], existing["statistic"], rtol=1e-12)
    np.testing.assert_allclose(table["mean"], existing["mean_ar"], rtol=1e-12)


def test_lamb_hand_computed():
    # S as in Brown-Warner 1985: sqrt(0.8e-4). Benchmark: mean 0, SSm = 10e-4, T = 6 days.
    # sum over the 2 days of 1 + 1/T + (Rm_t - 0)^2 / SSm:
    #   (1 + 1/6 + 1/10) + (1 + 1/6 + 9/10) = 10/3
    z = CAAR / (math.sqrt(0.8e-4) * math.sqrt(10 / 3))
    assert z == approx(0.714435, abs=1e-6)
    for convention in ("textbook", "estudy2"):  # complete data: the two agree
        row = _row(battery(EVENT, EST, event_market=EVENT_M, est_market=EST_M,
                           convention=convention), "lamb")
        assert row["statistic"] == approx(z, rel=1e-12)
        assert row["p_value"] == approx(_p_norm(z), rel=1e-12)


def test_patell_and_bmp_hand_computed():
    # textbook, market model (n_params = 2): s_i^2 = SS_i / (T - 2) = 1.5e-4, 1e-4, 2.5e-4
    # no event_var, no benchmark: v_it = s_i^2, so SCAR_i = CAR_i / sqrt(2 s_i^2)
    scar = np.array([0.035 / math.sqrt(3e-4), 0.025 / math.sqrt(2e-4), -0.025 / math.sqrt(5e-4)])
    np.testing.assert_allclose(scar, [2.020726, 1.767767, -1.118034], atol=1e-6)
    # k_i = d / (d - 2), d = T - 2 = 4: k = 2 for each event
    z = scar.sum() / math.sqrt(3 * 2)
    assert z == approx(1.090211, abs=1e-6)
    t_bmp = scar.mean() / (scar.std(ddof=1) / math.sqrt(3))
    table = battery(EVENT, EST)
    assert _row(table, "patell")["statistic"] == approx(z, rel=1e-12)
    assert _row(table, "patell")["p_value"] == approx(_p_norm(z), rel=1e-12)
    assert _row(table, "bmp")["statistic"] == approx(t_bmp, rel=1e-12)
    assert _row(table, "bmp")["p_value"] == approx(_p_t(t_bmp, 2), rel=1e-12)


def test_patell_uses_event_var():
    # the prediction-error correction comes in through event_var
    v = np.array([[1.0, 2.0], [1.0, 1.0], [4.0, 4.0]]) * 1e-4
    scar = np.array([0.035 / math.sqrt(3e-4), 0.025 / math.sqrt(2e-4), -0.025 / math.sqrt(8e-4)])
    z = scar.sum() / math.sqrt(6)
    table = battery(EVENT, EST, event_var=v, tests=["patell", "bmp"])
    assert table["statistic"].iloc[0] == approx(z, rel=1e-12)
    assert table["statistic"].iloc[1] == approx(scar.mean() / (scar.std(ddof=1) / math.sqrt(3)))
    assert "variance: event_var" in table["note"].iloc[0]


def test_patell_with_benchmark_forecast_error_variance():
    # v_it = s_i^2 (1 + 1/T + Rm_t^2 / SSm): factors 1 + 1/6 + 1/10 and 1 + 1/6 + 9/10,
    # summing to 10/3 over the window
    s2 = np.array([1.5e-4, 1e-4, 2.5e-4])
    v = forecast_error_variance(EST, EST_M, EVENT_M)
    np.testing.assert_allclose(v, s2[:, None] * [[1 + 1 / 6 + 0.1, 1 + 1 / 6 + 0.9]], rtol=1e-12)
    scar = CAR / np.sqrt(s2 * 10 / 3)
    row = _row(battery(EVENT, EST, event_market=EVENT_M, est_market=EST_M), "patell")
    assert row["statistic"] == approx(scar.sum() / math.sqrt(6), rel=1e-12)


def test_patell_estudy2_convention_hand_computed():
    # estudy2: s_i^2 = var(e_i) ddof=1 = 1.2e-4, 0.8e-4, 2e-4; k_i = (T - 2)/(T - 4) = 2
    scar = CAR / np.sqrt(2 * np.array([1.2e-4, 0.8e-4, 2e-4]))
    z = scar.sum() / math.sqrt(6)
    assert z == approx(1.218892, abs=1e-6)
    row = _row(battery(EVENT, EST, convention="estudy2"), "patell")
    assert row["statistic"] == approx(z, rel=1e-12)


def test_kolari_pynnonen_hand_computed():
    # correlations of the residuals (all have mean 0):
    #   e1.e2 = 1 + 1 - 1 - 1 = 0                     -> 0
    #   e1.e3 = 2 + 2 + 1 + 1 = 6, |e1| |e3| = sqrt(6 * 10)  -> 6 / sqrt(60)
    #   e2.e3 = 2 + 2 - 1 - 1 = 2, |e2| |e3| = sqrt(4 * 10)  -> 2 / sqrt(40)
    r = (0 + 6 / math.sqrt(60) + 2 / math.sqrt(40)) / 3
    assert mean_cross_correlation(EST) == approx(r, rel=1e-12)
    scar = CAR / np.sqrt(2 * np.array([1.5e-4, 1e-4, 2.5e-4]))
    t_bmp = scar.mean() / (scar.std(ddof=1) / math.sqrt(3))
    t = t_bmp * math.sqrt((1 - r) / (1 + 2 * r))
    row = _row(battery(EVENT, EST), "kolari_pynnonen")
    assert row["statistic"] == approx(t, rel=1e-12)
    assert row["p_value"] == approx(_p_t(t, 2), rel=1e-12)


def test_mean_cross_correlation_is_pairwise_complete():
    e = np.array([
        [1.0, 2.0, 3.0, 4.0, np.nan],
        [2.0, 4.0, 6.0, 8.0, 5.0],      # on days 0-3 exactly 2 * e1: correlation 1
        [4.0, 3.0, 2.0, 1.0, 0.0],      # minus e1 on days 0-3: -1; with e2 on days 0-4 ...
    ])
    r23 = np.corrcoef(e[1], e[2])[0, 1]
    assert mean_cross_correlation(e) == approx((1.0 - 1.0 + r23) / 3)
    assert math.isnan(mean_cross_correlation(e[:1]))


def test_sign_and_generalized_sign_hand_computed():
    # 2 of the 3 CARs are positive
    z_sign = (2 - 3 * 0.5) / math.sqrt(3 * 0.25)
    # fraction of positive residuals (0 is not positive): 3/6, 2/6, 2/6 -> p = 7/18
    p = (3 / 6 + 2 / 6 + 2 / 6) / 3
    z_gsign = (2 - 3 * p) / math.sqrt(3 * p * (1 - p))
    assert (z_sign, z_gsign) == (approx(0.577350, abs=1e-6), approx(0.986928, abs=1e-6))
    table = battery(EVENT, EST)
    assert _row(table, "sign")["statistic"] == approx(z_sign, rel=1e-12)
    assert _row(table, "sign")["p_value"] == approx(_p_norm(z_sign), rel=1e-12)
    assert _row(table, "generalized_sign")["statistic"] == approx(z_gsign, rel=1e-12)


def test_corrado_sign_hand_computed():
    # combined period: 6 estimation days then the 2 event days
    #   x1 = 1 -1  1 -1  1 -1  2  1.5   median 1  -> G1 = 0 -1  0 -1  0 -1  1  1
    #   x2 = 1 -1 -1  1  0  0  3 -0.5   median 0  -> G2 = 1 -1 -1  1  0  0  1 -1
    #   x3 = 2 -2  1 -1  0  0 -3  0.5   median 0  -> G3 = 1 -1  1 -1  0  0 -1  1
    # daily sums 2 -3 0 -1 0 -1 | 1 1;  Z_t = sum / sqrt(3)
    sums = np.array([2, -3, 0, -1, 0, -1, 1, 1])
    s_g = math.sqrt(np.sum((sums / math.sqrt(3)) ** 2) / 8)  # 17/24
    assert s_g**2 == approx(17 / 24)
    z = (1 + 1) / math.sqrt(3) / (math.sqrt(2) * s_g)
    assert z == approx(0.970143, abs=1e-6)
    row = _row(battery(EVENT, EST), "corrado_sign")
    assert row["statistic"] == approx(z, rel=1e-12)
    assert row["p_value"] == approx(_p_norm(z), rel=1e-12)


# ranks over the combined period (ties: average), M = 8, (M + 1)/2 = 4.5
RANKS = np.array([
    [5, 2, 5, 2, 5, 2, 8, 7],              # -1 x3 -> 2; 1 x3 -> 5; 1.5 -> 7; 2 -> 8
    [6.5, 1.5, 1.5, 6.5, 4.5, 4.5, 8, 3],  # -1 x2 -> 1.5; -0.5 -> 3; 0 x2 -> 4.5; 1 x2 -> 6.5
    [8, 2, 7, 3, 4.5, 4.5, 1, 6],          # -3 1, -2 2, -1 3, 0 x2 4.5, 0.5 6, 1 7, 2 8
])


def test_rank_hand_computed():
    kbar = (RANKS - 4.5).mean(axis=0)
    np.testing.assert_allclose(kbar, [2, -8 / 3, 0, -2 / 3, 1 / 6, -5 / 6, 7 / 6, 5 / 6])
    s_k = math.sqrt(np.sum(kbar**2) / 8)  # (4 + 68/9 + 100/36) / 8 = 1.791667
    assert s_k**2 == approx(1.7916667, abs=1e-7)
    z = (7 / 6 + 5 / 6) / (math.sqrt(2) * s_k)
    assert z == approx(1.056541, abs=1e-6)
    row = _row(battery(EVENT, EST), "rank")
    assert row["statistic"] == approx(z, rel=1e-12)
    assert row["p_value"] == approx(_p_norm(z), rel=1e-12)


def test_modified_rank_hand_computed():
    u = RANKS / (8 + 1) - 0.5
    z_t = u.sum(axis=0) / math.sqrt(3)
    s_u = math.sqrt(np.sum(z_t**2) / 8)
    z = (z_t[6] + z_t[7]) / (math.sqrt(2) * s_u)
    # every event has all 8 days: U is a fixed multiple of K - 4.5, same as the rank test
    assert z == approx(1.056541, abs=1e-6)
    assert _row(battery(EVENT, EST), "modified_rank")["statistic"] == approx(z, rel=1e-12)


def test_wilcoxon_hand_computed():
    # |CAR| = 3.5, 2.5, 2.5 -> ranks 3, 1.5, 1.5; positive CARs 3.5 and 2.5: W+ = 3 + 1.5
    row = _row(battery(EVENT, EST), "wilcoxon")
    assert row["statistic"] == 4.5
    assert row["p_value"] == approx(stats.wilcoxon(CAR).pvalue)


def test_by_day_is_the_battery_on_each_day():
    table = battery_by_day(EVENT, EST, event_market=EVENT_M, est_market=EST_M, p_values=True)
    assert list(table.index) == [0, 1] and table.index.name == "day"
    assert list(table.columns[:2]) == ["n", "mean"]
    assert list(table.columns[2::2]) == list(TESTS)
    assert list(table.columns[3::2]) == [f"{t}_p" for t in TESTS]
    np.testing.assert_allclose(table["mean"], [2 / 300, 1.5 / 300])
    for day in (0, 1):
        one = battery(EVENT, EST, event_market=EVENT_M, est_market=EST_M, days=[day])
        np.testing.assert_allclose(table.loc[day, list(TESTS)].to_numpy(dtype=float),
                                   one["statistic"], rtol=1e-12)
    # day 0 by hand: AR 2, 3, -3; rank: Kbar_day = 7/6 over S_K
    s_k = math.sqrt(np.sum((RANKS - 4.5).mean(axis=0) ** 2) / 8)
    assert table.loc[0, "rank"] == approx((7 / 6) / s_k, rel=1e-12)
    ar0 = np.array([0.02, 0.03, -0.03])
    assert table.loc[0, "caar_t"] == approx(ar0.mean() / (ar0.std(ddof=1) / math.sqrt(3)))
    assert table.loc[0, "sign"] == approx((2 - 1.5) / math.sqrt(0.75))


# --------------------------------------------------------------------------- #
# Conventions with a missing estimation residual: event 2 has none on day 1
#   e2 = .  -1  -1   1   0   0      (T_2 = 5)
# --------------------------------------------------------------------------- #

EST_GAP = EST.copy()
EST_GAP[1, 0] = np.nan


def test_generalized_sign_p_hat_conventions():
    # positive residuals: 3 of 6, 1 of 5, 2 of 6
    p_cowan = (3 / 6 + 1 / 5 + 2 / 6) / 3  # mean of the events' fractions = 31/90
    p_pooled = (3 + 1 + 2) / (6 + 5 + 6)  # estudy2: pooled = 6/17
    for convention, p in (("textbook", p_cowan), ("estudy2", p_pooled)):
        row = _row(battery(EVENT, EST_GAP, convention=convention), "generalized_sign")
        assert row["statistic"] == approx((2 - 3 * p) / math.sqrt(3 * p * (1 - p)), rel=1e-12)


def test_rank_conventions_with_a_missing_residual():
    # event 2 ranks 7 values: -1 x2 -> 1.5, -0.5 -> 3, 0 x2 -> 4.5, 1 -> 6, 3 -> 7; mean 4
    dev = np.array([
        [0.5, -2.5, 0.5, -2.5, 0.5, -2.5, 3.5, 2.5],
        [np.nan, -2.5, -2.5, 2.0, 0.5, 0.5, 3.0, -1.0],
        [3.5, -2.5, 2.5, -1.5, 0.0, 0.0, -3.5, 1.5],
    ])
    # textbook: Kbar_t over the events present (2 on day 1); D = 8 days
    kbar = np.nanmean(dev, axis=0)  # 2, -2.5, 1/6, -2/3, 1/3, -2/3 | 1, 1
    s_textbook = math.sqrt(np.sum(kbar**2) / 8)
    # estudy2: a day's sum is mean * N (day 1: 2 * 3 = 6, so Kbar = 6/2 = 3), and
    # D = mean observations per event = (8 + 7 + 8) / 3
    kbar_e2 = kbar.copy()
    kbar_e2[0] = 3.0
    s_estudy2 = math.sqrt(np.sum(kbar_e2**2) / (23 / 3))
    assert s_textbook**2 == approx(1.659722, abs=1e-6)
    assert s_estudy2**2 == approx(2.384058, abs=1e-6)
    for convention, s_k in (("textbook", s_textbook), ("estudy2", s_estudy2)):
        table = battery_by_day(EVENT, EST_GAP, convention=convention, tests=["rank"])
        assert table.loc[0, "rank"] == approx(1.0 / s_k, rel=1e-12)


def test_forecast_error_variance_conventions():
    # one event, the firm has no residual on day 1 (e.g. not yet listed)
    e = np.array([[0.01, np.nan, -0.01, 0.02, -0.02]])
    m = np.array([[0.01, 0.05, -0.01, 0.0, 0.0]])
    rm = np.array([[0.02]])
    # textbook: fitting sample days 0, 2, 3, 4; Rm mean 0, SSm 2e-4;
    # s^2 = SSR / (T - 2) = 10e-4 / 2
    textbook = 5e-4 * (1 + 1 / 4 + 0.02**2 / 2e-4)
    # estudy2: s^2 = 10e-4 / 3; Rm over all 5 days: mean 0.01,
    # SSm = 0 + 16e-4 + 4e-4 + 1e-4 + 1e-4 = 22e-4
    estudy2 = 10e-4 / 3 * (1 + 1 / 4 + 0.01**2 / 22e-4)
    assert forecast_error_variance(e, m, rm)[0, 0] == approx(textbook, rel=1e-12)
    assert forecast_error_variance(e, m, rm, convention="estudy2")[0, 0] == approx(
        estudy2, rel=1e-12
    )


# --------------------------------------------------------------------------- #
# Missing event data and argument errors
# --------------------------------------------------------------------------- #


def test_event_missing_a_window_day_is_left_out():
    event = np.vstack([EVENT, [0.05, np.nan]])
    est = np.vstack([EST, [1, -1, 2, -2, 0, 0]])
    table = battery(event, est)
    assert list(table["n"]) == [3] * len(TESTS)
    assert all("1 event(s) left out: 1 missing window data" in note for note in table["note"])
    reference = battery(EVENT, EST)
    np.testing.assert_array_equal(table["statistic"], reference["statistic"])
    # the day it has is used by day-0 statistics and by the window [0]
    assert battery(event, est, days=[0])["n"].iloc[0] == 4
    assert list(battery_by_day(event, est)["n"]) == [4, 3]


def test_event_with_too_short_estimation_is_left_out():
    event = np.vstack([EVENT, [0.05, 0.01]])
    est = np.vstack([EST, [0.01, -0.01, 0.02, np.nan, np.nan, np.nan]])  # 3 < n_params + 3
    table = battery(event, est, tests=["caar_t"])
    assert table["n"].iloc[0] == 3
    assert "fewer than 5 estimation residuals" in table["note"].iloc[0]


def test_no_usable_event():
    table = battery(np.full((2, 2), np.nan), EST[:2])
    assert table["n"].eq(0).all() and table["statistic"].isna().all()
    assert table["p_value"].isna().all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"est_ar": EST[:2]}, "est_ar has 2 events"),
        ({"event_var": np.ones((3, 3))}, "event_var has shape"),
        ({"event_market": EVENT_M}, "both event_market and est_market"),
        ({"tests": ["patel"]}, "unknown test"),
        ({"convention": "R"}, "unknown convention"),
        ({"days": []}, "no event day"),
        ({"days": [2]}, "out of range"),
        ({"event_ar": np.array([0.01, 0.02])}, "must be 2-D"),
        ({"event_ar": EVENT + np.array([[np.inf, 0], [0, 0], [0, 0]])}, "infinite"),
    ],
)
def test_argument_errors(kwargs, message):
    args = {"event_ar": EVENT, "est_ar": EST, **kwargs}
    with pytest.raises(ValueError, match=message):
        battery(args.pop("event_ar"), args.pop("est_ar"), **args)


# --------------------------------------------------------------------------- #
# from_panel
# --------------------------------------------------------------------------- #


def _panel(with_market: bool = True) -> SimpleNamespace:
    ids = pd.Index(["e1", "e2", "e3", "bad"], name="id")
    event_cols = pd.Index([-1, 0, 1], name="relative_day")
    est_cols = pd.Index(range(-9, -3), name="relative_day")
    pre = np.array([[0.001], [-0.002], [0.0], [0.01]])
    event_ar = pd.DataFrame(np.hstack([pre, np.vstack([EVENT, [0.2, 0.1]])]),
                            index=ids, columns=event_cols)
    est_ar = pd.DataFrame(np.vstack([EST, EST[0]]), index=ids, columns=est_cols)
    panel = SimpleNamespace(
        events=pd.DataFrame({"status": ["ok", "ok", "ok", "insufficient_history"]}, index=ids),
        event_ar=event_ar,
        est_ar=est_ar,
        event_var=None,
        event_market=None,
        est_market=None,
    )
    if with_market:
        panel.event_market = pd.DataFrame(np.hstack([np.zeros((4, 1)), np.vstack([EVENT_M, EVENT_M[0]])]),
                                          index=ids, columns=event_cols)
        panel.est_market = pd.DataFrame(np.vstack([EST_M, EST_M[0]]), index=ids, columns=est_cols)
    return panel


def test_from_panel_tests_the_ok_events_over_the_window():
    panel = _panel()
    table = from_panel(panel, (0, 1))
    full_event = panel.event_ar.to_numpy()[:3]
    expected = battery(full_event, EST, event_market=panel.event_market.to_numpy()[:3],
                       est_market=EST_M, days=[1, 2])
    pd.testing.assert_frame_equal(table, expected)
    assert table.attrs["window"] == (0, 1)
    assert list(table["n"]) == [3] * len(TESTS)
    assert _row(table, "caar_t")["statistic"] == approx(_row(battery(EVENT, EST), "caar_t")["statistic"])


def test_from_panel_reads_event_var_and_ids_column():
    panel = _panel(with_market=False)
    panel.event_var = pd.DataFrame(1e-4, index=panel.event_ar.index, columns=panel.event_ar.columns)
    panel.events = panel.events.reset_index()  # ids in an "id" column
    table = from_panel(panel, (0, 0), tests=["patell"])
    z = np.sum(EVENT[:, 0] / math.sqrt(1e-4)) / math.sqrt(6)
    assert table["statistic"].iloc[0] == approx(z, rel=1e-12)
    assert table["n"].iloc[0] == 3


def test_from_panel_by_day():
    table = from_panel(_panel(), (0, 1), by_day=True)
    assert list(table.index) == [0, 1] and table.index.name == "relative_day"
    assert "patell_p" in table.columns
    assert table.loc[0, "sign"] == approx((2 - 1.5) / math.sqrt(0.75))


def test_from_panel_takes_n_params_from_the_model():
    panel = _panel(with_market=False)
    panel.spec = SimpleNamespace(model="mean")  # one parameter: d_i = T_i - 1 = 5
    table = from_panel(panel, (0, 1), tests=["patell"])
    expected = battery(EVENT, EST, n_params=1, tests=["patell"])
    assert table["statistic"].iloc[0] == approx(expected["statistic"].iloc[0], rel=1e-12)
    assert table["statistic"].iloc[0] != approx(battery(EVENT, EST, tests=["patell"])["statistic"].iloc[0])


def test_lamb_without_benchmark_returns():
    # the engine's mean model gives all-NaN benchmark frames, and event_var
    nan_m = np.full_like(EST_M, np.nan)
    table = battery(EVENT, EST, event_var=np.full_like(EVENT, 1e-4),
                    event_market=np.full_like(EVENT_M, np.nan), est_market=nan_m)
    row = _row(table, "lamb")
    assert math.isnan(row["statistic"]) and math.isnan(row["p_value"]) and row["n"] == 3
    assert row["note"] == "needs benchmark returns on the estimation and window days"
    assert table["statistic"].notna().sum() == len(TESTS) - 1
    # without event_var the forecast-error variance cannot be computed: every event is left out
    table = battery(EVENT, EST, event_market=np.full_like(EVENT_M, np.nan), est_market=nan_m)
    assert table["n"].eq(0).all()
    assert "3 without a forecast-error variance" in table["note"].iloc[0]


def test_from_panel_window_must_be_in_the_panel():
    with pytest.raises(ValueError, match=r"relative day\(s\) \[2\]"):
        from_panel(_panel(), (0, 2))


# --------------------------------------------------------------------------- #
# Properties
# --------------------------------------------------------------------------- #


def _random_case(seed: int, n: int, t: int, length: int, gaps: int):
    """Market-model-like residuals of n events; ``gaps`` missing estimation residuals."""
    rng = np.random.default_rng(seed)
    est_m = np.tile(rng.normal(0, 0.01, t), (n, 1))
    event_m = np.tile(rng.normal(0, 0.01, length), (n, 1))
    common = rng.normal(0, 0.005, t + length)  # some cross-correlation
    scale = rng.uniform(0.5, 2.0, (n, 1)) * 0.01
    est = rng.normal(0, 1, (n, t)) * scale + common[:t]
    event = rng.normal(0.002, 1, (n, length)) * scale + common[t:]
    rows = rng.integers(0, n, gaps)
    cols = rng.integers(0, t, gaps)
    est[rows, cols] = np.nan
    return event, est, event_m, est_m


_cases = st.tuples(
    st.integers(0, 2**32 - 1),       # seed
    st.integers(4, 9),               # events
    st.integers(12, 30),             # estimation days
    st.integers(1, 3),               # event days
    st.integers(0, 6),               # missing estimation residuals
)


def _all(event, est, event_m, est_m, convention, days=None):
    return battery(event, est, event_market=event_m, est_market=est_m,
                   convention=convention, days=days)


@settings(max_examples=60, deadline=None)
@given(case=_cases, convention=st.sampled_from(["textbook", "estudy2"]), data=st.data())
def test_invariant_to_the_order_of_events(case, convention, data):
    event, est, event_m, est_m = _random_case(*case)
    order = np.array(data.draw(st.permutations(range(event.shape[0]))))
    a = _all(event, est, event_m, est_m, convention)
    b = _all(event[order], est[order], event_m[order], est_m[order], convention)
    np.testing.assert_allclose(a["statistic"], b["statistic"], rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a["p_value"], b["p_value"], rtol=1e-9, atol=1e-12)
    assert list(a["n"]) == list(b["n"])


@settings(max_examples=60, deadline=None)
@given(case=_cases, convention=st.sampled_from(["textbook", "estudy2"]), data=st.data())
def test_event_missing_a_window_day_changes_nothing_but_the_note(case, convention, data):
    event, est, event_m, est_m = _random_case(*case)
    n, length = event.shape
    extra = np.vstack([event, np.full(length, 0.03)])
    day = data.draw(st.integers(0, length - 1))
    extra[-1, day] = np.nan
    where = data.draw(st.integers(0, n))  # anywhere among the events
    order = np.insert(np.arange(n), where, n)
    a = _all(event, est, event_m, est_m, convention)
    b = _all(extra[order], np.vstack([est, est[0]])[order],
             np.vstack([event_m, event_m[0]])[order], np.vstack([est_m, est_m[0]])[order],
             convention)
    np.testing.assert_allclose(a["statistic"], b["statistic"], rtol=1e-9, atol=1e-12)
    assert list(a["n"]) == list(b["n"]) == [n] * len(TESTS)
    assert all("missing window data" in note for note in b["note"])


@settings(max_examples=60, deadline=None)
@given(case=_cases, convention=st.sampled_from(["textbook", "estudy2"]), data=st.data())
def test_p_values_are_probabilities(case, convention, data):
    event, est, event_m, est_m = _random_case(*case)
    first = data.draw(st.integers(0, event.shape[1] - 1))
    for table in (
        _all(event, est, event_m, est_m, convention, days=slice(first, None)),
        battery(event, est, convention=convention),  # no benchmark: Lamb undefined
    ):
        defined = table["statistic"].notna()
        assert table.loc[defined, "p_value"].between(0.0, 1.0).all()
        assert table.loc[~defined, "p_value"].isna().all()
        assert defined.sum() >= len(TESTS) - 1
    by_day = battery_by_day(event, est, event_market=event_m, est_market=est_m,
                            convention=convention, p_values=True)
    p = by_day[[f"{t}_p" for t in TESTS]].to_numpy()
    assert np.all((p >= 0) & (p <= 1))


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(-0.1, 0.1, allow_nan=False), min_size=3 * 8, max_size=3 * 8))
def test_p_values_on_arbitrary_values(values):
    # arbitrary (possibly degenerate: ties, zeros, constant) values: p is a
    # probability wherever the statistic is defined, NaN where it is not
    x = np.array(values).reshape(3, 8)
    table = battery(x[:, 6:], x[:, :6], event_market=x[:, 6:] * 0.5, est_market=x[:, :6] * 0.5)
    defined = table["statistic"].notna()
    assert table.loc[defined, "p_value"].between(0.0, 1.0).all()
    assert table.loc[~defined, "p_value"].isna().all()


# --------------------------------------------------------------------------- #
# The estudy2 vignette (MONITOR_REFERENCE_DATA)
# --------------------------------------------------------------------------- #


@pytest.fixture
def estudy2_folder() -> Path:
    folder = os.environ.get("MONITOR_REFERENCE_DATA")
    if not folder:
        pytest.skip("MONITOR_REFERENCE_DATA is not set: no reference data folder to read")
    path = Path(folder) / "event_study" / "estudy2"
    if not path.is_dir():
        pytest.skip(f"{path} is missing")
    return path


def _vignette_tables(text: str) -> pd.DataFrame:
    """The vignette's printed data frames, side by side, one row per date.

    R prints each data frame in blocks of right-aligned columns: a header line
    of column names, then one line per row starting with the row number. A
    cell is the text between the end of the previous column name and the end
    of its own, so empty significance cells are read as "".
    """
    columns: dict[str, dict[int, str]] = {}
    header: list[tuple[str, int, int]] = []
    for line in text.splitlines():
        if not line.startswith("#>"):
            continue
        body = line[2:]
        first = body.split()[0]
        if not first.isdigit():
            header = [(m.group(), m.start(), m.end()) for m in re.finditer(r"\S+", body)]
            continue
        row = int(first)
        previous_end = len(first) + (len(body) - len(body.lstrip()))
        for name, _start, end in header:
            columns.setdefault(name, {})[row] = body[previous_end:end].strip()
            previous_end = end
    table = pd.DataFrame(columns)
    return table.set_index(pd.DatetimeIndex(table["date"]))


def _estudy2_inputs(folder: Path):
    rates = pd.read_csv(folder / "rates.csv", index_col="date", parse_dates=True)
    index = pd.read_csv(folder / "rates_indx.csv", index_col="date", parse_dates=True)["^GSPC"]
    estimation, event = slice("2019-04-01", "2020-03-13"), slice("2020-03-16", "2020-03-20")
    est_ar, event_ar = market_model_abnormal(rates, index, estimation, event)
    n = rates.shape[1]
    # estudy2 keeps the benchmark on every estimation day, also those on which
    # a firm (ZM and UBER before their listing) has no return
    est_market = np.tile(index.loc[estimation].to_numpy(), (n, 1))
    event_market = np.tile(index.loc[event].to_numpy(), (n, 1))
    return event_ar, est_ar, event_market, est_market


def _stars(p: float) -> str:
    return "***" if p <= 0.01 else "**" if p <= 0.05 else "*" if p <= 0.1 else ""


@pytest.mark.reference
def test_reproduces_every_estudy2_vignette_statistic(estudy2_folder):
    vignette = _vignette_tables((estudy2_folder / "vignette_estudy2-intro_outputs.txt").read_text())
    printed = sorted(c for c in vignette.columns if c.endswith("_stat"))
    assert printed == sorted(ESTUDY2_COLUMNS), "the vignette prints a statistic we do not map"
    assert len(vignette) == 5

    event_ar, est_ar, event_market, est_market = _estudy2_inputs(estudy2_folder)
    assert est_ar.count().to_dict() == {"AMZN": 240, "ZM": 227, "UBER": 212, "NFLX": 240,
                                        "SHOP": 240, "FB": 240, "UPWK": 240}
    ours = battery_by_day(
        event_ar.to_numpy().T, est_ar.to_numpy().T,
        event_market=event_market, est_market=est_market,
        convention="estudy2", day_labels=event_ar.index, p_values=True,
    )
    assert list(ours.index) == list(vignette.index)
    assert list(ours["n"]) == [7] * 5
    np.testing.assert_allclose(ours["mean"], vignette["mean"].astype(float), rtol=0, atol=5e-9)
    for column, name in ESTUDY2_COLUMNS.items():
        expected = vignette[column].astype(float).to_numpy()
        # printed to 7 significant digits: agreement to 1e-6 (the brief asks for 1e-4)
        np.testing.assert_allclose(ours[name], expected, rtol=0, atol=1e-6, err_msg=column)
        signif = vignette[column.replace("_stat", "_signif")].tolist()
        if name == "wilcoxon":
            # estudy2 flags W+ against one-sided upper quantiles qsignrank(1 - a) (and
            # two-sided lower ones); our p-value is the two-sided one
            assert signif == ["*", "", "", "***", "***"]
            assert [_stars(p) for p in ours[f"{name}_p"]] == ["", "", "", "**", "**"]
        else:
            assert [_stars(p) for p in ours[f"{name}_p"]] == signif, column


@pytest.mark.reference
def test_estudy2_textbook_convention_and_existing_brown_warner(estudy2_folder):
    event_ar, est_ar, event_market, est_market = _estudy2_inputs(estudy2_folder)
    args = dict(event_market=event_market, est_market=est_market, day_labels=event_ar.index)
    estudy2 = battery_by_day(event_ar.to_numpy().T, est_ar.to_numpy().T, convention="estudy2", **args)
    textbook = battery_by_day(event_ar.to_numpy().T, est_ar.to_numpy().T, **args)
    # convention-free statistics agree
    same = ["caar_t", "brown_warner_1980", "brown_warner_1985", "sign", "wilcoxon",
            "kolari_pynnonen"]
    pd.testing.assert_frame_equal(textbook[["n", "mean"]], estudy2[["n", "mean"]])
    for name in same[:-1]:
        np.testing.assert_allclose(textbook[name], estudy2[name], rtol=1e-12, err_msg=name)
    # the others move (ZM and UBER miss estimation days), rank tests in the second decimal
    for name in ("lamb", "patell", "bmp", "generalized_sign", "corrado_sign", "rank",
                 "modified_rank"):
        assert not np.allclose(textbook[name], estudy2[name], rtol=0, atol=1e-6), name
    assert textbook["rank"].iloc[4] == approx(3.036992, abs=1e-6)

    existing = brown_warner_1985(est_ar, event_ar)
    np.testing.assert_allclose(estudy2["brown_warner_1985"], existing["statistic"], rtol=1e-12)
    window = battery(event_ar.to_numpy().T, est_ar.to_numpy().T, tests=["brown_warner_1985"])
    # the window's CAAR over sqrt(5) times the same estimation standard deviation
    sd = float(est_ar.mean(axis=1).std(ddof=1))
    assert window["statistic"].iloc[0] == approx(event_ar.mean(axis=1).sum() / (math.sqrt(5) * sd))
