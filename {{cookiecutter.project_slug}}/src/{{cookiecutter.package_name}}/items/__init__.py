"""One resource, two drivers: items on asyncpg (`async def` routes) and on psycopg2 (`def`
routes and the bridge), over the same table, with the same models and the same JSON."""
