"""Tests of monitor.impact: hand-computed cases, properties, published references."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats

from monitor.errors import DataValidationError
from monitor.impact import (
    DEFAULT_WINDOWS,
    brown_warner_1985,
    event_study,
    market_model_abnormal,
    simple_returns,
    validate_returns,
)

approx = pytest.approx

# --------------------------------------------------------------------------- #
# A tiny hand-computed market-model case
#
# Eight sessions around Christmas 2024 (no session on the 25th). The event is
# 2024-12-26 (position 5): relative day -1 is 2024-12-24, day 1 2024-12-27,
# day 2 2024-12-30. Position 0 has no return. Over the estimation days
# (positions 1-4) the asset is 0.001 + 1.5 * market + e with
# e = (0.001, 0.001, -0.001, -0.001), orthogonal to (1, market), so OLS gives
# alpha 0.001, beta 1.5, residuals e, SSR 4e-6, sigma sqrt(4e-6 / 2).
# Day 0 carries a shock of +0.05, day 1 of -0.01; day 2 has no asset return.
# --------------------------------------------------------------------------- #

SESSIONS = pd.DatetimeIndex(
    ["2024-12-18", "2024-12-19", "2024-12-20", "2024-12-23",
     "2024-12-24", "2024-12-26", "2024-12-27", "2024-12-30"]
)
EVENT = pd.Timestamp("2024-12-26")
MARKET = pd.Series([np.nan, 0.01, -0.01, 0.02, -0.02, 0.01, -0.02, 0.0], index=SESSIONS)
ASSET = pd.Series([np.nan, 0.017, -0.013, 0.030, -0.030, 0.066, -0.039, np.nan], index=SESSIONS)
SIGMA = math.sqrt(2e-6)


def _market_study(**kwargs):
    kwargs.setdefault("estimation", (-5, -1))
    kwargs.setdefault("windows", [(0, 0), (0, 1), (0, 2), (0, 3), (-1, 1)])
    kwargs.setdefault("min_obs", 4)
    return event_study(ASSET, MARKET, EVENT, model="market", **kwargs)


def test_market_model_fit_hand_computed():
    fit = _market_study().fit
    assert fit.model == "market"
    assert fit.alpha == approx(0.001, abs=1e-12)
    assert fit.beta == approx(1.5, abs=1e-10)
    assert fit.sigma == approx(SIGMA, rel=1e-9)
    assert fit.n_obs == 4  # position 0 has no return
    assert fit.estimation_start == pd.Timestamp("2024-12-19")
    assert fit.estimation_end == pd.Timestamp("2024-12-24")


def test_market_model_windows_hand_computed():
    result = _market_study()
    assert result.status == "ok" and result.reason is None
    w00, w01, w02, w03, wm11 = result.windows

    assert w00.window == (0, 0)
    assert w00.raw_return == approx(0.066)
    assert w00.benchmark_return == approx(0.01)
    assert w00.abnormal_return == approx(1.066 - 1.016)  # expected 0.001 + 1.5 * 0.01
    assert w00.car == approx(0.05)
    assert w00.t_stat == approx(0.05 / SIGMA)
    assert w00.p_value == approx(2 * stats.t.sf(0.05 / SIGMA, 2))
    assert (w00.n_obs, w00.complete) == (1, True)

    # day 1: market -0.02, expected 0.001 - 0.03 = -0.029, asset -0.039 -> AR -0.01
    assert w01.raw_return == approx(1.066 * 0.961 - 1)
    assert w01.benchmark_return == approx(1.01 * 0.98 - 1)
    assert w01.abnormal_return == approx(1.066 * 0.961 - 1.016 * 0.971)
    assert w01.car == approx(0.04)
    assert w01.t_stat == approx(20.0)  # 0.04 / (sqrt(2e-6) * sqrt(2))
    assert (w01.n_obs, w01.complete) == (2, True)

    # day 2 has no asset return: skipped, the window is still complete
    assert w02.car == approx(0.04) and w02.raw_return == approx(w01.raw_return)
    assert (w02.n_obs, w02.complete) == (2, True)

    # day 3 is past the last session: partial sums, incomplete
    assert w03.car == approx(0.04) and w03.abnormal_return == approx(w01.abnormal_return)
    assert (w03.n_obs, w03.complete) == (2, False)

    # day -1 is 2024-12-24 (not the 25th): AR -0.001
    assert wm11.car == approx(-0.001 + 0.05 - 0.01)
    assert wm11.t_stat == approx(0.039 / (SIGMA * math.sqrt(3)))
    assert (wm11.n_obs, wm11.complete) == (3, True)


def test_abnormal_series_by_relative_day():
    abnormal = _market_study().abnormal
    assert abnormal.index.name == "relative_day"
    assert abnormal.index.dtype == np.int64
    assert abnormal.dtype == np.float64
    # relative days -1..3 requested; day 2 has no return, day 3 has not happened
    assert list(abnormal.index) == [-1, 0, 1]
    np.testing.assert_allclose(abnormal.to_numpy(), [-0.001, 0.05, -0.01], atol=1e-12)


def test_insufficient_history():
    result = _market_study(min_obs=5)
    assert result.status == "insufficient_history"
    assert result.reason == "insufficient history: 4 estimation returns in sessions [-5,-1], need 5"
    assert result.fit is None
    assert result.abnormal.empty
    for w in result.windows:
        assert (w.abnormal_return, w.car, w.t_stat, w.p_value, w.n_obs) == (None, None, None, None, 0)
    # Without a fit the raw move is still reported, over the days with a return.
    by_window = {w.window: w for w in result.windows}
    day0 = by_window[(0, 0)]
    assert day0.raw_return == approx(float(ASSET[EVENT]))
    assert day0.benchmark_return == approx(float(MARKET[EVENT]))
    assert [w.complete for w in result.windows] == [True, True, True, False, True]


def test_estimation_window_before_index_start_counts_fewer_obs():
    result = _market_study(estimation=(-30, -1), min_obs=5)
    assert result.reason == (
        "insufficient history: 4 estimation returns in sessions [-30,-1], need 5"
    )


def test_benchmark_gap_removes_the_day_everywhere():
    market = MARKET.copy()
    market.iloc[6] = np.nan  # day 1
    result = event_study(ASSET, market, EVENT, estimation=(-5, -1), windows=[(0, 1)], min_obs=4)
    (w,) = result.windows
    assert w.n_obs == 1
    assert w.raw_return == approx(0.066)  # day 1 left out of the raw return too
    assert w.car == approx(0.05)


def test_event_on_last_session():
    asset = ASSET.copy()
    asset.iloc[7] = 0.005  # 2024-12-30, market 0.0: expected 0.001, AR 0.004
    result = event_study(asset, MARKET, "2024-12-30", estimation=(-7, -3), min_obs=4,
                         windows=[(0, 0), (-1, 1)])
    assert result.status == "ok"
    assert result.fit.beta == approx(1.5)
    w00, wm11 = result.windows
    assert (w00.car, w00.n_obs, w00.complete) == (approx(0.004), 1, True)
    assert (wm11.car, wm11.n_obs, wm11.complete) == (approx(-0.006), 2, False)


def test_event_after_last_session_has_fit_but_no_data():
    result = event_study(ASSET, MARKET, "2024-12-31", estimation=(-7, -1), min_obs=4)
    assert result.status == "no_event_data"
    assert "after the last session 2024-12-30" in result.reason
    assert result.fit is not None and result.fit.n_obs == 6  # positions 1..7 minus day 2's NaN
    assert result.abnormal.empty
    assert len(result.windows) == len(DEFAULT_WINDOWS)
    for w in result.windows:
        assert (w.car, w.n_obs, w.complete) == (None, 0, False)


def test_window_without_any_data():
    asset = ASSET.copy()
    asset.iloc[5:] = np.nan
    result = event_study(asset, MARKET, EVENT, estimation=(-5, -1), windows=[(0, 1)], min_obs=4)
    assert result.status == "no_event_data"
    assert result.fit.beta == approx(1.5)
    (w,) = result.windows
    assert (w.raw_return, w.car, w.n_obs, w.complete) == (None, None, 0, True)


# --------------------------------------------------------------------------- #
# Mean-adjusted and market-adjusted models
# --------------------------------------------------------------------------- #

IDX6 = pd.bdate_range("2024-03-04", periods=6)  # Mon..Mon, weekend skipped


def test_mean_model_hand_computed():
    # estimation returns 0.01, 0.03, -0.01, 0.01: mean 0.01, std (ddof=1) sqrt(0.0008 / 3)
    asset = pd.Series([0.01, 0.03, -0.01, 0.01, 0.05, -0.02], index=IDX6)
    result = event_study(asset, None, IDX6[4], model="mean", estimation=(-4, -1),
                         windows=[(0, 1)], min_obs=4)
    sigma = math.sqrt(0.0008 / 3)
    assert result.fit.sigma == approx(sigma)
    assert result.fit.alpha is None and result.fit.beta is None
    (w,) = result.windows
    assert IDX6[5] == pd.Timestamp("2024-03-11")  # relative day 1 is Monday, not Saturday
    assert w.raw_return == approx(1.05 * 0.98 - 1)
    assert w.benchmark_return is None
    assert w.abnormal_return == approx(1.05 * 0.98 - 1.01**2)
    assert w.car == approx(0.04 - 0.03)
    assert w.t_stat == approx(0.01 / (sigma * math.sqrt(2)))
    assert w.p_value == approx(2 * stats.t.sf(w.t_stat, 3))
    assert (w.n_obs, w.complete) == (2, True)


def test_market_adjusted_model_hand_computed():
    market = pd.Series([0.01, -0.02, 0.0, 0.01, 0.01, 0.02], index=IDX6)
    excess = np.array([0.01, -0.01, 0.02, 0.0])  # mean 0.005, std sqrt(0.0005 / 3)
    asset = pd.Series([*(market.to_numpy()[:4] + excess), 0.04, np.nan], index=IDX6)
    result = event_study(asset, market, IDX6[4], model="market_adjusted",
                         estimation=(-4, -1), windows=[(0, 0), (0, 1)], min_obs=4)
    sigma = math.sqrt(0.0005 / 3)
    assert result.fit.sigma == approx(sigma)
    w00, w01 = result.windows
    assert w00.raw_return == approx(0.04)
    assert w00.benchmark_return == approx(0.01)
    assert w00.abnormal_return == approx(0.03)
    assert w00.car == approx(0.03)
    assert w00.t_stat == approx(0.03 / sigma)
    assert w00.p_value == approx(2 * stats.t.sf(0.03 / sigma, 3))
    assert w01.car == approx(0.03) and w01.n_obs == 1  # day 1 has no return


# --------------------------------------------------------------------------- #
# Argument and contract errors
# --------------------------------------------------------------------------- #


def test_event_before_index_start_is_refused():
    with pytest.raises(DataValidationError, match="before the first session"):
        event_study(ASSET, MARKET, "2024-12-17", min_obs=4)


def test_event_not_a_session_is_refused():
    with pytest.raises(DataValidationError, match="not a session"):
        event_study(ASSET, MARKET, "2024-12-25", min_obs=4)


def test_benchmark_on_another_index_is_refused():
    with pytest.raises(DataValidationError, match="same session index"):
        event_study(ASSET, MARKET.iloc[1:], EVENT, min_obs=4)


@pytest.mark.parametrize("model", ["market", "market_adjusted"])
def test_benchmark_models_need_a_benchmark(model):
    with pytest.raises(ValueError, match="needs a benchmark"):
        event_study(ASSET, None, EVENT, model=model, min_obs=4)


def test_unknown_model_is_refused():
    with pytest.raises(ValueError, match="unknown model"):
        event_study(ASSET, MARKET, EVENT, model="capm")


# --------------------------------------------------------------------------- #
# simple_returns and validate_returns
# --------------------------------------------------------------------------- #


def test_simple_returns_with_a_gap():
    idx = pd.bdate_range("2024-01-08", periods=5)
    closes = pd.Series([100.0, 110.0, np.nan, 121.0, 133.1], index=idx, name="CXW")
    returns = simple_returns(closes)
    assert returns.index.equals(idx) and returns.name == "CXW"
    assert returns.dtype == np.float64
    np.testing.assert_allclose(returns.to_numpy(), [np.nan, 0.1, np.nan, np.nan, 0.1])


def test_simple_returns_refuses_non_positive_closes():
    closes = pd.Series([100.0, 0.0], index=pd.bdate_range("2024-01-08", periods=2))
    with pytest.raises(DataValidationError, match="closes must be positive"):
        simple_returns(closes)


def _series(index, values=None):
    values = np.linspace(0.01, 0.02, len(index)) if values is None else values
    return pd.Series(values, index=index)


_GOOD = pd.DatetimeIndex(["2024-01-02", "2024-01-03", "2024-01-04"])


@pytest.mark.parametrize(
    ("series", "message"),
    [
        (_series(_GOOD.tz_localize("America/New_York")), "naive session labels"),
        (_series(_GOOD[[0, 2, 1]]), "sorted increasing"),
        (_series(_GOOD[[0, 1, 1]]), "duplicated sessions"),
        (_series(_GOOD + pd.Timedelta(hours=16)), "at midnight"),
        (_series(_GOOD, [1, 2, 3]), "float dtype"),
        (_series(_GOOD, [0.01, np.inf, 0.0]), "infinite"),
        (_series(pd.RangeIndex(3)), "DatetimeIndex"),
    ],
    ids=["tz-aware", "unsorted", "duplicated", "not-midnight", "int", "inf", "range-index"],
)
def test_validate_returns_rejects(series, message):
    with pytest.raises(DataValidationError, match=message) as info:
        validate_returns(series, name="CXW returns")
    assert "CXW returns" in str(info.value)


def test_validate_returns_accepts_the_contract_and_returns_it_unchanged():
    series = _series(_GOOD, [np.nan, 0.01, -0.02])
    assert validate_returns(series) is series


# --------------------------------------------------------------------------- #
# Real-shaped synthetic prices: OLS against numpy.polyfit
# --------------------------------------------------------------------------- #


def test_market_model_matches_polyfit_on_synthetic_prices():
    rng = np.random.default_rng(20250204)
    sessions = pd.bdate_range("2023-01-02", periods=300)
    market_r = rng.normal(0.0004, 0.01, len(sessions))
    asset_r = 0.0002 + 1.3 * market_r + rng.normal(0.0, 0.015, len(sessions))
    spy = pd.Series(400 * np.cumprod(1 + market_r), index=sessions)
    cxw = pd.Series(20 * np.cumprod(1 + asset_r), index=sessions)
    cxw.iloc[100] = np.nan  # a missing close: two missing returns
    asset, market = simple_returns(cxw), simple_returns(spy)

    event_pos = 280
    result = event_study(asset, market, sessions[event_pos])
    est = slice(event_pos - 250, event_pos - 10)  # relative days -250..-11
    x, y = market.to_numpy()[est], asset.to_numpy()[est]
    ok = ~np.isnan(x) & ~np.isnan(y)
    beta, alpha = np.polyfit(x[ok], y[ok], 1)
    resid = y[ok] - (alpha + beta * x[ok])

    assert result.status == "ok"
    assert result.fit.n_obs == 238  # 240 sessions minus the two returns around the gap
    assert result.fit.alpha == approx(alpha, rel=1e-9, abs=1e-12)
    assert result.fit.beta == approx(beta, rel=1e-9)
    assert result.fit.sigma == approx(math.sqrt(resid @ resid / (ok.sum() - 2)), rel=1e-9)
    assert result.fit.beta == approx(1.3, abs=0.15)
    day0 = asset.iloc[event_pos] - (alpha + beta * market.iloc[event_pos])
    assert result.windows[0].car == approx(day0, rel=1e-9)


# --------------------------------------------------------------------------- #
# Property: OLS residuals sum to zero; CAR is the sum of the abnormal series
# --------------------------------------------------------------------------- #

_returns = st.floats(min_value=-0.2, max_value=0.2, allow_nan=False, allow_infinity=False)


@settings(max_examples=150, deadline=None)
@given(
    data=st.data(),
    n=st.integers(min_value=12, max_value=40),
)
def test_market_model_properties(data, n):
    market = np.array(data.draw(st.lists(_returns, min_size=n, max_size=n)))
    asset = np.array(data.draw(st.lists(_returns, min_size=n, max_size=n)))
    gaps = data.draw(st.lists(st.booleans(), min_size=n, max_size=n))
    asset[np.array(gaps) & (np.arange(n) % 3 == 0)] = np.nan
    event_pos = data.draw(st.integers(min_value=8, max_value=n - 1))
    est = (-event_pos, -2)
    s = data.draw(st.integers(min_value=-1, max_value=3))
    e = data.draw(st.integers(min_value=s, max_value=6))

    est_rows = slice(0, event_pos - 1)
    usable = ~np.isnan(asset[est_rows])
    assume(usable.sum() >= 3)
    assume(np.ptp(market[est_rows][usable]) > 1e-6)

    index = pd.bdate_range("2024-01-01", periods=n)
    result = event_study(pd.Series(asset, index=index), pd.Series(market, index=index),
                         index[event_pos], estimation=est, windows=[est, (s, e)], min_obs=3)
    w_est, w = result.windows
    scale = 1.0 + np.nansum(np.abs(asset[est_rows])) + np.sum(np.abs(market[est_rows]))
    assert abs(w_est.car) <= 1e-12 * scale * n
    assert w_est.n_obs == result.fit.n_obs
    in_window = result.abnormal.loc[s:e]
    assert w.n_obs == len(in_window)
    if w.n_obs:
        assert w.car == approx(in_window.sum(), rel=1e-12, abs=1e-15)
        assert w.complete == (event_pos + e <= n - 1)
    else:
        assert w.car is None


# --------------------------------------------------------------------------- #
# Published references (need MONITOR_REFERENCE_DATA)
# --------------------------------------------------------------------------- #


@pytest.mark.reference
def test_reproduces_estudy2_brown_warner_1985(estudy2_rates):
    rates, index = estudy2_rates
    estimation_ar, event_ar = market_model_abnormal(
        rates, index, slice("2019-04-01", "2020-03-13"), slice("2020-03-16", "2020-03-20")
    )
    table = brown_warner_1985(estimation_ar, event_ar)

    assert list(table.index) == list(pd.bdate_range("2020-03-16", "2020-03-20"))
    assert list(table["n"]) == [7] * 5
    np.testing.assert_allclose(
        table["mean_ar"], [0.02329740, -0.03157867, -0.01617850, 0.07672027, 0.05840545],
        rtol=0, atol=5e-9,
    )
    np.testing.assert_allclose(
        table["statistic"], [1.858514, -2.519140, -1.290615, 6.120241, 4.659205],
        rtol=0, atol=5e-7,
    )
    # significance stars in the vignette: *, **, (none), ***, ***
    assert list(table["p_value"] < 0.1) == [True, True, False, True, True]
    assert list(table["p_value"] < 0.01) == [False, False, False, True, True]


@pytest.mark.reference
def test_demo_figure_cxw_geo_on_2025_02_04(reference_data):
    folder = reference_data / "prices"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    closes = {}
    for symbol in ("CXW", "GEO", "SPY"):
        bars = pd.read_csv(folder / f"{symbol}.csv")
        closes[symbol] = pd.Series(
            bars["Close"].to_numpy(dtype="float64"),
            index=pd.DatetimeIndex(pd.to_datetime(bars["Date"].str[:10])),
        )
    frame = pd.DataFrame(closes)  # union of the dates, sorted
    returns = {symbol: simple_returns(frame[symbol]) for symbol in frame}

    expected = {"CXW": (-0.06747, -0.05647), "GEO": (-0.09360, -0.07782)}
    for symbol, (ar0, raw0) in expected.items():
        result = event_study(returns[symbol], returns["SPY"], pd.Timestamp("2025-02-04"))
        assert result.status == "ok"
        assert result.fit.n_obs == 240
        assert result.abnormal.loc[0] == approx(ar0, abs=1e-4)
        w00 = result.windows[0]
        assert w00.window == (0, 0)
        assert w00.car == approx(ar0, abs=1e-4)
        assert w00.raw_return == approx(raw0, abs=1e-5)
        assert w00.benchmark_return == approx(0.0067, abs=1e-4)
        assert w00.complete
