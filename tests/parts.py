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
