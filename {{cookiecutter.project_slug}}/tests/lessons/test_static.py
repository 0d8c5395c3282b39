"""The static proof sees the anti-pattern: without its noqa, ruff's ASYNC rules flag it."""

from pathlib import Path

import {{ cookiecutter.package_name }}

from ..support.processes import ruff_async

ANTIPATTERNS = Path({{ cookiecutter.package_name }}.__file__).parent / "lessons" / "antipatterns.py"


def test_ruff_flags_the_anti_pattern_once_its_noqa_is_removed(tmp_path: Path) -> None:
    source = ANTIPATTERNS.read_text(encoding="utf-8")
    assert "# noqa: ASYNC251" in source
    unguarded = tmp_path / "antipatterns.py"
    unguarded.write_text(source.replace("  # noqa: ASYNC251", ""), encoding="utf-8")
    result = ruff_async(unguarded)
    assert result.returncode == 1
    assert "ASYNC251" in result.stdout
