"""The overview (``/``): what happened lately, which stories moved which stocks, and the latest alerts.

A table of events, newest first, one row per (article, ticker): when it was
published (in the display zone), the ticker, the headline, the source, day 0
and the timing, the day-0 abnormal return with its t, the CAR over the list
window with its t, relevance and novelty. Filters (ticker, theme, source,
publication dates, minimum relevance, minimum |day-0 abnormal return|),
sorting (click a column header) and paging run in SQL
(:func:`dashboards.queries.overview_page`), so the page stays fast with
hundreds of thousands of events; the whole state is the query string:

``/?ticker=GEO&theme=private+prisons&source=files&from=2025-02-01&to=2025-02-28``
``&min_rel=50&min_move=2&sort=ar&dir=asc&page=2&size=50``
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import dash
from dash import ALL, Input, Output, State, ctx as callback_ctx, dcc, html

from dashboards import queries, ui
from dashboards.app import AppContext, register_url_sync

PAGE_SIZES = (25, 50, 100)
DEFAULT_SIZE = 25

#: (key, header, sortable, numeric, tooltip)
COLUMNS: tuple[tuple[str, str, bool, bool, str], ...] = (
    ("published", "Published", True, False, "When the article was published, in the display time zone"),
    ("ticker", "Ticker", True, False, "The instrument the article was tagged with; opens its chart"),
    ("headline", "Headline", False, False, "Opens the event: the article with its tagged text and returns"),
    ("source", "Source", True, False, "The news source that delivered the article"),
    ("day0", "Day 0", False, False, "The first trading session the news could move, and when it came out"),
    ("ar", "AR d0", True, True, "Day-0 abnormal return: the move beyond what the benchmark implied"),
    ("t", "t", True, True, "t statistic of the day-0 abnormal return (|t| ≥ 2: unusual)"),
    ("car", "CAR", True, True, "Cumulative abnormal return over the window"),
    ("car_t", "t", False, True, "t statistic of the CAR"),
    ("relevance", "Rel.", True, True, "How much the article is about the ticker (0-100; 50+ is high)"),
    ("novelty", "Nov.", True, True, "100 for the first article of a story, lower for a repeat"),
)
SORTABLE = [c[0] for c in COLUMNS if c[2]]


@dataclass(frozen=True)
class OverviewState:
    """The overview's state, as in the URL."""

    ticker: str | None = None
    theme: str | None = None
    source: str | None = None
    date_from: str | None = None
    date_to: str | None = None
    min_rel: float | None = None
    min_move: float | None = None  # percent
    sort: str = "published"
    desc: bool = True
    page: int = 1
    size: int = DEFAULT_SIZE

    @classmethod
    def from_query(cls, query: dict[str, str]) -> "OverviewState":
        sort = query.get("sort", "published")
        return cls(
            ticker=query.get("ticker") or None,
            theme=query.get("theme") or None,
            source=query.get("source") or None,
            date_from=d.isoformat() if (d := ui.parse_date(query.get("from"))) else None,
            date_to=d.isoformat() if (d := ui.parse_date(query.get("to"))) else None,
            min_rel=ui.parse_float(query.get("min_rel"), 0, 100),
            min_move=ui.parse_float(query.get("min_move"), 0, 1000),
            sort=sort if sort in SORTABLE else "published",
            desc=query.get("dir", "desc") != "asc",
            page=ui.parse_int(query.get("page"), 1),
            size=ui.parse_int(query.get("size"), DEFAULT_SIZE, 1, 500),
        )

    def query(self) -> dict[str, Any]:
        """The query-string form; defaults are left out so URLs stay short."""
        return {
            "ticker": self.ticker, "theme": self.theme, "source": self.source,
            "from": self.date_from, "to": self.date_to,
            "min_rel": _short(self.min_rel), "min_move": _short(self.min_move),
            "sort": None if self.sort == "published" else self.sort,
            "dir": None if self.desc else "asc",
            "page": None if self.page == 1 else self.page,
            "size": None if self.size == DEFAULT_SIZE else self.size,
        }

    def event_filter(self, ctx: AppContext) -> queries.EventFilter:
        themes = ctx.settings.themes
        return queries.EventFilter(
            ticker=self.ticker,
            theme_symbols=tuple(themes.get(self.theme, ())) if self.theme else None,
            source=self.source,
            date_from=ui.parse_date(self.date_from), date_to=ui.parse_date(self.date_to),
            min_relevance=self.min_rel,
            min_move=self.min_move / 100 if self.min_move else None,
            tz=ctx.tz,
        )


def _plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _short(value: float | None) -> str | None:
    return None if value is None else (f"{value:g}")


# Rendering ---------------------------------------------------------------------------
def render(ctx: AppContext, parts: list[str], query: dict[str, str]) -> tuple[str, Any]:
    """The overview page for the URL's query string."""
    state = OverviewState.from_query(query)
    with ctx.engine.connect() as conn:
        counts = queries.store_counts(conn)
        if counts["events"] == 0:
            return "No data yet", ui.empty_store(ctx.database)
        options = queries.filter_options(conn)
        page = _page(conn, ctx, state)
        alerts = queries.latest_alerts(conn, 10)
    state = replace(state, page=page.page)
    content = html.Div([
        html.H1("Latest news events"),
        ui.help_text(
            f"{_plural(counts['events'], 'event')} from {_plural(counts['articles'], 'article')}. "
            "Each row is one article and one "
            "ticker it names: how the stock moved beyond the market on the first session the news could move it "
            "(day 0), and whether that is unusual (|t| of 2 or more). Click a ticker for its chart and history, "
            "a headline for the article and its returns; filters and sorting are kept in the address, so a "
            "filtered list can be shared."
        ),
        _filters(ctx, state, options),
        html.Div(_summary(page, state, ctx), id="ov-summary", className="summary"),
        html.Div(html.Table([
            html.Thead(html.Tr([_header(c, state, ctx) for c in COLUMNS])),
            html.Tbody(_rows(page, ctx), id="ov-body"),
        ], id="ov-table", className="data events"), className="table-wrap"),
        _pager(page),
        ui.section(
            "Latest alerts", _alerts(alerts, ctx), id="ov-alerts",
            help="Alerts raised by the rules in monitor.toml (see the README, 'Alerts'), newest first.",
        ),
        dcc.Store(id="ov-state", data={"sort": state.sort, "desc": state.desc, "page": state.page}),
        dcc.Store(id="ov-query", data=ui.query_string(state.query())),
    ], className="page-overview")
    return "Overview", content


def _page(conn, ctx: AppContext, state: OverviewState, *, exact: bool = False) -> queries.EventPage:  # noqa: ANN001
    return queries.overview_page(
        conn, state.event_filter(ctx), model=ctx.settings.model, car_window=ctx.car_window,
        sort=state.sort, descending=state.desc, page=state.page, page_size=state.size, exact=exact,
    )


def _field(label: str, control: Any, help: str) -> Any:  # noqa: A002
    return html.Div([html.Label(label, title=help), control], className="field", title=help)


def _filters(ctx: AppContext, state: OverviewState, options: dict[str, list[str]]) -> Any:
    themes = sorted(ctx.settings.themes)
    return html.Div([
        _field("Ticker", dcc.Dropdown(
            id="ov-ticker", options=[{"label": t, "value": t} for t in options["tickers"]], value=state.ticker,
            placeholder="All tickers", clearable=True), "Only events of this ticker"),
        _field("Theme", dcc.Dropdown(
            id="ov-theme", options=[{"label": t, "value": t} for t in themes], value=state.theme,
            placeholder="All themes" if themes else "No themes set (monitor.toml [themes])",
            disabled=not themes, clearable=True), "A named group of tickers from the [themes] settings"),
        _field("Source", dcc.Dropdown(
            id="ov-source", options=[{"label": s, "value": s} for s in options["sources"]], value=state.source,
            placeholder="All sources", clearable=True), "Only articles from this news source"),
        _field(f"Published ({ctx.settings.digest_timezone})", dcc.DatePickerRange(
            id="ov-dates", start_date=state.date_from, end_date=state.date_to, display_format="YYYY-MM-DD",
            start_date_placeholder_text="from", end_date_placeholder_text="to", clearable=True,
            start_date_id="ov-date-from", end_date_id="ov-date-to"),
            "Publication dates, both included; a date-only article counts on its date"),
        _field("Min relevance", dcc.Input(
            id="ov-min-rel", type="number", min=0, max=100, step=1, value=state.min_rel, debounce=True,
            placeholder="0-100"), "Only events whose article is at least this relevant to the ticker (50+: high)"),
        _field("Min |AR d0| (%)", dcc.Input(
            id="ov-min-move", type="number", min=0, step=0.5, value=state.min_move, debounce=True,
            placeholder="e.g. 2"), "Only events whose day-0 abnormal return is at least this large, up or down"),
        _field("Rows", dcc.Dropdown(
            id="ov-page-size", options=[{"label": str(n), "value": n} for n in sorted({*PAGE_SIZES, state.size})],
            value=state.size, clearable=False, searchable=False),
            "Rows per page"),
        html.Div(dcc.Link("Clear filters", href="/", id="ov-clear"), className="field link-field"),
    ], className="filters", id="ov-filters")


def _header(column: tuple[str, str, bool, bool, str], state: OverviewState, ctx: AppContext) -> Any:
    key, label, sortable, numeric, tip = column
    if key == "car":
        label = f"CAR{ui.window_label(ctx.car_window)}"
    classes = "num" if numeric else None
    if not sortable:
        return html.Th(label, title=tip, className=classes)
    return html.Th(html.Button(_sort_label(label, key, state), id={"role": "ov-sort", "col": key},
                               className="sort", title=f"{tip}. Click to sort."), className=classes,
                   **{"aria-sort": _aria(key, state)})


def _aria(key: str, state: OverviewState) -> str:
    if key != state.sort:
        return "none"
    return "descending" if state.desc else "ascending"


def _sort_label(label: str, key: str, state: OverviewState) -> str:
    if key != state.sort:
        return label
    return f"{label} {'▼' if state.desc else '▲'}"


def _rows(page: queries.EventPage, ctx: AppContext) -> list[Any]:
    if not page.rows:
        return [html.Tr(html.Td([
            "No events match these filters. ", dcc.Link("Clear the filters", href="/"),
            " or widen them (a lower relevance or move, a longer date range)."], colSpan=len(COLUMNS),
            className="empty"))]
    out = []
    for r in page.rows:
        timing = ui.TIMING_LABELS.get(r["timing"], r["timing"])
        note = r["ar_reason"] if r["ar_status"] not in (None, "ok") else None
        ar_cell = ui.signed(r["ar"], ui.pct(r["ar"]))
        if note:
            ar_cell = html.Span("n/a", className="muted", title=note)
        elif r["ar_status"] is None:
            ar_cell = html.Span("pending", className="muted",
                                title="not measured yet: prices are fetched by the next pass")
        out.append(html.Tr([
            html.Td(ui.when(r["published_at"], r["date_only"], ctx.tz), className="nowrap"),
            html.Td(ui.ticker_link(r["symbol"])),
            html.Td(ui.event_link(r["article_key"], r["symbol"], r["title"]), className="headline-cell"),
            html.Td(r["source"]),
            html.Td([ui.day(r["session"]), html.Br(), html.Span(timing, className="muted")], className="nowrap"),
            html.Td(ar_cell, className="num"),
            html.Td(ui.num(r["ar_t"]), className="num" + (" strong" if _unusual(r["ar_t"]) else "")),
            html.Td(ui.signed(r["car"], ui.pct(r["car"])), className="num"),
            html.Td(ui.num(r["car_t"]), className="num" + (" strong" if _unusual(r["car_t"]) else "")),
            html.Td(f"{r['relevance']:.0f}", className="num"),
            html.Td("—" if ui.missing(r["novelty"]) else f"{r['novelty']:.0f}", className="num"),
        ], className="ov-row", **{"data-symbol": r["symbol"]}))
    return out


def _unusual(t: Any) -> bool:
    return not ui.missing(t) and abs(float(t)) >= 2


def _summary(page: queries.EventPage, state: OverviewState, ctx: AppContext) -> list[Any]:
    if page.total == 0:
        return ["No events match."]
    first = (page.page - 1) * page.page_size + 1
    last = first + len(page.rows) - 1
    label = next(c[1] for c in COLUMNS if c[0] == state.sort)
    if state.sort == "car":
        label = f"CAR{ui.window_label(ctx.car_window)}"
    order = "newest first" if state.sort == "published" and state.desc else (
        f"by {label}, {'largest' if state.desc else 'smallest'} first")
    if not page.exact:
        return [html.Strong(f"{first:,}–{last:,}"), " of more than ",
                html.Strong(f"{page.total:,}", id="ov-total"), f" events, {order} (“Last »” counts them all)."]
    return [html.Strong(f"{first:,}–{last:,}"), " of ", html.Strong(f"{page.total:,}", id="ov-total"),
            f" events, {order}."]


def _pager(page: queries.EventPage) -> Any:
    return html.Div([
        html.Button("« First", id="ov-first", disabled=page.page <= 1, className="pager"),
        html.Button("‹ Previous", id="ov-prev", disabled=page.page <= 1, className="pager"),
        html.Span(_page_info(page), id="ov-pageinfo"),
        html.Button("Next ›", id="ov-next", disabled=_at_end(page), className="pager"),
        html.Button("Last »", id="ov-last", disabled=_at_end(page), className="pager"),
    ], className="pagerbar")


def _at_end(page: queries.EventPage) -> bool:
    return page.exact and page.page >= page.pages


def _page_info(page: queries.EventPage) -> str:
    return f"page {page.page:,} of {page.pages:,}" + ("" if page.exact else "+")


def _alerts(rows: list[dict[str, Any]], ctx: AppContext) -> Any:
    body = []
    for a in rows:
        target = (ui.event_link(a["article_key"], a["symbol"], a["title"]) if a["article_key"]
                  else html.Span(a["title"]))
        body.append([a["created_at"].astimezone(ctx.tz).strftime("%Y-%m-%d %H:%M %Z"), a["rule"], a["kind"],
                     ui.ticker_link(a["symbol"]), target])
    return ui.table(["Raised", "Rule", "Kind", "Ticker", "Alert"], body,
                    empty="No alerts raised yet. Alert rules are set in monitor.toml ([[alert_rules]]); "
                          "`monitor alerts` lists them with their delivery.")


# Callbacks ----------------------------------------------------------------------------
def register(app: dash.Dash, ctx: AppContext) -> None:
    @app.callback(
        Output("ov-body", "children"), Output("ov-summary", "children"),
        Output({"role": "ov-sort", "col": ALL}, "children"),
        Output("ov-first", "disabled"), Output("ov-prev", "disabled"),
        Output("ov-next", "disabled"), Output("ov-last", "disabled"), Output("ov-pageinfo", "children"),
        Output("ov-state", "data"), Output("ov-query", "data"),
        Input("ov-ticker", "value"), Input("ov-theme", "value"), Input("ov-source", "value"),
        Input("ov-dates", "start_date"), Input("ov-dates", "end_date"),
        Input("ov-min-rel", "value"), Input("ov-min-move", "value"), Input("ov-page-size", "value"),
        Input({"role": "ov-sort", "col": ALL}, "n_clicks"),
        Input("ov-first", "n_clicks"), Input("ov-prev", "n_clicks"),
        Input("ov-next", "n_clicks"), Input("ov-last", "n_clicks"),
        State("ov-state", "data"),
        prevent_initial_call=True,
    )
    def update(ticker, theme, source, start, end, min_rel, min_move, size, _sorts,  # noqa: ANN001, ANN202
               _first, _prev, _next, _last, held):
        trigger = callback_ctx.triggered_id
        held = held or {}
        sort, desc, page = held.get("sort", "published"), held.get("desc", True), int(held.get("page", 1))
        if isinstance(trigger, dict) and trigger.get("role") == "ov-sort":
            column = trigger["col"]
            if column == sort:
                desc = not desc
            else:
                sort, desc = column, column not in ("ticker", "source")
            page = 1
        elif trigger == "ov-first":
            page = 1
        elif trigger == "ov-prev":
            page = max(1, page - 1)
        elif trigger == "ov-next":
            page = page + 1
        elif trigger == "ov-last":
            page = 10**9
        else:
            page = 1  # a filter changed
        state = OverviewState(
            ticker=ticker or None, theme=theme or None, source=source or None,
            date_from=(start or None) and str(start)[:10], date_to=(end or None) and str(end)[:10],
            min_rel=ui.parse_float(min_rel, 0, 100), min_move=ui.parse_float(min_move, 0, 1000),
            sort=sort, desc=desc, page=page, size=int(size or DEFAULT_SIZE),
        )
        with ctx.engine.connect() as conn:
            result = _page(conn, ctx, state, exact=trigger == "ov-last")
        state = replace(state, page=result.page)
        labels = []
        for item in callback_ctx.outputs_list[2]:
            key = item["id"]["col"]
            label = next(c[1] for c in COLUMNS if c[0] == key)
            if key == "car":
                label = f"CAR{ui.window_label(ctx.car_window)}"
            labels.append(_sort_label(label, key, state))
        return (
            _rows(result, ctx), _summary(result, state, ctx), labels,
            result.page <= 1, result.page <= 1, _at_end(result), _at_end(result),
            _page_info(result), {"sort": state.sort, "desc": state.desc, "page": state.page},
            ui.query_string(state.query()),
        )

    register_url_sync(app, "ov-query")
