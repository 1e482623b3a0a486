"""Alembic environment: runs on the connection handed over by monitor.store.db."""

from __future__ import annotations

from alembic import context

from monitor.store.schema import metadata

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("monitor migrations run through monitor.store.db.upgrade()")
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; use `monitor db upgrade`")
run_migrations_online()
