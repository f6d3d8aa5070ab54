"""A toy fourth index in one file: catalog popularity as a model.

It exists to prove that adding a model means writing one module and registering it: importing this
module is all the build, the engine and the weights need. Each item is the 2-d vector
``(p, 100 - p)`` of its catalog popularity ``p`` (0–100, unknown as 0), so the angle of a vector
says how popular the item is; any listener with a held rating gets :data:`POPULAR` as a taste,
whose cosine with an item grows with the item's popularity. Artifacts are FAISS indexes and id
arrays (via :class:`VectorIndex`) and a JSON file, never pickle.

Importing the module registers it for the whole process: tests import it inside a fixture and
call :func:`~tunescout.indexes.base.unregister` afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd

from tunescout.catalog import Catalog
from tunescout.errors import ArtifactError
from tunescout.indexes.base import ComponentInfo, Index, register
from tunescout.indexes.vectors import VectorIndex, normalize
from tunescout.vocabulary import KINDS, Kind

MODEL = "popularity_toy"
PARAMS_FILE = "popularity.json"
# Past the most popular item's direction (1, 0): the cosine with every item then falls
# monotonically from the most popular item to the least, with no flat end.
POPULAR = normalize(np.array([1.0, -1.0]))
_REBUILD = f"rebuild with: python scripts/build.py --only {MODEL}"


def embed(popularity: pd.Series) -> np.ndarray:
    """``(n, 2)`` vectors ``(p, 100 - p)``; unknown popularity counts as 0."""
    p = np.clip(popularity.to_numpy(dtype=np.float64, na_value=0.0), 0.0, 100.0)
    return np.column_stack([p, 100.0 - p])


@register
class PopularityIndex(Index):
    """Tracks and artists by catalog popularity; a profile asks for the most popular items."""

    model = MODEL

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        previous: PopularityIndex | None = None,
        progress: bool = False,
        method: str = "exact",
    ) -> Self:
        """Index every track and artist of the catalog (``previous`` and ``progress`` unused)."""
        tables = {"tracks": (catalog.tracks, "track_id"), "artists": (catalog.artists, "artist_id")}
        vectors = {
            kind: VectorIndex(frame[column].to_numpy(dtype=str), embed(frame["popularity"]), method)
            for kind, (frame, column) in tables.items()
        }
        params = {"method": method, "dim": 2}
        return cls(vectors, params, {kind: len(vectors[kind]) for kind in KINDS})

    def profile(self, weights: Mapping[str, float], kind: Kind = "artists") -> np.ndarray | None:
        """:data:`POPULAR` when any rated id is held (whatever the ratings say), else ``None``."""
        if not any(self.holds(item, kind) for item in weights):
            return None
        return POPULAR.copy()

    def save(self, folder: Path) -> ComponentInfo:
        """Write ``<kind>.faiss``, ``<kind>.ids.npy`` and ``popularity.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for kind in KINDS:
            self.vectors(kind).save(folder, kind)
        state = {"params": self.params, "rows": self.rows}
        (folder / PARAMS_FILE).write_text(json.dumps(state, indent=2))
        return {"params": dict(self.params), "rows": dict(self.rows)}

    @classmethod
    def load(cls, folder: Path) -> Self:
        """Read what :meth:`save` wrote.

        Raises:
            ArtifactError: A file is missing or unreadable.
        """
        folder = Path(folder)
        try:
            state = json.loads((folder / PARAMS_FILE).read_text())
            vectors = {kind: VectorIndex.load(folder, kind) for kind in KINDS}
        except (OSError, RuntimeError, ValueError, KeyError) as exc:
            raise ArtifactError(
                f"{MODEL} index in {folder} is unreadable ({exc}); {_REBUILD}"
            ) from exc
        return cls(vectors, state["params"], state["rows"])
