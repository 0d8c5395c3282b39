import os
import subprocess

import pytest

from {{ cookiecutter.package_name }}.settings import DRIVERS, Settings

from .support.processes import SERVICE
from .support.settings import refusal

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
    "log-level-unknown": ({"LOG_LEVEL": "loud"}, "LOG_LEVEL"),
    "log-format-unknown": ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
    "no-thread-tokens": ({"ANYIO_THREAD_TOKENS": "0"}, "ANYIO_THREAD_TOKENS"),
    "no-executor-threads": ({"TO_THREAD_MAX_WORKERS": "0"}, "TO_THREAD_MAX_WORKERS"),
    "negative-timeout": ({"SHUTDOWN_TIMEOUT": "-1"}, "SHUTDOWN_TIMEOUT"),
    "json-body-cap-not-a-number": ({"MAX_JSON_BODY_BYTES": "16k"}, "MAX_JSON_BODY_BYTES"),
    # Below 4 KiB a valid item could be refused; above 16 MiB one body's parse could take a
    # pod's memory.
    "json-body-cap-below-an-item": ({"MAX_JSON_BODY_BYTES": "4095"}, "MAX_JSON_BODY_BYTES"),
    "json-body-cap-beyond-the-bound": (
        {"MAX_JSON_BODY_BYTES": "16777217"},
        "MAX_JSON_BODY_BYTES",
    ),
    "otlp-endpoint-not-a-url": (
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ),
    "otlp-protocol-grpc": ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
    **{
        f"{driver}-negative-acquire-timeout": (
            {f"{driver.upper()}_ACQUIRE_TIMEOUT": "-1"},
            f"{driver.upper()}_ACQUIRE_TIMEOUT",
        )
        for driver in DRIVERS
    },
    **{
        f"{driver}-min-above-max": (
            {f"{driver.upper()}_POOL_MIN_SIZE": "20", f"{driver.upper()}_POOL_MAX_SIZE": "10"},
            f"{driver.upper()}_POOL_MIN_SIZE",
        )
        for driver in DRIVERS
    },
}


@pytest.mark.parametrize(
    ("environment", "variable"), INVALID_ENVIRONMENT.values(), ids=INVALID_ENVIRONMENT.keys()
)
def test_invalid_environment_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], variable: str
) -> None:
    assert variable in refusal(monkeypatch, environment)


def test_unix_socket_database_urls_are_accepted(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql://postgres:@/postgres?host=/var/run/postgresql"
    monkeypatch.setenv("DATABASE_URL", url)
    assert Settings(_env_file=None).database_url == url


def test_service_with_invalid_configuration_exits_with_one_line_naming_the_variable() -> None:
    environment = {**os.environ, "PORT": "http"}
    result = subprocess.run(
        SERVICE,
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
