"""Bakes for Python 3.14 and 3.15 pass on those interpreters themselves, in Debian sid.

Each version is baked from the defaults on the host, installed in the sid root filesystem from
the bake's own lock (`uv sync --locked`, as its CI and image do), checked by its own ruff, ruff
format and strict mypy (whose target versions follow the option), and its suite runs against
the host's PostgreSQL with every proof included: PgBouncer's, promtool's and the small volume's
must pass there, and no test may skip. DeprecationWarning raised by the service's own modules is
an error in every process the suite starts (PYTHONWARNINGS); in the pytest process itself every
warning is one already (the bake's filterwarnings).

On each version the anti-pattern's proofs then fail on their mutant, blockbuster's because it
ran and found nothing to catch ("DID NOT RAISE"), not because it could not patch the
interpreter: its forbiddenfruit dependency has no 3.15 release on PyPI.

All of it is one test, each version's checks in a thread of their own and each check a
subtest: one xdist worker bakes and installs each version once, and the two suites, which
mostly wait, run side by side.
"""

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from cookiecutter.main import cookiecutter

from . import sid
from .bakes import TEMPLATE_DIR
from .conftest import SERVER_URL
from .mutants import MUTANTS
from .shell import failure_excerpt
from .test_generated_suite import GENERATED_SUITE, PGBOUNCER_PROOF
from .test_mutants import bake_only

# Proofs that skip, rather than fail, where their tool is missing: each must have passed.
TOOL_PROOFS = (
    PGBOUNCER_PROOF,
    "PASSED tests/test_metrics.py::test_prometheus_linter_accepts_the_exposition",
    "PASSED tests/files/test_file_space.py::"
    "test_uploads_are_refused_with_507_while_the_volume_keeps_its_margin",
)
ANTI_PATTERN = next(m for m in MUTANTS if m.id == "anti-pattern-fixed")
BLOCKBUSTER_PROOF = (
    "tests/lessons/test_waiting.py::test_blockbuster_catches_time_sleep_inside_async_def"
)
# Under xdist the suite shares two cores with the rest of the template's tests.
SUITE_TIMEOUT = 1800.0


@dataclass(frozen=True)
class SidBake:
    version: str
    work: Path  # on the host; sid.WORK inside the tree
    name: str  # the project's folder in `work`

    @property
    def project(self) -> Path:
        return self.work / self.name

    @property
    def inside(self) -> str:
        return f"{sid.WORK}/{self.name}"


def check(result: subprocess.CompletedProcess[str], what: str) -> str:
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"{what} exited {result.returncode}:\n{failure_excerpt(output)}"
    return output


@pytest.fixture(scope="session")
def rootfs(tool_environment: None) -> Iterator[sid.Rootfs]:
    missing = sid.missing_tools()
    if os.geteuid() != 0:
        missing.append("root (chroot, mounts and namespaces)")
    if missing:
        reason = f"the sid interpreters need {', '.join(missing)}; .ci/run installs them"
        # CI must run them: a skip there would pass a release never tested on 3.14 or 3.15.
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(reason)
        pytest.skip(reason)
    with sid.sid_root() as tree:
        yield tree


@pytest.fixture(scope="session")
def sid_bake(rootfs: sid.Rootfs) -> Iterator[Callable[[str], SidBake]]:
    """Bake and install a version once per session (per xdist worker)."""
    made: dict[str, SidBake] = {}
    with tempfile.TemporaryDirectory(prefix="template-sid-") as scratch:

        def bake(version: str) -> SidBake:
            if version not in made:
                work = Path(scratch) / version
                work.mkdir()
                project = Path(
                    cookiecutter(
                        str(TEMPLATE_DIR),
                        no_input=True,
                        extra_context={"python_version": version},
                        output_dir=str(work),
                    )
                )
                baked = SidBake(version=version, work=work, name=project.name)
                install = ["uv", "sync", "--locked", "--quiet"]
                result = rootfs.run(
                    install, work=work, cwd=baked.inside, low_priority=True, timeout=900
                )
                check(result, f"uv sync --locked (Python {version})")
                made[version] = baked
            return made[version]

        yield bake


def failure_of(output: str, proof: str) -> str:
    """The traceback pytest printed for `proof` (its FAILURES section, up to the next)."""
    name = proof.rsplit("::", 1)[1]
    sections = re.split(r"^_{3,} (\S+) _{3,}$", output, flags=re.MULTILINE)
    tracebacks = dict(zip(sections[1::2], sections[2::2], strict=True))
    return tracebacks.get(name, "")


def package_modules(project: Path) -> list[str]:
    """Every module of the service's package, dotted (the warnings filter wants exact names)."""
    source = project / "src"
    return sorted(
        ".".join(path.relative_to(source).with_suffix("").parts).removesuffix(".__init__")
        for path in source.rglob("*.py")
    )


pytestmark = pytest.mark.sid


def check_bake(rootfs: sid.Rootfs, bake: SidBake) -> None:
    """Its interpreter, its linters and its whole suite, in the tree."""
    version = bake.version

    def run(command: list[str], what: str, **env: str) -> str:
        result = rootfs.run(
            command, work=bake.work, cwd=bake.inside, env=env, timeout=SUITE_TIMEOUT
        )
        return check(result, f"{what} (Python {version})")

    # The venv's interpreter is sid's, the one the tree was checked with when it was built.
    interpreter = run(["uv", "run", "--no-sync", "python", "-VV"], "python -VV")
    assert interpreter.startswith(f"Python {rootfs.built['pythons'][version]} "), interpreter
    run(["uv", "run", "--no-sync", "ruff", "check", "."], "ruff check")
    run(["uv", "run", "--no-sync", "ruff", "format", "--check", "."], "ruff format --check")
    run(["uv", "run", "--no-sync", "mypy"], "mypy")

    deprecations = [f"error::DeprecationWarning:{m}" for m in package_modules(bake.project)]
    assert any(module.endswith(":my_service.app") for module in deprecations), deprecations
    output = run(
        GENERATED_SUITE,
        "the generated suite",
        TEST_DATABASE_URL=SERVER_URL,
        PYTHONWARNINGS=",".join(deprecations),
    )
    assert " passed" in output
    assert "skipped" not in output
    missing = [proof for proof in TOOL_PROOFS if proof not in output]
    assert missing == [], output[-3000:]


def check_mutant(rootfs: sid.Rootfs, bake: SidBake) -> None:
    """The anti-pattern's proofs pass on a copy of the bake and fail on its mutant."""
    mutant = bake.work / f"{bake.name}-mutant"
    shutil.rmtree(mutant, ignore_errors=True)
    shutil.copytree(bake.project, mutant, ignore=bake_only(bake.project))
    for change in ANTI_PATTERN.edits:
        path = mutant / change.file
        text = path.read_text(encoding="utf-8")
        assert text.count(change.old) == 1, (change.file, change.old)
        path.write_text(text.replace(change.old, change.new), encoding="utf-8")

    def proofs(project: str) -> subprocess.CompletedProcess[str]:
        # The bake's interpreter and venv; PYTHONPATH puts the copy's package ahead of the
        # bake's editable install (as tests/test_mutants.py runs its mutants).
        python = f"{bake.inside}/.venv/bin/python"
        command = [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-n", "0", "-rf"]
        return rootfs.run(
            [*command, *ANTI_PATTERN.proofs],
            work=bake.work,
            cwd=project,
            env={"PYTHONPATH": f"{project}/src", "TEST_DATABASE_URL": SERVER_URL},
            timeout=SUITE_TIMEOUT,
        )

    check(proofs(bake.inside), f"the anti-pattern's proofs, unmutated (Python {bake.version})")
    killed = proofs(f"{sid.WORK}/{mutant.name}")
    output = killed.stdout + killed.stderr
    # 1: the proofs ran and failed; anything else means the mutant broke the run itself.
    assert killed.returncode == 1, failure_excerpt(output)
    failed = re.findall(r"^FAILED (\S+)", killed.stdout, re.MULTILINE)
    assert sorted(failed) == sorted(ANTI_PATTERN.proofs), failure_excerpt(output)
    # blockbuster was active and had nothing to catch: the failure its proof exists to show.
    traceback = failure_of(killed.stdout, BLOCKBUSTER_PROOF)
    assert re.search(r"^E\s+Failed: DID NOT RAISE BlockingError$", traceback, re.MULTILINE), (
        traceback or output[-6000:]
    )


CHECKS: dict[str, Callable[[sid.Rootfs, SidBake], None]] = {
    "interpreter, linters and the whole suite": check_bake,
    "the anti-pattern's proofs fail on their mutant": check_mutant,
}


def check_version(rootfs: sid.Rootfs, bake: SidBake) -> dict[str, Exception | None]:
    """Every check on one bake, each failure kept for its own subtest."""
    outcome: dict[str, Exception | None] = {}
    for name, step in CHECKS.items():
        try:
            step(rootfs, bake)
        except Exception as failure:  # reported, whole, by the test's subtest
            outcome[name] = failure
        else:
            outcome[name] = None
    return outcome


@pytest.mark.slow
def test_bakes_for_python_3_14_and_3_15_pass_on_those_interpreters(
    rootfs: sid.Rootfs, sid_bake: Callable[[str], SidBake], subtests: pytest.Subtests
) -> None:
    """One test, both versions at once: each is baked and installed once, and the suites
    mostly wait (sleeps, PostgreSQL, subprocesses), so side by side they hold one xdist
    worker for about the time of one. Each check of each version is a subtest."""
    # One after the other: cookiecutter changes the process's working directory.
    bakes = [sid_bake(version) for version in sid.PYTHONS]
    with ThreadPoolExecutor(max_workers=len(bakes)) as pool:
        outcomes = {bake.version: pool.submit(check_version, rootfs, bake) for bake in bakes}
    for version, outcome in outcomes.items():
        for name, failure in outcome.result().items():
            with subtests.test(f"Python {version}: {name}"):
                if failure is not None:
                    raise failure
