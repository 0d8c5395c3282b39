"""Each variant's own test suite passes on a real PostgreSQL, both ways it can get one.

What each bake runs, and why that is enough:
- every bake (the defaults and each variant of tests/parts.py): its whole suite against
  TEST_DATABASE_URL, so every part's tests run beside every other part and beside none, on
  both drivers and on each alone.
- on the embedded server, the tests that take that path for real (start-up without
  DATABASE_URL, migrations and both kinds of item route over its Unix socket), in every bake
  whose driver set differs: what differs there between bakes is the driver, not the rest.
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
AS_SHIPPED = ["uv", "run", "--no-sync", "pytest", "-q", "-rpfE", "-p", "no:cacheprovider"]
# In one process (-n 0): the template's own xdist workers already keep both cores busy, and
# each of a suite's workers imports and sets up everything again. Measured with every suite
# under its default -n auto: `make test` took 57.5 CPU-minutes and 41.8 min here, against
# about 43 and 32-39 in one process, and its timing proofs ran on a machine oversubscribed
# twice over. The defaults' suite runs as shipped, so the workers' isolation stays proven.
GENERATED_SUITE = [*AS_SHIPPED, "-n", "0"]
# Bakes whose drivers differ from the defaults': their embedded path is not the defaults'.
DRIVER_VARIANTS = tuple(name for name, parts in PART_VARIANTS.items() if "database" in parts)
# The defaults' whole suite takes about 2.5 minutes alone on a quiet 2-core machine, and
# several times that beside the rest of the template's tests.
SUITE_TIMEOUT = 1500.0
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
    output = run(AS_SHIPPED, default_bake, SUITE_TIMEOUT, TEST_DATABASE_URL=SERVER_URL)
    assert_every_test_ran(output)
    assert PGBOUNCER_PROOF in output


def test_generated_suite_passes_on_the_embedded_default(default_bake: Path) -> None:
    without_test_database_url()
    output = run([*GENERATED_SUITE, *ON_THE_EMBEDDED_SERVER], default_bake)
    assert_every_test_ran(output)


@pytest.mark.parametrize("variant", PART_VARIANTS)
def test_each_variants_suite_passes_against_test_database_url(
    variant_bake: Callable[[str], Path], variant: str
) -> None:
    project = variant_bake(variant)
    output = run(GENERATED_SUITE, project, SUITE_TIMEOUT, TEST_DATABASE_URL=SERVER_URL)
    assert_every_test_ran(output)
    assert PGBOUNCER_PROOF in output


@pytest.mark.parametrize("variant", DRIVER_VARIANTS)
def test_each_variants_embedded_path_passes_on_the_embedded_server(
    variant_bake: Callable[[str], Path], variant: str
) -> None:
    without_test_database_url()
    output = run([*GENERATED_SUITE, *ON_THE_EMBEDDED_SERVER], variant_bake(variant))
    assert_every_test_ran(output)
