"""Every operation of the OpenAPI schema, fuzzed: no server error, answers that match the
schema, bad input refused.

schemathesis calls the app in process (its ASGI client starts the app's real lifespan once:
pools, client, thread budgets) against a throwaway database. Each operation gets positive
cases (valid per the schema: must not be refused as invalid) and, where it takes any input,
negative ones (invalid on purpose: must get a 4xx). All of schemathesis' checks run on
each answer: status code, content type, headers and body against the schema.
"""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation, BaseSchema

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings

Operation = APIOperation[Any, Any, Any, Any]

# Left out, each for a reason (their own tests cover them):
# - every /lesson route but /lesson/async, /lesson/sync and /lesson/request-id: a case may
#   wait up to 5 s (delay, chunks) or burn a core for seconds (steps), which is their lesson;
# - /async/upstream/fanout: calls the upstream, which test_fanout.py serves for real.
EXCLUDED_PATHS = r"^/lesson/(?!async$|sync$|request-id)|^/async/upstream/fanout$"
EXAMPLES_PER_OPERATION_AND_MODE = 15


@pytest.fixture(scope="module")
def fuzzed_schema(
    make_database: Callable[[], str],
    make_settings: Callable[..., Settings],
    tmp_path_factory: pytest.TempPathFactory,
) -> BaseSchema:
    # A database and FILES_DIR of its own: the fuzzer writes whatever the schema allows.
    files_dir: Path = tmp_path_factory.mktemp("fuzzed-files")
    app = create_app(make_settings(database_url=make_database(), files_dir=files_dir))
    return schemathesis.openapi.from_asgi("/openapi.json", app).exclude(path_regex=EXCLUDED_PATHS)


def all_operations(schema: BaseSchema) -> list[Operation]:
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the schema itself is broken
        operations.append(result.ok())
    return operations


def takes_input(operation: Operation) -> bool:
    """Whether a client can send this operation anything invalid at all (GET /healthz: no)."""
    parts = (operation.path_parameters, operation.query, operation.headers, operation.body)
    return any(len(part) for part in parts)


def test_every_operation_answers_by_its_schema(fuzzed_schema: BaseSchema) -> None:
    # One loop rather than schemathesis' pytest plugin: its from_fixture does not run on
    # pytest 9.2 (it reads a private attribute pytest removed).
    cases: dict[str, int] = {}
    tested = all_operations(fuzzed_schema)
    for operation in tested:
        modes = [GenerationMode.POSITIVE]
        if takes_input(operation):
            modes.append(GenerationMode.NEGATIVE)
        for mode in modes:

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def check(case: schemathesis.Case[Operation]) -> None:
                cases[case.operation.label] = cases.get(case.operation.label, 0) + 1
                case.call_and_validate()

            check()
    print(f"\nschemathesis: {sum(cases.values())} cases over {len(tested)} operations")
    assert len(tested) >= 10
    assert set(cases) == {operation.label for operation in tested}
