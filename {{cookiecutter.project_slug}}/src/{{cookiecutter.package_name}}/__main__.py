"""`python -m {{ cookiecutter.package_name }} [serve|migrate]`.

With DATABASE_URL unset, both commands use an embedded PostgreSQL in ./.pgdata, so a person
with nothing but Python gets a running service. A set DATABASE_URL is always used as given,
and `serve` then leaves migrations to the deploy step (`migrate`), where one job runs them.
The embedded server is a development dependency: without it (the production image),
DATABASE_URL is required. WORKERS > 1 serves the port with that many processes
(workers.py).
"""

import argparse
import functools
import logging
import resource
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import cast

import uvicorn
from pydantic import ValidationError

from .app import create_app
from .db.migrate import upgrade_to_head
from .dev.embedded_postgres import EmbeddedPostgresMissingError, embedded_postgres
from .observability.log_config import configure_logging
from .settings import Settings, describe_error
from .workers import WORKER_APP, worker_environment

logger = logging.getLogger("{{ cookiecutter.package_name }}")

# Below this many open files the service warns: one worker answers 10,000 waiting
# connections at once (measured on 2 cores with /lesson/slow, every one answered).
ENOUGH_OPEN_FILES = 10_000


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """DATABASE_URL as given, or the URL of an embedded server that runs until exit."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    with embedded_postgres() as url:
        yield url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m {{ cookiecutter.package_name }}",
        description="Serve the API, or apply database migrations and exit.",
    )
    parser.add_argument("command", nargs="?", choices=["serve", "migrate"], default="serve")
    args = parser.parse_args(argv)

    try:
        settings = Settings()
    except ValidationError as exc:
        print(describe_error(exc), file=sys.stderr)
        return 2
    configure_logging(settings.log_format, settings.log_level)

    try:
        with database_url(settings) as url:
            # The embedded server is this process's own, so nobody else will migrate it.
            if args.command == "migrate" or settings.database_url is None:
                upgrade_to_head(url)
                logger.info("database schema is up to date")
            if args.command == "migrate":
                return 0
            serve(settings.model_copy(update={"database_url": url}))
    except EmbeddedPostgresMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard one; return the limit now in force.

    Every connection holds a file descriptor. Many hosts start processes with a soft limit of
    1,024 under a far higher hard one, and past the soft limit connections are dropped and
    nothing is logged (measured: 969 of 3,000 connections answered). The hard limit is what
    the host grants; the soft one is only a default (Go's runtime raises it the same way).
    Workers inherit it.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == hard:
        return soft
    # macOS: an unlimited hard limit is no valid soft limit, so the soft one stays.
    with suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


def serve(settings: Settings) -> None:
    open_files = raise_open_file_limit()
    if open_files < ENOUGH_OPEN_FILES:
        logger.warning(
            "open-file limit %d: fewer than that many connections at once; the host's hard"
            " limit caps it (ulimit -Hn; the container runtime's nofile)",
            open_files,
        )
    else:
        logger.info("open-file limit %d (a connection holds one)", open_files)
    run = functools.partial(
        uvicorn.run,
        host=settings.host,
        port=settings.port,
        # None: keep the logging set up above (uvicorn's default would replace it).
        log_config=None,
        log_level=settings.log_level,
        # uvicorn annotates int but hands the value to asyncio.wait_for, which takes
        # seconds as a float: int() would make a 0.5 s grace 0, cancelling every request.
        timeout_graceful_shutdown=cast(int, settings.shutdown_timeout),
        # h11, not the faster httptools uvicorn would pick: only h11 caps the header block
        # (about 0.2 ms more per request, measured on /healthz; docs/deployment.md).
        http="h11",
        h11_max_incomplete_event_size=settings.server_max_header_bytes,
        # A float for call_later, as above.
        timeout_keep_alive=cast(int, settings.server_keep_alive_timeout),
        backlog=settings.server_backlog,
        limit_concurrency=settings.server_limit_concurrency,
    )
    if settings.workers == 1:
        # The app object itself: the settings resolved above reach it without the environment.
        run(create_app(settings))
        return
    with worker_environment(settings):
        run(WORKER_APP, factory=True, workers=settings.workers)


if __name__ == "__main__":
    sys.exit(main())
