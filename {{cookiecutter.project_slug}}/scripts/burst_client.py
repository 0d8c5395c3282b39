"""A burst for the `concurrency` scenario of scripts/bench_lessons.py (a bake with the lessons
has it): every connection opened at once, one GET on each; one JSON line says what became of
them.

    python scripts/burst_client.py 'http://127.0.0.1:8000/lesson/slow?delay=5' --connections 10000

A process of its own, so that the load shares no event loop with the bench's /healthz probes.
asyncio protocols on uvloop, no HTTP client: the least CPU per connection Python offers, so
that the figures are the server's. The line carries this process's CPU seconds over the
burst: near its wall seconds, the client saturated a core and was the limit, not the server.

With `--seconds S`, each connection asks again as soon as it is answered, until S seconds
have passed: a sustained load of that many requests in flight.

The JSON line: `statuses` (answers by status code), `errors` (requests with no answer, by
kind), `wall_seconds` (first connect to last answer), `sent_seconds` (first connect to the
last request written), `elapsed_seconds` (to the last outcome, answer or error),
`cpu_seconds`, and `open_files` (the soft limit this process raised itself to).
"""

import argparse
import asyncio
import errno
import json
import resource
import time
from collections import Counter
from contextlib import suppress
from dataclasses import dataclass
from typing import cast
from urllib.parse import urlsplit

import uvloop

# What an OSError's errno says happened, in the words of the report.
ERRNO_KINDS = {
    errno.ECONNREFUSED: "refused",
    errno.ECONNRESET: "reset",
    errno.EPIPE: "reset",
    errno.ETIMEDOUT: "timeout connecting",
    errno.EMFILE: "client out of open files",
    errno.ENFILE: "machine out of open files",
    errno.EADDRNOTAVAIL: "client out of local ports",
}


def raise_open_file_limit() -> int:
    """The soft open-file limit raised to the hard one (a connection holds a file each)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    # macOS: an unlimited hard limit is no valid soft limit, so the soft one stays.
    with suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard
    return soft


def error_kind(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno in ERRNO_KINDS:
        return ERRNO_KINDS[exc.errno]
    return type(exc).__name__


class Exchange(asyncio.Protocol):
    """One request on a connection of its own (`Connection: close`: the server closes it
    after the answer, so the answer ends where the stream does)."""

    def __init__(self, request: bytes, outcome: "asyncio.Future[str]") -> None:
        self.request = request
        self.outcome = outcome
        self.head = b""
        self.status: str | None = None
        self.sent = 0.0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        cast(asyncio.Transport, transport).write(self.request)
        self.sent = time.perf_counter()

    def data_received(self, data: bytes) -> None:
        if self.status is None:
            self.head += data
            line, found, _ = self.head.partition(b"\r\n")
            if found:  # "HTTP/1.1 200 OK": the status is the second word
                words = line.split(b" ", 2)
                self.status = words[1].decode("ascii", "replace") if len(words) > 1 else "?"

    def connection_lost(self, exc: Exception | None) -> None:
        if self.outcome.done():  # timed out first
            return
        if exc is not None:
            self.outcome.set_result(error_kind(exc))
        else:
            self.outcome.set_result(self.status or "closed with no answer")


@dataclass
class Outcome:
    kind: str  # a status code, or an error's kind
    finished: float  # time.perf_counter()
    sent: float  # when the request was written; 0 if never


async def exchange(host: str, port: int, request: bytes, patience: float) -> Outcome:
    loop = asyncio.get_running_loop()
    outcome: asyncio.Future[str] = loop.create_future()
    protocol = Exchange(request, outcome)
    transport: asyncio.Transport | None = None
    try:
        async with asyncio.timeout(patience):
            transport, _ = await loop.create_connection(lambda: protocol, host, port)
            kind = await outcome
    except TimeoutError:  # before OSError: TimeoutError is one
        kind = "timeout waiting for the answer" if transport else "timeout connecting"
    except OSError as exc:
        kind = error_kind(exc)
    finally:
        if transport is not None:
            transport.abort()  # closed already unless it timed out
    return Outcome(kind, time.perf_counter(), protocol.sent)


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def run(url: str, connections: int, patience: float, seconds: float) -> dict[str, object]:
    parts = urlsplit(url)
    if parts.scheme != "http" or parts.hostname is None or parts.port is None:
        raise SystemExit(f"burst_client: {url!r} is no http://host:port/... URL")
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.netloc}\r\nConnection: close\r\n\r\n"
    ).encode()
    host, port = parts.hostname, parts.port
    cpu_before = cpu_seconds()
    started = time.perf_counter()

    async def one_connection() -> list[Outcome]:
        # Asks again as soon as it is answered, until `seconds` have passed (0: once).
        outcomes = [await exchange(host, port, request, patience)]
        while time.perf_counter() - started < seconds:
            outcomes.append(await exchange(host, port, request, patience))
        return outcomes

    each = await asyncio.gather(*(one_connection() for _ in range(connections)))
    outcomes = [outcome for connection in each for outcome in connection]
    elapsed = time.perf_counter() - started
    cpu = cpu_seconds() - cpu_before
    kinds = Counter(outcome.kind for outcome in outcomes)
    answered = [o.finished for o in outcomes if o.kind.isdigit()]
    sent = [o.sent for o in outcomes if o.sent]
    return {
        "connections": connections,
        "statuses": {kind: n for kind, n in sorted(kinds.items()) if kind.isdigit()},
        "errors": {kind: n for kind, n in sorted(kinds.items()) if not kind.isdigit()},
        "wall_seconds": (max(answered) - started) if answered else elapsed,
        "sent_seconds": (max(sent) - started) if sent else elapsed,
        "elapsed_seconds": elapsed,
        "cpu_seconds": cpu,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n", maxsplit=1)[0])
    parser.add_argument("url", help="http://host:port/path?query")
    parser.add_argument("--connections", type=int, required=True, help="how many, all at once")
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="seconds per request, to its answer (60)"
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=0.0,
        help="each connection asks again as soon as it is answered, for this long (0: once)",
    )
    options = parser.parse_args()
    if options.connections < 1 or options.timeout <= 0 or not 0 <= options.seconds <= 3600:
        parser.error("--connections must be at least 1, --timeout positive, --seconds 0 to 3600")
    open_files = raise_open_file_limit()
    if open_files < options.connections + 16:
        parser.error(f"{options.connections} connections need more open files than {open_files}")
    report = uvloop.run(run(options.url, options.connections, options.timeout, options.seconds))
    print(json.dumps({**report, "open_files": open_files}))


if __name__ == "__main__":
    main()
