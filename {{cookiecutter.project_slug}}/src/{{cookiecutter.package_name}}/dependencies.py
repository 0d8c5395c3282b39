"""Typed shortcuts to the lifespan's resources, for route signatures.

The providers are `async def` on purpose: a plain `def` dependency would cost a trip through
the thread pool (and a thread token) just to read an attribute.
"""

from typing import TYPE_CHECKING, Annotated, TypeAlias, cast

import asyncpg
import httpx
from fastapi import Depends, Request

from .cpu_pool import CpuPool
from .lifespan import Resources
from .settings import Settings
from .sync_db import Psycopg2Pool

if TYPE_CHECKING:
    AsyncpgPoolType: TypeAlias = asyncpg.Pool[asyncpg.Record]
else:
    # FastAPI evaluates these annotations at run time, where asyncpg.Pool is not generic
    # (only its type stubs are).
    AsyncpgPoolType = asyncpg.Pool


async def get_resources(request: Request) -> Resources:
    return cast(Resources, request.state.resources)


ResourcesDep = Annotated[Resources, Depends(get_resources)]


async def get_settings(resources: ResourcesDep) -> Settings:
    return resources.settings


async def get_asyncpg_pool(resources: ResourcesDep) -> AsyncpgPoolType:
    return resources.asyncpg_pool


async def get_psycopg2_pool(resources: ResourcesDep) -> Psycopg2Pool:
    return resources.psycopg2_pool


async def get_cpu_pool(resources: ResourcesDep) -> CpuPool:
    return resources.cpu_pool


async def get_http_client(resources: ResourcesDep) -> httpx.AsyncClient:
    return resources.http_client


SettingsDep = Annotated[Settings, Depends(get_settings)]
AsyncpgPool = Annotated[AsyncpgPoolType, Depends(get_asyncpg_pool)]
Psycopg2PoolDep = Annotated[Psycopg2Pool, Depends(get_psycopg2_pool)]
CpuPoolDep = Annotated[CpuPool, Depends(get_cpu_pool)]
HttpClient = Annotated[httpx.AsyncClient, Depends(get_http_client)]
