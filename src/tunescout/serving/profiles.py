"""Taste profiles: a listener's ratings (and an optional mood) as one vector per model."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from tunescout.indexes.base import Index
from tunescout.indexes.vectors import normalize
from tunescout.vocabulary import Kind


@dataclass
class Profile:
    """One listener's taste in each model's space.

    Attributes:
        confidences: Rated item id → signed confidence (dislikes negative).
        vectors: Model name → taste vector; a model with nothing to go on is absent.
        mood: The mood text that steers it, if any.
        kind: What the rated items are.
    """

    confidences: dict[str, float]
    vectors: dict[str, np.ndarray] = field(default_factory=dict)
    mood: str | None = None
    kind: Kind = "artists"

    @property
    def liked(self) -> list[str]:
        return [a for a, c in self.confidences.items() if c > 0]


def build(
    indexes: Mapping[str, Index],
    confidences: Mapping[str, float],
    kind: Kind = "artists",
    mood_vectors: Mapping[str, np.ndarray] | None = None,
    mood: str | None = None,
) -> Profile:
    """Each index's profile of the rated items, blended with the mood's vector in that space.

    Args:
        indexes: Model name → index.
        confidences: Item id → signed weight.
        kind: What the rated items are.
        mood_vectors: Model name → the mood's query vector in that model's space.
        mood: The mood text (kept for reasons).
    """
    vectors = {}
    for name, index in indexes.items():
        parts = [
            part
            for part in (index.profile(confidences, kind), (mood_vectors or {}).get(name))
            if part is not None
        ]
        if parts:
            vectors[name] = parts[0] if len(parts) == 1 else normalize(np.sum(parts, axis=0))
    return Profile(dict(confidences), vectors, mood, kind)


def blend(taste: np.ndarray, mood: np.ndarray) -> np.ndarray:
    """A taste vector steered by a mood's vector in the same space (both unit-weighted)."""
    return normalize(normalize(taste) + normalize(mood))
