"""Read and write functions of the store.

Every write is an idempotent upsert on the table's natural key and works on
SQLite and PostgreSQL alike (``INSERT ... ON CONFLICT``). Functions take a
``Connection`` inside the caller's transaction, so a pass commits whole or not
at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timezone
from typing import Any

import pandas as pd
from sqlalchemy import Table, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from monitor.prices import BAR_COLUMNS
from monitor.models import Article, Event, EventReturn, Instrument, TickerTag, Timing
from monitor.store.schema import (
    articles,
    event_returns,
    events,
    instruments,
    job_runs,
    mentions,
    price_bars,
    price_coverage,
)

log = logging.getLogger(__name__)



def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _insert(conn: Connection, table: Table):  # noqa: ANN202 - dialect-specific Insert
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    keys: Sequence[str],
    *,
    update: bool = False,
) -> int:
    """Insert ``rows``; on a clash of ``keys`` keep the old row, or update it.

    Returns the number of rows newly inserted (updates are not counted).
    """
    if not rows:
        return 0
    inserted = 0
    stmt = _insert(conn, table)
    if update:
        cols = [c for c in rows[0] if c not in keys]
        stmt = stmt.on_conflict_do_update(
            index_elements=list(keys), set_={c: stmt.excluded[c] for c in cols}
        )
        # Count the new ones separately: an upsert's rowcount counts updates too.
        existing = _existing_keys(conn, table, keys, rows)
        inserted = sum(1 for r in rows if tuple(r[k] for k in keys) not in existing)
        for chunk in _chunks(rows):
            conn.execute(stmt, chunk)
        return inserted
    stmt = stmt.on_conflict_do_nothing(index_elements=list(keys)).returning(table.c[keys[0]])
    for chunk in _chunks(rows):
        inserted += len(conn.execute(stmt, chunk).all())
    return inserted


def _chunks(rows: Sequence[dict[str, Any]], size: int = 500) -> Iterable[list[dict[str, Any]]]:
    for i in range(0, len(rows), size):
        yield list(rows[i : i + size])


def _existing_keys(
    conn: Connection, table: Table, keys: Sequence[str], rows: Sequence[dict[str, Any]]
) -> set[tuple[Any, ...]]:
    first = keys[0]
    values = sorted({r[first] for r in rows}, key=str)
    found: set[tuple[Any, ...]] = set()
    for i in range(0, len(values), 500):
        q = select(*[table.c[k] for k in keys]).where(table.c[first].in_(values[i : i + 500]))
        found.update(tuple(r) for r in conn.execute(q))
    return found


# Articles, instruments, mentions, events -----------------------------------
def known_article_keys(conn: Connection, keys: Iterable[str]) -> set[str]:
    """The subset of ``keys`` already stored."""
    keys = list(keys)
    found: set[str] = set()
    for i in range(0, len(keys), 500):
        q = select(articles.c.article_key).where(articles.c.article_key.in_(keys[i : i + 500]))
        found.update(conn.execute(q).scalars())
    return found


def save_articles(conn: Connection, items: Sequence[Article]) -> int:
    now = utcnow()
    rows = [
        {
            "article_key": a.key,
            "source": a.source,
            "source_id": a.source_id,
            "url": a.url,
            "title": a.title,
            "body": a.body,
            "published_at": a.published_at,
            "date_only": a.date_only,
            "zone_given": a.zone_given,
            "ingested_at": now,
        }
        for a in items
    ]
    return upsert(conn, articles, rows, ["article_key"])


def save_instruments(conn: Connection, items: Sequence[Instrument]) -> int:
    now = utcnow()
    rows = [
        {
            "symbol": i.symbol,
            "name": i.name,
            "asset_class": str(i.asset_class),
            "calendar": i.calendar,
            "benchmark": i.benchmark,
            "exchange": i.exchange,
            "aliases": list(i.aliases),
            "codes": list(i.codes),
            "taggable": i.taggable,
            "updated_at": now,
        }
        for i in items
    ]
    return upsert(conn, instruments, rows, ["symbol"], update=True)


def save_mentions(conn: Connection, article_key: str, tags: Sequence[TickerTag]) -> int:
    rows = [
        {
            "article_key": article_key,
            "symbol": tag.symbol,
            "start": m.start,
            "end": m.end,
            "matched": m.matched,
            "method": m.method,
            "relevance": tag.relevance,
        }
        for tag in tags
        for m in tag.mentions
    ]
    return upsert(conn, mentions, rows, ["article_key", "symbol", "start"])


def save_events(conn: Connection, items: Sequence[Event]) -> int:
    now = utcnow()
    rows = [
        {
            "article_key": e.article_key,
            "symbol": e.symbol,
            "published_at": e.published_at,
            "session": e.session,
            "timing": str(e.timing),
            "calendar": e.calendar,
            "date_only": e.date_only,
            "relevance": e.relevance,
            "created_at": now,
        }
        for e in items
    ]
    return upsert(conn, events, rows, ["article_key", "symbol"])


def _event_from_row(row: Any) -> Event:
    return Event(
        article_key=row.article_key,
        symbol=row.symbol,
        published_at=row.published_at,
        session=row.session,
        timing=Timing(row.timing),
        calendar=row.calendar,
        date_only=row.date_only,
        relevance=row.relevance,
    )


def events_to_measure(
    conn: Connection, windows: Sequence[tuple[int, int]], model_of: Callable[[str], str]
) -> list[Event]:
    """Events that lack a complete result for some window under their model.

    ``model_of`` maps a symbol to the model its events are measured with.
    """
    q = select(
        event_returns.c.article_key,
        event_returns.c.symbol,
        event_returns.c.model,
        event_returns.c.window_start,
        event_returns.c.window_end,
    ).where(event_returns.c.complete.is_(True))
    done = {tuple(r) for r in conn.execute(q)}
    todo = []
    for row in conn.execute(select(events).order_by(events.c.session, events.c.symbol)):
        model = model_of(row.symbol)
        if any((row.article_key, row.symbol, model, s, e) not in done for s, e in windows):
            todo.append(_event_from_row(row))
    return todo


def save_event_returns(conn: Connection, items: Sequence[EventReturn]) -> int:
    now = utcnow()
    rows = [
        {
            "article_key": r.article_key,
            "symbol": r.symbol,
            "window_start": r.window[0],
            "window_end": r.window[1],
            "model": r.model,
            "benchmark": r.benchmark,
            "raw_return": r.raw_return,
            "benchmark_return": r.benchmark_return,
            "abnormal_return": r.abnormal_return,
            "car": r.car,
            "t_stat": r.t_stat,
            "n_obs": r.n_obs,
            "complete": r.complete,
            "status": r.status,
            "reason": r.reason,
            "alpha": r.alpha,
            "beta": r.beta,
            "sigma": r.sigma,
            "estimation_obs": r.estimation_obs,
            "computed_at": now,
        }
        for r in items
    ]
    keys = ["article_key", "symbol", "window_start", "window_end", "model"]
    return upsert(conn, event_returns, rows, keys, update=True)


def event_results(conn: Connection) -> pd.DataFrame:
    """One row per event and window with its article: the report behind ``run``.

    Columns: article_key, title, source, published_at (aware UTC), symbol,
    session (date), timing, date_only, relevance, model, benchmark,
    window_start, window_end, raw_return, benchmark_return, abnormal_return,
    car, t_stat, n_obs, complete, status, reason.
    """
    q = (
        select(
            events.c.article_key,
            articles.c.title,
            articles.c.source,
            events.c.published_at,
            events.c.symbol,
            events.c.session,
            events.c.timing,
            events.c.date_only,
            events.c.relevance,
            event_returns.c.model,
            event_returns.c.benchmark,
            event_returns.c.window_start,
            event_returns.c.window_end,
            event_returns.c.raw_return,
            event_returns.c.benchmark_return,
            event_returns.c.abnormal_return,
            event_returns.c.car,
            event_returns.c.t_stat,
            event_returns.c.n_obs,
            event_returns.c.complete,
            event_returns.c.status,
            event_returns.c.reason,
        )
        .join(articles, articles.c.article_key == events.c.article_key)
        .outerjoin(
            event_returns,
            and_(
                event_returns.c.article_key == events.c.article_key,
                event_returns.c.symbol == events.c.symbol,
            ),
        )
        .order_by(events.c.published_at.desc(), events.c.relevance.desc(), events.c.symbol)
    )
    rows = conn.execute(q).mappings().all()
    return pd.DataFrame([dict(r) for r in rows])


def mentions_of(conn: Connection, article_keys: Iterable[str]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Mentions by (article_key, symbol), in text order: matched, method, start, end."""
    keys = list(article_keys)
    found: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for i in range(0, len(keys), 500):
        q = (
            select(mentions.c.article_key, mentions.c.symbol, mentions.c.matched, mentions.c.method,
                   mentions.c.start, mentions.c.end)
            .where(mentions.c.article_key.in_(keys[i : i + 500]))
            .order_by(mentions.c.article_key, mentions.c.start)
        )
        for r in conn.execute(q):
            found.setdefault((r.article_key, r.symbol), []).append(
                {"matched": r.matched, "method": r.method, "start": r.start, "end": r.end}
            )
    return found


# Prices --------------------------------------------------------------------
def save_bars(conn: Connection, bars: pd.DataFrame) -> int:
    """Upsert bars (columns :data:`BAR_COLUMNS`); a newer answer replaces a non-final bar."""
    if bars.empty:
        return 0
    now = utcnow()
    rows = []
    for rec in bars[BAR_COLUMNS].to_dict("records"):
        rec["ts"] = rec["ts"].to_pydatetime()
        rec["session"] = rec["session"].date() if pd.notna(rec["session"]) else None
        for col in ("open", "high", "low", "close", "volume"):
            rec[col] = None if pd.isna(rec[col]) else float(rec[col])
        rec["adjusted"] = bool(rec["adjusted"])
        rec["final"] = bool(rec["final"])
        rec["fetched_at"] = now
        rows.append(rec)
    return upsert(conn, price_bars, rows, ["symbol", "interval", "adjusted", "ts"], update=True)


def load_bars(
    conn: Connection, symbol: str, interval: str, start: date, end: date, *, adjusted: bool = True
) -> pd.DataFrame:
    """Bars of ``symbol`` with sessions ``start``..``end`` (columns :data:`BAR_COLUMNS`)."""
    q = (
        select(*[price_bars.c[c] for c in BAR_COLUMNS])
        .where(
            price_bars.c.symbol == symbol,
            price_bars.c.interval == interval,
            price_bars.c.adjusted.is_(adjusted),
            price_bars.c.session >= start,
            price_bars.c.session <= end,
        )
        .order_by(price_bars.c.ts)
    )
    rows = conn.execute(q).all()
    frame = pd.DataFrame(rows, columns=BAR_COLUMNS)
    if not frame.empty:
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        frame["session"] = pd.to_datetime(frame["session"])
    return frame


def covered_ranges(conn: Connection, symbol: str, interval: str, source: str) -> list[tuple[date, date]]:
    """Session ranges already answered by ``source`` for ``symbol``, merged and sorted."""
    q = select(price_coverage.c.start, price_coverage.c.end).where(
        price_coverage.c.symbol == symbol,
        price_coverage.c.interval == interval,
        price_coverage.c.source == source,
    )
    spans = sorted((r.start, r.end) for r in conn.execute(q))
    merged: list[tuple[date, date]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1] + pd.Timedelta(days=1).to_pytimedelta():
            merged[-1] = (merged[-1][0], max(merged[-1][1], e))
        else:
            merged.append((s, e))
    return merged


def record_coverage(conn: Connection, symbol: str, interval: str, source: str, start: date, end: date) -> None:
    conn.execute(
        price_coverage.insert().values(
            symbol=symbol, interval=interval, source=source, start=start, end=end, fetched_at=utcnow()
        )
    )


# Job runs ------------------------------------------------------------------
def start_job(conn: Connection, job: str) -> int:
    result = conn.execute(
        job_runs.insert().values(job=job, started_at=utcnow(), status="running").returning(job_runs.c.id)
    )
    return int(result.scalar_one())


def finish_job(conn: Connection, run_id: int, status: str, counts: dict[str, int], error: str | None = None) -> None:
    conn.execute(
        job_runs.update()
        .where(job_runs.c.id == run_id)
        .values(finished_at=utcnow(), status=status, counts=counts, error=error)
    )


def count_rows(conn: Connection) -> dict[str, int]:
    """Row count of every data table (used to show a pass added nothing)."""
    tables = [articles, instruments, mentions, events, event_returns, price_bars, price_coverage]
    return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in tables}
