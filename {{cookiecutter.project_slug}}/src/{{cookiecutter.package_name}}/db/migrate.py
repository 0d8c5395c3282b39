"""Schema migrations with Alembic, written as plain SQL revisions (no ORM models).

`python -m {{ cookiecutter.package_name }} migrate` runs upgrade_to_head; it is idempotent.
New revision: `uv run alembic revision -m "what changes"` (alembic.ini points here).
"""

from dataclasses import dataclass
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Passed as an attribute, not a main option: ini values are %-interpolated.
    config.attributes["database_url"] = database_url
    return config


def upgrade_to_head(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


@dataclass(frozen=True, slots=True)
class SchemaRevisions:
    """The migrations this release ships: which revision it needs, and which it knows."""

    head: str
    known: frozenset[str]

    def behind(self, current: str | None) -> bool:
        """Whether a database at `current` lacks what this release needs. A revision this
        release does not know belongs to a newer release, which migrated first and must keep
        working with this one (see docs/deployment.md): not behind."""
        return current is None or (current in self.known and current != self.head)


def schema_revisions() -> SchemaRevisions:
    """Blocking (reads the migration files): the lifespan calls it in a thread."""
    script = ScriptDirectory.from_config(alembic_config())
    head = script.get_current_head()
    assert head is not None, "no migrations found"
    return SchemaRevisions(head, frozenset(rev.revision for rev in script.walk_revisions()))
