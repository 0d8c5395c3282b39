"""Alembic environment: plain SQL over asyncpg, one migrator at a time."""

import asyncio

import asyncpg
from alembic import context
from sqlalchemy import Connection, pool, text
from sqlalchemy.ext.asyncio import create_async_engine

from {{ cookiecutter.package_name }}.settings import Settings

# Any constant will do; it only has to be the same for every copy of this service.
MIGRATION_LOCK_KEY = 0x6D696772  # "migr"


def database_url() -> str:
    url = context.config.attributes.get("database_url") or Settings().database_url
    if not url:
        raise RuntimeError("DATABASE_URL is not set: there is no database to migrate")
    return str(url)


def run_migrations_offline() -> None:
    """`alembic upgrade head --sql`: print the SQL for a DBA instead of running it."""
    context.configure(url="postgresql://", literal_binds=True, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations(connection: Connection) -> None:
    context.configure(connection=connection, transactional_ddl=True)
    with context.begin_transaction():
        # Replicas that start together queue here instead of racing on the same DDL.
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        context.run_migrations()


async def run_migrations_online() -> None:
    url = database_url()
    # SQLAlchemy is only Alembic's vehicle here; the connection is a plain asyncpg one, so
    # socket URLs (?host=/path) work exactly as they do for the service. Alembic is
    # synchronous: SQLAlchemy runs it against the async connection through greenlet.
    engine = create_async_engine(
        "postgresql+asyncpg://", async_creator=lambda: asyncpg.connect(url), poolclass=pool.NullPool
    )
    async with engine.connect() as connection:
        await connection.run_sync(run_migrations)
    await engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    # `migrate` runs without an event loop, and the tests call it from threads: a loop of its own.
    asyncio.run(run_migrations_online())
