"""Create the items table, shared by /async/items (asyncpg) and /sync/items (psycopg2).

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The constraints repeat the API's validation so that no client of either driver can
    # store a row the API would refuse.
    op.execute("""
        CREATE TABLE items (
            id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            name       text NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
            price      numeric(12, 2) NOT NULL CHECK (price >= 0),
            created_at timestamptz NOT NULL DEFAULT now()
        )
    """)
    # Pagination walks by id; the primary key index already serves ORDER BY id.


def downgrade() -> None:
    op.execute("DROP TABLE items")
