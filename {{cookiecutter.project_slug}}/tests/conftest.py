"""Test harness: real PostgreSQL, the app's real lifespan, an in-process HTTP client.

The database server is TEST_DATABASE_URL when set (any server on which this user may create
databases), otherwise an embedded PostgreSQL in a temporary directory. Either way the tests
create their own throwaway databases and drop them at the end: they never touch data they
did not create.
"""

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from blockbuster import BlockBuster, blockbuster_ctx

from {{ cookiecutter.package_name }}.db.migrate import upgrade_to_head
from {{ cookiecutter.package_name }}.dev.embedded_postgres import embedded_postgres
from {{ cookiecutter.package_name }}.settings import Settings

from .support.database import Admin, quoted
from .support.harness import Service, database_name, running_app, url_with_database
from .support.pgbouncer import has_pgbouncer, running_pgbouncer


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Workers for `-n auto` (pyproject.toml): two per core, since the suite spends most of
    its time waiting on sockets, timers and the processes it starts, not computing
    (`-n N` asks for N instead)."""
    return 2 * (os.cpu_count() or 1)


@pytest.fixture(autouse=True)
def blockbuster(request: pytest.FixtureRequest) -> Iterator[BlockBuster | None]:
    """Fail any test in which the service's code blocks the event loop.

    Scoped to the service's package: only a blocking call with one of its frames on the
    stack, made on the loop's thread, raises BlockingError. Tests that show what blocking
    does (the anti-pattern's harm) opt out with @pytest.mark.allow_blocking.
    """
    if request.node.get_closest_marker("allow_blocking"):
        yield None
        return
    with blockbuster_ctx("{{ cookiecutter.package_name }}") as detector:
        # asyncpg looks for ~/.pgpass and ~/.postgresql/* certificates with a few stat()
        # calls each time it opens a connection. That is asyncpg's choice, rare behind a
        # pool, and not this service's code: allow exactly that function (harmless in a
        # bake without asyncpg).
        for function in detector.functions.values():
            function.can_block_in("asyncpg/connect_utils.py", "_parse_connect_dsn_and_args")
            # Alembic reads its migration files: on an event loop of its own when it runs
            # over asyncpg (db/migrations/env.py), never on the loop that serves requests.
            function.can_block_in("db/migrations/env.py", "run_migrations")
        yield detector


@pytest.fixture(scope="session")
def postgres_server_url() -> Iterator[str]:
    if url := os.environ.get("TEST_DATABASE_URL"):
        yield url
        return
    # Not under pytest's tmp_path: run as root, the embedded server runs as its own user,
    # and every new pytest session makes /tmp/pytest-of-root private again (mode 700),
    # cutting the server off from its data mid-run.
    with (
        tempfile.TemporaryDirectory(prefix="pgdata-") as scratch,
        embedded_postgres(Path(scratch) / "pgdata") as url,
    ):
        yield url


@pytest.fixture(scope="session")
def make_database(postgres_server_url: str) -> Iterator[Callable[..., str]]:
    """Create throwaway databases on demand, migrated unless `migrate=False`; drop all of
    them at the end."""
    admin = Admin(postgres_server_url)
    created: list[str] = []

    def make(*, migrate: bool = True) -> str:
        name = f"test_{{ cookiecutter.package_name }}_{secrets.token_hex(4)}"
        admin.execute(f"CREATE DATABASE {quoted(name)}")
        created.append(name)
        url = url_with_database(postgres_server_url, name)
        if migrate:
            upgrade_to_head(url)
        return url

    yield make
    admin.close()
    drop_databases(postgres_server_url, created)


# PostgreSQL 15 and older wait for a checkpoint in each DROP DATABASE (1.7 s each here, 85 s
# for one suite's databases one after another); drops asked for at once share one.
DROPS_AT_ONCE = 8


def drop_databases(server_url: str, names: list[str]) -> None:
    def drop(name: str) -> None:
        admin = Admin(server_url)
        try:
            admin.execute(f"DROP DATABASE IF EXISTS {quoted(name)} WITH (FORCE)")
        finally:
            admin.close()

    with ThreadPoolExecutor(max_workers=DROPS_AT_ONCE) as pool:
        list(pool.map(drop, names))


@pytest.fixture(scope="session")
def pgbouncer_url(postgres_server_url: str) -> Iterator[str]:
    """PgBouncer in transaction mode in front of the test server (tests/pgbouncer.py):
    postgresql://postgres@127.0.0.1:<port>, add the database name."""
    if not has_pgbouncer():
        pytest.skip("pgbouncer is not installed (apt-get install pgbouncer); CI installs it")
    with running_pgbouncer(postgres_server_url) as url:
        yield url


@pytest.fixture(scope="session")
def database_url(make_database: Callable[[], str]) -> str:
    return make_database()


@pytest.fixture(scope="session")
def make_settings() -> Callable[..., Settings]:
    """Settings from explicit values only: the developer's environment and .env stay out."""

    def make(**overrides: Any) -> Settings:
        return Settings.model_validate(overrides)

    return make


@pytest.fixture(scope="session")
def settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    return make_settings(database_url=database_url)


@pytest.fixture(scope="session")
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """One app for the session, with its real lifespan (pools, client, thread budgets)."""
    async with running_app(settings) as client:
        yield client


@pytest.fixture
def fresh(service: Service) -> Service:
    """The test module's `service`, its count of requests in flight started afresh."""
    service.in_flight.reset()
    return service


@pytest.fixture
def refuse_connections(postgres_server_url: str) -> Iterator[Callable[[str, bool], None]]:
    """Make a database refuse (or accept again) connections, cutting the existing ones."""
    admin = Admin(postgres_server_url)

    def switch(url: str, refuse: bool) -> None:
        name = database_name(url)
        allow = "false" if refuse else "true"
        admin.execute(f"ALTER DATABASE {quoted(name)} WITH ALLOW_CONNECTIONS {allow}")
        if refuse:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", name
            )

    yield switch
    admin.close()


@pytest.fixture
def service_database(make_database: Callable[[], str]) -> str:
    """A database of the service's own: pg_stat_activity then counts its connections only."""
    return make_database()


@pytest.fixture
def files_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "files"
    directory.mkdir()
    return directory
