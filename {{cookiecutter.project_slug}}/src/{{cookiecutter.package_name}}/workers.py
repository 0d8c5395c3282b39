"""WORKERS > 1: uvicorn's supervisor process and that many worker processes on one port.

Each worker is a fresh interpreter (uvicorn spawns them) that builds its own app with
`create_worker_app`, so its lifespan opens its own pools, thread budgets and loop-lag monitor
(and whatever else it holds): nothing is shared but the listening socket, which the kernel
hands to whichever worker accepts a connection first. Settings reach the workers through the
environment, so what `python -m {{ cookiecutter.package_name }}` resolved itself (an embedded
database) is exported before they start.

The supervisor restarts a worker that dies, and forwards SIGTERM and SIGINT to every worker,
which then drains as a single process does (SHUTDOWN_TIMEOUT); see docs/deployment.md.
"""

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import FastAPI

from .app import create_app
from .observability.log_config import configure_logging
from .observability.metrics import MULTIPROCESS_DIR
from .settings import Settings

# uvicorn imports the app in each worker: `workers=` takes an import string, not an object.
WORKER_APP = "{{ cookiecutter.package_name }}.workers:create_worker_app"


def create_worker_app() -> FastAPI:
    """Called by uvicorn in each worker process (factory=True)."""
    settings = Settings()
    # A spawned process starts with no logging set up: the parent's does not carry over.
    configure_logging(settings.log_format, settings.log_level)
    return create_app(settings)


@contextmanager
def worker_environment(settings: Settings) -> Iterator[None]:
    """The environment the workers are spawned with, restored on exit.

    PROMETHEUS_MULTIPROC_DIR is a new private directory, removed at exit: the workers' metric
    files live there, and files left by an earlier run would be added to this run's counters.
    """
    if settings.database_url is None:
        raise RuntimeError("DATABASE_URL must be resolved before the workers start")
    with tempfile.TemporaryDirectory(prefix="prometheus-multiproc-") as directory:
        exported = {
            "DATABASE_URL": settings.database_url,
            MULTIPROCESS_DIR: directory,
        }
        previous = {name: os.environ.get(name) for name in exported}
        os.environ.update(exported)
        try:
            yield
        finally:
            for name, value in previous.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
