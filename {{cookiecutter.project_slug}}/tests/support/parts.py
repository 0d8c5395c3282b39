"""Which database drivers this bake has, for the tests that cover every one of them.

The template removes whole files for a part a service leaves out, so a test of one part lives
with it (tests/lessons/, tests/files/, tests/outbound/, tests/test_asyncpg_*.py ...). Only
the item routes are the same on every driver, and their tests run once per driver.
"""

from {{ cookiecutter.package_name }}.settings import DRIVERS

# The item routes of each driver: the same table, the same models, the same JSON.
ITEM_ROUTES = {"asyncpg": "/async/items", "psycopg2": "/sync/items"}
ITEM_PREFIXES = [ITEM_ROUTES[driver] for driver in DRIVERS]
# An `async def` route that takes the service's own providers and needs no thread: the asyncpg
# item list (settings, the pool) where the bake has it, else readiness (the resources).
ASYNC_PROVIDERS_ROUTE = "/async/items?limit=1" if "asyncpg" in DRIVERS else "/readyz"
# Every route that reads one item by id: the bridge reads through psycopg2 from `async def`.
ITEM_READ_PREFIXES = [*ITEM_PREFIXES, *(["/bridge/items"] if "psycopg2" in DRIVERS else [])]


def timeouts(*, acquire: float | None = None, statement: float | None = None) -> dict[str, float]:
    """Settings for every pool of this bake: how long a request waits for a connection, and
    how long one statement may run (asyncpg's command timeout, psycopg2's on the server)."""
    names = {"asyncpg": "command_timeout", "psycopg2": "statement_timeout"}
    settings = {}
    for driver in DRIVERS:
        if acquire is not None:
            settings[f"{driver}_acquire_timeout"] = acquire
        if statement is not None:
            settings[f"{driver}_{names[driver]}"] = statement
    return settings


def through_pgbouncer() -> dict[str, int]:
    """What PgBouncer before 1.21 in transaction mode asks of each driver (docs/deployment.md):
    asyncpg without its statement cache (prepared statements are per server connection);
    psycopg2 needs nothing, as its statement timeout is not a startup parameter."""
    return {"asyncpg_statement_cache_size": 0} if "asyncpg" in DRIVERS else {}
