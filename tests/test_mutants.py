"""Every proof fails on its mutant, in every bake that has the code it proves.

Each row of the generated decision table names the smallest wrong version of the code it
forbids (tests/mutants.py). Here each mutant is applied to a copy of a bake and the row's
proofs run on it: they must fail, each of them, by failing assertions (exit status 1), not
by an error that stops the run. The same proofs pass on the unmutated copy, so it is the
mutant that kills them, not the copy. The default bake runs every mutant; the two lean bakes
(the leanest service, psycopg2 without the lessons) run each mutant that applies to them,
with the proofs they have. Every bake's decision table holds exactly the rows of the mutants
that apply to it.
"""

import json
import os
import re
import select
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import SERVER_URL
from .mutants import MUTANTS, Mutant, parts_of
from .parts import LEAN_VARIANTS, PART_VARIANTS
from .test_generated_suite import SUITE_TIMEOUT

BAKES = {"default": {}, **PART_VARIANTS}

LINKED_TEST = re.compile(r"`(tests/[\w/]+\.py::test_\w+)`")
WARM_PYTEST = Path(__file__).with_name("warm_pytest.py")
LOCAL_STATE = {".venv", ".pgdata", "__pycache__", ".pytest_cache"}


def bake_only(root: Path) -> Callable[[str, list[str]], set[str]]:
    """copytree's ignore: local state anywhere, and FILES_DIR's default at the root only
    (src/<package>/files/ and tests/files/ are code)."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = LOCAL_STATE & set(names)
        if Path(directory) == root and "files" in names:
            ignored.add("files")
        return ignored

    return ignore


def decision_table(project: Path) -> list[list[str]]:
    """The decision table's rows, as lists of cells (the header excluded)."""
    text = (project / "docs" / "concurrency.md").read_text(encoding="utf-8")
    section = text.split("## Decision table", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[1:]]


@pytest.fixture
def bake_of(default_bake: Path, variant_bake: Callable[[str], Path]) -> Callable[[str], Path]:
    return lambda name: default_bake if name == "default" else variant_bake(name)


@pytest.mark.parametrize("bake", BAKES)
def test_every_decision_table_row_names_a_mutant_that_its_proofs_kill(
    bake_of: Callable[[str], Path], bake: str
) -> None:
    project = bake_of(bake)
    applying = [m for m in MUTANTS if m.applies_to(parts_of(BAKES[bake]))]
    rows = {cells[0]: cells for cells in decision_table(project)}
    # Exactly the rows whose code is in this bake, each with a mutant of its own.
    assert sorted(rows) == sorted({m.row for m in applying})
    for key, cells in rows.items():
        linked = set(LINKED_TEST.findall(cells[-2]))
        for mutant in (m for m in applying if m.row == key):
            assert mutant.description in cells[-1], (key, mutant.id)
            proofs = {p.split("[")[0] for p in mutant.proofs_in(project)}
            assert proofs, (key, mutant.id, "no proof of it in this bake")
            assert proofs - linked == set(), (key, mutant.id)
        described = {m.description for m in applying if m.row == key}
        for mutant in (m for m in MUTANTS if m.row == key and m not in applying):
            if mutant.description not in described:  # two drivers may share one description
                assert mutant.description not in cells[-1], (key, mutant.id)
        # Every proof the row links exists in this bake.
        assert {link for link in linked if not (project / link.split("::")[0]).is_file()} == set()


def test_mutant_ids_are_unique() -> None:
    ids = [m.id for m in MUTANTS]
    assert len(ids) == len(set(ids))


def runs(bakes: tuple[str, ...]) -> list[tuple[str, Mutant]]:
    """(bake, mutant) for every mutant that applies to each of `bakes`."""
    return [
        (bake, mutant)
        for bake in bakes
        for mutant in MUTANTS
        if mutant.applies_to(parts_of(BAKES[bake]))
    ]


# The lean bakes kill their mutants again besides the defaults.
KILLS = runs(("default", *LEAN_VARIANTS))


def run_id(run: tuple[str, Mutant]) -> str:
    bake, mutant = run
    return mutant.id if bake == "default" else f"{bake}:{mutant.id}"


@pytest.mark.parametrize("run", KILLS, ids=run_id)
def test_each_mutant_changes_exactly_one_place_per_edit(
    bake_of: Callable[[str], Path], run: tuple[str, Mutant]
) -> None:
    bake, mutant = run
    for change in mutant.edits:
        text = (bake_of(bake) / change.file).read_text(encoding="utf-8")
        assert text.count(change.old) == 1, (change.file, change.old)


def test_the_default_bake_runs_every_mutant() -> None:
    assert [m for m in MUTANTS if not m.applies_to(parts_of({}))] == []


@pytest.fixture
def copy_of(bake_of: Callable[[str], Path], tmp_path: Path) -> Callable[[str], Path]:
    def copy(bake: str) -> Path:
        target = tmp_path / "project"
        shutil.copytree(bake_of(bake), target, ignore=bake_only(bake_of(bake)))
        return target

    return copy


@dataclass
class ProofRun:
    returncode: int
    output: str


class PytestServer:
    """One tests/warm_pytest.py process, and the lines it has sent and not yet been read."""

    def __init__(self, python: Path) -> None:
        self.process = subprocess.Popen(
            [str(python), str(WARM_PYTEST)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self.unread = b""
        assert self.answer(120) == {"ready": True}

    def send(self, request: dict[str, object]) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(json.dumps(request).encode() + b"\n")
        self.process.stdin.flush()

    def answer(self, timeout: float) -> dict[str, int]:
        """The next line, within `timeout` seconds (read unbuffered, so none waits unseen)."""
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        deadline = time.monotonic() + timeout
        while b"\n" not in self.unread:
            ready, _, _ = select.select([descriptor], [], [], max(0, deadline - time.monotonic()))
            if not ready:
                raise TimeoutError(f"no answer from the pytest server in {timeout} s")
            chunk = os.read(descriptor, 4096)
            assert chunk, f"the pytest server ended (status {self.process.wait()})"
            self.unread += chunk
        line, self.unread = self.unread.split(b"\n", 1)
        answer: dict[str, int] = json.loads(line)
        return answer

    def close(self) -> None:
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(60)


class WarmPytest:
    """A pytest server per bake's interpreter, started at its first run.

    Each run is a child forked from a process that has imported the bake's libraries but not
    its package, so it pays for importing only the copy it runs on.
    """

    def __init__(self, scratch: Path) -> None:
        self.scratch = scratch
        self.servers: dict[Path, PytestServer] = {}
        self.runs = 0

    def run(
        self, python: Path, cwd: Path, env: dict[str, str], args: list[str], timeout: float
    ) -> ProofRun:
        if python not in self.servers:
            self.servers[python] = PytestServer(python)
        server = self.servers[python]
        self.runs += 1
        output = self.scratch / f"run-{self.runs}.log"
        server.send({"cwd": str(cwd), "env": env, "args": args, "output": str(output)})
        pid = server.answer(60)["pid"]
        try:
            returncode = server.answer(timeout)["returncode"]
        except TimeoutError:
            os.killpg(pid, signal.SIGKILL)  # the run and what it started; the server reaps it
            server.answer(60)
            raise
        return ProofRun(returncode, output.read_text(encoding="utf-8", errors="replace"))

    def close(self) -> None:
        for server in self.servers.values():
            server.close()


@pytest.fixture(scope="session")
def warm_pytest(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WarmPytest]:
    runner = WarmPytest(tmp_path_factory.mktemp("proof-runs"))
    yield runner
    runner.close()


def run_proofs(
    runner: WarmPytest, project: Path, venv_of: Path, proofs: list[str], timeout: float = 300
) -> ProofRun:
    """Run `proofs` on the copy `project` with the interpreter of the bake it was copied from.

    PYTHONPATH puts the copy's package ahead of the bake's editable install; the processes
    the proofs start (the served service, the CPU pool's workers) inherit it.
    """
    return runner.run(
        venv_of / ".venv" / "bin" / "python",
        project,
        {
            # VIRTUAL_ENV is gone already (conftest.py's tool_environment).
            **os.environ,
            "PYTHONPATH": str(project / "src"),
            "TEST_DATABASE_URL": SERVER_URL,
        },
        # In this process: a few proofs do not pay for the suite's worker processes.
        ["-q", "-p", "no:cacheprovider", "-n", "0", "-rf", *proofs],
        timeout,
    )


@pytest.mark.slow
@pytest.mark.parametrize("bake", ("default", *LEAN_VARIANTS))
def test_the_proofs_pass_on_the_unmutated_copy(
    bake_of: Callable[[str], Path],
    copy_of: Callable[[str], Path],
    warm_pytest: WarmPytest,
    bake: str,
) -> None:
    project = copy_of(bake)
    proofs = sorted({p for b, m in KILLS if b == bake for p in m.proofs_in(project)})
    # Every proof of the bake in one run: as long as a whole suite.
    result = run_proofs(warm_pytest, project, bake_of(bake), proofs, timeout=SUITE_TIMEOUT)
    assert result.returncode == 0, result.output[-9000:]


@pytest.mark.slow
@pytest.mark.parametrize("run", KILLS, ids=run_id)
def test_the_rows_proofs_fail_on_its_mutant(
    bake_of: Callable[[str], Path],
    copy_of: Callable[[str], Path],
    warm_pytest: WarmPytest,
    run: tuple[str, Mutant],
) -> None:
    bake, mutant = run
    project = copy_of(bake)
    for change in mutant.edits:
        path = project / change.file
        text = path.read_text(encoding="utf-8")
        assert text.count(change.old) == 1, (change.file, change.old)
        path.write_text(text.replace(change.old, change.new), encoding="utf-8")
    proofs = mutant.proofs_in(project)
    assert proofs, f"{mutant.id} has no proof in the {bake} bake"
    result = run_proofs(warm_pytest, project, bake_of(bake), list(proofs))
    output = result.output
    # 1: tests ran and failed. 2-5 (interrupted, internal error, usage, none collected) would
    # mean the mutant broke the run, not the proof's claim.
    assert result.returncode == 1, output[-6000:]
    failed = {line.split(" ")[1] for line in output.splitlines() if line.startswith("FAILED ")}
    survivors = [
        proof
        for proof in proofs
        if not any(name == proof or name.startswith(proof + "[") for name in failed)
    ]
    assert survivors == [], output[-6000:]
