"""Hostile clients below HTTP, thousands of them from one process over raw sockets.

`python -m tests.support.hostile <scenario> <port> <count> [path]` opens `count` connections
to 127.0.0.1:<port>, prints `ready` once every one is in place (for a declared body and idle
keep-alive: answered), holds them until its stdin closes, then prints one JSON object: how
many connections ended each way. A process of its own, so its work does not delay the test's
probes (one event loop, one GIL each).
"""

import asyncio
import json
import sys
from collections import Counter
from collections.abc import Awaitable, Callable

# A header block larger than any cap the service may set, sent and never ended.
BIG_HEADERS = 1024 * 1024
# A body declared and never sent.
DECLARED_BODY = 10 * 1024**3
# Connections being opened at once: below the listen backlog, so no SYN is dropped.
OPENING = 256

# An attack sets `ready` once its connection is in place, then returns how it ended.
Attack = Callable[
    [asyncio.StreamReader, asyncio.StreamWriter, asyncio.Event, asyncio.Future[None]],
    Awaitable[str],
]


async def ended(reader: asyncio.StreamReader, stop: asyncio.Event, received: bytes = b"") -> str:
    """How the connection ended: `<status>-closed` or `closed` if the server closed it (after
    an answer, or without one), `<status>-held` or `held` if `stop` came first, `reset`.
    `received`: what was already read of the answer."""
    stopping = asyncio.ensure_future(stop.wait())
    try:
        while True:
            reading = asyncio.ensure_future(reader.read(65536))
            await asyncio.wait({reading, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not reading.done():
                reading.cancel()
                state = "held"
                break
            if reading.exception() is not None:
                return "reset"
            if not (chunk := reading.result()):
                state = "closed"
                break
            received += chunk
    finally:
        stopping.cancel()
    return f"{status_of(received)}-{state}" if received else state


def status_of(data: bytes) -> str:
    parts = data.split(b" ", 2)
    return parts[1].decode() if len(parts) > 1 and data.startswith(b"HTTP/1.") else "garbage"


async def slow_headers(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    stop: asyncio.Event,
    ready: asyncio.Future[None],
) -> str:
    """A request whose header block arrives one byte a second and never ends."""
    ready.set_result(None)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: hostile\r\nX-Slow: ")
    outcome = asyncio.ensure_future(ended(reader, stop))
    while not outcome.done():
        writer.write(b"a")
        await asyncio.wait({outcome}, timeout=1)
    return outcome.result()


async def big_headers(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    stop: asyncio.Event,
    ready: asyncio.Future[None],
) -> str:
    """A header block of 1 MiB, sent as fast as the server reads it, never ended."""
    ready.set_result(None)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: hostile\r\n")
    line = b"X-Big: " + b"a" * 8000 + b"\r\n"
    try:
        for _ in range(BIG_HEADERS // len(line)):
            writer.write(line)
            await writer.drain()
    except ConnectionError:
        pass  # the server refused the block and closed while it was still coming
    return await ended(reader, stop)


def declared_body(path: str) -> Attack:
    async def attack(
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        stop: asyncio.Event,
        ready: asyncio.Future[None],
    ) -> str:
        """A POST that declares a 10 GiB JSON body and sends none of it (ready once the
        refusal's head arrived, so the keep-alive timeout runs from about the same moment for
        every connection, however long the server took to answer them all)."""
        writer.write(
            f"POST {path} HTTP/1.1\r\nHost: hostile\r\nContent-Type: application/json\r\n"
            f"Content-Length: {DECLARED_BODY}\r\n\r\n".encode()
        )
        head = await reader.readuntil(b"\r\n\r\n")
        ready.set_result(None)
        return await ended(reader, stop, head)

    return attack


async def idle_keep_alive(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    stop: asyncio.Event,
    ready: asyncio.Future[None],
) -> str:
    """One request answered, then the connection left open and idle (ready once answered,
    so the keep-alive timeout runs from about the same moment for every connection)."""
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: hostile\r\n\r\n")
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    await reader.readexactly(length)
    ready.set_result(None)
    return f"answered-{await ended(reader, stop)}"


ATTACKS: dict[str, Callable[[str], Attack]] = {
    "slow-headers": lambda _: slow_headers,
    "big-headers": lambda _: big_headers,
    "declared-body": declared_body,
    "idle-keep-alive": lambda _: idle_keep_alive,
}


async def main(scenario: str, port: int, count: int, path: str) -> None:
    attack = ATTACKS[scenario](path)
    stop = asyncio.Event()
    opening = asyncio.Semaphore(OPENING)
    opened: list[asyncio.Future[None]] = []
    loop = asyncio.get_running_loop()

    async def one(ready: asyncio.Future[None]) -> str:
        try:
            async with opening:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            try:
                return await attack(reader, writer, stop, ready)
            finally:
                writer.transport.abort()
        except ConnectionError:
            return "reset"
        except asyncio.IncompleteReadError:
            return "closed"
        finally:
            if not ready.done():  # failed before it was in place: `ready` must not wait for it
                ready.set_result(None)

    tasks = []
    for _ in range(count):
        connected = loop.create_future()
        opened.append(connected)
        tasks.append(asyncio.ensure_future(one(connected)))
    await asyncio.gather(*opened)
    print("ready", flush=True)
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    await stdin.read()
    stop.set()
    outcomes = Counter(await asyncio.gather(*tasks))
    print(json.dumps(dict(outcomes)), flush=True)


if __name__ == "__main__":
    scenario, port, count, *rest = sys.argv[1:]
    asyncio.run(main(scenario, int(port), int(count), rest[0] if rest else "/"))
