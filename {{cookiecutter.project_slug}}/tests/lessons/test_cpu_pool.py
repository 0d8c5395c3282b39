"""A CPU worker process killed for real (SIGKILL, as the OOM killer does): the request whose
work it held gets a 503, the pool is replaced, and the next requests run again."""

import asyncio
import os
import signal
from collections.abc import Callable

import psutil

from {{ cookiecutter.package_name }}.lessons.cpu_work import MAX_STEPS
from {{ cookiecutter.package_name }}.settings import Settings

from ..support.harness import running_app


async def test_a_killed_cpu_worker_costs_one_503_and_a_new_pool_serves_the_next_requests(
    database_url: str, make_settings: Callable[..., Settings]
) -> None:
    # One worker: the process that runs the next request is the one a first request names.
    settings = make_settings(database_url=database_url, cpu_workers=1)
    async with running_app(settings) as client:
        first = await client.get("/lesson/cpu-offload?steps=1000")
        assert first.status_code == 200
        worker = psutil.Process(first.json()["pid"])

        # About a second of work; the worker dies in the middle of it.
        in_flight = asyncio.create_task(client.get(f"/lesson/cpu-offload?steps={MAX_STEPS}"))
        async with asyncio.timeout(10):
            # Wait until the worker is computing: its CPU time rises.
            baseline = worker.cpu_times().user
            while worker.cpu_times().user < baseline + 0.05:  # noqa: ASYNC110 (another process)
                await asyncio.sleep(0.01)
        os.kill(worker.pid, signal.SIGKILL)
        lost = await in_flight

        assert lost.status_code == 503
        assert "worker process died" in lost.json()["detail"]
        await asyncio.to_thread(worker.wait, 10)  # really gone, not just signalled

        # The pool was replaced: the following requests run, in a new process.
        after = [await client.get("/lesson/cpu-offload?steps=1000") for _ in range(3)]
        assert [response.status_code for response in after] == [200] * 3
        assert {response.json()["pid"] for response in after} != {worker.pid}
