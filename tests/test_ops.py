"""``monitor db backup`` / ``restore`` on SQLite (backup API) and PostgreSQL (pg_dump / pg_restore / psql)."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

import pytest
from sqlalchemy import create_engine, delete, func, select, text
from sqlalchemy.engine import make_url

from monitor import cli, ops
from monitor.config import load_settings
from monitor.errors import MonitorError, StoreError
from monitor.store import db
from monitor.store.schema import articles, metadata, price_bars, source_polls

PASS_AT = datetime(2025, 3, 3, 21, 30, tzinfo=timezone.utc)
#: The PostgreSQL variant of ``db_url`` only (a fresh schema of the run's database).
ON_POSTGRES = pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)


def _filled(url: str, seeds: Path) -> None:
    """A store holding one pass over the bundled seeds (articles, events, returns, prices, sources, a job run)."""
    from monitor.pipeline import Pipeline

    engine = db.open_store(url)
    try:
        Pipeline(load_settings(database_url=url, seeds_dir=seeds), engine).run_pass(now=PASS_AT)
    finally:
        engine.dispose()


def _state(url: str) -> dict[str, object]:
    """Every row of every table, sorted, so two stores can be compared whole."""
    engine = db.make_engine(url)
    out: dict[str, object] = {}
    try:
        with engine.connect() as conn:
            for name, table in sorted(metadata.tables.items()):
                rows = conn.execute(select(table)).all()
                out[name] = sorted(tuple(map(repr, r)) for r in rows)
            out["alembic_version"] = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    finally:
        engine.dispose()
    return out


def _pg_schema(url: str) -> str | None:
    options = make_url(url).query.get("options")
    return options.split("search_path=", 1)[1] if options else None


# Round trips ------------------------------------------------------------------
def test_backup_then_restore_gives_the_same_store(db_url: str, seeds_copy: Path, tmp_path: Path) -> None:
    _filled(db_url, seeds_copy)
    before = _state(db_url)
    assert before["articles"] and before["events"] and before["price_bars"] and before["job_runs"]
    file = tmp_path / "store.backup"

    made = ops.backup(db_url, file)
    assert made["path"] == str(file) and made["bytes"] == file.stat().st_size > 0
    assert made["revision"] == db.head_revision()
    assert made["kind"] == ("sqlite" if db_url.startswith("sqlite") else "pg_dump")
    assert ops.backup_kind(file) == made["kind"]
    if "options" in db_url:  # only the store's schema went into the archive
        listing = subprocess.run(["pg_restore", "--list", str(file)], capture_output=True, text=True, check=True)
        assert {t[0] for t in ops._toc_tables(listing.stdout.splitlines())} == {_pg_schema(db_url)}

    # the store holds data: no restore without force, and nothing changed
    with pytest.raises(ops.RestoreRefusedError, match="holds data .*--yes"):
        ops.restore(db_url, file)
    assert _state(db_url) == before

    # lose some data, then get it back
    engine = db.make_engine(db_url)
    with engine.begin() as conn:
        conn.execute(delete(articles))  # events and mentions go with them (ON DELETE CASCADE)
        conn.execute(delete(price_bars).where(price_bars.c.symbol == "CXW"))
    engine.dispose()
    assert _state(db_url) != before
    done = ops.restore(db_url, file, force=True)
    assert done["revision"] == done["head"] == db.head_revision() and done["up_to_date"] is True
    assert done["replaced_rows"] > 0
    assert _state(db_url) == before


def test_restore_into_an_empty_store_needs_no_force(db_url: str, seeds_copy: Path, tmp_path: Path) -> None:
    _filled(db_url, seeds_copy)
    before = _state(db_url)
    file = tmp_path / "store.backup"
    ops.backup(db_url, file)
    engine = db.make_engine(db_url)
    with engine.begin() as conn:  # a store with the tables but no rows (`monitor db upgrade` on a new server)
        for table in reversed(metadata.sorted_tables):
            conn.execute(delete(table))
    engine.dispose()
    ops.restore(db_url, file)
    assert _state(db_url) == before


@pytest.mark.postgres
@ON_POSTGRES
def test_postgres_restore_recreates_a_dropped_schema(db_url: str, seeds_copy: Path, tmp_path: Path) -> None:
    _filled(db_url, seeds_copy)
    before = _state(db_url)
    file = tmp_path / "store.backup"
    ops.backup(db_url, file)
    schema = _pg_schema(db_url)
    admin = create_engine(make_url(db_url).difference_update_query(["options"]))
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()
    done = ops.restore(db_url, file)
    assert done["revision"] == db.head_revision()
    assert _state(db_url) == before


@pytest.mark.postgres
@ON_POSTGRES
def test_postgres_restore_keeps_other_tables_and_drops_newer_ones(db_url: str, seeds_copy: Path,
                                                                  tmp_path: Path) -> None:
    """A backup of an older revision replaces the monitor's tables whole; a table that is not the monitor's stays."""
    revisions = _revisions()
    old = revisions[-2]
    engine = db.make_engine(db_url)
    db.upgrade(engine, old)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE team_notes (note text)"))
        conn.execute(text("INSERT INTO team_notes VALUES ('keep me')"))
    file = tmp_path / "old.backup"
    ops.backup(db_url, file)  # holds team_notes too: it is in the schema
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE team_notes"))
        conn.execute(text("CREATE TABLE team_notes (note text)"))
        conn.execute(text("INSERT INTO team_notes VALUES ('newer')"))
    db.upgrade(engine)
    _filled(db_url, seeds_copy)
    done = ops.restore(db_url, file, force=True)
    assert done["revision"] == old and done["up_to_date"] is False and "monitor db upgrade" in done["note"]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM articles")).scalar() == 0
        assert conn.execute(text("SELECT note FROM team_notes")).scalars().all() == ["keep me"]
    db.upgrade(engine)  # and the restored store migrates to head
    assert db.current_revision(engine) == db.head_revision()
    engine.dispose()


def test_backup_is_consistent_while_the_monitor_writes(db_url: str, tmp_path: Path) -> None:
    """A writer commits 10 rows per transaction during the backup: the backup holds whole transactions only."""
    engine = db.open_store(db_url)
    stop = threading.Event()
    committed = [0]

    def write() -> None:
        while not stop.is_set():
            with engine.begin() as conn:
                conn.execute(source_polls.insert(), [
                    {"source": "files", "started_at": datetime.now(timezone.utc), "duration_ms": 1.0,
                     "status": "ok", "items_seen": i, "items_new": 0, "items_dropped": 0} for i in range(10)])
            committed[0] += 1

    writer = threading.Thread(target=write)
    writer.start()
    try:
        deadline = time.monotonic() + 10
        while committed[0] < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        file = tmp_path / "live.backup"
        ops.backup(db_url, file)
    finally:
        stop.set()
        writer.join(10)
    assert committed[0] >= 5
    ops.restore(db_url, file, force=True)
    with engine.connect() as conn:
        held = conn.execute(select(func.count()).select_from(source_polls)).scalar_one()
    engine.dispose()
    assert held > 0 and held % 10 == 0


# Refusals ---------------------------------------------------------------------
def test_restore_refuses_a_file_that_is_not_a_backup(db_url: str, tmp_path: Path) -> None:
    db.open_store(db_url).dispose()
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup\n")
    with pytest.raises(ops.RestoreRefusedError, match="is not a (SQLite|PostgreSQL) backup"):
        ops.restore(db_url, junk)
    with pytest.raises(ops.BackupError, match="no such backup file"):
        ops.restore(db_url, tmp_path / "missing.backup")
    # the other kind of store's backup
    other = tmp_path / "other.backup"
    if db_url.startswith("sqlite"):
        other.write_bytes(b"PGDMP\x01\x0e\x00" + b"\x00" * 64)
        match = "is not a SQLite backup .*pg_dump archive"
    else:
        sqlite3.connect(other).execute("CREATE TABLE alembic_version (version_num text)").connection.close()
        match = "is not a PostgreSQL backup .*SQLite backup"
    with pytest.raises(ops.RestoreRefusedError, match=match):
        ops.restore(db_url, other)


def test_sqlite_restore_refuses_a_database_that_is_not_a_store(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE things (x)")
    con.commit()
    con.close()
    with pytest.raises(ops.RestoreRefusedError, match="not a monitor store"):
        ops.restore(url, other)


def test_restore_refuses_a_backup_from_a_newer_monitor(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    db.open_store(url).dispose()
    file = tmp_path / "store.backup"
    ops.backup(url, file)
    con = sqlite3.connect(file)
    con.execute("UPDATE alembic_version SET version_num = '9999'")
    con.commit()
    con.close()
    with pytest.raises(ops.RestoreRefusedError, match="revision 9999, which this monitor does not know"):
        ops.restore(url, file, force=True)


@pytest.mark.postgres
@ON_POSTGRES
def test_postgres_restore_refuses_a_backup_of_another_schema(db_url: str, pg_database: str, tmp_path: Path) -> None:
    db.open_store(db_url).dispose()
    file = tmp_path / "store.backup"
    ops.backup(db_url, file)
    other = make_url(pg_database)
    admin = create_engine(other)
    with admin.begin() as conn:
        conn.execute(text('CREATE SCHEMA IF NOT EXISTS "elsewhere"'))
    admin.dispose()
    target = other.update_query_dict({"options": "-csearch_path=elsewhere"}).render_as_string(hide_password=False)
    with pytest.raises(ops.RestoreRefusedError, match=f"holds schema '{_pg_schema(db_url)}' .* uses schema 'elsewhere'"):
        ops.restore(target, file)


def test_backup_of_a_missing_sqlite_file_and_onto_itself(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'store.db'}"
    with pytest.raises(ops.BackupError, match="no database file"):
        ops.backup(url, tmp_path / "b.backup")
    assert not (tmp_path / "store.db").exists()
    db.open_store(url).dispose()
    with pytest.raises(ops.BackupError, match="is the database itself"):
        ops.backup(url, tmp_path / "store.db")
    with pytest.raises(ops.BackupError, match="is a folder"):
        ops.backup(url, tmp_path)


def test_missing_pg_dump_is_one_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump, pg_restore or psql here
    with pytest.raises(ops.BackupError, match="pg_dump not found on PATH: install the PostgreSQL client"):
        ops.backup("postgresql+psycopg://monitor@127.0.0.1:1/monitor", tmp_path / "b.backup")
    fake = tmp_path / "fake.backup"
    fake.write_bytes(b"PGDMP" + b"\x00" * 64)
    with pytest.raises(ops.BackupError, match="pg_restore not found on PATH"):
        ops.restore("postgresql+psycopg://monitor@127.0.0.1:1/monitor", fake)


@pytest.mark.skipif(shutil.which("pg_dump") is None, reason="needs pg_dump (postgresql-client)")
def test_unreachable_server_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="cannot open the database .*127.0.0.1:1/monitor: .*; check MONITOR_DATABASE_URL"):
        ops.backup("postgresql+psycopg://monitor:secret@127.0.0.1:1/monitor", tmp_path / "b.backup")


@pytest.mark.postgres
@ON_POSTGRES
def test_password_goes_to_the_tools_in_the_environment(db_url: str, tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    db.open_store(db_url).dispose()
    url = make_url(db_url).set(password="s3cret-word").render_as_string(hide_password=False)  # trust auth ignores it
    seen: list[tuple[list[str], dict[str, str]]] = []
    real_run = subprocess.run

    def spy(cmd, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        seen.append((list(cmd), dict(kwargs.get("env") or {})))
        return real_run(cmd, *args, **kwargs)

    monkeypatch.setattr(ops.subprocess, "run", spy)
    made = ops.backup(url, tmp_path / "b.backup")
    ops.restore(url, tmp_path / "b.backup")
    assert "s3cret-word" not in made["database"]
    tools = [(cmd, env) for cmd, env in seen if Path(cmd[0]).name in ("pg_dump", "psql")]
    assert {Path(cmd[0]).name for cmd, _ in tools} == {"pg_dump", "psql"}
    for cmd, env in tools:
        assert not any("s3cret-word" in part for part in cmd), cmd
        assert env["PGPASSWORD"] == "s3cret-word"
        assert any(f"options='-csearch_path={_pg_schema(db_url)}'" in part for part in cmd), cmd


# The command line -------------------------------------------------------------
def test_cli_backup_and_restore(db_url: str, seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MONITOR_DATABASE_URL", db_url)
    _filled(db_url, seeds_copy)
    file = tmp_path / "cli.backup"
    assert cli.main(["db", "backup", str(file), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["path"] == str(file) and out["bytes"] > 0 and "password" not in out["database"]

    assert cli.main(["db", "restore", str(file)]) == 1
    err = capsys.readouterr().err
    assert "error:" in err and "--yes" in err and "Traceback" not in err

    assert cli.main(["db", "restore", str(file), "--yes", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["revision"] == db.head_revision()

    assert cli.main(["db", "restore", str(file), "--yes"]) == 0
    assert f"revision {db.head_revision()}" in capsys.readouterr().out


def test_errors_are_monitor_errors() -> None:
    assert issubclass(ops.RestoreRefusedError, ops.BackupError)
    assert issubclass(ops.BackupError, MonitorError)


def _revisions() -> list[str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    return [r.revision for r in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions()))]

