import pytest

from ..support.settings import refusal


def test_an_upstream_url_that_is_not_a_url_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert "UPSTREAM_URL" in refusal(monkeypatch, {"UPSTREAM_URL": "upstream"})
