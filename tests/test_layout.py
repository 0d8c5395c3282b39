"""The layout keeps its promises: options live in whole files, and the import directions
say what is the service and what is the classroom.

Control tags (`{% if %}`, `{% for %}`, ...) may appear only where a part is wired in: the
four composition modules of the package, pyproject.toml, the deployment files and the docs.
Everywhere else a part is files of its own, which the post-generation hook removes.
"""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from .bakes import TEMPLATE_DIR

PROJECT = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"
PACKAGE = PROJECT / "src" / "{{cookiecutter.package_name}}"
CONTROL_TAG = re.compile(r"{%-?\s*(if|elif|else|endif|for|endfor|set|macro|block)\b")
# Where a control tag may wire a part in (paths relative to the generated project).
WIRING = {
    "src/{{cookiecutter.package_name}}/app.py",
    "src/{{cookiecutter.package_name}}/lifespan.py",
    "src/{{cookiecutter.package_name}}/settings.py",
    "src/{{cookiecutter.package_name}}/dependencies.py",
    "pyproject.toml",
    "README.md",
    ".env.example",
    "docker-compose.yml",
    "Dockerfile",
    ".dockerignore",
    ".gitignore",
}
WIRING_FOLDERS = ("docs/", "deploy/", ".github/")


def template_files() -> Iterator[Path]:
    for path in sorted(PROJECT.rglob("*")):
        if path.is_file() and path.suffix not in {".lock", ".png"}:
            yield path


def control_tags() -> dict[str, int]:
    counts = {}
    for path in template_files():
        found = len(CONTROL_TAG.findall(path.read_text(encoding="utf-8")))
        if found:
            counts[str(path.relative_to(PROJECT))] = found
    return counts


def test_control_tags_appear_only_where_a_part_is_wired_in() -> None:
    counts = control_tags()
    elsewhere = {
        path: count
        for path, count in counts.items()
        if path not in WIRING and not path.startswith(WIRING_FOLDERS)
    }
    print("\ncontrol tags per file:", *(f"  {p}: {n}" for p, n in sorted(counts.items())), sep="\n")
    assert elsewhere == {}


def test_a_python_control_tag_only_asks_which_parts_the_bake_has() -> None:
    # In Python a tag wires a part in or out; it never computes anything.
    condition = re.compile(
        r"{%\s*(?:if|elif)\s+cookiecutter\.(lessons|outbound_http|file_storage|database)\s*"
        r'(?:==|!=)\s*"[a-z0-9]+"\s*%}'
    )
    for name in sorted(WIRING):
        if not name.endswith(".py"):
            continue
        for line in (PROJECT / name).read_text(encoding="utf-8").splitlines():
            if CONTROL_TAG.search(line) and not re.fullmatch(r"{%\s*(else|endif)\s*%}", line):
                assert condition.fullmatch(line.strip()) or "DRIVERS" in line, (name, line)
            if "{%" in line:
                assert line.strip().startswith("{%"), f"{name}: a tag inside a line: {line}"


def python_source(module: Path) -> str:
    """A template module's text with its tags and variables replaced, so `ast` can read it."""
    source = re.sub(r"^\s*{%.*%}\s*$", "", module.read_text(encoding="utf-8"), flags=re.M)
    return re.sub(r"{{.*?}}", "pkg", source)


def test_exceptions_are_caught_by_name_so_one_format_fits_every_python() -> None:
    # For 3.14+ ruff formats `except (A, B):` as `except A, B:` (PEP 758), which 3.11-3.13
    # cannot parse: the bake for 3.14 would fail `ruff format --check`, found only by the
    # slow interpreter check (tests/test_python_versions.py). Caught here on every run.
    tuples = [
        f"{module.relative_to(PROJECT)}:{node.lineno}"
        for module in sorted(PROJECT.rglob("*.py"))
        for node in ast.walk(ast.parse(python_source(module)))
        if isinstance(node, ast.ExceptHandler) and isinstance(node.type, ast.Tuple)
    ]
    assert tuples == [], "catch a named tuple or use contextlib.suppress instead"


def imports_of(module: Path, package_root: Path) -> set[str]:
    """The package's own modules that `module` imports, as dotted paths below the package."""
    relative = module.relative_to(package_root).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    here = parts if module.name == "__init__.py" else parts[:-1]
    found = set()
    for node in ast.walk(ast.parse(python_source(module))):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = here[: len(here) - node.level + 1]
            target = [*base, *(node.module.split(".") if node.module else [])]
            if node.module is None:
                found.update(".".join([*target, alias.name]) for alias in node.names)
            else:
                found.add(".".join(target))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("pkg."):
            found.add(node.module.removeprefix("pkg."))
    return found


def import_graph() -> dict[str, set[str]]:
    graph = {}
    for module in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(module.relative_to(PACKAGE).with_suffix("").parts)
        graph[name.removesuffix(".__init__")] = imports_of(module, PACKAGE)
    return graph


def under(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


COMPOSITION = {"__main__", "app", "workers", "settings", "lifespan", "dependencies", "errors"}


@pytest.mark.parametrize(
    ("importer", "imported", "why"),
    [
        ("*", "lessons", "the service never depends on the classroom (the app factory mounts it)"),
        ("*", "dev", "stand-ins are wired in by the composition only"),
        ("db", "items", "the pools know nothing of the resources they serve"),
        ("db", "routes", "the pools know nothing of HTTP"),
        ("observability", "db", "metrics, logs and request ids serve every part alike"),
        ("db.asyncpg_pool", "db.psycopg2_pool", "each driver stands alone"),
        ("db.psycopg2_pool", "db.asyncpg_pool", "each driver stands alone"),
    ],
)
def test_imports_point_from_the_composition_to_the_parts_never_back(
    importer: str, imported: str, why: str
) -> None:
    allowed = COMPOSITION | {imported}
    wrong = {
        f"{module} -> {target}"
        for module, targets in import_graph().items()
        for target in targets
        if under(target, imported)
        and (importer == "*" or under(module, importer))
        and not any(under(module, ok) for ok in allowed)
    }
    assert wrong == set(), why


def test_only_the_composition_sits_at_the_top_of_the_package() -> None:
    top = {path.stem for path in PACKAGE.glob("*.py")} - {"__init__"}
    assert top == COMPOSITION
