"""Bakes shared by every xdist worker of one run: each variant is baked and synced once.

The first worker that needs a variant bakes it under an exclusive lock; the others wait for
the lock and take the same directory. The bakes live outside pytest's tmp_path: run as root,
the embedded PostgreSQL runs its binaries (inside the project's .venv) as its own user, and
every new pytest session (a generated suite is one) makes /tmp/pytest-of-root private again.
"""

import fcntl
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from cookiecutter.main import cookiecutter

from .shell import run

TEMPLATE_DIR = Path(__file__).resolve().parent.parent

# The Python running these tests. A bake that is installed and run on this machine is baked
# for it: the template's default (3.14) may not be installed here, and uv may not download
# interpreters. Bakes for 3.14 and 3.15 run in Debian sid instead (tests/sid.py).
HOST_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


def on_host(extra_context: Mapping[str, str] | None = None) -> dict[str, str]:
    """The extra_context of a bake this machine installs: the host's Python, unless the
    context names a python_version itself."""
    return {"python_version": HOST_PYTHON, **(extra_context or {})}


def run_directory() -> Path:
    """One directory per test run, shared by its xdist workers (they share the run's id)."""
    run_id = os.environ.get("PYTEST_XDIST_TESTRUNUID", f"pid-{os.getpid()}")
    directory = Path(tempfile.gettempdir()) / f"template-bakes-{run_id}"
    directory.mkdir(exist_ok=True)
    return directory


@contextmanager
def exclusive(name: str) -> Iterator[None]:
    """Hold the run's lock called `name` (one xdist worker at a time makes what it guards)."""
    with (run_directory() / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def synced_bake(variant: str, options: dict[str, str]) -> Path:
    """The variant baked with `options` and installed from its lock (`uv sync --locked`)."""
    root = run_directory() / variant
    with exclusive(variant):
        done = root / ".synced"
        if not done.exists():
            shutil.rmtree(root, ignore_errors=True)
            root.mkdir()
            project = Path(
                cookiecutter(
                    str(TEMPLATE_DIR),
                    no_input=True,
                    output_dir=str(root),
                    extra_context=on_host(options),
                )
            )
            # --locked: the bake's own uv.lock, as the Dockerfile and the generated CI use it.
            run(["uv", "sync", "--locked", "--quiet"], project)
            done.write_text(project.name)
        return root / done.read_text()


def warm_mypy_cache(project: Path) -> None:
    """Give `project` a copy of the run's mypy cache, made once by checking the defaults.

    Strict mypy over the bake's dependencies takes about 19 s of CPU per bake; from a cache of
    the same files it takes 2.6 s. mypy takes nothing on trust from a copied cache: a module
    whose path, size or hash differs from its cached entry is checked again, so each bake's
    own code is checked whole.
    """
    seed = run_directory() / "mypy-cache"
    with exclusive("mypy-cache"):
        if not (seed / ".done").exists():
            shutil.rmtree(seed, ignore_errors=True)
            defaults = synced_bake("default", {})
            run(["uv", "run", "--no-sync", "mypy", "--cache-dir", str(seed)], defaults)
            (seed / ".done").touch()
    shutil.copytree(seed, project / ".mypy_cache", dirs_exist_ok=True)


def remove_run_directory() -> None:
    shutil.rmtree(run_directory(), ignore_errors=True)
