"""Alembic environment: migrates the connection `Database.upgrade` hands over, or the
URL in the config (for the `alembic` command line), against the models' metadata."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, engine_from_config, pool

from leaderboard.db import Base

config = context.config
target_metadata = Base.metadata


def _migrate(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_offline() -> None:
    """Emit the SQL of the migrations instead of running them (`alembic upgrade --sql`)."""
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Run the migrations on the given connection, or on a fresh engine of the URL."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    engine = engine_from_config(config.get_section(config.config_ini_section, {}),
                                prefix="sqlalchemy.", poolclass=pool.NullPool)
    with engine.connect() as fresh:
        _migrate(fresh)


if context.is_offline_mode():
    run_offline()
else:
    run_online()
