"""Upgrading keeps the data: from every revision to head, on SQLite and PostgreSQL.

For each revision ``r`` of the Alembic history (walked at collection time, so
a new migration is covered without touching this file): a fresh store is
migrated to ``r``, every table that exists at ``r`` gets a realistic row (only
the columns it has at ``r``), the store is upgraded to head, and every row
must still be there with the same values; then head's columns and
constraints must work (a new full row goes in, a repeated natural key is
refused).

That the table definitions and the migrations agree (Alembic's
``compare_metadata`` finds no difference) is checked on both dialects by
``tests/test_store.py::test_migrations_match_the_table_definitions``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from monitor.store import db
from monitor.store.schema import alerts, metadata

UTC = timezone.utc


REVISIONS = list(db.revisions())
T0 = datetime(2025, 2, 4, 21, 5, 7, 123456, tzinfo=UTC)


def _key(n: int) -> str:
    return f"{n:064x}"


# One realistic row per table; ``n`` varies the natural keys. Columns a revision
# lacks are left out when the row is inserted at that revision.
def _rows(n: int, conn: Connection) -> dict[str, Callable[[], dict[str, Any]]]:
    art = _key(n)
    sym = "CXW" if n == 1 else "GEO"

    def alert_id() -> int:
        return conn.execute(select(alerts.c.id).where(alerts.c.dedup_key == f"new_article:{sym}:{art}")).scalar_one()

    return {
        "articles": lambda: {
            "article_key": art, "source": "files", "source_id": f"2025-02-04-story-{n}.txt",
            "url": f"https://news.example.com/story/{n}?utm_source=x", "title": f"CoreCivic story {n}",
            "body": "El Salvador's President Nayib Bukele says ... CoreCivic, Inc. CXW ... GEO Group, Inc. GEO",
            "published_at": T0, "date_only": True, "zone_given": False, "ingested_at": T0,
            "guid": f"urn:story:{n}", "canonical_url": f"https://news.example.com/story/{n}", "undated": False,
            "story_key": art, "fingerprint": -(2**62) - n, "novelty": 87.5,
        },
        "instruments": lambda: {
            "symbol": sym, "name": "CoreCivic" if n == 1 else "GEO Group", "asset_class": "equity",
            "calendar": "XNYS", "benchmark": "SPY", "exchange": "NYSE",
            "aliases": ["CoreCivic, Inc.", "Corrections Corporation of America"], "codes": [], "taggable": True,
            "updated_at": T0,
        },
        "mentions": lambda: {
            "article_key": art, "symbol": sym, "start": 120 + n, "end": 139 + n, "matched": "CoreCivic, Inc. CXW",
            "method": "name_ticker", "relevance": 52.25,
        },
        "price_bars": lambda: {
            "symbol": sym, "interval": "1d", "ts": datetime(2025, 2, 4, 21, 0, tzinfo=UTC), "session": date(2025, 2, 4),
            "open": 21.5, "high": 22.125, "low": 19.75, "close": 20.03125, "volume": 3_456_789.0,
            "adjusted": True, "final": True, "source": "snapshot", "fetched_at": T0, "flags": "split_move",
        },
        "price_coverage": lambda: {
            "symbol": sym, "interval": "5m", "source": "yahoo", "start": date(2024, 1, 2), "end": date(2025, 3, 31),
            "fetched_at": T0, "served_interval": "15m",
        },
        "price_actions": lambda: {
            "symbol": sym, "session": date(2024, 6, 3), "kind": "split", "value": 4.0, "source": "yahoo",
            "first_seen": T0,
        },
        "events": lambda: {
            "article_key": art, "symbol": sym, "published_at": T0, "session": date(2025, 2, 4), "timing": "date_only",
            "calendar": "XNYS", "date_only": True, "relevance": 52.25, "created_at": T0, "confounded": True,
            "abnormal_volume_log": 0.8125, "abnormal_volume_z": 2.5,
        },
        "event_reactions": lambda: {
            "article_key": art, "symbol": sym, "horizon": "+15m", "interval": "5m", "raw_return": -0.0125,
            "benchmark_return": 0.001, "abnormal_return": -0.0135, "start_at": T0, "end_at": T0, "complete": True,
            "reason": None, "computed_at": T0,
        },
        "event_returns": lambda: {
            "article_key": art, "symbol": sym, "window_start": -1, "window_end": 1, "model": "market",
            "benchmark": "SPY", "raw_return": -0.0565, "benchmark_return": 0.0067, "abnormal_return": -0.0675,
            "car": -0.0685, "t_stat": -1.17, "n_obs": 3, "complete": True, "status": "ok", "reason": None,
            "alpha": 0.0003, "beta": 1.125, "sigma": 0.0331, "estimation_obs": 240, "computed_at": T0,
        },
        "sources": lambda: {
            "name": f"feed:wire-{n}", "kind": "feed", "url": f"https://wire.example.com/{n}.rss", "etag": '"v7"',
            "last_modified": "Tue, 04 Feb 2025 21:00:00 GMT", "status": "degraded", "consecutive_failures": 0,
            "consecutive_empty": 2, "last_poll_at": T0, "last_success_at": T0, "last_error": "bad XML at line 7",
        },
        "source_polls": lambda: {
            "source": f"feed:wire-{n}", "started_at": T0, "duration_ms": 35.5, "status": "degraded",
            "items_seen": 40, "items_new": 3, "items_dropped": 1, "error": "bad XML at line 7",
        },
        "job_runs": lambda: {
            "job": "pass", "started_at": T0, "finished_at": T0, "status": "partial",
            "counts": {"articles_new": 3, "events_new": n}, "error": "feed:wire-1: bad XML",
        },
        "alerts": lambda: {
            "dedup_key": f"new_article:{sym}:{art}", "rule": "prisons", "kind": "new_article", "symbol": sym,
            "article_key": art, "title": "CXW: CoreCivic story", "text": "relevance 52",
            "payload": {"relevance": 52.25, "tickers": [sym]}, "created_at": T0,
        },
        "alert_deliveries": lambda: {
            "alert_id": alert_id(), "channel": "desk-webhook", "status": "pending", "attempts": 2,
            "next_attempt_at": T0, "last_error": "HTTP 503", "delivered_at": None,
        },
        "digests": lambda: {
            "day": date(2025, 2, 3 + n), "built_at": T0, "html_path": f"digests/2025-02-0{3 + n}.html",
            "text_path": f"digests/2025-02-0{3 + n}.txt", "email_status": "failed", "email_attempts": 3,
            "email_error": "SMTP 451", "emailed_at": None,
        },
    }


#: Data migrations: the value a column added by a later revision must get for rows that were already there.
BACKFILLED: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {
    ("articles", "story_key"): lambda row: row["article_key"],  # 0002: each old article starts its own story
    ("articles", "novelty"): lambda row: 100.0,
    ("articles", "undated"): lambda row: False,
    ("events", "confounded"): lambda row: False,
    ("price_bars", "flags"): lambda row: "",
    ("sources", "consecutive_failures"): lambda row: 0,
}


def test_the_history_is_one_line_ending_at_the_head() -> None:
    assert REVISIONS[0] == "0001" and REVISIONS[-1] == db.head_revision()  # head_revision() refuses two heads
    assert len(set(REVISIONS)) == len(REVISIONS)


def test_every_table_has_a_representative_row() -> None:
    """A new table must get a row above, so its upgrade is tested too."""
    class _NoConn:
        pass

    missing = set(metadata.tables) - set(_rows(1, _NoConn()))  # type: ignore[arg-type]
    assert not missing, f"add a representative row for {sorted(missing)} to _rows()"


@pytest.mark.parametrize("revision", REVISIONS)
def test_upgrade_from_every_revision_keeps_the_data(db_url: str, revision: str) -> None:
    engine = db.make_engine(db_url)
    try:
        db.upgrade(engine, revision)
        assert db.current_revision(engine) == revision
        inserted: dict[str, dict[str, Any]] = {}
        with engine.begin() as conn:
            present = {name: {c["name"] for c in inspect(conn).get_columns(name)}
                       for name in inspect(conn).get_table_names()}
            builders = _rows(1, conn)
            for table in metadata.sorted_tables:  # parents before children
                if table.name not in present:
                    continue
                full = builders[table.name]()
                row = {k: v for k, v in full.items() if k in present[table.name]}
                try:
                    conn.execute(table.insert().values(**row))
                except Exception as exc:  # noqa: BLE001 - say which table and revision
                    pytest.fail(f"inserting into {table.name} at revision {revision} failed: {exc}")
                inserted[table.name] = row
        assert inserted, f"no table exists at revision {revision}"

        db.upgrade(engine)
        assert db.current_revision(engine) == db.head_revision()

        with engine.connect() as conn:
            for name, row in inserted.items():
                table = metadata.tables[name]
                got = [dict(r) for r in conn.execute(select(table)).mappings()]
                assert len(got) == 1, f"{name}: {len(got)} row(s) instead of 1 after upgrading from {revision} to head"
                (stored,) = got
                for column, value in row.items():
                    assert stored[column] == value, (
                        f"{name}.{column} changed upgrading from {revision}: {value!r} -> {stored[column]!r}")
                for column in set(stored) - set(row) - {"id"}:
                    fill = BACKFILLED.get((name, column))
                    if fill is not None:
                        assert stored[column] == fill(stored), f"{name}.{column} not backfilled from {revision}"

        # head's columns and constraints: a second full row goes in, a repeated natural key is refused
        with engine.begin() as conn:
            builders = _rows(2, conn)
            for table in metadata.sorted_tables:
                conn.execute(table.insert().values(**builders[table.name]()))
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                count = len(conn.execute(select(table)).all())
                assert count == (2 if table.name in inserted else 1), table.name
        for table in metadata.sorted_tables:
            keyed = [c for c in table.constraints if getattr(c, "columns", None) and c.__class__.__name__ in
                     ("UniqueConstraint", "PrimaryKeyConstraint")
                     and not any(col.autoincrement is True or (col.primary_key and col.name == "id")
                                 for col in c.columns)]
            if not keyed:
                continue
            with engine.connect() as conn, pytest.raises(IntegrityError), conn.begin():
                conn.execute(table.insert().values(**_rows(2, conn)[table.name]()))
    finally:
        engine.dispose()


def test_processes_creating_a_new_sqlite_store_at_once_all_succeed(tmp_path: Path) -> None:
    """`monitor run` and `monitor jobs` started together on a new store must not both create its tables."""
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'new.db'}"
    code = "import sys; from monitor.store import db; db.open_store(sys.argv[1]).dispose()"
    procs = [subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE, text=True) for _ in range(8)]
    outcomes = [(p.wait(60), p.stderr.read()) for p in procs]
    assert [status for status, _ in outcomes] == [0] * 8, [err for _, err in outcomes]
    engine = db.make_engine(url)
    try:
        assert db.current_revision(engine) == db.head_revision()
    finally:
        engine.dispose()
