"""Every variant bakes, renders completely, and passes the generated project's own linters.

Variants change one option at a time from the defaults (cookiecutter-django's rule), plus
the inputs that stress escaping and the combinations of parts that interact: the leanest
service, and psycopg2 alone without the lessons. Each variant is baked once per session. The
variants this machine installs are baked for its own Python (bakes.on_host); those for 3.14
and 3.15 are only rendered here, and installed, linted and tested in Debian sid
(test_python_versions.py).
"""

import importlib.util
import re
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from binaryornot.check import is_binary  # cookiecutter's own test for what it renders
from pytest_cookies.plugin import Cookies

from .bakes import on_host, warm_mypy_cache
from .parts import PART_VARIANTS
from .shell import run

INSTALLED: dict[str, dict[str, str]] = {
    "default": on_host(),
    "project-name": on_host({"project_name": "Billing API"}),
    "explicit-slug-and-package": on_host({"project_slug": "orders-svc", "package_name": "orders"}),
    "python-3.12": {"python_version": "3.12"},
    "python-3.13": {"python_version": "3.13"},
    "http-port": on_host({"http_port": "9090"}),
    "no-kubernetes": on_host({"kubernetes": "no"}),
    "no-github-actions": on_host({"github_actions": "no"}),
    "license-apache": on_host({"license": "Apache-2.0"}),
    "license-bsd": on_host({"license": "BSD-3-Clause"}),
    "license-proprietary": on_host({"license": "Proprietary"}),
    "quotes-and-markup": on_host(
        {
            "description": 'Says "hi" & <bye> \\o/ it\'s {fine}',
            "author_name": 'Zoë O\'Brien "Z"',
        }
    ),
    **{name: on_host(options) for name, options in PART_VARIANTS.items()},
}
RENDERED_ONLY: dict[str, dict[str, str]] = {
    "python-3.14": {"python_version": "3.14"},
    "python-3.15": {"python_version": "3.15"},
}
VARIANTS = INSTALLED | RENDERED_ONLY

# `${{ ... }}` is GitHub Actions syntax, not Jinja left behind.
UNRENDERED = re.compile(r"{{\s*cookiecutter|{%|(?<!\$){{-?\s")


@pytest.fixture(scope="session")
def baked(cookies_session: Cookies) -> dict[str, Path]:
    return {}


def bake(cookies_session: Cookies, baked: dict[str, Path], variant: str) -> Path:
    if variant not in baked:
        result = cookies_session.bake(extra_context=VARIANTS[variant])
        assert result.exit_code == 0, result.exception
        assert result.project_path is not None
        baked[variant] = result.project_path
    return baked[variant]


@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_renders_every_file_completely(
    cookies_session: Cookies, baked: dict[str, Path], variant: str
) -> None:
    project = bake(cookies_session, baked, variant)
    leftovers = []
    for path in project.rglob("*"):
        # Binary files (the charts) are copied as they are, never rendered, as cookiecutter
        # decides with binaryornot: their bytes may hold "{{ " by chance (a chart did).
        if path.is_file() and not is_binary(str(path)):
            text = path.read_text("utf-8")
            leftovers += [f"{path}: {m.group(0)!r}" for m in UNRENDERED.finditer(text)]
    assert leftovers == []
    assert "{{" not in str(project)


@pytest.mark.parametrize("variant", INSTALLED)
def test_variant_installs_from_its_lock_and_passes_ruff_and_strict_mypy(
    cookies_session: Cookies, baked: dict[str, Path], variant: str
) -> None:
    project = bake(cookies_session, baked, variant)
    # --locked fails if the shipped uv.lock does not match this variant's pyproject.toml
    # (its project name and requires-python differ per variant).
    run(["uv", "sync", "--locked", "--quiet"], project)
    run(["uv", "run", "--no-sync", "ruff", "check", "."], project)
    run(["uv", "run", "--no-sync", "ruff", "format", "--check", "."], project)
    warm_mypy_cache(project)
    run(["uv", "run", "--no-sync", "mypy"], project)


def test_the_defaults_bake_the_documented_names_on_python_3_14(cookies_session: Cookies) -> None:
    # No extra context at all: exactly what `cookiecutter --no-input` gives a user.
    result = cookies_session.bake()
    assert result.exit_code == 0, result.exception
    project: Path = result.project_path
    assert project.name == "my-service"
    assert (project / "src" / "my_service" / "__main__.py").is_file()
    metadata = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert metadata["project"]["name"] == "my-service"
    assert metadata["project"]["requires-python"] == ">=3.14"
    assert metadata["tool"]["ruff"]["target-version"] == "py314"
    assert metadata["tool"]["mypy"]["python_version"] == "3.14"
    assert (project / ".python-version").read_text().strip() == "3.14"
    assert "default=8000" in (project / "src" / "my_service" / "settings.py").read_text()


def test_derived_names_follow_the_project_name(
    cookies_session: Cookies, baked: dict[str, Path]
) -> None:
    project = bake(cookies_session, baked, "project-name")
    assert project.name == "billing-api"
    assert (project / "src" / "billing_api" / "app.py").is_file()


def test_markup_in_free_text_survives_into_valid_toml(
    cookies_session: Cookies, baked: dict[str, Path]
) -> None:
    project = bake(cookies_session, baked, "quotes-and-markup")
    metadata = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert metadata["project"]["description"] == VARIANTS["quotes-and-markup"]["description"]
    assert metadata["project"]["authors"][0]["name"] == VARIANTS["quotes-and-markup"]["author_name"]


def load_post_hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "post_gen_project", Path(__file__).resolve().parent.parent / "hooks" / "post_gen_project.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("variant", ["default", *PART_VARIANTS])
def test_a_variant_keeps_the_files_of_its_parts_and_none_of_the_others(
    cookies_session: Cookies, baked: dict[str, Path], variant: str
) -> None:
    project = bake(cookies_session, baked, variant)
    post = load_post_hook()
    context = {
        "lessons": "yes",
        "database": "both",
        "outbound_http": "yes",
        "file_storage": "yes",
        **VARIANTS[variant],
    }
    left_out = post.parts_left_out(context)
    for part, paths in post.PART_FILES.items():
        for path in paths:
            assert (project / path.format(package="my_service")).exists() == (
                part not in left_out
            ), (part, path)
    assert not (project / "locks").exists()
    assert (project / "uv.lock").is_file()
    # No file of the package or its tests imports a module the bake does not have.
    package = project / "src" / "my_service"
    for module in [*package.rglob("*.py"), *(project / "tests").rglob("*.py")]:
        for line in module.read_text(encoding="utf-8").splitlines():
            imported = re.match(r"from my_service\.([\w.]+) import", line)
            if imported:
                target = package.joinpath(*imported.group(1).split("."))
                assert target.with_suffix(".py").is_file() or target.is_dir(), (module, line)
