"""Application factory: `uvicorn {{ cookiecutter.package_name }}.app:create_app --factory`."""

from importlib.metadata import metadata

from fastapi import FastAPI

from .errors import register_error_handlers
from .lifespan import build_lifespan
from .metrics import Metrics, RequestMetricsMiddleware
from .request_id import add_request_id_middleware
from .routes import (
    antipatterns,
    async_items,
    bridge,
    fanout,
    files,
    health,
    lesson,
    lesson_background,
    lesson_dependencies,
    lesson_disconnect,
    lesson_streaming,
    prometheus,
    request_id,
    sync_items,
)
from .settings import Settings

# Read once at import: it searches the filesystem, which has no place on the event loop.
DISTRIBUTION = metadata("{{ cookiecutter.project_slug }}")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    metrics = Metrics()
    app = FastAPI(
        title={{ cookiecutter.project_name | tojson }},
        description=DISTRIBUTION["Summary"] or "",
        version=DISTRIBUTION["Version"],
        lifespan=build_lifespan(settings, metrics),
    )
    # Routes are matched one by one in this order (no prefix index), so the service's own
    # routes come first and the lessons after them: ~1 us per route passed over.
    app.include_router(health.router)
    app.include_router(async_items.router)
    app.include_router(sync_items.router)
    app.include_router(bridge.router)
    app.include_router(fanout.router)
    app.include_router(files.router)
    app.include_router(lesson.router)
    app.include_router(lesson_dependencies.router)
    app.include_router(lesson_background.router)
    app.include_router(lesson_streaming.router)
    app.include_router(lesson_disconnect.router)
    app.include_router(request_id.router)
    register_error_handlers(app)
    if settings.enable_antipatterns:
        # Not mounted at all otherwise: the routes are 404s, not a disabled switch.
        app.include_router(antipatterns.router)
    app.include_router(prometheus.router)
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)
    add_request_id_middleware(app)
    return app
