"""Tests of monitor.impact.engine: hand-computed cases per model, statuses,
confounding, abnormal volume, agreement with the single-event code and with a
brute-force reference, properties, and a smoke run of the benchmark."""

from __future__ import annotations

import importlib.util
import json
import math
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from monitor.errors import DataValidationError
from monitor.impact import event_study
from monitor.impact.engine import MODELS, EventPanel, StudySpec, run_events

approx = pytest.approx
ROOT = Path(__file__).resolve().parent.parent

# --------------------------------------------------------------------------- #
# The hand-computed market-model case of tests/test_impact.py, on a frame
#
# Eight sessions (no session on 2024-12-25). The event is 2024-12-26
# (position 5). Over the estimation days (positions 1-4; position 0 has no
# return) the asset is 0.001 + 1.5 * market + e, e = (0.001, 0.001, -0.001,
# -0.001) orthogonal to (1, market): alpha 0.001, beta 1.5, SSR 4e-6, sigma
# sqrt(4e-6 / 2), mean market 0, Sxx 0.001. Day 0 carries +0.05, day 1 -0.01,
# day 2 has no asset return, day 3 is after the last session.
# --------------------------------------------------------------------------- #

SESSIONS = pd.DatetimeIndex(
    ["2024-12-18", "2024-12-19", "2024-12-20", "2024-12-23",
     "2024-12-24", "2024-12-26", "2024-12-27", "2024-12-30"]
)
EVENT = pd.Timestamp("2024-12-26")
MARKET = pd.Series([np.nan, 0.01, -0.01, 0.02, -0.02, 0.01, -0.02, 0.0], index=SESSIONS,
                   name="MKT")
ASSET = pd.Series([np.nan, 0.017, -0.013, 0.030, -0.030, 0.066, -0.039, np.nan],
                  index=SESSIONS)
RETURNS = pd.DataFrame({"AAA": ASSET})
SIGMA = math.sqrt(2e-6)
WINDOWS = ((0, 0), (0, 1), (0, 2), (0, 3), (-1, 1))


def _spec(model: str = "market", **kwargs) -> StudySpec:
    kwargs.setdefault("estimation", (-5, -1))
    kwargs.setdefault("windows", WINDOWS)
    kwargs.setdefault("min_obs", 4 if model != "ff3" else 5)
    return StudySpec(model=model, **kwargs)


def _events(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["id", "symbol", "session"])


def _window(panel: EventPanel, event_id: str, window: tuple[int, int]) -> pd.Series:
    w = panel.windows
    row = w[(w["id"] == event_id) & (w["start"] == window[0]) & (w["end"] == window[1])]
    assert len(row) == 1
    return row.iloc[0]


def _hand_panel(model: str = "market") -> EventPanel:
    return run_events(RETURNS, _events(("e1", "AAA", EVENT)), _spec(model), market=MARKET)


def test_market_model_hand_computed_fit_and_paths():
    panel = _hand_panel()
    ev = panel.events.loc["e1"]
    assert ev["status"] == "ok" and ev["reason"] is None
    assert ev["n_est"] == 4
    assert ev["alpha"] == approx(0.001, abs=1e-13)
    assert ev["beta"] == approx(1.5, abs=1e-11)
    assert ev["sigma"] == approx(SIGMA, rel=1e-9)
    assert np.isnan(ev[["beta_mkt", "beta_smb", "beta_hml"]].astype(float)).all()
    assert ev["benchmark"] == "MKT"
    ar = panel.event_ar.loc["e1"]
    assert list(ar.index) == [-1, 0, 1, 2, 3]
    np.testing.assert_allclose(ar.to_numpy()[:3], [-0.001, 0.05, -0.01], atol=1e-13)
    assert np.isnan(ar[2]) and np.isnan(ar[3])       # no return / not happened: NaN, not 0
    # s^2 (1 + 1/T + (Rm - mean)^2 / Sxx): mean 0, Sxx 0.001, T 4.
    var = panel.event_var.loc["e1"]
    np.testing.assert_allclose(var.to_numpy()[:3], [2e-6 * 1.65, 2e-6 * 1.35, 2e-6 * 1.65],
                               rtol=1e-8)
    assert np.isnan(var[2]) and np.isnan(var[3])
    np.testing.assert_allclose(panel.est_ar.loc["e1"].to_numpy(),
                               [np.nan, 0.001, 0.001, -0.001, -0.001], atol=1e-13)
    assert list(panel.est_ar.columns) == [-5, -4, -3, -2, -1]
    np.testing.assert_allclose(panel.est_market.loc["e1"].to_numpy(), MARKET.to_numpy()[:5])
    np.testing.assert_allclose(panel.event_market.loc["e1"].to_numpy(),
                               [-0.02, 0.01, -0.02, 0.0, np.nan])


def test_market_model_hand_computed_windows():
    panel = _hand_panel()
    w00 = _window(panel, "e1", (0, 0))
    assert w00["car"] == approx(0.05, abs=1e-13)
    assert w00["n_obs"] == 1 and w00["complete"]
    assert w00["t_stat"] == approx(0.05 / SIGMA, rel=1e-9)
    assert w00["raw"] == approx(0.066)
    assert w00["benchmark"] == approx(0.01)
    assert w00["bhar"] == approx(1.066 - 1.016, abs=1e-13)
    assert w00["window"] == (0, 0)
    w01 = _window(panel, "e1", (0, 1))
    assert w01["car"] == approx(0.04, abs=1e-13)
    assert w01["n_obs"] == 2 and w01["complete"]
    assert w01["t_stat"] == approx(0.04 / (SIGMA * math.sqrt(2)), rel=1e-9)
    assert w01["raw"] == approx(1.066 * 0.961 - 1)
    assert w01["benchmark"] == approx(1.01 * 0.98 - 1)
    assert w01["bhar"] == approx(1.066 * 0.961 - 1.016 * 0.971, abs=1e-13)
    # Day 2 has no asset return, day 3 has not happened: incomplete, same figures
    # over the observed days, never zero-filled.
    for window in ((0, 2), (0, 3)):
        w = _window(panel, "e1", window)
        assert not w["complete"]
        assert w["n_obs"] == 2
        assert w["car"] == approx(0.04, abs=1e-13)
        assert w["t_stat"] == approx(w01["t_stat"])
        assert w["bhar"] == approx(w01["bhar"])
    wm = _window(panel, "e1", (-1, 1))
    assert wm["car"] == approx(0.039, abs=1e-13) and wm["n_obs"] == 3 and wm["complete"]
    assert panel.car((0, 1)).loc["e1"] == approx(0.04, abs=1e-13)
    assert list(panel.ok()) == ["e1"]


def test_mean_model_hand_computed():
    panel = _hand_panel("mean")
    ev = panel.events.loc["e1"]
    y = np.array([0.017, -0.013, 0.030, -0.030])
    s2 = ((y - 0.001) ** 2).sum() / 3            # mean 0.001, ddof 1
    assert ev["sigma"] == approx(math.sqrt(s2), rel=1e-12)
    assert np.isnan(ev["alpha"]) and np.isnan(ev["beta"])
    assert ev["benchmark"] is None
    np.testing.assert_allclose(panel.event_ar.loc["e1"].to_numpy()[:3],
                               [-0.031, 0.065, -0.040], atol=1e-13)
    np.testing.assert_allclose(panel.event_var.loc["e1"].to_numpy()[:3], s2 * 1.25, rtol=1e-12)
    w = _window(panel, "e1", (0, 1))
    assert w["car"] == approx(0.025, abs=1e-13)
    assert w["bhar"] == approx(1.066 * 0.961 - 1.001 ** 2, abs=1e-13)
    assert w["t_stat"] == approx(0.025 / (math.sqrt(s2) * math.sqrt(2)), rel=1e-12)
    assert np.isnan(w["benchmark"])
    assert panel.event_market.isna().all().all() and panel.est_market.isna().all().all()
    np.testing.assert_allclose(panel.est_ar.loc["e1"].to_numpy()[1:], y - 0.001, atol=1e-14)


def test_market_adjusted_model_hand_computed():
    panel = _hand_panel("market_adjusted")
    ev = panel.events.loc["e1"]
    d = np.array([0.007, -0.003, 0.010, -0.010])  # R - Rm over the estimation days
    s2 = ((d - 0.001) ** 2).sum() / 3
    assert ev["sigma"] == approx(math.sqrt(s2), rel=1e-12)
    np.testing.assert_allclose(panel.event_ar.loc["e1"].to_numpy()[:3], [-0.010, 0.056, -0.019],
                               atol=1e-13)
    np.testing.assert_allclose(panel.event_var.loc["e1"].to_numpy()[:3], s2, rtol=1e-12)
    np.testing.assert_allclose(panel.est_ar.loc["e1"].to_numpy()[1:], d, atol=1e-14)
    w = _window(panel, "e1", (0, 1))
    assert w["car"] == approx(0.037, abs=1e-13)
    assert w["bhar"] == approx(1.066 * 0.961 - 1.01 * 0.98, abs=1e-13)


# --------------------------------------------------------------------------- #
# Fama-French 3
# --------------------------------------------------------------------------- #


def _ff3_data(noise: float, seed: int = 3, n: int = 320):
    rng = np.random.default_rng(seed)
    grid = pd.bdate_range("2021-01-04", periods=n)
    factors = pd.DataFrame({
        "mkt_rf": rng.normal(0.0004, 0.01, n),
        "smb": rng.normal(0.0, 0.005, n),
        "hml": rng.normal(0.0, 0.005, n),
        "rf": rng.uniform(0.00001, 0.0002, n),
    }, index=grid)
    asset = (factors["rf"] + 0.0002 + 0.9 * factors["mkt_rf"] + 0.4 * factors["smb"]
             - 0.3 * factors["hml"] + rng.normal(0, noise, n) * (noise > 0))
    return grid, factors, asset


def test_ff3_recovers_true_betas_on_noise_free_data():
    grid, factors, asset = _ff3_data(noise=0.0)
    event = 300
    asset = asset.copy()
    asset.iloc[event] += 0.03                     # the event's abnormal return
    returns = pd.DataFrame({"AAA": asset})
    panel = run_events(returns, _events(("e", "AAA", grid[event])),
                       StudySpec(model="ff3"), factors=factors)
    ev = panel.events.loc["e"]
    assert ev["status"] == "ok"
    assert ev["n_est"] == 240
    assert ev["beta_mkt"] == approx(0.9, abs=1e-9)
    assert ev["beta_smb"] == approx(0.4, abs=1e-9)
    assert ev["beta_hml"] == approx(-0.3, abs=1e-9)
    assert ev["alpha"] == approx(0.0002, abs=1e-11)
    assert np.isnan(ev["beta"])
    assert ev["sigma"] < 1e-8                     # a rounding residue on noise-free data
    ar = panel.event_ar.loc["e"]
    assert ar[0] == approx(0.03, abs=1e-10)
    np.testing.assert_allclose(ar.drop(0).to_numpy(), 0.0, atol=1e-10)
    assert ev["benchmark"] == "mkt_rf+rf"
    np.testing.assert_allclose(panel.event_market.loc["e", 0],
                               factors["mkt_rf"].iloc[event] + factors["rf"].iloc[event])
    assert panel.car((0, 0)).loc["e"] == approx(0.03, abs=1e-10)


def test_ff3_matches_the_matrix_formulas_on_noisy_data():
    grid, factors, asset = _ff3_data(noise=0.01)
    event = 290
    spec = StudySpec(model="ff3", estimation=(-250, -11), windows=((-2, 3),), min_obs=100)
    panel = run_events(pd.DataFrame({"AAA": asset}), _events(("e", "AAA", grid[event])), spec,
                       factors=factors)
    rows = np.arange(event - 250, event - 10)
    X = np.column_stack([np.ones(len(rows)), factors[["mkt_rf", "smb", "hml"]].to_numpy()[rows]])
    y = asset.to_numpy()[rows] - factors["rf"].to_numpy()[rows]
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    s2 = resid @ resid / (len(rows) - 4)
    ev = panel.events.loc["e"]
    np.testing.assert_allclose(ev[["alpha", "beta_mkt", "beta_smb", "beta_hml"]].astype(float),
                               coef, rtol=1e-8, atol=1e-12)
    assert ev["sigma"] == approx(math.sqrt(s2), rel=1e-9)
    days = np.arange(event - 2, event + 4)
    X0 = np.column_stack([np.ones(len(days)), factors[["mkt_rf", "smb", "hml"]].to_numpy()[days]])
    ar = asset.to_numpy()[days] - factors["rf"].to_numpy()[days] - X0 @ coef
    var = s2 * (1 + np.einsum("di,ij,dj->d", X0, np.linalg.inv(X.T @ X), X0))
    np.testing.assert_allclose(panel.event_ar.loc["e"].to_numpy(), ar, rtol=1e-8, atol=1e-13)
    np.testing.assert_allclose(panel.event_var.loc["e"].to_numpy(), var, rtol=1e-8)
    np.testing.assert_allclose(panel.est_ar.loc["e"].to_numpy(), resid, rtol=1e-8, atol=1e-13)


def test_ff3_requires_factors():
    with pytest.raises(ValueError, match="factors"):
        run_events(RETURNS, _events(("e1", "AAA", EVENT)), _spec("ff3"))
    with pytest.raises(DataValidationError, match="hml"):
        run_events(RETURNS, _events(("e1", "AAA", EVENT)), _spec("ff3"),
                   factors=pd.DataFrame({"mkt_rf": MARKET, "smb": MARKET, "rf": MARKET}))


def test_market_model_variance_matches_the_matrix_formula():
    rng = np.random.default_rng(11)
    grid = pd.bdate_range("2020-01-01", periods=400)
    market = pd.Series(rng.normal(0, 0.01, 400), index=grid)
    asset = 0.0003 + 1.2 * market + rng.normal(0, 0.015, 400)
    asset.iloc[[30, 200, 205]] = np.nan
    panel = run_events(pd.DataFrame({"A": asset}), _events(("e", "A", grid[350])),
                       StudySpec(windows=((-3, 4),)), market=market)
    rows = np.arange(100, 340)
    rows = rows[~np.isnan(asset.to_numpy()[rows])]
    X = np.column_stack([np.ones(len(rows)), market.to_numpy()[rows]])
    days = np.arange(347, 355)
    X0 = np.column_stack([np.ones(len(days)), market.to_numpy()[days]])
    coef, *_ = np.linalg.lstsq(X, asset.to_numpy()[rows], rcond=None)
    resid = asset.to_numpy()[rows] - X @ coef
    s2 = resid @ resid / (len(rows) - 2)
    var = s2 * (1 + np.einsum("di,ij,dj->d", X0, np.linalg.inv(X.T @ X), X0))
    assert panel.events.loc["e", "n_est"] == 238
    np.testing.assert_allclose(panel.event_var.loc["e"].to_numpy(), var, rtol=1e-9)


# --------------------------------------------------------------------------- #
# Statuses
# --------------------------------------------------------------------------- #


def _random_frame(n_sessions: int = 400, symbols=("A", "B", "C"), seed: int = 0,
                  start: str = "2019-01-01"):
    rng = np.random.default_rng(seed)
    grid = pd.bdate_range(start, periods=n_sessions)
    market = pd.Series(rng.normal(0.0003, 0.01, n_sessions), index=grid, name="MKT")
    data = {s: 0.0002 + (0.5 + i * 0.4) * market.to_numpy() + rng.normal(0, 0.02, n_sessions)
            for i, s in enumerate(symbols)}
    return grid, pd.DataFrame(data, index=grid), market


def test_forty_sessions_of_history_is_insufficient_not_a_number():
    grid, returns, market = _random_frame(300)
    p = 290
    returns.loc[returns.index[:p - 50], "B"] = np.nan   # first return 50 sessions before
    panel = run_events(returns, _events(("young", "B", grid[p]), ("old", "A", grid[p])),
                       StudySpec(estimation=(-250, -11), min_obs=120), market=market)
    young = panel.events.loc["young"]
    assert young["status"] == "insufficient_history"
    assert young["n_est"] == 40                          # sessions -50 .. -11
    assert young["reason"] == (
        "insufficient history: 40 estimation returns in sessions [-250,-11], need 120")
    for column in ("alpha", "beta", "sigma"):
        assert np.isnan(young[column])
    assert panel.event_ar.loc["young"].isna().all()
    assert panel.event_var.loc["young"].isna().all()
    assert panel.est_ar.loc["young"].isna().all()
    rows = panel.windows[panel.windows["id"] == "young"]
    for column in ("car", "bhar", "t_stat"):
        assert rows[column].isna().all()
    assert (rows["n_obs"] == 0).all()
    assert np.isnan(panel.car((0, 5)).loc["young"])
    # The observed move is still reported, as by the single-event code.
    raw = rows.loc[rows["start"] == 0, "raw"].iloc[0]
    assert raw == approx(returns["B"].iloc[p])
    assert list(panel.ok()) == ["old"]


def test_insufficient_history_matches_single_event_reason():
    grid, returns, market = _random_frame(300)
    returns.loc[returns.index[:-60], "C"] = np.nan
    panel = run_events(returns, _events(("c", "C", grid[-5])), StudySpec(), market=market)
    single = event_study(returns["C"], market, grid[-5])
    assert single.status == "insufficient_history"
    assert panel.events.loc["c", "reason"] == single.reason


def test_no_prices_out_of_range_and_non_session_dates():
    grid, returns, market = _random_frame(400)
    saturday = grid[300] + pd.Timedelta(days=5 - grid[300].day_of_week)   # the Saturday after
    assert saturday.day_of_week == 5
    events = _events(
        ("missing", "ZZZ", grid[300]),
        ("future", "A", grid[-1] + pd.Timedelta(days=3)),
        ("past", "A", grid[0] - pd.Timedelta(days=10)),
        ("weekend", "A", saturday),
        ("monday", "A", saturday + pd.Timedelta(days=2)),
        ("nat", "A", pd.NaT),
    )
    panel = run_events(returns, events, StudySpec(), market=market)
    ev = panel.events
    assert ev.loc["missing", "status"] == "no_prices"
    assert ev.loc["missing", "reason"] == "no prices: symbol 'ZZZ' is not a column of returns"
    assert ev.loc["future", "status"] == "out_of_range"
    assert "after the last session" in ev.loc["future", "reason"]
    assert ev.loc["past", "status"] == "out_of_range"
    assert "before the first session" in ev.loc["past", "reason"]
    assert ev.loc["nat", "status"] == "out_of_range"
    assert pd.isna(ev.loc["future", "session"])
    # A Saturday maps to the next session, the Monday: identical results.
    assert ev.loc["weekend", "status"] == "ok"
    assert ev.loc["weekend", "session"] == saturday + pd.Timedelta(days=2)
    assert ev.loc["weekend", "given_session"] == saturday
    np.testing.assert_array_equal(panel.event_ar.loc["weekend"], panel.event_ar.loc["monday"])
    assert ev.loc["weekend", "duplicates"] == 1 and not ev.loc["weekend", "confounded"]
    for bad in ("missing", "future", "past", "nat"):
        assert panel.event_ar.loc[bad].isna().all()
        assert ev.loc[bad, "n_est"] == 0
        rows = panel.windows[panel.windows["id"] == bad]
        assert rows[["raw", "car", "bhar", "t_stat"]].isna().all().all()
        assert not rows["complete"].any()
    assert sorted(panel.ok()) == ["monday", "weekend"]


def test_benchmarks_per_event_and_no_benchmark():
    grid, returns, market = _random_frame(400, symbols=("A", "B", "SPY"))
    other = market * 0.5 + 0.001
    markets = pd.DataFrame({"MKT": market, "OTHER": other})
    events = pd.DataFrame({
        "id": ["a", "b", "c", "d", "e"],
        "symbol": ["A", "A", "B", "B", "A"],
        "session": [grid[350]] * 5,
        "benchmark": ["MKT", "OTHER", "SPY", "NOPE", None],
    })
    panel = run_events(returns, events, StudySpec(), market=markets)
    ev = panel.events
    assert ev.loc["a", "benchmark"] == "MKT" and ev.loc["a", "status"] == "ok"
    assert ev.loc["b", "benchmark"] == "OTHER"
    assert ev.loc["c", "benchmark"] == "SPY"              # a symbol of returns
    assert ev.loc["d", "status"] == "no_benchmark"
    assert "'NOPE' is neither a column of market nor a symbol of returns" in ev.loc["d", "reason"]
    assert ev.loc["e", "status"] == "no_benchmark"         # several markets, none named
    for event_id, series in (("a", market), ("b", other), ("c", returns["SPY"])):
        single = event_study(returns[ev.loc[event_id, "symbol"]], series, grid[350])
        assert panel.car((0, 5)).loc[event_id] == approx(single.windows[2].car, abs=1e-12)
    np.testing.assert_allclose(panel.event_market.loc["b"].to_numpy(),
                               other.to_numpy()[349:356])
    # Several benchmarks in one run, with gaps, for every model that uses one.
    returns.iloc[::37, 0] = np.nan
    markets.iloc[::53, 1] = np.nan
    for model in ("market", "market_adjusted"):
        panel = run_events(returns, events, StudySpec(model=model), market=markets)
        for event_id, series in (("a", markets["MKT"]), ("b", markets["OTHER"]),
                                 ("c", returns["SPY"])):
            single = event_study(returns[ev.loc[event_id, "symbol"]], series, grid[350],
                                 model=model)
            assert panel.events.loc[event_id, "n_est"] == single.fit.n_obs
            assert panel.events.loc[event_id, "sigma"] == approx(single.fit.sigma, rel=1e-10)
            for w in single.windows:
                assert panel.car(w.window).loc[event_id] == approx(w.car, abs=1e-12)
    # A single series applies to every event without a benchmark.
    panel = run_events(returns, events.drop(columns="benchmark"), StudySpec(), market=market)
    assert (panel.events["status"] == "ok").all()
    assert (panel.events["benchmark"] == "MKT").all()
    with pytest.raises(ValueError, match="needs market returns"):
        run_events(returns, events.drop(columns="benchmark"), StudySpec())


def test_benchmark_and_factors_are_aligned_on_the_grid_by_session():
    grid, returns, market = _random_frame(400)
    shuffled = market.drop(grid[100]).iloc[::-1].sort_index()    # one session lacking
    extra = pd.concat([shuffled, pd.Series([0.5], index=[grid[-1] + pd.Timedelta(days=1)])])
    panel = run_events(returns, _events(("a", "A", grid[350])), StudySpec(), market=extra)
    aligned = market.copy()
    aligned.iloc[100] = np.nan
    single = event_study(returns["A"], aligned, grid[350])
    assert panel.events.loc["a", "n_est"] == single.fit.n_obs == 239
    assert panel.car((0, 5)).loc["a"] == approx(single.windows[2].car, abs=1e-12)


def test_constant_benchmark_is_insufficient_history():
    grid, returns, _ = _random_frame(300)
    flat = pd.Series(0.001, index=grid)
    panel = run_events(returns, _events(("a", "A", grid[280])), StudySpec(), market=flat)
    assert panel.events.loc["a", "status"] == "insufficient_history"
    assert "constant" in panel.events.loc["a", "reason"]
    assert np.isnan(panel.events.loc["a", "beta"])


def test_input_contract_errors():
    grid, returns, market = _random_frame(300)
    with pytest.raises(DataValidationError, match="duplicated ids"):
        run_events(returns, _events(("a", "A", grid[280]), ("a", "B", grid[280])), market=market)
    with pytest.raises(DataValidationError, match="time of day"):
        run_events(returns, _events(("a", "A", grid[280] + pd.Timedelta(hours=15))),
                   market=market)
    bad = returns.copy()
    bad.iloc[3, 0] = np.inf
    with pytest.raises(DataValidationError, match="infinite"):
        run_events(bad, _events(("a", "A", grid[280])), market=market)
    with pytest.raises(DataValidationError, match="lacks column"):
        run_events(returns, pd.DataFrame({"id": ["a"], "symbol": ["A"]}), market=market)
    with pytest.raises(DataValidationError, match="sorted"):
        run_events(returns.iloc[::-1], _events(("a", "A", grid[280])), market=market)


def test_study_spec_validation():
    with pytest.raises(ValueError, match="unknown model"):
        StudySpec(model="capm")
    with pytest.raises(ValueError, match="ends before it starts"):
        StudySpec(windows=((2, 1),))
    with pytest.raises(ValueError, match="no event window"):
        StudySpec(windows=())
    with pytest.raises(ValueError, match="min_obs"):
        StudySpec(model="ff3", min_obs=4)
    spec = StudySpec(windows=[[0, 0], [-1, 1]], estimation=[-100, -10])
    assert spec.windows == ((0, 0), (-1, 1)) and spec.estimation == (-100, -10)
    assert spec.confound_span == (-100, 1)
    assert StudySpec(confound_window=(-5, 5)).confound_span == (-5, 5)
    assert set(MODELS) == {"market", "market_adjusted", "mean", "ff3"}


def test_empty_events_and_empty_grid():
    grid, returns, market = _random_frame(300)
    empty = pd.DataFrame({"id": pd.Series([], dtype=object), "symbol": pd.Series([], dtype=object),
                          "session": pd.Series([], dtype="datetime64[ns]")})
    panel = run_events(returns, empty, StudySpec(), market=market)
    assert len(panel.events) == 0 and len(panel.windows) == 0
    assert panel.event_ar.shape == (0, 7) and panel.est_ar.shape == (0, 240)
    panel = run_events(returns.iloc[:0], _events(("a", "A", grid[10])), StudySpec(),
                       market=market)
    assert panel.events.loc["a", "status"] == "out_of_range"


# --------------------------------------------------------------------------- #
# Confounding and abnormal volume
# --------------------------------------------------------------------------- #


def test_confounded_flag():
    grid, returns, market = _random_frame(700, symbols=("A", "B"))
    p = 500
    events = _events(
        ("a0", "A", grid[p]),
        ("a0dup", "A", grid[p]),          # same session: a duplicate, not a confounder
        ("a3", "A", grid[p + 3]),         # inside a0's window (-250..5) and vice versa
        ("a_early", "A", grid[p - 100]),  # inside a0's window; a0 is not inside its own
        ("a_far", "A", grid[p - 400]),    # far: nobody in its window
        ("b0", "B", grid[p]),             # another symbol
    )
    panel = run_events(returns, events, StudySpec(), market=market)
    ev = panel.events
    assert ev.loc["a0", "confounded"] and ev.loc["a0dup", "confounded"]
    assert ev.loc["a3", "confounded"]
    assert not ev.loc["a_early", "confounded"]      # a0 is 100 sessions after: beyond day 5
    assert not ev.loc["a_far", "confounded"]
    assert not ev.loc["b0", "confounded"]
    assert ev.loc["a0", "duplicates"] == 1 and ev.loc["a0dup", "duplicates"] == 1
    assert ev.loc["a3", "duplicates"] == 0
    # Only duplicates: not confounded.
    panel = run_events(returns, events.iloc[[0, 1]], StudySpec(), market=market)
    assert not panel.events["confounded"].any()
    # A narrower confound window.
    panel = run_events(returns, events, StudySpec(confound_window=(-2, 2)), market=market)
    assert not panel.events.loc["a0", "confounded"]   # a3 is at +3
    assert not panel.events.loc["a3", "confounded"]   # a0 is at -3
    panel = run_events(returns, events, StudySpec(confound_window=(-3, 0)), market=market)
    assert panel.events.loc["a3", "confounded"] and not panel.events.loc["a0", "confounded"]


def test_abnormal_volume_by_hand():
    grid, returns, market = _random_frame(60, symbols=("A", "B"))
    rng = np.random.default_rng(5)
    volumes = pd.DataFrame({"A": rng.uniform(1e5, 5e5, 60)}, index=grid)
    volumes.iloc[40, 0] = np.nan
    volumes.iloc[41, 0] = 0.0                       # no trade: missing for the log
    p = 55
    volumes.iloc[p, 0] = 2e6
    spec = StudySpec(estimation=(-20, -2), windows=((0, 0),), min_obs=10)
    panel = run_events(returns, _events(("a", "A", grid[p]), ("b", "B", grid[p])), spec,
                       market=market, volumes=volumes)
    est = volumes["A"].to_numpy()[p - 20:p - 1]
    est = est[est > 0]
    assert len(est) == 17
    ev = panel.events
    assert ev.loc["a", "abnormal_volume_log"] == approx(math.log(2e6 / est.mean()), rel=1e-12)
    z = (math.log(2e6) - np.log(est).mean()) / np.log(est).std(ddof=1)
    assert ev.loc["a", "abnormal_volume_z"] == approx(z, rel=1e-10)
    assert np.isnan(ev.loc["b", "abnormal_volume_log"])   # no volume column for B
    assert np.isnan(ev.loc["b", "abnormal_volume_z"])
    panel = run_events(returns, _events(("a", "A", grid[p])), spec, market=market)
    assert np.isnan(panel.events.loc["a", "abnormal_volume_z"])


# --------------------------------------------------------------------------- #
# Agreement with the single-event code and a brute-force reference
# --------------------------------------------------------------------------- #


def _random_study(seed: int, n_events: int = 40):
    rng = np.random.default_rng(seed)
    grid, returns, market = _random_frame(600, symbols=("A", "B", "C", "D"), seed=seed)
    values = returns.to_numpy(copy=True)
    mask = rng.random(values.shape) < 0.03
    values[mask] = np.nan
    values[:200, 3] = np.nan                        # D listed late
    returns = pd.DataFrame(values, index=grid, columns=returns.columns)
    market = market.copy()
    market.iloc[rng.integers(0, 600, 8)] = np.nan
    events = pd.DataFrame({
        "id": [f"e{i}" for i in range(n_events)],
        "symbol": rng.choice(["A", "B", "C", "D"], n_events),
        "session": grid[rng.integers(0, 600, n_events)],
    })
    return grid, returns, market, events


@pytest.mark.parametrize("model", ["market", "mean", "market_adjusted"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_agrees_with_single_event_study(model, seed):
    grid, returns, market, events = _random_study(seed)
    spec = StudySpec(model=model, estimation=(-250, -11), windows=((0, 0), (-1, 1), (0, 5)),
                     min_obs=120)
    panel = run_events(returns, events, spec, market=market)
    checked = 0
    for row in events.itertuples():
        single = event_study(returns[row.symbol], market, row.session, model=model,
                             estimation=spec.estimation, windows=spec.windows,
                             min_obs=spec.min_obs)
        ev = panel.events.loc[row.id]
        if single.status == "insufficient_history":
            assert ev["status"] == "insufficient_history"
            assert ev["reason"] == single.reason
            continue
        assert ev["status"] == "ok"
        checked += 1
        fit = single.fit
        assert ev["n_est"] == fit.n_obs
        assert ev["sigma"] == approx(fit.sigma, rel=1e-10)
        if model == "market":
            assert ev["alpha"] == approx(fit.alpha, abs=1e-12)
            assert ev["beta"] == approx(fit.beta, rel=1e-10, abs=1e-12)
        ar = panel.event_ar.loc[row.id].dropna()
        np.testing.assert_allclose(ar.to_numpy(), single.abnormal.to_numpy(), rtol=0, atol=1e-10)
        assert list(ar.index) == list(single.abnormal.index)
        for w in single.windows:
            ours = _window(panel, row.id, w.window)
            assert ours["n_obs"] == w.n_obs
            for a, b in (("car", w.car), ("t_stat", w.t_stat), ("bhar", w.abnormal_return),
                         ("raw", w.raw_return), ("benchmark", w.benchmark_return)):
                if b is None:
                    assert np.isnan(ours[a])
                else:
                    assert ours[a] == approx(b, rel=1e-10, abs=1e-12), (row.id, w.window, a)
    assert checked >= 15


def _reference_ff3(returns, factors, events, spec):
    """A per-event loop: lstsq on the usable estimation rows; ARs and variances."""
    grid = returns.index
    est0, est1 = spec.estimation
    day0, day1 = spec.event_days
    f = factors.reindex(grid)
    out = {}
    for row in events.itertuples():
        pos = grid.searchsorted(row.session)
        rows = np.arange(max(pos + est0, 0), min(pos + est1, len(grid) - 1) + 1)
        y = returns[row.symbol].to_numpy()[rows] - f["rf"].to_numpy()[rows]
        X = f[["mkt_rf", "smb", "hml"]].to_numpy()[rows]
        ok = ~np.isnan(y) & ~np.isnan(X).any(axis=1)
        X1 = np.column_stack([np.ones(ok.sum()), X[ok]])
        if ok.sum() < spec.min_obs:
            out[row.id] = None
            continue
        coef, *_ = np.linalg.lstsq(X1, y[ok], rcond=None)
        resid = y[ok] - X1 @ coef
        s2 = resid @ resid / (ok.sum() - 4)
        days = pos + np.arange(day0, day1 + 1)
        inside = (days >= 0) & (days < len(grid))
        d = np.clip(days, 0, len(grid) - 1)
        X0 = np.column_stack([np.ones(len(d)), f[["mkt_rf", "smb", "hml"]].to_numpy()[d]])
        ar = returns[row.symbol].to_numpy()[d] - f["rf"].to_numpy()[d] - X0 @ coef
        ar[~inside] = np.nan
        var = s2 * (1 + np.einsum("di,ij,dj->d", X0, np.linalg.inv(X1.T @ X1), X0))
        var[np.isnan(ar)] = np.nan
        out[row.id] = (coef, math.sqrt(s2), ar, var, int(ok.sum()))
    return out


@pytest.mark.parametrize("seed", [4, 5])
def test_ff3_agrees_with_a_brute_force_reference(seed):
    grid, returns, _, events = _random_study(seed)
    rng = np.random.default_rng(seed)
    factors = pd.DataFrame({
        "mkt_rf": rng.normal(0.0004, 0.01, len(grid)), "smb": rng.normal(0, 0.005, len(grid)),
        "hml": rng.normal(0, 0.005, len(grid)), "rf": rng.uniform(0, 0.0002, len(grid)),
    }, index=grid)
    factors.iloc[rng.integers(0, len(grid), 6), 1] = np.nan
    spec = StudySpec(model="ff3", min_obs=120)
    panel = run_events(returns, events, spec, factors=factors)
    reference = _reference_ff3(returns, factors, events, spec)
    for event_id, ref in reference.items():
        ev = panel.events.loc[event_id]
        if ref is None:
            assert ev["status"] == "insufficient_history"
            continue
        coef, sigma, ar, var, n_est = ref
        assert ev["status"] == "ok" and ev["n_est"] == n_est
        np.testing.assert_allclose(ev[["alpha", "beta_mkt", "beta_smb", "beta_hml"]].astype(float),
                                   coef, rtol=1e-8, atol=1e-11)
        assert ev["sigma"] == approx(sigma, rel=1e-9)
        np.testing.assert_allclose(panel.event_ar.loc[event_id].to_numpy(), ar, atol=1e-11)
        np.testing.assert_allclose(panel.event_var.loc[event_id].to_numpy(), var, rtol=1e-8)


# --------------------------------------------------------------------------- #
# Properties
# --------------------------------------------------------------------------- #


@st.composite
def studies(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    n_sessions = draw(st.integers(30, 160))
    n_symbols = draw(st.integers(1, 4))
    grid = pd.bdate_range("2022-01-03", periods=n_sessions)
    market = pd.Series(rng.normal(0, 0.01, n_sessions), index=grid)
    values = rng.normal(0, 0.02, (n_sessions, n_symbols)) + market.to_numpy()[:, None]
    values[rng.random(values.shape) < draw(st.sampled_from([0.0, 0.05, 0.3]))] = np.nan
    symbols = [f"S{i}" for i in range(n_symbols)]
    returns = pd.DataFrame(values, index=grid, columns=symbols)
    n_events = draw(st.integers(1, 25))
    events = pd.DataFrame({
        "id": [f"e{i}" for i in range(n_events)],
        "symbol": rng.choice(symbols + ["GONE"], n_events),
        "session": grid[rng.integers(0, n_sessions, n_events)]
        + pd.to_timedelta(rng.integers(0, 2, n_events) * 86400, unit="s"),
    })
    windows = draw(st.lists(st.tuples(st.integers(-3, 2), st.integers(0, 4)), min_size=1,
                            max_size=3, unique=True).filter(lambda ws: all(a <= b for a, b in ws)))
    model = draw(st.sampled_from(["market", "market_adjusted", "mean"]))
    spec = StudySpec(model=model, estimation=(-40, -5), windows=tuple(windows), min_obs=5)
    return returns, market, events, spec, rng


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(studies())
def test_car_is_the_sum_of_event_ar_over_the_window(study):
    returns, market, events, spec = study[:4]
    panel = run_events(returns, events, spec, market=market)
    for s, e in spec.windows:
        block = panel.event_ar.loc[:, s:e]
        n_obs = block.notna().sum(axis=1)
        car = panel.car((s, e))
        np.testing.assert_allclose(car[n_obs > 0], block.sum(axis=1)[n_obs > 0], atol=1e-14)
        assert car[n_obs == 0].isna().all()
        np.testing.assert_array_equal(panel.window_values((s, e), "n_obs"), n_obs)
        complete = panel.window_values((s, e), "complete")
        ok = panel.events["status"] == "ok"
        np.testing.assert_array_equal(complete[ok], (n_obs == e - s + 1)[ok])
    ok = panel.ok()
    assert (panel.events.loc[ok, "n_est"] >= spec.min_obs).all()
    np.testing.assert_array_equal(panel.est_ar.loc[ok].notna().sum(axis=1),
                                  panel.events.loc[ok, "n_est"])
    # sigma is the residual sd of the estimation ARs (about their mean for the
    # market-adjusted model), with ddof = number of parameters.
    k = {"market": 2, "market_adjusted": 1, "mean": 1}[spec.model]
    est = panel.est_ar.loc[ok]
    if spec.model == "market_adjusted":
        est = est.sub(est.mean(axis=1), axis=0)
    sd = np.sqrt((est ** 2).sum(axis=1) / (panel.events.loc[ok, "n_est"] - k))
    np.testing.assert_allclose(sd, panel.events.loc[ok, "sigma"], rtol=1e-9, atol=1e-14)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(studies())
def test_results_do_not_depend_on_the_order_of_events(study):
    returns, market, events, spec, rng = study
    panel = run_events(returns, events, spec, market=market)
    shuffled = events.iloc[rng.permutation(len(events))]
    other = run_events(returns, shuffled, spec, market=market)
    ids = panel.events.index
    same = {"check_exact": True}                    # bit for bit
    pd.testing.assert_frame_equal(panel.events, other.events.loc[ids], **same)
    pd.testing.assert_frame_equal(panel.event_ar, other.event_ar.loc[ids], **same)
    pd.testing.assert_frame_equal(panel.event_var, other.event_var.loc[ids], **same)
    pd.testing.assert_frame_equal(panel.est_ar, other.est_ar.loc[ids], **same)
    by_id = other.windows.set_index(["id", "start", "end"])
    mine = panel.windows.set_index(["id", "start", "end"])
    pd.testing.assert_frame_equal(mine, by_id.loc[mine.index], **same)


# --------------------------------------------------------------------------- #
# The panel object
# --------------------------------------------------------------------------- #


def test_panel_dtypes_laziness_and_pickle():
    grid, returns, market, events = _random_study(7, n_events=10)
    panel = run_events(returns, events, StudySpec(), market=market)
    ev = panel.events
    assert ev.index.name == "id" and list(ev.index) == list(events["id"])
    assert ev["n_est"].dtype == np.int64 and ev["confounded"].dtype == bool
    assert ev["sigma"].dtype == np.float64 and ev["status"].dtype == object
    assert panel.windows["n_obs"].dtype == np.int64 and panel.windows["complete"].dtype == bool
    assert list(panel.windows.columns) == ["id", "window", "start", "end", "raw", "benchmark",
                                           "car", "bhar", "t_stat", "n_obs", "complete"]
    assert panel.event_ar.columns.dtype == np.int64
    assert "est_ar" in object.__getattribute__(panel, "__dict__")
    before = panel.est_ar.copy()
    # The panel keeps a copy-on-write snapshot: changing the input afterwards changes nothing.
    returns.iloc[:, :] = 0.5
    pd.testing.assert_frame_equal(panel.est_ar, before)
    clone = pickle.loads(pickle.dumps(panel))
    pd.testing.assert_frame_equal(clone.est_market, panel.est_market)
    pd.testing.assert_frame_equal(clone.windows, panel.windows)
    with pytest.raises(KeyError):
        panel.car((0, 9))
    # A panel can be built directly from frames (for the battery's tests).
    built = EventPanel(spec=panel.spec, events=panel.events, event_ar=panel.event_ar,
                       event_var=panel.event_var, est_ar=before, event_market=panel.event_market,
                       est_market=panel.est_market, windows=panel.windows)
    assert built.est_ar is before


def test_est_frames_are_not_built_until_read():
    grid, returns, market, events = _random_study(8, n_events=10)
    panel = run_events(returns, events, StudySpec(), market=market)
    stored = object.__getattribute__(panel, "est_ar")
    assert not isinstance(stored, pd.DataFrame)
    assert isinstance(panel.est_ar, pd.DataFrame)
    assert isinstance(object.__getattribute__(panel, "est_ar"), pd.DataFrame)


# --------------------------------------------------------------------------- #
# Published references (need MONITOR_REFERENCE_DATA)
# --------------------------------------------------------------------------- #


@pytest.mark.reference
def test_reproduces_estudy2_mean_abnormal_returns(estudy2_rates):
    rates, index = estudy2_rates
    day0 = rates.index.get_loc(pd.Timestamp("2020-03-16"))
    # Estimation: every day from the first (2019-04-02) to 2020-03-13 (day -1).
    spec = StudySpec(estimation=(-day0, -1), windows=((0, 4),), min_obs=3)
    events = pd.DataFrame({"id": list(rates.columns), "symbol": list(rates.columns),
                           "session": pd.Timestamp("2020-03-16")})
    panel = run_events(rates, events, spec, market=index)
    assert (panel.events["status"] == "ok").all()
    np.testing.assert_allclose(
        panel.event_ar.mean(axis=0), [0.02329740, -0.03157867, -0.01617850, 0.07672027, 0.05840545],
        rtol=0, atol=5e-9,
    )


@pytest.mark.reference
def test_demo_figure_cxw_geo_on_2025_02_04(reference_data):
    folder = reference_data / "prices"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    closes = {}
    for symbol in ("CXW", "GEO", "SPY"):
        bars = pd.read_csv(folder / f"{symbol}.csv")
        closes[symbol] = pd.Series(bars["Close"].to_numpy(dtype="float64"),
                                   index=pd.DatetimeIndex(pd.to_datetime(bars["Date"].str[:10])))
    frame = pd.DataFrame(closes)
    returns = frame / frame.shift(1) - 1.0
    events = _events(("cxw", "CXW", pd.Timestamp("2025-02-04")),
                     ("geo", "GEO", pd.Timestamp("2025-02-04")))
    panel = run_events(returns[["CXW", "GEO"]], events, StudySpec(), market=returns["SPY"])
    expected = {"cxw": (-0.06747, -0.05647), "geo": (-0.09360, -0.07782)}
    for event_id, (ar0, raw0) in expected.items():
        assert panel.events.loc[event_id, "status"] == "ok"
        assert panel.events.loc[event_id, "n_est"] == 240
        assert panel.event_ar.loc[event_id, 0] == approx(ar0, abs=1e-4)
        w00 = _window(panel, event_id, (0, 0))
        assert w00["car"] == approx(ar0, abs=1e-4)
        assert w00["raw"] == approx(raw0, abs=1e-5)
        assert w00["benchmark"] == approx(0.0067, abs=1e-4)
        assert w00["complete"]
    assert not panel.events["confounded"].any()        # two symbols: no confounding


# --------------------------------------------------------------------------- #
# The benchmark script, small
# --------------------------------------------------------------------------- #

BENCH = ROOT / "benchmarks" / "bench_event_study.py"
SMALL = ["--events", "2000", "--symbols", "50", "--years", "2", "--compare", "20"]


def test_benchmark_smoke_run():
    done = subprocess.run([sys.executable, str(BENCH), *SMALL, "--json"], capture_output=True,
                          text=True, timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for key in ("events", "symbols", "years", "total_seconds", "core_seconds",
                "prepare_seconds", "assemble_seconds", "events_per_second", "within_target",
                "status", "eventstudy"):
        assert key in report
    assert report["events"] == 2000 and report["symbols"] == 50
    assert report["events_per_second"] > 0
    assert sum(report["status"].values()) == 2000
    cmp = report["eventstudy"]
    if importlib.util.find_spec("eventstudy") is None:
        assert cmp["available"] is False
        return
    assert cmp["available"] is True, cmp.get("error")
    assert cmp["n"] == 20
    assert cmp["identical"] is True, cmp
    assert cmp["max_abs_diff_car"] <= 1e-8 and cmp["max_abs_diff_ar"] <= 1e-8
    assert cmp["speed_ratio"] > 0


def test_benchmark_says_so_when_eventstudy_is_missing(tmp_path):
    fake = tmp_path / "eventstudy"
    fake.mkdir()
    (fake / "__init__.py").write_text("raise ImportError('hidden for the test')\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    done = subprocess.run([sys.executable, str(BENCH), *SMALL], capture_output=True, text=True,
                          timeout=120, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    missing = [line for line in lines if line.startswith("eventstudy not available")]
    assert len(missing) == 1 and "hidden for the test" in missing[0]
    assert any(line.startswith("run_events, market model:") for line in lines)
