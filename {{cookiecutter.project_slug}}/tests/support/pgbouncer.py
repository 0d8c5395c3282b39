"""A real PgBouncer (Debian's `pgbouncer`) in transaction mode, in front of the test server.

Started as a child process on a free port with a config in a temporary directory, stopped
at the end. PgBouncer refuses to run as root; as root it is started with `-u nobody`, so its
files are made readable to that user. Tests that need it skip, saying why, only where the
binary is missing (CI installs it: .ci/run, .github/workflows/ci.yml).
"""

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from .harness import free_port

BINARY = "pgbouncer"
# Fewer server connections than the service opens client connections: statements of
# different clients really do share server connections, as in production.
SERVER_POOL_SIZE = 3


def server_address(server_url: str) -> tuple[str, int, str, str]:
    """(host or socket directory, port, user, password) of a postgresql:// URL."""
    parts = urlsplit(server_url)
    query = parse_qs(parts.query)
    host = parts.hostname or query.get("host", [""])[0]
    port = parts.port or int(query.get("port", ["5432"])[0])
    return host, port, unquote(parts.username or "postgres"), unquote(parts.password or "")


def version(binary: str) -> tuple[int, int]:
    """(major, minor) of `pgbouncer --version` ("PgBouncer 1.18.0", then library lines)."""
    output = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True)
    major, minor = output.stdout.split()[1].split(".")[:2]
    return int(major), int(minor)


def without_statement_tracking(binary: str) -> str:
    """The line that makes PgBouncer 1.21+ (which tracks prepared statements, by default
    since 1.22) forget them as 1.18 does: the pooler docs/deployment.md warns about, which
    the lost-statement proof needs, whichever version the machine has. 1.18 refuses the key."""
    return "max_prepared_statements = 0\n" if version(binary) >= (1, 21) else ""


def config(server_url: str, port: int, workdir: Path, binary: str) -> str:
    host, server_port, user, password = server_address(server_url)
    login = f"user={user}" + (f" password={password}" if password else "")
    return f"""\
[databases]
* = host={host} port={server_port} {login}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
; Clients are not authenticated (127.0.0.1 only, a throwaway instance); PgBouncer logs in
; to the server with the user and password above.
auth_type = any
pool_mode = transaction
default_pool_size = {SERVER_POOL_SIZE}
max_client_conn = 500
logfile = {workdir / "pgbouncer.log"}
pidfile =
{without_statement_tracking(binary)}"""


@contextmanager
def running_pgbouncer(server_url: str) -> Iterator[str]:
    """Yield PgBouncer's base URL (postgresql://postgres@127.0.0.1:<port>) until exit."""
    binary = shutil.which(BINARY) or shutil.which(BINARY, path="/usr/sbin")
    assert binary is not None, "check has_pgbouncer() first"
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="pgbouncer-") as scratch:
        workdir = Path(scratch)
        ini = workdir / "pgbouncer.ini"
        ini.write_text(config(server_url, port, workdir, binary))
        command = [binary, str(ini)]
        if os.geteuid() == 0:
            command[1:1] = ["-u", run_as(server_url)]
            workdir.chmod(0o777)  # that user writes its log here
            ini.chmod(0o644)
        process = subprocess.Popen(command, stderr=subprocess.PIPE)
        try:
            wait_until_listening(port, process, workdir)
            yield f"postgresql://postgres@127.0.0.1:{port}"
        finally:
            process.terminate()
            process.communicate(timeout=10)  # waits, and closes the stderr pipe


def wait_until_listening(port: int, process: "subprocess.Popen[bytes]", workdir: Path) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if process.poll() is not None:
            log = workdir / "pgbouncer.log"
            raise RuntimeError(
                f"pgbouncer exited: {process.stderr.read() if process.stderr else b''!r}"
                f" {log.read_text() if log.exists() else ''}"
            )
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError("pgbouncer did not listen within 10 s")


def run_as(server_url: str) -> str:
    """A user that is not root and may reach the server: for a Unix socket (the embedded
    server), the owner of its directory; for TCP, nobody."""
    host = server_address(server_url)[0]
    if host.startswith("/"):
        return pwd.getpwuid(Path(host).stat().st_uid).pw_name
    return "nobody"


def has_pgbouncer() -> bool:
    return (shutil.which(BINARY) or shutil.which(BINARY, path="/usr/sbin")) is not None
