import pytest

from ..support.settings import refusal


def test_an_upload_limit_of_zero_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "UPLOAD_MAX_BYTES" in refusal(monkeypatch, {"UPLOAD_MAX_BYTES": "0"})
