"""A failed command in a bake must show why: pytest's tracebacks, not only its last lines."""

from .shell import SHOWN, failure_excerpt


def test_a_long_pytest_report_keeps_its_tracebacks_and_its_tail() -> None:
    output = (
        "collected\n=== FAILURES ===\nTraceback: boom\n"
        + "PASSED tests/test_x.py::test_y\n" * (SHOWN // 10)
        + "FAILED tests/test_z.py::test_w\n"
    )
    excerpt = failure_excerpt(output)
    assert "Traceback: boom" in excerpt
    assert excerpt.endswith("FAILED tests/test_z.py::test_w\n")
    assert len(excerpt) < 2 * SHOWN + 10


def test_a_short_or_non_pytest_output_is_shown_as_it_is() -> None:
    assert failure_excerpt("error: no such file\n") == "error: no such file\n"
    short = "=== FAILURES ===\nTraceback: boom\nFAILED t\n"
    assert failure_excerpt(short) == short
