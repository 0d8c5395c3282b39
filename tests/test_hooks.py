"""Unit tests of the pre- and post-generation hooks, imported as plain Python files."""

import ast
import importlib.util
import json
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import pytest
from cookiecutter.environment import StrictEnvironment
from cookiecutter.main import cookiecutter

TEMPLATE_DIR = Path(__file__).resolve().parent.parent
HOOKS_DIR = TEMPLATE_DIR / "hooks"
LICENSE_NAMES = ("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary")
# The generated project's folder in the template, with the package folder's name unrendered.
TEMPLATE_PROJECT = TEMPLATE_DIR / "{{cookiecutter.project_slug}}"
TEMPLATE_PACKAGE = "{{cookiecutter.package_name}}"
# One lock per set of dependencies (scripts/lock_bake.py): database x outbound_http.
LOCK_NAMES = tuple(
    f"{database}-outbound-{outbound}.lock"
    for database in ("both", "asyncpg", "psycopg2")
    for outbound in ("yes", "no")
)


def load_hook(name: str) -> ModuleType:
    """Import hooks/<name>.py by path: hooks/ is not a package."""
    spec = importlib.util.spec_from_file_location(f"hook_{name}", HOOKS_DIR / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pre = load_hook("pre_gen_project")
post = load_hook("post_gen_project")


def good_context() -> dict[str, str]:
    return {
        "project_name": "Billing API",
        "project_slug": "billing-api",
        "package_name": "billing_api",
        "description": "Bills customers.",
        "author_name": "Ada Lovelace",
        "author_email": "ada@example.com",
        "python_version": "3.12",
        "http_port": "9000",
        "kubernetes": "yes",
        "github_actions": "yes",
        "license": "MIT",
        "lessons": "yes",
        "database": "both",
        "outbound_http": "yes",
        "file_storage": "yes",
    }


def assert_rejected(message: str | None, name: str) -> None:
    """A rejection is a single line that starts with the input's name."""
    assert message is not None
    assert message.startswith(f"{name} ")
    assert "is not allowed" in message
    assert "\n" not in message
    assert "\r" not in message


def render(path: Path, context: Mapping[str, object]) -> str:
    """Render a hook the way cookiecutter does before running it."""
    env = StrictEnvironment(context={"cookiecutter": context}, keep_trailing_newline=True)
    return env.from_string(path.read_text(encoding="utf-8")).render(cookiecutter=context)


# --- the hook files themselves ---------------------------------------------------------


@pytest.mark.parametrize("hook", ["pre_gen_project.py", "post_gen_project.py"])
def test_hook_contains_no_jinja_besides_the_context_line(hook: str) -> None:
    source = (HOOKS_DIR / hook).read_text(encoding="utf-8")
    tags = re.findall(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", source, flags=re.DOTALL)
    assert tags == ["{{ cookiecutter | tojson }}"]
    assert 'json.loads(r"""{{ cookiecutter | tojson }}""")' in source


@pytest.mark.parametrize("hook", ["pre_gen_project.py", "post_gen_project.py"])
def test_rendered_hook_reads_back_awkward_values_exactly(hook: str) -> None:
    context: dict[str, object] = good_context() | {
        "description": 'Says """hi""" with \\ and \\" and \u2603 </script> & {{ x }} \\',
        "author_name": 'Zoë "Z" O\'Brien \\',
    }
    context["__prompts__"] = {"project_name": "Name"}
    rendered = render(HOOKS_DIR / hook, context)
    tree = ast.parse(rendered)
    literals = [
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "loads"
        and isinstance(node.args[0], ast.Constant)
    ]
    assert len(literals) == 1
    assert json.loads(literals[0]) == context


def test_rendered_pre_gen_hook_exits_0_for_good_inputs(tmp_path: Path) -> None:
    script = tmp_path / "pre.py"
    script.write_text(render(HOOKS_DIR / "pre_gen_project.py", good_context()), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0
    assert done.stderr == ""


def test_rendered_pre_gen_hook_prints_one_line_per_bad_input_and_exits_1(tmp_path: Path) -> None:
    context = good_context() | {"http_port": "80", "license": "GPL", "project_slug": "Billing"}
    script = tmp_path / "pre.py"
    script.write_text(render(HOOKS_DIR / "pre_gen_project.py", context), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    lines = done.stderr.splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("error: project_slug 'Billing' is not allowed: ")
    assert lines[1].startswith(
        "error: http_port '80' is not allowed: use a whole number from 1024 to 65535"
    )
    assert lines[2] == (
        "error: license 'GPL' is not allowed: use one of MIT, Apache-2.0, BSD-3-Clause, Proprietary"
    )


# --- project_name ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["Billing API", "Zoë's Ünïcode Service", "x" * 100])
def test_project_name_that_is_one_short_line_is_accepted(value: str) -> None:
    assert pre.validate_project_name(value) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("Billing\nAPI", id="two-lines"),
        pytest.param("Billing\rAPI", id="carriage-return"),
        pytest.param("Billing\u2028API", id="unicode-line-separator"),
        pytest.param("Billing\tAPI", id="tab"),
        pytest.param("Billing\x00API", id="nul"),
        pytest.param("x" * 101, id="too-long"),
    ],
)
def test_project_name_that_is_empty_multiline_or_too_long_is_rejected(value: str) -> None:
    assert_rejected(pre.validate_project_name(value), "project_name")


# --- project_slug ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["billing-api", "a", "svc2", "a-b-c", "a" * 63])
def test_project_slug_that_is_a_dns_label_is_accepted(value: str) -> None:
    assert pre.validate_project_slug(value) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Billing-API", id="uppercase"),
        pytest.param("billing_api", id="underscore"),
        pytest.param("billing--api", id="double-hyphen"),
        pytest.param("-billing", id="leading-hyphen"),
        pytest.param("billing-", id="trailing-hyphen"),
        pytest.param("2fa-service", id="leading-digit"),
        pytest.param("billing api", id="space"),
        pytest.param("billing.api", id="dot"),
        pytest.param("billing/api", id="slash"),
        pytest.param("", id="empty"),
        pytest.param("a" * 64, id="too-long"),
        pytest.param("billing-api\n", id="trailing-newline"),
    ],
)
def test_project_slug_that_is_not_a_dns_label_is_rejected(value: str) -> None:
    assert_rejected(pre.validate_project_slug(value), "project_slug")


def test_project_slug_rejection_says_what_is_allowed() -> None:
    message = pre.validate_project_slug("Billing_API")
    assert message is not None
    assert "lowercase letters, digits and single hyphens" in message
    assert "at most 63 characters" in message


# --- package_name ----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["billing_api", "_private", "svc2", "b" * 60])
def test_package_name_that_is_a_free_lowercase_identifier_is_accepted(value: str) -> None:
    assert pre.validate_package_name(value) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("Billing", id="uppercase"),
        pytest.param("billing-api", id="hyphen"),
        pytest.param("2fa", id="leading-digit"),
        pytest.param("billing api", id="space"),
        pytest.param("", id="empty"),
        pytest.param("b" * 61, id="too-long"),
        pytest.param("billing_api\n", id="trailing-newline"),
    ],
)
def test_package_name_that_is_not_a_lowercase_identifier_is_rejected(value: str) -> None:
    assert_rejected(pre.validate_package_name(value), "package_name")


@pytest.mark.parametrize("value", ["class", "import", "lambda", "match", "case", "type", "_"])
def test_package_name_that_is_a_keyword_or_soft_keyword_is_rejected(value: str) -> None:
    message = pre.validate_package_name(value)
    assert_rejected(message, "package_name")
    assert "keyword" in message


@pytest.mark.parametrize("value", ["json", "asyncio", "typing", "logging", "email", "tomllib"])
def test_package_name_that_shadows_the_standard_library_is_rejected(value: str) -> None:
    message = pre.validate_package_name(value)
    assert_rejected(message, "package_name")
    assert "standard library" in message


@pytest.mark.parametrize(
    "value",
    # The four the template accepted before the list was derived from its imports.
    ["fastapi", "asyncpg", "aiohttp", "httpx_aiohttp", "psutil", "asgi_lifespan", "tests"],
)
def test_package_name_that_shadows_a_dependency_or_the_tests_is_rejected(value: str) -> None:
    message = pre.validate_package_name(value)
    assert_rejected(message, "package_name")
    assert "shadows" in message


def modules_imported_by(project: Path, own_package: str) -> set[str]:
    """Top-level third-party modules the rendered project's Python files import."""
    names: set[str] = set()
    for path in project.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names - sys.stdlib_module_names - {own_package}


def test_every_module_the_bake_imports_is_a_reserved_package_name(tmp_path: Path) -> None:
    # Checked on a real bake (rendered files, no Jinja), independently of the hook's own
    # scan of the template: a module imported anywhere in the project must be refused.
    project = Path(cookiecutter(str(TEMPLATE_DIR), no_input=True, output_dir=str(tmp_path)))
    imported = modules_imported_by(project, "my_service")
    assert {"fastapi", "aiohttp", "httpx_aiohttp", "psutil", "asgi_lifespan"} <= imported
    accepted = sorted(name for name in imported if pre.validate_package_name(name) is None)
    assert accepted == []


def test_reserved_names_follow_the_template_when_the_hook_runs_from_a_copy(
    tmp_path: Path,
) -> None:
    # cookiecutter runs a rendered copy of the hook elsewhere; `_repo_dir` names the template.
    template = tmp_path / "template"
    module = template / pre.PROJECT_TEMPLATE_DIR / "src" / "pkg" / "new.py"
    module.parent.mkdir(parents=True)
    module.write_text(
        "import brand_new_dependency\nfrom {{ cookiecutter.package_name }} import x\n"
    )
    context = good_context() | {"package_name": "brand_new_dependency"}
    assert pre.validate(context | {"_repo_dir": str(template)}) == [
        pre.validate_package_name("brand_new_dependency", frozenset({"brand_new_dependency"}))
    ]
    assert pre.validate(context) == []


# --- description -----------------------------------------------------------------------


@pytest.mark.parametrize("value", ["", "Bills customers.", "x" * 200])
def test_description_that_is_one_short_line_or_empty_is_accepted(value: str) -> None:
    assert pre.validate_description(value) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("line one\nline two", id="two-lines"),
        pytest.param("bell\x07", id="control-character"),
        pytest.param("x" * 201, id="too-long"),
    ],
)
def test_description_that_is_multiline_or_too_long_is_rejected(value: str) -> None:
    assert_rejected(pre.validate_description(value), "description")


def test_long_description_is_shortened_in_the_message() -> None:
    message = pre.validate_description("x" * 500)
    assert message is not None
    assert "x" * 41 not in message
    assert "it has 500 characters" in message


# --- author_name and author_email ------------------------------------------------------


@pytest.mark.parametrize("value", ["Ada Lovelace", "O'Brien & Co", "Zoë"])
def test_author_name_that_is_one_short_line_is_accepted(value: str) -> None:
    assert pre.validate_author_name(value) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("", id="empty"),
        pytest.param(" ", id="blank"),
        pytest.param("Ada\nLovelace", id="two-lines"),
        pytest.param("Ada\x1b[31m", id="escape-sequence"),
        pytest.param("x" * 101, id="too-long"),
    ],
)
def test_author_name_that_is_empty_multiline_or_too_long_is_rejected(value: str) -> None:
    assert_rejected(pre.validate_author_name(value), "author_name")


@pytest.mark.parametrize("value", ["you@example.com", "a.b+c@mail.example.co.uk"])
def test_author_email_of_the_usual_shape_is_accepted(value: str) -> None:
    assert pre.validate_author_email(value) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("nobody", id="no-at"),
        pytest.param("a@localhost", id="no-dot-in-domain"),
        pytest.param("@example.com", id="no-local-part"),
        pytest.param("a@@example.com", id="two-ats"),
        pytest.param("a b@example.com", id="space"),
        pytest.param("a@example.com\n", id="trailing-newline"),
        pytest.param("", id="empty"),
    ],
)
def test_author_email_of_the_wrong_shape_is_rejected(value: str) -> None:
    assert_rejected(pre.validate_author_email(value), "author_email")


# --- choices -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["3.11", "3.12", "3.13", "3.14", "3.15"])
def test_supported_python_version_is_accepted(value: str) -> None:
    assert pre.validate_python_version(value) is None


@pytest.mark.parametrize("value", ["3.10", "3.16", "3", "3.14.0", " 3.12", "3.14 ", ""])
def test_unsupported_python_version_is_rejected(value: str) -> None:
    message = pre.validate_python_version(value)
    assert_rejected(message, "python_version")
    assert message.endswith("use one of 3.11, 3.12, 3.13, 3.14, 3.15")


@pytest.mark.parametrize("value", ["3.14t", "3.15t"])
def test_free_threaded_python_is_rejected_saying_why(value: str) -> None:
    message = pre.validate_python_version(value)
    assert_rejected(message, "python_version")
    assert "free-threaded" in message
    assert "psycopg2" in message
    assert message.endswith("use one of 3.11, 3.12, 3.13, 3.14, 3.15")


def test_the_hook_allows_exactly_the_python_versions_cookiecutter_json_offers() -> None:
    options = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    assert sorted(options["python_version"]) == list(pre.PYTHON_VERSIONS)
    assert options["python_version"][0] == "3.14"  # the default


YES_NO_OPTIONS = ["kubernetes", "github_actions", "lessons", "outbound_http", "file_storage"]


@pytest.mark.parametrize("name", YES_NO_OPTIONS)
@pytest.mark.parametrize("value", ["yes", "no"])
def test_yes_or_no_switch_accepts_yes_and_no(name: str, value: str) -> None:
    assert pre.validate(good_context() | {name: value}) == []


@pytest.mark.parametrize("name", YES_NO_OPTIONS)
@pytest.mark.parametrize("value", ["maybe", "Yes", "true", "y", ""])
def test_yes_or_no_switch_rejects_anything_else(name: str, value: str) -> None:
    errors = pre.validate(good_context() | {name: value})
    assert len(errors) == 1
    assert_rejected(errors[0], name)
    assert errors[0].endswith("use yes or no")


@pytest.mark.parametrize("value", ["both", "asyncpg", "psycopg2"])
def test_a_database_choice_is_accepted(value: str) -> None:
    assert pre.validate(good_context() | {"database": value}) == []


@pytest.mark.parametrize("value", ["mysql", "Both", "asyncpg,psycopg2", "psycopg", ""])
def test_any_other_database_is_rejected_naming_the_choices(value: str) -> None:
    errors = pre.validate(good_context() | {"database": value})
    assert len(errors) == 1
    assert_rejected(errors[0], "database")
    assert errors[0].endswith("use one of both, asyncpg, psycopg2")


@pytest.mark.parametrize("value", LICENSE_NAMES)
def test_known_license_is_accepted(value: str) -> None:
    assert pre.validate_license(value) is None


@pytest.mark.parametrize("value", ["GPL", "mit", "Apache 2.0", ""])
def test_unknown_license_is_rejected(value: str) -> None:
    message = pre.validate_license(value)
    assert_rejected(message, "license")
    assert "MIT, Apache-2.0, BSD-3-Clause, Proprietary" in message


# --- http_port -------------------------------------------------------------------------


@pytest.mark.parametrize("value", ["1024", "8000", "9000", "65535"])
def test_http_port_in_the_unprivileged_range_is_accepted(value: str) -> None:
    assert pre.validate_http_port(value) is None


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("80", id="privileged"),
        pytest.param("1023", id="just-below-range"),
        pytest.param("65536", id="just-above-range"),
        pytest.param("70000", id="above-range"),
        pytest.param("8o80", id="letter-o"),
        pytest.param("-8000", id="negative"),
        pytest.param("8000.0", id="decimal-point"),
        pytest.param(" 8000", id="leading-space"),
        pytest.param("08000", id="leading-zero"),
        pytest.param("\u0668\u0660\u0660\u0660", id="arabic-indic-digits"),
        pytest.param("", id="empty"),
    ],
)
def test_http_port_outside_the_range_or_not_a_number_is_rejected(value: str) -> None:
    message = pre.validate_http_port(value)
    assert_rejected(message, "http_port")
    assert "from 1024 to 65535" in message


def test_http_port_message_reads_as_documented() -> None:
    assert pre.validate_http_port("80") == (
        "http_port '80' is not allowed: use a whole number from 1024 to 65535 "
        "(decimal digits, no leading zero)"
    )


# --- validate() ----------------------------------------------------------------------


def test_good_context_has_no_errors() -> None:
    assert pre.validate(good_context()) == []


def test_default_answers_of_cookiecutter_json_have_no_errors() -> None:
    defaults = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    context = {
        name: value[0] if isinstance(value, list) else value
        for name, value in defaults.items()
        if not name.startswith("_")
    }
    context |= {"project_slug": "my-service", "package_name": "my_service"}
    assert pre.validate(context) == []


def test_every_bad_input_is_reported_not_only_the_first() -> None:
    context = good_context() | {
        "project_slug": "Bad_Slug",
        "package_name": "json",
        "http_port": "80",
        "license": "GPL",
    }
    errors = pre.validate(context)
    assert [error.split(" ", 1)[0] for error in errors] == [
        "project_slug",
        "package_name",
        "http_port",
        "license",
    ]


def test_missing_input_is_reported_by_name() -> None:
    context = good_context()
    del context["http_port"]
    assert pre.validate(context) == ["http_port is missing: the template expects a value for it"]


def test_entries_that_are_not_inputs_are_ignored() -> None:
    context: dict[str, object] = dict(good_context())
    context |= {"_template": "/tmp/t", "_checkout": None, "__prompts__": {"x": "y"}}
    assert pre.validate(context) == []


# --- post-generation -----------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A tree shaped like a freshly generated project."""
    root = tmp_path / "billing-api"
    (root / "deploy" / "kubernetes").mkdir(parents=True)
    (root / "deploy" / "kubernetes" / "deployment.yaml").write_text("kind: Deployment\n")
    (root / ".github" / "workflows").mkdir(parents=True)
    (root / ".github" / "workflows" / "ci.yml").write_text("name: ci\n")
    (root / "licenses").mkdir()
    for name in LICENSE_NAMES:
        (root / "licenses" / f"{name}.txt").write_text(f"{name} text\n")
    (root / "locks").mkdir()
    for name in LOCK_NAMES:
        (root / "locks" / name).write_text(f"# {name}\n")
    (root / "src" / "billing_api").mkdir(parents=True)
    (root / "src" / "billing_api" / "__init__.py").write_text("")
    return root


def plant_parts(root: Path) -> list[Path]:
    """Every file and folder the post-gen hook may remove or swap, planted in `root`."""
    planted = []
    paths = [path for paths in post.PART_FILES.values() for path in paths]
    for path in [*paths, *post.DRIVER_VERSIONS, *post.DRIVER_VERSIONS.values()]:
        target = root / path.format(package="billing_api")
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.suffix:
            target.write_text(f"{path}\n")
        else:
            target.mkdir(exist_ok=True)
            (target / "__init__.py").write_text("")
        planted.append(target)
    return planted


@pytest.mark.parametrize(
    ("options", "left_out"),
    [
        ({}, []),
        ({"lessons": "no"}, ["lessons"]),
        ({"database": "asyncpg"}, ["psycopg2", "both drivers"]),
        ({"database": "psycopg2"}, ["asyncpg", "both drivers"]),
        ({"outbound_http": "no"}, ["outbound_http"]),
        ({"file_storage": "no"}, ["file_storage"]),
        (
            {"lessons": "no", "database": "asyncpg", "outbound_http": "no", "file_storage": "no"},
            ["lessons", "psycopg2", "both drivers", "outbound_http", "file_storage"],
        ),
    ],
)
def test_a_part_left_out_leaves_none_of_its_files_and_the_rest_stay(
    project: Path, options: dict[str, str], left_out: list[str]
) -> None:
    context = good_context() | options
    assert post.parts_left_out(context) == left_out
    plant_parts(project)
    post.remove_left_out_parts(project, context)
    for part, paths in post.PART_FILES.items():
        for path in paths:
            target = project / path.format(package="billing_api")
            assert target.exists() == (part not in left_out), target


@pytest.mark.parametrize("database", ["both", "asyncpg", "psycopg2"])
def test_each_driver_specific_file_is_the_version_for_the_bakes_driver(
    project: Path, database: str
) -> None:
    plant_parts(project)
    post.remove_left_out_parts(project, good_context() | {"database": database})
    for default, asyncpg_version in post.DRIVER_VERSIONS.items():
        kept = (project / default.format(package="billing_api")).read_text()
        assert kept == f"{asyncpg_version if database == 'asyncpg' else default}\n"
        assert not (project / asyncpg_version.format(package="billing_api")).exists()


@pytest.mark.parametrize("database", ["both", "asyncpg", "psycopg2"])
@pytest.mark.parametrize("outbound", ["yes", "no"])
def test_the_lock_for_the_bakes_dependencies_becomes_uv_lock(
    project: Path, database: str, outbound: str
) -> None:
    context = good_context() | {"database": database, "outbound_http": outbound}
    post.install_lock(project, context)
    assert (project / "uv.lock").read_text() == f"# {database}-outbound-{outbound}.lock\n"
    assert not (project / "locks").exists()


def test_a_missing_lock_is_an_error_naming_the_file(project: Path) -> None:
    (project / "locks" / "both-outbound-yes.lock").unlink()
    with pytest.raises(FileNotFoundError, match=r"locks/both-outbound-yes\.lock"):
        post.install_lock(project, good_context())


def test_kubernetes_no_removes_the_manifests_and_the_empty_deploy_folder(project: Path) -> None:
    post.remove_unselected_parts(project, kubernetes="no", github_actions="yes")
    assert not (project / "deploy").exists()
    assert (project / ".github" / "workflows" / "ci.yml").is_file()


def test_kubernetes_no_keeps_a_deploy_folder_that_holds_other_files(project: Path) -> None:
    (project / "deploy" / "compose.yaml").write_text("services: {}\n")
    post.remove_unselected_parts(project, kubernetes="no", github_actions="yes")
    assert not (project / "deploy" / "kubernetes").exists()
    assert (project / "deploy" / "compose.yaml").is_file()


def test_github_actions_no_removes_the_github_folder(project: Path) -> None:
    post.remove_unselected_parts(project, kubernetes="yes", github_actions="no")
    assert not (project / ".github").exists()
    assert (project / "deploy" / "kubernetes" / "deployment.yaml").is_file()


def test_yes_to_both_keeps_everything(project: Path) -> None:
    post.remove_unselected_parts(project, kubernetes="yes", github_actions="yes")
    assert (project / "deploy" / "kubernetes" / "deployment.yaml").is_file()
    assert (project / ".github" / "workflows" / "ci.yml").is_file()


def test_removing_parts_that_are_not_there_is_not_an_error(tmp_path: Path) -> None:
    post.remove_unselected_parts(tmp_path, kubernetes="no", github_actions="no")
    assert list(tmp_path.iterdir()) == []


def test_remove_path_removes_a_single_file(tmp_path: Path) -> None:
    target = tmp_path / "file.txt"
    target.write_text("x")
    post.remove_path(target)
    assert not target.exists()


@pytest.mark.parametrize("license_name", LICENSE_NAMES)
def test_chosen_license_becomes_license_and_the_others_are_deleted(
    project: Path, license_name: str
) -> None:
    post.install_license(project, license_name)
    assert (project / "LICENSE").read_text() == f"{license_name} text\n"
    assert not (project / "licenses").exists()


def test_missing_license_text_is_an_error_naming_the_file(project: Path) -> None:
    (project / "licenses" / "MIT.txt").unlink()
    with pytest.raises(FileNotFoundError, match=r"licenses/MIT\.txt"):
        post.install_license(project, "MIT")


def test_finish_applies_every_choice(project: Path) -> None:
    context = good_context() | {
        "kubernetes": "no",
        "github_actions": "no",
        "license": "BSD-3-Clause",
    }
    post.finish(project, context)
    assert sorted(path.name for path in project.iterdir()) == ["LICENSE", "src", "uv.lock"]
    assert (project / "LICENSE").read_text() == "BSD-3-Clause text\n"
    assert (project / "uv.lock").read_text() == "# both-outbound-yes.lock\n"


@pytest.mark.parametrize(
    "path",
    sorted(
        {path for paths in post.PART_FILES.values() for path in paths}
        | set(post.DRIVER_VERSIONS)
        | set(post.DRIVER_VERSIONS.values())
    ),
)
def test_every_path_the_hook_removes_or_swaps_is_in_the_template(path: str) -> None:
    # A misspelt path would leave its part's file in every bake that leaves the part out.
    assert (TEMPLATE_PROJECT / path.format(package=TEMPLATE_PACKAGE)).exists()


def test_next_steps_show_how_to_install_run_and_test() -> None:
    text = post.next_steps(good_context())
    lines = [line.strip() for line in text.splitlines()]
    assert "cd billing-api" in lines
    assert "uv sync" in lines
    assert "uv run python -m billing_api" in lines
    assert "uv run pytest" in lines
    assert "http://127.0.0.1:9000" in text
    assert "DATABASE_URL" in text


def test_rendered_post_gen_hook_trims_the_project_and_prints_next_steps(project: Path) -> None:
    context = good_context() | {"kubernetes": "no", "github_actions": "no"}
    script = project.parent / "post.py"
    script.write_text(render(HOOKS_DIR / "post_gen_project.py", context), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=project, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "uv run python -m billing_api" in done.stdout
    assert sorted(path.name for path in project.iterdir()) == ["LICENSE", "src", "uv.lock"]


def test_rendered_post_gen_hook_fails_cleanly_when_the_license_text_is_missing(
    project: Path,
) -> None:
    (project / "licenses" / "MIT.txt").unlink()
    script = project.parent / "post.py"
    script.write_text(render(HOOKS_DIR / "post_gen_project.py", good_context()), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)], cwd=project, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1
    assert done.stderr.startswith("error: license text licenses/MIT.txt is missing")
