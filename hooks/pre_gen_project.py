"""Validate every cookiecutter input before the project is generated.

Cookiecutter renders this file with Jinja and runs it inside the freshly created
project folder. When the script exits with a non-zero status, cookiecutter stops and
deletes that folder, so a bad input leaves nothing on disk.

All logic lives in plain functions so the unit tests can import this file without
rendering it; the rendered context enters only in ``main()``.
"""

import ast
import json
import keyword
import re
import sys
import unicodedata
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path

PROJECT_NAME_MAX = 100
PROJECT_SLUG_MAX = 63
PACKAGE_NAME_MAX = 60
DESCRIPTION_MAX = 200
AUTHOR_NAME_MAX = 100
PORT_MIN = 1024
PORT_MAX = 65535

PYTHON_VERSIONS = ("3.11", "3.12", "3.13", "3.14", "3.15")
YES_NO = ("yes", "no")
DATABASES = ("both", "asyncpg", "psycopg2")
LICENSES = ("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary")

PROJECT_SLUG_RE = re.compile(r"[a-z]([a-z0-9-]*[a-z0-9])?")
PACKAGE_NAME_RE = re.compile(r"[a-z_][a-z0-9_]*")
AUTHOR_EMAIL_RE = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
HTTP_PORT_RE = re.compile(r"[1-9][0-9]*")

# "type" became a soft keyword in 3.12; the hook may run on an older Python than the
# service, so it is listed explicitly.
SOFT_KEYWORDS = frozenset(keyword.softkwlist) | {"_", "case", "match", "type"}

# Folder names of the generated project that are importable from its root.
RESERVED_FOLDER_NAMES = frozenset({"tests", "test"})
# The generated project's own folder inside the template (spelt in two pieces: cookiecutter
# renders this file, and the whole name would become the project slug).
PROJECT_TEMPLATE_DIR = "{" + "{cookiecutter.project_slug}" + "}"
# Jinja in the template's Python files: a control tag stands alone on its line (the lines it
# guards are all parsed, so an import one option keeps is reserved too); an expression (the
# package name in imports, say) is replaced by a placeholder name before parsing. Braces in
# classes: this file is rendered.
JINJA_BLOCK_LINE_RE = re.compile(r"^[ \t]*[{]%.*?%[}][ \t]*$", re.MULTILINE)
JINJA_TAG_RE = re.compile(r"[{][{].*?[}][}]|[{]%.*?%[}]|[{]#.*?#[}]", re.DOTALL)
PLACEHOLDER = "_"


def imported_modules(template_dir: Path) -> frozenset[str]:
    """Top-level modules that the generated project's Python files import (its own package
    aside): a package of the same name would shadow them.

    Derived from the template's files each time, so a new import is reserved the moment it
    is written; a hand-kept list falls behind.
    """
    names: set[str] = set()
    for path in sorted((template_dir / PROJECT_TEMPLATE_DIR).rglob("*.py")):
        source = JINJA_BLOCK_LINE_RE.sub("", path.read_text(encoding="utf-8"))
        source = JINJA_TAG_RE.sub(PLACEHOLDER, source)
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return frozenset(names - {PLACEHOLDER})


def template_dir(context: Mapping[str, object]) -> Path:
    """The template's folder: cookiecutter runs this hook as a rendered copy elsewhere, but
    says where the template is (`_repo_dir`); imported by the tests, it is this file's."""
    repo_dir = context.get("_repo_dir")
    if isinstance(repo_dir, str) and repo_dir:
        return Path(repo_dir)
    return Path(__file__).resolve().parent.parent


def reserved_package_names(context: Mapping[str, object]) -> frozenset[str]:
    third_party = imported_modules(template_dir(context)) - sys.stdlib_module_names
    return third_party | RESERVED_FOLDER_NAMES


# Line and paragraph separators count as line breaks, everything in Cc (which also
# covers \n, \r and \t) as a control character.
_LINE_BREAK_CATEGORIES = frozenset({"Zl", "Zp"})
_SHOWN_MAX = 40


def show(value: str) -> str:
    """Quote a value for an error message: one line, escapes visible, long ones cut."""
    if len(value) > _SHOWN_MAX:
        return repr(value[:_SHOWN_MAX]) + "..."
    return repr(value)


def reject(name: str, value: str, allowed: str, reason: str | None = None) -> str:
    """Build the one-line error message for an input."""
    because = f"{reason}; " if reason else ""
    return f"{name} {show(value)} is not allowed: {because}{allowed}"


def text_problem(value: str, *, max_length: int, required: bool) -> str | None:
    """Say what is wrong with a one-line free text value, or None when it is fine."""
    if required and not value.strip():
        return "it is empty"
    if any(ch in "\n\r" or unicodedata.category(ch) in _LINE_BREAK_CATEGORIES for ch in value):
        return "it spans several lines"
    if any(unicodedata.category(ch) == "Cc" for ch in value):
        return "it contains a control character"
    if len(value) > max_length:
        return f"it has {len(value)} characters"
    return None


def validate_project_name(value: str) -> str | None:
    allowed = (
        f"use a non-empty name of at most {PROJECT_NAME_MAX} characters on one line, "
        "without control characters"
    )
    problem = text_problem(value, max_length=PROJECT_NAME_MAX, required=True)
    return reject("project_name", value, allowed, problem) if problem else None


def validate_project_slug(value: str) -> str | None:
    allowed = (
        "use lowercase letters, digits and single hyphens, starting with a letter and "
        f"ending with a letter or digit, at most {PROJECT_SLUG_MAX} characters "
        "(a DNS-1123 label such as 'billing-api')"
    )
    if len(value) > PROJECT_SLUG_MAX:
        return reject("project_slug", value, allowed, f"it has {len(value)} characters")
    if "--" in value:
        return reject("project_slug", value, allowed, "it contains '--'")
    if not PROJECT_SLUG_RE.fullmatch(value):
        return reject("project_slug", value, allowed)
    return None


def validate_package_name(value: str, reserved: frozenset[str] | None = None) -> str | None:
    allowed = (
        "use a lowercase identifier (a-z, 0-9, _, not starting with a digit) of at most "
        f"{PACKAGE_NAME_MAX} characters that is no keyword, standard library module or "
        "dependency name"
    )
    if len(value) > PACKAGE_NAME_MAX:
        return reject("package_name", value, allowed, f"it has {len(value)} characters")
    if not PACKAGE_NAME_RE.fullmatch(value) or not value.isidentifier():
        return reject("package_name", value, allowed)
    if keyword.iskeyword(value) or value in SOFT_KEYWORDS:
        return reject("package_name", value, allowed, "it is a Python keyword")
    if value in sys.stdlib_module_names:
        return reject("package_name", value, allowed, "it shadows a standard library module")
    if reserved is None:
        reserved = reserved_package_names({})
    if value in reserved:
        return reject(
            "package_name", value, allowed, "it shadows a package the service imports or tests with"
        )
    return None


def validate_description(value: str) -> str | None:
    allowed = (
        f"use at most {DESCRIPTION_MAX} characters on one line, without control "
        "characters (it may be empty)"
    )
    problem = text_problem(value, max_length=DESCRIPTION_MAX, required=False)
    return reject("description", value, allowed, problem) if problem else None


def validate_author_name(value: str) -> str | None:
    allowed = (
        f"use a non-empty name of at most {AUTHOR_NAME_MAX} characters on one line, "
        "without control characters"
    )
    problem = text_problem(value, max_length=AUTHOR_NAME_MAX, required=True)
    return reject("author_name", value, allowed, problem) if problem else None


def validate_author_email(value: str) -> str | None:
    if AUTHOR_EMAIL_RE.fullmatch(value):
        return None
    return reject(
        "author_email", value, "use an address of the form name@domain.tld, without spaces"
    )


def validate_python_version(value: str) -> str | None:
    if value in PYTHON_VERSIONS:
        return None
    allowed = f"use one of {', '.join(PYTHON_VERSIONS)}"
    if value.endswith("t") and value[:-1] in PYTHON_VERSIONS:
        reason = "the free-threaded build is not offered (psycopg2 has no free-threaded wheel)"
        return reject("python_version", value, allowed, reason)
    return reject("python_version", value, allowed)


def validate_http_port(value: str) -> str | None:
    if HTTP_PORT_RE.fullmatch(value) and PORT_MIN <= int(value) <= PORT_MAX:
        return None
    return reject(
        "http_port",
        value,
        f"use a whole number from {PORT_MIN} to {PORT_MAX} (decimal digits, no leading zero)",
    )


def _validate_yes_no(name: str, value: str) -> str | None:
    if value in YES_NO:
        return None
    return reject(name, value, "use yes or no")


def validate_kubernetes(value: str) -> str | None:
    return _validate_yes_no("kubernetes", value)


def validate_github_actions(value: str) -> str | None:
    return _validate_yes_no("github_actions", value)


def validate_lessons(value: str) -> str | None:
    return _validate_yes_no("lessons", value)


def validate_database(value: str) -> str | None:
    if value in DATABASES:
        return None
    return reject("database", value, f"use one of {', '.join(DATABASES)}")


def validate_outbound_http(value: str) -> str | None:
    return _validate_yes_no("outbound_http", value)


def validate_file_storage(value: str) -> str | None:
    return _validate_yes_no("file_storage", value)


def validate_license(value: str) -> str | None:
    if value in LICENSES:
        return None
    return reject("license", value, f"use one of {', '.join(LICENSES)}")


VALIDATORS: dict[str, Callable[[str], str | None]] = {
    "project_name": validate_project_name,
    "project_slug": validate_project_slug,
    "package_name": validate_package_name,
    "description": validate_description,
    "author_name": validate_author_name,
    "author_email": validate_author_email,
    "python_version": validate_python_version,
    "http_port": validate_http_port,
    "kubernetes": validate_kubernetes,
    "github_actions": validate_github_actions,
    "license": validate_license,
    "lessons": validate_lessons,
    "database": validate_database,
    "outbound_http": validate_outbound_http,
    "file_storage": validate_file_storage,
}


def validate(context: Mapping[str, object]) -> list[str]:
    """Check every input and return one error message per bad input, in a fixed order."""
    errors: list[str] = []
    reserved = reserved_package_names(context)
    validators = VALIDATORS | {"package_name": partial(validate_package_name, reserved=reserved)}
    for name, validator in validators.items():
        value = context.get(name)
        if value is None:
            errors.append(f"{name} is missing: the template expects a value for it")
            continue
        error = validator(value if isinstance(value, str) else str(value))
        if error is not None:
            errors.append(error)
    return errors


def main() -> None:
    context = json.loads(r"""{{ cookiecutter | tojson }}""")
    errors = validate(context)
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    main()
