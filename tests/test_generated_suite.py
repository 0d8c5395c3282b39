"""Each variant's own test suite passes on a real PostgreSQL, both ways it can get one.

The defaults run their whole suite both ways: against TEST_DATABASE_URL and on the embedded
server. Each other variant runs its whole suite against TEST_DATABASE_URL, and on the
embedded server the tests that take that path for real (start-up without DATABASE_URL,
migrations and both kinds of item route over its Unix socket): what differs there between
variants is the driver, not the rest.
"""

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from .conftest import SERVER_URL
from .parts import PART_VARIANTS
from .shell import run

# A test that only passes with a real PgBouncer running (.ci/run installs it).
PGBOUNCER_PROOF = (
    "PASSED tests/test_pgbouncer.py::"
    "test_every_driver_serves_items_through_pgbouncer_in_transaction_mode"
)
# -rp lists every passed test (the PgBouncer proofs must have run, not skipped); fE come
# after it, so a failure's summary stays in the output's tail.
GENERATED_SUITE = ["uv", "run", "--no-sync", "pytest", "-q", "-rpfE", "-p", "no:cacheprovider"]
ON_THE_EMBEDDED_SERVER = [
    "tests/test_cli.py",
    "tests/test_items.py",
    "tests/test_health.py",
    "tests/test_lifespan.py",
]


def without_test_database_url() -> None:
    environment = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    os.environ.clear()
    os.environ.update(environment)


def assert_every_test_ran(output: str) -> None:
    assert " passed" in output
    assert "skipped" not in output
    assert " deselected" not in output


def test_generated_suite_passes_against_test_database_url(default_bake: Path) -> None:
    output = run(GENERATED_SUITE, default_bake, TEST_DATABASE_URL=SERVER_URL)
    assert_every_test_ran(output)
    assert PGBOUNCER_PROOF in output


def test_generated_suite_passes_on_the_embedded_default(default_bake: Path) -> None:
    without_test_database_url()
    output = run(GENERATED_SUITE, default_bake)
    assert_every_test_ran(output)
    assert PGBOUNCER_PROOF in output


@pytest.mark.parametrize("variant", PART_VARIANTS)
def test_each_variants_suite_passes_against_test_database_url(
    variant_bake: Callable[[str], Path], variant: str
) -> None:
    output = run(GENERATED_SUITE, variant_bake(variant), TEST_DATABASE_URL=SERVER_URL)
    assert_every_test_ran(output)
    assert PGBOUNCER_PROOF in output


@pytest.mark.parametrize("variant", PART_VARIANTS)
def test_each_variants_embedded_path_passes_on_the_embedded_server(
    variant_bake: Callable[[str], Path], variant: str
) -> None:
    without_test_database_url()
    output = run([*GENERATED_SUITE, *ON_THE_EMBEDDED_SERVER], variant_bake(variant))
    assert_every_test_ran(output)
