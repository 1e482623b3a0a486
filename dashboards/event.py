"""An event (``/event/<article_key>/<symbol>``): one article, one ticker, and the market's reaction.

* The article text with every tagged span highlighted (``<mark>``, its title
  giving the ticker, the rule and the relevance): mention offsets index into
  ``title + "\\n\\n" + body`` (:attr:`monitor.models.Article.text`), so the
  text is split into plain strings and marks; nothing of the article is ever
  rendered as HTML.
* The returns per window and model (raw, benchmark, buy-and-hold abnormal,
  CAR, t, days, complete), the estimation fit (alpha, beta, residual sd,
  observations), the intraday reaction when measured.
* Flags: date-only, confounded, incomplete windows, no abnormal return (why).
* The price around day 0 with the news markers, and the event's CAR curve.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import dash
import pandas as pd
from dash import dcc, html

from dashboards import analysis, queries, ui
from dashboards.app import AppContext, register_click_to_event
from dashboards.ticker import GRAPH_CONFIG
from monitor import figures
from monitor.models import TEXT_SEPARATOR

#: Calendar days of prices shown before and after day 0.
DAYS_BEFORE, DAYS_AFTER = 90, 30


def render(ctx: AppContext, parts: list[str], query: dict[str, str]) -> tuple[str, Any]:
    """The page of the event named in the path."""
    key, symbol = parts
    with ctx.engine.connect() as conn:
        ev = queries.event_detail(conn, key, symbol)
        if ev is None and symbol != symbol.upper():
            ev = queries.event_detail(conn, key, symbol.upper())
        if ev is None:
            return "Event not found", ui.not_found(
                "Event", f"{key[:16]}{'…' if len(key) > 16 else ''} / {symbol}",
                "An event is an article and one ticker it names; its address comes from the overview or a ticker's "
                "page (/event/<article key>/<ticker>).")
        symbol = ev["symbol"]
        spans = queries.article_mentions(conn, key)
        siblings = queries.article_events(conn, key)
        results = queries.event_results(conn, key, symbol)
        reactions = queries.event_reactions_of(conn, key, symbol)
        price, curve, curve_note = _charts(conn, ctx, ev)
    title = ev["title"] or "(no headline)"
    content = html.Div([
        html.P([ui.ticker_link(symbol), f" · {ev.get('instrument_name') or ''}"], className="meta"),
        html.H1(title, id="ev-title"),
        html.P([
            f"{ev['source']} · published {ui.when(ev['published_at'], ev['date_only'], ctx.tz)}",
            "" if ev["date_only"] else f" ({ui.utc(ev['published_at'])})", " · ",
            ui.external_link(ev["url"], "original article" if ev["url"] else None),
        ], className="meta", id="ev-meta"),
        _flags(ev, results),
        html.Div([
            html.Div(_facts(ev, ctx), className="card"),
            html.Div(_siblings(siblings, key, symbol), className="card"),
        ], className="cards"),
        ui.section("Article", _article(ev, spans, symbol), id="ev-article",
                   help="Highlighted: the text the tagger matched, for every ticker of the article (this event's "
                        "ticker in yellow, others in blue). Hover a highlight for its ticker, rule and relevance."),
        ui.section("Returns", _returns(results, ctx), id="ev-returns",
                   help="Per window of sessions around day 0 and per normal-return model. Raw: the stock's return; "
                        "Benchmark: the benchmark's over the same sessions; BHAR: buy-and-hold abnormal return; "
                        "CAR: sum of daily abnormal returns; t: CAR over its standard error (|t| ≥ 2 is unusual); "
                        "Days: sessions with a return so far."),
        ui.section("Estimation fit", _fit(results, ctx), id="ev-fit",
                   help=f"The normal-return model fitted on sessions {ui.window_label(ctx.settings.estimation)} "
                        "before day 0: alpha and beta against the benchmark (market model), the residual standard "
                        "deviation (a typical day's abnormal move) and the number of returns it used."),
        ui.section("Intraday reaction", _reactions(reactions, ctx), id="ev-intraday",
                   help="For timed stories of the last 59 days: the move from the last price before the story, "
                        "against the benchmark over the same minutes.") if reactions else None,
        ui.section("Charts", dcc.Graph(id="ev-price", figure=price, config=GRAPH_CONFIG, className="chart"),
                   dcc.Graph(id="ev-car", figure=curve, config=GRAPH_CONFIG, className="chart"),
                   html.P(curve_note, className="help"), id="ev-charts"),
    ], className="page-event")
    return f"{symbol}: {title[:60]}", content


# Flags and facts ------------------------------------------------------------------------
def _flags(ev: dict[str, Any], results: Sequence[dict[str, Any]]) -> Any:
    flags: list[tuple[str, str]] = []
    if ev["date_only"]:
        flags.append(("date only", "The source gave a date without a time: day 0 is that date's session (or the "
                                   "next one when the market was closed) and the timing is unknown."))
    if ev["confounded"]:
        flags.append(("confounded", f"Another story on {ev['symbol']} falls inside this event's estimation or "
                                    "event window: the abnormal return may mix both."))
    open_windows = sorted({(r["window_start"], r["window_end"]) for r in results if not r["complete"]})
    if open_windows:
        flags.append(("incomplete", "Windows still open or with missing prices: "
                      + ", ".join(ui.window_label(w) for w in open_windows)
                      + "; their numbers cover the sessions seen so far and change until complete."))
    reasons = sorted({r["reason"] for r in results if r["status"] != "ok" and r["reason"]})
    if reasons:
        flags.append(("no abnormal return", "; ".join(reasons)))
    if not results:
        flags.append(("not measured yet", "No returns stored yet: the next pass of the monitor fetches the prices "
                                          "and measures the event."))
    if not flags:
        return html.P("No flags: timed or dated news, no other story in its windows, every window complete.",
                      className="flags none", id="ev-flags")
    return html.Div([html.P([html.Span(name, className=f"flag flag-{name.split()[0]}"), " ", text])
                     for name, text in flags], className="flags", id="ev-flags")


def _facts(ev: dict[str, Any], ctx: AppContext) -> Any:
    av_log, av_z = ev.get("abnormal_volume_log"), ev.get("abnormal_volume_z")
    volume = "—" if ui.missing(av_log) else f"{math.exp(float(av_log)):.2f}× the estimation-window average"
    if not ui.missing(av_z):
        volume += f" (z {float(av_z):+.2f})"
    rows = [
        ["Day 0", f"{ui.day(ev['session'])} ({ev['calendar']})"],
        ["Timing", ui.TIMING_LABELS.get(ev["timing"], ev["timing"])],
        ["Relevance", f"{ev['relevance']:.0f} of 100"],
        ["Novelty", "—" if ui.missing(ev.get("novelty")) else f"{ev['novelty']:.0f} (100: first of its story)"],
        ["Day-0 volume", volume],
        ["Benchmark", ev.get("instrument_benchmark") or "none (mean-adjusted)"],
    ]
    return [html.H3("The event"), ui.table(["", ""], rows)]


def _siblings(siblings: Sequence[dict[str, Any]], key: str, symbol: str) -> Any:
    items = []
    for s in siblings:
        label = f"{s['symbol']} (relevance {s['relevance']:.0f})"
        items.append(html.Li(html.Strong(label) if s["symbol"] == symbol else ui.event_link(key, s["symbol"], label)))
    return [html.H3("Tickers of this article"), html.Ul(items, id="ev-siblings"),
            html.P([dcc.Link("Compare in a study", href=ui.study_href(ticker=symbol))], className="muted")]


# The article with its tagged spans ----------------------------------------------------------
def place_spans(text: str, spans: Sequence[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Mentions located in ``text``: (placed, unplaced).

    A stored span is trusted when ``text[start:end]`` is its matched text;
    otherwise the matched text is looked for nearest to the stored start (a
    store written by another version of the text); a mention that cannot be
    found is returned in ``unplaced`` and listed under the text.
    """
    placed, unplaced = [], []
    for m in spans:
        start, end, matched = int(m["start"]), int(m["end"]), m["matched"] or ""
        if 0 <= start < end <= len(text) and text[start:end] == matched:
            placed.append(m | {"start": start, "end": end})
            continue
        hits, at = [], text.find(matched) if matched else -1
        while at >= 0:
            hits.append(at)
            at = text.find(matched, at + 1)
        if hits:
            best = min(hits, key=lambda h: abs(h - start))
            placed.append(m | {"start": best, "end": best + len(matched)})
        else:
            unplaced.append(m)
    return placed, unplaced


def highlight(text: str, spans: Sequence[dict[str, Any]], symbol: str, offset: int = 0) -> list[Any]:
    """``text`` (which starts at ``offset`` of the article text) as strings and ``html.Mark`` elements.

    Overlapping spans (two tickers on the same words) share one mark whose
    title lists both.
    """
    local = [(max(m["start"] - offset, 0), min(m["end"] - offset, len(text)), m) for m in spans
             if m["end"] > offset and m["start"] < offset + len(text)]
    if not local:
        return [text]
    cuts = sorted({0, len(text), *(s for s, _, _ in local), *(e for _, e, _ in local)})
    out: list[Any] = []
    for lo, hi in zip(cuts, cuts[1:]):
        if lo >= hi:
            continue
        cover = [m for s, e, m in local if s <= lo and hi <= e]
        piece = text[lo:hi]
        if not cover:
            if out and isinstance(out[-1], str):
                out[-1] += piece
            else:
                out.append(piece)
            continue
        tip = "; ".join(
            f"{m['symbol']}: rule {m['method']} ({ui.RULE_LABELS.get(m['method'], 'tagging rule')}), "
            f"relevance {float(m['relevance']):.0f}" for m in cover)
        mine = any(m["symbol"] == symbol for m in cover)
        out.append(html.Mark(piece, title=tip, className="tag mine" if mine else "tag other",
                             **{"data-symbol": " ".join(sorted({m["symbol"] for m in cover})),
                                "data-rule": " ".join(sorted({m["method"] for m in cover}))}))
    return out


def _article(ev: dict[str, Any], spans: Sequence[dict[str, Any]], symbol: str) -> Any:
    title, body = ev["title"] or "", ev["body"] or ""
    text = title + TEXT_SEPARATOR + body
    placed, unplaced = place_spans(text, spans)
    body_at = len(title) + len(TEXT_SEPARATOR)
    legend_rows = []
    by_symbol: dict[str, list[dict[str, Any]]] = {}
    for m in spans:
        by_symbol.setdefault(m["symbol"], []).append(m)
    for sym, found in sorted(by_symbol.items()):
        rules = ", ".join(sorted({f"{m['method']} ({ui.RULE_LABELS.get(m['method'], 'rule')})" for m in found}))
        legend_rows.append([html.Strong(sym) if sym == symbol else sym, "; ".join(f"“{m['matched']}”" for m in found),
                            rules, f"{float(found[0]['relevance']):.0f}"])
    return html.Div([
        html.Div([
            html.P(highlight(title, placed, symbol, 0), className="article-title"),
            html.Div(highlight(body, placed, symbol, body_at) if body
                     else [html.Span("(no body text)", className="muted")], className="article-body"),
        ], className="article-text", id="ev-text"),
        html.H3("Tagged mentions"),
        ui.table(["Ticker", "Matched text", "Rule", "Relevance"], legend_rows, numeric=(3,),
                 empty="The tagger found no mention in this article.", table_id="ev-mentions"),
        html.P(f"{len(unplaced)} mention(s) could not be located in the stored text: "
               + "; ".join(f"{m['symbol']} “{m['matched']}”" for m in unplaced), className="help")
        if unplaced else None,
    ])


# Returns, fit, reactions ------------------------------------------------------------------
def _returns(results: Sequence[dict[str, Any]], ctx: AppContext) -> Any:
    rows = []
    order = {w: i for i, w in enumerate(ctx.windows)}
    results = sorted(results, key=lambda r: (r["model"], order.get((r["window_start"], r["window_end"]), len(order)),
                                             r["window_start"], r["window_end"]))
    for r in results:
        status = "ok" if r["status"] == "ok" else html.Span(r["status"].replace("_", " "), title=r["reason"] or "",
                                                            className="muted")
        rows.append([
            r["model"], ui.window_label((r["window_start"], r["window_end"])), r["benchmark"] or "—",
            ui.signed(r["raw_return"], ui.pct(r["raw_return"])), ui.pct(r["benchmark_return"]),
            ui.signed(r["abnormal_return"], ui.pct(r["abnormal_return"])),
            ui.signed(r["car"], ui.pct(r["car"])), ui.num(r["t_stat"]), str(r["n_obs"]),
            "yes" if r["complete"] else "no", status,
        ])
    return ui.table(["Model", "Window", "Benchmark", "Raw", "Benchmark", "BHAR", "CAR", "t", "Days", "Complete",
                     "Status"], rows, numeric=(3, 4, 5, 6, 7, 8),
                    empty="No returns stored for this event yet (the next pass measures it).",
                    table_id="ev-returns-table")


def _fit(results: Sequence[dict[str, Any]], ctx: AppContext) -> Any:
    seen: dict[str, dict[str, Any]] = {}
    for r in results:
        seen.setdefault(r["model"], r)
    rows = [[m, r["benchmark"] or "—", ui.num(r["alpha"], "+.5f"), ui.num(r["beta"], ".3f"),
             ui.pct(r["sigma"]).lstrip("+"), f"{r['estimation_obs']:,}",
             "ok" if r["status"] == "ok" else (r["reason"] or r["status"])] for m, r in seen.items()]
    return ui.table(["Model", "Benchmark", "Alpha (daily)", "Beta", "Residual sd", "Observations", "Status"], rows,
                    numeric=(2, 3, 4, 5), empty="No model fitted yet.", table_id="ev-fit-table")


def _reactions(rows: Sequence[dict[str, Any]], ctx: AppContext) -> Any:
    body = []
    for r in rows:
        span = "—" if r["start_at"] is None else (
            f"{r['start_at'].astimezone(ctx.tz):%H:%M} → {r['end_at'].astimezone(ctx.tz):%H:%M %Z}"
            if r["end_at"] else f"{r['start_at'].astimezone(ctx.tz):%H:%M %Z}")
        body.append([r["horizon"], r["interval"], span, ui.signed(r["raw_return"], ui.pct(r["raw_return"])),
                     ui.pct(r["benchmark_return"]), ui.signed(r["abnormal_return"], ui.pct(r["abnormal_return"])),
                     "yes" if r["complete"] else "no", r["reason"] or ""])
    return ui.table(["Horizon", "Bars", "From → to", "Raw", "Benchmark", "Abnormal", "Complete", "Note"], body,
                    numeric=(3, 4, 5))


# Charts -----------------------------------------------------------------------------------
def _charts(conn, ctx: AppContext, ev: dict[str, Any]) -> tuple[Any, Any, str]:  # noqa: ANN001
    symbol, session = ev["symbol"], ev["session"]
    benchmark = ev.get("instrument_benchmark")
    start, end = session - timedelta(days=DAYS_BEFORE), session + timedelta(days=DAYS_AFTER)
    bars = queries.bars(conn, symbol, "1d", start, end)
    bench = queries.bars(conn, benchmark, "1d", start, end) if benchmark else None
    others = [e for e in queries.ticker_event_sessions(conn, symbol) if start <= e["session"] <= end]
    markers = [(e["session"], e["title"], ui.event_href(e["article_key"], symbol)) for e in others]
    price = figures.ticker_chart(
        bars, symbol, style="candles", benchmark_bars=bench, benchmark=benchmark, markers=markers,
        title=f"{symbol} around {ui.day(session)}", hide_gaps=ev["calendar"] != "24/7",
    )
    measured = analysis.measure(conn, [{
        "id": ev["id"], "symbol": symbol, "session": session, "calendar": ev["calendar"], "benchmark": benchmark,
    }], ctx.settings)
    status = measured.events["status"].iloc[0]
    if status == "ok":
        paths = measured.car.T
        paths.columns = [f"{symbol} {ui.day(session)}"]
        curve = figures.car_band(paths, f"{symbol}: CAR from day -10 ({measured.model} model)")
        note = ("Cumulative abnormal return from 10 sessions before day 0; sessions not traded yet or without "
                "prices are left blank.")
    else:
        curve = figures.car_band(pd.DataFrame(), f"{symbol}: no CAR curve")
        note = f"No CAR curve: {measured.events['reason'].iloc[0] or status}."
    return price, curve, note


def register(app: dash.Dash, ctx: AppContext) -> None:
    """The event view has no controls of its own: a click on a news marker opens that event."""
    for graph in ("ev-price", "ev-car"):
        register_click_to_event(app, graph)
