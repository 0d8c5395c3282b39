"""The lesson for CPU-bound work: a `def` route keeps the loop free but shares the GIL; a
process pool runs the work in parallel on other cores."""

from typing import Annotated

from fastapi import APIRouter, Query

from .cpu_work import MAX_STEPS, CpuWork, crunch
from .cross_origin import READ_BY_THE_PAGE
from .process_pool import CpuPoolDep

router = APIRouter(prefix="/lesson", tags=["lesson"])

Steps = Annotated[int, Query(ge=1, le=MAX_STEPS, description="loop steps of CPU work")]


@router.get("/cpu", dependencies=[READ_BY_THE_PAGE])
def lesson_cpu(steps: Steps) -> CpuWork:
    """CPU work in a `def` route: the loop stays free, threads share the GIL."""
    # `def` keeps CPU work off the loop, so other requests are still answered; but threads
    # share the GIL: two of these at once take twice as long as one.
    return crunch(steps)


@router.get(
    "/cpu-offload",
    dependencies=[READ_BY_THE_PAGE],
    responses={503: {"description": "a CPU worker process died; the pool was restarted"}},
)
async def lesson_cpu_offload(steps: Steps, processes: CpuPoolDep) -> CpuWork:
    """CPU work in the process pool: in parallel, on other cores."""
    # A process pool (one per worker process, owned by the lessons' lifespan) runs CPU work
    # on other cores, in parallel, each process with its own GIL. Awaiting it holds no thread.
    return await processes.run(crunch, steps)
