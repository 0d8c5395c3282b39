"""Application factory: `uvicorn {{ cookiecutter.package_name }}.app:create_app --factory`."""

from importlib.metadata import metadata

from fastapi import FastAPI

from .lifespan import build_lifespan
from .routes import health
from .settings import Settings


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title={{ cookiecutter.project_name | tojson }},
        description=metadata("{{ cookiecutter.project_slug }}")["Summary"] or "",
        version=metadata("{{ cookiecutter.project_slug }}")["Version"],
        lifespan=build_lifespan(settings),
    )
    app.include_router(health.router)
    return app
