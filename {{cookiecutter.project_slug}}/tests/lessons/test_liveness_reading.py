"""scripts/bench_lessons.py says whether the manifest's liveness probe would restart the pod
during a burst, from /healthz probed every 100 ms: that verdict is only as right as its reading
of those probes as a kubelet, which asks every 10 s, would have seen them."""

from types import ModuleType
from typing import Any

import pytest

from ..support.scripts import load_script

PERIOD = 0.1  # the bench's probes, one every 100 ms


@pytest.fixture(scope="module")
def bench_lessons() -> ModuleType:
    return load_script("bench_lessons")


def probes(
    bench_lessons: ModuleType, seconds: float, failing: list[tuple[float, float]]
) -> list[Any]:
    """A probe every PERIOD for `seconds`; those started inside a (start, end) of `failing`
    failed, the rest answered 200 in 3 ms."""
    made = []
    for step in range(round(seconds / PERIOD)):
        started = step * PERIOD
        failed = any(start <= started < end for start, end in failing)
        made.append(bench_lessons.Probe(started, 0.003, not failed))
    return made


def test_a_pod_that_always_answers_is_never_restarted(bench_lessons: ModuleType) -> None:
    by_phase = bench_lessons.kubelet_failures(probes(bench_lessons, 60, []))
    assert len(by_phase) == 100  # one per 100 ms of the kubelet's 10 s period
    assert set(by_phase) == {0}


def test_short_outages_with_recoveries_between_the_kubelets_probes_still_restart(
    bench_lessons: ModuleType,
) -> None:
    # Down 9 s, up 1 s, four times: no outage is near 22 s, yet a kubelet probing in the
    # down parts sees every one of its probes fail.
    outages = [(10.0 * n, 10.0 * n + 9) for n in range(4)]
    made = probes(bench_lessons, 40, outages)
    by_phase = bench_lessons.kubelet_failures(made)
    assert max(by_phase) == 4
    assert min(by_phase) == 0  # probing in the up second, it sees none
    assert bench_lessons.longest_outage(made) < 9.1


@pytest.mark.parametrize(
    ("outage", "fewest", "most"),
    [
        # 35 s down: three probes 10 s apart fall inside it at every phase.
        (35.0, 3, 4),
        # 25 s down: three fit only if the first comes in its first 5 s; else two do.
        (25.0, 2, 3),
        # 15 s down: at most two probes fit, which no phase restarts.
        (15.0, 1, 2),
    ],
)
def test_one_outage_restarts_a_kubelet_at_a_phase_only_if_three_probes_fall_inside_it(
    bench_lessons: ModuleType, outage: float, fewest: int, most: int
) -> None:
    by_phase = bench_lessons.kubelet_failures(probes(bench_lessons, 60, [(10.0, 10 + outage)]))
    assert (min(by_phase), max(by_phase)) == (fewest, most)


def test_an_answer_slower_than_the_probes_timeout_is_a_failure(
    bench_lessons: ModuleType,
) -> None:
    timeout = bench_lessons.LIVENESS_TIMEOUT
    slow = [bench_lessons.Probe(step * PERIOD, timeout + 0.5, True) for step in range(300)]
    assert min(bench_lessons.kubelet_failures(slow)) == 3
    prompt = [bench_lessons.Probe(step * PERIOD, timeout - 0.1, True) for step in range(300)]
    assert max(bench_lessons.kubelet_failures(prompt)) == 0
