import pytest

from ..support.settings import refusal


def test_a_switch_that_is_not_a_boolean_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refused = refusal(monkeypatch, {"ENABLE_ANTIPATTERNS": "perhaps"})
    assert "ENABLE_ANTIPATTERNS" in refused
