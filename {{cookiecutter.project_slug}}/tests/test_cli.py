import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from {{ cookiecutter.package_name }}.settings import DRIVERS

from .support.database import fetch
from .support.harness import free_port
from .support.processes import SERVICE


def environment_without_database(**extra: str) -> dict[str, str]:
    unset = {"DATABASE_URL", "PORT"}
    environment = {k: v for k, v in os.environ.items() if k not in unset}
    return {**environment, **extra}


def applied_revision(url: str) -> str:
    return str(fetch(url, "SELECT version_num FROM alembic_version")[0][0])


def test_migrate_applies_the_schema_and_is_idempotent(make_database: Callable[[], str]) -> None:
    url = make_database()
    environment = {**os.environ, "DATABASE_URL": url}
    for _ in range(2):
        result = subprocess.run(
            [*SERVICE, "migrate"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert result.returncode == 0, result.stderr
    assert applied_revision(url) == "0001"


def test_unknown_command_is_refused() -> None:
    result = subprocess.run(
        [*SERVICE, "serve-forever"], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert "invalid choice: 'serve-forever'" in result.stderr


def embedded_servers(pgdata: Path) -> list[psutil.Process]:
    return [
        process
        for process in psutil.process_iter(["name", "cmdline"])
        if process.info["name"] == "postgres"
        and str(pgdata) in " ".join(process.info["cmdline"] or [])
    ]


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Outside pytest's tmp_path, for the reason given in conftest.postgres_server_url.
    with tempfile.TemporaryDirectory(prefix="service-") as scratch:
        yield Path(scratch)


def test_without_database_url_the_service_runs_on_an_embedded_postgres(workdir: Path) -> None:
    tmp_path = workdir
    port = free_port()
    service = subprocess.Popen(
        SERVICE,
        cwd=tmp_path,
        env=environment_without_database(PORT=str(port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        ready = None
        while time.monotonic() < deadline and service.poll() is None:
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        if ready is None:
            service.kill()
            raise AssertionError("the service never answered:\n" + service.communicate()[0])
        assert ready.status_code == 200
        assert ready.json()["checks"] == dict.fromkeys(DRIVERS, "ok")
        pgdata = (tmp_path / ".pgdata").resolve()
        assert (pgdata / "PG_VERSION").exists()
        assert embedded_servers(pgdata), "the embedded server should run while serving"
    finally:
        service.send_signal(signal.SIGINT)
        output, _ = service.communicate(timeout=60)
    assert service.returncode == 0, output
    assert "Application shutdown complete" in output
    assert not embedded_servers(pgdata), "the embedded server must stop with the service"


def test_without_database_url_or_the_embedded_postgres_the_error_says_what_to_do(
    workdir: Path,
) -> None:
    # The image's situation (no dev group), made in a subprocess by hiding the installed
    # package: a None entry in sys.modules makes its import fail as if it were absent.
    script = (
        "import sys; sys.modules['embedded_postgres'] = None; "
        "from {{ cookiecutter.package_name }}.__main__ import main; sys.exit(main([]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=workdir,
        env=environment_without_database(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "DATABASE_URL is not set" in result.stderr
    assert "development dependency" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (workdir / ".pgdata").exists()
