"""``monitor study``: an event study on a researcher's own files, bad rows reported, the rest computed."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from monitor import cli
from monitor.errors import ConfigError
from monitor.study import parse_windows, read_prices, run_study

SESSIONS = pd.bdate_range("2023-01-02", periods=320)


def make_prices(tmp_path: Path, *, wide: bool = False, drop: dict[str, list[int]] | None = None,
                junk: tuple[str, int] | None = None) -> Path:
    """Random-walk closes of AAA, BBB, CCC and SPY (seeded), long or wide, with optional gaps and junk."""
    rng = np.random.default_rng(7)
    market = rng.normal(0.0004, 0.01, len(SESSIONS))
    closes = {"SPY": 100 * np.cumprod(1 + market)}
    for i, symbol in enumerate(("AAA", "BBB", "CCC")):
        own = 0.5 * market + rng.normal(0, 0.015, len(SESSIONS))
        own[250 + i] += 0.08  # an abnormal jump on each event day
        closes[symbol] = 50 * np.cumprod(1 + own)
    frame = pd.DataFrame(closes, index=SESSIONS).round(6).astype(object)
    for symbol, rows in (drop or {}).items():
        frame.loc[frame.index[rows], symbol] = ""
    if junk:
        frame.loc[frame.index[junk[1]], junk[0]] = "n/a?"
    path = tmp_path / ("wide.csv" if wide else "long.csv")
    if wide:
        out = frame.reset_index(names="date")
        out["date"] = out["date"].dt.strftime("%Y-%m-%d")
        out.to_csv(path, index=False)
    else:
        long = frame.reset_index(names="date").melt(id_vars="date", var_name="symbol", value_name="close")
        long["date"] = long["date"].dt.strftime("%Y-%m-%d")
        long[["symbol", "date", "close"]].to_csv(path, index=False)
    return path


def make_events(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "events.csv"
    path.write_text("symbol,date,id\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


GOOD = [f"AAA,{SESSIONS[250].date()},e1", f"BBB,{SESSIONS[251].date()},e2", f"CCC,{SESSIONS[252].date()},e3"]


def test_a_clean_study_gives_each_event_and_the_battery(tmp_path: Path) -> None:
    report = run_study(make_events(tmp_path, GOOD), make_prices(tmp_path), benchmark="SPY",
                       windows=parse_windows("0:0,-1:1"))
    assert report.failed == 0 and report.problems == []
    events = report.events.set_index("id")
    assert list(events["status"]) == ["ok", "ok", "ok"]
    assert (events["car[0,0]"] > 0.05).all()  # the planted jumps
    assert (events["t[0,0]"] > 2).all()
    tests = set(report.battery["name"])
    assert {"caar_t", "brown_warner_1985", "patell", "bmp", "kolari_pynnonen", "generalized_sign"} <= tests
    assert any(name.startswith("corrado") or name == "rank" for name in tests)
    day0 = report.battery[report.battery["window"] == "[0,0]"]
    assert day0["caar"].iloc[0] == pytest.approx(events["car[0,0]"].mean())
    assert day0["p_value"].between(0, 1).all()


def test_wide_and_long_files_give_the_same_results(tmp_path: Path) -> None:
    long = run_study(make_events(tmp_path, GOOD), make_prices(tmp_path), benchmark="SPY")
    wide = run_study(make_events(tmp_path, GOOD), make_prices(tmp_path, wide=True), benchmark="spy")
    pd.testing.assert_frame_equal(long.events, wide.events)


def test_returns_files_simple_and_log(tmp_path: Path) -> None:
    closes, _, _ = read_prices(make_prices(tmp_path, wide=True))
    simple = tmp_path / "simple.csv"
    closes.reset_index(names="date").assign(date=lambda f: f["date"].dt.strftime("%Y-%m-%d")).to_csv(
        simple, index=False)
    logs = tmp_path / "log.csv"
    np.log1p(closes).reset_index(names="date").assign(date=lambda f: f["date"].dt.strftime("%Y-%m-%d")).to_csv(
        logs, index=False)
    base = run_study(make_events(tmp_path, GOOD), make_prices(tmp_path, wide=True), benchmark="SPY")
    for path, kind in ((simple, "simple"), (logs, "log")):
        other = run_study(make_events(tmp_path, GOOD), path, benchmark="SPY", returns=kind)
        assert other.events["car[-1,1]"].to_numpy() == pytest.approx(base.events["car[-1,1]"].to_numpy())


def test_bad_rows_are_reported_and_the_rest_computed(tmp_path: Path) -> None:
    rows = GOOD + [
        f"ZZZ,{SESSIONS[250].date()},nope",          # no prices for the symbol
        "AAA,2031-01-02,future",                    # outside the data
        f"AAA,{SESSIONS[250].date()},e1bis",         # the same event again
        "BBB,02/03/2024,bad",                       # not a date
        f"CCC,{SESSIONS[20].date()},early",          # too little history before it
    ]
    prices = make_prices(tmp_path, drop={"BBB": [100, 101, 102]}, junk=("CCC", 10))
    report = run_study(make_events(tmp_path, rows), prices, benchmark="SPY", min_obs=120)
    status = report.events.set_index("id")["status"].to_dict()
    assert status == {"e1": "ok", "e2": "ok", "e3": "ok", "nope": "no_prices", "future": "out_of_range",
                      "e1bis": "duplicate", "bad": "bad_date", "early": "insufficient_history"}
    problems = "\n".join(str(p) for p in report.problems)
    assert "events.csv row 5: ZZZ" in problems and "not in the prices file" in problems
    assert "row 7" in problems and "the same event as row 2" in problems
    assert "long.csv column close: 1 cell(s) are not numbers (first: row 972 of CCC, 'n/a?')" in problems
    assert "events.csv row 9" in problems and "need 120" in problems
    assert report.failed == 5


def test_a_missing_benchmark_column_fails_every_event_with_that_reason(tmp_path: Path) -> None:
    report = run_study(make_events(tmp_path, GOOD), make_prices(tmp_path, wide=True), benchmark="QQQ")
    assert set(report.events["status"]) == {"no_benchmark"}
    assert "no benchmark column QQQ" in "\n".join(str(p) for p in report.problems)
    with pytest.raises(ConfigError, match="needs --benchmark"):
        run_study(make_events(tmp_path, GOOD), make_prices(tmp_path), model="market")
    mean = run_study(make_events(tmp_path, GOOD), make_prices(tmp_path), model="mean")
    assert mean.failed == 0


def test_the_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    events = make_events(tmp_path, GOOD + ["ZZZ,2024-01-02,nope"])
    prices = make_prices(tmp_path)
    status = cli.main(["study", "--events", str(events), "--prices", str(prices), "--benchmark", "SPY",
                       "--windows=-1:1,0:5", "--output", str(tmp_path / "out" / "res"), "--json"])
    captured = capsys.readouterr()
    assert status == 1  # one event could not be computed
    payload = json.loads(captured.out)
    assert [e["status"] for e in payload["events"]] == ["ok", "ok", "ok", "no_prices"]
    assert {b["window"] for b in payload["battery"]} == {"[-1,1]", "[0,5]"}
    assert "warning: events.csv row 5: ZZZ" in captured.err and "3 of 4 event(s) computed" in captured.err
    for name in ("res_events.csv", "res_battery.csv", "res.json"):
        assert (tmp_path / "out" / name).is_file()
    assert cli.main(["study", "--events", str(make_events(tmp_path, GOOD)), "--prices", str(prices),
                     "--benchmark", "SPY"]) == 0
    table = capsys.readouterr().out
    assert "Window [-1,1]: CAAR" in table and "patell" in table
    assert cli.main(["study", "--events", str(events), "--prices", str(tmp_path / "none.csv")]) == 2
    assert "prices file not found" in capsys.readouterr().err
