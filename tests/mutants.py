"""The mutant catalogue: for each row of the generated decision table, the smallest plausible
wrong version of the code that row forbids, and the proofs that must fail on it.

`tests/test_mutants.py` applies each mutant to a copy of the default bake and runs its proofs
(they must fail), checks that every row of `docs/concurrency.md` names a mutant from here and
that each mutant's proofs are linked from its row. Paths are those of the default bake.
"""

from dataclasses import dataclass
from pathlib import Path

PACKAGE = "src/my_service"


@dataclass(frozen=True)
class Edit:
    file: str  # path inside the default bake
    old: str  # must occur exactly once in the file
    new: str


# The parts of the template a mutant's code and proofs live in (cookiecutter's options): a bake
# runs the mutants whose parts it has. "asyncpg" and "psycopg2" are the drivers the `database`
# option keeps.
LESSONS = "lessons"
ASYNCPG = "asyncpg"
PSYCOPG2 = "psycopg2"
OUTBOUND = "outbound_http"
FILES = "file_storage"


def parts_of(options: dict[str, str]) -> frozenset[str]:
    """The parts a bake with these options has (the defaults where an option is not given)."""
    database = options.get("database", "both")
    kept = {
        LESSONS: options.get("lessons", "yes") == "yes",
        ASYNCPG: database in {"both", "asyncpg"},
        PSYCOPG2: database in {"both", "psycopg2"},
        OUTBOUND: options.get("outbound_http", "yes") == "yes",
        FILES: options.get("file_storage", "yes") == "yes",
    }
    return frozenset(part for part, present in kept.items() if present)


@dataclass(frozen=True)
class Mutant:
    id: str
    needs: frozenset[str]  # the parts it applies to (all of them must be in the bake)
    row: str  # the first cell of its decision-table row, verbatim
    description: str  # what the row's "fails on" cell says, verbatim
    edits: tuple[Edit, ...]
    proofs: tuple[str, ...]  # node ids (parameters optional) that must fail on it

    def applies_to(self, parts: frozenset[str]) -> bool:
        return self.needs <= parts

    def proofs_in(self, project: Path) -> tuple[str, ...]:
        """The proofs a bake has: a proof that lives with a part (tests/lessons/...) goes with
        it, and the mutant's other proofs must still kill it."""
        return tuple(p for p in self.proofs if (project / p.split("::")[0]).is_file())


def edit(module: str, old: str, new: str) -> Edit:
    """An edit of the package's `module` (a path below src/my_service)."""
    return Edit(f"{PACKAGE}/{module}", old, new)


WAITING = "tests/lessons/test_waiting.py"
LOOP_LAG = "tests/lessons/test_loop_lag.py"
ITEMS = "tests/test_items_concurrency.py"
ASYNCPG_ITEMS = "tests/test_asyncpg_concurrency.py"
PSYCOPG2_ITEMS = "tests/test_psycopg2_concurrency.py"
PSYCOPG2_FAULTS = "tests/test_psycopg2_pool_faults.py"
ASYNCPG_FAULTS = "tests/test_asyncpg_faults.py"
FANOUT = "tests/outbound/test_fanout.py"
FILE_TESTS = "tests/files/test_files.py"
BEYOND = "tests/lessons/test_beyond_routes.py"
FAULTS = "tests/test_database_faults.py"
BOUNCER = "tests/test_pgbouncer.py"
REQUEST_ID = "tests/lessons/test_request_id.py"
TRACING = "tests/test_tracing.py"
AUTH = "tests/test_auth.py"
FILE_AUTH = "tests/files/test_file_auth.py"
HOSTILE = "tests/test_hostile_clients.py"
OPEN_FILES = "tests/test_open_files.py"
BODIES = "tests/test_request_bodies.py"

MUTANTS = (
    Mutant(
        id="async-route-as-def",
        needs=frozenset({LESSONS}),
        row="nothing that blocks (or only awaits)",
        description="`/lesson/async` written as `def`",
        edits=(edit("lessons/waiting.py", "async def lesson_async(", "def lesson_async("),),
        proofs=(f"{WAITING}::test_async_route_runs_on_the_loop_and_sync_route_in_a_worker_thread",),
    ),
    Mutant(
        id="sleep-instead-of-await",
        needs=frozenset({LESSONS}),
        row="waits on something awaitable",
        description="`time.sleep` in place of `await asyncio.sleep`",
        edits=(edit("lessons/waiting.py", "await asyncio.sleep(delay)", "time.sleep(delay)"),),
        proofs=(
            f"{WAITING}::test_awaiting_requests_overlap_on_the_loop_without_threads",
            f"{LOOP_LAG}::test_loop_lag_stays_low_under_a_burst_of_correct_routes",
        ),
    ),
    Mutant(
        id="blocking-route-as-async",
        needs=frozenset({LESSONS}),
        row="calls a blocking library, whole route",
        description="`/lesson/sync-slow` written as `async def`",
        edits=(edit("lessons/waiting.py", "def lesson_sync_slow(", "async def lesson_sync_slow("),),
        proofs=(f"{WAITING}::test_blocking_def_requests_overlap_in_worker_threads",),
    ),
    Mutant(
        id="tokens-not-applied",
        needs=frozenset({LESSONS}),
        row="many blocking routes at once",
        description="the limiter left at AnyIO's default",
        edits=(
            edit(
                "lifespan.py",
                "anyio.to_thread.current_default_thread_limiter().total_tokens = "
                "settings.anyio_thread_tokens",
                "pass",
            ),
        ),
        proofs=(f"{WAITING}::test_the_request_beyond_the_thread_tokens_waits_for_one",),
    ),
    Mutant(
        id="offload-calls-directly",
        needs=frozenset({LESSONS}),
        row="one blocking call inside async code",
        description="the blocking call made directly, without `to_thread`",
        edits=(
            edit(
                "lessons/waiting.py",
                "thread, started = await asyncio.to_thread(blocking_wait, delay)",
                "thread, started = blocking_wait(delay)",
            ),
        ),
        proofs=(f"{WAITING}::test_offloaded_blocking_calls_keep_the_loop_free_and_overlap",),
    ),
    Mutant(
        id="default-executor-kept",
        needs=frozenset(),
        row="many such calls at once",
        description="the executor left at Python's default",
        edits=(
            edit(
                "lifespan.py",
                "asyncio.get_running_loop().set_default_executor(executor)",
                "executor.shutdown()",
            ),
        ),
        proofs=(
            f"{WAITING}::test_offload_capacity_is_the_configured_executor_size",
            "tests/test_lifespan.py::test_thread_budgets_come_from_settings",
        ),
    ),
    Mutant(
        id="one-executor-thread",
        needs=frozenset({LESSONS}),
        row="many such calls at once",
        description="an executor smaller than configured",
        edits=(
            edit(
                "lifespan.py",
                "max_workers=settings.to_thread_max_workers,",
                "max_workers=max(1, settings.to_thread_max_workers - 1),",
            ),
        ),
        proofs=(f"{WAITING}::test_offload_capacity_is_the_configured_executor_size",),
    ),
    Mutant(
        id="cpu-route-as-async",
        needs=frozenset({LESSONS}),
        row="pure-Python CPU work, short",
        description="`/lesson/cpu` written as `async def`",
        edits=(edit("lessons/cpu.py", "def lesson_cpu(", "async def lesson_cpu("),),
        proofs=(
            f"{WAITING}::test_cpu_work_in_def_keeps_the_loop_answering_but_threads_share_the_gil",
        ),
    ),
    Mutant(
        id="cpu-offload-to-threads",
        needs=frozenset({LESSONS}),
        row="CPU work that must scale",
        description="the loop's thread executor instead of the process pool",
        edits=(
            edit(
                "lessons/cpu.py",
                "from typing import Annotated\n",
                "import asyncio\nfrom typing import Annotated\n",
            ),
            edit(
                "lessons/cpu.py",
                "return await processes.run(crunch, steps)",
                "return await asyncio.to_thread(crunch, steps)",
            ),
        ),
        proofs=(f"{WAITING}::test_cpu_work_in_a_process_pool_runs_in_other_processes_at_once",),
    ),
    Mutant(
        id="cpu-offload-on-the-loop",
        needs=frozenset({LESSONS}),
        row="CPU work that must scale",
        description="the work run on the loop",
        edits=(
            edit(
                "lessons/cpu.py",
                "return await processes.run(crunch, steps)",
                "return crunch(steps)",
            ),
        ),
        proofs=(f"{WAITING}::test_cpu_work_in_a_process_pool_runs_in_other_processes_at_once",),
    ),
    Mutant(
        id="anti-pattern-fixed",
        needs=frozenset({LESSONS}),
        row="`time.sleep` (or any blocking call) in `async def`",
        description="the anti-pattern route fixed with `await asyncio.sleep` (the proofs "
        "must see the harm, not pass regardless)",
        edits=(
            edit("lessons/antipatterns.py", "import time\n", "import asyncio\nimport time\n"),
            edit(
                "lessons/antipatterns.py",
                "    time.sleep(delay)  # noqa: ASYNC251\n    return Waited(",
                "    await asyncio.sleep(delay)\n    return Waited(",
            ),
        ),
        proofs=(
            f"{WAITING}::test_blockbuster_catches_time_sleep_inside_async_def",
            f"{WAITING}::test_time_sleep_inside_async_def_serialises_requests_and_stalls_the_loop",
            f"{WAITING}::test_the_blocking_route_delays_an_unrelated_healthz",
        ),
    ),
    Mutant(
        id="healthz-as-def",
        needs=frozenset({LESSONS}),
        row="liveness while threads are busy",
        description="`/healthz` written as `def`",
        edits=(edit("routes/health.py", "async def healthz(", "def healthz("),),
        proofs=(f"{WAITING}::test_healthz_answers_while_every_thread_token_is_taken",),
    ),
    Mutant(
        id="one-shared-asyncpg-connection",
        needs=frozenset({ASYNCPG}),
        row="queries with an async driver",
        description="one connection shared by every request",
        edits=(
            edit("db/asyncpg_pool.py", "min_size=settings.asyncpg_pool_min_size,", "min_size=1,"),
            edit("db/asyncpg_pool.py", "max_size=settings.asyncpg_pool_max_size,", "max_size=1,"),
        ),
        proofs=(
            f"{ASYNCPG_ITEMS}::test_asyncpg_requests_wait_in_postgresql_together_on_the_loop_without_threads",
        ),
    ),
    Mutant(
        id="bridge-calls-directly",
        needs=frozenset({PSYCOPG2}),
        row="a sync-only library from async code",
        description="the psycopg2 call made directly, without `to_thread`",
        edits=(
            edit(
                "routes/bridge.py",
                "await asyncio.to_thread(sync_repository.get_item, pool, item_id)",
                "sync_repository.get_item(pool, item_id)",
            ),
        ),
        proofs=(
            f"{PSYCOPG2_ITEMS}::test_the_bridge_waits_in_an_executor_thread_while_the_loop_keeps_serving",
        ),
    ),
    Mutant(
        id="negative-control-bridged",
        needs=frozenset({PSYCOPG2}),
        row="a database driver call in `async def`",
        description="the test-only route fixed with `to_thread` (the proof must see the "
        "stall, not pass regardless)",
        edits=(
            Edit(
                PSYCOPG2_ITEMS,
                "return found(sync_repository.get_item(pool, item_id))",
                "return found(await asyncio.to_thread(sync_repository.get_item, pool, item_id))",
            ),
        ),
        proofs=(
            f"{PSYCOPG2_ITEMS}::test_psycopg2_inside_async_def_stalls_the_loop_and_only_the_heartbeat_sees_it",
        ),
    ),
    Mutant(
        id="autocommit-off",
        needs=frozenset({PSYCOPG2}),
        row="one-statement reads and writes",
        description="autocommit off (psycopg2's default)",
        # Both switches go: left half-done, the reset would raise inside the open transaction
        # and error every bake's fixtures instead of failing the proof.
        edits=(
            edit("items/sync_repository.py", "conn.autocommit = True", "pass"),
            edit("items/sync_repository.py", "conn.autocommit = False", "pass"),
        ),
        proofs=(
            f"{ITEMS}::test_each_item_statement_is_its_own_transaction_with_no_begin_round_trip",
        ),
    ),
    Mutant(
        id="price-as-float",
        needs=frozenset(),
        row="one resource, one set of models",
        description="money serialised as a float",
        edits=(edit("items/schemas.py", 'return f"{value:.2f}"', "return str(float(value))"),),
        proofs=("tests/test_items.py::test_prices_come_back_as_strings_with_two_decimals",),
    ),
    Mutant(
        id="file-route-as-async",
        needs=frozenset({FILES}),
        row="file I/O with `open()`",
        description="the file routes written as `async def`",
        edits=(
            edit("routes/files.py", "def list_files(", "async def list_files("),
            edit("routes/files.py", "def download_file(", "async def download_file("),
        ),
        proofs=(
            "tests/files/test_files.py::test_large_file_transfers_in_def_routes_keep_the_loop_free",
        ),
    ),
    Mutant(
        id="resolved-path-check-dropped",
        needs=frozenset({FILES}),
        row="a file name from a client",
        description="the resolved-path check dropped",
        edits=(edit("files/store.py", "if path.resolve() != path:", "if False:"),),
        proofs=(
            "tests/files/test_files.py::test_symlinks_inside_files_dir_are_refused_not_followed",
        ),
    ),
    Mutant(
        id="readiness-always-ready",
        needs=frozenset(),
        row="readiness of every pool",
        description="readiness that answers 200 whatever its checks say",
        edits=(
            edit(
                "routes/health.py",
                "if all(result in {OK, BUSY} for result in results.values()):",
                "if True:",
            ),
        ),
        proofs=(
            "tests/test_health.py::"
            "test_readiness_fails_while_database_is_down_and_recovers_without_restart",
        ),
    ),
    Mutant(
        id="sync-pool-raises-when-empty",
        needs=frozenset({PSYCOPG2}),
        row="queries with a sync driver",
        description="a pool that fails at once when empty",
        edits=(
            edit(
                "db/psycopg2_pool.py",
                "remaining = deadline - time.monotonic()",
                "remaining = 0.0",
            ),
        ),
        proofs=(
            f"{PSYCOPG2_ITEMS}::test_psycopg2s_own_pool_raises_when_empty_where_ours_waits_up_to_a_timeout",
        ),
    ),
    Mutant(
        id="no-command-timeout",
        needs=frozenset({ASYNCPG}),
        row="a busy pool or a hung statement",
        description="asyncpg's `command_timeout` left out",
        edits=(
            edit("db/asyncpg_pool.py", "command_timeout=settings.asyncpg_command_timeout,", ""),
        ),
        proofs=(
            f"{ITEMS}::test_a_statement_past_its_timeout_answers_503_instead_of_hanging"
            "[/async/items]",
        ),
    ),
    Mutant(
        id="no-statement-timeout",
        needs=frozenset({PSYCOPG2}),
        row="a busy pool or a hung statement",
        description="psycopg2's statement timeout left out",
        edits=(
            edit(
                "db/psycopg2_pool.py",
                "        statement_timeout=settings.psycopg2_statement_timeout,\n",
                "",
            ),
        ),
        proofs=(
            f"{ITEMS}::test_a_statement_past_its_timeout_answers_503_instead_of_hanging"
            "[/sync/items]",
        ),
    ),
    Mutant(
        id="released-only-on-success",
        needs=frozenset({ASYNCPG}),
        row="connections on error paths",
        description="an asyncpg connection released only on success",
        edits=(
            edit(
                "items/async_repository.py",
                "        try:\n"
                "            yield conn\n"
                "        finally:\n"
                "            await pool.release(conn)\n",
                "        yield conn\n        await pool.release(conn)\n",
            ),
        ),
        proofs=(
            f"{ITEMS}::test_connections_go_back_to_the_pool_after_404s_and_cancelled_requests"
            "[/async/items]",
        ),
    ),
    Mutant(
        id="pool-closes-above-minimum",
        needs=frozenset({PSYCOPG2}),
        row="psycopg2 pool sizing",
        description="connections closed on return instead of kept",
        edits=(
            edit(
                "db/psycopg2_pool.py",
                "keep = not conn.closed and not self._closing",
                "keep = False and not self._closing",
            ),
        ),
        proofs=(
            f"{PSYCOPG2_ITEMS}::test_the_psycopg2_pool_keeps_connections_opened_above_its_minimum",
        ),
    ),
    Mutant(
        id="no-503-handler",
        needs=frozenset(),
        row="the database is down",
        description="the 503 handler left out (a 500)",
        edits=(
            edit(
                "errors.py",
                "app.add_exception_handler(ServiceError, service_error_handler)",
                "pass",
            ),
        ),
        proofs=(
            "tests/test_items.py::"
            "test_data_routes_answer_503_json_while_the_database_is_down_and_recover",
        ),
    ),
    Mutant(
        id="fanout-one-after-another",
        needs=frozenset({OUTBOUND}),
        row="many outbound HTTP calls at once",
        description="the calls awaited one after another",
        edits=(
            edit(
                "routes/fanout.py",
                "            tasks = [\n"
                "                group.create_task(call_upstream(upstream.client, url, settings))"
                " for _ in range(n)\n"
                "            ]",
                "            tasks = []\n"
                "            for _ in range(n):\n"
                "                tasks.append("
                "group.create_task(call_upstream(upstream.client, url, settings)))\n"
                "                await tasks[-1]",
            ),
        ),
        proofs=(f"{FANOUT}::test_fanout_calls_overlap_at_the_stub_and_return_every_result",),
    ),
    Mutant(
        id="client-per-request",
        needs=frozenset({OUTBOUND}),
        row="an HTTP client",
        description="a client built per request",
        edits=(
            edit(
                "dependencies.py",
                "from .outbound.client import Upstream\n",
                "from .outbound.client import Upstream, build_http_client\n",
            ),
            edit(
                "dependencies.py",
                "    return resources_of(request).upstream\n",
                "    resources = resources_of(request)\n"
                "    client = build_http_client(resources.settings)\n"
                "    return Upstream(resources.upstream.url, client)\n",
            ),
        ),
        proofs=(f"{FANOUT}::test_one_shared_client_reuses_its_connections_across_requests",),
    ),
    Mutant(
        id="limits-on-the-client",
        needs=frozenset({OUTBOUND}),
        row="bounding outbound connections",
        description="limits given to the client instead of the transport",
        edits=(
            edit("outbound/client.py", "UpstreamTransport(limits=limits)", "UpstreamTransport()"),
            edit(
                "outbound/client.py",
                "        transport=transport,\n",
                "        transport=transport,\n        limits=limits,\n",
            ),
        ),
        proofs=(f"{FANOUT}::test_the_call_beyond_the_pool_limit_waits_for_a_connection",),
    ),
    Mutant(
        id="no-read-timeout",
        needs=frozenset({OUTBOUND}),
        row="an upstream that is slow, down or failing",
        description="no read timeout",
        edits=(edit("outbound/client.py", "read=settings.http_read_timeout,", "read=None,"),),
        proofs=(f"{FANOUT}::test_an_upstream_slower_than_the_read_timeout_is_a_504",),
    ),
    Mutant(
        id="upload-read-whole",
        needs=frozenset({FILES}),
        row="a large upload",
        description="the upload read whole into memory",
        edits=(
            edit(
                "routes/files.py",
                "        async for chunk in request.stream():\n",
                "        for chunk in [await request.body()]:\n",
            ),
        ),
        proofs=(f"{FILE_TESTS}::test_an_upload_streams_to_disk_without_buffering_the_body",),
    ),
    Mutant(
        id="download-read-whole",
        needs=frozenset({FILES}),
        row="a large download",
        description="the file read whole into memory",
        edits=(edit("routes/files.py", "read_chunks(file),", "iter([file.read()]),"),),
        proofs=(f"{FILE_TESTS}::test_a_download_streams_in_chunks_without_loading_the_file",),
    ),
    Mutant(
        id="download-chunks-widened",
        needs=frozenset({FILES}),
        row="a large download",
        description="reads of 64 MiB instead of 64 KiB",
        edits=(
            edit("files/store.py", "CHUNK_SIZE = 64 * 1024\n", "CHUNK_SIZE = 64 * 1024 * 1024\n"),
        ),
        proofs=(f"{FILE_TESTS}::test_a_download_streams_in_chunks_without_loading_the_file",),
    ),
    Mutant(
        id="pool-dependency-as-def",
        needs=frozenset({LESSONS, ASYNCPG}),
        row="a dependency that only reads state or awaits",
        description="`get_asyncpg_pool` written as `def`",
        edits=(
            edit(
                "dependencies.py",
                "async def get_asyncpg_pool(request: Request) -> AsyncpgPool:",
                "def get_asyncpg_pool(request: Request) -> AsyncpgPool:",
            ),
        ),
        proofs=(f"{BEYOND}::test_async_dependencies_are_served_while_every_thread_token_is_held",),
    ),
    Mutant(
        id="token-check-as-def",
        needs=frozenset(),
        row="a check every write makes that only reads a header (the bearer token)",
        description="`require_token` written as `def`",
        edits=(
            edit(
                "auth/tokens.py",
                "async def require_token(request: Request, credentials: Credentials) -> None:",
                "def require_token(request: Request, credentials: Credentials) -> None:",
            ),
        ),
        proofs=(f"{AUTH}::test_the_token_check_answers_while_every_thread_token_is_held",),
    ),
    Mutant(
        id="any-token-accepted",
        needs=frozenset(),
        row="a secret a client presents (`API_TOKENS`)",
        description="any token accepted",
        edits=(
            edit(
                "auth/tokens.py",
                "    if not matches(credentials.credentials, digests):\n",
                "    if False:\n",
            ),
        ),
        proofs=(
            f"{AUTH}::test_a_write_with_a_wrong_token_is_refused_and_changes_nothing",
            f"{FILE_AUTH}::test_a_file_write_without_a_valid_token_is_refused_and_changes_nothing",
        ),
    ),
    Mutant(
        id="missing-token-let-through",
        needs=frozenset(),
        row="a secret a client presents (`API_TOKENS`)",
        description="a request without a token let through",
        edits=(
            edit(
                "auth/tokens.py",
                "    if credentials is None:\n        raise MissingToken(",
                "    if credentials is None:\n        return\n        raise MissingToken(",
            ),
        ),
        proofs=(
            f"{AUTH}::test_a_write_without_a_token_is_refused_and_changes_nothing",
            f"{FILE_AUTH}::test_a_file_write_without_a_valid_token_is_refused_and_changes_nothing",
        ),
    ),
    Mutant(
        id="async-dependency-sleeps",
        needs=frozenset({LESSONS}),
        row="a dependency that only reads state or awaits",
        description="`time.sleep` in the `async def` dependency",
        edits=(
            edit(
                "lessons/dependencies.py",
                "    await asyncio.sleep(delay)\n    yield Opened(",
                "    time.sleep(delay)\n    yield Opened(",
            ),
        ),
        proofs=(f"{BEYOND}::test_an_async_dependency_waits_on_the_loop_without_threads",),
    ),
    Mutant(
        id="blocking-dependency-as-async",
        needs=frozenset({LESSONS}),
        row="a dependency that calls a blocking library (a `yield` one opens and closes)",
        description="the blocking dependency written as `async def`",
        edits=(
            edit(
                "lessons/dependencies.py",
                "def open_blocking_connection(delay: Delay) -> Iterator[Opened]:",
                "async def open_blocking_connection(delay: Delay) -> Iterator[Opened]:",
            ),
        ),
        proofs=(f"{BEYOND}::test_a_def_dependency_holds_a_thread_token_under_an_async_route",),
    ),
    Mutant(
        id="wrong-dependency-fixed",
        needs=frozenset({LESSONS}),
        row="a blocking call in an `async def` dependency, setup or teardown",
        description="the wrong dependency made `def` (the proofs must see the harm)",
        edits=(
            edit(
                "lessons/antipatterns.py",
                "async def open_blocking_connection_on_the_loop(",
                "def open_blocking_connection_on_the_loop(",
            ),
        ),
        proofs=(
            f"{BEYOND}::test_blockbuster_catches_a_blocking_async_dependency",
            f"{BEYOND}::test_a_blocking_async_dependency_stalls_the_loop_at_setup_and_teardown",
        ),
    ),
    Mutant(
        id="blocking-task-as-async",
        needs=frozenset({LESSONS}),
        row="blocking work after the response (a sync mail or SDK client)",
        description="the blocking task written as `async def`",
        edits=(
            edit(
                "lessons/background.py",
                "def send_receipt_blocking(delay: float) -> None:",
                "async def send_receipt_blocking(delay: float) -> None:",
            ),
        ),
        proofs=(
            f"{BEYOND}::test_a_def_background_task_runs_in_a_worker_thread_after_the_response",
        ),
    ),
    Mutant(
        id="async-task-sleeps",
        needs=frozenset({LESSONS}),
        row="awaiting work after the response",
        description="`time.sleep` in the `async def` task",
        edits=(
            edit(
                "lessons/background.py",
                "    await asyncio.sleep(delay)",
                "    time.sleep(delay)",
            ),
        ),
        proofs=(f"{BEYOND}::test_an_async_background_task_runs_on_the_loop_after_the_response",),
    ),
    Mutant(
        id="wrong-task-fixed",
        needs=frozenset({LESSONS}),
        row="a blocking call in an `async def` background task",
        description="the wrong task made `def` (the proofs must see the harm)",
        edits=(
            edit(
                "lessons/antipatterns.py",
                "async def send_receipt_on_the_loop(",
                "def send_receipt_on_the_loop(",
            ),
        ),
        proofs=(
            f"{BEYOND}::test_blockbuster_catches_a_blocking_async_background_task",
            f"{BEYOND}::"
            "test_a_blocking_async_background_task_stalls_the_worker_after_the_client_has_its_answer",
        ),
    ),
    Mutant(
        id="sync-stream-as-async",
        needs=frozenset({LESSONS}),
        row="streaming from a blocking source (a file, a sync cursor)",
        description="the blocking iterator written as an async generator",
        edits=(
            edit(
                "lessons/streaming.py",
                "def blocking_chunks(chunks: int, delay: float) -> Iterator[str]:",
                "async def blocking_chunks(chunks: int, delay: float) -> Iterator[str]:",
            ),
        ),
        proofs=(f"{BEYOND}::test_a_sync_stream_is_advanced_in_worker_threads_a_token_per_chunk",),
    ),
    Mutant(
        id="async-stream-sleeps",
        needs=frozenset({LESSONS}),
        row="streaming from an awaitable source",
        description="`time.sleep` in the async generator",
        edits=(
            edit(
                "lessons/streaming.py",
                "        await asyncio.sleep(delay)",
                "        time.sleep(delay)",
            ),
        ),
        proofs=(f"{BEYOND}::test_an_async_stream_runs_on_the_loop_without_threads",),
    ),
    Mutant(
        id="wrong-stream-fixed",
        needs=frozenset({LESSONS}),
        row="a blocking call in an async generator",
        description="the wrong generator made a sync iterator (the proofs must see the harm)",
        edits=(
            edit(
                "lessons/antipatterns.py",
                "async def blocking_chunks_on_the_loop(",
                "def blocking_chunks_on_the_loop(",
            ),
        ),
        proofs=(
            f"{BEYOND}::test_blockbuster_catches_a_blocking_async_stream",
            f"{BEYOND}::test_a_blocking_async_stream_stalls_the_loop_at_every_chunk",
        ),
    ),
    Mutant(
        id="disconnect-not-watched",
        needs=frozenset({LESSONS}),
        row="work a client may abandon",
        description="the disconnect watcher left out",
        edits=(
            edit(
                "lessons/disconnect.py",
                "        group.start_soon("
                "cancel_when_the_client_leaves, request, group.cancel_scope)\n",
                "",
            ),
        ),
        proofs=(f"{BEYOND}::test_a_client_that_leaves_cancels_streams_and_watching_routes_only",),
    ),
    Mutant(
        id="start-up-blocks-the-loop",
        needs=frozenset({LESSONS}),
        row="a blocking step at start-up (connects, the CA bundle, starting processes)",
        description="the CPU process pool started on the loop",
        edits=(
            edit(
                "lessons/router.py",
                "cpu_pool = await asyncio.to_thread(CpuPool, settings)",
                "cpu_pool = CpuPool(settings)",
            ),
        ),
        proofs=(f"{BEYOND}::test_start_up_opens_its_blocking_resources_off_the_loop",),
    ),
    Mutant(
        id="connection-wait-in-a-thread",
        needs=frozenset({PSYCOPG2}),
        row="queries with a sync driver",
        description="the wait for a connection left to the `def` route's thread",
        edits=(
            edit(
                "routes/sync_items.py",
                "    dependencies=[WAIT_FOR_A_PSYCOPG2_CONNECTION],",
                "    dependencies=[],",
            ),
        ),
        proofs=(
            f"{PSYCOPG2_ITEMS}::"
            "test_psycopg2_requests_beyond_the_pool_wait_on_the_loop_without_a_thread_token",
        ),
    ),
    Mutant(
        id="upload-writes-on-the-loop",
        needs=frozenset({FILES}),
        row="a large upload",
        description="each write made on the loop",
        edits=(
            edit(
                "routes/files.py",
                "await anyio.to_thread.run_sync(upload.write, chunk)",
                "upload.write(chunk)",
            ),
        ),
        proofs=(
            "tests/files/test_thread_budget.py::"
            "test_slow_uploaders_beyond_the_thread_tokens_leave_the_def_routes_answering",
        ),
    ),
    Mutant(
        id="no-call-deadline",
        needs=frozenset({OUTBOUND}),
        row="an upstream that trickles or never stops sending",
        description="no deadline per call",
        edits=(
            edit(
                "outbound/calls.py",
                "asyncio.timeout(settings.http_call_timeout)",
                "asyncio.timeout(None)",
            ),
        ),
        proofs=(f"{FANOUT}::test_a_trickling_upstream_is_cut_off_at_the_call_timeout_with_a_504",),
    ),
    Mutant(
        id="no-fanout-deadline",
        needs=frozenset({OUTBOUND}),
        row="an upstream that trickles or never stops sending",
        description="no deadline per fan-out",
        edits=(
            edit(
                "routes/fanout.py",
                "asyncio.timeout(settings.http_fanout_timeout)",
                "asyncio.timeout(None)",
            ),
        ),
        proofs=(f"{FANOUT}::test_the_whole_fanout_is_cut_off_at_the_fanout_timeout_with_a_504",),
    ),
    Mutant(
        id="json-body-uncapped",
        # Every bake has the item routes of one driver at least, and the proofs run for each.
        needs=frozenset(),
        row="a JSON body from a client",
        description="the item routers without a cap",
        edits=(
            edit("app.py", "json_body_cap = settings.max_json_body_bytes", "json_body_cap = None"),
        ),
        proofs=(
            f"{BODIES}::test_a_declared_body_over_the_cap_is_refused_as_json_before_a_byte_is_read",
            f"{BODIES}::test_a_chunked_body_is_cut_at_the_cap_with_413_json_and_nothing_written",
            f"{BODIES}::test_a_300_mb_body_is_refused_before_it_is_sent_without_growing_the_process",
        ),
    ),
    Mutant(
        id="header-block-uncapped",
        # serve() and the proofs are in every bake.
        needs=frozenset(),
        row="a header block that never ends",
        description="uvicorn's default parser (httptools)",
        edits=(edit("__main__.py", '        http="h11",\n', ""),),
        proofs=(
            f"{HOSTILE}::test_a_thousand_one_mebibyte_header_blocks_are_refused_at_the_cap_and_never_held",
            f"{HOSTILE}::test_a_header_block_growing_past_server_max_header_bytes_gets_400",
        ),
    ),
    Mutant(
        id="keep-alive-timeout-unset",
        needs=frozenset(),
        row="a connection left idle after its response",
        description="uvicorn's own keep-alive timeout (5 s) instead of the setting",
        edits=(
            edit(
                "__main__.py",
                "        timeout_keep_alive=cast(int, settings.server_keep_alive_timeout),\n",
                "",
            ),
        ),
        proofs=(
            f"{HOSTILE}::test_five_thousand_idle_keep_alive_connections_are_closed_after_the_keep_alive_timeout",
            f"{HOSTILE}::test_a_thousand_declared_ten_gibibyte_bodies_never_sent_are_refused_and_closed",
        ),
    ),
    Mutant(
        id="open-file-limit-left-low",
        needs=frozenset(),
        row="many connections opening at once",
        description="the open-file limit left as the host set it",
        edits=(
            edit(
                "__main__.py",
                "open_files = raise_open_file_limit()",
                "open_files = resource.getrlimit(resource.RLIMIT_NOFILE)[0]",
            ),
        ),
        proofs=(
            f"{OPEN_FILES}::test_a_service_under_a_soft_limit_of_1024_raises_it_logs_it_and_listens_with_server_backlog",
        ),
    ),
    Mutant(
        id="backlog-unset",
        needs=frozenset(),
        row="many connections opening at once",
        description="the backlog left at uvicorn's default (2048)",
        edits=(edit("__main__.py", "        backlog=settings.server_backlog,\n", ""),),
        proofs=(
            f"{OPEN_FILES}::test_a_service_under_a_soft_limit_of_1024_raises_it_logs_it_and_listens_with_server_backlog",
        ),
    ),
    Mutant(
        id="concurrency-limit-unset",
        needs=frozenset(),
        row="many connections opening at once",
        description="the concurrency limit not passed to uvicorn",
        edits=(
            edit(
                "__main__.py", "        limit_concurrency=settings.server_limit_concurrency,\n", ""
            ),
        ),
        proofs=(
            f"{OPEN_FILES}::test_past_server_limit_concurrency_even_healthz_is_refused_with_503",
        ),
    ),
    Mutant(
        id="body-read-uncapped",
        needs=frozenset({OUTBOUND}),
        row="an upstream that trickles or never stops sending",
        description="the body read uncapped",
        edits=(
            edit(
                "outbound/calls.py",
                "content = await read_capped(response, settings.http_response_max_bytes)",
                "content = await response.aread()",
            ),
        ),
        proofs=(
            f"{FANOUT}::test_an_endless_upstream_body_is_cut_off_at_the_size_cap_with_a_502",
            f"{FANOUT}::test_a_declared_oversize_upstream_body_is_refused_before_it_is_read",
        ),
    ),
    Mutant(
        id="broken-pool-kept",
        needs=frozenset({LESSONS}),
        row="a CPU worker process that dies (OOM killer, segfault)",
        description="the broken pool kept",
        edits=(edit("lessons/process_pool.py", "await asyncio.to_thread(self._replace)", "pass"),),
        proofs=(
            "tests/lessons/test_cpu_pool.py::"
            "test_a_killed_cpu_worker_costs_one_503_and_a_new_pool_serves_the_next_requests",
        ),
    ),
    Mutant(
        id="limit-inside-the-thread",
        needs=frozenset({LESSONS}),
        row="a resource with few places, used from `def` routes",
        description="`max_concurrency` left out",
        edits=(
            edit(
                "lessons/waiting.py",
                'Depends(use_the_scarce_resource, max_concurrency=SCARCE_PLACES, scope="function")',
                'Depends(use_the_scarce_resource, scope="function")',
            ),
        ),
        proofs=(
            f"{WAITING}::"
            "test_depends_max_concurrency_queues_requests_on_the_loop_without_thread_tokens",
        ),
    ),
    Mutant(
        id="scarce-places-widened",
        needs=frozenset({LESSONS}),
        row="a resource with few places, used from `def` routes",
        description="three places where the resource has two",
        edits=(edit("lessons/waiting.py", "SCARCE_PLACES = 2\n", "SCARCE_PLACES = 3\n"),),
        proofs=(
            f"{WAITING}::"
            "test_depends_max_concurrency_queues_requests_on_the_loop_without_thread_tokens",
        ),
    ),
    Mutant(
        id="no-free-space-margin",
        needs=frozenset({FILES}),
        row="a full disk",
        description="no free-space margin (the disk fills up)",
        edits=(
            edit(
                "files/store.py",
                "if free - incoming < self.min_free_bytes:",
                "if free - incoming < 0:",
            ),
        ),
        proofs=(
            "tests/files/test_file_space.py::"
            "test_uploads_are_refused_with_507_while_the_volume_keeps_its_margin",
            "tests/files/test_file_space.py::test_a_margin_above_the_free_space_refuses_every_upload_with_507",
        ),
    ),
    Mutant(
        id="run-in-executor-without-context",
        needs=frozenset({LESSONS}),
        row="a log line a request causes, from any thread or process",
        description="`run_in_executor` without `copy_context().run`",
        edits=(
            edit(
                "lessons/request_id.py",
                "None, contextvars.copy_context().run, log_from,",
                "None, log_from,",
            ),
        ),
        proofs=(f"{REQUEST_ID}::test_every_place_a_request_runs_logs_its_request_id",),
    ),
    Mutant(
        id="request-id-not-passed-to-process",
        needs=frozenset({LESSONS}),
        row="a log line a request causes, from any thread or process",
        description="the id not passed to the process pool",
        edits=(
            edit(
                "lessons/request_id.py",
                "            current_request_id(),\n",
                "            None,\n",
            ),
        ),
        proofs=(f"{REQUEST_ID}::test_every_place_a_request_runs_logs_its_request_id",),
    ),
    Mutant(
        id="run-in-executor-loses-the-trace",
        needs=frozenset({LESSONS}),
        row="a span a request causes, from any thread or process",
        description="`run_in_executor` without `copy_context().run`",
        edits=(
            edit(
                "lessons/request_id.py",
                "None, contextvars.copy_context().run, log_from,",
                "None, log_from,",
            ),
        ),
        proofs=(
            "tests/lessons/test_tracing.py::test_one_request_through_every_boundary_is_one_trace",
        ),
    ),
    Mutant(
        id="trace-context-not-passed-to-process",
        needs=frozenset({LESSONS}),
        row="a span a request causes, from any thread or process",
        description="the trace context (`traceparent`) not passed to the process pool",
        edits=(
            edit("lessons/request_id.py", "            trace_carrier(),\n", "            {},\n"),
        ),
        proofs=(
            "tests/lessons/test_tracing.py::test_one_request_through_every_boundary_is_one_trace",
        ),
    ),
    Mutant(
        id="asyncpg-statements-untraced",
        needs=frozenset({ASYNCPG}),
        row="a request's trace, and a span per statement",
        description="asyncpg's instrumentation not switched on",
        edits=(
            edit(
                "db/asyncpg_pool.py",
                "    instrumentor.instrument(tracer_provider=tracer_provider)\n",
                "    pass\n",
            ),
        ),
        proofs=(
            f"{TRACING}::test_a_read_continues_the_callers_trace_with_a_child_span_per_statement",
        ),
    ),
    Mutant(
        id="psycopg2-statements-untraced",
        needs=frozenset({PSYCOPG2}),
        row="a request's trace, and a span per statement",
        description="psycopg2's connections left uninstrumented",
        edits=(
            edit(
                "db/psycopg2_pool.py",
                "Psycopg2Instrumentor.instrument_connection(conn, self._tracer_provider)",
                "None",
            ),
        ),
        proofs=(
            f"{TRACING}::test_a_read_continues_the_callers_trace_with_a_child_span_per_statement",
        ),
    ),
    Mutant(
        id="probe-statements-traced",
        needs=frozenset(),
        row="probes and scrapes, traced",
        description="the probes' statements traced, each a trace of its own",
        edits=(edit("app.py", "        app.add_middleware(UntracedPaths)\n", "        pass\n"),),
        proofs=(f"{TRACING}::test_probes_make_no_traces_and_no_statement_is_a_trace_of_its_own",),
    ),
    Mutant(
        id="outbound-call-without-traceparent",
        needs=frozenset({OUTBOUND}),
        row="an outbound call in a traced request",
        description="the shared client without the tracing transport (no span, no `traceparent`)",
        edits=(
            edit(
                "outbound/client.py",
                "        transport = AsyncOpenTelemetryTransportHttpx2(\n",
                "        transport = transport or AsyncOpenTelemetryTransportHttpx2(\n",
            ),
        ),
        proofs=(
            "tests/outbound/test_tracing.py::"
            "test_every_call_of_a_fanout_is_a_span_of_the_request_and_carries_its_traceparent",
        ),
    ),
    Mutant(
        id="connect-unbounded",
        needs=frozenset({PSYCOPG2}),
        row="waiting for a psycopg2 connection, connecting included",
        description="a connect the acquire timeout does not bound",
        edits=(
            edit(
                "db/psycopg2_pool.py",
                "conn = opening.result(timeout=max(0.0, deadline - time.monotonic()))",
                "conn = opening.result()",
            ),
        ),
        proofs=(
            f"{PSYCOPG2_FAULTS}::test_the_acquire_timeout_bounds_connecting_to_a_server_that_never_answers",
            f"{PSYCOPG2_FAULTS}::test_giving_a_connection_back_never_waits_for_a_connect_in_progress",
        ),
    ),
    Mutant(
        id="acquire-deadline-doubled",
        needs=frozenset({PSYCOPG2}),
        row="waiting for a psycopg2 connection, connecting included",
        description="a wait twice `PSYCOPG2_ACQUIRE_TIMEOUT`",
        edits=(
            edit(
                "db/psycopg2_pool.py",
                "deadline = time.monotonic() + self._acquire_timeout",
                "deadline = time.monotonic() + 2 * self._acquire_timeout",
            ),
        ),
        proofs=(
            f"{PSYCOPG2_FAULTS}::test_the_acquire_timeout_bounds_connecting_to_a_server_that_never_answers",
        ),
    ),
    Mutant(
        id="connect-under-the-lock",
        needs=frozenset({PSYCOPG2}),
        row="waiting for a psycopg2 connection, connecting included",
        description="connecting under the pool's lock (as psycopg2's own pool does)",
        edits=(
            edit(
                "db/psycopg2_pool.py",
                "                        opening = self._connector.submit(self._connect)\n",
                "                        opening = Future()\n"
                "                        opening.set_result(self._connect())\n",
            ),
        ),
        proofs=(
            f"{PSYCOPG2_FAULTS}::test_the_acquire_timeout_bounds_connecting_to_a_server_that_never_answers",
            f"{PSYCOPG2_FAULTS}::test_giving_a_connection_back_never_waits_for_a_connect_in_progress",
        ),
    ),
    Mutant(
        id="busy-is-down",
        needs=frozenset({PSYCOPG2}),
        row="readiness while the pools are busy",
        description="readiness that queues for a connection (busy becomes 503)",
        edits=(edit("db/psycopg2_pool.py", "    if pool.busy:\n        return BUSY\n", ""),),
        proofs=(f"{FAULTS}::test_readiness_says_busy_not_down_while_every_connection_is_borrowed",),
    ),
    Mutant(
        id="asyncpg-busy-is-down",
        needs=frozenset({ASYNCPG}),
        row="readiness while the pools are busy",
        description="readiness that queues for a connection (busy becomes 503)",
        edits=(
            edit("db/asyncpg_pool.py", "    if asyncpg_busy(pool):\n        return BUSY\n", ""),
        ),
        proofs=(f"{FAULTS}::test_readiness_says_busy_not_down_while_every_connection_is_borrowed",),
    ),
    Mutant(
        id="recheck-window-widened",
        needs=frozenset({PSYCOPG2}),
        row="idle connections the server ended (restart, failover, `pg_terminate_backend`)",
        description="a recheck window of a minute instead of 10 ms",
        edits=(edit("db/psycopg2_pool.py", "RECHECK_AFTER = 0.01\n", "RECHECK_AFTER = 60.0\n"),),
        proofs=(f"{FAULTS}::test_idle_connections_the_server_ended_cost_no_request",),
    ),
    Mutant(
        id="psycopg2-trusts-idle-connections",
        needs=frozenset({PSYCOPG2}),
        row="idle connections the server ended (restart, failover, `pg_terminate_backend`)",
        description="psycopg2 connections handed out unchecked",
        edits=(
            edit(
                "db/psycopg2_pool.py",
                "    return not conn.closed and not socket_readable(conn.fileno())",
                "    return not conn.closed",
            ),
        ),
        proofs=(
            f"{FAULTS}::test_idle_connections_the_server_ended_cost_no_request",
            f"{FAULTS}::test_no_request_fails_once_a_restarted_server_accepts_again",
        ),
    ),
    Mutant(
        id="asyncpg-trusts-idle-connections",
        needs=frozenset({ASYNCPG}),
        row="idle connections the server ended (restart, failover, `pg_terminate_backend`)",
        description="asyncpg connections handed out unchecked",
        edits=(
            edit(
                "db/asyncpg_pool.py",
                "    return sock is not None and socket_readable(sock.fileno())",
                "    return False",
            ),
        ),
        proofs=(f"{FAULTS}::test_idle_connections_the_server_ended_cost_no_request",),
    ),
    Mutant(
        id="read-not-retried",
        needs=frozenset({ASYNCPG}),
        row="a read whose connection dies under it",
        description="no retry of a read",
        edits=(
            edit(
                "items/async_repository.py",
                "        if exc.__cause__ is None or not "
                "FAILURES.connection_broken(exc.__cause__):\n"
                "            raise",
                "        raise",
            ),
        ),
        proofs=(
            f"{ASYNCPG_FAULTS}::test_a_read_whose_connection_dies_under_it_runs_again_and_a_write_does_not",
        ),
    ),
    Mutant(
        id="write-retried",
        needs=frozenset({ASYNCPG}),
        row="a read whose connection dies under it",
        description="a write retried like a read",
        edits=(
            edit(
                "routes/async_items.py",
                "    async with repository.connection("
                "pool, settings.asyncpg_acquire_timeout) as conn:\n"
                "        item = await repository.insert_item(conn, new)",
                "    item = await repository.read(\n"
                "        pool, settings.asyncpg_acquire_timeout, "
                "lambda conn: repository.insert_item(conn, new)\n"
                "    )",
            ),
        ),
        proofs=(
            f"{ASYNCPG_FAULTS}::test_a_read_whose_connection_dies_under_it_runs_again_and_a_write_does_not",
        ),
    ),
    Mutant(
        id="no-max-lifetime",
        needs=frozenset({PSYCOPG2}),
        row="long-lived connections",
        description="no maximum lifetime",
        edits=(
            edit(
                "db/psycopg2_pool.py",
                "    if conn.expires_at <= now:\n        return False\n",
                "",
            ),
        ),
        proofs=(
            f"{PSYCOPG2_FAULTS}::test_a_psycopg2_connection_is_replaced_once_past_its_lifetime",
        ),
    ),
    Mutant(
        id="unnamed-connections",
        needs=frozenset({ASYNCPG}),
        row="long-lived connections",
        description="asyncpg's connections left unnamed",
        edits=(
            edit(
                "db/asyncpg_pool.py",
                '        server_settings={"application_name": '
                'f"{settings.database_application_name}/asyncpg"},\n',
                "",
            ),
        ),
        proofs=(f"{FAULTS}::test_every_connection_names_its_service_and_driver",),
    ),
    Mutant(
        id="shutdown-waits-for-statements",
        needs=frozenset({PSYCOPG2}),
        row="shutdown while psycopg2 statements run",
        description="no cancel after the grace",
        edits=(
            edit(
                "db/psycopg2_pool.py",
                "                with suppress(psycopg2.Error):\n                    conn.cancel()",
                "                pass",
            ),
        ),
        proofs=(
            f"{PSYCOPG2_FAULTS}::test_closing_the_psycopg2_pool_cancels_what_still_runs_after_the_grace",
        ),
    ),
    Mutant(
        id="schema-errors-are-bugs",
        needs=frozenset(),
        row="a database without this release's schema",
        description="undefined tables treated as bugs (a 500)",
        edits=(edit("db/failures.py", "                or code in SCHEMA_BEHIND_SQLSTATES\n", ""),),
        proofs=(
            f"{FAULTS}::test_an_unmigrated_database_is_not_ready_and_data_routes_answer_503_json",
        ),
    ),
    Mutant(
        id="statement-cache-on",
        needs=frozenset({ASYNCPG}),
        row="PgBouncer in transaction mode",
        description="asyncpg's statement cache left on",
        edits=(
            edit(
                "db/asyncpg_pool.py",
                "        statement_cache_size=settings.asyncpg_statement_cache_size,\n",
                "",
            ),
        ),
        proofs=(
            f"{BOUNCER}::test_every_driver_serves_items_through_pgbouncer_in_transaction_mode",
        ),
    ),
    Mutant(
        id="lost-statements-are-bugs",
        needs=frozenset({ASYNCPG}),
        row="asyncpg's statement cache left on behind PgBouncer",
        description="lost prepared statements treated as bugs (a 500)",
        edits=(
            edit(
                "db/failures.py",
                "                or code in SCHEMA_BEHIND_SQLSTATES\n"
                "                or self.statements_lost(exc)\n",
                "                or code in SCHEMA_BEHIND_SQLSTATES\n",
            ),
        ),
        proofs=(
            f"{ASYNCPG_FAULTS}::"
            "test_asyncpg_statements_lost_behind_pgbouncer_answer_503_json_and_log_the_setting_once",
        ),
    ),
    Mutant(
        id="lost-statements-logged-per-request",
        needs=frozenset({ASYNCPG}),
        row="asyncpg's statement cache left on behind PgBouncer",
        description="the fix logged at every request",
        edits=(edit("db/failures.py", "@functools.cache\ndef log_once", "def log_once"),),
        proofs=(
            f"{ASYNCPG_FAULTS}::"
            "test_asyncpg_statements_lost_behind_pgbouncer_answer_503_json_and_log_the_setting_once",
        ),
    ),
    Mutant(
        id="session-wide-timeout",
        needs=frozenset({PSYCOPG2}),
        row="PgBouncer in transaction mode",
        description="the timeout as a session-wide `SET`",
        edits=(
            edit(
                "db/psycopg2_pool.py",
                'else f"SET LOCAL statement_timeout = {round(statement_timeout * 1000)}; "',
                'else f"SET statement_timeout = {round(statement_timeout * 1000)}; "',
            ),
        ),
        proofs=(
            f"{BOUNCER}::test_the_statement_timeout_holds_through_pgbouncer_and_leaves_nothing_behind"
            "[/sync/items]",
        ),
    ),
)
