"""The default bake's own test suite passes on a real PostgreSQL, both ways it can get one."""

import os
from pathlib import Path

from .conftest import SERVER_URL
from .shell import run


def test_generated_suite_passes_against_test_database_url(default_bake: Path) -> None:
    output = run(
        ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"],
        default_bake,
        TEST_DATABASE_URL=SERVER_URL,
    )
    assert " passed" in output
    assert "skipped" not in output


def test_generated_suite_passes_on_the_embedded_default(default_bake: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    os.environ.clear()
    os.environ.update(environment)
    output = run(["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"], default_bake)
    assert " passed" in output
    assert "skipped" not in output
