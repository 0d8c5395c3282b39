"""The one check both pools make before lending out an idle connection."""

import select


def socket_readable(fd: int) -> bool:
    """One non-blocking poll, no round trip. An idle database connection has nothing to
    read: if its socket is readable, the server said goodbye (a FATAL message, then EOF) or
    sent something nobody asked for; either way the connection is not worth trusting."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(0))
