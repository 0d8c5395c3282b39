"""Settings from the environment, as the service reads them at start-up."""

import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.settings import Settings, describe_error


def refusal(monkeypatch: pytest.MonkeyPatch, environment: dict[str, str]) -> str:
    """What start-up says of `environment`, which it must refuse (no .env file read)."""
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)
    return describe_error(refused.value)
