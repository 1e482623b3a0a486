"""Every SQL statement of the dashboard (SQLAlchemy Core; SQLite and PostgreSQL alike).

The dashboard reads the store and nothing else. Views call these functions
with a :class:`~sqlalchemy.engine.Connection` and get plain rows back
(dicts, frames); no view builds SQL itself, so the query plans that keep the
overview fast with 100,000 events live in one place:

* pages are chosen in SQL (``ORDER BY ... LIMIT/OFFSET``) with a deferred
  join: the page's event ids first, on ``events`` with only the joins the
  filter and the sort need, then the page's 25 rows with their article and
  results;
* the default order (newest first) walks ``ix_events_published_at`` and a sort
  on a result walks ``ix_event_returns_window_*`` (migration 0006), both
  stopping after one page;
* counts are a separate ``COUNT(*)``; one that must join every match to its
  day-0 result (the |move| filter) stops at :data:`RESULT_COUNT_CAP`;
* an event's results are those of the model the pipeline uses for its
  instrument: ``settings.model`` with a benchmark, ``mean`` without
  (:func:`preferred_model`), so a store that also holds rows of another model
  (the setting was changed) never shows an event twice.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import (
    and_,
    case,
    func,
    inspect,
    literal,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.elements import ColumnElement

from monitor.store import repo
from monitor.store.schema import (
    alerts,
    articles,
    event_reactions,
    event_returns,
    events,
    instruments,
    mentions,
    price_bars,
)

#: Columns the overview can be sorted on (URL value -> what is sorted).
SORT_KEYS: tuple[str, ...] = ("published", "ticker", "source", "relevance", "novelty", "ar", "t", "car")
#: A count that joins every matching event to its day-0 result (the |move| filter) costs a few
#: microseconds per match; beyond this many matches the overview says "more than" and counts exactly
#: only when asked (the last page).
RESULT_COUNT_CAP = 5000


@dataclass(frozen=True)
class EventFilter:
    """Which events a list shows. ``None`` or empty means "no condition".

    ``min_move`` is the smallest ``|day-0 abnormal return|`` as a fraction
    (0.02 = 2 %); events without one are left out when it is set. Dates are
    publication dates in ``tz`` (a date-only article counts on its stated
    date, whatever the zone).
    """

    ticker: str | None = None
    theme_symbols: tuple[str, ...] | None = None
    source: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    min_relevance: float | None = None
    min_move: float | None = None
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("America/New_York"))

    @property
    def needs_results(self) -> bool:
        return self.min_move is not None and self.min_move > 0


@dataclass
class EventPage:
    """One page of events: ``rows`` (dicts) and ``total`` matching the filter."""

    rows: list[dict[str, Any]]
    total: int
    page: int
    page_size: int
    #: False when ``total`` is a lower bound (:data:`RESULT_COUNT_CAP`): more events match.
    exact: bool = True

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


# Health and emptiness ---------------------------------------------------------
def ping(engine: Engine) -> None:
    """``SELECT 1``; raises the driver's error when the store does not answer."""
    with engine.connect() as conn:
        conn.execute(text("SELECT 1")).scalar_one()


def has_tables(conn: Connection) -> bool:
    """Whether the monitor's tables exist (a brand-new database has none)."""
    return inspect(conn).has_table("events")


def store_counts(conn: Connection) -> dict[str, int]:
    """How many articles, events and price bars the store holds (cheap: index-only counts)."""
    return {
        "articles": int(conn.execute(select(func.count()).select_from(articles)).scalar_one()),
        "events": int(conn.execute(select(func.count()).select_from(events)).scalar_one()),
    }


# The overview -------------------------------------------------------------------
def preferred_model(model: str) -> ColumnElement[str]:
    """The model whose results the dashboard shows for an event: the pipeline's choice.

    ``model`` (``settings.model``) for instruments with a benchmark, ``mean``
    for those without (crypto); needs ``instruments`` in the FROM clause.
    """
    return case((instruments.c.benchmark.is_not(None), literal(model)), else_=literal("mean"))


def _results_alias(name: str, window: tuple[int, int], model: str):  # noqa: ANN202 - an Alias and its ON clause
    r = event_returns.alias(name)
    on = and_(
        r.c.article_key == events.c.article_key,
        r.c.symbol == events.c.symbol,
        r.c.window_start == window[0],
        r.c.window_end == window[1],
        r.c.model == preferred_model(model),
    )
    return r, on


def _day_start(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tz).astimezone(timezone.utc)


def _moved(r0: Any, smallest: float | None) -> ColumnElement[bool]:
    """``|day-0 AR| >= smallest`` as two ranges, so the database can read them off the AR index."""
    return or_(r0.c.abnormal_return >= smallest, r0.c.abnormal_return <= -smallest)


def filter_conditions(f: EventFilter) -> list[ColumnElement[bool]]:
    """WHERE conditions of ``f`` on ``events`` alone (the move needs the day-0 results: see callers).

    The source is a semi-join (``article_key IN (articles of the source)``,
    answered by the index on ``articles (source, source_id)``), so neither the
    page nor the count has to join every article.
    """
    where: list[ColumnElement[bool]] = []
    if f.ticker:
        where.append(events.c.symbol == f.ticker)
    if f.theme_symbols is not None:
        where.append(events.c.symbol.in_(list(f.theme_symbols)) if f.theme_symbols else literal(False))
    if f.source:
        where.append(events.c.article_key.in_(select(articles.c.article_key).where(articles.c.source == f.source)))
    if f.min_relevance is not None and f.min_relevance > 0:
        where.append(events.c.relevance >= f.min_relevance)
    if f.date_from or f.date_to:
        # A timed article counts on its date in the display zone; a date-only one on its stated
        # (UTC) date. The outer range lets the index narrow the rows; the OR decides each one.
        parts_local, parts_utc, outer = [], [], []
        if f.date_from:
            lo_local, lo_utc = _day_start(f.date_from, f.tz), _day_start(f.date_from, timezone.utc)
            parts_local.append(events.c.published_at >= lo_local)
            parts_utc.append(events.c.published_at >= lo_utc)
            outer.append(events.c.published_at >= min(lo_local, lo_utc))
        if f.date_to:
            after = f.date_to + timedelta(days=1)
            hi_local, hi_utc = _day_start(after, f.tz), _day_start(after, timezone.utc)
            parts_local.append(events.c.published_at < hi_local)
            parts_utc.append(events.c.published_at < hi_utc)
            outer.append(events.c.published_at < max(hi_local, hi_utc))
        where.extend(outer)
        where.append(or_(
            and_(events.c.date_only.is_(True), *parts_utc),
            and_(events.c.date_only.is_(False), *parts_local),
        ))
    return where


def overview_page(
    conn: Connection,
    f: EventFilter,
    *,
    model: str,
    car_window: tuple[int, int],
    sort: str = "published",
    descending: bool = True,
    page: int = 1,
    page_size: int = 25,
    exact: bool = False,
) -> EventPage:
    """One page of events matching ``f``, sorted in SQL, with the total count.

    The count is exact unless the filter joins the results (a minimum move)
    and more than :data:`RESULT_COUNT_CAP` events match: then ``total`` is
    the cap and ``exact`` False, until ``exact=True`` or a page past the cap
    asks for the true count.

    Two steps (a "deferred join"): the page's event ids are chosen on
    ``events`` with only the joins the filter and the sort need, then the
    page's rows get their article and results by id. The newest first walks
    ``ix_events_published_at`` and stops after the page; a sort on a result
    (day-0 AR, its t, the CAR) walks the matching index of ``event_returns``
    (:func:`_ids_by_result`). A page past the end is moved to the last page.

    Rows: id, article_key, symbol, published_at (aware UTC), session, timing,
    date_only, relevance, confounded, title, source, novelty, model, ar (day-0
    abnormal return), ar_t, ar_status, ar_reason, car (over ``car_window``),
    car_t.
    """
    if sort not in SORT_KEYS:
        sort = "published"
    page_size = max(1, int(page_size))
    page = max(1, int(page))
    cap = None if exact or not f.needs_results else RESULT_COUNT_CAP
    total = count_events(conn, f, model=model, cap=cap)
    counted = cap is None or total <= cap
    if not counted and page > -(-cap // page_size):
        total, counted = count_events(conn, f, model=model), True
    total = total if counted else cap
    pages = max(1, -(-total // page_size))
    page = min(page, pages) if counted else page
    offset = (page - 1) * page_size
    if sort in ("ar", "t", "car"):
        ids = _ids_by_result(conn, f, model=model, car_window=car_window, sort=sort, descending=descending,
                             offset=offset, limit=page_size)
    else:
        ids = _ids_by_event(conn, f, model=model, sort=sort, descending=descending, offset=offset, limit=page_size)
    if not ids:
        return EventPage(rows=[], total=total, page=page, page_size=page_size, exact=counted)
    r0, on0 = _results_alias("d0", (0, 0), model)
    rw, onw = _results_alias("dw", car_window, model)
    details = (
        select(
            events.c.id, events.c.article_key, events.c.symbol, events.c.published_at, events.c.session,
            events.c.timing, events.c.date_only, events.c.relevance, events.c.confounded,
            articles.c.title, articles.c.source, articles.c.novelty,
            r0.c.model, r0.c.abnormal_return.label("ar"), r0.c.t_stat.label("ar_t"),
            r0.c.status.label("ar_status"), r0.c.reason.label("ar_reason"),
            rw.c.car.label("car"), rw.c.t_stat.label("car_t"),
        )
        .select_from(
            events.join(articles, articles.c.article_key == events.c.article_key)
            .outerjoin(instruments, instruments.c.symbol == events.c.symbol)
            .outerjoin(r0, on0)
            .outerjoin(rw, onw)
        )
        .where(events.c.id.in_(ids))
    )
    by_id = {r["id"]: dict(r) for r in conn.execute(details).mappings()}
    rows = [by_id[i] for i in ids if i in by_id]
    return EventPage(rows=rows, total=total, page=page, page_size=page_size, exact=counted)


def _ids_by_event(
    conn: Connection, f: EventFilter, *, model: str, sort: str, descending: bool, offset: int, limit: int
) -> list[int]:
    """Ids of one page sorted on a column of the event or its article."""
    source = events
    r0, on0 = _results_alias("r0", (0, 0), model)
    if f.needs_results:
        source = source.outerjoin(instruments, instruments.c.symbol == events.c.symbol).join(r0, on0)
    if sort in ("source", "novelty"):
        source = source.join(articles, articles.c.article_key == events.c.article_key)
    column = {"published": events.c.published_at, "ticker": events.c.symbol, "source": articles.c.source,
              "relevance": events.c.relevance, "novelty": articles.c.novelty}[sort]
    ordered = column.desc() if descending else column.asc()
    if sort == "novelty":
        ordered = ordered.nulls_last()
    tie = [events.c.id.desc() if descending else events.c.id.asc()] if sort == "published" else [
        events.c.published_at.desc(), events.c.id.desc()]
    q = select(events.c.id).select_from(source).where(*filter_conditions(f)).order_by(ordered, *tie)
    if f.needs_results:
        q = q.where(_moved(r0, f.min_move))
    return [r[0] for r in conn.execute(q.limit(limit).offset(offset))]


def _ids_by_result(
    conn: Connection, f: EventFilter, *, model: str, car_window: tuple[int, int], sort: str, descending: bool,
    offset: int, limit: int,
) -> list[int]:
    """Ids of one page sorted on a result (``ar``, ``t``, ``car``), events without one last.

    First the events with a value, driven from ``event_returns`` in the order
    of its index on (window, value); then, when the page reaches past them,
    the events without one (no result yet, or no abnormal return), newest
    first: together ``ORDER BY value NULLS LAST, published_at DESC, id DESC``.
    """
    window = car_window if sort == "car" else (0, 0)
    rv = event_returns.alias("rv")
    column = {"ar": rv.c.abnormal_return, "t": rv.c.t_stat, "car": rv.c.car}[sort]
    r0, on0 = _results_alias("r0", (0, 0), model)
    keys = and_(rv.c.article_key == events.c.article_key, rv.c.symbol == events.c.symbol)
    picked = and_(rv.c.window_start == window[0], rv.c.window_end == window[1], rv.c.model == preferred_model(model))
    # The move filter reads the day-0 result: the sorted row itself unless the sort is on another window.
    move_on = rv if window == (0, 0) else r0
    move = [_moved(move_on, f.min_move)] if f.needs_results else []

    def with_move(source):  # noqa: ANN001, ANN202 - a FROM clause
        return source.join(r0, on0) if f.needs_results and move_on is r0 else source

    tie = [events.c.published_at.desc(), events.c.id.desc()]
    ordered = column.desc() if descending else column.asc()
    valued = (
        select(events.c.id)
        .select_from(with_move(rv.join(events, keys).outerjoin(instruments, instruments.c.symbol == events.c.symbol)))
        .where(picked, column.is_not(None), *filter_conditions(f), *move)
    )
    ids = [r[0] for r in conn.execute(valued.order_by(ordered, *tie).limit(limit).offset(offset))]
    if len(ids) == limit:
        return ids
    with_value = int(conn.execute(select(func.count()).select_from(valued.subquery())).scalar_one())
    rest = (
        select(events.c.id)
        .select_from(with_move(events.outerjoin(instruments, instruments.c.symbol == events.c.symbol)
                               .outerjoin(rv, and_(keys, picked))))
        .where(column.is_(None), *filter_conditions(f), *move)
        .order_by(*tie)
        .limit(limit - len(ids))
        .offset(max(0, offset - with_value))
    )
    return ids + [r[0] for r in conn.execute(rest)]


def count_events(conn: Connection, f: EventFilter, *, model: str, cap: int | None = None) -> int:
    """How many events match ``f`` (joins the day-0 results only for a move filter).

    With ``cap``, counting stops after ``cap + 1`` matches: a result above
    ``cap`` means "more than ``cap``".
    """
    source = events
    where = filter_conditions(f)
    if f.needs_results:
        r0, on0 = _results_alias("r0", (0, 0), model)
        source = source.outerjoin(instruments, instruments.c.symbol == events.c.symbol).join(r0, on0)
        where.append(_moved(r0, f.min_move))
    if cap is None:
        q = select(func.count()).select_from(source).where(*where)
    else:
        q = select(func.count()).select_from(select(events.c.id).select_from(source).where(*where)
                                              .limit(cap + 1).subquery())
    return int(conn.execute(q).scalar_one())


def all_events_naive(conn: Connection) -> pd.DataFrame:
    """Every event with its article and every result row, unpaginated: the benchmark's baseline.

    This is what a dashboard that filters and pages in Python would have to
    load on each view (:func:`monitor.store.repo.event_results`).
    """
    return repo.event_results(conn)


def filter_options(conn: Connection) -> dict[str, list[str]]:
    """The tickers with events and the sources with articles, sorted (dropdown options)."""
    tickers = [r[0] for r in conn.execute(select(events.c.symbol).distinct().order_by(events.c.symbol))]
    sources = [r[0] for r in conn.execute(select(articles.c.source).distinct().order_by(articles.c.source))]
    return {"tickers": tickers, "sources": sources}


def latest_alerts(conn: Connection, limit: int = 10) -> list[dict[str, Any]]:
    """The newest alerts: created_at, rule, kind, symbol, article_key, title."""
    q = (
        select(alerts.c.id, alerts.c.created_at, alerts.c.rule, alerts.c.kind, alerts.c.symbol,
               alerts.c.article_key, alerts.c.title)
        .order_by(alerts.c.created_at.desc(), alerts.c.id.desc())
        .limit(limit)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


# A ticker -------------------------------------------------------------------------
def instrument(conn: Connection, symbol: str) -> dict[str, Any] | None:
    """The instrument row (name, asset class, calendar, benchmark, exchange), or None."""
    row = conn.execute(select(instruments).where(instruments.c.symbol == symbol)).mappings().first()
    return dict(row) if row else None


def ticker_known(conn: Connection, symbol: str) -> bool:
    """Whether the store knows ``symbol`` at all: an instrument, an event or a price bar."""
    for q in (
        select(instruments.c.symbol).where(instruments.c.symbol == symbol).limit(1),
        select(events.c.id).where(events.c.symbol == symbol).limit(1),
        select(price_bars.c.symbol).where(price_bars.c.symbol == symbol).limit(1),
    ):
        if conn.execute(q).first() is not None:
            return True
    return False


def held_intervals(conn: Connection, symbol: str) -> dict[str, tuple[date | None, date | None, int]]:
    """Bar intervals held for ``symbol``: interval -> (first session, last session, bars)."""
    q = (
        select(price_bars.c.interval, func.min(price_bars.c.session), func.max(price_bars.c.session), func.count())
        .where(price_bars.c.symbol == symbol)
        .group_by(price_bars.c.interval)
    )
    return {r[0]: (r[1], r[2], int(r[3])) for r in conn.execute(q)}


def bars(conn: Connection, symbol: str, interval: str, start: date, end: date) -> pd.DataFrame:
    """Bars of ``symbol`` (see :func:`monitor.store.repo.load_bars`); daily bars adjusted only."""
    return repo.load_bars(conn, symbol, interval, start, end, adjusted=True if interval == "1d" else None)


def close_matrix(conn: Connection, symbols: Sequence[str], start: date, end: date) -> pd.DataFrame:
    """Sessions x symbols daily adjusted closes (:func:`monitor.store.repo.load_close_matrix`)."""
    return repo.load_close_matrix(conn, symbols, start, end)


def last_session(conn: Connection, symbols: Sequence[str], interval: str = "1d") -> date | None:
    """The latest session with a bar of any of ``symbols``."""
    if not symbols:
        return None
    q = select(func.max(price_bars.c.session)).where(
        price_bars.c.symbol.in_(list(symbols)), price_bars.c.interval == interval)
    return conn.execute(q).scalar()


def ticker_events(
    conn: Connection, symbol: str, *, model: str, car_window: tuple[int, int], limit: int | None = None
) -> list[dict[str, Any]]:
    """Events of ``symbol``, newest first, with article and day-0/window results (as the overview)."""
    return overview_page(
        conn, EventFilter(ticker=symbol), model=model, car_window=car_window,
        page_size=limit or 1_000_000,
    ).rows


def ticker_event_sessions(conn: Connection, symbol: str) -> list[dict[str, Any]]:
    """Every event of ``symbol`` (id, article_key, session, calendar, published_at, title), oldest first."""
    q = (
        select(events.c.id, events.c.article_key, events.c.symbol, events.c.session, events.c.calendar,
               events.c.published_at, events.c.date_only, articles.c.title)
        .join(articles, articles.c.article_key == events.c.article_key)
        .where(events.c.symbol == symbol)
        .order_by(events.c.session, events.c.id)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


# An event -------------------------------------------------------------------------
def event_detail(conn: Connection, article_key: str, symbol: str) -> dict[str, Any] | None:
    """The event with its article (title, body, url, source, novelty...) and instrument, or None."""
    q = (
        select(
            events, articles.c.title, articles.c.body, articles.c.url, articles.c.source,
            articles.c.source_id, articles.c.novelty, articles.c.story_key, articles.c.zone_given,
            articles.c.ingested_at, instruments.c.name.label("instrument_name"),
            instruments.c.benchmark.label("instrument_benchmark"),
        )
        .join(articles, articles.c.article_key == events.c.article_key)
        .outerjoin(instruments, instruments.c.symbol == events.c.symbol)
        .where(events.c.article_key == article_key, events.c.symbol == symbol)
    )
    row = conn.execute(q).mappings().first()
    return dict(row) if row else None


def article_mentions(conn: Connection, article_key: str) -> list[dict[str, Any]]:
    """Every mention of the article (all symbols), in text order: symbol, start, end, matched, method, relevance."""
    q = (
        select(mentions.c.symbol, mentions.c.start, mentions.c.end, mentions.c.matched, mentions.c.method,
               mentions.c.relevance)
        .where(mentions.c.article_key == article_key)
        .order_by(mentions.c.start, mentions.c.symbol)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def article_events(conn: Connection, article_key: str) -> list[dict[str, Any]]:
    """The events (symbol, relevance, session) of one article, by symbol."""
    q = (
        select(events.c.symbol, events.c.relevance, events.c.session)
        .where(events.c.article_key == article_key)
        .order_by(events.c.symbol)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def event_results(conn: Connection, article_key: str, symbol: str) -> list[dict[str, Any]]:
    """Every stored result of the event, by model then window."""
    q = (
        select(event_returns)
        .where(event_returns.c.article_key == article_key, event_returns.c.symbol == symbol)
        .order_by(event_returns.c.model, event_returns.c.window_start, event_returns.c.window_end)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


def event_reactions_of(conn: Connection, article_key: str, symbol: str) -> list[dict[str, Any]]:
    """The intraday reactions of the event, by horizon."""
    q = (
        select(event_reactions)
        .where(event_reactions.c.article_key == article_key, event_reactions.c.symbol == symbol)
        .order_by(event_reactions.c.end_at)
    )
    return [dict(r) for r in conn.execute(q).mappings()]


# A study ---------------------------------------------------------------------------
def study_events(conn: Connection, f: EventFilter, *, limit: int) -> tuple[list[dict[str, Any]], int]:
    """The newest ``limit`` events matching ``f`` (id, article_key, symbol, session, calendar, benchmark,
    title, published_at, relevance) and how many match in all."""
    source = events.join(articles, articles.c.article_key == events.c.article_key).outerjoin(
        instruments, instruments.c.symbol == events.c.symbol)
    where = filter_conditions(f)
    if f.needs_results:
        raise ValueError("a study selects events without a move filter: the move is what it measures")
    q = (
        select(events.c.id, events.c.article_key, events.c.symbol, events.c.session, events.c.calendar,
               events.c.published_at, events.c.date_only, events.c.relevance,
               instruments.c.benchmark, articles.c.title)
        .select_from(source)
        .where(*where)
        .order_by(events.c.published_at.desc(), events.c.id.desc())
        .limit(limit)
    )
    rows = [dict(r) for r in conn.execute(q).mappings()]
    total = len(rows) if len(rows) < limit else count_events(conn, f, model="market")
    return rows, total
