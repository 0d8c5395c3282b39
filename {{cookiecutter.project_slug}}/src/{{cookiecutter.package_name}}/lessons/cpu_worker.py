"""What each CPU worker process runs before its first task.

Apart from process_pool.py, which the server uses: the fork server imports this module (and
the work, cpu_work.py) before it forks the workers, and only that.
"""

import signal
from typing import TYPE_CHECKING

from ..observability.log_config import LogFormat, configure_logging

if TYPE_CHECKING:
    from ..observability.tracing import Export


def start_cpu_worker(log_format: LogFormat, log_level: str, export: "Export | None") -> None:
    """The pool's initializer."""
    # Ctrl-C at a terminal sends SIGINT to the whole foreground process group: the server
    # and these workers alike. The server stops them itself (CpuPool.shutdown, from the
    # lessons' lifespan); left to SIGINT, each idle worker would die of KeyboardInterrupt
    # first and print its traceback over the server's shutdown lines.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    configure_logging(log_format, log_level)
    if export is not None:
        # Imported only when tracing is on (it brings FastAPI and the SDK). Its own exporter:
        # spans made here are sent from here (the SDK sends what is left when the process
        # exits at the pool's shutdown).
        from ..observability.tracing import start_exporting  # noqa: PLC0415

        start_exporting(export)
