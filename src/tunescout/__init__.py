"""tunescout: music discovery over Spotify and Last.fm data.

``from tunescout import Engine`` is the public API (see :mod:`tunescout.serving.engine`); it is imported
lazily so that light modules (catalog, sources) do not load torch and FAISS.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Engine", "Filters"]

if TYPE_CHECKING:
    from tunescout.serving.engine import Engine
    from tunescout.serving.filters import Filters


def __getattr__(name: str) -> object:
    if name == "Engine":
        from tunescout.serving.engine import Engine

        return Engine
    if name == "Filters":
        from tunescout.serving.filters import Filters

        return Filters
    raise AttributeError(f"module 'tunescout' has no attribute {name!r}")
