"""The app factory: routes, error handlers, the gate (metrics, limits, key) and CORS when asked.

``scripts/serve.py`` serves :func:`from_environment` with uvicorn; tests call :func:`create_app`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from tunescout.api.engines import EngineHolder
from tunescout.api.errors import ERROR_KEY, for_exception
from tunescout.api.gate import Gate
from tunescout.api.limits import KeyCheck, RateLimiter
from tunescout.api.metrics import Metrics
from tunescout.api.routes import ratings, recommend, search, similar, system
from tunescout.api.service import Api
from tunescout.config import ApiSettings, api_settings, load_settings
from tunescout.errors import TunescoutError

if TYPE_CHECKING:
    from tunescout.serving.engine import Engine

log = logging.getLogger("tunescout.api")
DESCRIPTION = """Similar tracks and artists, recommendations from a session, from star ratings or
for a saved profile, mood search, ratings and feedback — over the same engine and ratings database
as the tunescout app. Errors are JSON: `{"error": "<one line>", "kind": "...", "status": 400}`.
When `TUNESCOUT_API_KEY` is set, send `Authorization: Bearer <key>`."""


def create_app(
    data_dir: str | Path | None = None,
    settings: ApiSettings | None = None,
    engine: Engine | None = None,
    loader: Callable[[Path], Engine] | None = None,
    load_at_start: bool = True,
) -> FastAPI:
    """The API over one data directory.

    Args:
        data_dir: The data directory (default ``$TUNESCOUT_DATA_DIR`` or ``data/``).
        settings: Key, rate limit, CORS and cache (default: :func:`tunescout.config.api_settings`).
        engine: An engine already loaded from ``data_dir`` (served until ``CURRENT`` changes).
        loader: How to load an engine (default: as the app does, with warm-up).
        load_at_start: Load the engine before the server accepts requests (else on first use).
    """
    data_dir = load_settings(data_dir).data_dir
    settings = settings or api_settings()
    metrics = Metrics()
    holder = EngineHolder(data_dir, engine=engine, loader=loader, on_load=metrics.loaded)
    api = Api(holder, settings, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if load_at_start:
            await run_in_threadpool(holder.wait)
            if holder.engine is None:
                log.warning("serving no data yet: %s", holder.unavailable())
        yield

    app = FastAPI(
        title="tunescout API",
        version="1",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.api = api
    for router in (similar.router, recommend.router, search.router, ratings.router, system.router):
        app.include_router(router)

    async def handle(request: Request, exc: Exception) -> Response:
        status, kind, headers, payload = for_exception(exc, api.building)
        request.scope[ERROR_KEY] = kind
        if status >= 500 and kind != "internal":
            log.warning("%s %s: %s", request.method, request.url.path, payload.decode()[:300])
        return Response(payload, status, headers, media_type="application/json")

    for exc_class in (TunescoutError, RequestValidationError, HTTPException):
        app.add_exception_handler(exc_class, handle)

    if settings.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    limiter = RateLimiter(settings.rate, settings.burst)
    app.add_middleware(
        Gate,
        metrics=metrics,
        limiter=limiter,
        keys=KeyCheck(settings.key),
        building=api.building,
        routes=lambda: app.routes,
    )
    return app


def from_environment() -> FastAPI:
    """The app for ``$TUNESCOUT_DATA_DIR`` with the environment's API settings (uvicorn's factory)."""
    return create_app()
