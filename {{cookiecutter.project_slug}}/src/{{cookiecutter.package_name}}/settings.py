"""Configuration from environment variables (and an optional `.env` file).

Every knob that decides how much runs at once lives here, so capacity is a deliberate,
reviewable number instead of a library default. Invalid values stop start-up with a message
that names the variable.
"""

import hashlib
{% if cookiecutter.lessons == "yes" %}
import os
{% endif %}
import re
from pathlib import Path
from typing import Annotated, Literal, Self
from urllib.parse import parse_qs, urlsplit

from pydantic import AfterValidator, BeforeValidator, Field, ValidationError, model_validator
from pydantic.networks import HttpUrl
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .observability.log_config import LogFormat

LogLevel = Literal["critical", "error", "warning", "info", "debug"]


def check_postgres_url(url: str) -> str:
    """Accept `postgresql://` URLs with a TCP host or a Unix socket (`?host=/run/postgresql`).

    pydantic's PostgresDsn rejects socket URLs (empty host), which the embedded server uses.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"postgresql", "postgres"}:
        raise ValueError(
            "must start with postgresql:// (both drivers read the same URL; "
            "do not add a driver suffix such as +asyncpg)"
        )
    if not parts.hostname and not parse_qs(parts.query).get("host"):
        raise ValueError("must name a host, or a socket directory as ?host=/path")
    return url


PostgresURL = Annotated[str, AfterValidator(check_postgres_url)]
{% if cookiecutter.database == "both" %}
DRIVERS = ("asyncpg", "psycopg2")
{% else %}
DRIVERS = ("{{ cookiecutter.database }}",)
{% endif %}
PositiveSeconds = Annotated[float, Field(gt=0, le=3600)]
# On Kubernetes the pod's Secrets are mounted here, one file per setting, named like it
# (database_url): files, not environment variables, which every child process inherits.
# Elsewhere there is no such directory, and pydantic-settings would warn of a missing one.
SECRETS_DIR = Path("/run/secrets/{{ cookiecutter.project_slug }}")

# A plain token: what RFC 6750 lets a Bearer header carry, and long enough not to be guessed.
PLAIN_TOKEN = re.compile(r"[A-Za-z0-9._~+/-]{16,}=*")
HASHED_TOKEN = re.compile(r"sha256:([0-9A-Fa-f]{64})")


def split_tokens(value: object) -> object:
    """API_TOKENS is comma-separated (no JSON): `a,b` while rotating from a to b."""
    if isinstance(value, str):
        return [token.strip() for token in value.split(",") if token.strip()]
    return value


def token_digest(token: object) -> bytes:
    """The SHA-256 of a token, from the token itself or from `sha256:<hex>`.

    Settings keep digests only, so no repr or log of them shows a token; auth/tokens.py
    compares digests, which all have one length.
    """
    if not isinstance(token, str):
        raise ValueError("each token must be text")
    if hashed := HASHED_TOKEN.fullmatch(token):
        return bytes.fromhex(hashed.group(1))
    if token.startswith("sha256:"):
        raise ValueError("a hashed token is sha256: and 64 hex digits")
    if not PLAIN_TOKEN.fullmatch(token):
        raise ValueError(
            "each token is at least 16 characters of A-Z a-z 0-9 - . _ ~ + / "
            "(then = padding), or sha256:<64 hex digits>"
        )
    return hashlib.sha256(token.encode()).digest()


TokenDigest = Annotated[bytes, BeforeValidator(token_digest)]


class Settings(BaseSettings):
    # extra="ignore": .env is shared with docker compose, which reads POSTGRES_PASSWORD.
    # An environment variable or a .env line wins over a secret file of the same name.
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        secrets_dir=SECRETS_DIR if SECRETS_DIR.is_dir() else None,
    )

    # -- Server and logging --
    # Processes `python -m {{ cookiecutter.package_name }}` serves the port with, each a whole copy
    # of the service: its own loop, pools, threads and database connections.
    # 1 per container on Kubernetes: scale with pods, which the HPA, the probes and the
    # connection budget count. More where one process must use several cores (compose on a
    # many-core VM): see workers.py.
    workers: int = Field(default=1, ge=1, le=64)
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default={{ cookiecutter.http_port }}, ge=1, le=65535)
    log_level: LogLevel = "info"
    # console for a person at a terminal; json for a log pipeline (the image sets it).
    log_format: LogFormat = "console"
    shutdown_timeout: PositiveSeconds = 10.0

    # -- Credentials: bearer tokens for the write routes (auth/tokens.py) --
    # development: without API_TOKENS the writes are open, said once at start-up (WARNING).
    # production (the image, compose, Kubernetes): start-up refuses without API_TOKENS.
    environment: Literal["development", "production"] = "development"
    # Comma-separated; each a token or its SHA-256 as sha256:<hex>, so the environment need
    # not hold the token itself. Two at once while rotating (README, "Tokens").
    api_tokens: Annotated[
        tuple[TokenDigest, ...], NoDecode, BeforeValidator(split_tokens), Field(repr=False)
    ] = ()
    # The item and file reads ask for a token too; /healthz, /readyz and /metrics never do.
    api_tokens_for_reads: bool = False

    # -- Traces: OpenTelemetry over OTLP/HTTP (observability/tracing.py) --
    # Unset: no tracing at all. Set to a collector's base URL (http://otel-collector:4318),
    # spans go to <it>/v1/traces. The SDK's other OTEL_* variables (sampler, batch delay,
    # headers, resource attributes) it reads from the environment itself.
    otel_exporter_otlp_endpoint: HttpUrl | None = None
    # The traces-only variant, used as given (no /v1/traces added); wins over the one above.
    otel_exporter_otlp_traces_endpoint: HttpUrl | None = None
    # The one protocol the service ships an exporter for (grpc would need another package).
    otel_exporter_otlp_protocol: Literal["http/protobuf"] = "http/protobuf"
    otel_service_name: str = Field(default="{{ cookiecutter.project_slug }}", min_length=1)
{% if cookiecutter.lessons == "yes" %}

    # -- Lessons: the /lesson routes (lessons/), and their CPU process pool --
    # Off in the image, compose and Kubernetes: the lessons hold threads, processes and the
    # CPU on purpose, which a deployed service must not let strangers do.
    enable_lessons: bool = True
    # Mounts the deliberately wrong routes too (lessons/antipatterns.py). Never in production.
    enable_antipatterns: bool = False
    # Processes for CPU-bound work (/lesson/cpu-offload), each with its own GIL.
    cpu_workers: int = Field(default=os.cpu_count() or 1, ge=1, le=256)
{% endif %}

    # -- Database: one URL, a pool per driver --
    # Unset: `python -m {{ cookiecutter.package_name }}` starts an embedded PostgreSQL.
    database_url: PostgresURL | None = None
    # Every pool names its connections "<this>/<driver>" in pg_stat_activity (at most 63
    # bytes in all).
    database_application_name: str = Field(
        default="{{ cookiecutter.project_slug }}", min_length=1, max_length=50, pattern=r"^[ -~]+$"
    )
{% if cookiecutter.database != "psycopg2" %}
    asyncpg_pool_min_size: int = Field(default=10, ge=0, le=1000)
    asyncpg_pool_max_size: int = Field(default=10, ge=1, le=1000)
    asyncpg_acquire_timeout: PositiveSeconds = 5.0
    asyncpg_command_timeout: PositiveSeconds = 30.0
    # Prepared statements asyncpg keeps per connection. 0 behind PgBouncer < 1.21 in
    # transaction mode, where the next statement may reach a server connection that never
    # prepared it (docs/deployment.md).
    asyncpg_statement_cache_size: int = Field(default=100, ge=0, le=10000)
{% endif %}
{% if cookiecutter.database != "asyncpg" %}
    psycopg2_pool_min_size: int = Field(default=10, ge=0, le=1000)
    psycopg2_pool_max_size: int = Field(default=10, ge=1, le=1000)
    psycopg2_acquire_timeout: PositiveSeconds = 5.0
    psycopg2_connect_timeout: int = Field(default=5, ge=1, le=3600)
    # psycopg2 has no per-call timeout: the server cancels a statement that runs longer,
    # so a hung query frees its thread and its connection instead of holding them for ever.
    psycopg2_statement_timeout: PositiveSeconds = 30.0
    # A psycopg2 connection is replaced after this long (asyncpg replaces its own after
    # 50,000 queries or 300 s idle), so server-side memory and a PgBouncer or failover
    # behind a load balancer get fresh connections too.
    psycopg2_max_lifetime: PositiveSeconds = 3600.0
{% endif %}
{% if cookiecutter.outbound_http == "yes" %}

    # -- HTTP client: the shared outbound client (outbound/client.py) and what it calls --
    # Unset (development): the lifespan serves the stub this package ships and calls it.
    upstream_url: HttpUrl | None = None
    # Its aiohttp transport has no write timeout and no keep-alive count: neither is a setting.
    http_connect_timeout: PositiveSeconds = 2.0
    http_read_timeout: PositiveSeconds = 10.0
    # Waiting for a free pooled connection (aiohttp counts opening it in this one too).
    http_pool_timeout: PositiveSeconds = 5.0
    http_max_connections: int = Field(default=100, ge=1, le=10000)
    http_keepalive_expiry: PositiveSeconds = 5.0
    # The timeouts above bound each wait, not the whole: an upstream that sends one byte
    # per read timeout would hold a call for ever. These bound one call (connection, headers
    # and body) and a whole fan-out, end to end; past either: 504.
    http_call_timeout: PositiveSeconds = 15.0
    http_fanout_timeout: PositiveSeconds = 20.0
    # An upstream body larger than this is abandoned while it streams in (502): an endless
    # or huge answer cannot fill the memory.
    http_response_max_bytes: int = Field(default=1024 * 1024, ge=1, le=2**40)
{% endif %}
{% if cookiecutter.file_storage == "yes" %}

    # -- Files: blocking file I/O under FILES_DIR (files/store.py) --
    files_dir: Path = Path("files")
    # Larger PUT bodies get 413; nothing of them stays on disk.
    upload_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1)
    # Uploads that would leave less free space than this on FILES_DIR's volume get 507,
    # before the volume is full (a full volume fails every writer; on Kubernetes a full
    # emptyDir evicts the pod).
    files_min_free_bytes: int = Field(default=64 * 1024 * 1024, ge=0, le=2**50)
{% endif %}

    # -- Request bodies --
    # Largest JSON body an item route reads (POST, PUT); a longer one is a 413, cut while it
    # streams in. The largest valid item written compactly with every character at its
    # longest: a name of 200 astral characters as surrogate-pair escapes ("\ud83d\ude00",
    # 12 bytes each: 2,400), both keys and a "9999999999.99" price as \u00XX escapes (24 +
    # 30 + 78), quotes and punctuation (13): 2,545 bytes. 16 KiB leaves over 6x that for
    # indentation and spacing. At least 4 KiB, so every valid item fits; at most 16 MiB, as
    # parsing costs several times the body in memory and a pod has 768Mi.
    max_json_body_bytes: int = Field(default=16 * 1024, ge=4 * 1024, le=16 * 1024 * 1024)

    # -- HTTP server: what one connection may hold below HTTP (uvicorn, __main__.py serve()) --
    # Largest unfinished request line plus header block uvicorn buffers for one request; past
    # it the connection gets a 400 and is closed (a block that arrives whole in one read is
    # parsed as it is). Enforced by the h11 parser serve() runs (httptools has no such cap:
    # 1,000 connections of unfinished 1 MiB blocks held 1 GiB there). 16 KiB
    # holds any real header block (nginx's default buffers refuse a line over 8 KiB); at
    # least 1 KiB, so a request line with a Host fits; at most 1 MiB.
    server_max_header_bytes: int = Field(default=16 * 1024, ge=1024, le=1024 * 1024)
    # Seconds an idle keep-alive connection is kept after its last response; then uvicorn
    # closes it, so idle clients cannot pile up. Shorter than a proxy's own idle timeout only
    # if the proxy retries (nginx's upstream keepalive_timeout is 60 s). uvicorn has no
    # timeout for a request's headers or body while they arrive: the proxy bounds those
    # (docs/deployment.md).
    server_keep_alive_timeout: PositiveSeconds = 5.0
    # Connections the kernel holds for the server to accept (listen(2)'s backlog). When a
    # burst outruns it, the kernel drops the attempt and the client sends it again a second
    # later, then after 3 s and longer: nothing fails, but those requests take seconds more.
    # uvicorn's default; Linux caps it at net.core.somaxconn (4096 since kernel 5.4).
    server_backlog: int = Field(default=2048, ge=1, le=65535)
    # Connections plus running requests past which uvicorn answers 503 to every new request,
    # /healthz included. Unset: no limit (docs/deployment.md, "Hostile connections", says
    # why).
    server_limit_concurrency: int | None = Field(default=None, ge=1)

    # -- Thread budgets: how many threads blocking work may use at once --
    # FastAPI runs every `def` route and `def` dependency on AnyIO's default limiter:
    # at most this many at once per event loop (AnyIO's own default is 40).
    anyio_thread_tokens: int = Field(default=40, ge=1, le=1000)
    # asyncio.to_thread uses the loop's default executor, which Python sizes
    # min(32, cpus + 4): 6 threads on a 2-core machine, far below the 40 `def` routes get.
    # The lifespan replaces it with one of this size.
    to_thread_max_workers: int = Field(default=40, ge=1, le=1000)

    @model_validator(mode="after")
    def check_tokens_where_they_are_needed(self) -> Self:
        if self.environment == "production" and not self.api_tokens:
            raise ValueError(
                "API_TOKENS is empty, and ENVIRONMENT=production refuses to serve writes "
                'to anyone: set at least one token (README, "Tokens")'
            )
        if self.api_tokens_for_reads and not self.api_tokens:
            raise ValueError("API_TOKENS_FOR_READS=true needs API_TOKENS")
        return self

    @model_validator(mode="after")
    def check_pool_bounds(self) -> Self:
        for driver in DRIVERS:
            low = getattr(self, f"{driver}_pool_min_size")
            high = getattr(self, f"{driver}_pool_max_size")
            if low > high:
                raise ValueError(
                    f"{driver.upper()}_POOL_MIN_SIZE ({low}) must not exceed "
                    f"{driver.upper()}_POOL_MAX_SIZE ({high})"
                )
        return self
{% if cookiecutter.database != "asyncpg" %}

    @model_validator(mode="after")
    def check_psycopg2_pool_fits_the_threads(self) -> Self:
        # Only threads call psycopg2: `def` routes (thread tokens) and asyncio.to_thread
        # bridges (executor workers). Connections beyond that sum can never be used; they
        # only take server slots (max_connections) from other clients.
        threads = self.anyio_thread_tokens + self.to_thread_max_workers
        if self.psycopg2_pool_max_size > threads:
            raise ValueError(
                f"PSYCOPG2_POOL_MAX_SIZE ({self.psycopg2_pool_max_size}) exceeds the threads "
                f"that can use a connection: ANYIO_THREAD_TOKENS + TO_THREAD_MAX_WORKERS "
                f"({threads})"
            )
        return self
{% endif %}


def describe_error(error: ValidationError) -> str:
    """One line per problem, naming the environment variable rather than the field."""
    lines = []
    for problem in error.errors():
        message = problem["msg"].removeprefix("Value error, ")
        # A check across settings (a model validator) names its variables in its message.
        where = f"{str(problem['loc'][0]).upper()}: " if problem["loc"] else ""
        lines.append(f"invalid configuration: {where}{message}")
    return "\n".join(lines)
