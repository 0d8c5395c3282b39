"""The process pool for CPU-bound work, and its recovery when a worker process dies.

concurrent.futures marks a ProcessPoolExecutor broken for good once one of its processes
dies (the OOM killer, a segfault in an extension, a SIGKILL): every later submit raises
BrokenProcessPool. Left alone, one dead process would turn every later CPU request into an
error until a restart. Here the request that meets the broken pool gets a 503 (its work is
lost: it may be retried), and the pool is replaced once, for everybody.
"""

import asyncio
import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Annotated, Any, TypeVar, cast

from fastapi import Depends, Request, status

from ..errors import ServiceError
from ..observability.tracing import export_of
from ..settings import Settings
from . import cpu_work, cpu_worker

logger = logging.getLogger(__name__)

T = TypeVar("T")


class CpuWorkersLost(ServiceError):
    """A CPU worker process died with the request's work in it (or before it started it);
    the pool has been replaced, so a retry runs."""

    status_code = status.HTTP_503_SERVICE_UNAVAILABLE


def start_process_pool(settings: Settings) -> ProcessPoolExecutor:
    """Blocking (it starts processes): call it in a thread."""
    # "forkserver" (Python 3.14's default), not fork: forking a process that already runs
    # threads (the pools' and AnyIO's) can copy a held lock into the child and deadlock it.
    # Not spawn either: each spawned worker imports the service again (about a second of
    # CPU each, at start-up and at every replacement). The fork server is one
    # single-threaded process, started at the first pool, that forks each worker. It
    # imports the worker's set-up and the work, not the service (`__main__`, the default,
    # would cost it 0.7 s of CPU at every start): a lesson whose task lives in another
    # module imports it in the worker, once. A worker starts with no logging set-up and no
    # tracing: the initializer gives it the server's.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([cpu_worker.__name__, cpu_work.__name__])
    workers = settings.cpu_workers
    pool = ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=cpu_worker.start_cpu_worker,
        initargs=(settings.log_format, settings.log_level, export_of(settings)),
    )
    # Start every worker now (one task each, all at once), so the first request does not
    # pay for process start-up.
    for started in [pool.submit(abs, 0) for _ in range(workers)]:
        started.result()
    return pool


class CpuPool:
    def __init__(self, settings: Settings) -> None:
        """Blocking (it starts the processes): the lifespan runs it in a thread."""
        self.settings = settings
        self.executor = start_process_pool(settings)
        # Counts replacements, so requests that found the same pool broken replace it once.
        self.generation = 0
        self._replacing = asyncio.Lock()

    async def run(self, function: Callable[..., T], *args: Any) -> T:
        generation = self.generation
        try:
            return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)
        except BrokenProcessPool:
            async with self._replacing:
                if self.generation == generation:
                    logger.error("a CPU worker process died; starting a new process pool")
                    # Starting processes blocks: a thread, not the loop.
                    await asyncio.to_thread(self._replace)
            raise CpuWorkersLost(
                "a CPU worker process died; the pool has been restarted, retry the request"
            ) from None

    def _replace(self) -> None:
        # In the thread from start to end: the dead pool's last reference goes here too,
        # so its clean-up (joining threads, releasing its semaphores) never runs on the loop.
        broken, self.executor = self.executor, start_process_pool(self.settings)
        self.generation += 1
        broken.shutdown(cancel_futures=True)

    def shutdown(self) -> None:
        """Blocking (it joins the processes): the lifespan runs it in a thread."""
        self.executor.shutdown(cancel_futures=True)


async def get_cpu_pool(request: Request) -> CpuPool:
    # The lessons' lifespan put it there (lessons/router.py).
    return cast(CpuPool, request.state.cpu_pool)


CpuPoolDep = Annotated[CpuPool, Depends(get_cpu_pool)]
