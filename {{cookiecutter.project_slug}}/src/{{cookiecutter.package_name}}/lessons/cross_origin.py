"""Lets the lesson page (page.py) read the answers of the routes it times, from other names.

A browser opens at most six HTTP/1.1 connections to one host name and queues the rest: ten
requests fired at once at one name arrive as six, then four, and the page would draw that
limit of the browser as if it were the server's. So the page spreads its requests over names
of its own under localhost (`slow-0.localhost`, `slow-1.localhost`, ...), which browsers
resolve to this machine without asking DNS (RFC 6761): the same server on the same port,
six connections per name. Each name is another origin, so the browser hands the page an
answer only if the answer allows it (CORS): these routes allow a page on a loopback name and
this same port, that is, the page this service serves. Nobody else reads them across origins.
"""

from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_the_lesson_page(origin: str, host: str) -> bool:
    """Whether `origin` (the page's) is a loopback name on the port `host` (the request's)."""
    try:
        page, served = urlsplit(origin), urlsplit(f"//{host}")
        same_port = page.port == served.port
    except ValueError:  # a port that is not a number
        return False
    name = page.hostname or ""
    loopback = name in LOOPBACK_NAMES or name.endswith(".localhost")
    return page.scheme == "http" and loopback and same_port


async def let_the_lesson_page_read(request: Request, response: Response) -> None:
    # `async def`: two header lookups, no I/O; a `def` would cost a thread hop per request.
    origin = request.headers.get("origin")
    if origin is not None and is_the_lesson_page(origin, request.headers.get("host", "")):
        response.headers["Access-Control-Allow-Origin"] = origin
    # The answer depends on Origin: a cache must not hand one origin's answer to another.
    response.headers["Vary"] = "Origin"


# On each route the page times (in `dependencies=[...]`), and only there.
READ_BY_THE_PAGE = Depends(let_the_lesson_page_read)
