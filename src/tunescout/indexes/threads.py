"""BLAS threads for query work: one per call, because a query's small products run faster on one
thread than on two that spin against each other (and against a busy machine).

The limit is process-wide (threadpoolctl): concurrent calls in one process all run on one BLAS
thread while any of them is inside, which is what a server answering many small queries wants.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import ParamSpec, TypeVar

from threadpoolctl import ThreadpoolController

P = ParamSpec("P")
R = TypeVar("R")


@functools.cache
def _controller() -> ThreadpoolController:
    return ThreadpoolController()  # finding the BLAS libraries costs ~10 ms, so do it once


def one_blas_thread() -> AbstractContextManager:
    """A context limiting BLAS to one thread (restored on exit)."""
    return _controller().limit(limits=1, user_api="blas")


def serial(fn: Callable[P, R]) -> Callable[P, R]:
    """Run ``fn`` under :func:`one_blas_thread` (for the engine's public calls)."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with one_blas_thread():
            return fn(*args, **kwargs)

    return wrapper
