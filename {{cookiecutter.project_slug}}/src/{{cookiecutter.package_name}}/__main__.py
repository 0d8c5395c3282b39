"""`python -m {{ cookiecutter.package_name }} [serve|migrate]`.

With DATABASE_URL unset, both commands use an embedded PostgreSQL in ./.pgdata, so a person
with nothing but Python gets a running service; `serve` then also starts the upstream stub
when UPSTREAM_URL is unset too, so every route works. A set DATABASE_URL is always used as
given, and `serve` then leaves migrations to the deploy step (`migrate`), where one job runs
them. The embedded server is a development dependency: without it (the production image),
DATABASE_URL is required.
"""

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import cast

import uvicorn
from pydantic import HttpUrl, ValidationError

from . import upstream_stub
from .app import create_app
from .embedded_db import EmbeddedPostgresMissingError, embedded_postgres
from .log_config import configure_logging
from .migrate import upgrade_to_head
from .settings import Settings, describe_error

logger = logging.getLogger("{{ cookiecutter.package_name }}")


@contextmanager
def database_url(settings: Settings) -> Iterator[str]:
    """DATABASE_URL as given, or the URL of an embedded server that runs until exit."""
    if settings.database_url is not None:
        yield settings.database_url
        return
    with embedded_postgres() as url:
        yield url


@contextmanager
def upstream_url(settings: Settings) -> Iterator[str]:
    """UPSTREAM_URL as configured, or, in development (no DATABASE_URL, no UPSTREAM_URL),
    the stub this package ships, served in a thread until exit."""
    if settings.database_url is not None or "upstream_url" in settings.model_fields_set:
        yield str(settings.upstream_url)
        return
    with upstream_stub.serve_in_background() as url:
        logger.info("upstream stub serving on %s (UPSTREAM_URL unset)", url)
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
            with upstream_url(settings) as upstream:
                ready = {"database_url": url, "upstream_url": HttpUrl(upstream)}
                serve(settings.model_copy(update=ready))
    except EmbeddedPostgresMissingError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def serve(settings: Settings) -> None:
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        # None: keep the logging set up above (uvicorn's default would replace it).
        log_config=None,
        log_level=settings.log_level,
        # uvicorn annotates int but hands the value to asyncio.wait_for, which takes
        # seconds as a float: int() would make a 0.5 s grace 0, cancelling every request.
        timeout_graceful_shutdown=cast(int, settings.shutdown_timeout),
    )


if __name__ == "__main__":
    sys.exit(main())
