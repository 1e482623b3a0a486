"""A ticker (``/ticker/GEO``): its price with the news on it, its events and how it reacted to them.

* The price chart (:func:`monitor.figures.ticker_chart`): candles or a line
  (``?style=line``), daily or an intraday interval held in the store
  (``?interval=5m``), the benchmark rebased to the first close, a diamond on
  each bar with news (headlines on hover; a click opens the event) and, below,
  each bar's volume as a multiple of its 20-bar average (abnormal volume).
* The ticker's events, newest first, with their day-0 abnormal return and CAR.
* Their CAR curves from relative day -10 to +10, computed from the stored
  prices with the pipeline's model (:mod:`dashboards.analysis`), with the
  average CAR and its 95 % confidence band.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import dash
import pandas as pd
from dash import Input, Output, State, dcc, html

from dashboards import analysis, queries, ui
from dashboards.app import AppContext, register_click_to_event, register_url_sync
from monitor import figures

#: Events listed in the ticker's table (the overview has them all).
MAX_LISTED = 50
#: Individual CAR curves drawn (the newest); the average uses every measured event.
MAX_CURVES = 30
#: Sessions of intraday bars shown (the latest held).
INTRADAY_DAYS = 7
#: Daily bars shown at first (the chart holds them all; the range buttons zoom out).
DEFAULT_DAILY_SPAN = timedelta(days=365)

GRAPH_CONFIG = {"displaylogo": False, "responsive": True,
                "modeBarButtonsToRemove": ["lasso2d", "select2d"]}


def resolve(conn, symbol: str) -> str | None:  # noqa: ANN001
    """The stored spelling of ``symbol`` (as given, else upper-case), or None when unknown."""
    for candidate in dict.fromkeys([symbol, symbol.upper()]):
        if candidate and queries.ticker_known(conn, candidate):
            return candidate
    return None


def render(ctx: AppContext, parts: list[str], query: dict[str, str]) -> tuple[str, Any]:
    """The page of the ticker named in the path."""
    asked = parts[0]
    with ctx.engine.connect() as conn:
        symbol = resolve(conn, asked)
        if symbol is None:
            empty = queries.store_counts(conn)["events"] == 0
            hint = ("The store is empty: run `monitor run --once` to load the demo (CXW, GEO, BTC-USD)." if empty
                    else "Tickers are spelled as on Yahoo Finance (GEO, BTC-USD); the overview lists those with news.")
            return "Ticker not found", ui.not_found("Ticker", asked, hint)
        inst = queries.instrument(conn, symbol) or {}
        held = queries.held_intervals(conn, symbol)
        sessions = queries.ticker_event_sessions(conn, symbol)
        listed = queries.ticker_events(conn, symbol, model=ctx.settings.model, car_window=ctx.car_window,
                                       limit=MAX_LISTED)
        interval = query.get("interval", "1d")
        interval = interval if interval in held else ("1d" if "1d" in held else next(iter(held), "1d"))
        style = "line" if query.get("style") == "line" else "candles"
        price = price_figure(conn, ctx, symbol, inst, interval, style, sessions, held)
        curves, note = car_figure(conn, ctx, symbol, inst, sessions)
    count = len(sessions)
    all_events = "its event" if count == 1 else f"all {count:,} events"
    benchmark = inst.get("benchmark")
    facts = [
        inst.get("name") or "name not stored",
        (inst.get("asset_class") or "").replace("_", " ") or None,
        f"listed on {inst['exchange']}" if inst.get("exchange") else None,
        f"calendar {inst['calendar']}" if inst.get("calendar") else None,
        f"benchmark {benchmark}" if benchmark else "no benchmark (mean-adjusted returns)",
    ]
    spans = [f"{name}: {ui.day(first)} to {ui.day(last)} ({n:,} bars)"
             for name, (first, last, n) in sorted(held.items(), key=lambda kv: kv[0] != "1d")]
    intervals = [{"label": "Daily" if i == "1d" else f"Intraday {i}", "value": i}
                 for i in sorted(held, key=lambda i: (i != "1d", i))] or [{"label": "Daily", "value": "1d"}]
    content = html.Div([
        dcc.Store(id="tk-symbol", data=symbol),
        dcc.Store(id="tk-query", data=ui.query_string(_chart_query(style, interval))),
        html.H1([symbol, html.Span(f" · {inst.get('name') or ''}", className="subtle")]),
        html.P(" · ".join(f for f in facts if f), className="meta"),
        html.P(["Prices held: " + ("; ".join(spans) if spans else "none yet (the pipeline fetches them with the "
                                   "first event)"), " · ",
                dcc.Link(f"See {all_events} in the overview", href=ui.overview_href(ticker=symbol)),
                " · ", dcc.Link("Study these events", href=ui.study_href(ticker=symbol))], className="meta"),
        html.Div([
            html.Div([html.Label("Chart"), dcc.RadioItems(
                id="tk-style", options=[{"label": "Candles", "value": "candles"}, {"label": "Line", "value": "line"}],
                value=style, inline=True)], className="field"),
            html.Div([html.Label("Bars"), dcc.RadioItems(
                id="tk-interval", options=intervals, value=interval, inline=True)], className="field"),
        ], className="filters compact"),
        dcc.Graph(id="tk-price", figure=price, config=GRAPH_CONFIG, className="chart"),
        ui.help_text("Diamonds mark the sessions with news (day 0 of each event; hover for the headlines, click "
                     "to open the event). The dotted line is the benchmark rebased to the first close. Below: each "
                     "bar's volume as a multiple of its 20-bar average; yellow bars are at least twice it."),
        ui.section(
            f"Events ({count:,})", _events_table(listed, ctx),
            html.P(dcc.Link(f"The newest {MAX_LISTED} are listed; see {all_events} in the overview",
                            href=ui.overview_href(ticker=symbol))) if count > MAX_LISTED else None,
            help="Newest first. AR d0: abnormal return on day 0; CAR: cumulative abnormal return over the window; "
                 "t of 2 or more in absolute value is unusual.", id="tk-events",
        ),
        ui.section(
            "Reaction around the news", dcc.Graph(id="tk-car", figure=curves, config=GRAPH_CONFIG, className="chart"),
            html.P(note, className="help", id="tk-car-note"), id="tk-reaction",
            help="Cumulative abnormal return of each event from 10 sessions before to 10 after day 0 (grey; click "
                 "one to open its event), their average (blue) and its 95% confidence band (cross-sectional t).",
        ),
    ], className="page-ticker")
    return symbol, content


def price_figure(
    conn, ctx: AppContext, symbol: str, inst: dict[str, Any], interval: str, style: str,  # noqa: ANN001
    events: list[dict[str, Any]], held: dict[str, tuple[Any, Any, int]],
) -> Any:
    """The price chart of ``symbol`` for ``interval`` with its benchmark and news markers.

    ``events``: the ticker's events (session, published_at, date_only, title, article_key).
    """
    span = held.get(interval)
    benchmark = inst.get("benchmark")
    calendar = inst.get("calendar") or ""
    if span is None or span[0] is None:
        return figures.ticker_chart(pd.DataFrame(columns=["close"]), symbol, title=f"{symbol}: no prices held")
    first, last, _ = span
    if interval != "1d":
        first = max(first, last - timedelta(days=INTRADAY_DAYS))
    bars = queries.bars(conn, symbol, interval, first, last)
    bench = queries.bars(conn, benchmark, interval, first, last) if benchmark else None
    if interval == "1d":
        markers = [(e["session"], e["title"], ui.event_href(e["article_key"], symbol))
                   for e in events if first <= e["session"] <= last]
        initial = None
        if last - first > DEFAULT_DAILY_SPAN * 1.2:
            initial = ((last - DEFAULT_DAILY_SPAN).isoformat(), (last + timedelta(days=3)).isoformat())
        title = f"{symbol} daily" + (f" against {benchmark}" if benchmark else "")
    else:
        markers = [(e["published_at"], e["title"], ui.event_href(e["article_key"], symbol))
                   for e in events if not e["date_only"] and first <= e["session"] <= last]
        initial = None
        title = f"{symbol} {interval} bars, {ui.day(first)} to {ui.day(last)}"
    return figures.ticker_chart(
        bars, symbol, style=style, benchmark_bars=bench, benchmark=benchmark, markers=markers, title=title,
        tz=ctx.settings.digest_timezone, hide_gaps=calendar != "24/7", initial_range=initial,
        range_buttons=interval == "1d",
    )


def car_figure(
    conn, ctx: AppContext, symbol: str, inst: dict[str, Any], sessions: list[dict[str, Any]],  # noqa: ANN001
) -> tuple[Any, str]:
    """The CAR curves of the ticker's events with their average and band, and a sentence on what was measured.

    ``sessions``: the ticker's events (:func:`dashboards.queries.ticker_event_sessions`).
    """
    sessions = [dict(e) for e in sessions]
    if not sessions:
        return figures.car_band(pd.DataFrame(), f"{symbol}: no events"), "No events yet."
    for e in sessions:
        e["benchmark"] = inst.get("benchmark")
        e["calendar"] = e.get("calendar") or inst.get("calendar") or "XNYS"
    measured = analysis.measure(conn, sessions, ctx.settings)
    ok = measured.ok
    car = measured.car.loc[ok]
    by_id = {str(e["id"]): e for e in sessions}
    newest = sorted(ok, key=lambda i: (by_id[i]["session"], int(i)), reverse=True)[:MAX_CURVES]
    labels = [f"{symbol} {ui.day(by_id[i]['session'])} #{i}" for i in newest]
    paths = car.loc[newest].T
    paths.columns = labels
    links = [ui.event_href(by_id[i]["article_key"], symbol) for i in newest]
    band = analysis.mean_band(car) if len(ok) > 1 else None
    fig = figures.car_band(
        paths, f"{symbol}: CAR around its news ({measured.model} model)",
        mean=band.mean if band is not None else None,
        lower=band.lower if band is not None else None, upper=band.upper if band is not None else None,
        links=links,
    )
    counts = measured.status_counts()
    left = {k: v for k, v in counts.items() if k != "ok"}
    note = f"{len(ok):,} of {len(sessions):,} event(s) measured with the {measured.model} model"
    if len(ok) > MAX_CURVES:
        note += f"; the {MAX_CURVES} newest are drawn, the average uses all"
    if left:
        reasons = sorted({str(r) for r in measured.events.loc[measured.events['status'] != 'ok', 'reason'] if r})
        note += "; not measured: " + ", ".join(f"{v} {k.replace('_', ' ')}" for k, v in left.items())
        if reasons:
            note += f" ({reasons[0]}" + (" …" if len(reasons) > 1 else "") + ")"
    if len(ok) == 1:
        note += "; one event: no average or band"
    return fig, note + "."


def _events_table(rows: list[dict[str, Any]], ctx: AppContext) -> Any:
    body = []
    for r in rows:
        flags = [f for f, on in (("date only", r["date_only"]), ("confounded", r["confounded"])) if on]
        ar = (html.Span("n/a", className="muted", title=r["ar_reason"]) if r["ar_status"] not in (None, "ok")
              else ui.signed(r["ar"], ui.pct(r["ar"])))
        body.append([
            ui.when(r["published_at"], r["date_only"], ctx.tz),
            ui.event_link(r["article_key"], r["symbol"], r["title"]),
            r["source"], ui.day(r["session"]), ar, ui.num(r["ar_t"]),
            ui.signed(r["car"], ui.pct(r["car"])), ui.num(r["car_t"]), f"{r['relevance']:.0f}",
            ", ".join(flags) or "",
        ])
    return ui.table(
        ["Published", "Headline", "Source", "Day 0", "AR d0", "t", f"CAR{ui.window_label(ctx.car_window)}", "t",
         "Rel.", "Flags"], body, numeric=(4, 5, 6, 7, 8), empty="No events for this ticker yet.",
        table_id="tk-events-table")


def _chart_query(style: str, interval: str) -> dict[str, Any]:
    return {"style": None if style == "candles" else style, "interval": None if interval == "1d" else interval}


def register(app: dash.Dash, ctx: AppContext) -> None:
    @app.callback(
        Output("tk-price", "figure"), Output("tk-query", "data"),
        Input("tk-style", "value"), Input("tk-interval", "value"), State("tk-symbol", "data"),
        prevent_initial_call=True,
    )
    def redraw(style: str, interval: str, symbol: str):  # noqa: ANN202
        with ctx.engine.connect() as conn:
            inst = queries.instrument(conn, symbol) or {}
            held = queries.held_intervals(conn, symbol)
            events = queries.ticker_event_sessions(conn, symbol)
            fig = price_figure(conn, ctx, symbol, inst, interval, style, events, held)
        return fig, ui.query_string(_chart_query(style, interval))

    register_url_sync(app, "tk-query")
    for graph in ("tk-price", "tk-car"):
        register_click_to_event(app, graph)
