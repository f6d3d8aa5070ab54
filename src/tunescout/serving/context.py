"""What every serving function works on: the catalog, the indexes, lookups, filter tables and mood
search, with the mask, profile and signal helpers that the ranking functions share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tunescout.catalog import Catalog
from tunescout.indexes.base import Index
from tunescout.serving import checks, profiles, ranking
from tunescout.serving.filters import Filters, FilterTable
from tunescout.serving.lookup import Lookup
from tunescout.serving.mood import MoodSearch
from tunescout.serving.pipeline import Signal
from tunescout.vocabulary import Kind


@dataclass
class Context:
    """The loaded data a request is answered from (built once by the engine, never mutated)."""

    catalog: Catalog
    indexes: dict[str, Index]
    lookup: Lookup
    filters: dict[Kind, FilterTable]
    mood_search: MoodSearch

    @property
    def audio(self) -> Index:
        return self.indexes["audio"]

    @property
    def semantic(self) -> Index:
        return self.indexes["semantic"]

    @property
    def als(self) -> Index | None:
        return self.indexes.get("als")

    @property
    def signal_names(self) -> tuple[str, ...]:
        """Every weight a caller may set: each index and popularity."""
        return (*self.indexes, "popularity")

    # ---- masks -------------------------------------------------------------------------------

    def table_mask(self, kind: Kind, filters: Filters | Mapping | None) -> np.ndarray | None:
        """Rows of the ``kind`` table that pass ``filters`` (``None``: no filter)."""
        return self.filters[kind].mask(checks.filters(filters))

    def index_mask(
        self, index: Index, kind: Kind, mask: np.ndarray | None, exclude: Sequence[str] = ()
    ) -> np.ndarray | None:
        """``mask`` (table order) over ``index``'s rows of ``kind``, ``exclude`` switched off."""
        vectors = index.vectors(kind)
        aligned = self.filters[kind].align(mask, vectors.ids)
        drop = vectors.rows(list(exclude), missing="drop") if exclude else []
        if len(drop):
            aligned = np.ones(len(vectors), dtype=bool) if aligned is None else aligned.copy()
            aligned[drop] = False
        return aligned

    def passes(self, kind: Kind, mask: np.ndarray | None) -> Callable[[list[str]], np.ndarray]:
        """Ids → which pass ``mask`` (table order); all pass when ``mask`` is ``None``."""
        if mask is None:
            return lambda ids: np.ones(len(ids), dtype=bool)
        passing = pd.Series(mask, index=self.filters[kind].ids)
        return lambda ids: passing.reindex(ids, fill_value=False).to_numpy(dtype=bool)

    # ---- profiles and signals ------------------------------------------------------------------

    def mood_vectors(self, mood: str | None) -> dict[str, np.ndarray]:
        """The mood as a query in each space that can read it: audio targets and MiniLM text."""
        if not mood:
            return {}
        out = {"semantic": self.semantic.encode_query(mood)}
        targets = self.mood_search.intent(mood).targets
        if targets:
            out["audio"] = self.audio.transform(pd.DataFrame([targets]))[0]
        return out

    def profile(self, ratings: Mapping[str, int | float], mood: str | None) -> profiles.Profile:
        """A survey profile: star ratings of artists (and a mood) in every model's space."""
        conf = ranking.confidences(checks.ratings(ratings))
        self.lookup.known(list(conf), "artists")
        return profiles.build(self.indexes, conf, "artists", self.mood_vectors(mood), mood)

    def signals(
        self,
        profile: profiles.Profile,
        kind: Kind,
        mask: np.ndarray | None,
        exclude: Sequence[str] = (),
        propose: Sequence[str] | None = None,
    ) -> list[Signal]:
        """A signal per model with a taste vector: it proposes its best ``kind`` items under
        ``mask`` (only the models in ``propose``, when given) and scores any candidate."""
        signals = []
        for name, vector in profile.vectors.items():
            index = self.indexes[name]
            if not index.covers(kind) or (kind != profile.kind and not index.shared_space):
                continue
            index_mask = self.index_mask(index, kind, mask, exclude)

            def proposes(n, index=index, vector=vector, index_mask=index_mask) -> Sequence[str]:
                return index.search_vector(vector, n, kind, index_mask)[0]

            signals.append(
                Signal(
                    name,
                    lambda ids, index=index, vector=vector: index.score(vector, ids, kind),
                    proposes if propose is None or name in propose else None,
                )
            )
        return signals

    def popularity(self, kind: Kind, mask: np.ndarray | None, propose: bool = True) -> Signal:
        """Catalog popularity as a signal (proposing the most popular items under ``mask``)."""
        return Signal(
            "popularity",
            lambda ids: self.lookup.popularity(ids, kind),
            (lambda n: self.lookup.most_popular(kind, n, mask)) if propose else None,
        )

    def by_artist(self, name: str, scores: pd.Series, proposals: list[str] | None) -> Signal:
        """Artist-level ``scores`` lifted onto tracks through each track's artist."""
        return Signal(
            name,
            lambda ids: pd.Series(self.lookup.artist_of(ids)).map(scores).to_numpy(float),
            None if proposals is None else (lambda n: proposals),
        )
