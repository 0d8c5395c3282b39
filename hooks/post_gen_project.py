"""Trim the generated project to the chosen options and print the next steps.

Cookiecutter renders this file with Jinja and runs it with the generated project as
the working directory. All logic lives in plain functions so the unit tests can import
this file without rendering it; the rendered context enters only in ``main()``.
"""

import json
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

LICENSES_DIR = "licenses"
LICENSE_FILE = "LICENSE"


def remove_path(path: Path) -> None:
    """Remove a file or a folder tree; a path that is not there is not an error."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def remove_empty_dir(path: Path) -> None:
    """Remove a folder only when it exists and is empty."""
    if path.is_dir() and not any(path.iterdir()):
        path.rmdir()


def remove_unselected_parts(project_dir: Path, *, kubernetes: str, github_actions: str) -> None:
    """Drop the Kubernetes manifests and the CI workflow when they were not asked for."""
    if kubernetes == "no":
        remove_path(project_dir / "deploy" / "kubernetes")
        remove_empty_dir(project_dir / "deploy")
    if github_actions == "no":
        remove_path(project_dir / ".github")


def install_license(project_dir: Path, license_name: str) -> None:
    """Move licenses/<license_name>.txt to LICENSE and delete the other license texts."""
    licenses_dir = project_dir / LICENSES_DIR
    source = licenses_dir / f"{license_name}.txt"
    if not source.is_file():
        msg = f"license text {LICENSES_DIR}/{license_name}.txt is missing from the template"
        raise FileNotFoundError(msg)
    source.replace(project_dir / LICENSE_FILE)
    remove_path(licenses_dir)


def next_steps(context: Mapping[str, object]) -> str:
    """The short instructions printed once the project exists."""
    slug = context["project_slug"]
    package = context["package_name"]
    port = context["http_port"]
    return "\n".join(
        [
            f"Created {slug}. Next steps:",
            f"  cd {slug}",
            "  uv sync",
            f"  uv run python -m {package}",
            f"      serves on http://127.0.0.1:{port} and starts an embedded PostgreSQL",
            "      when DATABASE_URL is unset",
            "  uv run pytest",
        ]
    )


def finish(project_dir: Path, context: Mapping[str, object]) -> None:
    """Apply every post-generation step to project_dir."""
    remove_unselected_parts(
        project_dir,
        kubernetes=str(context["kubernetes"]),
        github_actions=str(context["github_actions"]),
    )
    install_license(project_dir, str(context["license"]))


def main() -> None:
    context = json.loads(r"""{{ cookiecutter | tojson }}""")
    try:
        finish(Path.cwd(), context)
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        sys.exit(1)
    print(next_steps(context))


if __name__ == "__main__":
    main()
