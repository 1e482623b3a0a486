"""Read and write functions of the store.

Every write is an idempotent upsert on the table's natural key and works on
SQLite and PostgreSQL alike (``INSERT ... ON CONFLICT``). Functions take a
``Connection`` inside the caller's transaction, so a pass commits whole or not
at all.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import Integer, Table, and_, bindparam, delete, func, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from monitor import clock as _clock
from monitor.prices import BAR_COLUMNS, INTERVALS
from monitor.news import PollState
from monitor.models import Article, Event, EventReturn, Instrument, TickerTag, Timing
from monitor.store.schema import (
    articles,
    event_returns,
    events,
    instruments,
    job_runs,
    mentions,
    event_reactions,
    price_actions,
    price_bars,
    price_coverage,
    source_polls,
    sources,
)

log = logging.getLogger(__name__)



def utcnow() -> datetime:
    return _clock.now()


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
    if conn.dialect.name == "sqlite":
        return _sqlite_insert_new(conn, table, rows, keys)
    stmt = stmt.on_conflict_do_nothing(index_elements=list(keys)).returning(table.c[keys[0]])
    for chunk in _chunks(rows, 1000):
        inserted += len(conn.execute(stmt, chunk).all())
    return inserted


def _sqlite_insert_new(
    conn: Connection, table: Table, rows: Sequence[dict[str, Any]], keys: Sequence[str]
) -> int:
    """``INSERT ... ON CONFLICT DO NOTHING`` through sqlite3's own executemany.

    The rows go through each column type's bind processor (so ``UTCDateTime``
    and JSON behave as everywhere else) but skip the per-row statement
    machinery, which costs more than SQLite itself on large batches.
    sqlite3's rowcount is the number of rows actually inserted.
    """
    dialect = conn.dialect
    cols = list(rows[0])
    quote = dialect.identifier_preparer.quote
    processors = [table.c[c].type._cached_bind_processor(dialect) for c in cols]  # noqa: SLF001
    sql = (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in cols)}) "
        f"VALUES ({', '.join('?' for _ in cols)}) "
        f"ON CONFLICT ({', '.join(quote(k) for k in keys)}) DO NOTHING"
    )
    converted = [(i, c, proc) for i, (c, proc) in enumerate(zip(cols, processors)) if proc is not None]
    inserted = 0
    for chunk in _chunks(rows, 5000):
        params = []
        for row in chunk:
            values = [row[c] for c in cols]
            for i, c, proc in converted:
                values[i] = proc(values[i])
            params.append(tuple(values))
        inserted += max(conn.exec_driver_sql(sql, params).rowcount, 0)
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


@dataclass
class KnownIdentities:
    """Identities of stored articles that a new batch might repeat."""

    keys: set[str] = field(default_factory=set)
    guids: set[str] = field(default_factory=set)
    urls: set[str] = field(default_factory=set)

    def seen(self, key: str, guid: str | None, url: str | None) -> str | None:
        """Why an article with these identities is a duplicate, or ``None``."""
        if key in self.keys:
            return "same text"
        if guid and guid in self.guids:
            return "same GUID"
        if url and url in self.urls:
            return "same URL"
        return None

    def add(self, key: str, guid: str | None, url: str | None) -> None:
        self.keys.add(key)
        if guid:
            self.guids.add(guid)
        if url:
            self.urls.add(url)


def known_identities(
    conn: Connection, keys: Iterable[str], guids: Iterable[str], urls: Iterable[str]
) -> KnownIdentities:
    """Which of these content keys, GUIDs and canonical URLs are already stored."""
    found = KnownIdentities()
    for column, values, target in (
        (articles.c.article_key, keys, found.keys),
        (articles.c.guid, guids, found.guids),
        (articles.c.canonical_url, urls, found.urls),
    ):
        values = sorted({v for v in values if v})
        for i in range(0, len(values), 500):
            q = select(column).where(column.in_(values[i : i + 500]))
            target.update(conn.execute(q).scalars())
    return found


def story_rows(conn: Connection) -> Iterable[tuple[str, str, int, datetime]]:
    """(key, story_key, fingerprint, published_at) of every fingerprinted article, oldest first."""
    q = (
        select(articles.c.article_key, articles.c.story_key, articles.c.fingerprint, articles.c.published_at)
        .where(articles.c.fingerprint.is_not(None))
        .order_by(articles.c.published_at, articles.c.id)
    )
    for r in conn.execute(q):
        yield r.article_key, r.story_key or r.article_key, int(r.fingerprint), r.published_at


def save_articles(
    conn: Connection, items: Sequence[Article], extra: Mapping[str, Mapping[str, Any]] | None = None
) -> int:
    """Insert articles; ``extra`` maps an article key to more columns
    (canonical_url, story_key, fingerprint, novelty)."""
    now = utcnow()
    extra = extra or {}
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
            "guid": a.guid,
            "undated": a.undated,
            "ingested_at": now,
            "canonical_url": None,
            "story_key": a.key,
            "fingerprint": None,
            "novelty": 100.0,
        }
        | dict(extra.get(a.key, {}))
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


def save_mentions(conn: Connection, tagged: Iterable[tuple[str, Sequence[TickerTag]]]) -> int:
    """Insert the mentions of each (article_key, tags) pair."""
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
        for article_key, tags in tagged
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


def event_sessions(conn: Connection, symbol: str) -> list[tuple[str, date]]:
    """(article key, session) of every event of ``symbol``, by session."""
    q = select(events.c.article_key, events.c.session).where(events.c.symbol == symbol).order_by(events.c.session)
    return [(r.article_key, r.session) for r in conn.execute(q)]


def save_event_flags(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Set ``confounded``, ``abnormal_volume_log`` and ``abnormal_volume_z`` of events (article_key, symbol)."""
    for row in rows:
        conn.execute(
            events.update()
            .where(events.c.article_key == row["article_key"], events.c.symbol == row["symbol"])
            .values(confounded=bool(row["confounded"]), abnormal_volume_log=row.get("abnormal_volume_log"),
                    abnormal_volume_z=row.get("abnormal_volume_z"))
        )


def save_reactions(conn: Connection, article_key: str, symbol: str, interval: str, found: Sequence[Any]) -> int:
    """Upsert the intraday reactions (:class:`monitor.impact.intraday.Reaction`) of one event."""
    now = utcnow()
    rows = [
        {"article_key": article_key, "symbol": symbol, "horizon": r.horizon, "interval": interval,
         "raw_return": r.raw, "benchmark_return": r.benchmark, "abnormal_return": r.abnormal,
         "start_at": r.start, "end_at": r.end, "complete": r.complete, "reason": r.reason, "computed_at": now}
        for r in found
    ]
    return upsert(conn, event_reactions, rows, ["article_key", "symbol", "horizon"], update=True)


def reactions_to_measure(conn: Connection, since: datetime) -> list[Event]:
    """Timed events published since ``since`` whose intraday reactions are missing or incomplete."""
    complete = (
        select(event_reactions.c.article_key, event_reactions.c.symbol)
        .group_by(event_reactions.c.article_key, event_reactions.c.symbol)
        .having(func.min(func.cast(event_reactions.c.complete, Integer)) == 1)
    )
    done = {(r.article_key, r.symbol) for r in conn.execute(complete)}
    q = (
        select(events)
        .where(events.c.date_only.is_(False), events.c.published_at >= since)
        .order_by(events.c.published_at)
    )
    return [_event_from_row(r) for r in conn.execute(q) if (r.article_key, r.symbol) not in done]


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
    conn: Connection, symbol: str, interval: str, start: date, end: date, *, adjusted: bool | None = None
) -> pd.DataFrame:
    """Bars of ``symbol`` with sessions ``start``..``end`` (columns :data:`BAR_COLUMNS`).

    ``adjusted``: only adjusted (True) or unadjusted (False) bars; None for
    whichever are held (daily bars are adjusted, Yahoo's intraday bars are not
    dividend-adjusted and held as unadjusted).
    """
    conditions = [
        price_bars.c.symbol == symbol,
        price_bars.c.interval == interval,
        price_bars.c.session >= start,
        price_bars.c.session <= end,
    ]
    if adjusted is not None:
        conditions.append(price_bars.c.adjusted.is_(adjusted))
    q = select(*[price_bars.c[c] for c in BAR_COLUMNS]).where(*conditions).order_by(price_bars.c.ts)
    rows = conn.execute(q).all()
    frame = pd.DataFrame(rows, columns=BAR_COLUMNS)
    if not frame.empty:
        frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
        frame["session"] = pd.to_datetime(frame["session"])
    return frame


def load_close_matrix(
    conn: Connection, symbols: Sequence[str], start: date, end: date, *, interval: str = "1d", field: str = "close"
) -> pd.DataFrame:
    """One column of bars (``close`` by default) for many symbols: sessions x symbols, NaN where none is held.

    The frame the impact stage computes returns from; adjusted bars only. One
    query returns one row per symbol with its sessions and values
    concatenated (``group_concat`` on SQLite, ``string_agg`` on PostgreSQL),
    so the driver builds a few hundred strings rather than a Python object per
    bar; numpy parses them, and symbols that share a session list (the usual
    case: one calendar) share its parsing.
    """
    if field not in ("open", "high", "low", "close", "volume"):
        raise ValueError(f"unknown bar field {field!r}")
    wanted = list(dict.fromkeys(symbols))
    empty = pd.DataFrame(index=pd.DatetimeIndex([], name="session"), columns=wanted, dtype="float64")
    if not wanted:
        return empty
    if conn.dialect.name == "sqlite":
        sql = (
            f"SELECT symbol, group_concat(session), group_concat(ifnull({field}, 'nan')) FROM price_bars "
            "WHERE symbol IN :symbols AND interval = :interval AND adjusted = 1 "
            "AND session >= :start AND session <= :end GROUP BY symbol"
        )
    else:
        sql = (
            "SELECT symbol, string_agg(session::text, ',' ORDER BY ts), "
            f"string_agg(coalesce({field}::text, 'NaN'), ',' ORDER BY ts) FROM price_bars "
            "WHERE symbol IN :symbols AND interval = :interval AND adjusted "
            "AND session >= :start AND session <= :end GROUP BY symbol"
        )
    statement = text(sql).bindparams(bindparam("symbols", expanding=True))
    rows = conn.execute(
        statement, {"symbols": wanted, "interval": interval, "start": start, "end": end}
    ).all()
    if not rows:
        return empty
    parsed: dict[str, np.ndarray] = {}
    per_symbol: list[tuple[str, np.ndarray, np.ndarray]] = []
    for symbol, session_text, value_text in rows:
        days = parsed.get(session_text)
        if days is None:
            days = parsed[session_text] = np.array(session_text.split(","), dtype="datetime64[D]")
        per_symbol.append((symbol, days, np.array(value_text.split(","), dtype="float64")))
    union = np.unique(np.concatenate(list(parsed.values())))
    column_of = {symbol: i for i, symbol in enumerate(wanted)}
    matrix = np.full((len(union), len(wanted)), np.nan)
    for symbol, days, values in per_symbol:
        matrix[np.searchsorted(union, days), column_of[symbol]] = values
    return pd.DataFrame(matrix, index=pd.DatetimeIndex(union.astype("datetime64[ns]"), name="session"), columns=wanted)


def held_span(conn: Connection, symbol: str, interval: str) -> tuple[date, date] | None:
    """The first and last sessions of ``symbol``'s held ``interval`` bars, or None."""
    row = conn.execute(
        select(func.min(price_bars.c.session), func.max(price_bars.c.session)).where(
            price_bars.c.symbol == symbol, price_bars.c.interval == interval
        )
    ).first()
    if row is None or row[0] is None:
        return None
    return row[0], row[1]


def save_actions(conn: Connection, actions: pd.DataFrame, source: str) -> pd.DataFrame:
    """Store corporate actions (:data:`monitor.prices.ACTION_COLUMNS`); return those not held before."""
    if actions.empty:
        return actions
    rows = [
        {
            "symbol": str(rec["symbol"]),
            "session": pd.Timestamp(rec["session"]).date(),
            "kind": str(rec["kind"]),
            "value": float(rec["value"]),
            "source": source,
            "first_seen": utcnow(),
        }
        for rec in actions.to_dict("records")
    ]
    held = _existing_keys(conn, price_actions, ["symbol", "session", "kind", "source"], rows)
    new = [r for r in rows if (r["symbol"], r["session"], r["kind"], r["source"]) not in held]
    upsert(conn, price_actions, rows, ["symbol", "session", "kind", "source"])
    keys = {(r["symbol"], r["session"], r["kind"]) for r in new}
    mask = [
        (str(rec["symbol"]), pd.Timestamp(rec["session"]).date(), str(rec["kind"])) in keys
        for rec in actions.to_dict("records")
    ]
    return actions[mask].reset_index(drop=True)


def load_actions(conn: Connection, symbol: str) -> pd.DataFrame:
    """The corporate actions held for ``symbol`` (any source), by session."""
    q = (
        select(price_actions.c.symbol, price_actions.c.session, price_actions.c.kind, price_actions.c.value)
        .where(price_actions.c.symbol == symbol)
        .order_by(price_actions.c.session, price_actions.c.kind)
    )
    frame = pd.DataFrame(conn.execute(q).all(), columns=["symbol", "session", "kind", "value"])
    frame["session"] = pd.to_datetime(frame["session"])
    return frame


def forget_adjusted_history(conn: Connection, symbol: str, source: str) -> tuple[date, date] | None:
    """Drop ``symbol``'s adjusted bars and what ``source`` was asked for; return the span that was held.

    Called when the source reports a new split or dividend: adjusted prices
    held so far were adjusted as of an earlier date and would mix with the new
    ones. Event returns of the symbol are dropped too, so they are computed
    again from the history fetched anew.
    """
    span = conn.execute(
        select(func.min(price_coverage.c.start), func.max(price_coverage.c.end)).where(
            price_coverage.c.symbol == symbol, price_coverage.c.source == source
        )
    ).first()
    conn.execute(delete(price_bars).where(price_bars.c.symbol == symbol, price_bars.c.adjusted.is_(True)))
    conn.execute(delete(price_coverage).where(price_coverage.c.symbol == symbol, price_coverage.c.source == source))
    conn.execute(delete(event_returns).where(event_returns.c.symbol == symbol))
    if span is None or span[0] is None:
        return None
    return span[0], span[1]


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


def record_coverage(
    conn: Connection,
    symbol: str,
    interval: str,
    source: str,
    start: date,
    end: date,
    *,
    served_interval: str | None = None,
) -> None:
    """Remember that ``source`` answered ``symbol``'s ``interval`` bars for sessions ``start``..``end``.

    ``served_interval``: the coarser interval whose bars were stored instead (a fallback).
    """
    conn.execute(
        price_coverage.insert().values(
            symbol=symbol, interval=interval, source=source, start=start, end=end, fetched_at=utcnow(),
            served_interval=served_interval if served_interval != interval else None,
        )
    )


def served_intervals(conn: Connection, symbol: str, interval: str, source: str, start: date, end: date) -> list[str]:
    """The intervals whose bars answered ``interval`` requests overlapping ``start``..``end``, finest first."""
    q = select(price_coverage.c.served_interval).where(
        price_coverage.c.symbol == symbol,
        price_coverage.c.interval == interval,
        price_coverage.c.source == source,
        price_coverage.c.start <= end,
        price_coverage.c.end >= start,
    )
    found = {row[0] or interval for row in conn.execute(q)}
    return sorted(found, key=lambda name: INTERVALS.index(name) if name in INTERVALS else len(INTERVALS))


# Sources and their health ---------------------------------------------------
def source_state(conn: Connection, name: str) -> PollState | None:
    """The conditional-GET state remembered for source ``name``."""
    row = conn.execute(select(sources.c.etag, sources.c.last_modified).where(sources.c.name == name)).first()
    if row is None or (row.etag is None and row.last_modified is None):
        return None
    return PollState(etag=row.etag, last_modified=row.last_modified)


def register_sources(conn: Connection, items: Iterable[tuple[str, str, str | None]]) -> None:
    """Make sure every configured source (name, kind, url) has a health row."""
    rows = [
        {"name": n, "kind": k, "url": u, "status": "new", "consecutive_failures": 0, "consecutive_empty": 0}
        for n, k, u in items
    ]
    if not rows:
        return
    stmt = _insert(conn, sources)
    stmt = stmt.on_conflict_do_update(
        index_elements=["name"], set_={"kind": stmt.excluded.kind, "url": stmt.excluded.url}
    )
    conn.execute(stmt, rows)


def record_poll(
    conn: Connection,
    name: str,
    *,
    started_at: datetime,
    duration_ms: float,
    status: str,
    seen: int = 0,
    new: int = 0,
    dropped: int = 0,
    error: str | None = None,
    state: PollState | None = None,
    unhealthy_after: int = 3,
) -> str:
    """Record one poll and update the source's health; returns its new status.

    ``status`` of the poll: ``ok``, ``degraded``, ``not_modified`` or
    ``failed``. The source turns ``unhealthy`` after ``unhealthy_after``
    failed or empty polls in a row (a 304 is not empty: nothing changed).
    """
    conn.execute(
        source_polls.insert().values(
            source=name, started_at=started_at, duration_ms=duration_ms, status=status,
            items_seen=seen, items_new=new, items_dropped=dropped, error=error,
        )
    )
    row = conn.execute(select(sources).where(sources.c.name == name)).first()
    failures = (row.consecutive_failures if row else 0) + 1 if status == "failed" else 0
    empty = (row.consecutive_empty if row else 0) + 1 if status in ("ok", "degraded") and seen == 0 else 0
    if failures >= unhealthy_after or empty >= unhealthy_after:
        health = "unhealthy"
    elif status == "failed":
        health = "failing"
    elif status == "degraded":
        health = "degraded"
    else:
        health = "ok"
    values: dict[str, Any] = {
        "status": health, "consecutive_failures": failures, "consecutive_empty": empty,
        "last_poll_at": started_at, "last_error": error,
    }
    if status != "failed":
        values["last_success_at"] = started_at
    if state is not None:
        values["etag"], values["last_modified"] = state.etag, state.last_modified
    if row is None:
        conn.execute(sources.insert().values(name=name, kind="unknown", **values))
    else:
        conn.execute(sources.update().where(sources.c.name == name).values(**values))
    return health


def sources_health(conn: Connection) -> list[dict[str, Any]]:
    """Every source with its health and its last poll's counts."""
    out = []
    for row in conn.execute(select(sources).order_by(sources.c.name)).mappings():
        last = conn.execute(
            select(source_polls).where(source_polls.c.source == row["name"])
            .order_by(source_polls.c.started_at.desc(), source_polls.c.id.desc()).limit(1)
        ).mappings().first()
        polls = conn.execute(
            select(func.count()).select_from(source_polls).where(source_polls.c.source == row["name"])
        ).scalar_one()
        out.append(dict(row) | {
            "polls": int(polls),
            "last_poll": dict(last) if last else None,
        })
    return out


# Job runs ------------------------------------------------------------------
def start_job(conn: Connection, job: str) -> int:
    result = conn.execute(
        job_runs.insert().values(job=job, started_at=utcnow(), status="running").returning(job_runs.c.id)
    )
    return int(result.scalar_one())


def close_orphan_runs(conn: Connection) -> int:
    """Mark ``running`` rows ``interrupted``: called by a new leader, when no job of this store can be running.

    A process killed in the middle of a job (or stopped at its deadline)
    leaves its row ``running``; the work itself is redone by the next run.
    """
    result = conn.execute(
        job_runs.update().where(job_runs.c.status == "running")
        .values(finished_at=utcnow(), status="interrupted",
                error="the process stopped before this run ended; the next run redid its work")
    )
    return int(result.rowcount or 0)


def finish_job(conn: Connection, run_id: int, status: str, counts: dict[str, int], error: str | None = None) -> None:
    conn.execute(
        job_runs.update()
        .where(job_runs.c.id == run_id)
        .values(finished_at=utcnow(), status=status, counts=counts, error=error)
    )


def count_rows(conn: Connection) -> dict[str, int]:
    """Row count of every data table (used to show a pass added nothing)."""
    tables = [
        articles, instruments, mentions, events, event_returns, event_reactions, price_bars, price_coverage,
        price_actions, sources,
    ]
    return {t.name: int(conn.execute(select(func.count()).select_from(t)).scalar_one()) for t in tables}
