"""Shared fixtures: isolated settings, and the store on SQLite and PostgreSQL.

PostgreSQL tests use the server named by ``MONITOR_TEST_POSTGRES_URL``
(``.ci/run`` sets it to the local server). Each test run creates its own
database and drops it at the end; each test gets a schema of its own. Where
the variable is unset the PostgreSQL variants are skipped, except under CI
(``CI=true``), where an unreachable server fails the run.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
PG_ENV = "MONITOR_TEST_POSTGRES_URL"


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test reads the developer's MONITOR_* settings."""
    for key in list(os.environ):
        if key.startswith("MONITOR_") and key not in (PG_ENV, "MONITOR_REFERENCE_DATA"):
            monkeypatch.delenv(key)


@pytest.fixture
def workdir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Run the test in an empty working directory (no monitor.toml, no monitor.db)."""
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return work


@contextmanager
def _own_database(prefix: str) -> Iterator[str]:
    """Create a PostgreSQL database on the server of ``MONITOR_TEST_POSTGRES_URL``; drop it afterwards."""
    base = os.environ.get(PG_ENV)
    if not base:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{PG_ENV} is not set in CI; .ci/run must point it at the PostgreSQL server")
        pytest.skip(f"{PG_ENV} not set: PostgreSQL variants skipped")
    url = make_url(base).set(drivername="postgresql+psycopg")
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure means the server is not usable
        pytest.fail(f"PostgreSQL at {url.render_as_string(hide_password=True)} is unreachable: {exc}")
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_database() -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test run, dropped afterwards."""
    with _own_database("monitor_test") as url:
        yield url


@pytest.fixture
def pg_own_database() -> Iterator[str]:
    """A PostgreSQL database for one test alone (the scheduler's leader lock is per database)."""
    with _own_database("monitor_own") as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL to an empty store: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.db'}"
        return
    base = make_url(request.getfixturevalue("pg_database"))
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(base)
    with engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield base.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled seeds (news, prices, watchlist)."""
    import shutil

    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture
def reference_data() -> Path:
    """The reference data folder (MONITOR_REFERENCE_DATA); the test is skipped, with the reason, without it."""
    folder = os.environ.get("MONITOR_REFERENCE_DATA")
    if not folder:
        pytest.skip("MONITOR_REFERENCE_DATA is not set: no reference data folder to read")
    path = Path(folder)
    if not path.is_dir():
        pytest.skip(f"MONITOR_REFERENCE_DATA={folder} is not a folder")
    return path


@pytest.fixture
def estudy2_rates(reference_data: Path):  # noqa: ANN201 - (firms' log returns, the index's)
    """The estudy2 vignette's inputs: log returns of seven firms and of ^GSPC, indexed by date."""
    import pandas as pd

    folder = reference_data / "event_study" / "estudy2"
    if not folder.is_dir():
        pytest.skip(f"{folder} is missing")
    rates = pd.read_csv(folder / "rates.csv", index_col="date", parse_dates=True)
    index = pd.read_csv(folder / "rates_indx.csv", index_col="date", parse_dates=True)["^GSPC"]
    return rates, index
