"""Regenerate the uv.lock files the bakes ship: `make lock` (or `make lock-upgrade`).

A bake's dependencies depend on two options, `database` and `outbound_http`, so there is one
lock per combination (`locks/<database>-outbound-<yes|no>.lock`); the post-generation hook
keeps the one a bake needs as its uv.lock. Each is made in a real bake of that combination,
so it resolves exactly the generated pyproject.toml. Two of its fields depend on other
options: the root package's name (the project slug) and `requires-python` (the
python_version option). Both become Jinja again; every pin and hash is the same for every
variant. Each lock is resolved in a bake for the lowest python_version offered (3.11), whatever
the default, so one resolution covers every later version too (with markers where a version
needs other pins); the template's tests run `uv sync --locked` on every variant, 3.14 and 3.15
in Debian sid, to prove it.

The defaults' lock is made first; every other one starts from its pins, so a package has the
same version in every lock.

Without --upgrade, the pins of the current lock are kept and only what pyproject.toml no
longer allows moves (`uv lock` prefers locked versions). With --upgrade, everything moves to
the newest versions the ranges allow: run the template's tests afterwards, which then run
on exactly those versions, and commit the lock with them.
"""

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from cookiecutter.main import cookiecutter

TEMPLATE = Path(__file__).resolve().parent.parent
LOCKS = TEMPLATE / "{{cookiecutter.project_slug}}" / "locks"
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
# The options a bake's dependencies depend on, the defaults' combination first.
COMBINATIONS = [
    {"database": database, "outbound_http": outbound}
    for database in DEFAULTS["database"]
    for outbound in DEFAULTS["outbound_http"]
]


def lock_of(options: dict[str, str]) -> Path:
    return LOCKS / f"{options['database']}-outbound-{options['outbound_http']}.lock"


SLUG_FIELD = '[[package]]\nname = "{slug}"\nversion = "0.1.0"\nsource = {{ editable = "." }}\n'
PYTHON_FIELD = 'requires-python = ">={python}"\n'


def with_jinja(lock: str, slug: str, python: str) -> str:
    """The baked lock with the two option-dependent fields written as Jinja."""
    for literal, jinja in (
        (
            SLUG_FIELD.format(slug=slug),
            SLUG_FIELD.format(slug="{{ cookiecutter.project_slug }}"),
        ),
        (
            PYTHON_FIELD.format(python=python),
            PYTHON_FIELD.format(python="{{ cookiecutter.python_version }}"),
        ),
    ):
        if lock.count(literal) != 1:
            sys.exit(f"expected exactly one {literal!r} in the lock")
        lock = lock.replace(literal, jinja)
    leftover = re.search(r"{{|{%|{#", lock.replace("{{ cookiecutter.", ""))
    if leftover:
        sys.exit(f"the lock holds Jinja syntax at {leftover.start()}: escape it first")
    return lock


def without_jinja(lock: str, slug: str, python: str) -> str:
    return lock.replace("{{ cookiecutter.project_slug }}", slug).replace(
        "{{ cookiecutter.python_version }}", python
    )


def lock(options: dict[str, str], seed: Path, *, upgrade: bool) -> None:
    """Bake `options`, lock it starting from the pins in `seed`, write it to its lock file."""
    if not lock_of(options).exists():
        # The bake installs its combination's lock: a new one starts as a copy of the seed.
        shutil.copyfile(seed, lock_of(options))
    with tempfile.TemporaryDirectory(prefix="lock-bake-") as scratch:
        # The lowest choice: a lock resolved for `>=3.14` would hold no wheels for 3.11.
        python = min(DEFAULTS["python_version"], key=lambda v: tuple(map(int, v.split("."))))
        project = Path(
            cookiecutter(
                str(TEMPLATE),
                no_input=True,
                output_dir=scratch,
                extra_context={**options, "python_version": python},
            )
        )
        slug = project.name
        if seed.exists():
            baked = project / "uv.lock"
            baked.write_text(without_jinja(seed.read_text(encoding="utf-8"), slug, python))
        command = ["uv", "lock", *(["--upgrade"] if upgrade else [])]
        subprocess.run(command, cwd=project, check=True)
        locked = (project / "uv.lock").read_text(encoding="utf-8")
        lock_of(options).write_text(with_jinja(locked, slug, python), encoding="utf-8")
        shutil.rmtree(project)
    print(f"wrote {lock_of(options).relative_to(TEMPLATE)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="move every pin to the newest")
    args = parser.parse_args()
    defaults, *others = COMBINATIONS
    lock(defaults, lock_of(defaults), upgrade=args.upgrade)
    for options in others:
        # Seeded with the defaults' pins: what both need resolves to the same versions.
        lock(options, lock_of(defaults), upgrade=False)


if __name__ == "__main__":
    main()
