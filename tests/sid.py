"""Debian sid's Python 3.14 and 3.15, for the bakes this machine cannot run itself.

Machines of this kind have Debian bookworm's Python 3.11 and uv may not download interpreters;
Debian sid packages 3.14 and 3.15. mmdebstrap makes one sid root filesystem with both and with
everything else the generated suite calls (pgbouncer, promtool, mount; useradd for the embedded
PostgreSQL), so that suite runs there as on the host, with nothing skipped.

The tree is made once per machine and kept under CACHE_DIR, named by a stamp of its recipe and
its build time. A new recipe, or a tree older than MAX_AGE (sid moves on, and its interpreters
get patch releases), makes a new one; trees no session uses any more are removed. The first
session (or xdist worker) to need the tree builds it under a file lock while the others wait;
each session holds a shared lock on the tree it uses, so it is not removed under it.

Each command runs in mount and PID namespaces of its own (tests/sid_init.py is their PID 1), on
an overlay whose upper layer is memory of that namespace: the cached tree is never written,
commands running at once do not see each other's files, and what a command leaves behind (users
the embedded PostgreSQL adds, /tmp, a stray daemon) goes with its namespace. The network is the
host's: the test PostgreSQL on 127.0.0.1 and PyPI are reachable. The host's certificate bundle is
mounted in, since this machine reaches PyPI through certificate authorities of its own.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from .containers import EATMYDATA_HOOKS, LOW_PRIORITY, LOW_PRIORITY_TIMEOUT, MMDEBSTRAP_OPTIONS

SUITE = "sid"
MIRROR = "http://deb.debian.org/debian"
PYTHONS = ("3.14", "3.15")
PACKAGES = (
    *(f"python{version}" for version in PYTHONS),
    "ca-certificates",
    "netbase",
    "procps",
    "passwd",  # useradd: the embedded PostgreSQL runs as a user it creates
    "pgbouncer",  # tests/test_pgbouncer.py starts Debian's binary
    "prometheus",  # promtool: tests/test_metrics.py lints /metrics with it
    "mount",  # tests/files/test_file_space.py mounts a small tmpfs
)
MMDEBSTRAP = [
    "--quiet",
    "--variant=apt",
    # sid's Release file is past its Valid-Until date on this machine kind's mirror.
    '--aptopt=Acquire::Check-Valid-Until "false"',
    f"--include={','.join(PACKAGES)}",
    *MMDEBSTRAP_OPTIONS,
]
# Part of the stamp: raise it when the tree's layout changes in a way the recipe does not show.
LAYOUT = 1
STAMP = hashlib.sha256(json.dumps([LAYOUT, SUITE, MIRROR, MMDEBSTRAP]).encode()).hexdigest()[:12]
# Kept between runs, shared by every checkout on the machine (override for other machines).
CACHE_DIR = Path(
    os.environ.get("TEMPLATE_SID_CACHE", "/var/cache/cookiecutter-fastapi-concurrency")
)
MAX_AGE = 7 * 24 * 3600.0
TOOLS = ("mmdebstrap", "unshare", "mount")

# Inside the tree: where the caller's work directory and uv's cache are mounted.
WORK = "/srv/work"
UV_CACHE = "/var/cache/uv"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HOST_EXTRA_CAS = Path("/usr/local/share/ca-certificates")
PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin"
# How the host reaches package indexes, if it is told to: the same inside.
PASSED_THROUGH = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "UV_DEFAULT_INDEX",
    "UV_INDEX",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
)
INIT = Path(__file__).with_name("sid_init.py")


class SidFailed(AssertionError):
    pass


def missing_tools() -> list[str]:
    return [tool for tool in TOOLS if shutil.which(tool) is None]


@dataclass(frozen=True)
class Rootfs:
    """One built tree and what it needs to run commands."""

    generation: Path

    @property
    def tree(self) -> Path:
        return self.generation / "tree"

    @property
    def built(self) -> dict[str, Any]:
        marker: dict[str, Any] = json.loads((self.generation / "ready").read_text())
        return marker

    def command(
        self,
        command: Sequence[str],
        *,
        work: Path | None = None,
        cwd: str = "/",
        env: Mapping[str, str] | None = None,
        low_priority: bool = False,
    ) -> list[str]:
        """The host command line that runs `command` in the tree, `work` mounted at WORK."""
        uv = shutil.which("uv")
        if uv is None:
            raise SidFailed("uv is not on PATH: it is mounted into the tree from the host")
        binds: list[tuple[str, str, bool]] = [
            (str(self.generation / "uv-cache"), UV_CACHE, False),
            (str(Path(uv).resolve()), "/usr/local/bin/uv", True),
            (str(HOST_CA_BUNDLE), str(HOST_CA_BUNDLE), True),
        ]
        binds += [(path, path, True) for path in ("/etc/resolv.conf", "/etc/hosts")]
        if HOST_EXTRA_CAS.is_dir():
            binds.append((str(HOST_EXTRA_CAS), str(HOST_EXTRA_CAS), True))
        if work is not None:
            binds.append((str(work), WORK, False))
        spec = {
            "scratch": str(self.generation / "mnt"),
            "tree": str(self.tree),
            "binds": binds,
            "cwd": cwd,
            "command": list(command),
            "env": {
                **{name: os.environ[name] for name in PASSED_THROUGH if name in os.environ},
                "PATH": PATH,
                "HOME": "/root",
                "LANG": "C.UTF-8",
                "SSL_CERT_FILE": str(HOST_CA_BUNDLE),
                "UV_CACHE_DIR": UV_CACHE,
                "UV_PYTHON_DOWNLOADS": "never",
                "UV_NO_PROGRESS": "1",
                **(env or {}),
            },
        }
        # --kill-child: if this process is killed (a timeout), the namespace's PID 1 is too,
        # and with it everything the command started.
        namespace = ["unshare", "--mount", "--pid", "--fork", "--kill-child"]
        unshare = [*namespace, "--propagation=private", sys.executable, str(INIT)]
        return [*(LOW_PRIORITY if low_priority else []), *unshare, json.dumps(spec)]

    def run(
        self,
        command: Sequence[str],
        *,
        work: Path | None = None,
        cwd: str = "/",
        env: Mapping[str, str] | None = None,
        timeout: float = 600,
        low_priority: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        """Run `command` in the tree; the caller checks the result."""
        return subprocess.run(
            self.command(command, work=work, cwd=cwd, env=env, low_priority=low_priority),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )


@contextmanager
def locked(path: Path, operation: int) -> Iterator[IO[str]]:
    with path.open("a") as handle:
        fcntl.flock(handle, operation)
        yield handle


def generations() -> list[Path]:
    return sorted(CACHE_DIR.glob("sid-*"))


def fresh(generation: Path) -> bool:
    marker = generation / "ready"
    if not generation.name.startswith(f"sid-{STAMP}-") or not marker.is_file():
        return False
    built = float(json.loads(marker.read_text())["built"])
    return time.time() - built < MAX_AGE


def build() -> Path:
    """A new tree, checked: each Python runs in it. Called with the cache lock held."""
    generation = CACHE_DIR / f"sid-{STAMP}-{int(time.time())}"
    generation.mkdir()
    hooks = [f"--hook-dir={EATMYDATA_HOOKS}"] if EATMYDATA_HOOKS.is_dir() else []
    result = subprocess.run(
        [*LOW_PRIORITY, "mmdebstrap", *MMDEBSTRAP, *hooks, SUITE, str(generation / "tree"), MIRROR],
        capture_output=True,
        text=True,
        timeout=LOW_PRIORITY_TIMEOUT,
        check=False,
    )
    if result.returncode != 0:
        raise SidFailed(f"mmdebstrap exited {result.returncode}:\n{result.stderr[-6000:]}")
    for directory in ("mnt", "uv-cache"):
        (generation / directory).mkdir()
    rootfs = Rootfs(generation)
    versions = {}
    for version in PYTHONS:
        probe = rootfs.run([f"python{version}", "-c", "import sys; print(sys.version.split()[0])"])
        if probe.returncode != 0 or not probe.stdout.startswith(version):
            raise SidFailed(f"python{version} in the new tree: {probe.stdout}{probe.stderr}")
        versions[version] = probe.stdout.strip()
    marker = {"built": time.time(), "stamp": STAMP, "pythons": versions}
    (generation / "ready").write_text(json.dumps(marker), encoding="utf-8")
    return generation


def remove_unused(keep: Path) -> None:
    """Remove every other tree no session holds (a stale one, or what a killed build left).
    Called with the cache lock held, so nobody starts using one meanwhile."""
    for generation in generations():
        if generation == keep:
            continue
        with (generation / "in-use").open("a") as in_use:
            try:
                fcntl.flock(in_use, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                continue  # another session runs commands in it
            # Nothing is mounted in it here: every mount lived in a namespace of its own.
            shutil.rmtree(generation, ignore_errors=True)


@contextmanager
def sid_root() -> Iterator[Rootfs]:
    """The current tree, built if there is none, held (shared) until the block ends."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with locked(CACHE_DIR / "lock", fcntl.LOCK_EX):
        current = next((g for g in reversed(generations()) if fresh(g)), None)
        if current is None:
            current = build()
        # Taken before the cache lock is let go: no other session may remove it from now on.
        in_use = (current / "in-use").open("a")
        fcntl.flock(in_use, fcntl.LOCK_SH)
        remove_unused(keep=current)
    try:
        yield Rootfs(current)
    finally:
        in_use.close()
