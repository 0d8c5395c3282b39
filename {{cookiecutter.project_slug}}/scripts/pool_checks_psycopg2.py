"""psycopg2's pairs for scripts/bench_pool_checks.py: the socket check on borrow, and the
statement timeout sent with every statement, each against the same without it."""

import time
from collections.abc import Callable

from {{ cookiecutter.package_name }}.db import psycopg2_pool
from {{ cookiecutter.package_name }}.db.psycopg2_pool import Psycopg2Pool


def per_call_us(run: Callable[[], None], calls: int) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        run()
    return (time.perf_counter() - started) / calls * 1e6


def pairs(url: str, calls: int, rounds: int) -> dict[str, list[float]]:
    with_timeout = Psycopg2Pool(
        url, min_size=1, max_size=1, acquire_timeout=5, statement_timeout=30
    )
    without = Psycopg2Pool(url, min_size=1, max_size=1, acquire_timeout=5)
    checked: list[float] = []
    unchecked: list[float] = []
    prefixed: list[float] = []
    plain: list[float] = []

    def borrow() -> None:
        with without.connection():
            pass

    def select(pool: Psycopg2Pool) -> Callable[[], None]:
        def run() -> None:
            with pool.connection() as conn:
                conn.autocommit = True
                with conn.cursor() as cursor:
                    cursor.execute("SELECT 1")
                    cursor.fetchone()
                conn.autocommit = False

        return run

    real_check, recheck_after = psycopg2_pool.looks_alive, psycopg2_pool.RECHECK_AFTER
    try:
        for _ in range(rounds):
            # Each borrow follows a return at once: without this, the pool would trust the
            # connection (RECHECK_AFTER) and never poll.
            psycopg2_pool.RECHECK_AFTER = 0.0
            checked.append(per_call_us(borrow, calls))
            psycopg2_pool.RECHECK_AFTER = recheck_after
            psycopg2_pool.looks_alive = lambda conn: not conn.closed  # the check switched off
            unchecked.append(per_call_us(borrow, calls))
            psycopg2_pool.looks_alive = real_check
            prefixed.append(per_call_us(select(with_timeout), calls))
            plain.append(per_call_us(select(without), calls))
    finally:
        psycopg2_pool.looks_alive, psycopg2_pool.RECHECK_AFTER = real_check, recheck_after
        with_timeout.close()
        without.close()
    return {
        "psycopg2 borrow + return, socket checked (idle connections)": checked,
        "psycopg2 borrow + return, not checked": unchecked,
        "psycopg2 SELECT 1 with SET LOCAL statement_timeout (this service)": prefixed,
        "psycopg2 SELECT 1 alone": plain,
    }
