"""Shared by the template's tests: one bake per variant, one uv cache, usable interpreters."""

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from .shell import run

TEMPLATE_DIR = Path(__file__).resolve().parent.parent

# CI and this machine kind have PostgreSQL here (trust auth); override for other machines.
SERVER_URL = os.environ.get(
    "TEMPLATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

# The Python running these tests. A bake that is installed and run on this machine is baked
# for it: the template's default (3.14) may not be installed here, and uv may not download
# interpreters. Bakes for 3.14 and 3.15 run in Debian sid instead (tests/sid.py).
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def on_host(extra_context: Mapping[str, str] | None = None) -> dict[str, str]:
    """The extra_context of a bake this machine installs: the host's Python, unless the
    context names a python_version itself."""
    return {"python_version": HOST_PYTHON, **(extra_context or {})}


def usable_pyenv_versions() -> str | None:
    """pyenv's shims refuse every Python but the selected one, which hides 3.12 and 3.13
    from uv; selecting all installed 3.x versions at once makes them all visible."""
    if shutil.which("pyenv") is None:
        return None
    listing = subprocess.run(
        ["pyenv", "versions", "--bare"], capture_output=True, text=True, check=False
    ).stdout.split()
    versions = [v for v in listing if v.startswith("3.")]
    return ":".join(versions) or None


@pytest.fixture(scope="session", autouse=True)
def tool_environment() -> Iterator[None]:
    """Environment for every uv command the tests run on a baked project."""
    saved = dict(os.environ)
    # uv must use this machine's interpreters; it can't download any here.
    os.environ.setdefault("UV_PYTHON_DOWNLOADS", "never")
    # (pyenv's own `uv` shim sets PYENV_VERSION to one version, so override it.)
    if versions := usable_pyenv_versions():
        os.environ["PYENV_VERSION"] = versions
    # A developer's settings must not leak into the generated suites.
    for name in ("DATABASE_URL", "VIRTUAL_ENV"):
        os.environ.pop(name, None)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture(scope="session")
def default_bake(tool_environment: None) -> Iterator[Path]:
    """The defaults baked and synced once per session (per xdist worker)."""
    # Baked outside pytest's tmp_path: run as root, the embedded PostgreSQL runs its binaries
    # (inside the project's .venv) as its own user, and every new pytest session (the
    # generated suite is one) makes /tmp/pytest-of-root private again, mode 700.
    with tempfile.TemporaryDirectory(prefix="template-bake-") as scratch:
        project = Path(
            cookiecutter(
                str(TEMPLATE_DIR), no_input=True, extra_context=on_host(), output_dir=scratch
            )
        )
        # --locked: the bake's own uv.lock, as the Dockerfile and the generated CI install it.
        run(["uv", "sync", "--locked", "--quiet"], project)
        yield project


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest single runs first, so they start while the other workers take the rest:
    the container check (build, containers, compose), then the suites on sid's Pythons."""

    def order(item: pytest.Item) -> int:
        if item.get_closest_marker("container"):
            return 0
        return 1 if item.get_closest_marker("sid") else 2

    items.sort(key=order)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Step times of the container check (recorded by tests/test_container.py)."""
    steps: dict[str, float] = {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", []):
                if name == "container_check":
                    steps.update(value)
    if steps:
        terminalreporter.write_sep("-", "container check")
        for step, seconds in steps.items():
            terminalreporter.write_line(f"{step}: {seconds}")
