"""The psycopg2 pool's own faults, each started for real: a server that never answers, a
connect that hangs while another thread gives a connection back, a connection past its
lifetime, a slow statement at shutdown."""

import asyncio
import threading
import time
from urllib.parse import urlsplit, urlunsplit

import pytest

from {{ cookiecutter.package_name }}.db.psycopg2_pool import ConnectTimeoutError, Psycopg2Pool

from .support.database import Error, admin, sessions_named
from .support.faults import unique_name
from .support.tcp import SwitchableProxy, silent_server

ACQUIRE = 1.0  # the acquire timeout the pool tests give
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


# ---- The acquire timeout bounds the whole wait, connecting included ------------------------


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
    # Each caller gave up after about ACQUIRE, all four at once: not twice as long (a deadline
    # counted wrong), and not CONNECT, 2 x CONNECT, ... one after another (connecting under
    # a pool-wide lock, as psycopg2's own pool does).
    assert waits[-1] < 1.5 * ACQUIRE


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


# ---- Shutdown is bounded, however long a statement would run ---------------------------------

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

    def slow() -> None:
        try:
            with pool.connection() as conn, conn.cursor() as cursor:
                cursor.execute("SELECT pg_sleep(%s)", (SLOW,))
            outcome.append("finished")
        except Error as exc:
            outcome.append(type(exc).__name__)

    thread = threading.Thread(target=slow)
    thread.start()
    try:
        with admin(url) as watcher:  # until the statement really runs on the server
            deadline = time.monotonic() + 10
            running = False
            while not running and time.monotonic() < deadline:
                running = (
                    watcher.fetchval(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s"
                        " AND state = 'active' AND query LIKE %s",
                        application_name,
                        "%pg_sleep%",
                    )
                    == 1
                )
                time.sleep(0.01)
        assert running
        started = time.perf_counter()
        pool.close(grace=GRACE)
        closed = time.perf_counter() - started
    finally:
        thread.join()
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
