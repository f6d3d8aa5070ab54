"""The public API: one :class:`Engine` over the catalog and the current indexes.

The app, the scripts and researchers all go through it::

    from tunescout import Engine
    eng = Engine.load("data")
    eng.search_mood("songs for a rainy heartbreak", k=10)
    eng.recommend({"ar3f2…": 5, "ar91c…": 2}, k=10, mood="late night")

Every method speaks catalog ids and returns a DataFrame with the items' details, a score and a
human-readable reason. The engine loads and holds the data (a :class:`Context`) and delegates:
recommendations to :mod:`~tunescout.serving.recommend`, neighbours to
:mod:`~tunescout.serving.neighbours`, mood search to :mod:`~tunescout.serving.mood`; all of them
rank through the one pipeline of :mod:`~tunescout.serving.pipeline`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunescout import catalog as catalog_io
from tunescout.catalog import Catalog
from tunescout.config import Settings, load_settings
from tunescout.errors import DataMissingError
from tunescout.indexes import store
from tunescout.indexes.base import Index, registry
from tunescout.indexes.threads import serial
from tunescout.indexes.vectors import share_ids
from tunescout.serving import checks, neighbours, neighbourtable, recommend, search, session
from tunescout.serving.context import Context
from tunescout.serving.filters import Filters, FilterTable
from tunescout.serving.lookup import Lookup
from tunescout.serving.mood import Moods
from tunescout.serving.neighbourtable import NeighbourTable
from tunescout.vocabulary import HYBRID, KINDS

log = logging.getLogger(__name__)
MAX_K = checks.MAX_K
MAX_TEXT = checks.MAX_TEXT
REQUIRED = ("audio",)  # semantic lands later in a first build; ALS needs listening data


class Engine:
    """The catalog plus every index of the current build.

    Args:
        cat: The catalog the build was made from.
        indexes: Model name → loaded index (``audio`` and ``semantic`` always; ``als`` when the
            catalog has listening data; any registered extra model).
        build: The verified build (for provenance on the app's pages).
        catalog_info: The catalog's manifest.
    """

    def __init__(
        self,
        cat: Catalog,
        indexes: Mapping[str, Index],
        build: store.Build | None = None,
        catalog_info: dict | None = None,
        table: NeighbourTable | None = None,
    ) -> None:
        if cat.tracks.empty and cat.artists.empty:
            raise DataMissingError(
                "the catalog is empty: collect data with `python scripts/collect.py`"
            )
        missing = [m for m in REQUIRED if m not in indexes]
        if missing:
            raise DataMissingError(
                f"the build has no {missing} index: run `python scripts/build.py`"
            )
        for kind in KINDS:  # indexes over the same ids keep one copy of them
            share_ids([i.vectors(kind) for i in indexes.values() if i.covers(kind)])
        filters = {kind: FilterTable(cat.tables()[kind], f"{kind[:-1]}_id") for kind in KINDS}
        semantic = indexes.get("semantic")
        moods = Moods(
            cat.tracks, encoder=(lambda: semantic.encoder) if semantic is not None else None
        )
        self.context = Context(cat, dict(indexes), Lookup(cat), filters, moods, table)
        self.build = build
        self.catalog_info = catalog_info or {}

    @classmethod
    def load(cls, data_dir: str | Path | None = None, settings: Settings | None = None) -> Engine:
        """Load the catalog and the current verified build under ``data_dir``.

        Raises:
            DataMissingError: No catalog or no index build (names the command that makes it).
            ArtifactError: A build file is corrupt or incompatible (names the rebuild command).
        """
        settings = settings or load_settings(data_dir)
        cat = catalog_io.read_catalog(settings.catalog_dir)
        info = catalog_io.read_manifest(settings.catalog_dir)
        build = store.open_current(settings.index_dir, info["catalog_hash"])
        classes = registry()
        indexes = {
            model: classes[model].load(build.component_dir(model))
            for model in build.models
            if model in classes
        }
        table = None
        if neighbourtable.COMPONENT in build.components:
            counts = {"tracks": len(cat.tracks), "artists": len(cat.artists)}
            entry = build.components[neighbourtable.COMPONENT]
            folder = build.component_dir(neighbourtable.COMPONENT)
            table = NeighbourTable.load(folder, entry.get("params", {}), counts)
        return cls(cat, indexes, build, info, table)

    # ---- what is loaded --------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        return self.context.catalog

    @property
    def indexes(self) -> dict[str, Index]:
        """Model name → index."""
        return self.context.indexes

    @property
    def audio(self) -> Index:
        """The audio-feature index."""
        return self.context.audio

    @property
    def semantic(self) -> Index | None:
        """The MiniLM semantic index (``None`` until a first build has made it)."""
        return self.context.semantic

    @property
    def als(self) -> Index | None:
        """The co-listening index (``None`` without listening data)."""
        return self.context.als

    @property
    def tracks(self) -> pd.DataFrame:
        """The catalog's tracks, indexed by track id."""
        return self.context.lookup.tracks

    @property
    def artists(self) -> pd.DataFrame:
        """The catalog's artists, indexed by artist id."""
        return self.context.lookup.artists

    @property
    def moods(self) -> Moods:
        """What mood words ask of the audio features."""
        return self.context.moods

    @property
    def track_filter(self) -> FilterTable:
        return self.context.filters["tracks"]

    @property
    def artist_filter(self) -> FilterTable:
        return self.context.filters["artists"]

    def status(self) -> dict:
        """What data is loaded: sources, counts, whether synthetic, when built."""
        return {
            "sources": sorted(self.catalog_info.get("sources", {})),
            "synthetic": bool(self.catalog_info.get("synthetic")),
            "catalog_built_at": self.catalog_info.get("built_at"),
            "index_build": self.build.id if self.build else None,
            "components": sorted(self.indexes),
            "rows": {name: len(df) for name, df in self.catalog.tables().items()},
            "coverage": self.catalog_info.get("coverage", {}),
            "notes": self.catalog_info.get("notes", []),
        }

    def genres(self) -> list[str]:
        """Every track genre, most common first."""
        counts = np.asarray(self.track_filter.genre_matrix.sum(axis=0)).ravel()
        names = np.array(self.track_filter.genres)
        return names[np.argsort(-counts, kind="stable")].tolist()

    def track_info(self, ids: Sequence[str]) -> pd.DataFrame:
        """Catalog details of tracks in the given order (raises for unknown ids)."""
        return self.context.lookup.rows(checks.ids(ids, "track ids"), "tracks")

    def artist_info(self, ids: Sequence[str]) -> pd.DataFrame:
        """Catalog details of artists in the given order (raises for unknown ids)."""
        return self.context.lookup.rows(checks.ids(ids, "artist ids"), "artists")

    def find_artists(self, text: str, k: int = 10) -> pd.DataFrame:
        """Artists whose name contains ``text`` (ignoring case and accents), most popular first."""
        return self.context.lookup.find(checks.text(text, "name to find"), checks.k(k), "artists")

    def find_tracks(self, text: str, k: int = 10) -> pd.DataFrame:
        """Tracks whose title or artist contains ``text``, most popular first."""
        return self.context.lookup.find(checks.text(text, "name to find"), checks.k(k), "tracks")

    # ---- searching and recommending ----------------------------------------------------------

    @serial
    def search_mood(
        self, text: str, k: int = 10, filters: Filters | Mapping | None = None
    ) -> pd.DataFrame:
        """Tracks for a listener's request: a mood or moment ("rainy heartbreak"), with eras,
        genres, references ("like Radiohead but happier") and exclusions ("no rap") honoured.

        Filters apply inside the search. Every part of the request is a constraint; when fewer
        than ``k`` tracks meet them all, fewer come back and ``attrs["notes"]`` says so.

        Returns:
            track details, ``score`` and ``why`` (evidence from each track), best first, one
            recording per song; ``attrs["understood"]`` is the request as read.
        """
        checks.text(text, "search text")
        k = checks.k(k)
        mask = self.context.table_mask("tracks", filters)
        found = search.search(self.context, text, k, mask)
        info = self.track_info(found["track_id"])
        out = info.assign(score=found["score"].to_numpy(), why=found["why"].to_numpy())
        out.attrs.update(found.attrs)
        return out

    @serial
    def understand(self, text: str) -> str:
        """How a request is read, e.g. "1990s · rock · happy — like Radiohead, happier"."""
        return search.understand(self.context, checks.text(text, "search text"))[0].label

    @serial
    def survey_artists(
        self, k: int = 12, exclude: Sequence[str] = (), pool: int = 400, seed: int = 0
    ) -> pd.DataFrame:
        """Artists to rate: popular enough to be known, spread across styles (MMR), none repeated.

        Args:
            k: How many.
            exclude: Artists already rated or shown (a refresh passes the ones on screen).
            pool: How many of the most popular artists are considered.
            seed: Varies the pick among equally good candidates (for "show me others").
        """
        return recommend.survey(self.context, k, exclude, pool, seed)

    @serial
    def recommend(
        self,
        ratings: Mapping[str, int | float],
        k: int = 10,
        mood: str | None = None,
        weights: Mapping[str, float] | None = None,
        filters: Filters | Mapping | None = None,
        diversity: float | None = None,
        fusion: str = "weighted",
        familiarity: str | tuple[float, float] | None = None,
    ) -> pd.DataFrame:
        """Artists for a survey user, with each model's normalised score, the artist's reach
        percentile (``familiarity``) and a reason with evidence.

        Args:
            ratings: Artist id to 1–5 stars; 1–2 stars mean "not for me" (their neighbourhood is
                pushed down).
            k: How many artists.
            mood: Optional text that steers the taste ("late night drive").
            weights: Override model weights (``coplay``, ``als``, ``tags``, ``audio``,
                ``semantic``, ``popularity``); by default the validated survey row.
            filters: Genres, feature ranges, catalog popularity.
            diversity: 0–1, MMR trade-off between relevance and variety (default 0.05).
            fusion: ``"weighted"`` (weighted per-listener z-scores) or ``"rrf"``.
            familiarity: ``"deep"`` (the long tail), ``"lesser"``, ``"well"``, ``"hits"`` (the
                head), or a (low, high) band of reach percentiles.
        """
        args = (ratings, k, mood, weights, filters, diversity, fusion, familiarity)
        return recommend.artists(self.context, *args)[0]

    @serial
    def recommend_tracks(
        self, ratings: Mapping[str, int | float], k: int = 10, **options: Any
    ) -> pd.DataFrame:
        """Tracks for a survey user: the best-fitting tracks of recommended artists, one per artist.

        Args:
            ratings: Artist id to 1–5 stars.
            k: How many tracks.
            **options: As for :meth:`recommend` (``mood``, ``weights``, ``filters`` and
                ``familiarity`` — here on tracks —, ``diversity``, ``fusion``).
        """
        return recommend.tracks(self.context, ratings, k, **options)

    @serial
    def continue_session(
        self, track_ids: Sequence[str], k: int = 10, filters: Filters | Mapping | None = None
    ) -> pd.DataFrame:
        """What to play next after ``track_ids`` (oldest first), one track per artist."""
        return session.session(self.context, track_ids, k, filters)

    @serial
    def continue_session_rows(
        self, track_ids: Sequence[str], k: int = 10, filters: Filters | Mapping | None = None
    ) -> session.Continuation:
        """:meth:`continue_session` as tracks-table positions and scores (for a caller that
        keeps its own view of each track, such as the HTTP API)."""
        return session.continuation(self.context, track_ids, k, filters)

    @serial
    def recommend_for_user(
        self, user_id: str, k: int = 10, exclude_seen: bool = True
    ) -> pd.DataFrame:
        """Artists for a listener in the interaction data (e.g. ``hetrec:2``): ALS, co-listening
        and tags fused with the validated "listener" weights."""
        return recommend.for_listener(self.context, user_id, k, exclude_seen)

    @serial
    def similar_tracks(self, track_id: str, k: int = 10, model: str = HYBRID) -> pd.DataFrame:
        """Tracks like ``track_id`` by ``model``: ``audio``, ``als``, ``semantic`` or ``hybrid``."""
        return neighbours.similar(self.context, "tracks", track_id, k, model)

    @serial
    def similar_artists(self, artist_id: str, k: int = 10, model: str = HYBRID) -> pd.DataFrame:
        """Artists like ``artist_id`` by ``model``: ``audio``, ``als``, ``semantic`` or ``hybrid``."""
        return neighbours.similar(self.context, "artists", artist_id, k, model)
