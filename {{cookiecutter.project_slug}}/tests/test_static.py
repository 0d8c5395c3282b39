"""The static proof: ruff's ASYNC rules see the anti-pattern, and nothing else."""

import subprocess
import sys
from pathlib import Path

import {{ cookiecutter.package_name }}

PACKAGE = Path({{ cookiecutter.package_name }}.__file__).parent


def ruff_async(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        # The interpreter's own ruff: found whether or not the venv's bin is on PATH.
        [
            sys.executable,
            "-m",
            "ruff",
            "check",
            "--no-cache",
            "--select",
            "ASYNC",
            "--output-format",
            "concise",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_the_package_passes_the_async_rules_with_the_anti_patterns_noqa() -> None:
    result = ruff_async(PACKAGE)
    assert result.returncode == 0, result.stdout


def test_ruff_flags_the_anti_pattern_once_its_noqa_is_removed(tmp_path: Path) -> None:
    source = (PACKAGE / "routes" / "antipatterns.py").read_text(encoding="utf-8")
    assert "# noqa: ASYNC251" in source
    unguarded = tmp_path / "antipatterns.py"
    unguarded.write_text(source.replace("  # noqa: ASYNC251", ""), encoding="utf-8")
    result = ruff_async(unguarded)
    assert result.returncode == 1
    assert "ASYNC251" in result.stdout
