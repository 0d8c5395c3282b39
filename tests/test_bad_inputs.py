"""Real bakes: bad inputs stop generation and leave nothing behind; good ones work."""

import datetime as dt
import json
from pathlib import Path

import pytest
import yaml
from cookiecutter.exceptions import FailedHookException, OutputDirExistsException
from cookiecutter.main import cookiecutter
from pytest_cookies.plugin import Cookies

TEMPLATE_DIR = Path(__file__).resolve().parent.parent

# (extra_context, exception cookiecutter ends with). Our pre-generation hook rejects
# free-text inputs (FailedHookException); cookiecutter itself rejects a value that is
# not one of a choice variable's options (ValueError) before it creates any folder.
BAD_INPUTS = [
    pytest.param({"project_slug": "Billing-API"}, FailedHookException, id="slug-uppercase"),
    pytest.param({"project_slug": "billing_api"}, FailedHookException, id="slug-underscore"),
    pytest.param({"project_slug": "billing--api"}, FailedHookException, id="slug-double-hyphen"),
    pytest.param({"project_slug": "b" * 64}, FailedHookException, id="slug-too-long"),
    pytest.param({"project_name": "Billing\nAPI"}, FailedHookException, id="name-multi-line"),
    pytest.param(
        {"project_name": "   ", "project_slug": "svc", "package_name": "svc"},
        FailedHookException,
        id="name-blank",
    ),
    # A name that slugifies to "" makes the project folder the output folder itself,
    # which exists already: cookiecutter stops before any hook runs.
    pytest.param({"project_name": "   "}, OutputDirExistsException, id="name-blank-no-slug"),
    pytest.param({"package_name": "json"}, FailedHookException, id="package-json"),
    pytest.param({"package_name": "class"}, FailedHookException, id="package-class"),
    pytest.param({"package_name": "asyncpg"}, FailedHookException, id="package-asyncpg"),
    # imported by the generated tests only: the hook derives these from the template's files
    pytest.param({"package_name": "asgi_lifespan"}, FailedHookException, id="package-test-only"),
    pytest.param({"package_name": "httpx_aiohttp"}, FailedHookException, id="package-transport"),
    pytest.param({"package_name": "Billing"}, FailedHookException, id="package-uppercase"),
    pytest.param({"http_port": "80"}, FailedHookException, id="port-80"),
    pytest.param({"http_port": "70000"}, FailedHookException, id="port-70000"),
    pytest.param({"http_port": "8o80"}, FailedHookException, id="port-8o80"),
    pytest.param({"author_email": "nobody"}, FailedHookException, id="email-nobody"),
    pytest.param({"author_name": ""}, FailedHookException, id="author-empty"),
    pytest.param(
        {"description": "line one\nline two"}, FailedHookException, id="description-multi-line"
    ),
    pytest.param({"python_version": "3.10"}, ValueError, id="python-3.10"),
    pytest.param({"python_version": "3.16"}, ValueError, id="python-3.16"),
    pytest.param({"python_version": "3.14t"}, ValueError, id="python-3.14t"),
    pytest.param({"kubernetes": "maybe"}, ValueError, id="kubernetes-maybe"),
    pytest.param({"github_actions": "maybe"}, ValueError, id="github-actions-maybe"),
    pytest.param({"license": "GPL"}, ValueError, id="license-GPL"),
    pytest.param({"lessons": "maybe"}, ValueError, id="lessons-maybe"),
    pytest.param({"lessons": ""}, ValueError, id="lessons-empty"),
    pytest.param({"database": "mysql"}, ValueError, id="database-mysql"),
    pytest.param({"database": ""}, ValueError, id="database-empty"),
    pytest.param({"outbound_http": "maybe"}, ValueError, id="outbound-http-maybe"),
    pytest.param({"file_storage": "maybe"}, ValueError, id="file-storage-maybe"),
]


@pytest.fixture
def config_file(tmp_path: Path) -> Path:
    """A cookiecutter user config that keeps replay files out of the home folder."""
    path = tmp_path / "cookiecutter-config.yaml"
    config = {
        "cookiecutters_dir": str(tmp_path / "cookiecutters"),
        "replay_dir": str(tmp_path / "replay"),
    }
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return path


def bake_with_api(output_dir: Path, config_file: Path, extra_context: dict[str, str]) -> Path:
    return Path(
        cookiecutter(
            str(TEMPLATE_DIR),
            no_input=True,
            extra_context=extra_context,
            output_dir=str(output_dir),
            config_file=str(config_file),
        )
    )


@pytest.mark.parametrize(("extra_context", "exception"), BAD_INPUTS)
def test_bad_input_stops_the_bake_and_leaves_no_project_behind(
    cookies: Cookies,
    tmp_path: Path,
    extra_context: dict[str, str],
    exception: type[Exception],
) -> None:
    result = cookies.bake(extra_context=extra_context, template=str(TEMPLATE_DIR))

    assert result.exit_code != 0
    assert isinstance(result.exception, exception)
    assert result.project_path is None or not result.project_path.exists()
    # pytest-cookies bakes into <tmp_path>/cookies/bakeNN (created only once the context
    # is accepted); whatever is there must be left empty.
    for bake_dir in (tmp_path / "cookies").iterdir():
        assert list(bake_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("option", "value", "choices"),
    [
        ("database", "mysql", "['both', 'asyncpg', 'psycopg2']"),
        ("lessons", "maybe", "['yes', 'no']"),
        ("outbound_http", "", "['yes', 'no']"),
    ],
)
def test_a_choice_outside_its_options_is_refused_naming_the_option_and_its_choices(
    tmp_path: Path, config_file: Path, option: str, value: str, choices: str
) -> None:
    # Choice options are refused by cookiecutter itself, before any folder exists.
    with pytest.raises(ValueError, match="choice variable") as refused:
        bake_with_api(tmp_path, config_file, {option: value})
    assert str(refused.value) == (
        f"{value} provided for choice variable {option}, but the choices are {choices}."
    )
    assert list(tmp_path.iterdir()) == [config_file]


def test_bad_input_prints_one_clear_line_naming_the_input(
    tmp_path: Path, config_file: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    output_dir = tmp_path / "out"
    output_dir.mkdir()

    with pytest.raises(FailedHookException):
        bake_with_api(output_dir, config_file, {"http_port": "80"})

    err = capfd.readouterr().err
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert error_lines == [
        "error: http_port '80' is not allowed: use a whole number from 1024 to 65535 "
        "(decimal digits, no leading zero)"
    ]
    assert list(output_dir.iterdir()) == []


def test_several_bad_inputs_are_all_reported(
    tmp_path: Path, config_file: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    output_dir = tmp_path / "out"
    output_dir.mkdir()
    extra_context = {"project_slug": "Bad_Slug", "package_name": "json", "http_port": "80"}

    with pytest.raises(FailedHookException):
        bake_with_api(output_dir, config_file, extra_context)

    error_lines = [
        line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")
    ]
    assert [line.split()[1] for line in error_lines] == [
        "project_slug",
        "package_name",
        "http_port",
    ]
    assert list(output_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("python_version", "message"),
    [
        ("3.16", "use one of 3.11, 3.12, 3.13, 3.14, 3.15"),
        (
            "3.14t",
            "the free-threaded build is not offered (psycopg2 has no free-threaded wheel); "
            "use one of 3.11, 3.12, 3.13, 3.14, 3.15",
        ),
    ],
)
def test_a_replayed_python_version_the_template_does_not_offer_is_refused_by_the_hook(
    tmp_path: Path,
    config_file: Path,
    capfd: pytest.CaptureFixture[str],
    python_version: str,
    message: str,
) -> None:
    """A replay file (or a hand-edited .cruft.json) skips cookiecutter's own check of the
    choices: the hook is what stops it, with one line, before anything is written."""
    options = json.loads((TEMPLATE_DIR / "cookiecutter.json").read_text(encoding="utf-8"))
    answers = {
        name: value[0] if isinstance(value, list) else value
        for name, value in options.items()
        if not name.startswith("_")
    }
    answers |= {
        "project_slug": "my-service",
        "package_name": "my_service",
        "python_version": python_version,
    }
    replay = tmp_path / "replay" / "template.json"
    replay.parent.mkdir()
    replay.write_text(json.dumps({"cookiecutter": answers}), encoding="utf-8")
    output_dir = tmp_path / "out"
    output_dir.mkdir()

    with pytest.raises(FailedHookException):
        cookiecutter(
            str(TEMPLATE_DIR),
            replay=str(replay),
            output_dir=str(output_dir),
            config_file=str(config_file),
        )

    error_lines = [
        line for line in capfd.readouterr().err.splitlines() if line.startswith("error:")
    ]
    assert error_lines == [f"error: python_version {python_version!r} is not allowed: {message}"]
    assert list(output_dir.iterdir()) == []


def test_good_non_default_bake_keeps_only_what_was_chosen(
    tmp_path: Path, config_file: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    extra_context = {
        "project_name": "Billing API",
        "author_name": "Ada Lovelace",
        "http_port": "9000",
        "license": "Apache-2.0",
        "kubernetes": "no",
        "github_actions": "no",
    }

    project = bake_with_api(tmp_path, config_file, extra_context)

    assert project == tmp_path / "billing-api"
    license_text = (project / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in license_text
    assert "END OF TERMS AND CONDITIONS" in license_text
    assert "Ada Lovelace" in license_text
    assert not (project / "licenses").exists()
    assert not (project / ".github").exists()
    assert not (project / "deploy" / "kubernetes").exists()

    out = capfd.readouterr().out
    assert "cd billing-api" in out
    assert "uv run python -m billing_api" in out
    assert "http://127.0.0.1:9000" in out


@pytest.mark.parametrize(
    ("license_name", "first_line"),
    [
        ("MIT", "MIT License"),
        ("Apache-2.0", "Apache License"),
        ("BSD-3-Clause", "BSD 3-Clause License"),
        ("Proprietary", "Copyright (c) {year} Zoë O'Brien & Co. All rights reserved."),
    ],
)
def test_each_license_is_rendered_with_author_and_year(
    cookies: Cookies, license_name: str, first_line: str
) -> None:
    author = "Zoë O'Brien & Co"
    result = cookies.bake(
        extra_context={"license": license_name, "author_name": author},
        template=str(TEMPLATE_DIR),
    )

    assert result.exit_code == 0, result.exception
    assert result.project_path is not None
    text = (result.project_path / "LICENSE").read_text(encoding="utf-8")
    years = {str(dt.datetime.now(dt.UTC).year), str(dt.datetime.now().year)}
    assert any(text.lstrip().startswith(first_line.format(year=year)) for year in years)
    assert any(f"Copyright (c) {year}" in text or f"Copyright {year}" in text for year in years)
    assert author in text
    assert "{{" not in text
    assert "{%" not in text
    assert not (result.project_path / "licenses").exists()
