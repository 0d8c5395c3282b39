"""The default bake's own test suite passes on a real PostgreSQL, both ways it can get one."""

import os
from pathlib import Path

import pytest
from pytest_cookies.plugin import Cookies

from .shell import run

# CI and this machine kind have PostgreSQL here (trust auth); override for other machines.
SERVER_URL = os.environ.get(
    "TEMPLATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


@pytest.fixture(scope="module")
def default_project(cookies_session: Cookies) -> Path:
    result = cookies_session.bake()
    assert result.exit_code == 0, result.exception
    assert result.project_path is not None
    run(["uv", "sync", "--quiet"], result.project_path)
    return result.project_path


def test_generated_suite_passes_against_test_database_url(default_project: Path) -> None:
    output = run(
        ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"],
        default_project,
        TEST_DATABASE_URL=SERVER_URL,
    )
    assert " passed" in output
    assert "skipped" not in output


def test_generated_suite_passes_on_the_embedded_default(default_project: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    os.environ.clear()
    os.environ.update(environment)
    output = run(
        ["uv", "run", "--no-sync", "pytest", "-q", "-p", "no:cacheprovider"], default_project
    )
    assert " passed" in output
    assert "skipped" not in output
