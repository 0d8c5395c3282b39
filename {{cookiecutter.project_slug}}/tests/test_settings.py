import hashlib
import os
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from {{ cookiecutter.package_name }}.settings import DRIVERS, Settings, describe_error

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
    # Below 1 KiB a request line with its Host could be refused; above 1 MiB a thousand
    # unfinished header blocks could take a gigabyte.
    "header-cap-below-a-request-line": (
        {"SERVER_MAX_HEADER_BYTES": "1023"},
        "SERVER_MAX_HEADER_BYTES",
    ),
    "header-cap-beyond-the-bound": (
        {"SERVER_MAX_HEADER_BYTES": "1048577"},
        "SERVER_MAX_HEADER_BYTES",
    ),
    "no-keep-alive-timeout": ({"SERVER_KEEP_ALIVE_TIMEOUT": "0"}, "SERVER_KEEP_ALIVE_TIMEOUT"),
    "no-backlog": ({"SERVER_BACKLOG": "0"}, "SERVER_BACKLOG"),
    "backlog-beyond-the-bound": ({"SERVER_BACKLOG": "65536"}, "SERVER_BACKLOG"),
    "concurrency-limit-zero": ({"SERVER_LIMIT_CONCURRENCY": "0"}, "SERVER_LIMIT_CONCURRENCY"),
    "concurrency-limit-empty": ({"SERVER_LIMIT_CONCURRENCY": ""}, "SERVER_LIMIT_CONCURRENCY"),
    "otlp-endpoint-not-a-url": (
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "collector:4318"},
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ),
    "otlp-protocol-grpc": ({"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, "OTEL_EXPORTER_OTLP_PROTOCOL"),
    "environment-unknown": ({"ENVIRONMENT": "staging"}, "ENVIRONMENT"),
    "production-without-tokens": ({"ENVIRONMENT": "production"}, "API_TOKENS"),
    "production-with-only-commas": (
        {"ENVIRONMENT": "production", "API_TOKENS": " , "},
        "API_TOKENS",
    ),
    "token-too-short": ({"API_TOKENS": "change-me"}, "API_TOKENS"),
    "token-with-a-space": ({"API_TOKENS": "a token with spaces in it"}, "API_TOKENS"),
    "hash-not-hex": ({"API_TOKENS": "sha256:" + "z" * 64}, "API_TOKENS"),
    "hash-too-short": ({"API_TOKENS": "sha256:" + "a" * 63}, "API_TOKENS"),
    "reads-closed-without-tokens": ({"API_TOKENS_FOR_READS": "true"}, "API_TOKENS_FOR_READS"),
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


def refused_start(environment: dict[str, str]) -> list[str]:
    """What the service writes to stderr when it refuses to start (it must, with exit 2)."""
    result = subprocess.run(
        SERVICE, env=environment, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    return result.stderr.strip().splitlines()


def test_service_with_invalid_configuration_exits_with_one_line_naming_the_variable() -> None:
    assert refused_start({**os.environ, "PORT": "http"}) == [
        "invalid configuration: PORT: Input should be a valid integer, "
        "unable to parse string as an integer"
    ]


def test_api_tokens_are_comma_separated_and_kept_as_digests(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    plain, other = "a" * 16, "b" * 43 + "="
    hashed = "sha256:" + hashlib.sha256(other.encode()).hexdigest().upper()
    monkeypatch.setenv("API_TOKENS", f" {plain} ,{hashed}, ")
    monkeypatch.setenv("ENVIRONMENT", "production")
    settings = Settings(_env_file=None)
    assert settings.api_tokens == tuple(
        hashlib.sha256(token.encode()).digest() for token in (plain, other)
    )
    assert plain not in repr(settings)


def test_production_without_tokens_refuses_to_start_with_one_line() -> None:
    environment = {**os.environ, "ENVIRONMENT": "production"}
    environment.pop("API_TOKENS", None)
    assert refused_start(environment) == [
        "invalid configuration: API_TOKENS is empty, and "
        "ENVIRONMENT=production refuses to serve writes to anyone: set at least one token "
        '(README, "Tokens")'
    ]


def secret_volume(directory: Path, files: dict[str, str]) -> Path:
    """`files` laid out as the kubelet writes a Secret volume: each name a symlink through
    `..data` into a timestamped directory, which an update of the Secret swaps."""
    version = directory / "..2026_01_01_00_00_00.000000001"
    version.mkdir(parents=True)
    for name, content in files.items():
        (version / name).write_text(content, encoding="utf-8")
        (version / name).chmod(0o440)
    (directory / "..data").symlink_to(version.name)
    for name in files:
        (directory / name).symlink_to(f"..data/{name}")
    return directory


def test_a_mounted_secret_file_sets_the_setting_it_is_named_after(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    url = "postgresql://app:s3cret@db.internal:5432/app"
    # kubectl create secret --from-file keeps the file's final newline: it is not the URL's.
    secrets = secret_volume(tmp_path, {"database_url": url + "\n"})
    assert Settings(_env_file=None, _secrets_dir=secrets).database_url == url


def test_an_environment_variable_wins_over_a_mounted_secret_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url = "postgresql://app@from-the-environment/app"
    monkeypatch.setenv("DATABASE_URL", url)
    secrets = secret_volume(tmp_path, {"database_url": "postgresql://app@from-the-file/app"})
    assert Settings(_env_file=None, _secrets_dir=secrets).database_url == url


def test_an_invalid_mounted_secret_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    secrets = secret_volume(tmp_path, {"database_url": "mysql://db/app"})
    with pytest.raises(ValidationError) as refused:
        Settings(_env_file=None, _secrets_dir=secrets)
    assert describe_error(refused.value).startswith("invalid configuration: DATABASE_URL: ")


def test_api_tokens_are_read_from_a_mounted_secret_file_too(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("API_TOKENS", raising=False)
    old, new = "o" * 16, "n" * 16
    secrets = secret_volume(tmp_path, {"api_tokens": f"{old},{new}\n"})
    settings = Settings(_env_file=None, _secrets_dir=secrets)
    assert settings.api_tokens == tuple(hashlib.sha256(t.encode()).digest() for t in (old, new))
