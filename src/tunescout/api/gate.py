"""The one ASGI middleware every HTTP request passes: metrics, rate limit, API key, body limit, and
the last word on any failure (a JSON error, never a traceback)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from urllib.parse import unquote_to_bytes

from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tunescout.api.errors import ERROR_KEY, ApiError, for_exception
from tunescout.api.limits import UNLIMITED_PATHS, KeyCheck, RateLimiter
from tunescout.api.metrics import UNMATCHED, Metrics

log = logging.getLogger("tunescout.api")
MAX_BODY = 64 * 1024  # bytes of a JSON request
MAX_UPLOAD = 2_100_000  # bytes of a ratings CSV (the store reads at most 2 MB)
_BODIES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value
    return None


def client_of(scope: Scope) -> str:
    """Who is calling, for the rate limit: the peer's address (proxies' headers are not trusted)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def _check_url(scope: Scope) -> None:
    """Refuse a path or query whose percent-encoded bytes are not UTF-8 (they would otherwise be
    read with replacement characters, e.g. as another profile's name)."""
    for part in (scope.get("raw_path") or b"", scope.get("query_string") or b""):
        if b"%" in part:
            try:
                unquote_to_bytes(part).decode("utf-8")
            except UnicodeDecodeError:
                raise ApiError(
                    400, "input", "the URL holds percent-encoded bytes that are not UTF-8 text"
                ) from None


class Gate:
    """Wraps the FastAPI app.

    Args:
        app: The app.
        metrics: Where requests are counted and timed.
        limiter: The per-client rate limit.
        keys: The API key check.
        building: Whether a build is running now (a missing-data error is then a 503).
        routes: The app's routes, to name the endpoint of a request refused before routing.
    """

    def __init__(
        self,
        app: ASGIApp,
        metrics: Metrics,
        limiter: RateLimiter,
        keys: KeyCheck,
        building: Callable[[], bool],
        routes: Callable[[], list],
    ) -> None:
        self.app, self.metrics, self.limiter, self.keys = app, metrics, limiter, keys
        self.building, self.routes = building, routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500, False]  # the status sent, and whether the response has started

        async def tracked(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0], status[1] = message["status"], True
            await send(message)

        self.metrics.in_flight.inc()
        try:
            path = scope["path"]
            if path not in UNLIMITED_PATHS:
                self.limiter.check(client_of(scope))
            self.keys.check(path, header(scope, b"authorization"))
            _check_url(scope)
            if scope["method"] in _BODIES:
                receive = await self._buffered(scope, receive)
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if status[1]:  # too late for an error body: the answer was already under way
                log.error("failed while answering %s", scope.get("path"), exc_info=exc)
                scope[ERROR_KEY] = "internal"
            else:
                await self._refuse(scope, tracked, exc)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.observe(
                self._endpoint(scope),
                scope["method"],
                status[0],
                time.perf_counter() - started,
                scope.get(ERROR_KEY),
            )

    async def _refuse(self, scope: Scope, send: Send, exc: BaseException) -> None:
        code, kind, headers, payload = for_exception(exc, self.building)
        scope[ERROR_KEY] = kind
        await send(
            {
                "type": "http.response.start",
                "status": code,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(payload)).encode()),
                    *[(k.lower().encode(), str(v).encode()) for k, v in headers.items()],
                ],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    async def _buffered(self, scope: Scope, receive: Receive) -> Receive:
        """Read the whole body (refusing one over the limit before it is all read) and replay it."""
        limit = MAX_UPLOAD if scope["path"].endswith(".csv") else MAX_BODY
        length = header(scope, b"content-length")
        too_big = ApiError(
            413, "too_large", f"the request body is over {limit:,} bytes; send less at a time"
        )
        if length is not None and length.isdigit() and int(length) > limit:
            raise too_big
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:
                raise too_big
            chunks.append(chunk)
            more = message.get("more_body", False)
        data, replayed = b"".join(chunks), False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": data, "more_body": False}
            return await receive()  # the disconnect, whenever it comes

        return replay

    def _endpoint(self, scope: Scope) -> str:
        """The route template (bounded labels); a request refused before routing is matched here."""
        route = scope.get("route")
        if route is not None:
            return getattr(route, "path", UNMATCHED)
        for candidate in self.routes():
            match, _ = candidate.matches(scope)
            if match != Match.NONE:
                return getattr(candidate, "path", UNMATCHED)
        return UNMATCHED
