"""Regenerate the uv.lock that every bake ships: `make lock` (or `make lock-upgrade`).

The lock is made in a real bake of the defaults, so it resolves exactly the generated
pyproject.toml. Two of its fields depend on the options: the root package's name (the
project slug) and `requires-python` (the python_version option). Both become Jinja again;
everything else, every pin and hash, is the same for every variant. The lock is resolved in
a bake for the lowest python_version offered (3.11), whatever the default, so the one
resolution covers every later version too (with markers where a version needs other pins);
the template's tests run `uv sync --locked` on every variant, 3.14 and 3.15 in Debian sid, to
prove it.

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
LOCK = TEMPLATE / "{{cookiecutter.project_slug}}" / "uv.lock"
DEFAULTS = json.loads((TEMPLATE / "cookiecutter.json").read_text(encoding="utf-8"))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--upgrade", action="store_true", help="move every pin to the newest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lock-bake-") as scratch:
        # The lowest choice: a lock resolved for `>=3.14` would hold no wheels for 3.11.
        python = min(DEFAULTS["python_version"], key=lambda v: tuple(map(int, v.split("."))))
        project = Path(
            cookiecutter(
                str(TEMPLATE),
                no_input=True,
                extra_context={"python_version": python},
                output_dir=scratch,
            )
        )
        slug = project.name
        if LOCK.exists():
            baked = project / "uv.lock"
            baked.write_text(without_jinja(LOCK.read_text(encoding="utf-8"), slug, python))
        command = ["uv", "lock", *(["--upgrade"] if args.upgrade else [])]
        subprocess.run(command, cwd=project, check=True)
        lock = (project / "uv.lock").read_text(encoding="utf-8")
        LOCK.write_text(with_jinja(lock, slug, python), encoding="utf-8")
        shutil.rmtree(project)
    print(f"wrote {LOCK.relative_to(TEMPLATE)}")


if __name__ == "__main__":
    main()
