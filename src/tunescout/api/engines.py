"""The engine the API serves: loaded per index build, swapped when ``indexes/CURRENT`` changes.

Every request asks :meth:`EngineHolder.current` for the engine and keeps that reference until it
has answered, so a request in flight when a new build lands finishes on the engine it started
with. Checking for a new build costs one ``stat`` of ``CURRENT`` (it is replaced atomically, so a
new build is a new file); the new engine loads in a thread while the old one keeps answering, and
is swapped in when it is ready. Without any engine (no data yet, a first build running) requests
get a 503 saying why, and the holder tries again every :data:`RETRY_S` seconds or as soon as
``CURRENT`` changes.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from tunescout import jobs
from tunescout.api import fast
from tunescout.api.errors import ApiError, one_line
from tunescout.config import load_settings
from tunescout.errors import TunescoutError
from tunescout.indexes.store import CURRENT, current_id

if TYPE_CHECKING:
    from tunescout.serving.engine import Engine

log = logging.getLogger("tunescout.api")
RETRY_S = 30.0  # seconds between attempts while a load keeps failing


def load_engine(data_dir: Path) -> Engine:
    """Load the engine as the app does, with the query encoder warmed up."""
    from tunescout.serving.engine import Engine

    engine = Engine.load(data_dir)
    engine.search_mood("warm up", 1)  # loads the sentence encoder now, not on the first query
    fast.prepare(engine)  # each item's JSON, for similar answers from the neighbour table
    return engine


class EngineHolder:
    """The current engine of one data directory.

    Args:
        data_dir: The data directory (``indexes/CURRENT`` names the build).
        engine: An engine already loaded from it (tests share one); loaded on demand otherwise.
        loader: Loads an engine from the data directory (default :func:`load_engine`).
        on_load: Called with ``(seconds, ok)`` after each load (metrics).
    """

    def __init__(
        self,
        data_dir: str | Path,
        engine: Engine | None = None,
        loader: Callable[[Path], Engine] | None = None,
        on_load: Callable[[float, bool], None] | None = None,
        retry_s: float = RETRY_S,
    ) -> None:
        settings = load_settings(data_dir)
        self.data_dir = settings.data_dir
        self.pointer = settings.index_dir / CURRENT
        self._loader = loader or load_engine
        self._on_load = on_load
        self._retry_s = retry_s
        self._lock = threading.Lock()
        self._engine = engine
        self._stat: tuple | None = self._signature() if engine is not None else ()
        self._loading: threading.Thread | None = None
        self._failed_at = -float("inf")
        self._failed_sig: tuple | None = None  # CURRENT as it was when a load last failed
        self.error: str | None = None  # why the last load failed (one line)
        self.loaded_at: float | None = time.time() if engine is not None else None
        self.load_seconds: float | None = None
        if engine is not None and self.build_id != self._pointed():
            self._stat = ()  # the engine is not of the current build: load that one

    # ---- what is served ----------------------------------------------------------------------

    @property
    def engine(self) -> Engine | None:
        """The engine being served (``None`` before the first load)."""
        return self._engine

    @property
    def build_id(self) -> str | None:
        engine = self._engine
        return engine.build.id if engine is not None and engine.build is not None else None

    @property
    def loading(self) -> bool:
        thread = self._loading
        return thread is not None and thread.is_alive()

    def current(self) -> Engine:
        """The engine to answer one request with (hold on to it until the answer is sent).

        Raises:
            ApiError: 503 when no engine is loaded yet, saying whether it is loading, a build is
                running or what is missing.
        """
        self.refresh()
        engine = self._engine
        if engine is None:
            raise self.unavailable()
        return engine

    def unavailable(self) -> ApiError:
        """Why no engine answers, as a 503."""
        if self.loading:
            return ApiError(
                503,
                "loading",
                "loading the catalog and indexes; try again in a few seconds",
                {"Retry-After": "2"},
            )
        found = jobs.status(self.data_dir)
        if found and found.get("state") == jobs.RUNNING:
            return ApiError(
                503,
                "building",
                f"no data to serve yet: a build is running ({jobs.progress_line(found)}); "
                "try again when it finishes",
                {"Retry-After": "10"},
            )
        return ApiError(503, "unavailable", self.error or "no data loaded yet")

    # ---- noticing a new build ----------------------------------------------------------------

    def _signature(self) -> tuple | None:
        try:
            st = os.stat(self.pointer)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns, st.st_size

    def _pointed(self) -> str | None:
        try:
            return current_id(self.pointer.parent)
        except Exception as exc:  # a corrupt CURRENT: keep serving, say why in /health
            self.error = one_line(exc)
            return None

    def refresh(self) -> None:
        """Start loading the build ``CURRENT`` names when it changed (one ``stat``)."""
        signature = self._signature()
        if signature == self._stat:
            return
        if self.loading:
            return
        if time.monotonic() - self._failed_at < self._retry_s and signature == self._failed_sig:
            return
        with self._lock:
            if self.loading or signature == self._stat:
                return
            touched = self._engine is not None and signature is not None
            if touched and self._pointed() == self.build_id:  # touched, not changed
                self._stat = signature
                return
            self._loading = threading.Thread(
                target=self._load, args=(signature,), name="tunescout-engine-load", daemon=True
            )
            self._loading.start()

    def _load(self, signature: tuple | None) -> None:
        started = time.perf_counter()
        try:
            engine = self._loader(self.data_dir)
        except Exception as exc:
            seconds = time.perf_counter() - started
            self.error = one_line(exc)
            self._failed_at, self._failed_sig = time.monotonic(), signature
            level = logging.WARNING if self._engine is None else logging.ERROR
            log.log(level, "could not load the engine (%s); still serving %s", self.error,
                    self.build_id or "nothing",
                    exc_info=not isinstance(exc, TunescoutError))  # fmt: skip
            self._report(seconds, False)
            return
        seconds = time.perf_counter() - started
        with self._lock:
            self._engine = engine  # requests in flight keep the engine they hold
            self._stat = signature
            self.error = None
            self.loaded_at, self.load_seconds = time.time(), seconds
        log.info("serving build %s (loaded in %.1f s)", self.build_id, seconds)
        self._report(seconds, True)

    def _report(self, seconds: float, ok: bool) -> None:
        if self._on_load is not None:
            self._on_load(seconds, ok)

    def wait(self, timeout: float | None = None) -> bool:
        """Start a load when one is due and wait for it; whether an engine is being served."""
        self.refresh()
        thread = self._loading
        if thread is not None:
            thread.join(timeout)
        return self._engine is not None
