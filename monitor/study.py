"""Event studies on a researcher's own files: the engine of ``monitor study``.

Inputs
------
EVENTS.csv: one event a row, columns ``symbol`` and ``date`` (YYYY-MM-DD);
optional ``time`` (HH:MM, in the symbol's exchange time zone unless it carries
an offset such as ``16:05-05:00``) and ``id``. With a time, day 0 is the
first session the news can move (after the close: the next session); without
one, the date's session, or the next one when the market was closed.

PRICES.csv, either

* long: ``symbol,date,close`` (optional ``volume``), one row per symbol and
  session; or
* wide: a ``date`` column and one column of closes per symbol.

With ``returns="simple"`` or ``"log"`` the values are daily returns rather
than closes (log returns are turned into simple ones). The sessions of the
file are the grid relative days count on.

Every problem is reported with the row it comes from and the rest is still
computed: an event whose symbol has no prices, a date outside the data, a
duplicate event (the first is kept), cells that are not numbers (treated as
missing, counted per column), gaps in the prices (the engine sees missing
returns), a benchmark column the file lacks (every event that needs it fails
with that reason).
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from monitor import calendars
from monitor.errors import CalendarError, ConfigError, MonitorError

#: Model names the command line accepts, and the engine's names for them.
CLI_MODELS = {"market": "market", "market-adjusted": "market_adjusted", "mean": "mean", "ff3": "ff3"}


@dataclass
class Problem:
    """One reported problem: where (file and row, 1 = the header), what, and its consequence."""

    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass
class StudyInput:
    """Parsed inputs: returns (sessions x symbols), optional volumes, events, problems found while reading."""

    returns: pd.DataFrame
    volumes: pd.DataFrame | None
    events: pd.DataFrame  # id, symbol, session, row
    problems: list[Problem] = field(default_factory=list)
    skipped: pd.DataFrame = field(default_factory=pd.DataFrame)  # events not computed: id, symbol, row, status, reason


def parse_span(text: str, what: str) -> tuple[int, int]:
    """``"-250:-11"`` -> (-250, -11); ConfigError with ``what`` named when malformed."""
    try:
        first, last = (int(part) for part in text.split(":"))
    except ValueError:
        raise ConfigError(f"{what} {text!r} is not START:END (for example -250:-11)") from None
    if first > last:
        raise ConfigError(f"{what} {text!r} starts after it ends")
    return first, last


def parse_windows(text: str) -> tuple[tuple[int, int], ...]:
    """``"-1:1,0:5"`` -> ((-1, 1), (0, 5))."""
    spans = tuple(parse_span(part.strip(), "window") for part in text.split(",") if part.strip())
    if not spans:
        raise ConfigError("no event window given; write for example --windows=-1:1,0:5")
    return spans


# --------------------------------------------------------------------------- prices


def read_prices(path: Path, *, returns: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame | None, list[Problem]]:
    """Read PRICES.csv (long or wide) into (returns, volumes or None, problems).

    ``returns``: None when the file holds closes, else "simple" or "log".
    """
    if returns not in (None, "simple", "log"):
        raise ConfigError(f"--returns must be simple or log, not {returns!r}")
    frame = _read_csv(path, "prices")
    columns = {c.strip().lower(): c for c in frame.columns}
    if "date" not in columns:
        raise ConfigError(f"prices file {path} has no date column; the first row must name the columns")
    problems: list[Problem] = []
    if "symbol" in columns:
        value_col = next((columns[c] for c in ("close", "return", "value") if c in columns), None)
        if value_col is None:
            raise ConfigError(f"prices file {path} is long (it has a symbol column) but has no close column")
        symbols = frame[columns["symbol"]].astype(str).str.strip().str.upper()
        long = pd.DataFrame({
            "symbol": symbols,
            "date": _dates(frame[columns["date"]], path, problems),
            "value": _numbers(frame[value_col], f"{path.name} column {value_col}", problems, symbols),
            "row": frame.index + 2,
        })
        if "volume" in columns:
            long["volume"] = _numbers(frame[columns["volume"]], f"{path.name} column volume", problems, symbols)
        long = long[long["date"].notna()]
        dup = long.duplicated(["symbol", "date"], keep="last")
        for row in long.loc[dup, ["symbol", "date", "row"]].itertuples():
            problems.append(Problem(f"{path.name} row {row.row}", f"{row.symbol} {row.date.date()} given again "
                                    "further down; the last one is used"))
        long = long[~dup]
        values = long.pivot(index="date", columns="symbol", values="value").sort_index()
        volumes = (
            long.pivot(index="date", columns="symbol", values="volume").sort_index().reindex(values.index)
            if "volume" in long else None
        )
    else:
        dates = _dates(frame[columns["date"]], path, problems)
        values = pd.DataFrame(
            {str(c).strip().upper(): _numbers(frame[c], f"{path.name} column {c}", problems)
             for c in frame.columns if c != columns["date"]},
        )
        values.index = dates
        values = values[values.index.notna()]
        dup = values.index.duplicated(keep="last")
        if dup.any():
            problems.append(Problem(path.name, f"{int(dup.sum())} date(s) given twice; the last row of each is used"))
        values = values[~dup].sort_index()
        volumes = None
    values.index = pd.DatetimeIndex(values.index, name="session")
    values.columns.name = None
    if returns is None:
        with np.errstate(divide="ignore", invalid="ignore"):
            rets = values / values.shift(1) - 1.0
        rets = rets.replace([np.inf, -np.inf], np.nan)
        rets.iloc[0] = np.nan
    elif returns == "log":
        rets = np.expm1(values)
    else:
        rets = values.astype("float64")
    return rets.astype("float64"), volumes, problems


def _read_csv(path: Path, what: str) -> pd.DataFrame:
    if not path.is_file():
        raise ConfigError(f"{what} file not found: {path}")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {what} file {path}: {exc}; save it as UTF-8 CSV") from None
    if not text.strip():
        raise ConfigError(f"{what} file {path} is empty")
    try:
        return pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, csv.Error) as exc:
        raise ConfigError(f"{what} file {path} is not a readable CSV: {exc}") from None


def _dates(column: pd.Series, path: Path, problems: list[Problem]) -> pd.Series:
    parsed = pd.to_datetime(column.str.strip().str[:10], format="%Y-%m-%d", errors="coerce")
    for index in np.flatnonzero(parsed.isna().to_numpy()):
        problems.append(Problem(f"{path.name} row {index + 2}", f"date {column.iloc[index]!r} is not YYYY-MM-DD; "
                                "the row is left out"))
    return parsed


def _numbers(column: pd.Series, where: str, problems: list[Problem], labels: pd.Series | None = None) -> pd.Series:
    """Numbers of a text column; cells that are not numbers become NaN and are reported (``labels``: the symbols)."""
    text = column.astype(str).str.strip()
    values = pd.to_numeric(text.replace({"": None, "NA": None, "NaN": None, "nan": None, "null": None}),
                           errors="coerce")
    bad = values.isna() & ~text.isin(["", "NA", "NaN", "nan", "null"])
    if bad.any():
        first = int(np.flatnonzero(bad.to_numpy())[0])
        of = f" of {labels.iloc[first]}" if labels is not None else ""
        problems.append(Problem(where, f"{int(bad.sum())} cell(s) are not numbers (first: row {first + 2}{of}, "
                                f"{column.iloc[first]!r}); treated as missing"))
    return values.astype("float64")


# --------------------------------------------------------------------------- events


def read_events(path: Path, returns: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, list[Problem]]:
    """Read EVENTS.csv; return (events to compute, events skipped with a reason, problems)."""
    frame = _read_csv(path, "events")
    columns = {c.strip().lower(): c for c in frame.columns}
    missing = [c for c in ("symbol", "date") if c not in columns]
    if missing:
        raise ConfigError(f"events file {path} lacks column(s) {', '.join(missing)}; it needs symbol,date")
    problems: list[Problem] = []
    grid = returns.index
    rows, skipped, seen = [], [], {}
    for index, record in frame.iterrows():
        row = int(index) + 2
        symbol = str(record[columns["symbol"]]).strip().upper()
        ident = str(record[columns["id"]]).strip() if "id" in columns and str(record[columns["id"]]).strip() else f"row{row}"
        raw_date = str(record[columns["date"]]).strip()
        raw_time = str(record[columns["time"]]).strip() if "time" in columns else ""

        def skip(status: str, reason: str) -> None:
            skipped.append({"id": ident, "symbol": symbol, "date": raw_date, "row": row, "status": status,
                            "reason": reason})
            problems.append(Problem(f"{path.name} row {row}", f"{symbol} {raw_date}: {reason}"))

        key = (symbol, raw_date, raw_time)
        if key in seen:
            skip("duplicate", f"the same event as row {seen[key]}; counted once")
            continue
        seen[key] = row
        if ident in {r["id"] for r in rows}:
            skip("duplicate", f"id {ident!r} is used by an earlier row; ids must be unique")
            continue
        try:
            day = date.fromisoformat(raw_date[:10])
        except ValueError:
            skip("bad_date", f"date {raw_date!r} is not YYYY-MM-DD")
            continue
        if symbol not in returns.columns:
            skip("no_prices", f"{symbol} is not in the prices file")
            continue
        held = returns[symbol].dropna()
        if held.empty:
            skip("no_prices", f"{symbol} has no usable price in the prices file")
            continue
        try:
            session = _event_session(symbol, day, raw_time, grid)
        except (ValueError, CalendarError) as exc:
            skip("bad_time", str(exc))
            continue
        if session is None or session > held.index[-1] or pd.Timestamp(day) < held.index[0]:
            skip("out_of_range", f"{day} is outside {symbol}'s prices ({held.index[0].date()} .. "
                 f"{held.index[-1].date()})")
            continue
        rows.append({"id": ident, "symbol": symbol, "session": session, "row": row, "date": raw_date})
    events = pd.DataFrame(rows, columns=["id", "symbol", "session", "row", "date"])
    return events, pd.DataFrame(skipped, columns=["id", "symbol", "date", "row", "status", "reason"]), problems


def _event_session(symbol: str, day: date, raw_time: str, grid: pd.DatetimeIndex) -> pd.Timestamp | None:
    """Day 0 on the prices' grid: with a time, through the symbol's calendar; else the date's session or the next."""
    target = pd.Timestamp(day)
    if raw_time:
        calendar = calendars.calendar_for(symbol)
        parsed = datetime.fromisoformat(f"{day.isoformat()}T{raw_time}")
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=calendars.calendar_tz(calendar))
        target = pd.Timestamp(calendars.event_time(parsed, calendar).session)
    position = grid.searchsorted(target)
    return grid[position] if position < len(grid) else None


# --------------------------------------------------------------------------- running


@dataclass
class StudyReport:
    """What ``monitor study`` computed."""

    events: pd.DataFrame  # one row per input event: id, symbol, date, session, status, reason, per-window columns
    battery: pd.DataFrame  # one row per (window, test): window, test, statistic, p_value, n, caar
    problems: list[Problem]
    model: str
    windows: tuple[tuple[int, int], ...]

    @property
    def failed(self) -> int:
        return int((self.events["status"] != "ok").sum())

    def to_json(self) -> dict[str, Any]:
        def clean(value: Any) -> Any:
            if isinstance(value, float) and not math.isfinite(value):
                return None
            if isinstance(value, (pd.Timestamp, datetime, date)):
                return value.isoformat()[:10]
            if isinstance(value, (np.floating, np.integer, np.bool_)):
                return clean(value.item())
            return value

        return {
            "model": self.model,
            "windows": [list(w) for w in self.windows],
            "events": [{k: clean(v) for k, v in row.items()} for row in self.events.to_dict("records")],
            "battery": [{k: clean(v) for k, v in row.items()} for row in self.battery.to_dict("records")],
            "problems": [str(p) for p in self.problems],
        }


def run_study(
    events_path: Path,
    prices_path: Path,
    *,
    benchmark: str | None = None,
    model: str = "market",
    estimation: tuple[int, int] = (-250, -11),
    windows: Sequence[tuple[int, int]] = ((-1, 1), (0, 5)),
    returns: str | None = None,
    factors_path: Path | None = None,
    min_obs: int = 120,
) -> StudyReport:
    """Read the files, run the engine and the battery, and report every event's outcome.

    Raises
    ------
    ConfigError
        A file is missing or unreadable, lacks its required columns, or the
        options are inconsistent (a market model without a benchmark).
    """
    from monitor.impact.battery import from_panel
    from monitor.impact.engine import StudySpec, run_events

    if model not in CLI_MODELS.values():
        model = CLI_MODELS.get(model, model)
    if model not in CLI_MODELS.values():
        raise ConfigError(f"unknown model {model!r}; use one of {', '.join(CLI_MODELS)}")
    rets, volumes, problems = read_prices(prices_path, returns=returns)
    events, skipped, event_problems = read_events(events_path, rets)
    problems.extend(event_problems)
    market = None
    factors = None
    bench = benchmark.strip().upper() if benchmark else None
    if model in ("market", "market_adjusted"):
        if not bench:
            raise ConfigError(f"the {model.replace('_', '-')} model needs --benchmark SYMBOL (a column of the "
                              "prices file), or use --model mean")
        if bench not in rets.columns:
            problems.append(Problem(prices_path.name, f"no benchmark column {bench}; every event needs it"))
            failed = events.assign(status="no_benchmark", reason=f"the prices file has no {bench} column")
            skipped = pd.concat([skipped, failed[["id", "symbol", "date", "row", "status", "reason"]]],
                                ignore_index=True)
            events = events.iloc[0:0]
        else:
            market = rets[bench]
    if model == "ff3":
        if factors_path is None:
            raise ConfigError("the ff3 model needs --factors FILE (date, mkt_rf, smb, hml, rf)")
        factors = read_factors(factors_path)
    spec = StudySpec(model=model, estimation=estimation, windows=tuple(windows), min_obs=min_obs)
    engine_events = events[["id", "symbol", "session"]] if not events.empty else events
    panel = run_events(rets, engine_events, spec, market=market, factors=factors, volumes=volumes) if len(
        engine_events) else None
    table = _event_table(events, skipped, panel, spec)
    for record in table[table["status"].isin(["insufficient_history", "no_prices", "out_of_range"])
                        & table["row"].isin(events["row"])].itertuples():
        problems.append(Problem(f"{events_path.name} row {record.row}", f"{record.symbol} {record.date}: "
                                f"{record.reason}"))
    battery_rows = []
    if panel is not None:
        for window in spec.windows:
            found = from_panel(panel, window)
            ok = panel.ok()
            caar = float(panel.car(window).loc[ok].mean()) if len(ok) else float("nan")
            for rec in found.to_dict("records"):
                battery_rows.append({"window": f"[{window[0]},{window[1]}]", "caar": caar, **rec})
    battery = pd.DataFrame(battery_rows)
    return StudyReport(events=table, battery=battery, problems=problems, model=model, windows=spec.windows)


def read_factors(path: Path) -> pd.DataFrame:
    """Fama-French factors: date, mkt_rf, smb, hml, rf (fractions; a file in percent is detected and scaled)."""
    frame = _read_csv(path, "factors")
    columns = {c.strip().lower().replace("-", "_"): c for c in frame.columns}
    needed = ["date", "mkt_rf", "smb", "hml", "rf"]
    missing = [c for c in needed if c not in columns]
    if missing:
        raise ConfigError(f"factors file {path} lacks column(s) {', '.join(missing)}; it needs {','.join(needed)}")
    problems: list[Problem] = []
    out = pd.DataFrame({c: _numbers(frame[columns[c]], f"{path.name} column {c}", problems) for c in needed[1:]})
    out.index = pd.DatetimeIndex(_dates(frame[columns["date"]], path, problems), name="session")
    out = out[out.index.notna()].sort_index()
    if out.abs().max().max() > 1.0:  # published in percent
        out = out / 100.0
    return out


def _event_table(events: pd.DataFrame, skipped: pd.DataFrame, panel: Any, spec: Any) -> pd.DataFrame:
    rows = []
    if panel is not None:
        meta = panel.events
        windows = {(rec["id"], tuple(rec["window"])): rec for rec in panel.windows.to_dict("records")}
        for event in events.itertuples():
            info = meta.loc[event.id]
            row = {"id": event.id, "symbol": event.symbol, "date": event.date, "row": event.row,
                   "session": event.session.date().isoformat(), "status": info["status"], "reason": info["reason"],
                   "confounded": bool(info.get("confounded", False)), "n_est": info.get("n_est")}
            for window in spec.windows:
                label = f"[{window[0]},{window[1]}]"
                res = windows.get((event.id, tuple(window)))
                if res is not None:
                    row[f"car{label}"] = res["car"]
                    row[f"bhar{label}"] = res["bhar"]
                    row[f"t{label}"] = res["t_stat"]
                    row[f"complete{label}"] = bool(res["complete"])
            rows.append(row)
    for record in skipped.to_dict("records"):
        rows.append({"id": record["id"], "symbol": record["symbol"], "date": record["date"], "row": record["row"],
                     "session": None, "status": record["status"], "reason": record["reason"]})
    table = pd.DataFrame(rows)
    if table.empty:
        return pd.DataFrame(columns=["id", "symbol", "date", "row", "session", "status", "reason"])
    return table.sort_values("row", kind="stable").reset_index(drop=True)


def write_outputs(report: StudyReport, prefix: Path) -> list[Path]:
    """Write ``PREFIX_events.csv``, ``PREFIX_battery.csv`` and ``PREFIX.json``; return the paths."""
    import json

    prefix.parent.mkdir(parents=True, exist_ok=True)
    paths = [prefix.with_name(prefix.name + "_events.csv"), prefix.with_name(prefix.name + "_battery.csv"),
             prefix.with_name(prefix.name + ".json")]
    report.events.to_csv(paths[0], index=False)
    report.battery.to_csv(paths[1], index=False)
    try:
        paths[2].write_text(json.dumps(report.to_json(), indent=2), encoding="utf-8")
    except OSError as exc:
        raise MonitorError(f"cannot write {paths[2]}: {exc.strerror or exc}") from exc
    return paths


__all__ = ["Problem", "StudyReport", "parse_span", "parse_windows", "read_events", "read_prices", "run_study",
           "write_outputs"]
