"""The default bake's own test suite passes on a real PostgreSQL, both ways it can get one."""

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from .conftest import TEMPLATE_DIR
from .shell import run

# CI and this machine kind have PostgreSQL here (trust auth); override for other machines.
SERVER_URL = os.environ.get(
    "TEMPLATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)

# A test that only passes with a real PgBouncer running (.ci/run installs it).
PGBOUNCER_PROOF = (
    "PASSED tests/test_pgbouncer.py::"
    "test_both_drivers_serve_items_through_pgbouncer_in_transaction_mode"
)


@pytest.fixture(scope="module")
def default_project() -> Iterator[Path]:
    # Baked outside pytest's tmp_path: run as root, the embedded PostgreSQL runs its binaries
    # (inside the project's .venv) as its own user, and every new pytest session (the
    # generated suite is one) makes /tmp/pytest-of-root private again, mode 700.
    with tempfile.TemporaryDirectory(prefix="template-bake-") as scratch:
        project = Path(cookiecutter(str(TEMPLATE_DIR), no_input=True, output_dir=scratch))
        run(["uv", "sync", "--quiet"], project)
        yield project


def test_generated_suite_passes_against_test_database_url(default_project: Path) -> None:
    output = run(
        # -rp lists every passed test (the PgBouncer proofs must have run, not skipped); fE
        # come after it, so a failure's summary stays in the output's tail.
        ["uv", "run", "--no-sync", "pytest", "-q", "-rpfE", "-p", "no:cacheprovider"],
        default_project,
        TEST_DATABASE_URL=SERVER_URL,
    )
    assert " passed" in output
    assert "skipped" not in output
    assert PGBOUNCER_PROOF in output


def test_generated_suite_passes_on_the_embedded_default(default_project: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    os.environ.clear()
    os.environ.update(environment)
    output = run(
        ["uv", "run", "--no-sync", "pytest", "-q", "-rpfE", "-p", "no:cacheprovider"],
        default_project,
    )
    assert " passed" in output
    assert "skipped" not in output
    assert PGBOUNCER_PROOF in output
