"""The store on SQLite and PostgreSQL: migrations, UTC round trips, idempotent upserts."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
from sqlalchemy import inspect, select, text

from monitor.errors import ConfigError, StoreError
from monitor.models import Article, Event, Instrument, Mention, TickerTag, Timing
from monitor.store import db, repo
from monitor.store.schema import articles, metadata, price_bars


@pytest.fixture
def engine(db_url: str):
    engine = db.open_store(db_url)
    yield engine
    engine.dispose()


def test_upgrade_creates_every_table_and_is_idempotent(engine) -> None:
    assert db.current_revision(engine) == db.head_revision()
    db.upgrade(engine)  # a second upgrade is a no-op
    names = set(inspect(engine).get_table_names())
    assert set(metadata.tables) <= names
    assert "alembic_version" in names


def test_timestamps_round_trip_as_aware_utc(engine) -> None:
    tokyo = datetime(2025, 2, 5, 6, 30, 15, 123456, tzinfo=ZoneInfo("Asia/Tokyo"))
    art = Article("files", "a.txt", "Title", "Body", tokyo)
    with engine.begin() as conn:
        repo.save_articles(conn, [art])
    with engine.connect() as conn:
        stored = conn.execute(select(articles.c.published_at, articles.c.ingested_at)).one()
    assert stored.published_at.tzinfo is not None
    assert stored.published_at.utcoffset() == timedelta(0)
    assert stored.published_at == tokyo  # the same instant
    assert stored.published_at == datetime(2025, 2, 4, 21, 30, 15, 123456, tzinfo=timezone.utc)
    assert stored.ingested_at.utcoffset() == timedelta(0)


def test_naive_timestamps_are_refused(engine) -> None:
    with pytest.raises(Exception, match="naive datetime"):
        with engine.begin() as conn:
            conn.execute(
                articles.insert().values(
                    article_key="k", source="s", source_id="i", title="t", body="b",
                    published_at=datetime(2025, 2, 4, 12), date_only=False, zone_given=False,
                    ingested_at=datetime.now(timezone.utc),
                )
            )


def test_upserts_are_idempotent(engine) -> None:
    art = Article("files", "a.txt", "CoreCivic falls", "CoreCivic, Inc. CXW fell.", datetime(2025, 2, 4, tzinfo=timezone.utc), date_only=True)
    tag = TickerTag("CXW", 80.0, (Mention("CXW", 17, 36, "CoreCivic, Inc. CXW", "name_ticker"),))
    ev = Event(art.key, "CXW", art.published_at, date(2025, 2, 4), Timing.DATE_ONLY, "XNYS", True, 80.0)
    inst = Instrument("CXW", "CoreCivic", benchmark="SPY")
    for expected in (1, 0):
        with engine.begin() as conn:
            assert repo.save_articles(conn, [art]) == expected
            assert repo.save_mentions(conn, [(art.key, [tag])]) == expected
            assert repo.save_events(conn, [ev]) == expected
            assert repo.save_instruments(conn, [inst]) == expected
    with engine.connect() as conn:
        counts = repo.count_rows(conn)
        [stored] = repo.events_to_measure(conn, [(0, 0)], lambda s: "market")
    assert counts["articles"] == counts["mentions"] == counts["events"] == counts["instruments"] == 1
    assert stored == ev


def _bars(close: float, final: bool) -> pd.DataFrame:
    session = pd.Timestamp("2025-02-04")
    return pd.DataFrame({
        "symbol": ["CXW"], "interval": ["1d"], "ts": [session.tz_localize("UTC")], "session": [session],
        "open": [19.69], "high": [19.8], "low": [18.65], "close": [close], "volume": [1861700.0],
        "adjusted": [True], "final": [final], "source": ["test"], "flags": [""],
    })


def test_bar_upsert_replaces_a_non_final_bar(engine) -> None:
    with engine.begin() as conn:
        assert repo.save_bars(conn, _bars(18.5, final=False)) == 1
    with engine.begin() as conn:
        assert repo.save_bars(conn, _bars(18.88, final=True)) == 0
    with engine.connect() as conn:
        rows = conn.execute(select(price_bars.c.close, price_bars.c.final, price_bars.c.ts)).all()
        loaded = repo.load_bars(conn, "CXW", "1d", date(2025, 2, 1), date(2025, 2, 10))
    assert [(r.close, r.final) for r in rows] == [(18.88, True)]
    assert rows[0].ts == datetime(2025, 2, 4, tzinfo=timezone.utc)
    assert str(loaded["ts"].dt.tz) == "UTC"
    assert loaded["session"].tolist() == [pd.Timestamp("2025-02-04")]


def test_coverage_ranges_merge(engine) -> None:
    with engine.begin() as conn:
        repo.record_coverage(conn, "CXW", "1d", "snapshot", date(2025, 1, 1), date(2025, 1, 10))
        repo.record_coverage(conn, "CXW", "1d", "snapshot", date(2025, 1, 11), date(2025, 1, 20))
        repo.record_coverage(conn, "CXW", "1d", "snapshot", date(2025, 3, 1), date(2025, 3, 5))
        repo.record_coverage(conn, "CXW", "1d", "yahoo", date(2024, 1, 1), date(2024, 1, 5))
    with engine.connect() as conn:
        held = repo.covered_ranges(conn, "CXW", "1d", "snapshot")
    assert held == [(date(2025, 1, 1), date(2025, 1, 20)), (date(2025, 3, 1), date(2025, 3, 5))]


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:
    engine = db.open_store(f"sqlite:///{tmp_path / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


@pytest.mark.parametrize("url", ["mysql://root@localhost/x", "not a url", "oracle://u@h/db"])
def test_unknown_database_urls_raise_config_error(url: str) -> None:
    with pytest.raises(ConfigError, match="sqlite:///"):
        db.make_engine(url)


def test_plain_postgresql_urls_use_psycopg3() -> None:
    assert db.parse_url("postgresql://postgres@127.0.0.1/test").drivername == "postgresql+psycopg"
    assert db.parse_url("postgres://postgres@127.0.0.1/test").drivername == "postgresql+psycopg"


def test_unreachable_database_is_one_clear_error() -> None:
    with pytest.raises(StoreError, match="cannot open the database .*127.0.0.1:1"):
        db.open_store("postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2")


def test_migrations_match_the_table_definitions(engine) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == [], f"tables and migrations disagree; add a migration: {diff}"
