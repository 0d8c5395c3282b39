"""Every proof fails on its mutant.

Each row of the generated decision table names the smallest wrong version of the code it
forbids (tests/mutants.py). Here each mutant is applied to a copy of the default bake and the
row's proofs run on it: they must fail, each of them, by failing assertions (exit status 1),
not by an error that stops the run. The same proofs pass on the unmutated copy, so it is the
mutant that kills them, not the copy.
"""

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from .conftest import SERVER_URL
from .mutants import MUTANTS, Mutant

LINKED_TEST = re.compile(r"`(tests/[\w/]+\.py::test_\w+)`")
BAKE_ONLY = shutil.ignore_patterns(".venv", ".pgdata", "__pycache__", ".pytest_cache", "files")


def decision_table(project: Path) -> list[list[str]]:
    """The decision table's rows, as lists of cells (the header excluded)."""
    text = (project / "docs" / "concurrency.md").read_text(encoding="utf-8")
    section = text.split("## Decision table", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| ")]
    return [[cell.strip() for cell in row.strip("|").split(" | ")] for row in rows[1:]]


def test_every_decision_table_row_names_a_mutant_that_its_proofs_kill(
    default_bake: Path,
) -> None:
    rows = {cells[0]: cells for cells in decision_table(default_bake)}
    assert len(rows) >= 20
    by_row = {key: [m for m in MUTANTS if m.row == key] for key in rows}
    assert [key for key, mutants in by_row.items() if not mutants] == []
    assert [m.id for m in MUTANTS if m.row not in rows] == []
    for key, cells in rows.items():
        linked = set(LINKED_TEST.findall(cells[-2]))
        for mutant in by_row[key]:
            assert mutant.description in cells[-1], (key, mutant.id)
            unlinked = {p.split("[")[0] for p in mutant.proofs} - linked
            assert unlinked == set(), (key, mutant.id)


def test_mutant_ids_are_unique() -> None:
    ids = [m.id for m in MUTANTS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.id)
def test_each_mutant_changes_exactly_one_place_per_edit(default_bake: Path, mutant: Mutant) -> None:
    for change in mutant.edits:
        text = (default_bake / change.file).read_text(encoding="utf-8")
        assert text.count(change.old) == 1, (change.file, change.old)


@pytest.fixture
def bake_copy(default_bake: Path, tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "project"
    shutil.copytree(default_bake, copy, ignore=BAKE_ONLY)
    yield copy


def run_proofs(project: Path, venv_of: Path, proofs: list[str]) -> subprocess.CompletedProcess[str]:
    """Run `proofs` on the copy `project` with the venv of the bake it was copied from.

    PYTHONPATH puts the copy's package ahead of the bake's editable install; the process
    pool's spawned workers inherit it.
    """
    return subprocess.run(
        [
            str(venv_of / ".venv" / "bin" / "python"),
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "-rf",
            *proofs,
        ],
        cwd=project,
        env={
            **{k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"},
            "PYTHONPATH": str(project / "src"),
            "TEST_DATABASE_URL": SERVER_URL,
        },
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.slow
def test_the_proofs_pass_on_the_unmutated_copy(default_bake: Path, bake_copy: Path) -> None:
    proofs = sorted({p for m in MUTANTS for p in m.proofs})
    result = run_proofs(bake_copy, default_bake, proofs)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: m.id)
def test_the_rows_proofs_fail_on_its_mutant(
    default_bake: Path, bake_copy: Path, mutant: Mutant
) -> None:
    for change in mutant.edits:
        path = bake_copy / change.file
        text = path.read_text(encoding="utf-8")
        assert text.count(change.old) == 1, (change.file, change.old)
        path.write_text(text.replace(change.old, change.new), encoding="utf-8")
    result = run_proofs(bake_copy, default_bake, list(mutant.proofs))
    output = result.stdout + result.stderr
    # 1: tests ran and failed. 2-5 (interrupted, internal error, usage, none collected) would
    # mean the mutant broke the run, not the proof's claim.
    assert result.returncode == 1, output[-6000:]
    failed = {
        line.split(" ")[1] for line in result.stdout.splitlines() if line.startswith("FAILED ")
    }
    survivors = [
        proof
        for proof in mutant.proofs
        if not any(name == proof or name.startswith(proof + "[") for name in failed)
    ]
    assert survivors == [], output[-6000:]
