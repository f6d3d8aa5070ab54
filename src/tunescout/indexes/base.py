"""The one contract every index implements, and the registry that the build and the engine share.

An index holds one :class:`~tunescout.indexes.vectors.VectorIndex` per item kind it covers (tracks,
artists) and answers in catalog ids, never matrix rows:

- ``ids(kind)``: the ids it holds, in row order; a ``mask`` is a boolean array aligned with them;
- ``profile(weights, kind)``: a taste vector from signed weights of rated items (``None`` when it
  holds none of them);
- ``score(vector, candidates, kind)``: how well each candidate fits a taste vector (NaN for ids it
  does not hold);
- ``search_vector(vector, k, kind, mask)`` and ``similar(ids, k, kind, mask)``: the best items;
- ``build(catalog, ...)`` / ``save(folder) -> ComponentInfo`` / ``load(folder)``.

Adding a model is one file: subclass :class:`Index`, decorate it with :func:`register`, and import
the module in :data:`MODULES` so the registry finds it (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

import importlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, Self, TypedDict

import numpy as np
import pandas as pd

from tunescout.catalog import Catalog
from tunescout.errors import InputError
from tunescout.indexes.vectors import VectorIndex
from tunescout.vocabulary import KINDS, Kind

# Modules whose import registers the built-in indexes (in build order: the cheap ones first).
MODULES = (
    "tunescout.indexes.content",
    "tunescout.indexes.collaborative",
    "tunescout.indexes.semantic",
    "tunescout.indexes.coplay",
    "tunescout.indexes.tags",
)


class Recommender(Protocol):
    """A top-N model over ``(user_id, item, weight)`` frames: the production ALS and every
    baseline in :mod:`tunescout.research.baselines` follow it, so one evaluation runs them all."""

    def fit(self, train: pd.DataFrame) -> Self:
        """Learn from training interactions."""

    def recommend(
        self, user_ids: Iterable[str], k: int = 10, exclude_seen: bool = True
    ) -> pd.DataFrame:
        """Each known user's top ``k``: ``[user_id, <item>, score]``."""

    def recommend_items(
        self, items: Mapping[str, float] | Iterable[str], k: int = 10, exclude_seen: bool = True
    ) -> pd.DataFrame:
        """A new user described by items (fold-in): ``[<item>, score]``."""


class ComponentInfo(TypedDict):
    """What ``save`` returns for the build manifest: the index's parameters and its row counts."""

    params: dict[str, Any]
    rows: dict[str, int]


class Index(ABC):
    """Base class of the content, collaborative and semantic indexes (and any added model).

    Args:
        vectors: One vector index per item kind this index covers.
        params: Parameters and learned numbers, as saved in the manifest.
        rows: Row counts per part, for the manifest.
    """

    model: ClassVar[str]  # its name in tunescout.vocabulary (e.g. "audio")
    # Tracks and artists share one space, so a profile of rated artists can score tracks.
    shared_space: ClassVar[bool] = True

    def __init__(
        self, vectors: Mapping[Kind, VectorIndex], params: dict[str, Any], rows: dict[str, int]
    ) -> None:
        self._vectors = dict(vectors)
        self.params = params
        self.rows = rows

    # ---- identity -------------------------------------------------------------------------

    def covers(self, kind: Kind) -> bool:
        """Whether this index holds items of ``kind`` at all."""
        _check_kind(kind)
        return kind in self._vectors

    def vectors(self, kind: Kind = "tracks") -> VectorIndex:
        """The vector index of ``kind`` (the one place where its ids meet matrix rows).

        Raises:
            InputError: When this index does not cover ``kind``.
        """
        if not self.covers(kind):
            raise InputError(f"the {self.model} index holds no {kind}")
        return self._vectors[kind]

    def ids(self, kind: Kind = "tracks") -> np.ndarray:
        """The catalog ids of ``kind`` in row order (empty when the kind is not covered)."""
        return self.vectors(kind).ids if self.covers(kind) else np.array([], dtype=str)

    def holds(self, item_id: str, kind: Kind = "tracks") -> bool:
        """Whether ``item_id`` of ``kind`` is in this index."""
        return self.covers(kind) and item_id in self._vectors[kind]

    # ---- queries ---------------------------------------------------------------------------

    def profile(self, weights: Mapping[str, float], kind: Kind = "artists") -> np.ndarray | None:
        """A taste vector from item id → signed weight (negative pulls away).

        The default is the normalised weighted mean of the held items' vectors; ``None`` when
        none of them is held.
        """
        if not self.covers(kind):
            return None
        held = [i for i in weights if i in self._vectors[kind]]
        if not held:
            return None
        return self._vectors[kind].mean_vector(held, [weights[i] for i in held])

    def score(
        self, vector: np.ndarray, candidates: Sequence[str], kind: Kind = "tracks"
    ) -> np.ndarray:
        """Fit of each candidate to a taste ``vector`` (cosine by default); NaN where not held."""
        if not self.covers(kind):
            return np.full(len(candidates), np.nan, dtype=np.float32)
        return self._vectors[kind].scores(vector, candidates)

    def search_vector(
        self, vector: np.ndarray, k: int, kind: Kind = "tracks", mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items that fit ``vector`` best among rows where ``mask`` is true, best first."""
        if not self.covers(kind):
            return np.array([], dtype=str), np.array([], dtype=np.float32)
        return self._vectors[kind].search(vector, k, mask)

    def similar(
        self, ids: Sequence[str], k: int, kind: Kind = "tracks", mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items nearest the mean of ``ids`` (cosine), excluding ``ids``; held ids only.

        Returns empty arrays when none of ``ids`` is held.
        """
        if not self.covers(kind):
            return np.array([], dtype=str), np.array([], dtype=np.float32)
        held = [i for i in ids if i in self._vectors[kind]]
        if not held:
            return np.array([], dtype=str), np.array([], dtype=np.float32)
        return self._vectors[kind].similar(held, k, mask=mask)

    # ---- artifacts -------------------------------------------------------------------------

    @classmethod
    @abstractmethod
    def build(
        cls,
        catalog: Catalog,
        previous: Self | None = None,
        progress: bool = False,
        **options: Any,
    ) -> Self:
        """Build from the catalog (``previous`` lets a rebuild reuse unchanged work; ``progress``
        shows progress bars)."""

    @abstractmethod
    def save(self, folder: Path) -> ComponentInfo:
        """Write every artifact into ``folder`` and return the manifest entry."""

    @classmethod
    @abstractmethod
    def load(cls, folder: Path) -> Self:
        """Read what :meth:`save` wrote (raises ``ArtifactError`` on missing or bad files)."""


_REGISTRY: dict[str, type[Index]] = {}


def register(cls: type[Index]) -> type[Index]:
    """Class decorator: make an index buildable and loadable under its ``model`` name."""
    if not getattr(cls, "model", None):
        raise TypeError(f"{cls.__name__} must set a `model` name")
    _REGISTRY[cls.model] = cls
    return cls


def unregister(model: str) -> None:
    """Remove an index from the registry (a test's toy model, for instance)."""
    _REGISTRY.pop(model, None)


def registry() -> dict[str, type[Index]]:
    """Model name → index class, for every registered index (built-in ones first)."""
    for module in MODULES:
        importlib.import_module(module)
    # Registration order follows import order (importing the engine loads the semantic module
    # first; an added model may be imported before any built-in), so sort by MODULES.
    built_in = {m: n for n, m in enumerate(MODULES)}
    ordered = sorted(_REGISTRY.values(), key=lambda cls: built_in.get(cls.__module__, len(MODULES)))
    return {cls.model: cls for cls in ordered}


def _check_kind(kind: object) -> None:
    if kind not in KINDS:
        raise InputError(f"unknown item kind {kind!r}: use one of {list(KINDS)}")
