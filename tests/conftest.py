"""Shared by the template's tests: one bake per variant, one uv cache, usable interpreters."""

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from .bakes import remove_run_directory, synced_bake
from .parts import PART_VARIANTS

# CI and this machine kind have PostgreSQL here (trust auth); override for other machines.
SERVER_URL = os.environ.get(
    "TEMPLATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


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
def default_bake(tool_environment: None) -> Path:
    """The defaults baked and synced once per run (tests/bakes.py)."""
    return synced_bake("default", {})


@pytest.fixture(scope="session")
def variant_bake(tool_environment: None) -> Callable[[str], Path]:
    """`variant_bake(name)`: a variant of tests/parts.py, baked and synced once per run."""

    def bake(variant: str) -> Path:
        return synced_bake(variant, PART_VARIANTS[variant])

    return bake


def pytest_sessionfinish(session: pytest.Session) -> None:
    # The xdist controller (or a run without xdist) removes the run's bakes once all is done.
    if not hasattr(session.config, "workerinput"):
        remove_run_directory()


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Workers for `-n auto`: three for every two cores. The generated suites run in one
    process each (tests/test_generated_suite.py) and mostly wait on sockets, timers and the
    processes they start: one took 111 s of CPU over 445 s, so two workers left the cores
    idle while two such suites ran side by side."""
    return max(2, (os.cpu_count() or 1) * 3 // 2)


# The longest single runs, by the module that holds them, after the container check and sid's.
LONGEST_FIRST = ("test_python_versions.py", "test_generated_suite.py", "test_version_floors.py")


def run_length(item: pytest.Item) -> int:
    """0 for the longest runs (the container check), up to 3 for the rest."""
    if item.get_closest_marker("container"):
        return 0
    if item.get_closest_marker("sid"):
        return 1
    return 2 if item.path.name in LONGEST_FIRST else 3


def share_sizes(count: int, workers: int) -> list[int]:
    """How xdist's worksteal scheduler shares `count` tests among idle workers at the start:
    one contiguous slice each, in collection order."""
    sizes = []
    for given in range(workers):
        sizes.append(count // (workers - given))
        count -= sizes[-1]
    return sizes


def dealt_to_workers(items: list[pytest.Item], workers: int) -> list[pytest.Item]:
    """The collection ordered so that each worker's first share begins with its turn of the
    longest runs. worksteal steals from the back of a worker's queue, never the front: with
    the longest runs all first, they queued on one worker, one after another (a run on
    2026-12-04 started a variant's suite 20 minutes in)."""
    longest = [item for item in items if run_length(item) < 3]
    rest = iter(item for item in items if run_length(item) == 3)
    ordered: list[pytest.Item] = []
    for worker, size in enumerate(share_sizes(len(items), workers)):
        share = longest[worker::workers]
        ordered += share + [next(rest) for _ in range(size - len(share))]
    return ordered + list(rest)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest single runs first: the container check (build, containers, compose), then
    the whole suites (sid's Pythons, the variants, the version floors); under xdist, dealt
    out so that every worker starts with some of them."""
    items.sort(key=run_length)
    workers = getattr(config, "workerinput", {}).get("workercount")
    if workers and workers > 1:
        items[:] = dealt_to_workers(items, workers)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Step times of the container check (recorded by tests/test_container.py), and where the
    lesson page's screenshots are (tests/test_lesson_page.py)."""
    steps: dict[str, float] = {}
    artefacts: set[str] = set()
    for reports in terminalreporter.stats.values():
        for report in reports:
            for name, value in getattr(report, "user_properties", []):
                if name == "container_check":
                    steps.update(value)
                elif name == "lesson_page_artefacts":
                    artefacts.add(value)
    if steps:
        terminalreporter.write_sep("-", "container check")
        for step, seconds in steps.items():
            terminalreporter.write_line(f"{step}: {seconds}")
    for directory in sorted(artefacts):
        terminalreporter.write_sep("-", "lesson page")
        terminalreporter.write_line(f"screenshots, captions and the server's log: {directory}")
