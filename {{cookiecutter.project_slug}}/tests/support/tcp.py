"""Network faults on 127.0.0.1: a server that accepts TCP and never answers, and a proxy to
PostgreSQL that can start behaving like one."""

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress


@contextmanager
def silent_server() -> Iterator[int]:
    """A port whose listener completes the TCP handshake (the kernel does, from the backlog)
    and then never says a word: libpq waits for the server's answer until connect_timeout.
    Closing it at the end resets every waiting connection."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield listener.getsockname()[1]


def connect(target: tuple[str, int] | str) -> socket.socket:
    if isinstance(target, str):
        unix = socket.socket(socket.AF_UNIX)
        unix.connect(target)
        return unix
    return socket.create_connection(target)


class SwitchableProxy:
    """Forwards connections to `target` until `go_silent()`; connections accepted after
    that are held open and never answered (a database that stopped answering)."""

    def __init__(self, target: tuple[str, int] | str) -> None:
        """`target`: (host, port), or the path of a Unix socket."""
        self._target = target
        self._silent = threading.Event()
        self._listener = socket.socket()
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def go_silent(self) -> None:
        self._silent.set()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            if self._silent.is_set():
                self.held.append(client)
                continue
            server = connect(self._target)
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # Shutting down wakes the pump of the other direction; closing then frees both
            # sockets now, not whenever the collector finds them (a ResourceWarning there,
            # which the suite turns into an error in whatever test is running).
            for end in (source, sink):
                with suppress(OSError):
                    end.shutdown(socket.SHUT_RDWR)
            for end in (source, sink):
                end.close()

    def close(self) -> None:
        self._listener.close()
        for held in self.held:
            held.close()
