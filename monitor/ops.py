"""Operating the store: ``monitor db backup FILE`` and ``monitor db restore FILE``.

SQLite
    :func:`backup` copies the database with SQLite's online backup API: a
    consistent snapshot even while the monitor writes (WAL mode), written to
    a temporary file beside ``FILE`` and renamed into place, as a single
    self-contained file (rollback journal, no ``-wal``). :func:`restore`
    copies a backup into the store with the same API, under the database's
    write lock.
PostgreSQL
    :func:`backup` runs ``pg_dump --format=custom`` on the schema the URL
    uses (its ``options=-csearch_path=SCHEMA``, else the server's
    ``current_schema()``, normally ``public``), so a store that shares its
    database with other schemas is backed up alone. :func:`restore` reads
    the archive with ``pg_restore`` (``--clean --if-exists --no-owner
    --no-privileges``) and applies it with ``psql`` in **one transaction**
    that first drops the monitor's tables in that schema: the store is
    replaced whole or, on any error, left as it was. Other tables of the
    schema are not touched. A password in the URL is handed to the tools in
    ``PGPASSWORD``, never on their command line; ``PGCONNECT_TIMEOUT``
    defaults to 10 s.

Both refuse (:class:`RestoreRefusedError`, one line saying what to do) to
replace a store that holds data unless ``force`` (``--yes``), a file that is
not a backup of that kind of store, a backup of another PostgreSQL schema,
and a backup whose schema revision this monitor does not know (made by a
newer version). The restored revision is reported: a backup of an older
revision is brought to the newest by ``monitor db upgrade`` (``monitor run``
does it by itself).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, func, inspect, select, text
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool

from monitor.errors import MonitorError, StoreError
from monitor.store import db
from monitor.store.schema import metadata

log = logging.getLogger(__name__)

SQLITE_MAGIC = b"SQLite format 3\x00"
PGDUMP_MAGIC = b"PGDMP"
#: Seconds the PostgreSQL tools wait to connect (PGCONNECT_TIMEOUT) unless the environment says otherwise.
PG_CONNECT_TIMEOUT = "10"
#: Tables whose rows make a store "hold data" (a restore over them needs ``force``).
DATA_TABLES = tuple(sorted(metadata.tables))
MONITOR_TABLES = DATA_TABLES + ("alembic_version",)


class BackupError(MonitorError):
    """A backup or restore could not be made: a missing tool, an unreadable file, a failed dump."""


class RestoreRefusedError(BackupError):
    """A restore that would lose data or load the wrong thing; nothing was changed."""


# Public ---------------------------------------------------------------------
def backup(database_url: str, path: str | os.PathLike[str]) -> dict[str, Any]:
    """Write a backup of the store at ``database_url`` to ``path``.

    Returns ``{"database", "path", "bytes", "kind" ("sqlite" | "pg_dump"), "revision", "seconds"}``
    (plus ``"schema"`` on PostgreSQL).
    """
    url = db.parse_url(database_url)
    target = Path(path).expanduser().resolve()
    if target.is_dir():
        raise BackupError(f"{target} is a folder; give the backup file's name, e.g. {target / 'monitor.backup'}")
    target.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    if url.get_backend_name() == "sqlite":
        outcome = _sqlite_backup(url, target)
    else:
        outcome = _pg_backup(url, target)
    outcome.update(database=_describe(url), path=str(target), bytes=target.stat().st_size,
                   seconds=round(time.monotonic() - t0, 3))
    log.info("backup of %s written to %s (%d bytes)", outcome["database"], target, outcome["bytes"])
    return outcome


def restore(database_url: str, path: str | os.PathLike[str], *, force: bool = False) -> dict[str, Any]:
    """Replace the store at ``database_url`` with the backup in ``path``.

    Refuses when the store holds data and ``force`` is false. Returns
    ``{"database", "path", "kind", "revision", "head", "up_to_date", "replaced_rows", "seconds"}``.
    """
    url = db.parse_url(database_url)
    source = Path(path).expanduser().resolve()
    if not source.is_file():
        raise BackupError(f"no such backup file: {source}")
    t0 = time.monotonic()
    if url.get_backend_name() == "sqlite":
        outcome = _sqlite_restore(url, source, force)
    else:
        outcome = _pg_restore(url, source, force)
    engine = db.make_engine(url.render_as_string(hide_password=False))
    try:
        revision = db.current_revision(engine)
    finally:
        engine.dispose()
    head = db.head_revision()
    outcome.update(database=_describe(url), path=str(source), revision=revision, head=head,
                   up_to_date=revision == head, seconds=round(time.monotonic() - t0, 3))
    if revision != head:
        outcome["note"] = f"the backup is at revision {revision}; run `monitor db upgrade` to bring it to {head}"
    log.info("restored %s from %s at revision %s", outcome["database"], source, revision)
    return outcome


def backup_kind(path: str | os.PathLike[str]) -> str | None:
    """``"sqlite"``, ``"pg_dump"`` (custom format) or ``None``, from the file's first bytes."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return None
    if head.startswith(SQLITE_MAGIC):
        return "sqlite"
    if head.startswith(PGDUMP_MAGIC):
        return "pg_dump"
    return None


# SQLite ---------------------------------------------------------------------
def _sqlite_file(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite store cannot be backed up or restored; use a database file")
    return Path(url.database).expanduser().resolve()


def _sqlite_backup(url: URL, target: Path) -> dict[str, Any]:
    source = _sqlite_file(url)
    if not source.is_file():
        raise BackupError(f"no database file {source}: nothing to back up (check MONITOR_DATABASE_URL)")
    if target == source:
        raise BackupError(f"the backup file {target} is the database itself; choose another path")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        src = sqlite3.connect(source, timeout=30)
        try:
            dst = sqlite3.connect(tmp)
            try:
                src.backup(dst)  # one step: a consistent snapshot under a read lock
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
                revision = _sqlite_revision(dst)
            finally:
                dst.close()
        finally:
            src.close()
        os.replace(tmp, target)
    except sqlite3.Error as exc:
        raise BackupError(f"backing up {source} failed: {exc}") from None
    finally:
        tmp.unlink(missing_ok=True)
    return {"kind": "sqlite", "revision": revision}


def _sqlite_revision(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def _sqlite_restore(url: URL, source: Path, force: bool) -> dict[str, Any]:
    target = _sqlite_file(url)
    kind = backup_kind(source)
    if kind != "sqlite":
        raise RestoreRefusedError(
            f"{source} is not a SQLite backup ({_kind_text(kind)}); give a file written by `monitor db backup` "
            "from a SQLite store"
        )
    if target == source:
        raise RestoreRefusedError(f"{source} is the database itself; give a backup file")
    try:
        src = sqlite3.connect(source.as_uri() + "?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise RestoreRefusedError(f"{source} cannot be opened as SQLite: {exc}") from None
    try:
        try:
            tables = {r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        except sqlite3.DatabaseError as exc:
            raise RestoreRefusedError(f"{source} is not a readable SQLite database: {exc}") from None
        if "alembic_version" not in tables:
            raise RestoreRefusedError(f"{source} is a SQLite database but not a monitor store (no alembic_version "
                                      "table); give a file written by `monitor db backup`")
        _check_known(_sqlite_revision(src), source)
        replaced = _rows_held(target_url=url) if target.is_file() else {}
        _refuse_if_data(replaced, url, force)
        target.parent.mkdir(parents=True, exist_ok=True)
        dst = sqlite3.connect(target, timeout=30)
        try:
            src.backup(dst)
        except sqlite3.Error as exc:
            raise BackupError(f"restoring {target} from {source} failed: {exc}; is a monitor writing to it? "
                              "stop `monitor run` and try again") from None
        finally:
            dst.close()
    finally:
        src.close()
    return {"kind": "sqlite", "replaced_rows": sum(replaced.values())}


# PostgreSQL -----------------------------------------------------------------
def _tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise BackupError(
            f"{name} not found on PATH: install the PostgreSQL client tools (Debian: apt-get install "
            "postgresql-client), at least as new as the server"
        )
    return found


def _conninfo(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection string without the password, and the environment carrying it."""
    params: dict[str, str] = {}
    if url.host:
        params["host"] = url.host
    if url.port:
        params["port"] = str(url.port)
    if url.username:
        params["user"] = url.username
    if url.database:
        params["dbname"] = url.database
    for key, value in url.query.items():
        params[key] = value[-1] if isinstance(value, tuple) else value
    conninfo = " ".join(f"{k}={_quote(v)}" for k, v in params.items())
    env = dict(os.environ)
    env.setdefault("PGCONNECT_TIMEOUT", PG_CONNECT_TIMEOUT)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return conninfo, env


def _quote(value: str) -> str:
    return "'" + str(value).replace("\\", "\\\\").replace("'", "\\'") + "'"


def _pg_engine(url: URL) -> Engine:
    if "connect_timeout" not in url.query:
        url = url.update_query_dict({"connect_timeout": PG_CONNECT_TIMEOUT})
    return create_engine(url, poolclass=NullPool)


def _pg_schema(url: URL) -> tuple[str, bool]:
    """The schema the store lives in, and whether it exists yet."""
    engine = _pg_engine(url)
    try:
        with engine.connect() as conn:
            current = conn.execute(text("SELECT current_schema()")).scalar()
            if current is not None:
                return str(current), True
            path = conn.execute(text("SHOW search_path")).scalar() or ""
    except Exception as exc:  # noqa: BLE001 - unreachable or refused: one line
        raise _unreachable(url, exc) from None
    finally:
        engine.dispose()
    first = next((p.strip().strip('"') for p in path.split(",") if p.strip() and p.strip() != '"$user"'), "public")
    return first, False


def _pg_run(cmd: list[str], env: dict[str, str], what: str, *, stdout: Any = subprocess.DEVNULL) -> str:
    log.debug("running %s", " ".join(cmd))
    proc = subprocess.run(cmd, env=env, stdout=stdout, stderr=subprocess.PIPE, text=True, check=False)
    if proc.returncode != 0:
        raise BackupError(f"{what} failed: {_tool_error(proc.stderr)}")
    return proc.stdout if isinstance(proc.stdout, str) else ""


def _tool_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    picked = [ln for ln in lines if " error: " in ln or " detail: " in ln or ln.startswith(("ERROR:", "DETAIL:"))]
    text_ = "; ".join(picked or lines[:2]) or "no error text"
    if "version mismatch" in text_:
        text_ += " (use pg_dump/pg_restore at least as new as the server)"
    return text_[:600]


def _pg_backup(url: URL, target: Path) -> dict[str, Any]:
    pg_dump = _tool("pg_dump")
    schema, exists = _pg_schema(url)
    if not exists:
        raise BackupError(f"schema {schema!r} does not exist in {_describe(url)}: nothing to back up")
    revision = _pg_revision(url)
    conninfo, env = _conninfo(url)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        _pg_run([pg_dump, "--format=custom", "--no-owner", "--no-privileges", f"--schema={_ident(schema)}",
                 f"--file={tmp}", f"--dbname={conninfo}"], env, f"pg_dump of {_describe(url)}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return {"kind": "pg_dump", "schema": schema, "revision": revision}


def _pg_revision(url: URL) -> str | None:
    engine = _pg_engine(url)
    try:
        with engine.connect() as conn:
            if "alembic_version" not in inspect(conn).get_table_names():
                return None
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except Exception as exc:  # noqa: BLE001
        raise _unreachable(url, exc) from None
    finally:
        engine.dispose()


def _pg_toc(pg_restore: str, source: Path) -> list[str]:
    proc = subprocess.run([pg_restore, "--list", str(source)], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise RestoreRefusedError(f"{source} is not a readable pg_dump archive: {_tool_error(proc.stderr)}")
    return proc.stdout.splitlines()


def _toc_tables(toc: list[str]) -> list[tuple[str, str]]:
    """(schema, table) of every TABLE entry of an archive's table of contents."""
    found = []
    for line in toc:
        m = re.match(r"^\d+; \d+ \d+ (.*)$", line)
        if m:
            tokens = m.group(1).split()
            if len(tokens) == 4 and tokens[0] == "TABLE":  # TABLE schema name owner (not TABLE DATA ...)
                found.append((tokens[1], tokens[2]))
    return found


def _archive_revision(pg_restore: str, source: Path, schema: str) -> str | None:
    proc = subprocess.run(
        [pg_restore, "--data-only", f"--schema={schema}", "--table=alembic_version", "--file=-", str(source)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RestoreRefusedError(f"{source}: cannot read its alembic_version: {_tool_error(proc.stderr)}")
    lines = proc.stdout.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("COPY ") and "alembic_version" in line:
            value = lines[i + 1].strip() if i + 1 < len(lines) else ""
            return None if value == "\\." else value
    return None


def _pg_restore(url: URL, source: Path, force: bool) -> dict[str, Any]:
    kind = backup_kind(source)
    if kind != "pg_dump":
        raise RestoreRefusedError(
            f"{source} is not a PostgreSQL backup ({_kind_text(kind)}); give a file written by `monitor db backup` "
            "from a PostgreSQL store (pg_dump custom format)"
        )
    pg_restore, psql = _tool("pg_restore"), _tool("psql")
    toc = _pg_toc(pg_restore, source)
    tables = _toc_tables(toc)
    schemas = sorted({s for s, _ in tables})
    if not any(name == "alembic_version" for _, name in tables) or len(schemas) != 1:
        raise RestoreRefusedError(f"{source} is a pg_dump archive but not of one monitor store (schemas: "
                                  f"{', '.join(schemas) or 'none'}; an alembic_version table is needed)")
    backup_schema = schemas[0]
    _check_known(_archive_revision(pg_restore, source, backup_schema), source)
    schema, exists = _pg_schema(url)
    if schema != backup_schema:
        raise RestoreRefusedError(
            f"{source} holds schema {backup_schema!r} but {_describe(url)} uses schema {schema!r}; restore into "
            f"a URL whose search_path is {backup_schema} (options=-csearch_path={backup_schema})"
        )
    replaced = _rows_held(target_url=url) if exists else {}
    _refuse_if_data(replaced, url, force)
    conninfo, env = _conninfo(url)
    present = _tables_in(url) if exists else set()
    doomed = sorted((present & set(MONITOR_TABLES)) | (present & {name for _, name in tables}))
    with tempfile.TemporaryDirectory(prefix="monitor-restore-") as tmpdir:
        listing = Path(tmpdir) / "toc.list"
        keep = [ln for ln in toc if not (exists and re.match(rf"^\d+; \d+ \d+ (SCHEMA -|COMMENT - SCHEMA) "
                                                              rf"{re.escape(schema)} ", ln))]
        listing.write_text("\n".join(keep) + "\n")
        script = Path(tmpdir) / "restore.sql"
        _pg_run([pg_restore, "--clean", "--if-exists", "--no-owner", "--no-privileges", f"--use-list={listing}",
                 f"--file={script}", str(source)], env, f"reading {source}")
        wrapper = Path(tmpdir) / "wrapper.sql"
        drops = "".join(f"DROP TABLE IF EXISTS {_ident(schema)}.{_ident(t)} CASCADE;\n" for t in doomed)
        wrapper.write_text(f"{drops}\\i {_psql_path(script)}\n")
        _pg_run([psql, "--no-psqlrc", "--quiet", "--single-transaction", "--set=ON_ERROR_STOP=1",
                 f"--file={wrapper}", f"--dbname={conninfo}"], env, f"restoring {_describe(url)} from {source}")
    return {"kind": "pg_dump", "schema": schema, "replaced_rows": sum(replaced.values())}


def _tables_in(url: URL) -> set[str]:
    engine = _pg_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _psql_path(path: Path) -> str:
    return "'" + str(path).replace("\\", "\\\\").replace("'", "\\'") + "'"


# Shared ---------------------------------------------------------------------
def _rows_held(*, target_url: URL) -> dict[str, int]:
    """Rows in each of the store's data tables that exist (empty dict: no monitor tables)."""
    if target_url.get_backend_name() == "sqlite":
        engine = create_engine(target_url, poolclass=NullPool)
    else:
        engine = _pg_engine(target_url)
    counts: dict[str, int] = {}
    try:
        with engine.connect() as conn:
            present = set(inspect(conn).get_table_names())
            for name in DATA_TABLES:
                if name in present:
                    table = metadata.tables[name]
                    counts[name] = int(conn.execute(select(func.count()).select_from(table)).scalar_one())
    except MonitorError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _unreachable(target_url, exc) from None
    finally:
        engine.dispose()
    return counts


def _refuse_if_data(counts: dict[str, int], url: URL, force: bool) -> None:
    held = {k: v for k, v in counts.items() if v}
    if held and not force:
        top = ", ".join(f"{v} {k}" for k, v in sorted(held.items(), key=lambda kv: -kv[1])[:3])
        raise RestoreRefusedError(
            f"{_describe(url)} holds data ({top}, ...): a restore replaces it; back it up first with "
            "`monitor db backup FILE`, then run the restore again with --yes"
        )


def _check_known(revision: str | None, source: Path) -> None:
    if revision is None:
        raise RestoreRefusedError(f"{source} holds no schema revision (an empty alembic_version); it is not a "
                                  "complete monitor backup")
    if revision not in db.revisions():
        raise RestoreRefusedError(f"{source} is at schema revision {revision}, which this monitor does not know "
                                  f"(newest {db.head_revision()}): it was made by a newer version; upgrade the "
                                  "monitor first")


def _kind_text(kind: str | None) -> str:
    return {"sqlite": "it is a SQLite backup", "pg_dump": "it is a PostgreSQL pg_dump archive"}.get(
        kind or "", "it is neither a SQLite database nor a pg_dump archive")


def _describe(url: URL) -> str:
    return url.render_as_string(hide_password=True)


def _unreachable(url: URL, exc: BaseException) -> StoreError:
    inner = getattr(exc, "orig", None) or exc
    reason = next((ln.strip() for ln in str(inner).splitlines() if ln.strip()), exc.__class__.__name__)
    return StoreError(f"cannot open the database {_describe(url)}: {reason}; check MONITOR_DATABASE_URL and that "
                      "the server is running")
