"""Pure-Python CPU work for the /lesson/cpu routes.

A module-level function, so a process pool can pickle it by reference.
"""

import os
import threading
import time

from pydantic import BaseModel

# About 36 million loop steps per second per core on a 2-core CI machine: the largest
# request costs under a second there.
MAX_STEPS = 30_000_000


class CpuWork(BaseModel):
    steps: int
    result: int
    pid: int
    thread: str
    started: float  # time.monotonic(): one clock for every process on the machine
    finished: float
    cpu_seconds: float


def crunch(steps: int) -> CpuWork:
    started = time.monotonic()
    cpu_started = time.thread_time()
    total = 0
    for i in range(steps):
        total += i * i
    return CpuWork(
        steps=steps,
        result=total,
        pid=os.getpid(),
        thread=f"{threading.current_thread().name} ({threading.get_ident()})",
        started=started,
        finished=time.monotonic(),
        cpu_seconds=time.thread_time() - cpu_started,
    )
