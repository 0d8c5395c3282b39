import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.settings import Settings, describe_error

INVALID_ENVIRONMENT = {
    "port-not-a-number": ({"PORT": "http"}, "PORT"),
    "port-out-of-range": ({"PORT": "70000"}, "PORT"),
    "workers-not-a-number": ({"WORKERS": "auto"}, "WORKERS"),
    "no-workers": ({"WORKERS": "0"}, "WORKERS"),
    "workers-beyond-the-bound": ({"WORKERS": "65"}, "WORKERS"),
    "database-url-other-scheme": ({"DATABASE_URL": "mysql://db/app"}, "DATABASE_URL"),
    "database-url-driver-suffix": (
        {"DATABASE_URL": "postgresql+asyncpg://db/app"},
        "DATABASE_URL",
    ),
    "database-url-without-host": ({"DATABASE_URL": "postgresql:///app"}, "DATABASE_URL"),
    "upstream-url-not-a-url": ({"UPSTREAM_URL": "upstream"}, "UPSTREAM_URL"),
    "log-level-unknown": ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    "log-format-unknown": ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    "antipatterns-not-a-bool": ({"ENABLE_ANTIPATTERNS": "perhaps"}, "ENABLE_ANTIPATTERNS"),
    "no-thread-tokens": ({"ANYIO_THREAD_TOKENS": "0"}, "ANYIO_THREAD_TOKENS"),
    "no-executor-threads": ({"TO_THREAD_MAX_WORKERS": "0"}, "TO_THREAD_MAX_WORKERS"),
    "negative-timeout": ({"ASYNCPG_ACQUIRE_TIMEOUT": "-1"}, "ASYNCPG_ACQUIRE_TIMEOUT"),
    "asyncpg-min-above-max": (
        {"ASYNCPG_POOL_MIN_SIZE": "20", "ASYNCPG_POOL_MAX_SIZE": "10"},
        "ASYNCPG_POOL_MIN_SIZE",
    ),
    "psycopg2-min-above-max": (
        {"PSYCOPG2_POOL_MIN_SIZE": "20", "PSYCOPG2_POOL_MAX_SIZE": "10"},
        "PSYCOPG2_POOL_MIN_SIZE",
    ),
    "psycopg2-pool-larger-than-its-threads": (
        {
            "PSYCOPG2_POOL_MAX_SIZE": "21",
            "ANYIO_THREAD_TOKENS": "10",
            "TO_THREAD_MAX_WORKERS": "10",
        },
        "PSYCOPG2_POOL_MAX_SIZE",
    ),
    "upload-limit-zero": ({"UPLOAD_MAX_BYTES": "0"}, "UPLOAD_MAX_BYTES"),
}


@pytest.mark.parametrize(
    ("environment", "variable"), INVALID_ENVIRONMENT.values(), ids=INVALID_ENVIRONMENT.keys()
)
def test_invalid_environment_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], variable: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None)
    assert variable in describe_error(refused.value)


def test_unix_socket_database_urls_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://postgres:@/postgres?host=/var/run/postgresql"
    monkeypatch.setenv("DATABASE_URL", url)
    assert Settings(_env_file=None).database_url == url


def test_service_with_invalid_configuration_exits_with_one_line_naming_the_variable() -> None:
    environment = {**os.environ, "PORT": "http"}
    result = subprocess.run(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "invalid configuration: PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]
