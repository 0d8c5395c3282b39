"""Schema migrations with Alembic, written as plain SQL revisions (no ORM models).

`python -m {{ cookiecutter.package_name }} migrate` runs upgrade_to_head; it is idempotent.
New revision: `uv run alembic revision -m "what changes"` (alembic.ini points here).
"""

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not a main option: ini values are %-interpolated.
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")
