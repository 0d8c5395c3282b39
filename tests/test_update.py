"""A generated project takes a later template version with cruft, keeping its own changes.

The template is copied into a temporary git repository (so the test can commit to it), baked
with `cruft create` at one commit, changed in the project as a user would and committed, then
the template gets a commit of its own and `cruft update` brings it in: both changes must be
there, in the same file too (a three-way merge, not an overwrite). No uv sync: seconds only.
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from .bakes import TEMPLATE_DIR
from .shell import run

CRUFT = str(Path(sys.executable).parent / "cruft")
NOT_TEMPLATE = shutil.ignore_patterns(
    ".git", ".venv", ".cache", "build", "__pycache__", ".pytest_cache", ".ruff_cache"
)
GIT_IDENTITY = {
    "GIT_AUTHOR_NAME": "Template Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Template Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}
USER_SECTION = "\n## Our team's notes\n\nOn call: the payments squad.\n"
TEMPLATE_LINE = "A line the template added in a later version.\n"


def git(cwd: Path, *args: str) -> str:
    return run(["git", *args], cwd, **GIT_IDENTITY)


def commit_all(cwd: Path, message: str) -> str:
    git(cwd, "add", "--all")
    git(cwd, "commit", "--quiet", "--message", message)
    return git(cwd, "rev-parse", "HEAD").strip()


def test_cruft_update_brings_a_template_change_and_keeps_the_users(tmp_path: Path) -> None:
    template = tmp_path / "template"
    shutil.copytree(TEMPLATE_DIR, template, ignore=NOT_TEMPLATE)
    git(template, "init", "--quiet", "--initial-branch=main")
    first = commit_all(template, "the template at generation time")

    run([CRUFT, "create", "--no-input", "--output-dir", str(tmp_path), str(template)], tmp_path)
    project = tmp_path / "my-service"
    link = json.loads((project / ".cruft.json").read_text(encoding="utf-8"))
    assert link["commit"] == first
    assert link["context"]["cookiecutter"]["package_name"] == "my_service"
    git(project, "init", "--quiet", "--initial-branch=main")
    commit_all(project, "generated")

    # The user's change: their own section at the end of the README, and a module.
    readme = project / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8") + USER_SECTION, encoding="utf-8")
    (project / "src" / "my_service" / "billing.py").write_text('"""Ours."""\n')
    commit_all(project, "our changes")

    # The template's change, near the top of the same README, in a later commit.
    template_readme = template / "{{cookiecutter.project_slug}}" / "README.md"
    text = template_readme.read_text(encoding="utf-8")
    assert text.count("## Run, test\n") == 1
    template_readme.write_text(text.replace("## Run, test\n", "## Run, test\n\n" + TEMPLATE_LINE))
    later = commit_all(template, "a later template version")

    behind = subprocess.run(
        [CRUFT, "check"],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **GIT_IDENTITY},
    )
    assert behind.returncode == 1, behind.stdout + behind.stderr
    run([CRUFT, "update", "--skip-apply-ask"], project, **GIT_IDENTITY)

    merged = readme.read_text(encoding="utf-8")
    assert TEMPLATE_LINE in merged
    assert merged.endswith(USER_SECTION)
    assert (project / "src" / "my_service" / "billing.py").read_text() == '"""Ours."""\n'
    assert json.loads((project / ".cruft.json").read_text(encoding="utf-8"))["commit"] == later
    run([CRUFT, "check"], project, **GIT_IDENTITY)
