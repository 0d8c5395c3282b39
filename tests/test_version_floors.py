"""The lowest versions the generated pyproject.toml admits actually work.

`uv sync --resolution lowest-direct` installs every direct dependency at its floor (and what
those floors need) into a virtualenv of its own; the generated suite then runs against it. A
floor that admits a broken combination (FastAPI 0.115 with a Starlette that lacks
HTTP_413_CONTENT_TOO_LARGE, say) fails here, at import or in a test.
"""

import tempfile
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from .bakes import TEMPLATE_DIR, on_host
from .conftest import SERVER_URL
from .shell import run
from .test_generated_suite import GENERATED_SUITE

# The generated suite without the tests that prove timing and process behaviour (lesson,
# items_concurrency, shutdown, cli) or run the linters (static): those test this machine
# and the tools' versions rather than the libraries' APIs, and take most of the suite's
# time. What remains touches every library at its floor: FastAPI routing and validation,
# pydantic, both drivers, alembic, the httpx-aiohttp client against a real stub,
# prometheus_client, the file routes, the lifespan, and schemathesis over the whole schema.
LIBRARY_TESTS = [
    "tests/test_items.py",
    "tests/test_items_both_drivers.py",
    "tests/files/test_files.py",
    "tests/outbound/test_fanout.py",
    "tests/outbound/test_upstream.py",
    "tests/test_health.py",
    "tests/test_lifespan.py",
    "tests/test_metrics.py",
    "tests/test_settings.py",
    "tests/test_schema_fuzz.py",
]


@pytest.mark.slow
def test_the_generated_suite_passes_on_the_lowest_declared_versions() -> None:
    with tempfile.TemporaryDirectory(prefix="template-floors-") as scratch:
        project = Path(
            cookiecutter(
                str(TEMPLATE_DIR), no_input=True, extra_context=on_host(), output_dir=scratch
            )
        )
        assert all((project / path).is_file() for path in LIBRARY_TESTS)
        environment = {"UV_PROJECT_ENVIRONMENT": str(Path(scratch) / "lowest-venv")}
        run(["uv", "sync", "--quiet", "--resolution", "lowest-direct"], project, **environment)
        installed = run(
            ["uv", "pip", "list"], project, VIRTUAL_ENV=environment["UV_PROJECT_ENVIRONMENT"]
        )
        output = run(
            [*GENERATED_SUITE, *LIBRARY_TESTS],
            project,
            TEST_DATABASE_URL=SERVER_URL,
            **environment,
        )
    assert " passed" in output, installed
    assert "skipped" not in output
    assert " failed" not in output
