"""A JSON body is bounded while it streams in: past MAX_JSON_BODY_BYTES an item route answers
413 JSON and writes nothing, whether the body declared its length or came chunked.

In-process first (what was read, what was written), then the service as its own process
with a 300 MB body: the refusal is fast and the process's memory does not grow.
"""

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import httpx
import pytest

from {{ cookiecutter.package_name }}.settings import Settings

from .support.database import fetch
from .support.harness import running_app
from .support.parts import ITEM_PREFIXES as PREFIXES
from .support.processes import serving

# The cap these tests set (not the default 16 KiB, so they show the setting is what applies).
CAP = 8192
CHUNK = 1024
# The largest valid item, written compactly with every character at its longest (settings.py
# has the arithmetic): 200 astral characters as surrogate-pair escapes, the keys and the
# largest price as \u00XX escapes.
ESCAPED_NAME = "\\ud83d\\ude00" * 200
LARGEST_ITEM = (
    '{"\\u006e\\u0061\\u006d\\u0065":"'
    + ESCAPED_NAME
    + '","\\u0070\\u0072\\u0069\\u0063\\u0065":"'
    + "".join(f"\\u{ord(c):04x}" for c in "9999999999.99")
    + '"}'
).encode()
JSON = {"content-type": "application/json"}


def padded(body: bytes, size: int) -> bytes:
    """`body` followed by JSON whitespace up to exactly `size` bytes: still the same item."""
    assert len(body) <= size
    return body + b" " * (size - len(body))


def valid_item(name: str, size: int) -> bytes:
    return padded(json.dumps({"name": name, "price": "12.50"}).encode(), size)


class Counted:
    """A request body sent CHUNK bytes at a time, counting what the app pulled from it."""

    def __init__(self, body: bytes) -> None:
        self.body = body
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for start in range(0, len(self.body), CHUNK):
            chunk = self.body[start : start + CHUNK]
            self.pulled += len(chunk)
            yield chunk


@pytest.fixture(scope="module")
async def bodies_url(make_database: Callable[[], str]) -> str:
    """A database of this module's own: its row counts see only what these tests wrote."""
    return await asyncio.to_thread(make_database)


@pytest.fixture(scope="module")
async def api(
    bodies_url: str, make_settings: Callable[..., Settings]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url=bodies_url, max_json_body_bytes=CAP)
    async with running_app(settings) as client:
        yield client


async def names(url: str) -> list[str]:
    rows = await asyncio.to_thread(fetch, url, "SELECT name FROM items ORDER BY id")
    return [name for (name,) in rows]


async def a_kept_item(
    api: httpx.AsyncClient, prefix: str, method: str
) -> tuple[httpx.Response, str]:
    """A row a refused request must leave as it is, and the URL `method` writes to."""
    kept = await api.post(prefix, json={"name": "kept", "price": "1.00"})
    assert kept.status_code == 201
    return kept, prefix if method == "POST" else f"{prefix}/{kept.json()['id']}"


def assert_refused_as_json(response: httpx.Response) -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"detail": f"request body over {CAP} bytes"}


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("prefix", PREFIXES)
async def test_a_declared_body_over_the_cap_is_refused_as_json_before_a_byte_is_read(
    api: httpx.AsyncClient, bodies_url: str, prefix: str, method: str
) -> None:
    kept, url = await a_kept_item(api, prefix, method)
    before = await names(bodies_url)
    # A valid item one byte past the cap: without the cap it would be written.
    body = Counted(valid_item("too long", CAP + 1))
    response = await api.request(
        method, url, content=body, headers={**JSON, "content-length": str(CAP + 1)}
    )
    assert_refused_as_json(response)
    assert body.pulled == 0
    assert await names(bodies_url) == before
    assert (await api.get(f"{prefix}/{kept.json()['id']}")).json() == kept.json()


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("prefix", PREFIXES)
async def test_a_chunked_body_is_cut_at_the_cap_with_413_json_and_nothing_written(
    api: httpx.AsyncClient, bodies_url: str, prefix: str, method: str
) -> None:
    kept, url = await a_kept_item(api, prefix, method)
    before = await names(bodies_url)
    # No Content-Length: only counting the chunks as they come can stop it.
    body = Counted(valid_item("too long", 64 * CAP))
    response = await api.request(method, url, content=body, headers=JSON)
    assert "content-length" not in response.request.headers
    assert_refused_as_json(response)
    # Stopped at the first chunk past the cap, not after the 512 KiB sent.
    assert body.pulled <= CAP + CHUNK
    assert await names(bodies_url) == before
    assert (await api.get(f"{prefix}/{kept.json()['id']}")).json() == kept.json()


@pytest.mark.parametrize("declared", [True, False], ids=["declared", "chunked"])
@pytest.mark.parametrize("prefix", PREFIXES)
async def test_the_largest_valid_item_padded_to_the_cap_is_written(
    api: httpx.AsyncClient, prefix: str, declared: bool
) -> None:
    assert len(LARGEST_ITEM) == 2545
    body = padded(LARGEST_ITEM, CAP)
    headers = {**JSON, "content-length": str(CAP)} if declared else JSON
    created = await api.post(prefix, content=Counted(body), headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["name"] == "\N{GRINNING FACE}" * 200
    assert created.json()["price"] == "9999999999.99"
    replaced = await api.put(created.headers["location"], content=Counted(body), headers=headers)
    assert replaced.status_code == 200, replaced.text


# -- The service as its own process, sent 300 MB --

HUGE = 300 * 1024 * 1024
# Refused before a tenth of the body is sent: the refusal needs the headers only (or the
# chunks up to the cap), and past it the client can send no more than the sockets' buffers
# hold (a few MiB on loopback), however slow a busy machine makes either side. A server that
# reads the whole body answers after all of it. Counted in bytes, not seconds, so load
# cannot move it; the seconds are reported. Resident memory up by less than 20 MB meanwhile.
SENT_BEFORE_ANSWER_BELOW = HUGE // 10
# Only so that a server reading the whole body fails rather than hangs the test.
ANSWER_WITHIN = 60.0
RSS_GROWTH_BELOW = 20 * 1024 * 1024
SEND_CHUNK = 1024 * 1024


def resident_bytes(pid: int) -> int:
    # VmRSS now, not VmHWM: the high-water mark cannot show a second peak below the first.
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


@contextmanager
def sampled_rss(pid: int) -> Iterator[list[int]]:
    """VmRSS of `pid` every 5 ms, in a thread of its own, for as long as the block runs."""
    samples = [resident_bytes(pid)]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.005):
            samples.append(resident_bytes(pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield samples
    finally:
        done.set()
        sampler.join()


async def send_huge(writer: asyncio.StreamWriter, chunked: bool, sent: list[int]) -> None:
    """A valid item padded with whitespace to 300 MB, sent as fast as the socket takes it,
    until it is all sent or the server closes the connection; `sent[0]` counts the bytes
    the socket has taken."""
    start = json.dumps({"name": "huge", "price": "1.00"}).encode()
    pieces = [start, *([b" " * SEND_CHUNK] * ((HUGE - len(start)) // SEND_CHUNK))]
    pieces.append(b" " * (HUGE - sum(map(len, pieces))))
    with suppress(ConnectionError):
        for piece in pieces:
            writer.write(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            await writer.drain()
            sent[0] += len(piece)
            # drain() returns without yielding while the server reads as fast as this
            # writes: without a turn of the loop here the answer, long arrived, would be
            # read only once all 300 MB were sent (seen under two busy loops).
            await asyncio.sleep(0)
        if chunked:
            writer.write(b"0\r\n\r\n")
            await writer.drain()


async def read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str], bytes]:
    status = int((await reader.readline()).split()[1])
    headers = {}
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    body = await reader.readexactly(int(headers["content-length"]))
    return status, headers, body


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
@pytest.mark.parametrize("prefix", PREFIXES)
async def test_a_300_mb_body_is_refused_before_it_is_sent_without_growing_the_process(
    service_database: str, tmp_path: Path, prefix: str, chunked: bool
) -> None:
    cap = {"MAX_JSON_BODY_BYTES": str(CAP)}
    async with serving(service_database, tmp_path, shutdown_timeout=1, environment=cap) as server:
        framing = "transfer-encoding: chunked" if chunked else f"content-length: {HUGE}"
        head = (
            f"POST {prefix} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"{framing}\r\n\r\n"
        ).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        try:
            with sampled_rss(server.process.pid) as samples:
                writer.write(head)
                started = time.monotonic()
                sent = [0]
                sending = asyncio.create_task(send_huge(writer, chunked, sent))
                try:
                    try:
                        status, headers, body = await asyncio.wait_for(
                            read_response(reader), ANSWER_WITHIN
                        )
                    except TimeoutError:
                        pytest.fail(f"no answer within {ANSWER_WITHIN} s of the headers")
                    elapsed = time.monotonic() - started
                    sent_before_answer = sent[0]
                    # The rest keeps coming, as a client that does not read answers would
                    # send it: the memory is sampled until it is all sent or refused.
                    await asyncio.wait_for(sending, 60)
                finally:
                    sending.cancel()
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()
        assert status == 413
        assert headers["content-type"] == "application/json"
        assert json.loads(body) == {"detail": f"request body over {CAP} bytes"}
        assert sent_before_answer < SENT_BEFORE_ANSWER_BELOW, (
            f"answered after {sent_before_answer / 2**20:.0f} MiB sent ({elapsed:.2f} s)"
        )
        print(f"refused after {sent_before_answer / 2**20:.1f} MiB sent, {elapsed * 1000:.0f} ms")
        growth = max(samples) - samples[0]
        assert growth < RSS_GROWTH_BELOW, f"resident memory grew {growth / 2**20:.1f} MiB"
        # Nothing of it was written, and the service still serves.
        assert await asyncio.to_thread(fetch, service_database, "SELECT * FROM items") == []
        async with httpx.AsyncClient(base_url=server.url) as client:
            assert (await client.get(prefix)).status_code == 200


@pytest.mark.parametrize("prefix", PREFIXES)
async def test_the_write_routes_declare_their_413_in_the_openapi_schema(
    api: httpx.AsyncClient, prefix: str
) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    for path, method in ((prefix, "post"), (prefix + "/{item_id}", "put")):
        declared = paths[path][method]["responses"]["413"]
        assert declared["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorDetail"
        }
    # The reads take no body, so they declare none.
    assert "413" not in paths[prefix]["get"]["responses"]
