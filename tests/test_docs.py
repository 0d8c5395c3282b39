"""The generated documents say what each bake contains, and nothing it lacks.

For several variants, read statically (nothing of the bake is imported, so no `uv sync`):
- the decision table holds exactly the rows of the mutants that apply to the bake; each
  row's last cell names exactly those mutants, and its proof cell links each of their proofs
  the bake has;
- every test, file and module a document names is in the bake, and every route it names is
  one the bake's app serves;
- the README's route map lists exactly the routes the app serves (read from the route
  decorators and the routers the app mounts), each part's curl line calls one of them, and
  its settings table and `.env.example` list exactly the Settings fields;
- no document names a setting of a part the bake left out.
"""

import ast
import re
from pathlib import Path

import pytest
from pytest_cookies.plugin import Cookies

from .mutants import ASYNCPG, FILES, LESSONS, MUTANTS, OUTBOUND, PSYCOPG2
from .test_deploy_artifacts import Baked, bake, compose_interpolated, env_example, settings_fields
from .test_mutants import decision_table

VARIANTS = {
    "default": {},
    "lean": {"lessons": "no", "database": "asyncpg", "outbound_http": "no", "file_storage": "no"},
    "leanpsy": {"lessons": "no", "database": "psycopg2"},
    "asyncpg": {"database": "asyncpg"},
    "psycopg2": {"database": "psycopg2"},
    "no-outbound-http": {"outbound_http": "no"},
    "no-file-storage": {"file_storage": "no", "kubernetes": "no", "github_actions": "no"},
}
DOCUMENTS = (
    "README.md",
    "docs/concurrency.md",
    "docs/deployment.md",
    "docs/performance.md",
    "docs/benchmark.md",
)
LINKED_PROOF = re.compile(r"\[`(tests/[\w/]+\.py)::(test_\w+)`\]\(\.\./([\w/]+\.py)\)")
NAMED_TEST = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)")
# A file named in prose: `lessons/process_pool.py`, scripts/bench.py, docs/deployment.md.
NAMED_FILE = re.compile(
    r"(?<![\w/.:-])((?:\.?[\w-]+/)*[\w-]+\.(?:py|md|ya?ml|toml|ini|png|lock))\b"
)
# Files of other projects the documents point into.
ELSEWHERE = {"fastapi/concurrency.py"}
# A route of the service named in prose (the stub's /delay and container paths are not).
NAMED_ROUTE = re.compile(
    r"(?<![\w.:/-])/(?:lesson|async|sync|bridge|healthz|readyz|metrics)\b[\w/{}*-]*"
)
ROUTE_SPAN = re.compile(r"^(GET|POST|PUT|DELETE) (/[^\s?]*)(?:\?\S*)?$")
CURL_URL = re.compile(r"^curl .*'?http://127\.0\.0\.1:\d+(/[^'?\s]*)", re.M)
# The first route of each part, as the README's curl lines show them.
PART_PREFIXES = {
    LESSONS: "/lesson/",
    ASYNCPG: "/async/items",
    PSYCOPG2: "/sync/items",
    OUTBOUND: "/async/upstream/",
    FILES: "/sync/files",
}
SETTING_NAME = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*\b")


@pytest.fixture(scope="module", params=list(VARIANTS))
def project(request: pytest.FixtureRequest, cookies_session: Cookies) -> Baked:
    return bake(cookies_session, VARIANTS[request.param])


@pytest.fixture(scope="module")
def every_setting(cookies_session: Cookies) -> set[str]:
    """The settings of a bake with every part."""
    return set(settings_fields(bake(cookies_session, {})))


def section(text: str, heading: str) -> str:
    return text.split(f"\n## {heading}\n", 1)[1].split("\n## ", 1)[0]


def normalised(path: str) -> str:
    """A route path with its parameters unnamed: /async/items/{item_id} -> /async/items/{}."""
    return re.sub(r"\{[^}]*\}", "{}", path)


# ---- the routes the bake's app serves, from its source --------------------------------------


def module_routes(source: Path) -> set[tuple[str, str]]:
    """(METHOD, path) of each `@router.<method>(path)` of the module's `router`."""
    tree = ast.parse(source.read_text(encoding="utf-8"))
    prefix = ""
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["router"]
            and isinstance(node.value, ast.Call)
        ):
            for keyword in node.value.keywords:
                if keyword.arg == "prefix":
                    assert isinstance(keyword.value, ast.Constant), source
                    prefix = keyword.value.value
    routes = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for decorator in node.decorator_list:
            if (
                isinstance(decorator, ast.Call)
                and isinstance(decorator.func, ast.Attribute)
                and isinstance(decorator.func.value, ast.Name)
                and decorator.func.value.id == "router"
            ):
                path = decorator.args[0]
                assert isinstance(path, ast.Constant), (source, node.name)
                routes.add((decorator.func.attr.upper(), normalised(prefix + path.value)))
    return routes


def served_routes(project: Baked) -> set[tuple[str, str]]:
    """Every route the app mounts, the anti-patterns included (ENABLE_ANTIPATTERNS=true).

    The app includes each `routes/<module>.router` (app.py); the lessons router includes each
    lesson module's router (lessons/router.py). A module with routes that neither mounts
    fails here, so the answer is exact.
    """
    package = project.path / "src" / project.package
    # Arguments after the router (a body cap, a token check) do not change what is mounted.
    included = re.compile(r"include_router\(\s*(\w+)\.router[,)]")
    mounted = {
        f"routes/{name}.py"
        for name in included.findall(project.text(f"src/{project.package}/app.py"))
    }
    lessons = package / "lessons" / "router.py"
    if lessons.is_file():
        text = lessons.read_text(encoding="utf-8")
        ((variable, loop),) = re.findall(r"for (\w+) in \(([^)]*)\)", text)
        names = {name.strip() for name in loop.split(",") if name.strip()}
        names |= set(included.findall(text)) - {variable}
        mounted |= {f"lessons/{name}.py" for name in names}
    routes: set[tuple[str, str]] = set()
    with_routes = set()
    for source in package.rglob("*.py"):
        relative = source.relative_to(package).as_posix()
        if relative.startswith("dev/"):  # the upstream stub is an app of its own
            continue
        if found := module_routes(source):
            with_routes.add(relative)
            routes |= found
    assert with_routes == mounted
    return routes


# ---- the decision table -------------------------------------------------------------------


def test_the_decision_table_holds_the_rows_of_the_mutants_that_apply(project: Baked) -> None:
    rows = [cells[0] for cells in decision_table(project.path)]
    assert len(rows) == len(set(rows)), "a row appears twice"
    assert set(rows) == {m.row for m in MUTANTS if m.applies_to(project.parts)}


def test_each_row_names_its_mutants_and_links_their_proofs_in_this_bake(project: Baked) -> None:
    for cells in decision_table(project.path):
        applicable = [m for m in MUTANTS if m.row == cells[0] and m.applies_to(project.parts)]
        # Exactly the applicable mutants, one each ("; " between them): none that does not
        # apply (two mutants of one row may fail the same way: busy-is-down, one per driver).
        described = cells[-1].split("; ")
        assert len(described) == len(set(described)), cells[0]
        assert set(described) == {m.description for m in applicable}, cells[0]
        linked = {f"{path}::{name}" for path, name, _ in LINKED_PROOF.findall(cells[-2])}
        for mutant in applicable:
            unlinked = {p.split("[")[0] for p in mutant.proofs_in(project.path)} - linked
            assert unlinked == set(), (cells[0], mutant.id)


# ---- what every document names ------------------------------------------------------------


def documents(project: Baked) -> dict[str, str]:
    return {name: project.text(name) for name in DOCUMENTS}


def defines(project: Baked, path: str, name: str) -> bool:
    source = project.path / path
    return source.is_file() and bool(
        re.search(rf"^(async )?def {name}\(", source.read_text(encoding="utf-8"), re.M)
    )


def test_every_proof_a_document_names_exists_and_its_link_finds_it(project: Baked) -> None:
    for name, text in documents(project).items():
        named = NAMED_TEST.findall(text)
        assert named or name != "docs/concurrency.md"
        missing = [f"{path}::{test}" for path, test in named if not defines(project, path, test)]
        assert missing == [], name
        for path, _, target in LINKED_PROOF.findall(text):
            # Links are relative to docs/: ../tests/... from there.
            assert name.startswith("docs/") and target == path, (name, path, target)


def resolves(project: Baked, document: str, name: str) -> bool:
    package = project.path / "src" / project.package
    candidates = [project.path / name, (project.path / document).parent / name, package / name]
    if "/" not in name:  # named by its file name alone: `lifespan.py`, a layout's `bench.py`
        candidates += [p for p in project.path.rglob(name) if ".venv" not in p.parts]
    return any(path.exists() for path in candidates)


def test_every_file_a_document_names_is_in_the_bake(project: Baked) -> None:
    for document, text in documents(project).items():
        named = set(NAMED_FILE.findall(text)) - ELSEWHERE
        missing = sorted(name for name in named if not resolves(project, document, name))
        assert not missing, f"{document} names what the bake lacks: {missing}"
        for module in re.findall(rf"python -m ({project.package}(?:\.\w+)*)", text):
            path = project.path / "src" / module.replace(".", "/")
            assert path.with_suffix(".py").is_file() or (path / "__main__.py").is_file(), module


def test_every_route_a_document_names_is_served(project: Baked) -> None:
    served = {path for _, path in served_routes(project)}
    for document, text in documents(project).items():
        for named in set(NAMED_ROUTE.findall(text)):
            path = normalised(named).rstrip("*").rstrip("/")
            assert any(s == path or s.startswith(path + "/") for s in served), (document, named)


def test_no_document_names_a_setting_of_a_part_the_bake_lacks(
    project: Baked, every_setting: set[str]
) -> None:
    lacking = every_setting - set(settings_fields(project))
    for name in (*DOCUMENTS, ".env.example"):
        named = set(SETTING_NAME.findall(project.text(name)))
        assert named & lacking == set(), name


# ---- the README ---------------------------------------------------------------------------


def test_the_route_map_lists_exactly_the_routes_the_app_serves(project: Baked) -> None:
    rows = [
        row
        for row in section(project.text("README.md"), "Routes").splitlines()
        if row.startswith("| `")
    ]
    listed = set()
    for row in rows:
        for span in re.findall(r"`([^`]+)`", row.split(" | ")[0]):
            match = ROUTE_SPAN.match(span)
            assert match, span
            listed.add((match[1], normalised(match[2])))
    assert listed == served_routes(project)


def serves(templates: set[str], path: str) -> bool:
    """Does one of these route templates (`/bridge/items/{}`) match a concrete path?"""
    return any(
        re.fullmatch(re.escape(template).replace(r"\{\}", "[^/]+"), path) for template in templates
    )


def test_the_curl_lines_call_served_routes_one_of_each_part(project: Baked) -> None:
    served = {path for method, path in served_routes(project) if method == "GET"}
    called = CURL_URL.findall(section(project.text("README.md"), "Run, test"))
    assert called
    assert [path for path in called if not serves(served, path)] == []
    for part, prefix in PART_PREFIXES.items():
        calls_part = any(path.startswith(prefix) for path in called)
        assert calls_part == (part in project.parts), part


def test_the_settings_table_and_env_example_list_exactly_the_settings(project: Baked) -> None:
    fields = set(settings_fields(project))
    table = section(project.text("README.md"), "Configuration")
    listed = {
        name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`([A-Z][A-Z0-9_]*)`", row.split(" | ")[0])
    }
    assert listed == fields
    assert set(env_example(project)) - compose_interpolated(project) == fields


def test_the_layout_shows_every_module_and_folder_of_the_package(project: Baked) -> None:
    layout = section(project.text("README.md"), "Layout")
    package = project.path / "src" / project.package
    entries = [
        f"{child.name}/" if child.is_dir() else child.name
        for child in package.iterdir()
        if child.name != "__pycache__" and child.name != "__init__.py"
    ]
    assert [
        entry for entry in entries if not re.search(rf"(?<![\w/]){re.escape(entry)}", layout)
    ] == []
