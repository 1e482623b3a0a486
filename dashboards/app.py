"""The Dash app: one page shell, a router on the URL, four views, a health route.

Views and their URLs (every state a person can share lives in the URL):

* ``/`` - overview: the latest events with their reactions, filtered and
  sorted in the query string (``?ticker=GEO&min_rel=50&sort=ar&dir=asc&page=2``),
  and the latest alerts;
* ``/ticker/GEO`` - a ticker: price chart with the benchmark, news markers and
  abnormal volume (``?style=line&interval=5m``), its events and their CAR curves;
* ``/event/<article_key>/<symbol>`` - an event: the article with its tagged
  spans, the returns per window and model, the estimation fit, the flags;
* ``/study?ticker=...&theme=...&source=...&from=...&to=...`` - an event study
  of a selection: the CAAR curve and the test battery.

How the URL drives the pages: the router renders a whole page from the path
and the query string. Controls on a page update their results in place and
write the new query string to the address bar; the router recognises its own
page's URL (``page-owner``) and leaves it alone, so the back button and a
shared link re-render from the URL while a filter change only redraws the
table.

The app reads the store only (:mod:`dashboards.queries`) and draws with the
figure builders the digest uses (:mod:`monitor.figures`). No stored text is
ever rendered as HTML (see :mod:`dashboards.ui`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dash
from dash import Input, Output, State, dcc, html, no_update
from flask import jsonify
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from dashboards import queries, ui
from monitor.config import Settings, load_settings
from monitor.errors import MonitorError
from monitor.store.db import describe, make_engine

log = logging.getLogger(__name__)

ASSETS = Path(__file__).resolve().parent / "assets"


@dataclass
class AppContext:
    """What every view needs: the store, the settings and how to show times and windows."""

    engine: Engine
    settings: Settings

    @property
    def tz(self) -> ZoneInfo:
        """The display zone: the digest's (``digest_timezone``, America/New_York by default)."""
        return ZoneInfo(self.settings.digest_timezone)

    @property
    def database(self) -> str:
        return describe(self.engine)

    @property
    def windows(self) -> tuple[tuple[int, int], ...]:
        return self.settings.window_list

    @property
    def car_window(self) -> tuple[int, int]:
        """The CAR column of the lists: [-1,+1] when configured, else the first window other than day 0."""
        if (-1, 1) in self.windows:
            return (-1, 1)
        return next((w for w in self.windows if w != (0, 0)), (0, 0))


def create_app(source: Settings | Engine, *, settings: Settings | None = None) -> dash.Dash:
    """The dashboard for a store: ``Settings`` (its ``database_url``) or an ``Engine``.

    With an engine, ``settings`` gives the display zone, windows, model and
    themes (default: :func:`monitor.config.load_settings`). The database is
    not contacted here: a store that is down shows an error page and
    ``/healthz`` answers 503 until it is back.
    """
    if isinstance(source, Engine):
        engine = source
        settings = settings or load_settings()
    else:
        settings = source
        engine = make_engine(settings.database_url)
        sa_event.listen(engine, "connect", _read_only)
    ctx = AppContext(engine=engine, settings=settings)
    app = dash.Dash(
        __name__,
        title="Market-impact monitor",
        update_title=None,
        assets_folder=str(ASSETS),
        suppress_callback_exceptions=True,
        serve_locally=True,
    )
    app.layout = _shell(ctx)
    _register_router(app, ctx)
    from dashboards import event, overview, study, ticker  # the views import AppContext from here

    for view in (overview, ticker, event, study):
        view.register(app, ctx)
    _register_health(app, ctx)
    app.server.config["dashboard_context"] = ctx
    return app


def _read_only(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API objects
    """The dashboard's own connections cannot write: it reads the store and nothing else.

    SQLite also maps the file into memory (read-heavy random lookups spend
    far less time in system calls); PostgreSQL sessions are read-only.
    """
    sqlite = dbapi_conn.__class__.__module__.startswith("sqlite3")
    cursor = dbapi_conn.cursor()
    if sqlite:
        cursor.execute("PRAGMA mmap_size=536870912")
        cursor.execute("PRAGMA query_only=ON")
    else:
        cursor.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    cursor.close()
    if not sqlite:
        dbapi_conn.commit()  # a SET inside a transaction that is rolled back would be undone


#: Worker threads of the production server: each serves one request (a page or a callback) at a time.
SERVER_THREADS = 8


def serve(settings: Settings, *, host: str = "127.0.0.1", port: int = 8050, debug: bool = False) -> None:
    """Serve the dashboard on ``host:port`` until interrupted (``monitor dashboard``).

    The production server is waitress (a pure-Python WSGI server with a
    thread pool); ``debug`` uses Dash's development server instead, which
    reloads on code changes and shows errors in the page. SIGTERM stops it
    with exit status 0.
    """
    app = create_app(settings)
    log.info("dashboard for %s on http://%s:%d/", describe(app.server.config["dashboard_context"].engine), host, port)
    if debug:
        app.run(host=host, port=port, debug=True)
        return
    import signal

    from waitress import create_server

    server = create_server(app.server, host=host, port=port, threads=SERVER_THREADS, ident="market-impact-monitor")

    def _stop(signum: int, _frame: Any) -> None:
        raise SystemExit(0)

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.run()
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()


# The shell and the router -----------------------------------------------------------
def _shell(ctx: AppContext) -> Any:
    return html.Div([
        dcc.Location(id="url", refresh=False),
        dcc.Store(id="page-owner"),
        dcc.Store(id="page-title"),
        html.Header([
            dcc.Link("Market-impact monitor", href="/", className="brand"),
            html.Nav([
                dcc.Link("Overview", href="/"),
                dcc.Link("Event study", href="/study"),
            ]),
            html.Div([
                html.Label("Ticker", htmlFor="nav-ticker", className="sr-only"),
                dcc.Input(id="nav-ticker", type="search", placeholder="Open a ticker, e.g. GEO", debounce=True,
                          autoComplete="off"),
            ], className="nav-search"),
        ], className="topbar"),
        html.Main(html.P("Loading…", className="muted"), id="page"),
        html.Footer([
            f"Reading {ctx.database} · times in {ctx.settings.digest_timezone} · returns in percent; ",
            "AR: abnormal return (beyond what the benchmark implied), CAR: cumulative AR over a window of sessions, "
            "t: CAR over its standard error from the estimation window.",
        ], className="footer"),
    ], className="app")


Renderer = Callable[[AppContext, list[str], dict[str, str]], tuple[str, Any]]


def render_page(ctx: AppContext, pathname: str | None, search: str | None) -> tuple[str, Any]:
    """(title, content) of the page at ``pathname`` + ``search``; errors become pages, never exceptions."""
    from dashboards import event, overview, study, ticker

    parts = ui.path_parts(pathname)
    query = ui.parse_query(search)
    routes: dict[str, tuple[Renderer, int]] = {
        "": (overview.render, 0), "ticker": (ticker.render, 1), "event": (event.render, 2), "study": (study.render, 0),
    }
    head, args = (parts[0], parts[1:]) if parts else ("", [])
    if head not in routes or len(args) != routes[head][1]:
        return "Page not found", ui.not_found("Page", pathname or "/", "The address does not match a view of "
                                              "the dashboard: the overview (/), a ticker (/ticker/GEO), an event "
                                              "(/event/…/GEO) or a study (/study).")
    renderer = routes[head][0]
    try:
        with ctx.engine.connect() as conn:
            if not queries.has_tables(conn):
                return "No data yet", ui.empty_store(ctx.database)
        return renderer(ctx, args, query)
    except SQLAlchemyError as exc:
        reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300]
        log.warning("page %s: store error: %s", pathname, reason)
        return "Store unavailable", ui.error_page("The store cannot be read", reason, ctx.database)
    except MonitorError as exc:
        return "Error", ui.error_page("This page cannot be shown", str(exc), ctx.database)
    except Exception as exc:  # noqa: BLE001 - a page must never break the app
        log.exception("page %s%s failed", pathname, search or "")
        return "Error", ui.error_page("This page cannot be shown", f"{exc.__class__.__name__}: {exc}", ctx.database)


def _register_router(app: dash.Dash, ctx: AppContext) -> None:
    @app.callback(
        Output("page", "children"), Output("page-owner", "data"), Output("page-title", "data"),
        Input("url", "pathname"), Input("url", "search"), State("page-owner", "data"),
    )
    def route(pathname: str | None, search: str | None, owner: str | None):  # noqa: ANN202
        key = (pathname or "/") + (search or "")
        if owner == key:  # the page itself wrote this URL and already shows it
            return no_update, no_update, no_update
        title, content = render_page(ctx, pathname, search)
        return content, key, f"{title} · Market-impact monitor"

    app.clientside_callback(
        "function(title) { if (title) { document.title = title; } }",
        Input("page-title", "data"),
    )

    @app.callback(
        Output("url", "pathname", allow_duplicate=True), Output("url", "search", allow_duplicate=True),
        Output("nav-ticker", "value"),
        Input("nav-ticker", "value"), prevent_initial_call=True,
    )
    def open_ticker(value: str | None):  # noqa: ANN202
        symbol = (value or "").strip()
        if not symbol:
            return no_update, no_update, no_update
        return ui.ticker_href(symbol.upper()), "", ""


def register_url_sync(app: dash.Dash, store_id: str) -> None:
    """Write a page's query string (the ``data`` of its store ``store_id``) to the address bar.

    Each page keeps its state in a store inside its own layout; its callbacks
    update the store with the results, and this clientside callback copies it
    to ``url.search`` (and ``page-owner``, so the router knows the page
    already shows that URL). Keeping ``url`` out of the page callbacks' outputs
    matters: Dash runs a callback when its inputs are inserted by the router
    unless all its outputs are inserted with them, and the page callbacks must
    not run again on every render. When the store already matches the
    address nothing is written (no extra history entry).
    """
    app.clientside_callback(
        """function(search, pathname, current) {
            const none = window.dash_clientside.no_update;
            if (search === null || search === undefined || search === (current || "")) { return [none, none]; }
            return [search, pathname + search];
        }""",
        Output("url", "search", allow_duplicate=True), Output("page-owner", "data", allow_duplicate=True),
        Input(store_id, "data"), State("url", "pathname"), State("url", "search"),
        prevent_initial_call=True,
    )


def register_click_to_event(app: dash.Dash, graph_id: str) -> None:
    """Open the event a clicked point links to (``customdata`` of news markers and CAR curves).

    Clientside: no round trip; only the dashboard's own ``/event/`` paths are followed.
    """
    app.clientside_callback(
        """function(click) {
            const none = window.dash_clientside.no_update;
            const point = click && click.points && click.points[0];
            let link = point && point.customdata;
            if (Array.isArray(link)) { link = link[0]; }
            if (typeof link === "string" && link.startsWith("/event/")) { return [link, ""]; }
            return [none, none];
        }""",
        Output("url", "pathname", allow_duplicate=True), Output("url", "search", allow_duplicate=True),
        Input(graph_id, "clickData"), prevent_initial_call=True,
    )


# Health -------------------------------------------------------------------------------
def _register_health(app: dash.Dash, ctx: AppContext) -> None:
    def healthz():  # noqa: ANN202 - a Flask response
        try:
            queries.ping(ctx.engine)
        except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
            reason = " ".join(str(getattr(exc, "orig", None) or exc).split())[:300] or exc.__class__.__name__
            return jsonify({"ok": False, "reason": f"the store does not answer SELECT 1: {reason}"}), 503
        return jsonify({"ok": True}), 200

    app.server.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
