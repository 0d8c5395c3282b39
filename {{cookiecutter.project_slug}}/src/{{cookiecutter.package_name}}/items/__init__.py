"""Items, the resource this service serves: one table, one set of models, and a repository per
driver (async_repository.py for asyncpg, sync_repository.py for psycopg2, each where the
service has that driver), so the JSON is the same whichever driver reads the row."""
