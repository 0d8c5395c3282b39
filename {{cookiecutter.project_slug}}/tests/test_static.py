"""The static proof: ruff's ASYNC rules pass on the whole package (the anti-patterns, where
a bake has them, carry an explained noqa; tests/lessons/test_static.py)."""

from pathlib import Path

import {{ cookiecutter.package_name }}

from .support.processes import ruff_async

PACKAGE = Path({{ cookiecutter.package_name }}.__file__).parent


def test_the_package_passes_the_async_rules() -> None:
    result = ruff_async(PACKAGE)
    assert result.returncode == 0, result.stdout
