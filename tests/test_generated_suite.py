"""The default bake's own test suite passes on a real PostgreSQL, both ways it can get one."""

import os
from pathlib import Path

from .conftest import SERVER_URL
from .shell import run

# A test that only passes with a real PgBouncer running (.ci/run installs it).
PGBOUNCER_PROOF = (
    "PASSED tests/test_pgbouncer.py::"
    "test_both_drivers_serve_items_through_pgbouncer_in_transaction_mode"
)
# -rp lists every passed test (the PgBouncer proofs must have run, not skipped); fE come
# after it, so a failure's summary stays in the output's tail.
GENERATED_SUITE = ["uv", "run", "--no-sync", "pytest", "-q", "-rpfE", "-p", "no:cacheprovider"]


def test_generated_suite_passes_against_test_database_url(default_bake: Path) -> None:
    output = run(GENERATED_SUITE, default_bake, TEST_DATABASE_URL=SERVER_URL)
    assert " passed" in output
    assert "skipped" not in output
    assert PGBOUNCER_PROOF in output


def test_generated_suite_passes_on_the_embedded_default(default_bake: Path) -> None:
    environment = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    os.environ.clear()
    os.environ.update(environment)
    output = run(GENERATED_SUITE, default_bake)
    assert " passed" in output
    assert "skipped" not in output
    assert PGBOUNCER_PROOF in output
