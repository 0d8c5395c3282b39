"""An ASGI app served by uvicorn in a thread of this process: a stand-in in development, the
service and its stand-ins in the tests."""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Literal

import uvicorn
from starlette.types import ASGIApp


@contextmanager
def serve_in_background(
    served: ASGIApp,
    *,
    host: str = "127.0.0.1",
    lifespan: Literal["on", "off"] = "off",
    log_level: str | None = "warning",
) -> Iterator[str]:
    """Serve `served` with uvicorn on a free port of `host`, in a daemon thread with its own
    event loop; yield its base URL.

    The tests serve the stub and the service so (tests/support/harness.py), for real sockets
    and a loop apart. Call it where no event loop runs: it waits for the start-up by polling.
    """
    listener = socket.socket()
    listener.bind((host, 0))
    port = listener.getsockname()[1]
    config = uvicorn.Config(
        served,
        log_config=None,  # the process's logging is already set up
        # uvicorn sets its loggers' level for the whole process: "warning" silences the
        # access lines of every server in it; None leaves the process's own setting.
        log_level=log_level,
        lifespan=lifespan,
        # Nothing here serves websockets, and older uvicorn releases import
        # websockets.legacy for them (a DeprecationWarning, an error in the tests).
        ws="none",
        timeout_graceful_shutdown=1,  # a client that never hangs up does not hold the exit
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [listener]}, name="uvicorn-thread", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + 60  # start-up may spawn processes: slow on a busy machine
        while not server.started:
            if time.monotonic() > deadline or not thread.is_alive():
                raise RuntimeError("the server did not start")
            time.sleep(0.01)
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        listener.close()
