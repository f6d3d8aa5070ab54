"""What the routes share: the engine holder, the ratings store, the answer cache and the metrics."""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tunescout import jobs
from tunescout.api.convert import dumps
from tunescout.api.engines import EngineHolder
from tunescout.api.metrics import Metrics
from tunescout.config import ApiSettings, load_settings
from tunescout.serving.ratings import RatingsStore

if TYPE_CHECKING:
    from tunescout.serving.engine import Engine

JSON = "application/json"
MAX_CACHE_BYTES = 64 * 1024 * 1024


def build_id(engine: Engine) -> str | None:
    """The id of the index build ``engine`` serves (``None`` before any build)."""
    return engine.build.id if engine.build is not None else None


class AnswerCache:
    """Answers (JSON bytes) to identical requests, least recently used dropped first.

    Keys start with the index build id, so a new build never serves an old answer; the engine is
    never mutated, so an answer for one build and one request never changes.
    """

    def __init__(self, entries: int, max_bytes: int = MAX_CACHE_BYTES) -> None:
        self.entries, self.max_bytes = entries, max_bytes
        self._data: OrderedDict[Hashable, bytes] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> bytes | None:
        if not self.entries:
            return None
        with self._lock:
            found = self._data.get(key)
            if found is not None:
                self._data.move_to_end(key)
            return found

    def put(self, key: Hashable, value: bytes) -> None:
        if not self.entries or len(value) > self.max_bytes // 8:
            return
        with self._lock:
            old = self._data.pop(key, None)
            self._bytes += len(value) - (len(old) if old is not None else 0)
            self._data[key] = value
            while len(self._data) > self.entries or self._bytes > self.max_bytes:
                _, dropped = self._data.popitem(last=False)
                self._bytes -= len(dropped)

    def __len__(self) -> int:
        return len(self._data)


class Api:
    """One app's state (``app.state.api``)."""

    def __init__(self, holder: EngineHolder, settings: ApiSettings, metrics: Metrics) -> None:
        self.holder, self.settings, self.metrics = holder, settings, metrics
        self.cache = AnswerCache(settings.cache)
        self._store: RatingsStore | None = None
        self._locks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self._store_lock = threading.Lock()

    def _computing(self, engine: Engine) -> asyncio.Lock:
        """The lock one engine's computations take in turn. They hold the GIL for most of their
        time, so running several at once gains no throughput and only makes each one wait for
        all the others (at 8 clients a session's p99 was twice its median). A new build's
        engine has its own, so a slow request on the old one holds nothing up there."""
        loop = asyncio.get_running_loop()  # a lock belongs to one event loop (tests run several)
        with self._store_lock:
            of_loop = self._locks.setdefault(loop, weakref.WeakKeyDictionary())
            return of_loop.setdefault(engine, asyncio.Lock())

    @property
    def data_dir(self) -> Path:
        return self.holder.data_dir

    def building(self) -> bool:
        """Whether a build holds the data directory now."""
        try:
            return jobs.running(self.data_dir)
        except Exception:
            return False

    def store(self) -> RatingsStore:
        """The data directory's ratings database, the app's (opened on first use)."""
        with self._store_lock:
            if self._store is None:
                self._store = RatingsStore(load_settings(self.data_dir).ratings_db)
            return self._store

    async def answer(
        self,
        engine: Engine,
        key: tuple,
        compute: Callable[[], object],
        ready: Callable[[], bytes | None] | None = None,
    ) -> Response:
        """The JSON answer of ``compute()`` (run in a worker thread), or the cached one for the
        same build and ``key``; ``ready()``, when given, may return the answer's bytes at once
        (a table lookup, run in the event loop) and ``compute`` runs only when it returns None."""
        full = (build_id(engine), *key)
        cached = self.cache.get(full)
        if cached is not None:
            self.metrics.cache.labels("hit").inc()
            return Response(cached, media_type=JSON, headers={"X-Cache": "hit"})
        data = ready() if ready is not None else None
        if data is None:
            async with self._computing(engine):  # one at a time, first come first served
                payload = await run_in_threadpool(compute)
            data = payload if isinstance(payload, bytes) else dumps(payload)
        if self.cache.entries:
            self.metrics.cache.labels("miss").inc()
            self.cache.put(full, data)
        return Response(data, media_type=JSON, headers={"X-Cache": "miss"})


def api_of(request: Request) -> Api:
    return request.app.state.api


async def current_engine(request: Request) -> Engine:
    """The engine this request is answered with (a dependency: the request holds it to the end)."""
    return api_of(request).holder.current()


EngineDep = Annotated["Engine", Depends(current_engine)]


def json_response(payload: object, status: int = 200) -> Response:
    return Response(dumps(payload), status_code=status, media_type=JSON)
