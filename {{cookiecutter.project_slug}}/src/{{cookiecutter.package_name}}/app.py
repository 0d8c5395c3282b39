"""Application factory: `uvicorn {{ cookiecutter.package_name }}.app:create_app --factory`."""

from importlib.metadata import metadata

from fastapi import FastAPI

from .auth.tokens import REQUIRE_TOKEN, TOKEN_REFUSED, warn_if_writes_are_open
from .errors import register_error_handlers
{% if cookiecutter.lessons == "yes" %}
from .lessons.router import lessons_router
{% endif %}
from .lifespan import build_lifespan
from .observability.metrics import Metrics, RequestMetricsMiddleware
from .observability.request_id import add_request_id_middleware
from .observability.tracing import UntracedPaths, export_of, telemetry_config
from .routes import (
{% if cookiecutter.database != "psycopg2" %}
    async_items,
{% endif %}
{% if cookiecutter.database != "asyncpg" %}
    bridge,
{% endif %}
{% if cookiecutter.outbound_http == "yes" %}
    fanout,
{% endif %}
{% if cookiecutter.file_storage == "yes" %}
    files,
{% endif %}
    health,
    metrics,
{% if cookiecutter.database != "asyncpg" %}
    sync_items,
{% endif %}
)
from .settings import Settings

# Read once at import: it searches the filesystem, which has no place on the event loop.
DISTRIBUTION = metadata("{{ cookiecutter.project_slug }}")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    request_metrics = Metrics()
    export = export_of(settings)
    app = FastAPI(
        title={{ cookiecutter.project_name | tojson }},
        description=DISTRIBUTION["Summary"] or "",
        version=DISTRIBUTION["Version"],
        lifespan=build_lifespan(settings, request_metrics),
        # Traces only with an OTLP endpoint set; FastAPI's telemetry makes the request spans.
        telemetry=telemetry_config(export),
    )
    warn_if_writes_are_open(settings)
    # The write routes ask for a token themselves; API_TOKENS_FOR_READS puts the check first
    # on every route of the data routers, reads included (FastAPI runs it once per request).
    closed = settings.api_tokens_for_reads
    guard = [REQUIRE_TOKEN] if closed else []
    refused = TOKEN_REFUSED if closed else {}
    # Routes are matched one by one in this order (no prefix index), so the service's own
    # routes come first: ~1 us per route passed over.
    app.include_router(health.router)
    # The item routers read JSON bodies (POST, PUT): each is capped while it streams in,
    # refused (413) before a byte is read when Content-Length already says too much, so one
    # request cannot parse hundreds of megabytes into a pod's memory. Per router, not on the
    # app: a cap on the app would hold the upload below UPLOAD_MAX_BYTES too, and the upload
    # streams to disk under its own cap; no other route reads a body.
    json_body_cap = settings.max_json_body_bytes
{% if cookiecutter.database != "psycopg2" %}
    app.include_router(
        async_items.router, dependencies=guard, responses=refused, max_body_size=json_body_cap
    )
{% endif %}
{% if cookiecutter.database != "asyncpg" %}
    app.include_router(
        sync_items.router, dependencies=guard, responses=refused, max_body_size=json_body_cap
    )
{% endif %}
{% if cookiecutter.database != "asyncpg" %}
    app.include_router(bridge.router, dependencies=guard, responses=refused)
{% endif %}
{% if cookiecutter.outbound_http == "yes" %}
    app.include_router(fanout.router)
{% endif %}
{% if cookiecutter.file_storage == "yes" %}
    app.include_router(files.router, dependencies=guard, responses=refused)
{% endif %}
{% if cookiecutter.lessons == "yes" %}
    if settings.enable_lessons:
        app.include_router(lessons_router(settings))
{% endif %}
    app.include_router(metrics.router)
    register_error_handlers(app)
    if export is not None:
        app.add_middleware(UntracedPaths)
    app.add_middleware(RequestMetricsMiddleware, metrics=request_metrics)
    add_request_id_middleware(app)
    return app
