"""A burst of requests while their statements wait inside PostgreSQL (table_lock.py)."""

import asyncio
from dataclasses import dataclass

import httpx

from .harness import Service
from .proofs import Burst, Heartbeat, burst
from .table_lock import ItemsTableLock

HOLD = 0.3  # how long the lock stays once the expected statements wait on it


@dataclass
class Seeded(Service):
    """The service on a database of its own, with one item in it."""

    url: str
    item_id: int


async def burst_while_locked(
    client: httpx.AsyncClient, lock: ItemsTableLock, urls: list[str], *, waiting: int
) -> tuple[Burst, Heartbeat]:
    """Send every request at once; release the lock HOLD seconds after `waiting` of them
    wait on it together. The heartbeat samples the thread tokens over those HOLD seconds:
    the claim is about how the requests wait while the database works."""
    async with asyncio.TaskGroup() as group:
        requests = group.create_task(burst(client, urls))
        try:
            await lock.until_waiting(waiting)
            async with Heartbeat() as heartbeat:
                await asyncio.sleep(HOLD)
        finally:
            lock.release()
    return requests.result(), heartbeat
