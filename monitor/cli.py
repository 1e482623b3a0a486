"""The ``monitor`` command: the only place that sets up logging and prints.

Every :class:`~monitor.errors.MonitorError` ends as one line on stderr
(``error: ...``) and a non-zero exit status; no traceback for a user's mistake.
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
import json
import logging
import os
import sys
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from monitor import __version__
from monitor.errors import MonitorError
from monitor.formatting import num, pct, window_label

log = logging.getLogger("monitor")

DESCRIPTION = """\
Market-impact monitor: links news to the tickers it is about and measures how
far each moved beyond the market (abnormal returns and CARs around the event
session).

Settings come from monitor.toml (or the file in MONITOR_CONFIG) and MONITOR_*
environment variables; see the README's settings table.
"""

EPILOG = """\
examples:
  monitor run --once            one pass over the configured sources; prints the events
  monitor run --once --json     the same as JSON for machines
  monitor run                   keep running: the scheduler (one leader per store; SIGTERM stops it)
  monitor jobs                  the scheduled jobs and their recent runs
  monitor sources               the news sources and their health
  monitor import news a.jsonl   import articles from a JSON Lines file
  monitor tag --input a.jsonl   tag a file of articles, write JSON Lines (nothing stored)
  monitor universe GEO          what the tagger knows about a symbol
  monitor prices fetch CXW --start 2025-01-02   fetch prices into the store
  monitor prices show CXW       the bars the store holds
  monitor study --events e.csv --prices p.csv --benchmark SPY   an event study on your files
  monitor alerts                the latest alerts and their delivery
  monitor digest --date 2025-02-04   the daily digest of a day
  monitor dashboard --port 8050 the web dashboard
  monitor health --json         database, schema, jobs, sources, leader: exit 0 when healthy
  monitor db upgrade            create or migrate the database schema
  monitor db backup store.bak   back the store up (restore with `monitor db restore store.bak`)
"""


def _setup_logging(level: str, console: Console) -> None:
    handler = RichHandler(console=console, show_path=False, show_time=False, markup=False, rich_tracebacks=False)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.WARNING)
    logging.getLogger("monitor").setLevel(level)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="monitor", description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"monitor {__version__}")
    parser.add_argument("--config", metavar="FILE", help="settings file (default: ./monitor.toml; env MONITOR_CONFIG)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log every step (debug level)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = sub.add_parser(
        "run", help="run the pipeline: ingest, tag, place in time, price, measure, store",
        description="Take whatever is new through every stage and print the events with their "
        "day-0 abnormal return and CARs. Running it again adds nothing new.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    run.add_argument("--once", action="store_true",
                     help="one pass, then exit; without it the scheduler runs until SIGTERM or Ctrl-C")
    run.add_argument("--json", action="store_true", help="print the events as JSON instead of a table")
    run.set_defaults(func=cmd_run)

    src = sub.add_parser(
        "sources", help="list the news sources and their health",
        description="Every configured news source with its health: status (ok, degraded, failing, "
        "unhealthy, new), the last poll and the last success, failures or empty polls in a row, the "
        "last poll's counts and error.",
    )
    src.add_argument("--json", action="store_true", help="print as JSON")
    src.set_defaults(func=cmd_sources)

    imp = sub.add_parser("import", help="import news from a file",
                         description="Import articles from a file and take them through the pipeline.")
    impsub = imp.add_subparsers(dest="import_kind", metavar="KIND", required=True)
    news = impsub.add_parser(
        "news", help="import a JSON Lines file of articles",
        description="One article per line: {\"id\", \"title\", \"body\" (or \"summary\"), "
        "\"published_at\" (ISO 8601, optional), \"url\" (optional)}. Bad lines are skipped with "
        "their line number; the articles are tagged, placed in market time and measured like "
        "any other source's.",
    )
    news.add_argument("file", metavar="FILE.jsonl", help="the JSON Lines file")
    news.add_argument("--json", action="store_true", help="print the pass counts as JSON")
    news.set_defaults(func=cmd_import_news)

    tag = sub.add_parser(
        "tag", help="tag a JSON Lines file of articles with the tickers they are about",
        description="Read articles, one JSON object a line ({\"id\", \"title\", \"body\", optional "
        "\"published_at\"}), and write one line per article: {\"id\", \"tickers\": [{\"symbol\", "
        "\"name\", \"relevance\", \"mentions\": [{\"field\", \"start\", \"end\", \"text\", "
        "\"rule\"}]}]}. start/end index into the field (title or body). The tagger is the pipeline's: "
        "the bundled universe with the watchlist on top. Lines that cannot be read are skipped and "
        "reported with their line number; the others are still tagged. Nothing is stored.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  monitor tag --input news.jsonl > tags.jsonl\n"
        "  monitor tag --input news.jsonl --output tags.jsonl --min-relevance 50",
    )
    tag.add_argument("--input", "-i", required=True, metavar="FILE.jsonl", help="the articles ('-' for stdin)")
    tag.add_argument("--output", "-o", metavar="FILE.jsonl", help="where to write (default: stdout)")
    tag.add_argument("--min-relevance", type=float, default=0.0, metavar="N",
                     help="leave out tickers with relevance under N (0-100; default 0: every ticker)")
    tag.add_argument("--json", action="store_true", help="print the run's counts as JSON on stderr at the end")
    tag.set_defaults(func=cmd_tag)

    uni = sub.add_parser(
        "universe", help="what the tagger knows about a symbol or name",
        description="With a symbol: its names, aliases, brands and codes, what it is (asset class, "
        "exchange, calendar, benchmark), where it comes from (listed, curated, crypto, watchlist), "
        "its issuer's other lines, and how the tagger treats its ticker. With other text: the "
        "instruments whose names contain it. Without anything: the universe's size by kind and origin.",
    )
    uni.add_argument("query", nargs="?", help="a symbol (CXW, BTC-USD) or part of a name (corecivic)")
    uni.add_argument("--limit", type=int, default=20, help="most instruments listed for a name search")
    uni.add_argument("--json", action="store_true", help="print as JSON")
    uni.set_defaults(func=cmd_universe)

    prices = sub.add_parser(
        "prices", help="fetch prices into the store, show what it holds",
        description="Prices are cached in the store: a range already held is never asked again, bars of a "
        "session still open are refreshed, and a new split or dividend makes the adjusted history come again.",
    )
    prsub = prices.add_subparsers(dest="prices_command", metavar="ACTION", required=True)
    pf = prsub.add_parser(
        "fetch", help="fetch bars of symbols into the store",
        description="Fetch bars from the configured price source (price_source: snapshot or yahoo) into the "
        "store, with a progress bar. Intraday intervals reach back as far as Yahoo keeps them (1m: 30 days, "
        "7 per request; 2m-90m: 60 days; 60m: 730 days); older ranges fall back to the next coarser interval "
        "and say so.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  monitor prices fetch CXW GEO SPY --start 2025-01-02 --end 2025-02-28\n"
        "  monitor prices fetch CXW --start 2025-02-03 --end 2025-02-07 --interval 5m",
    )
    pf.add_argument("symbols", nargs="+", metavar="SYMBOL", help="Yahoo symbols (CXW, BTC-USD, OCDO.L)")
    pf.add_argument("--start", required=True, type=_date_arg, help="first session, YYYY-MM-DD")
    pf.add_argument("--end", type=_date_arg, help="last session, YYYY-MM-DD (default: today)")
    pf.add_argument("--interval", default="1d", help="1d (default), 1m, 2m, 5m, 15m, 30m, 60m or 90m")
    pf.add_argument("--json", action="store_true", help="print each symbol's outcome as JSON")
    pf.set_defaults(func=cmd_prices_fetch)
    ps = prsub.add_parser(
        "show", help="show the bars the store holds for a symbol",
        description="The bars held for a symbol: time (UTC, and the session), OHLCV, whether final, the "
        "source and data-quality flags (duplicate, nan, split_move); then the corporate actions held.",
    )
    ps.add_argument("symbol", metavar="SYMBOL")
    ps.add_argument("--start", type=_date_arg, help="first session (default: 30 sessions before the last held)")
    ps.add_argument("--end", type=_date_arg, help="last session (default: the last held)")
    ps.add_argument("--interval", default="1d", help="1d (default) or an intraday interval")
    ps.add_argument("--json", action="store_true", help="print as JSON")
    ps.set_defaults(func=cmd_prices_show)

    study = sub.add_parser(
        "study", help="an event study on your own files: per-event results and the test battery",
        description="Run an event study on EVENTS.csv (symbol,date; optional time, id) and PRICES.csv (long: "
        "symbol,date,close[,volume]; or wide: date and one close column per symbol; --returns when the values "
        "are daily returns). Prints each event's CAR, BHAR and t per window, then the cross-event battery per "
        "window (CAAR, cross-sectional t, Brown-Warner 1985, Patell, Boehmer (BMP), Kolari-Pynnonen, Corrado "
        "rank, generalized sign, with p-values). Every bad row is reported with its reason and the rest is "
        "computed; exit status 1 when any event could not be computed. Nothing is stored.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  monitor study --events events.csv --prices prices.csv --benchmark SPY\n"
        "  monitor study --events e.csv --prices wide.csv --benchmark ^GSPC --returns log --windows=0:0,0:4 "
        "--output results",
    )
    study.add_argument("--events", required=True, metavar="EVENTS.csv", help="symbol,date[,time][,id]")
    study.add_argument("--prices", required=True, metavar="PRICES.csv", help="long or wide prices (or returns)")
    study.add_argument("--benchmark", metavar="SYMBOL", help="the market column (needed by market models)")
    study.add_argument("--model", default="market", choices=["market", "market-adjusted", "mean", "ff3"],
                       help="normal-return model (default market: OLS on the benchmark)")
    study.add_argument("--factors", metavar="FILE", help="Fama-French factors for --model ff3: date,mkt_rf,smb,hml,rf")
    study.add_argument("--estimation", default="-250:-11", metavar="START:END",
                       help="estimation window in sessions relative to day 0 (default -250:-11)")
    study.add_argument("--windows", default="-1:1,0:5", metavar="A:B,...",
                       help="event windows (default -1:1,0:5); write --windows=-1:1 when it starts with -")
    study.add_argument("--min-obs", type=int, default=120, help="fewest estimation returns for a fit (default 120)")
    study.add_argument("--returns", choices=["simple", "log"], help="the prices file holds daily returns, not closes")
    study.add_argument("--output", metavar="PREFIX", help="also write PREFIX_events.csv, PREFIX_battery.csv, PREFIX.json")
    study.add_argument("--json", action="store_true", help="print the results as JSON")
    study.set_defaults(func=cmd_study)

    jobs = sub.add_parser(
        "jobs", help="the scheduler's jobs and their recent runs",
        description="The jobs `monitor run` schedules (a pipeline pass at the feeds' interval, alert delivery "
        "every minute, the digest at digest_time on weekdays) with their next run, then the recent runs "
        "recorded in job_runs (start, end, status, counts, error).",
    )
    jobs.add_argument("--limit", type=int, default=20, help="most runs listed (default 20)")
    jobs.add_argument("--json", action="store_true", help="print as JSON")
    jobs.set_defaults(func=cmd_jobs)

    alerts = sub.add_parser(
        "alerts", help="the alerts raised and their delivery; send a test alert",
        description="Alerts come from the rules in monitor.toml ([[alert_rules]]) and go to the channels "
        "([[alert_channels]]: log, jsonl, webhook, email) through an outbox: a channel that is down delays an "
        "alert, never loses or repeats it. Without an action: the latest alerts and each channel's delivery.",
    )
    alerts.add_argument("action", nargs="?", choices=["test"], help="test: send a sample alert to every channel")
    alerts.add_argument("--limit", type=int, default=50, help="most alerts listed (default 50)")
    alerts.add_argument("--json", action="store_true", help="print as JSON")
    alerts.set_defaults(func=cmd_alerts)

    digest = sub.add_parser(
        "digest", help="build the daily digest for a day from the store",
        description="The day's stories by ticker with relevance, the biggest abnormal movers with their CARs and "
        "statistics, the alerts raised, and charts: written as an HTML file (opens offline) and a text file in "
        "digest_dir, and e-mailed to digest_to over SMTP when configured. A failed e-mail is recorded and sent "
        "by the next run; a sent one is not sent again.",
    )
    digest.add_argument("--date", type=_date_arg, help="the day, YYYY-MM-DD (default: today in digest_timezone)")
    digest.add_argument("--no-email", action="store_true", help="write the files only")
    digest.add_argument("--force", action="store_true", help="e-mail it again even if it was sent")
    digest.add_argument("--json", action="store_true", help="print the outcome as JSON")
    digest.set_defaults(func=cmd_digest)

    dash = sub.add_parser(
        "dashboard", help="serve the dashboard: stories, tickers, reactions, studies (Plotly Dash)",
        description="Serve the web dashboard on HOST:PORT. It reads the store only: the overview of the latest "
        "events and alerts, a ticker's chart with its news, an event's tagged text and returns, and event "
        "studies over a ticker, theme, source or date range. Every view has a shareable URL.",
    )
    dash.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 in a container)")
    dash.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    dash.add_argument("--debug", action="store_true", help="Dash's debug mode: reloads on code changes, shows errors in the page")
    dash.set_defaults(func=cmd_dashboard)

    health = sub.add_parser(
        "health", help="is the monitor healthy: database, schema, jobs, sources, leader",
        description="Check the database is reachable, the schema is at the newest revision, each scheduled job "
        "succeeded recently, the news sources are healthy and a scheduler holds the leadership. Exit status 0 "
        "when healthy, 1 when not (the reason is printed), so a container health check can call it.",
    )
    health.add_argument("--json", action="store_true", help="print the checks as JSON")
    health.set_defaults(func=cmd_health)

    db = sub.add_parser("db", help="database schema: upgrade, current revision; backup and restore",
                        description="Manage the store's schema (Alembic migrations) and its backups.")
    dbsub = db.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dbsub.add_parser("upgrade", help="create the tables or migrate them to the newest revision")
    up.add_argument("--revision", default="head", help="target revision (default: head)")
    up.set_defaults(func=cmd_db_upgrade)
    cur = dbsub.add_parser("current", help="print the database's revision and the newest one")
    cur.add_argument("--json", action="store_true", help="print as JSON")
    cur.set_defaults(func=cmd_db_current)
    bk = dbsub.add_parser("backup", help="write a backup of the store to FILE (pg_dump for PostgreSQL, SQLite's backup API)")
    bk.add_argument("file", help="the backup file to write")
    bk.add_argument("--json", action="store_true", help="print the outcome as JSON")
    bk.set_defaults(func=cmd_db_backup)
    rs = dbsub.add_parser("restore", help="replace the store's contents with a backup made by `monitor db backup`")
    rs.add_argument("file", help="the backup file to read")
    rs.add_argument("--yes", action="store_true", help="do not ask before replacing a store that holds data")
    rs.add_argument("--json", action="store_true", help="print the outcome as JSON")
    rs.set_defaults(func=cmd_db_restore)
    return parser


# Commands ----------------------------------------------------------------------
def cmd_run(args: argparse.Namespace, out: Console) -> int:
    from monitor.config import load_settings
    from monitor.store.db import open_store

    settings = load_settings()
    if not args.once:
        from monitor.scheduler import STOP_FORCED, run_forever

        status = run_forever(settings)
        if status == STOP_FORCED:
            # A job thread is stuck (a network call, say): leave without it. The
            # database rolls back its open transaction when the connection closes.
            logging.shutdown()
            sys.stderr.flush()
            os._exit(status)
        return status
    engine = open_store(settings.database_url)
    from monitor.pipeline import Pipeline, results_table  # heavy imports after the cheap checks

    pipeline = Pipeline(settings, engine)
    with out.status("running the pipeline", spinner="dots") if not args.json and out.is_terminal else nullcontext():
        report = pipeline.run_pass()
    rows = results_table(engine, settings.window_list)
    if args.json:
        payload = {"pass": report.counts(), "problems": report.problems, "events": rows}
        out.print_json(json.dumps(payload, default=_json_default))
    else:
        _print_events(out, rows, settings.window_list)
        out.print(_summary(report), highlight=False)
        for problem in report.problems:
            out.print(f"[yellow]warning:[/] {problem}", highlight=False)
    engine.dispose()
    return 0


def cmd_sources(args: argparse.Namespace, out: Console) -> int:
    from monitor.config import load_settings
    from monitor.store import repo
    from monitor.store.db import open_store

    settings = load_settings()
    engine = open_store(settings.database_url)
    from monitor.pipeline import make_sources, source_rows  # heavy imports after the cheap checks
    from monitor.tagging.universe import load_watchlist

    configured = make_sources(settings, load_watchlist(settings.watchlist_path))
    with engine.begin() as conn:
        repo.register_sources(conn, source_rows(configured))
    with engine.connect() as conn:
        rows = repo.sources_health(conn)
    names = {src.name for src in configured}
    for row in rows:
        row["configured"] = row["name"] in names
    if args.json:
        out.print_json(json.dumps(rows, default=_json_default))
        return 0
    table = Table(title="News sources", title_justify="left", header_style="bold", box=None, pad_edge=False)
    for name in ("Source", "Status", "Last poll (UTC)", "Last success (UTC)", "Fails", "Empty",
                 "Seen", "New", "Polls", "Last error"):
        table.add_column(name, no_wrap=name != "Last error", overflow="fold")
    for row in rows:
        last = row["last_poll"] or {}
        status = row["status"] + ("" if row["configured"] else " (no longer configured)")
        table.add_row(
            row["name"], status, _stamp(row["last_poll_at"]), _stamp(row["last_success_at"]),
            str(row["consecutive_failures"]), str(row["consecutive_empty"]),
            str(last.get("items_seen", "—")), str(last.get("items_new", "—")), str(row["polls"]),
            row["last_error"] or "",
        )
    out.print(table)
    return 0


def cmd_import_news(args: argparse.Namespace, out: Console) -> int:
    from pathlib import Path

    from monitor.config import load_settings
    from monitor.store.db import open_store

    settings = load_settings()
    path = Path(args.file)
    if not path.is_file():
        raise MonitorError(f"no such file: {path}")
    engine = open_store(settings.database_url)
    from monitor.news.jsonl import JsonLinesSource
    from monitor.pipeline import Pipeline

    source = JsonLinesSource(path, default_tz=settings.tz)
    report = Pipeline(settings, engine, sources=[source]).run_pass()
    if args.json:
        out.print_json(json.dumps({"pass": report.counts(), "problems": report.problems}))
    else:
        out.print(_summary(report), highlight=False)
        for problem in report.problems:
            out.print(f"[yellow]warning:[/] {problem}", highlight=False)
    engine.dispose()
    return 1 if report.problems and report.articles_seen == 0 else 0


def _load_tagger() -> Any:
    from monitor.config import load_settings
    from monitor.pipeline import universe_and_tagger

    return universe_and_tagger(load_settings())[1]


def cmd_tag(args: argparse.Namespace, out: Console) -> int:
    from pathlib import Path

    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn, TransferSpeedColumn

    from monitor.tagging.batch import tag_lines

    if not 0 <= args.min_relevance <= 100:
        raise MonitorError(f"--min-relevance must be between 0 and 100, not {args.min_relevance:g}")
    err = Console(stderr=True)
    if args.input == "-":
        source, total = sys.stdin.buffer, None
    else:
        path = Path(args.input)
        if not path.is_file():
            raise MonitorError(f"no such file: {path}; give --input an existing JSON Lines file")
        try:
            source, total = path.open("rb"), path.stat().st_size
        except OSError as exc:
            raise MonitorError(f"cannot read {path}: {exc.strerror or exc}") from exc
    tagger = _load_tagger()
    try:
        sink = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    except OSError as exc:
        raise MonitorError(f"cannot write {args.output}: {exc.strerror or exc}") from exc
    show = bool(args.output) and err.is_terminal and total is not None
    progress = Progress(
        "[progress.description]{task.description}", BarColumn(), DownloadColumn(), TransferSpeedColumn(),
        TimeRemainingColumn(), console=err, disable=not show,
    )
    try:
        with progress:
            task = progress.add_task("tagging", total=total)
            report = tag_lines(
                source, sink, tagger, min_relevance=args.min_relevance,
                progress=lambda size: progress.advance(task, size),
            )
    finally:
        if source is not sys.stdin.buffer:
            source.close()
        if sink is not sys.stdout:
            sink.close()
        else:
            sink.flush()
    for lineno, reason in report.skipped[:20]:
        err.print(f"[yellow]skipped[/] line {lineno}: {reason}", highlight=False)
    if len(report.skipped) > 20:
        err.print(f"[yellow]skipped[/] {len(report.skipped) - 20} more line(s)", highlight=False)
    if args.json:
        err.print_json(json.dumps({**report.counts(), "skipped_lines": report.skipped}))
    else:
        err.print(
            f"tagged {report.tagged} article(s), {report.with_tickers} with tickers"
            f"{f' at relevance >= {args.min_relevance:g}' if args.min_relevance else ''}; "
            f"{len(report.skipped)} line(s) skipped",
            highlight=False,
        )
    return 1 if report.skipped and report.tagged == 0 else 0


def cmd_universe(args: argparse.Namespace, out: Console) -> int:
    from collections import Counter

    from monitor.tagging.universe import describe

    tagger = _load_tagger()
    universe = tagger.universe
    if not args.query:
        kinds = Counter(i.asset_class.value for i in universe.instruments.values())
        origins = Counter(origin for found in universe.origins.values() for origin in found)
        payload = {"instruments": len(universe), "by_asset_class": dict(kinds), "by_origin": dict(origins),
                   "automaton_keys": getattr(tagger.scanner, "keys", None)}
        if args.json:
            out.print_json(json.dumps(payload))
        else:
            out.print(f"{len(universe)} instruments; by kind: "
                      + ", ".join(f"{k} {n}" for k, n in kinds.most_common())
                      + "; by origin: " + ", ".join(f"{k} {n}" for k, n in origins.most_common()), highlight=False)
        return 0
    exact = universe.get(args.query)
    if exact is not None:
        info = describe(universe, exact.symbol, tagger.lexicon)
        if args.json:
            out.print_json(json.dumps(info))
            return 0
        table = Table(title=f"{info['symbol']}: {info['name']}", title_justify="left", show_header=False,
                      box=None, pad_edge=False)
        table.add_column(style="bold", no_wrap=True)
        table.add_column(overflow="fold")
        for key, value in info.items():
            if key in ("symbol", "name"):
                continue
            if isinstance(value, (list, tuple)):
                value = ", ".join(str(v) for v in value) or "—"
            table.add_row(key.replace("_", " "), "—" if value in (None, "") else str(value))
        out.print(table)
        return 0
    found = universe.search(args.query, limit=args.limit)
    if not found:
        raise MonitorError(
            f"the tagger knows no symbol or name like {args.query!r}; add it to the watchlist "
            "(see seeds/watchlist.toml) to have it tagged"
        )
    rows = [{"symbol": i.symbol, "name": i.name, "asset_class": i.asset_class.value, "exchange": i.exchange}
            for i in found]
    if args.json:
        out.print_json(json.dumps(rows))
        return 0
    table = Table(title=f"Instruments named like {args.query!r}", title_justify="left", header_style="bold",
                  box=None, pad_edge=False)
    for name in ("Symbol", "Name", "Kind", "Exchange"):
        table.add_column(name)
    for row in rows:
        table.add_row(row["symbol"], row["name"], row["asset_class"], row["exchange"] or "—")
    out.print(table)
    return 0


def cmd_study(args: argparse.Namespace, out: Console) -> int:
    from pathlib import Path

    from monitor.study import parse_span, parse_windows, run_study, write_outputs

    report = run_study(
        Path(args.events), Path(args.prices), benchmark=args.benchmark, model=args.model,
        estimation=parse_span(args.estimation, "estimation window"), windows=parse_windows(args.windows),
        returns=args.returns, factors_path=Path(args.factors) if args.factors else None, min_obs=args.min_obs,
    )
    err = Console(stderr=True)
    for problem in report.problems:
        err.print(f"[yellow]warning:[/] {problem}", highlight=False, soft_wrap=True)
    written = write_outputs(report, Path(args.output)) if args.output else []
    if args.json:
        out.print_json(json.dumps(report.to_json(), default=_json_default))
    else:
        _print_study(out, report)
        for path in written:
            out.print(f"wrote {path}", highlight=False)
    ok = len(report.events) - report.failed
    err.print(f"{ok} of {len(report.events)} event(s) computed; {report.failed} could not be", highlight=False)
    return 1 if report.failed else 0


def _print_study(out: Console, report: Any) -> None:
    labels = [f"[{a},{b}]" for a, b in report.windows]
    table = Table(title=f"Events ({report.model} model)", title_justify="left", header_style="bold", box=None,
                  pad_edge=False)
    for name in ("Id", "Symbol", "Session", "Status", *(f"CAR{l} (t)" for l in labels), "Note"):
        table.add_column(name, overflow="fold")
    for row in report.events.to_dict("records"):
        cells = []
        for label in labels:
            car, t = row.get(f"car{label}"), row.get(f"t{label}")
            if car is None or car != car:
                cells.append("—")
            else:
                mark = "" if row.get(f"complete{label}", True) else " (incomplete)"
                cells.append(f"{pct(car)} ({num(t)}){mark}")
        note = row.get("reason") or ("confounded" if row.get("confounded") else "")
        table.add_row(str(row["id"]), row["symbol"], row.get("session") or "—", row["status"], *cells,
                      note if isinstance(note, str) else "")
    out.print(table)
    if report.battery.empty:
        return
    for window, rows in report.battery.groupby("window", sort=False):
        caar = rows["caar"].iloc[0]
        battery = Table(title=f"Window {window}: CAAR {pct(caar)}, {int(rows['n'].max())} event(s)",
                        title_justify="left", header_style="bold", box=None, pad_edge=False)
        for name in ("Test", "Statistic", "p-value", "N"):
            battery.add_column(name, justify="left" if name == "Test" else "right")
        for rec in rows.to_dict("records"):
            battery.add_row(str(rec["name"]), num(rec["statistic"]), num(rec["p_value"]), str(rec["n"]))
        out.print(battery)


def cmd_jobs(args: argparse.Namespace, out: Console) -> int:
    from monitor.config import load_settings
    from monitor.scheduler import describe_jobs, recent_runs
    from monitor.store.db import open_store

    settings = load_settings()
    schedule = describe_jobs(settings)
    engine = open_store(settings.database_url)
    runs = recent_runs(engine, limit=args.limit)
    engine.dispose()
    if args.json:
        out.print_json(json.dumps({"jobs": schedule, "runs": runs}, default=_json_default))
        return 0
    table = Table(title="Jobs", title_justify="left", header_style="bold", box=None, pad_edge=False)
    for name in ("Job", "Trigger", "Next run (UTC)"):
        table.add_column(name)
    for job in schedule:
        table.add_row(str(job["id"]), str(job["trigger"]), str(job["next_run"] or "—"))
    out.print(table)
    runs_table = Table(title="Recent runs", title_justify="left", header_style="bold", box=None, pad_edge=False)
    for name in ("Job", "Started (UTC)", "Finished (UTC)", "Status", "Error"):
        runs_table.add_column(name, overflow="fold")
    for run in runs:
        runs_table.add_row(str(run.get("job")), _stamp(run.get("started_at")), _stamp(run.get("finished_at")),
                           str(run.get("status")), str(run.get("error") or ""))
    out.print(runs_table)
    return 0


def cmd_alerts(args: argparse.Namespace, out: Console) -> int:
    from datetime import timezone

    from monitor import alerts
    from monitor.config import load_settings
    from monitor.store.db import open_store

    settings = load_settings()
    engine = open_store(settings.database_url)
    now = datetime.now(timezone.utc)
    if args.action == "test":
        outcome = alerts.send_test(engine, settings, now)
        engine.dispose()
        payload = outcome if isinstance(outcome, dict) else getattr(outcome, "__dict__", {"result": str(outcome)})
        if args.json:
            out.print_json(json.dumps(payload, default=_json_default))
        else:
            out.print(f"test alert: {payload}", highlight=False)
        failed = [k for k, v in (payload.get("channels") or {}).items() if v != "sent"] if isinstance(payload, dict) else []
        return 1 if failed else 0
    with engine.connect() as conn:
        rows = alerts.list_alerts(conn, limit=args.limit)
    engine.dispose()
    if args.json:
        out.print_json(json.dumps(rows, default=_json_default))
        return 0
    if not rows:
        out.print("no alerts yet: add [[alert_rules]] to monitor.toml (see the README's Alerts section)")
        return 0
    table = Table(title="Alerts", title_justify="left", header_style="bold", box=None, pad_edge=False)
    for name in ("Raised (UTC)", "Rule", "Ticker", "Alert", "Delivery"):
        table.add_column(name, overflow="fold")
    for row in rows:
        deliveries = row.get("deliveries") or []
        status = ", ".join(f"{d.get('channel')}: {d.get('status')}" for d in deliveries)
        table.add_row(_stamp(row.get("created_at")), str(row.get("rule")), str(row.get("symbol")),
                      str(row.get("text")), status)
    out.print(table)
    return 0


def cmd_digest(args: argparse.Namespace, out: Console) -> int:
    from datetime import timezone
    from zoneinfo import ZoneInfo

    from monitor.config import load_settings
    from monitor.digest import run_digest
    from monitor.store.db import open_store

    settings = load_settings()
    day = args.date or datetime.now(timezone.utc).astimezone(ZoneInfo(settings.digest_timezone)).date()
    engine = open_store(settings.database_url)
    summary = run_digest(engine, settings, day, send=not args.no_email, force=args.force)
    engine.dispose()
    if args.json:
        out.print_json(json.dumps(summary, default=_json_default))
    else:
        out.print(f"digest for {day}: {summary.get('html_path')} and {summary.get('text_path')}; "
                  f"e-mail {summary.get('email_status')}", highlight=False)
    return 1 if summary.get("email_status") == "failed" else 0


def _date_arg(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date; write YYYY-MM-DD") from None


def _calendar_of(universe: Any, symbol: str) -> tuple[str, str]:
    """(symbol as the universe spells it, its calendar): the universe's, else from the symbol's suffix."""
    from monitor import calendars

    instrument = universe.get(symbol)
    if instrument is not None:
        return instrument.symbol, instrument.calendar
    symbol = symbol.strip().upper()
    return symbol, calendars.calendar_for(symbol)


def cmd_prices_fetch(args: argparse.Namespace, out: Console) -> int:
    from datetime import timezone

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    from monitor.config import load_settings
    from monitor.prices import INTERVALS
    from monitor.store.db import open_store

    if args.interval not in INTERVALS:
        raise MonitorError(f"unknown interval {args.interval!r}; use one of {', '.join(INTERVALS)}")
    now = datetime.now(timezone.utc)
    end = args.end or now.date()
    if args.start > end:
        raise MonitorError(f"--start {args.start} is after --end {end}")
    settings = load_settings()
    engine = open_store(settings.database_url)
    from monitor.errors import CalendarError, NoPriceDataError, PriceSourceUnavailableError, RateLimitedError
    from monitor.pipeline import make_price_source
    from monitor.prices.cache import ensure_bars

    from monitor.pipeline import make_universe

    source = make_price_source(settings)
    universe = make_universe(settings)
    outcomes = []
    err = Console(stderr=True)
    progress = Progress(
        "[progress.description]{task.description}", BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        console=err, disable=args.json or not err.is_terminal,
    )
    try:
        with progress:
            task = progress.add_task("fetching", total=len(args.symbols))
            for given in args.symbols:
                outcome: dict[str, Any] = {"symbol": given.strip().upper(), "calendar": None,
                                           "interval": args.interval}
                try:
                    symbol, calendar = _calendar_of(universe, given)
                    outcome.update(symbol=symbol, calendar=calendar)
                    progress.update(task, description=f"fetching {symbol}")
                    with engine.begin() as conn:
                        rep = ensure_bars(conn, source, symbol, calendar, args.start, end, now, interval=args.interval)
                    outcome.update(status=str(rep.status), served=rep.served, written=rep.written,
                                   requests=len(rep.requests), refetched=rep.refetched, reason=rep.reason)
                except (NoPriceDataError, RateLimitedError, CalendarError) as exc:
                    outcome.update(status="error", error=str(exc))
                progress.advance(task)
                outcomes.append(outcome)
    except PriceSourceUnavailableError:
        engine.dispose()
        raise
    engine.dispose()
    if args.json:
        out.print_json(json.dumps(outcomes, default=_json_default))
    else:
        table = Table(title=f"Prices fetched from {source.name}", title_justify="left", header_style="bold",
                      box=None, pad_edge=False)
        for name in ("Symbol", "Calendar", "Interval", "Status", "Bars written", "Requests", "Note"):
            table.add_column(name, overflow="fold")
        for o in outcomes:
            served = ",".join(o.get("served") or [])
            note = o.get("error") or o.get("reason") or ""
            if o.get("refetched"):
                note = ("new split or dividend: adjusted history fetched again. " + note).strip()
            interval = o["interval"] if not served or served == o["interval"] else f"{o['interval']} -> {served}"
            table.add_row(o["symbol"], o["calendar"] or "—", interval, o["status"], str(o.get("written", 0)),
                          str(o.get("requests", 0)), note)
        out.print(table)
    return 1 if any(o["status"] == "error" for o in outcomes) else 0


def cmd_prices_show(args: argparse.Namespace, out: Console) -> int:
    from monitor.config import load_settings
    from monitor.store import repo
    from monitor.store.db import open_store

    settings = load_settings()
    engine = open_store(settings.database_url)
    symbol = args.symbol.strip().upper()
    with engine.connect() as conn:
        span = repo.held_span(conn, symbol, args.interval)
        if span is None:
            engine.dispose()
            raise MonitorError(
                f"the store holds no {args.interval} bars of {symbol}; "
                f"fetch them with `monitor prices fetch {symbol} --start YYYY-MM-DD`"
            )
        end = args.end or span[1]
        start = args.start or max(span[0], end - timedelta(days=45))
        bars = repo.load_bars(conn, symbol, args.interval, start, end)
        actions = repo.load_actions(conn, symbol)
    engine.dispose()
    if args.json:
        payload = {
            "symbol": symbol, "interval": args.interval,
            "bars": [
                {"ts": r.ts.isoformat(), "session": r.session.date().isoformat(), "open": r.open, "high": r.high,
                 "low": r.low, "close": r.close, "volume": r.volume, "adjusted": bool(r.adjusted),
                 "final": bool(r.final), "source": r.source, "flags": r.flags.split()}
                for r in bars.itertuples()
            ],
            "actions": [
                {"session": r.session.date().isoformat(), "kind": r.kind, "value": r.value}
                for r in actions.itertuples()
            ],
        }
        out.print_json(json.dumps(payload, default=_json_default))
        return 0
    table = Table(title=f"{symbol} {args.interval} bars held, {start} .. {end} (prices adjusted for splits and "
                  "dividends)", title_justify="left", header_style="bold", box=None, pad_edge=False)
    for name in ("Time (UTC)", "Session", "Open", "High", "Low", "Close", "Volume", "Final", "Source", "Flags"):
        table.add_column(name, justify="right" if name in ("Open", "High", "Low", "Close", "Volume") else "left")
    for r in bars.itertuples():
        table.add_row(
            r.ts.strftime("%Y-%m-%d %H:%M"), r.session.date().isoformat(), _price(r.open), _price(r.high),
            _price(r.low), _price(r.close), "—" if r.volume != r.volume else f"{r.volume:,.0f}",
            "yes" if r.final else "no", r.source, r.flags or "",
        )
    out.print(table)
    if not actions.empty:
        out.print("actions: " + ", ".join(
            f"{r.session.date()} {r.kind} {r.value:g}" for r in actions.itertuples()
        ), highlight=False)
    return 0


def _price(value: float | None) -> str:
    return "—" if value is None or value != value else f"{value:,.4f}".rstrip("0").rstrip(".")


def _stamp(value: datetime | None) -> str:
    return "—" if value is None else value.strftime("%Y-%m-%d %H:%M:%S")


def _summary(report: Any) -> str:
    return (
        f"pass: {report.articles_new} new article(s) of {report.articles_seen} read "
        f"({report.duplicates} already held, {report.repeats} repeat(s) of earlier stories, "
        f"{report.articles_dropped} skipped), {report.events_new} new event(s), "
        f"{report.returns_new} new result row(s), {report.bars_written} price bar(s) written"
    )


def cmd_db_upgrade(args: argparse.Namespace, out: Console) -> int:
    from monitor.config import load_settings
    from monitor.store import db

    settings = load_settings()
    engine = db.make_engine(settings.database_url)
    db.upgrade(engine, args.revision)
    out.print(f"database {db.describe(engine)} at revision {db.current_revision(engine)}", highlight=False)
    return 0


def cmd_db_current(args: argparse.Namespace, out: Console) -> int:
    from monitor.config import load_settings
    from monitor.store import db

    settings = load_settings()
    engine = db.make_engine(settings.database_url)
    current, head = db.current_revision(engine), db.head_revision()
    if args.json:
        out.print_json(json.dumps({"database": db.describe(engine), "current": current, "head": head,
                                   "up_to_date": current == head}))
    else:
        out.print(f"database {db.describe(engine)}: revision {current or 'none (empty)'}, newest {head}",
                  highlight=False)
    return 0 if current == head else 1


def cmd_dashboard(args: argparse.Namespace, out: Console) -> int:
    from dashboards.app import serve
    from monitor.config import load_settings

    settings = load_settings()
    out.print(f"dashboard on http://{args.host}:{args.port}/ (Ctrl-C stops it)", highlight=False)
    serve(settings, host=args.host, port=args.port, debug=args.debug)
    return 0


def cmd_health(args: argparse.Namespace, out: Console) -> int:
    from monitor.config import load_settings
    from monitor.health import check_health

    report = check_health(load_settings())
    if args.json:
        out.print_json(json.dumps(report, default=_json_default))
    else:
        out.print(("healthy" if report["ok"] else "UNHEALTHY") + f" ({report['database']})", highlight=False)
        for check in report["checks"]:
            mark = "ok  " if check["ok"] else ("warn" if check.get("severity") == "warning" else "FAIL")
            out.print(f"  {mark} {check['name']}: {check['detail']}", highlight=False)
    return 0 if report["ok"] else 1


def cmd_db_backup(args: argparse.Namespace, out: Console) -> int:
    from monitor.config import load_settings
    from monitor.ops import backup

    outcome = backup(load_settings().database_url, args.file)
    if args.json:
        out.print_json(json.dumps(outcome, default=_json_default))
    else:
        out.print(f"backup of {outcome['database']} written to {outcome['path']} ({outcome['bytes']:,} bytes)",
                  highlight=False)
    return 0


def cmd_db_restore(args: argparse.Namespace, out: Console) -> int:
    from monitor.config import load_settings
    from monitor.ops import restore

    outcome = restore(load_settings().database_url, args.file, force=args.yes)
    if args.json:
        out.print_json(json.dumps(outcome, default=_json_default))
    else:
        out.print(f"restored {outcome['database']} from {outcome['path']}: revision {outcome['revision']}",
                  highlight=False)
    return 0


# Output ------------------------------------------------------------------------
def _cell(res: dict[str, Any]) -> str:
    if not res or res.get("car") is None:
        return "—"
    t = res.get("t_stat")
    return pct(res["car"]) + ("" if t is None else f" ({t:+.2f})")


def _print_events(out: Console, rows: list[dict[str, Any]], windows: Sequence[tuple[int, int]]) -> None:
    """One table per article: its tickers, event sessions, day-0 moves and CARs (t in brackets)."""
    if not rows:
        out.print("no events yet: no article named a watched ticker (see the watchlist)")
        return
    by_article: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_article.setdefault(row["article_key"], []).append(row)
    for group in by_article.values():
        head = group[0]
        published: datetime = head["published_at"]
        stamp = published.strftime("%Y-%m-%d") + (
            " (date only)" if head["date_only"] else published.strftime(" %H:%M UTC")
        )
        table = Table(title=f"{stamp} · {head['source']} · {head['title']}", title_justify="left",
                      title_style="bold", header_style="bold", pad_edge=False, box=None)
        for name, justify in (("Ticker", "left"), ("Session", "left"), ("Timing", "left"),
                              ("Rel.", "right"), ("Model", "left"), ("Raw d0", "right")):
            table.add_column(name, justify=justify, no_wrap=True)
        for w in windows:
            table.add_column(("AR d0" if w == (0, 0) else f"CAR{window_label(w)}") + " (t)", justify="right", no_wrap=True)
        notes = []
        tags = []
        for row in group:
            first = row["mentions"][0] if row["mentions"] else None
            if first:
                tags.append(f'{row["symbol"]} "{first["matched"]}" ({first["method"]})')
            day0 = row["windows"].get("0:0", {})
            table.add_row(
                row["symbol"], row["session"].isoformat(), row["timing"], f"{row['relevance']:.0f}",
                row["model"] or "—", pct(day0.get("raw_return")),
                *[_cell(row["windows"].get(f"{w[0]}:{w[1]}", {})) for w in windows],
            )
            if row["status"] and row["status"] != "ok":
                notes.append(f"{row['symbol']}: {row['reason'] or row['status']}")
            pending = [window_label(w) for w in windows if row["windows"].get(f"{w[0]}:{w[1]}", {}).get("complete") is False]
            if pending:
                notes.append(f"{row['symbol']}: window {', '.join(pending)} not complete yet")
        out.print(table)
        if tags:
            out.print("  tagged: " + " · ".join(tags), highlight=False)
        for note in notes:
            out.print(f"  note: {note}", highlight=False)
        out.print()


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _configured_level() -> str:
    from monitor.config import load_settings

    try:
        return load_settings().log_level
    except MonitorError:
        return "INFO"  # the command itself reports the settings problem


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    out = Console(soft_wrap=False)
    if not out.is_terminal:
        out = Console(soft_wrap=False, width=160)
    err = Console(stderr=True)
    if args.config:
        os.environ["MONITOR_CONFIG"] = args.config
    _setup_logging("DEBUG" if args.verbose else _configured_level(), err)
    try:
        return int(args.func(args, out) or 0)
    except MonitorError as exc:
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        err.print("interrupted: what was committed is kept; run the command again to continue")
        return 130


if __name__ == "__main__":
    sys.exit(main())
