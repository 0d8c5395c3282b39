import os
import subprocess
import sys
import time

import httpx

from {{ cookiecutter.package_name }}.dev.upstream_stub import app

from ..support.harness import free_port

STUB = [sys.executable, "-m", "{{ cookiecutter.package_name }}.dev.upstream_stub"]


async def test_upstream_stub_answers_after_the_delay_it_was_asked_for() -> None:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://upstream.test") as client:
        answered = await client.get("/delay/0.01")
        refused = await client.get("/delay/11")
    assert answered.status_code == 200
    assert answered.json() == {"delay": 0.01, "headers": {}}
    assert refused.status_code == 422


def test_the_stub_runs_as_its_own_program_on_host_and_port_from_the_environment() -> None:
    # What compose and scripts/bench_transports.py run.
    port = free_port()
    environment = {**os.environ, "HOST": "127.0.0.1", "PORT": str(port), "LOG_LEVEL": "warning"}
    stub = subprocess.Popen(STUB, env=environment)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/delay/0", timeout=5)
                break
            except httpx.TransportError:
                assert stub.poll() is None, "the stub exited"
                assert time.monotonic() < deadline, "the stub never answered"
                time.sleep(0.1)
    finally:
        stub.terminate()
        stub.wait(timeout=30)
    assert response.status_code == 200
    assert response.json() == {"delay": 0.0, "headers": {}}
