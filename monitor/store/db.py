"""Engines, connection checks and schema migrations.

The database URL comes from the settings. SQLite runs in WAL mode with
foreign keys on; ``postgresql://`` URLs use the psycopg 3 driver. The schema
is managed by Alembic (``monitor/store/migrations``); :func:`upgrade` brings
any database to the head revision and is safe to call on every start.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError

from monitor.errors import ConfigError, StoreError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
SUPPORTED = ("sqlite", "postgresql")


def parse_url(url: str) -> URL:
    """Parse and normalise a database URL; unknown kinds raise :class:`ConfigError`."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise ConfigError(
            f"database URL {url!r} is not a URL; use sqlite:///FILE.db or "
            "postgresql+psycopg://USER@HOST:PORT/DB (MONITOR_DATABASE_URL)"
        ) from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend == "postgres":
        backend = "postgresql"
    if backend not in SUPPORTED:
        raise ConfigError(
            f"unsupported database {parsed.drivername!r} in MONITOR_DATABASE_URL; "
            "use sqlite:///FILE.db or postgresql+psycopg://USER@HOST:PORT/DB"
        )
    if backend == "postgresql" and driver in ("", "psycopg2"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def _sqlite_pragmas(dbapi_conn, _record) -> None:  # noqa: ANN001 - DB-API objects
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable in WAL mode but for the last commit on power loss
    cursor.execute("PRAGMA cache_size=-65536")  # 64 MiB of page cache for large batches
    cursor.close()


def make_engine(url: str) -> Engine:
    """Create the engine for ``url`` (not yet connected)."""
    parsed = parse_url(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed)
            event.listen(engine, "connect", _sqlite_pragmas)
        else:
            engine = create_engine(parsed, pool_pre_ping=True)
    except NoSuchModuleError:
        raise ConfigError(
            f"no driver for {parsed.drivername!r}; use sqlite:///FILE.db or "
            "postgresql+psycopg://USER@HOST:PORT/DB"
        ) from None
    return engine


def describe(engine: Engine) -> str:
    """The engine's URL with any password hidden, for messages."""
    return engine.url.render_as_string(hide_password=True)


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


@functools.lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration shipped with this version of the monitor."""
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


@functools.lru_cache(maxsize=1)
def revisions() -> tuple[str, ...]:
    """Every migration shipped with this version of the monitor, oldest first."""
    script = ScriptDirectory.from_config(_alembic_config())
    return tuple(rev.revision for rev in reversed(list(script.walk_revisions())))


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, or ``None`` for an empty database."""
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    except OperationalError as exc:
        raise _unreachable(engine, exc) from None


#: Alembic's command API keeps per-run state in module globals: one migration at a time per process.
_MIGRATING = threading.Lock()
#: pg_advisory_xact_lock key serialising migrations across processes ("migr" in ASCII).
MIGRATION_LOCK_KEY = 0x6D696772


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (idempotent).

    Safe to call from several threads and processes at once: one migration
    runs at a time per process, and other processes wait for it (SQLite's
    write lock taken at the start, a transaction-scoped advisory lock on
    PostgreSQL).
    """
    cfg = _alembic_config()
    try:
        with _MIGRATING, engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # A migration that rebuilds a table (Alembic's batch mode on SQLite) drops the old
                # one: with foreign keys enforced that drop would cascade to the rows referring to
                # it. SQLite ignores this pragma inside a transaction, so it is set before one.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            try:
                with conn.begin():
                    if sqlite:
                        # The database's write lock from the start (other processes wait for it, up to
                        # busy_timeout): two processes opening a new store must not both create it.
                        conn.exec_driver_sql("BEGIN IMMEDIATE")
                    else:
                        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATION_LOCK_KEY})
                    cfg.attributes["connection"] = conn
                    command.upgrade(cfg, revision)
                    if sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
                        if broken:
                            raise StoreError(
                                f"migrating {describe(engine)} would leave {len(broken)} row(s) pointing at "
                                f"missing rows (first: table {broken[0][0]}); nothing was changed"
                            )
            finally:
                if sqlite:
                    conn.exec_driver_sql("PRAGMA foreign_keys=ON")
                    conn.commit()
    except OperationalError as exc:
        raise _unreachable(engine, exc) from None
    except SQLAlchemyError as exc:
        raise StoreError(
            f"migrating {describe(engine)} failed: {exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}"
        ) from None


def _unreachable(engine: Engine, exc: Exception) -> StoreError:
    reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
    return StoreError(
        f"cannot open the database {describe(engine)}: {reason}; check MONITOR_DATABASE_URL "
        "and that the server is running"
    )


def open_store(url: str, *, migrate: bool = True) -> Engine:
    """Engine for ``url``, checked reachable and (by default) migrated to head."""
    engine = make_engine(url)
    current = current_revision(engine)
    if migrate and current != head_revision():
        upgrade(engine)
    log.debug("store ready at %s", describe(engine))
    return engine
