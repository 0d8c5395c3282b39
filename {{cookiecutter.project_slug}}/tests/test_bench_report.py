"""scripts/bench.py reads wrk's report and the loop-lag histogram: the figures it prints are
only as right as that parsing. And `compare` rewrites docs/benchmark.md but for the section
another script writes there."""

from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from .support.scripts import load_script
from .support.served import Served, serving_app

# wrk 4.1's report (--latency), as it prints it.
WRK_REPORT = """\
Running 5s test @ http://127.0.0.1:8101/async/items/1
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    28.55ms   12.04ms 137.11ms   72.80%
    Req/Sec     2.25k   201.43     2.53k    80.00%
  Latency Distribution
     50%  826.83us
     75%   33.12ms
     90%   41.97ms
     99%    1.37s
  11236 requests in 5.00s, 2.68MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:   2246.73
Transfer/sec:    548.97KB
"""


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    return load_script("bench")


def test_a_wrk_report_gives_rate_latencies_in_ms_and_every_error(bench: ModuleType) -> None:
    load = bench.parse_wrk(WRK_REPORT)
    assert load.requests_per_second == pytest.approx(2246.73)
    assert load.p50_ms == pytest.approx(0.82683)
    assert load.p99_ms == pytest.approx(1370.0)
    assert load.errors == 7 + 2 + 3


def test_a_wrk_report_without_errors_counts_none(bench: ModuleType) -> None:
    clean = "\n".join(
        line for line in WRK_REPORT.splitlines() if "errors" not in line and "Non-2xx" not in line
    )
    assert bench.parse_wrk(clean).errors == 0


def test_a_wrk_report_that_is_not_one_is_refused_with_the_text(bench: ModuleType) -> None:
    with pytest.raises(RuntimeError, match="unable to connect"):
        bench.parse_wrk("unable to connect to 127.0.0.1:9 Connection refused\n")


def test_the_lag_percentile_is_the_bucket_of_the_probes_taken_in_between(
    bench: ModuleType,
) -> None:
    inf = float("inf")
    before = {0.001: 90.0, 0.005: 95.0, 0.01: 99.0, 0.05: 100.0, inf: 100.0}
    # 200 probes in between: 190 within 1 ms, 198 within 5 ms, 199 within 10 ms, all in 50.
    after = {0.001: 280.0, 0.005: 293.0, 0.01: 298.0, 0.05: 300.0, inf: 300.0}
    assert bench.lag_p99(before, after) == 0.005
    # The probes before the run do not count: on their own they would put the p99 at 10 ms.
    assert bench.lag_p99({}, before) == 0.01


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["nope"], "unknown scenario nope; choose from items"),
        (["--rounds", "0"], "--rounds must be at least 1"),
        (["--seconds", "0"], "--seconds positive"),
        # wrk reads whole seconds only.
        (["--seconds", "0.5"], "--seconds must be a whole number with wrk"),
    ],
)
def test_bad_flags_are_refused_with_a_usage_error_before_anything_starts(
    bench: ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    complaint: str,
) -> None:
    def no_database() -> None:
        raise AssertionError("a database was started for a command line that is wrong")

    monkeypatch.setattr(bench, "WRK", "/usr/bin/wrk")
    monkeypatch.setattr(bench, "migrated_database", no_database)
    with pytest.raises(SystemExit) as exited:
        bench.run_scenarios("A benchmark.", {"items": bench.items}, argv=argv)
    assert exited.value.code == 2
    assert complaint in capsys.readouterr().err


def test_a_marked_section_is_found_replaced_in_place_or_appended(bench: ModuleType) -> None:
    start, end = bench.CONCURRENCY_START, bench.CONCURRENCY_END
    text = f"# Benchmark\n\ntable\n\n{start}\nold figures\n{end}\nafter\n"
    assert bench.section_of(text, start, end) == "\nold figures\n"
    assert bench.with_section(text, start, end, "\nnew figures\n") == (
        f"# Benchmark\n\ntable\n\n{start}\nnew figures\n{end}\nafter\n"
    )
    # No markers, or only the end one before the start: none found, and one is appended.
    for unmarked in ["# Benchmark\n", f"{end}\n{start}\n"]:
        assert bench.section_of(unmarked, start, end) is None
    assert bench.with_section("# Benchmark\n\n", start, end, "\nfigures\n") == (
        f"# Benchmark\n\n{start}\nfigures\n{end}\n"
    )


def test_compare_rewrites_its_report_and_keeps_the_concurrency_section(
    bench: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start, end = bench.CONCURRENCY_START, bench.CONCURRENCY_END
    section = "\n## One worker, thousands of waiting requests\n\nits table\n"
    report = tmp_path / "benchmark.md"
    report.write_text(f"# Benchmark\n\nthe last table\n\n{start}{section}{end}\n")
    (tmp_path / "README.md").write_text("# A service\n")
    monkeypatch.setattr(bench, "DOCS", tmp_path)
    monkeypatch.setattr(bench, "PROJECT", tmp_path)
    monkeypatch.setattr(bench, "chart", lambda _comparison, _path: None)
    load = bench.Load(requests_per_second=1234.0, p50_ms=1.0, p99_ms=2.0, errors=0)
    bench.write_reports(bench.Comparison([bench.Row("a route", load)], [], "today"))
    text = report.read_text()
    assert "the last table" not in text
    assert "| a route | 1,234 |" in text
    assert text.endswith(f"{start}{section}{end}\n")


@pytest.fixture(scope="module")
def served(database_url: str, make_settings: Callable[..., Settings]) -> Iterator[Served]:
    with serving_app(make_settings(database_url=database_url)) as served:
        yield served


async def test_fixed_rate_load_counts_every_request_that_failed(
    bench: ModuleType, served: Served
) -> None:
    _, errors = await bench.fixed_rate(f"{served.url}/no-such-route", 100, 0.3)
    assert errors == 30
    _, errors = await bench.fixed_rate(f"{served.url}/healthz", 100, 0.3)
    assert errors == 0
