"""A query hook for the proofs: make the service's item statements wait inside PostgreSQL.

An admin connection takes ACCESS EXCLUSIVE on `items`; from then on every statement either
driver sends on that table waits in PostgreSQL (pg_stat_activity: wait_event_type 'Lock')
until the lock goes. A second connection watches pg_stat_activity, so a proof can count how
many requests wait in the database at the same moment (server-side, no timing) and see how
each statement started.

Why a lock and not a pg_sleep route: the proofs then drive the real routes and their real
SQL, and nothing that exists only to be tested ships in the service. Both connections are
driven from a thread of their own, so the lock can be released on schedule even while the
event loop is blocked (the negative control).
"""

import asyncio
import threading
import time
from dataclasses import dataclass
from types import TracebackType

from .database import Admin

# A deadlocked proof must fail, not hang: the lock goes after this long whatever happens.
MAX_HOLD = 10.0
POLL = 0.002

# pg_stat_activity reads `wait_event` live but a backend's state, query and timestamps from
# a snapshot it takes for each backend, so one row can pair a live Lock wait with what the
# backend reported before the waiting statement began (the previous query, idle, no
# transaction). Only rows whose reported state is this very statement, running inside its
# transaction, are consistent; the others are skipped until the next poll.
WAITING_STATEMENTS = """
    SELECT pid, xact_start = query_start, query
    FROM pg_stat_activity
    WHERE datname = current_database()
      AND pid <> pg_backend_pid()
      AND wait_event_type = 'Lock'
      AND state = 'active'
      AND xact_start IS NOT NULL
      AND query_start IS NOT NULL
      AND query ILIKE '%items%'
"""


@dataclass(frozen=True)
class Waiter:
    pid: int
    # xact_start = query_start: the statement started its own transaction, so no BEGIN (and
    # no round trip for it) came before it.
    own_transaction: bool
    query: str


class ItemsTableLock:
    def __init__(self, database_url: str, *, release_after: tuple[int, float] | None = None):
        """`release_after=(n, seconds)`: the watcher releases the lock by itself `seconds`
        after it first sees `n` waiters (for tests in which the loop cannot do it)."""
        self._url = database_url
        self._release_after = release_after
        self._release = threading.Event()
        self._thread: threading.Thread | None = None
        self.waiting = 0
        self.peak = 0
        self.waiters: dict[int, Waiter] = {}
        self.released_at = 0.0

    async def __aenter__(self) -> "ItemsTableLock":
        await asyncio.to_thread(self._lock)
        return self

    def _lock(self) -> None:
        self._holder = Admin(self._url, autocommit=False)
        # Autocommit: each poll sees a fresh pg_stat_activity snapshot.
        self._watcher = Admin(self._url)
        self._holder.execute("LOCK TABLE items IN ACCESS EXCLUSIVE MODE")
        self._thread = threading.Thread(target=self._watch, name="items-lock", daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        deadline = time.monotonic() + MAX_HOLD
        release_at = deadline
        try:
            while not self._release.is_set() and time.monotonic() < release_at:
                rows = self._watcher.fetch(WAITING_STATEMENTS)
                for pid, own_transaction, query in rows:
                    # The latest sighting wins: it describes the statement now waiting.
                    self.waiters[pid] = Waiter(pid, own_transaction, query)
                self.waiting = len(rows)
                self.peak = max(self.peak, self.waiting)
                if self._release_after and self.waiting >= self._release_after[0]:
                    release_at = min(release_at, time.monotonic() + self._release_after[1])
                time.sleep(POLL)
        finally:
            self._holder.rollback()  # the lock goes with the transaction
            self.released_at = time.perf_counter()
            self._holder.close()
            self._watcher.close()

    async def until_waiting(self, n: int) -> None:
        """Return once `n` statements wait on the lock together; fail once it is gone."""
        deadline = time.monotonic() + MAX_HOLD
        while self.waiting < n:
            if time.monotonic() > deadline or not self.locked:
                raise AssertionError(f"{self.waiting} statements waiting, expected {n}")
            await asyncio.sleep(POLL)

    @property
    def locked(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def release(self) -> None:
        self._release.set()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
