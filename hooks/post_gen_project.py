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
LOCKS_DIR = "locks"
# The package's folder in the generated project, with the package name as a placeholder.
PACKAGE = "src/{package}"

# The files of each optional part, removed when a bake leaves the part out (paths relative to
# the project; a folder goes whole). Only composition files (app, lifespan, settings,
# dependencies), pyproject.toml, the deployment files and the docs wire a part in with
# control tags; everything else of a part lives in files of its own, listed here.
PART_FILES: dict[str, tuple[str, ...]] = {
    "lessons": (
        f"{PACKAGE}/lessons",
        "tests/lessons",
        "scripts/bench_lessons.py",
        "scripts/bare_waiting.py",
        "scripts/burst_client.py",
        "docs/lesson-page.png",
        "docs/concurrency.png",
    ),
    "asyncpg": (
        f"{PACKAGE}/db/asyncpg_pool.py",
        f"{PACKAGE}/items/async_repository.py",
        f"{PACKAGE}/routes/async_items.py",
        "tests/test_asyncpg_concurrency.py",
        "tests/test_asyncpg_faults.py",
        "scripts/bare_asyncpg.py",
        "scripts/layers_asyncpg.py",
        "scripts/pool_checks_asyncpg.py",
    ),
    "psycopg2": (
        f"{PACKAGE}/db/psycopg2_pool.py",
        f"{PACKAGE}/items/sync_repository.py",
        f"{PACKAGE}/routes/sync_items.py",
        f"{PACKAGE}/routes/bridge.py",
        "tests/test_psycopg2_concurrency.py",
        "tests/test_psycopg2_pool_faults.py",
        "scripts/bare_psycopg2.py",
        "scripts/pool_checks_psycopg2.py",
    ),
    # What needs both drivers in one bake: one table read and written by both.
    "both drivers": ("tests/test_items_both_drivers.py",),
    "outbound_http": (
        f"{PACKAGE}/outbound",
        f"{PACKAGE}/routes/fanout.py",
        f"{PACKAGE}/dev/upstream_stub.py",
        "tests/outbound",
        "scripts/bench_fanout.py",
        "scripts/bench_transports.py",
    ),
    "file_storage": (f"{PACKAGE}/files", f"{PACKAGE}/routes/files.py", "tests/files"),
}
# Files that exist in two versions, one per driver that can do the job: without psycopg2,
# the asyncpg version takes the place of the default (psycopg2) one; otherwise it goes.
DRIVER_VERSIONS: dict[str, str] = {
    f"{PACKAGE}/db/migrations/env.py": f"{PACKAGE}/db/migrations/env_asyncpg.py",
    "tests/support/admin.py": "tests/support/admin_asyncpg.py",
}


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


def parts_left_out(context: Mapping[str, object]) -> list[str]:
    """The optional parts (keys of PART_FILES) these answers leave out."""
    database = context["database"]
    kept = {
        "lessons": context["lessons"] == "yes",
        "asyncpg": database in {"both", "asyncpg"},
        "psycopg2": database in {"both", "psycopg2"},
        "both drivers": database == "both",
        "outbound_http": context["outbound_http"] == "yes",
        "file_storage": context["file_storage"] == "yes",
    }
    return [part for part, keep in kept.items() if not keep]


def install_lock(project_dir: Path, context: Mapping[str, object]) -> None:
    """Keep, as uv.lock, the lock made for this bake's dependencies (scripts/lock_bake.py)."""
    locks_dir = project_dir / LOCKS_DIR
    source = locks_dir / f"{context['database']}-outbound-{context['outbound_http']}.lock"
    if not source.is_file():
        msg = f"lock {LOCKS_DIR}/{source.name} is missing from the template"
        raise FileNotFoundError(msg)
    source.replace(project_dir / "uv.lock")
    remove_path(locks_dir)


def remove_left_out_parts(project_dir: Path, context: Mapping[str, object]) -> None:
    """Remove every file of the parts left out; put each driver-specific file in place."""
    package = str(context["package_name"])
    for part in parts_left_out(context):
        for path in PART_FILES[part]:
            remove_path(project_dir / path.format(package=package))
    for default, asyncpg_version in DRIVER_VERSIONS.items():
        target = project_dir / default.format(package=package)
        replacement = project_dir / asyncpg_version.format(package=package)
        if context["database"] == "asyncpg":
            replacement.replace(target)
        else:
            remove_path(replacement)


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
    remove_left_out_parts(project_dir, context)
    install_lock(project_dir, context)
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
