"""Small building blocks shared by the views: formatting, links, URLs, tables, empty and error pages.

Stored text (headlines, bodies, sources, URLs) only ever becomes the
*children* of Dash components: React escapes strings, so a headline such as
``<img src=x onerror=alert(1)>`` is shown as those characters. Links built
from stored URLs are made only for ``http`` and ``https``; anything else
(``javascript:``, ``data:``) is shown as plain text (:func:`external_link`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit
from zoneinfo import ZoneInfo

from dash import dcc, html

from monitor.formatting import missing, num, pct, window_label  # noqa: F401 - the views format through ui

#: How the timing of an event reads to a person.
TIMING_LABELS: dict[str, str] = {
    "pre_market": "before the open",
    "regular": "market hours",
    "after_hours": "after the close",
    "non_trading_day": "market closed",
    "date_only": "date only",
    "continuous": "24/7 market",
}

#: What each tagging rule means (README, "Tagging").
RULE_LABELS: dict[str, str] = {
    "name_ticker": "name followed by its ticker",
    "name_code": "name with its code in brackets",
    "cashtag": "cashtag ($TICKER)",
    "exchange_ticker": "exchange and ticker (NYSE:GEO)",
    "paren_ticker": "ticker in brackets",
    "pair": "currency pair",
    "name": "company name",
    "alias": "alias",
    "brand": "brand",
    "ticker": "bare ticker among market words",
    "source": "quoted as a source",
}


# Numbers and times ------------------------------------------------------------
def when(published_at: datetime | None, date_only: bool, tz: ZoneInfo) -> str:
    """A publication time with its zone (``2025-02-04 09:31 EST``), or the date of a date-only article."""
    if published_at is None:
        return "—"
    if date_only:
        return published_at.astimezone(timezone.utc).strftime("%Y-%m-%d") + " (date only)"
    return published_at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")


def utc(published_at: datetime | None) -> str:
    return "—" if published_at is None else published_at.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def day(value: date | datetime | None) -> str:
    if value is None:
        return "—"
    return value.strftime("%Y-%m-%d")


def parse_window(value: str | None) -> tuple[int, int] | None:
    """``"-1:1"`` -> ``(-1, 1)``; None when unreadable."""
    if not value:
        return None
    try:
        s, e = (int(p) for p in value.split(":"))
    except ValueError:
        return None
    return (s, e) if s <= e else None


# URLs -------------------------------------------------------------------------------
def ticker_href(symbol: str, **query: Any) -> str:
    return f"/ticker/{quote(symbol, safe='')}" + query_string(query)


def event_href(article_key: str, symbol: str) -> str:
    return f"/event/{quote(article_key, safe='')}/{quote(symbol, safe='')}"


def study_href(**query: Any) -> str:
    return "/study" + query_string(query)


def overview_href(**query: Any) -> str:
    return "/" + query_string(query)


def query_string(query: Mapping[str, Any]) -> str:
    """``?a=1&b=x`` from the values that are set (None, "" and False are left out)."""
    kept = {k: v for k, v in query.items() if v is not None and v != "" and v is not False}
    return ("?" + urlencode(kept)) if kept else ""


def parse_query(search: str | None) -> dict[str, str]:
    """The first value of each key of a query string (``?a=1&b=2``)."""
    return {k: v[0] for k, v in parse_qs((search or "").lstrip("?"), keep_blank_values=False).items() if v}


def path_parts(pathname: str | None) -> list[str]:
    """``/event/abc/GEO`` -> ``["event", "abc", "GEO"]`` (percent-decoded)."""
    return [unquote(p) for p in (pathname or "/").split("/") if p]


def parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def parse_float(value: Any, lo: float | None = None, hi: float | None = None) -> float | None:
    """A float within [lo, hi], or None when unreadable or out of range."""
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(number) or (lo is not None and number < lo) or (hi is not None and number > hi):
        return None
    return number


def parse_int(value: Any, default: int, lo: int = 1, hi: int = 10**9) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return min(max(number, lo), hi)


# Components -------------------------------------------------------------------------
def external_link(url: str | None, label: str | None = None) -> Any:
    """A link to an article's URL when it is http(s); otherwise the URL itself as inert text.

    ``javascript:``, ``data:`` and anything else never become an ``href``; the
    text shows what the source sent, so a reader can judge it.
    """
    if not url:
        return html.Span("no link", className="muted")
    text = label or url
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        scheme = ""
    if scheme in ("http", "https"):
        return html.A(text, href=url.strip(), target="_blank", rel="noopener noreferrer nofollow")
    return html.Span([url, html.Span(" (not a web link: not clickable)", className="muted")],
                     className="inert-url")


def ticker_link(symbol: str) -> Any:
    return dcc.Link(symbol, href=ticker_href(symbol), className="ticker")


def event_link(article_key: str, symbol: str, label: str) -> Any:
    return dcc.Link(label or "(no headline)", href=event_href(article_key, symbol), className="headline")


def signed(value: Any, text: str) -> Any:
    """``text`` coloured by the sign of ``value``."""
    if missing(value):
        return html.Span(text, className="muted")
    return html.Span(text, className="up" if float(value) > 0 else "down" if float(value) < 0 else "")


def help_text(text: str) -> Any:
    return html.P(text, className="help")


def table(
    headers: Sequence[str | Any],
    rows: Iterable[Sequence[Any]],
    *,
    numeric: Iterable[int] = (),
    empty: str = "nothing to show",
    table_id: str | None = None,
    row_class: str | None = None,
) -> Any:
    """A plain HTML table; ``numeric`` column positions are right-aligned."""
    right = set(numeric)
    body = [
        html.Tr([html.Td(cell, className="num" if i in right else None) for i, cell in enumerate(row)],
                className=row_class)
        for row in rows
    ]
    if not body:
        return html.P(empty, className="empty")
    head = html.Thead(html.Tr([html.Th(h, className="num" if i in right else None) for i, h in enumerate(headers)]))
    kwargs = {"id": table_id} if table_id else {}
    return html.Table([head, html.Tbody(body)], className="data", **kwargs)


def section(title: str, *children: Any, help: str | None = None, **kwargs: Any) -> Any:  # noqa: A002
    parts: list[Any] = [html.H2(title)]
    if help:
        parts.append(help_text(help))
    parts.extend(children)
    return html.Section(parts, **kwargs)


def message_page(title: str, lines: Sequence[Any], *, kind: str = "info", links: Sequence[Any] = ()) -> Any:
    """A page that says one thing clearly: not found, empty, an error."""
    return html.Div(
        [html.H1(title), *[html.P(line) for line in lines],
         html.P(list(_join(links, " · ")), className="links") if links else None],
        className=f"message {kind}",
    )


def _join(items: Sequence[Any], sep: str) -> Iterable[Any]:
    for i, item in enumerate(items):
        if i:
            yield sep
        yield item


def not_found(what: str, name: str, hint: str | None = None) -> Any:
    """The "not found" page of an unknown ticker, event or path."""
    lines: list[Any] = [f"{what} {name!s} was not found in this store."]
    if hint:
        lines.append(hint)
    return message_page(
        f"{what} not found", lines, kind="not-found",
        links=[dcc.Link("Back to the overview", href="/"), dcc.Link("Event study", href="/study")],
    )


def empty_store(database: str) -> Any:
    """What a first-time user sees on an empty store: how to load the demo."""
    return message_page(
        "No events in the store yet",
        [
            "The dashboard shows the news events the monitor has measured, and this store has none.",
            html.Span(["To load the bundled demo (a 2025-02-04 article naming CoreCivic, the GEO Group and "
                       "Bitcoin, with their prices), run ", html.Code("monitor run --once"),
                       " in the folder of the store, then reload this page."]),
            html.Span(["This dashboard reads ", html.Code(database),
                       "; set MONITOR_DATABASE_URL (or database_url in monitor.toml) to read another store."]),
        ],
        kind="empty",
    )


def error_page(title: str, reason: str, database: str) -> Any:
    return message_page(
        title,
        [reason, html.Span(["The dashboard reads ", html.Code(database),
                            ". Check MONITOR_DATABASE_URL and that the database server is running; "
                            "a new database gets its tables from ", html.Code("monitor run --once"), "."])],
        kind="error", links=[dcc.Link("Try the overview again", href="/")],
    )
