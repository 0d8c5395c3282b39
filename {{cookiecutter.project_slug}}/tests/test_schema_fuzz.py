"""Every operation of the OpenAPI schema, fuzzed: no server error, answers that match the
schema, bad input refused.

schemathesis calls the app in process (its ASGI client starts the app's real lifespan once:
pools, client, thread budgets) against a throwaway database. Each operation gets positive
cases (valid per the schema: must not be refused as invalid) and, where it takes any input,
negative ones (invalid on purpose: must get a 4xx). All of schemathesis' checks run on
each answer: status code, content type, headers and body against the schema.

The app has API_TOKENS set. Every case carries a valid token; schemathesis' ignored_auth check
then sends each secured operation's served case again without it and with a wrong one, which
must be refused. Each secured operation is also fuzzed with no token at all: every case 401.
"""

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.core.result import Err
from schemathesis.schemas import APIOperation, BaseSchema

from {{ cookiecutter.package_name }}.app import create_app
from {{ cookiecutter.package_name }}.settings import Settings

from .support.parts import ITEM_PREFIXES

Operation = APIOperation[Any, Any, Any, Any]

# Left out: the operations that take how long to wait or how much to work (a case may wait
# up to 5 s, call an upstream, or burn a core for seconds, which is what they are for).
# Their own tests cover them.
WAITING_PARAMETERS = {"delay", "steps", "chunks"}
EXAMPLES_PER_OPERATION_AND_MODE = 15
# Every operation gets the same budget; no example database, so each run starts afresh.
FUZZING = settings(
    max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
# At least the probes and each driver's five item operations.
LEAST_OPERATIONS = 2 + 5 * len(ITEM_PREFIXES)
TOKEN = secrets.token_urlsafe(32)
AUTHORIZED = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def fuzzed_schema(
    make_database: Callable[[], str],
    make_settings: Callable[..., Settings],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BaseSchema]:
    # A database and a working directory of its own: the fuzzer writes whatever the schema
    # allows, and relative paths in the settings' defaults land here.
    workdir = tmp_path_factory.mktemp("fuzzed")
    app = create_app(make_settings(database_url=make_database(), api_tokens=TOKEN))
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    waiting = waiting_paths(app.openapi())
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(workdir)
        yield schema.exclude(path=waiting) if waiting else schema


def waiting_paths(document: dict[str, Any]) -> list[str]:
    """The paths with an operation that takes one of WAITING_PARAMETERS."""
    return [
        path
        for path, operations in document["paths"].items()
        for operation in operations.values()
        if WAITING_PARAMETERS & {p["name"] for p in operation.get("parameters", [])}
    ]


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
            @FUZZING
            def check(case: schemathesis.Case[Operation]) -> None:
                cases[case.operation.label] = cases.get(case.operation.label, 0) + 1
                case.call_and_validate(headers=authorized(case))

            check()
    print(f"\nschemathesis: {sum(cases.values())} cases over {len(tested)} operations")
    assert len(tested) >= LEAST_OPERATIONS
    assert set(cases) == {operation.label for operation in tested}


def authorized(case: schemathesis.Case[Operation]) -> dict[str, str]:
    """A valid token, unless a negative case left the header out on purpose (then 401)."""
    leaves_it_out = case.meta is not None and case.meta.generation.mode.is_negative
    if leaves_it_out and "Authorization" not in (case.headers or {}):
        return {}
    return AUTHORIZED


def secured(operation: Operation) -> bool:
    return bool(operation.definition.raw.get("security"))


def test_every_secured_operation_refuses_every_case_without_a_token(
    fuzzed_schema: BaseSchema,
) -> None:
    refused: dict[str, int] = {}
    tested = [operation for operation in all_operations(fuzzed_schema) if secured(operation)]
    for operation in tested:

        @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
        @FUZZING
        def check(case: schemathesis.Case[Operation]) -> None:
            response = case.call()
            assert response.status_code == 401, (case.operation.label, response.text)
            case.validate_response(response)
            refused[case.operation.label] = refused.get(case.operation.label, 0) + 1

        check()
    # Every write route of both drivers at least (POST, PUT, DELETE each).
    assert len(tested) >= 3 * len(ITEM_PREFIXES)
    assert set(refused) == {operation.label for operation in tested}
