"""An event study of a selection (``/study?ticker=...&theme=...&source=...&from=...&to=...``).

Pick events (a ticker, a theme of tickers, a source, publication dates, a
minimum relevance) and a normal-return model; the page measures them with the
impact engine (:mod:`dashboards.analysis`), draws the cumulative average
abnormal return (CAAR) from day -10 to +10 with its 95 % band, and runs the
cross-event test battery (:mod:`monitor.impact.battery`: CAAR t,
Brown-Warner, Patell, BMP, Kolari-Pynnönen, sign, rank and Wilcoxon tests)
over the chosen window. At most :data:`~dashboards.analysis.MAX_STUDY_EVENTS`
events (the newest) are measured; the page says so when a selection is larger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import dash
import pandas as pd
from dash import Input, Output, dcc, html

from dashboards import analysis, queries, ui
from dashboards.app import AppContext, register_url_sync
from dashboards.ticker import GRAPH_CONFIG
from monitor import figures

MODELS = (
    ("market", "Market model (OLS on the benchmark)"),
    ("market_adjusted", "Market-adjusted (minus the benchmark)"),
    ("mean", "Mean-adjusted (minus the estimation mean)"),
)
#: Events listed under the study.
MAX_LISTED = 50


@dataclass(frozen=True)
class StudyState:
    """The study's selection, as in the URL."""

    ticker: str | None = None
    theme: str | None = None
    source: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    min_rel: float | None = None
    model: str = "market"
    window: str = "-1:1"

    @classmethod
    def from_query(cls, query: dict[str, str], ctx: AppContext) -> "StudyState":
        windows = [f"{s}:{e}" for s, e in ctx.windows]
        model = query.get("model", ctx.settings.model)
        window = query.get("window") or ("-1:1" if "-1:1" in windows else windows[0])
        return cls(
            ticker=query.get("ticker") or None, theme=query.get("theme") or None,
            source=query.get("source") or None,
            date_from=d.isoformat() if (d := ui.parse_date(query.get("from"))) else None,
            date_to=d.isoformat() if (d := ui.parse_date(query.get("to"))) else None,
            min_rel=ui.parse_float(query.get("min_rel"), 0, 100),
            model=model if model in dict(MODELS) else ctx.settings.model,
            window=window if ui.parse_window(window) else windows[0],
        )

    def query(self, ctx: AppContext) -> dict[str, Any]:
        return {"ticker": self.ticker, "theme": self.theme, "source": self.source, "from": self.date_from,
                "to": self.date_to, "min_rel": None if self.min_rel is None else f"{self.min_rel:g}",
                "model": None if self.model == ctx.settings.model else self.model,
                "window": self.window}

    def event_filter(self, ctx: AppContext) -> queries.EventFilter:
        return queries.EventFilter(
            ticker=self.ticker,
            theme_symbols=tuple(ctx.settings.themes.get(self.theme, ())) if self.theme else None,
            source=self.source, date_from=ui.parse_date(self.date_from), date_to=ui.parse_date(self.date_to),
            min_relevance=self.min_rel, tz=ctx.tz,
        )

    def describe(self) -> str:
        parts = [f"ticker {self.ticker}" if self.ticker else None, f"theme “{self.theme}”" if self.theme else None,
                 f"source {self.source}" if self.source else None,
                 f"published from {self.date_from}" if self.date_from else None,
                 f"to {self.date_to}" if self.date_to else None,
                 f"relevance ≥ {self.min_rel:g}" if self.min_rel is not None else None]
        kept = [p for p in parts if p]
        return ", ".join(kept) if kept else "every event"


def render(ctx: AppContext, parts: list[str], query: dict[str, str]) -> tuple[str, Any]:
    """The study page for the URL's selection."""
    state = StudyState.from_query(query, ctx)
    with ctx.engine.connect() as conn:
        if queries.store_counts(conn)["events"] == 0:
            return "No data yet", ui.empty_store(ctx.database)
        options = queries.filter_options(conn)
        results = compute(conn, ctx, state)
    content = html.Div([
        html.H1("Event study"),
        ui.help_text("Choose a set of events: the page measures each with the chosen model on the stored prices "
                     "and asks whether their average abnormal return differs from zero. The selection is kept in the "
                     "address, so a study can be shared."),
        _controls(ctx, state, options),
        dcc.Loading(html.Div(results, id="st-results"), type="dot"),
        dcc.Store(id="st-query", data=ui.query_string(state.query(ctx))),
    ], className="page-study")
    return "Event study", content


def _controls(ctx: AppContext, state: StudyState, options: dict[str, list[str]]) -> Any:
    themes = sorted(ctx.settings.themes)
    windows = [f"{s}:{e}" for s, e in ctx.windows]
    if state.window not in windows:
        windows.append(state.window)
    return html.Div([
        html.Div([html.Label("Ticker"), dcc.Dropdown(
            id="st-ticker", options=[{"label": t, "value": t} for t in options["tickers"]], value=state.ticker,
            placeholder="All tickers")], className="field"),
        html.Div([html.Label("Theme"), dcc.Dropdown(
            id="st-theme", options=[{"label": t, "value": t} for t in themes], value=state.theme,
            placeholder="All themes" if themes else "No themes set (monitor.toml [themes])", disabled=not themes)],
            className="field"),
        html.Div([html.Label("Source"), dcc.Dropdown(
            id="st-source", options=[{"label": s, "value": s} for s in options["sources"]], value=state.source,
            placeholder="All sources")], className="field"),
        html.Div([html.Label(f"Published ({ctx.settings.digest_timezone})"), dcc.DatePickerRange(
            id="st-dates", start_date=state.date_from, end_date=state.date_to, display_format="YYYY-MM-DD",
            clearable=True, start_date_placeholder_text="from", end_date_placeholder_text="to")], className="field"),
        html.Div([html.Label("Min relevance"), dcc.Input(
            id="st-min-rel", type="number", min=0, max=100, step=1, value=state.min_rel, debounce=True,
            placeholder="0-100")], className="field"),
        html.Div([html.Label("Model"), dcc.Dropdown(
            id="st-model", options=[{"label": label, "value": key} for key, label in MODELS], value=state.model,
            clearable=False, searchable=False)], className="field wide"),
        html.Div([html.Label("Test window"), dcc.Dropdown(
            id="st-window", options=[{"label": ui.window_label(ui.parse_window(w)), "value": w} for w in windows],
            value=state.window, clearable=False, searchable=False)], className="field"),
    ], className="filters")


def compute(conn, ctx: AppContext, state: StudyState) -> list[Any]:  # noqa: ANN001
    """The study's results: summary, CAAR chart, test battery and the events."""
    selected, total = queries.study_events(conn, state.event_filter(ctx), limit=analysis.MAX_STUDY_EVENTS)
    if not selected:
        return [html.P(["No events match this selection (", state.describe(), "). Widen it, or ",
                        dcc.Link("start from every event", href="/study"), "."], className="empty", id="st-summary")]
    window = ui.parse_window(state.window) or (-1, 1)
    for e in selected:
        e["calendar"] = e.get("calendar") or "XNYS"
    measured = analysis.measure(conn, selected, ctx.settings, model=state.model,
                                windows=tuple(dict.fromkeys([*ctx.windows, window])))
    ok = measured.ok
    band = analysis.mean_band(measured.car.loc[ok]) if len(ok) else None
    counts = measured.status_counts()
    left = {k: v for k, v in counts.items() if k != "ok"}
    summary = [
        html.Strong(f"{len(selected):,}"), f" event(s) selected ({state.describe()})",
        f", the newest {len(selected):,} of {total:,} measured" if total > len(selected) else "",
        "; ", html.Strong(f"{len(ok):,}", id="st-n-ok"), f" measured with the {state.model.replace('_', '-')} model",
    ]
    if left:
        summary.append("; left out: " + ", ".join(f"{v:,} {k.replace('_', ' ')}" for k, v in sorted(left.items())))
    summary.append(".")
    chart = figures.caar_chart(
        band.mean if band is not None else pd.Series(dtype="float64"), f"CAAR of {len(ok):,} event(s), "
        f"{state.model.replace('_', '-')} model", lower=band.lower if band is not None else None,
        upper=band.upper if band is not None else None, n_events=band.n if band is not None else None,
    )
    battery = _battery(measured, window) if len(ok) else html.P(
        "No event could be measured, so there is nothing to test: "
        + "; ".join(sorted({str(r) for r in measured.events["reason"] if r}))[:400], className="empty")
    window_car = measured.ar.loc[:, window[0]:window[1]].sum(axis=1, min_count=1)
    rows = []
    by_id = {str(e["id"]): e for e in selected}
    for i in list(measured.events.index)[:MAX_LISTED]:
        e, m = by_id[i], measured.events.loc[i]
        status = "ok" if m["status"] == "ok" else html.Span(str(m["status"]).replace("_", " "), title=m["reason"] or "",
                                                           className="muted")
        rows.append([ui.when(e["published_at"], e["date_only"], ctx.tz), ui.ticker_link(e["symbol"]),
                     ui.event_link(e["article_key"], e["symbol"], e["title"]), ui.day(e["session"]),
                     ui.signed(window_car.get(i), ui.pct(window_car.get(i))), status])
    return [
        html.P(summary, className="summary", id="st-summary"),
        dcc.Graph(id="st-caar", figure=chart, config=GRAPH_CONFIG, className="chart"),
        ui.help_text("CAAR: the average over the events of their cumulative abnormal return from day -10; the "
                     "band is its 95% confidence interval (cross-sectional t), wider where fewer events have "
                     "prices. Events whose later sessions have not happened yet drop out of those days."),
        ui.section(f"Tests of the CAR over {ui.window_label(window)}", battery, id="st-battery",
                   help="Each test asks whether the average CAR over the window differs from zero; a p-value under "
                        "0.05 says it is unlikely by chance. Parametric tests assume roughly normal returns; the "
                        "sign, rank and Wilcoxon tests do not. See monitor/impact/battery.py for the formulas."),
        ui.section(f"Events (the newest {min(MAX_LISTED, len(selected))})", ui.table(
            ["Published", "Ticker", "Headline", "Day 0", f"CAR{ui.window_label(window)}", "Status"], rows,
            numeric=(4,), table_id="st-events")),
    ]


def _battery(measured: analysis.Measured, window: tuple[int, int]) -> Any:
    try:
        frame = analysis.battery_table(measured, window)
    except ValueError as exc:
        return html.P(f"The tests cannot run: {exc}", className="empty")
    caar = frame.attrs.get("caar")
    rows = []
    for r in frame.itertuples(index=False):
        p = r.p_value
        rows.append([analysis.TEST_LABELS.get(r.name, r.name), ui.num(r.statistic, "+.3f"),
                     "—" if ui.missing(p) else f"{p:.4f}", html.Strong("yes") if not ui.missing(p) and p < 0.05 else
                     ("no" if not ui.missing(p) else "—"), f"{int(r.n):,}", r.note or ""])
    lead = None
    if not ui.missing(caar):
        lead = html.P(["CAAR over the window: ", html.Strong(ui.pct(caar)),
                       f" across {int(frame['n'].max()) if len(frame) else 0:,} event(s) with every day "
                       "of the window."],
                      className="summary")
    return html.Div([lead, ui.table(["Test", "Statistic", "p-value", "p < 0.05", "Events", "Note"], rows,
                                    numeric=(1, 2, 4), table_id="st-battery-table")])


def register(app: dash.Dash, ctx: AppContext) -> None:
    @app.callback(
        Output("st-results", "children"), Output("st-query", "data"),
        Input("st-ticker", "value"), Input("st-theme", "value"), Input("st-source", "value"),
        Input("st-dates", "start_date"), Input("st-dates", "end_date"), Input("st-min-rel", "value"),
        Input("st-model", "value"), Input("st-window", "value"),
        prevent_initial_call=True,
    )
    def update(ticker, theme, source, start, end, min_rel, model, window):  # noqa: ANN001, ANN202
        state = StudyState(
            ticker=ticker or None, theme=theme or None, source=source or None,
            date_from=(start or None) and str(start)[:10], date_to=(end or None) and str(end)[:10],
            min_rel=ui.parse_float(min_rel, 0, 100), model=model or ctx.settings.model, window=window or "-1:1",
        )
        with ctx.engine.connect() as conn:
            results = compute(conn, ctx, state)
        return results, ui.query_string(state.query(ctx))

    register_url_sync(app, "st-query")
