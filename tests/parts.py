"""The variants of the optional parts the template's tests bake: each option changed alone
from the defaults, the leanest service, and psycopg2 alone without the lessons."""

PART_VARIANTS: dict[str, dict[str, str]] = {
    "no-lessons": {"lessons": "no"},
    "asyncpg-only": {"database": "asyncpg"},
    "psycopg2-only": {"database": "psycopg2"},
    "no-outbound-http": {"outbound_http": "no"},
    "no-file-storage": {"file_storage": "no"},
    "leanest": {
        "lessons": "no",
        "database": "asyncpg",
        "outbound_http": "no",
        "file_storage": "no",
    },
    "psycopg2-without-lessons": {"lessons": "no", "database": "psycopg2"},
}

# The variants whose whole suite runs and whose mutants are killed again: the service a team
# ships with the fewest parts, on each driver. The others change one option each.
LEAN_VARIANTS = ("leanest", "psycopg2-without-lessons")
