"""`python -m {{ cookiecutter.package_name }} [serve|migrate]`.

With DATABASE_URL unset, both commands use an embedded PostgreSQL in ./.pgdata, so a person
with nothing but Python gets a running service. A set DATABASE_URL is always used as given,
and `serve` then leaves migrations to the deploy step (`migrate`), where one job runs them.
"""

import argparse
import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import cast

import uvicorn
from pydantic import ValidationError

from .app import create_app
from .embedded_db import embedded_postgres
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
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s"
    )

    with database_url(settings) as url:
        # The embedded server is this process's own, so nobody else will migrate it.
        if args.command == "migrate" or settings.database_url is None:
            upgrade_to_head(url)
            logger.info("database schema is up to date")
        if args.command == "migrate":
            return 0
        ready = settings.model_copy(update={"database_url": url})
        uvicorn.run(
            create_app(ready),
            host=ready.host,
            port=ready.port,
            log_level=ready.log_level,
            # uvicorn annotates int but hands the value to asyncio.wait_for, which takes
            # seconds as a float: int() would make a 0.5 s grace 0, cancelling every request.
            timeout_graceful_shutdown=cast(int, ready.shutdown_timeout),
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
