"""Collaborative index: ALS over user×artist (and user×track) listening behind the index contract.

Profiles are folded into the ALS artist (or track) model; see :mod:`tunescout.indexes.als`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Self

import numpy as np

from tunescout.catalog import Catalog
from tunescout.errors import ArtifactError, DataMissingError
from tunescout.indexes.als import ALSParams, FactorModel
from tunescout.indexes.base import ComponentInfo, Index, register
from tunescout.vocabulary import Kind

MANIFEST = "collaborative.json"
_REBUILD = "rebuild it with `python scripts/build.py`"


_PARTS: dict[Kind, tuple[str, str]] = {
    "artists": ("als_artists", "artist_id"),
    "tracks": ("als_tracks", "track_id"),
}


@register
class CollaborativeIndex(Index):
    """ALS over user×artist listening, plus user×track when interactions name tracks.

    Profiles are folded in (one least-squares solve against the fixed item factors), items are
    ranked and scored by predicted preference ``u · v``, and ``similar`` is the cosine of item
    factors. ``kind="tracks"`` asks the track model, which exists only when interactions name
    tracks.

    Example:
        >>> index = CollaborativeIndex.build(catalog, factors=64)      # doctest: +SKIP
        >>> vector = index.profile({"radiohead": 1.0, "abba": -1.0})   # doctest: +SKIP
        >>> index.search_vector(vector, 10, "artists")                  # doctest: +SKIP
    """

    model = "als"
    shared_space = False  # the artist and track models are fitted apart

    def __init__(self, parts: dict[Kind, FactorModel], params: ALSParams) -> None:
        rows = {kind: len(part.ids) for kind, part in parts.items()}
        super().__init__({kind: part.items for kind, part in parts.items()}, asdict(params), rows)
        self.parts = parts
        self.als_params = params

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        previous: CollaborativeIndex | None = None,
        progress: bool | Callable[[int, int], None] = False,
        **params: object,
    ) -> Self:
        """Fit the artist model (and the track model when interactions carry ``track_id``).

        Args:
            catalog: Its ``interactions`` table is used.
            previous: Unused (a fit takes seconds).
            progress: ``True`` shows implicit's tqdm bar per fit; a callable is told ``(items
                fitted, items)`` after each of the artist and track models instead.
            **params: Fields of :class:`ALSParams`.

        Raises:
            DataMissingError: The catalog has no interactions.
        """
        config = ALSParams(**params)
        frame = catalog.interactions
        if frame.empty:
            raise DataMissingError(
                "the catalog has no interactions for ALS: collect listening data with "
                "`python scripts/collect.py`, then `python scripts/build.py`"
            )
        bars = progress is True
        count = progress if callable(progress) else lambda done, total: None
        with_tracks = frame[frame["track_id"].notna()]
        n_artists = frame["artist_id"].nunique()
        total = n_artists + (with_tracks["track_id"].nunique() if len(with_tracks) else 0)
        count(0, total)
        parts = {"artists": FactorModel(config, "artist_id", bars).fit(frame)}
        count(n_artists, total)
        if not with_tracks.empty:
            parts["tracks"] = FactorModel(config, "track_id", bars).fit(with_tracks)
        count(total, total)
        return cls(parts, config)

    def part(self, kind: Kind = "artists") -> FactorModel:
        """The ALS model of ``kind``.

        Raises:
            DataMissingError: For tracks when no interaction named a track.
        """
        if kind not in self.parts:
            raise DataMissingError(
                f"the collaborative index has no {kind} model (no interaction names a "
                f"{kind[:-1]}): collect {kind[:-1]}-level listening with "
                "`python scripts/collect.py` and rebuild"
            )
        return self.parts[kind]

    def profile(self, weights: Mapping[str, float], kind: Kind = "artists") -> np.ndarray | None:
        """Fold-in user factors from item id → confidence; ``None`` when no held item is liked."""
        if kind not in self.parts:
            return None
        held = {i: float(w) for i, w in weights.items() if i in self.parts[kind]}
        if not any(w > 0 for w in held.values()):
            return None
        return self.parts[kind].user_vector(held)

    def score(
        self, vector: np.ndarray, candidates: Sequence[str], kind: Kind = "artists"
    ) -> np.ndarray:
        """Predicted preference ``u · v`` of each candidate (NaN for ids not held)."""
        if kind not in self.parts:
            return np.full(len(candidates), np.nan, dtype=np.float32)
        return self.parts[kind].score(vector, candidates)

    def all_scores(self, vector: np.ndarray, kind: Kind = "artists") -> np.ndarray:
        """Predicted preference ``u · v`` of every held item, in :meth:`ids` order."""
        if kind not in self.parts:
            return np.array([], dtype=np.float32)
        return self.parts[kind].score_all(vector)

    def search_vector(
        self, vector: np.ndarray, k: int, kind: Kind = "artists", mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items with the highest predicted preference among ``mask`` rows."""
        if kind not in self.parts:
            return np.array([], dtype=str), np.array([], dtype=np.float32)
        return self.parts[kind].rank(vector, k, mask)

    def recommend_user(
        self,
        user_id: str,
        k: int,
        exclude_seen: bool = True,
        mask: np.ndarray | None = None,
        kind: Kind = "artists",
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` items for a listener the model was trained on."""
        return self.part(kind).recommend_user(user_id, k, exclude_seen, mask)

    def save(self, folder: Path) -> ComponentInfo:
        """Write all artifacts and ``collaborative.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        manifest: dict = {"component": "collaborative", "params": asdict(self.als_params)}
        for kind, part in self.parts.items():
            name = _PARTS[kind][0]
            files = part.save(folder, name)
            manifest[name] = {**part.counts(), "unit": part.unit, "files": [p.name for p in files]}
        (folder / MANIFEST).write_text(json.dumps(manifest, indent=2))
        params = {**manifest["params"], **{k: v for k, v in manifest.items() if k in _NAMES}}
        return {"params": params, "rows": dict(self.rows)}

    @classmethod
    def load(cls, folder: Path) -> Self:
        """Read what :meth:`save` wrote.

        Raises:
            ArtifactError: A file is missing or unreadable.
        """
        folder = Path(folder)
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
            params = ALSParams(**manifest["params"])
            parts = {
                kind: FactorModel.load(folder, name, manifest[name]["unit"], params, column)
                for kind, (name, column) in _PARTS.items()
                if name in manifest
            }
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ArtifactError(
                f"collaborative index in {folder} is unreadable ({exc}): {_REBUILD}"
            ) from exc
        if "artists" not in parts:
            raise ArtifactError(f"collaborative index in {folder} has no artist model: {_REBUILD}")
        return cls(parts, params)


_NAMES = {name for name, _ in _PARTS.values()}
