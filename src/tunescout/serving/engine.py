"""The public API: one :class:`Engine` over the catalog and the current indexes.

The app, the scripts and researchers all go through it::

    from tunescout import Engine
    eng = Engine.load("data")
    eng.search_mood("songs for a rainy heartbreak", k=10)
    eng.recommend({"ar3f2…": 5, "ar91c…": 2}, k=10, mood="late night")

Every method speaks catalog ids and returns a DataFrame with the items' details, a score and a
human-readable reason.
"""

from __future__ import annotations

import logging
import numbers
import reprlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tunescout import catalog as catalog_io
from tunescout.catalog import Catalog
from tunescout.config import Settings, load_settings
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.errors import DataMissingError, InputError, UnknownIdError
from tunescout.indexes import store
from tunescout.indexes.collaborative import CollaborativeIndex
from tunescout.indexes.content import ContentIndex
from tunescout.indexes.semantic import SemanticIndex
from tunescout.indexes.vectors import normalize, share_ids
from tunescout.serving import ranking as rank
from tunescout.serving.filters import Filters, FilterTable
from tunescout.serving.mood import MoodSearch

log = logging.getLogger(__name__)
MAX_K = 500
MAX_TEXT = 300  # characters of a mood or search text (the app's fields allow as many)
POOL = 300  # candidates each model contributes before fusion
SESSION_DECAY = 0.7  # weight of a track one step further back in the session
SIMILAR_WEIGHTS = {"content": 0.4, "als": 0.3, "semantic": 0.3}
TRACK_COLUMNS = [
    "track_id",
    "name",
    "artist_id",
    "artist_name",
    "album",
    "release_year",
    "popularity",
    "genres",
    *AUDIO_FEATURES,
]
ARTIST_COLUMNS = ["artist_id", "name", "genres", "popularity", "listeners", "track_count"]


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise InputError(f"k must be a whole number from 1 to {MAX_K}, got {k!r}")
    return int(k)


def _as_filters(filters: Filters | Mapping | None) -> Filters | None:
    if filters is None or isinstance(filters, Filters):
        return filters
    if isinstance(filters, Mapping):
        fields = list(Filters.__dataclass_fields__)
        unknown = sorted(map(str, set(filters) - set(fields)))
        if unknown:
            raise InputError(f"unknown filters {unknown}; known: {fields}")
        return Filters(**filters)
    raise InputError(f"filters must be a Filters or a dict, got {type(filters).__name__}")


def _check_text(text: object, what: str, optional: bool = False) -> None:
    """A mood or search text: a string of at most :data:`MAX_TEXT` characters (or ``None``)."""
    if optional and text is None:
        return
    if not isinstance(text, str):
        raise InputError(f"the {what} must be text, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise InputError(f"the {what} has {len(text):,} characters; at most {MAX_TEXT} are read")


def _check_number(value: object, what: str, low: float, high: float) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not low <= value <= high  # also refuses NaN
    ):
        span = f"of at least {low:g}" if high == float("inf") else f"from {low:g} to {high:g}"
        raise InputError(f"{what} must be a number {span}, got {value!r}")


def _check_ids(ids: object, what: str) -> None:
    """A list of ids, not one id (whose letters would be taken for ids) nor nothing."""
    if isinstance(ids, str | bytes | Mapping) or not isinstance(ids, Iterable):
        raise InputError(f"{what} must be a list of ids, got {reprlib.repr(ids)}")


def _check_choice(
    weights: object, diversity: object, mood: object, fusion: str = "weighted"
) -> None:
    """The tuning arguments of :meth:`Engine.recommend` and :meth:`Engine.recommend_tracks`."""
    _check_text(mood, "mood", optional=True)
    if weights is not None:
        if not isinstance(weights, Mapping):
            raise InputError(f"weights must map model names to numbers, got {weights!r}")
        for name, value in weights.items():
            _check_number(value, f"the weight of {name}", 0.0, float("inf"))
    if diversity is not None:
        _check_number(diversity, "diversity", 0.0, 1.0)
    if fusion not in ("weighted", "rrf"):
        raise InputError(f"fusion must be 'weighted' or 'rrf', got {fusion!r}")


@dataclass
class Profile:
    """One listener's taste in each model's space (``None`` where a model has nothing to go on)."""

    confidences: dict[str, float]
    als: np.ndarray | None
    content: np.ndarray | None
    semantic: np.ndarray | None
    mood: str | None

    @property
    def liked(self) -> list[str]:
        return [a for a, c in self.confidences.items() if c > 0]


class Engine:
    """Catalog plus the content, ALS and semantic indexes of the current build.

    Args:
        cat: The catalog the build was made from.
        content, als, semantic: The loaded indexes (``als`` is ``None`` without listening data).
        build: The verified build (for provenance on the app's pages).
    """

    def __init__(
        self,
        cat: Catalog,
        content: ContentIndex,
        als: CollaborativeIndex | None,
        semantic: SemanticIndex,
        build: store.Build | None = None,
        catalog_info: dict | None = None,
    ) -> None:
        if cat.tracks.empty and cat.artists.empty:
            raise DataMissingError(
                "the catalog is empty: collect data with `python scripts/collect.py`"
            )
        self.catalog = cat
        self.content, self.als, self.semantic, self.build = content, als, semantic, build
        self.catalog_info = catalog_info or {}
        self.tracks = cat.tracks.set_index("track_id", drop=False)
        self.artists = cat.artists.set_index("artist_id", drop=False)
        self.track_filter = FilterTable(cat.tracks, "track_id")
        self.artist_filter = FilterTable(cat.artists, "artist_id")
        self.mood_search = MoodSearch(semantic, cat.tracks, table=self.track_filter)
        for kind in ("tracks", "artists"):
            factors = None if als is None else getattr(als, kind)
            share_ids(
                [content.index(kind), semantic.index(kind)]
                + ([factors.items] if factors is not None else [])
            )

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
        als = None
        if "als" in build.components:
            als = CollaborativeIndex.load(build.component_dir("als"))
        return cls(
            cat,
            ContentIndex.load(build.component_dir("content")),
            als,
            SemanticIndex.load(build.component_dir("semantic")),
            build,
            info,
        )

    # ---- facts for the pages -------------------------------------------------------------

    def status(self) -> dict:
        """What data is loaded: sources, counts, whether synthetic, when built."""
        return {
            "sources": sorted(self.catalog_info.get("sources", {})),
            "synthetic": bool(self.catalog_info.get("synthetic")),
            "catalog_built_at": self.catalog_info.get("built_at"),
            "index_build": self.build.id if self.build else None,
            "components": sorted(self.build.components) if self.build else [],
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
        _check_ids(ids, "track ids")
        return self._rows_of(ids, self.tracks, TRACK_COLUMNS)

    def artist_info(self, ids: Sequence[str]) -> pd.DataFrame:
        """Catalog details of artists in the given order (raises for unknown ids)."""
        _check_ids(ids, "artist ids")
        return self._rows_of(ids, self.artists, ARTIST_COLUMNS)

    def find_artists(self, text: str, k: int = 10) -> pd.DataFrame:
        """Artists whose name contains ``text`` (case-insensitive), most popular first."""
        _check_text(text, "name to find")
        k = _check_k(k)
        needle = text.strip().casefold()
        if not needle:
            return self.artists.iloc[:0][ARTIST_COLUMNS].reset_index(drop=True)
        hits = self.artists[self.artists["name"].str.casefold().str.contains(needle, regex=False)]
        hits = hits.sort_values("popularity", ascending=False, na_position="last")
        return hits[ARTIST_COLUMNS].head(k).reset_index(drop=True)

    def find_tracks(self, text: str, k: int = 10) -> pd.DataFrame:
        """Tracks whose title or artist contains ``text`` (case-insensitive), most popular first."""
        _check_text(text, "name to find")
        k = _check_k(k)
        needle = text.strip().casefold()
        tracks = self.tracks
        if not needle:
            return tracks.iloc[:0][TRACK_COLUMNS].reset_index(drop=True)
        hit = tracks["name"].fillna("").str.casefold().str.contains(needle, regex=False)
        hit |= tracks["artist_name"].fillna("").str.casefold().str.contains(needle, regex=False)
        found = tracks[hit].sort_values("popularity", ascending=False, na_position="last")
        return found[TRACK_COLUMNS].head(k).reset_index(drop=True)

    @staticmethod
    def _rows_of(ids: Sequence[str], frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
        """``columns`` of ``frame`` (indexed by id) for ``ids`` in order; unknown ids raise."""
        ids = [str(i) for i in ids]
        rows = frame.index.get_indexer(ids)
        if (rows < 0).any():
            raise UnknownIdError(f"unknown ids: {np.asarray(ids)[rows < 0][:5].tolist()}")
        return frame.iloc[rows, frame.columns.get_indexer(columns)].reset_index(drop=True)

    @staticmethod
    def _known(ids: Sequence[str], frame: pd.DataFrame) -> list[str]:
        ids = [str(i) for i in ids]
        unknown = [i for i in ids if i not in frame.index]
        if unknown:
            raise UnknownIdError(f"unknown ids: {unknown[:5]}")
        return ids

    def _mask(self, table: FilterTable, filters: Filters | None) -> pd.Series | None:
        mask = table.mask(filters)
        return None if mask is None else pd.Series(mask, index=table.ids)

    # ---- mood search -----------------------------------------------------------------------

    def search_mood(
        self, text: str, k: int = 10, filters: Filters | Mapping | None = None
    ) -> pd.DataFrame:
        """Tracks matching a natural-language mood ("rainy heartbreak", "focus music for coding").

        Filters apply inside the search, so ``k`` results come back whenever ``k`` tracks pass.

        Returns:
            track details, ``score`` and ``why``, best first.
        """
        _check_text(text, "search text")
        k = _check_k(k)
        mask = self._mask(self.track_filter, _as_filters(filters))
        found = self.mood_search.search(text, k, None if mask is None else mask.to_numpy())
        info = self.track_info(found["track_id"])
        return info.assign(score=found["score"].to_numpy(), why=found["why"].to_numpy())

    # ---- survey ----------------------------------------------------------------------------

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
        k = _check_k(k)
        _check_ids(exclude, "exclude")
        if isinstance(pool, bool) or not isinstance(pool, int | np.integer) or pool < 1:
            raise InputError(f"pool must be a whole number of at least 1, got {pool!r}")
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer):
            raise InputError(f"seed must be a whole number, got {seed!r}")
        vectors = self.semantic.index("artists")
        known = self.artists[self.artists["artist_id"].isin(vectors.ids)]
        if self.als is not None and known["artist_id"].isin(self.als.ids).any():
            known = known[known["artist_id"].isin(self.als.ids)]  # ALS can fold these in
        known = known[~known["artist_id"].isin(set(map(str, exclude)))]
        top = known.sort_values("popularity", ascending=False, na_position="last").head(
            max(pool, k)
        )
        jitter = np.random.default_rng(seed).uniform(0, 0.05, len(top))
        relevance = pd.Series(
            top["popularity"].fillna(0).to_numpy() / 100 + jitter, index=top["artist_id"].to_numpy()
        )
        chosen = rank.mmr(relevance, vectors.vectors_of(relevance.index), k, diversity=0.5)
        out = self.artist_info(chosen)
        out["why"] = [self._genre_line(a) for a in chosen]
        return out

    def _genre_line(self, artist_id: str) -> str:
        genres = list(self.artists.at[artist_id, "genres"])[:3]
        return ", ".join(genres) if genres else "no genre listed"

    # ---- profiles --------------------------------------------------------------------------

    def _profile(self, ratings: Mapping[str, int | float], mood: str | None) -> Profile:
        if not isinstance(ratings, Mapping):
            raise InputError("ratings must map artist ids to 1–5 stars")
        conf = rank.confidences(ratings)
        self._known(list(conf), self.artists)
        if mood is not None and not str(mood).strip():
            mood = None
        als_vec = None
        if self.als is not None:
            held = {a: c for a, c in conf.items() if a in self.als}
            if any(c > 0 for c in held.values()):
                als_vec = self.als.user_vector(held)
        content_vec = self._content_profile(conf, mood)
        semantic_vec = self._semantic_profile(conf, mood)
        return Profile(conf, als_vec, content_vec, semantic_vec, mood)

    def _content_profile(self, conf: Mapping[str, float], mood: str | None) -> np.ndarray | None:
        index = self.content.index("artists")
        held = [a for a in conf if a in index]
        parts = []
        if held:
            parts.append(index.mean_vector(held, [conf[a] for a in held]))
        if mood:
            targets = self.mood_search.intent(mood).targets
            if targets:
                parts.append(self.content.transform(pd.DataFrame([targets]))[0])
        return normalize(np.sum(parts, axis=0)) if parts else None

    def _semantic_profile(self, conf: Mapping[str, float], mood: str | None) -> np.ndarray | None:
        index = self.semantic.index("artists")
        held = [a for a in conf if a in index]
        parts = []
        if held:
            parts.append(index.mean_vector(held, [conf[a] for a in held]))
        if mood:
            parts.append(self.semantic.encode_query(mood))
        return normalize(np.sum(parts, axis=0)) if parts else None

    # ---- artist recommendations ------------------------------------------------------------

    def _artist_pool(
        self, profile: Profile, mask: pd.Series | None, exclude: set[str]
    ) -> list[str]:
        pool: list[str] = []
        if profile.als is not None:
            allowed = (
                None if mask is None else mask.reindex(self.als.ids, fill_value=False).to_numpy()
            )
            ids, _ = self.als.recommend_profile(
                {a: c for a, c in profile.confidences.items() if a in self.als}, POOL, allowed
            )
            pool += list(ids)
        if profile.content is not None:
            pool += list(self.content.index("artists").search(profile.content, POOL, mask)[0])
        if profile.semantic is not None:
            pool += list(self.semantic.index("artists").search(profile.semantic, POOL, mask)[0])
        popular = (
            self.artists
            if mask is None
            else self.artists[mask.reindex(self.artists.index, fill_value=False)]
        )
        pool += list(popular.nlargest(POOL, "popularity")["artist_id"])
        return [a for a in dict.fromkeys(pool) if a not in exclude]

    def _artist_scores(self, profile: Profile, ids: list[str]) -> pd.DataFrame:
        table = pd.DataFrame(index=pd.Index(ids, name="artist_id"))
        table["als"] = self.als.score(profile.als, ids) if profile.als is not None else np.nan
        table["content"] = (
            self.content.score(profile.content, ids, kind="artists")
            if profile.content is not None
            else np.nan
        )
        table["semantic"] = (
            self.semantic.score(profile.semantic, ids, kind="artists")
            if profile.semantic is not None
            else np.nan
        )
        table["popularity"] = self.artists.loc[ids, "popularity"].to_numpy(dtype=float)
        return table

    def recommend(
        self,
        ratings: Mapping[str, int | float],
        k: int = 10,
        mood: str | None = None,
        weights: Mapping[str, float] | None = None,
        filters: Filters | Mapping | None = None,
        diversity: float | None = None,
        fusion: str = "weighted",
    ) -> pd.DataFrame:
        """Artists for a survey user, with each model's normalised score and a reason.

        Args:
            ratings: Artist id to 1–5 stars; 1–2 stars count against.
            k: How many artists.
            mood: Optional text that steers the taste ("late night drive").
            weights: Override model weights (``als``, ``content``, ``semantic``, ``popularity``);
                by default they adapt to how many artists were liked.
            filters: Genres, feature ranges, popularity band (the familiarity control).
            diversity: 0–1, MMR trade-off between relevance and variety (default 0.15).
            fusion: ``"weighted"`` (normalised weighted sum) or ``"rrf"`` (reciprocal rank fusion).
        """
        k = _check_k(k)
        _check_choice(weights, diversity, mood, fusion)
        profile = self._profile(ratings, mood)
        mixing = rank.adaptive_weights(len(profile.liked), profile.mood is not None, weights)
        mask = self._mask(self.artist_filter, _as_filters(filters))
        ids = self._artist_pool(profile, mask, set(profile.confidences))
        if not ids:
            return self._empty_artists()
        table = self._artist_scores(profile, ids)
        fused = (
            rank.weighted_fusion(table, mixing)
            if fusion == "weighted"
            else rank.rrf_fusion(table, mixing)
        )
        top = fused.nlargest(min(len(fused), k * 5))
        vectors = self.semantic.index("artists").vectors_of(top.index)
        picked = rank.mmr(top, vectors, k, 0.15 if diversity is None else diversity)
        # MMR decides which artists; the list is shown best first.
        chosen = list(fused[picked].sort_values(ascending=False, kind="stable").index)
        out = self.artist_info(chosen)
        out["score"] = fused[chosen].to_numpy()
        for name in rank.MODELS:  # each model's normalised score, beside the catalog columns
            out[f"score_{name}"] = rank.normalize(table[name].to_numpy())[
                table.index.get_indexer(chosen)
            ]
        out["reason"] = self._reasons(chosen, profile)
        return out

    def _empty_artists(self) -> pd.DataFrame:
        cols = [*ARTIST_COLUMNS, "score", *(f"score_{m}" for m in rank.MODELS), "reason"]
        return pd.DataFrame(columns=cols)

    def _reasons(self, chosen: list[str], profile: Profile) -> list[str]:
        """Name the liked artists each result is closest to (semantic space knows every artist)."""
        index = self.semantic.index("artists")
        liked = [a for a in profile.liked if a in index]
        sims = (
            index.vectors_of(chosen) @ index.vectors_of(liked).T
            if liked
            else np.zeros((len(chosen), 0))
        )
        reasons = []
        for row, artist in enumerate(chosen):
            order = np.argsort(-sims[row])[:2] if liked else []
            names = [self.artists.at[liked[i], "name"] for i in order if sims[row, i] > 0.3]
            genres = list(self.artists.at[artist, "genres"])[:2]
            reasons.append(
                rank.reason(names, profile.mood, genres, popular=not names and not profile.mood)
            )
        return reasons

    # ---- track recommendations -------------------------------------------------------------

    def recommend_tracks(
        self,
        ratings: Mapping[str, int | float],
        k: int = 10,
        mood: str | None = None,
        weights: Mapping[str, float] | None = None,
        filters: Filters | Mapping | None = None,
        diversity: float | None = None,
    ) -> pd.DataFrame:
        """Tracks for a survey user: the best-fitting tracks of recommended artists, one per artist.

        A track scores by its artist's fused score, how it sounds against the taste (content) and
        how its description fits (semantic, which carries the mood).
        """
        k = _check_k(k)
        _check_choice(weights, diversity, mood)
        artists = self.recommend(ratings, min(MAX_K, k * 4), mood, weights, None, diversity)
        profile = self._profile(ratings, mood)
        mask = self._mask(self.track_filter, _as_filters(filters))
        tracks = self.catalog.tracks[self.catalog.tracks["artist_id"].isin(artists["artist_id"])]
        if mask is not None:
            tracks = tracks[mask.reindex(tracks["track_id"], fill_value=False).to_numpy()]
        ids = tracks["track_id"].tolist()
        if profile.content is not None:
            ids += list(self.content.index("tracks").search(profile.content, POOL, mask)[0])
        ids = [
            t
            for t in dict.fromkeys(ids)
            if self.tracks.at[t, "artist_id"] not in profile.confidences
        ]
        if not ids:
            return pd.DataFrame(columns=[*TRACK_COLUMNS, "score", "reason"])
        artist_score = artists.set_index("artist_id")["score"]
        table = pd.DataFrame(index=pd.Index(ids))
        table["artist"] = self.tracks.loc[ids, "artist_id"].map(artist_score).to_numpy(dtype=float)
        table["content"] = self._track_content(profile.content, ids)
        table["semantic"] = self._track_semantic(profile.semantic, ids)
        table["popularity"] = self.tracks.loc[ids, "popularity"].to_numpy(dtype=float)
        fused = rank.weighted_fusion(
            table, {"artist": 0.5, "content": 0.25, "semantic": 0.15, "popularity": 0.1}
        )
        chosen = self._one_per_artist(fused, k)
        out = self.track_info(chosen)
        out["score"] = fused[chosen].to_numpy()
        reasons = artists.set_index("artist_id")["reason"]
        out["reason"] = [
            reasons.get(a, "sounds like what you rated highly") for a in out["artist_id"]
        ]
        return out

    def _track_content(self, vector: np.ndarray | None, ids: list[str]) -> np.ndarray:
        return (
            self.content.score(vector, ids, kind="tracks")
            if vector is not None
            else np.full(len(ids), np.nan)
        )

    def _track_semantic(self, vector: np.ndarray | None, ids: list[str]) -> np.ndarray:
        return (
            self.semantic.score(vector, ids, kind="tracks")
            if vector is not None
            else np.full(len(ids), np.nan)
        )

    def _one_per_artist(self, scores: pd.Series, k: int) -> list[str]:
        ordered = scores.sort_values(ascending=False, kind="stable")
        artists = self.tracks.loc[ordered.index, "artist_id"].to_numpy()
        first = ~pd.Series(artists).duplicated().to_numpy()
        return list(ordered.index[first][:k])

    # ---- sessions, known users, neighbours --------------------------------------------------

    def continue_session(
        self, track_ids: Sequence[str], k: int = 10, filters: Filters | Mapping | None = None
    ) -> pd.DataFrame:
        """What to play next after ``track_ids`` (oldest first), one track per artist.

        Each model pools the session's tracks into one vector, recent tracks weighing more
        (a factor of ``SESSION_DECAY`` per step back).
        """
        k = _check_k(k)
        _check_ids(track_ids, "the session")
        session = self._known(list(dict.fromkeys(track_ids)), self.tracks)
        if not session:
            raise InputError("the session is empty: play or pick at least one track")
        recency = SESSION_DECAY ** np.arange(len(session))[::-1]
        mask = self._mask(self.track_filter, _as_filters(filters))
        content_vec = self.content.profile(session, recency, kind="tracks")
        semantic_vec = self.semantic.index("tracks").mean_vector(session, recency)
        ids = list(self.content.index("tracks").search(content_vec, POOL, mask)[0])
        ids += list(self.semantic.index("tracks").search(semantic_vec, POOL, mask)[0])
        als_artist = self._session_als(session, recency)
        if als_artist is not None:
            top_artists = als_artist.nlargest(50).index
            pool = self.catalog.tracks[self.catalog.tracks["artist_id"].isin(top_artists)]
            if mask is not None:
                pool = pool[mask.reindex(pool["track_id"], fill_value=False).to_numpy()]
            ids += pool["track_id"].tolist()
        ids = [t for t in dict.fromkeys(ids) if t not in set(session)]
        table = pd.DataFrame(index=pd.Index(ids))
        table["content"] = self._track_content(content_vec, ids)
        table["semantic"] = self._track_semantic(semantic_vec, ids)
        table["als"] = (
            self.tracks.loc[ids, "artist_id"].map(als_artist).to_numpy(dtype=float)
            if als_artist is not None
            else np.nan
        )
        table["popularity"] = self.tracks.loc[ids, "popularity"].to_numpy(dtype=float)
        fused = rank.weighted_fusion(
            table, {"content": 0.35, "semantic": 0.25, "als": 0.3, "popularity": 0.1}
        )
        chosen = self._one_per_artist(fused, k)
        out = self.track_info(chosen)
        out["score"] = fused[chosen].to_numpy()
        last = self.tracks.at[session[-1], "name"]
        out["reason"] = f"follows on from '{last}'"
        return out

    def _session_als(self, session: list[str], recency: np.ndarray) -> pd.Series | None:
        """ALS score of every artist for the session's artists, weighted by recency."""
        if self.als is None:
            return None
        weights = (
            pd.Series(recency, index=self.tracks.loc[session, "artist_id"].to_numpy())
            .groupby(level=0)
            .sum()
        )
        held = {a: float(w) for a, w in weights.items() if a in self.als}
        if not held:
            return None
        vector = self.als.user_vector(held)
        return pd.Series(self.als.score(vector, self.als.ids), index=self.als.ids)

    def recommend_for_user(
        self, user_id: str, k: int = 10, exclude_seen: bool = True
    ) -> pd.DataFrame:
        """Artists for a listener in the interaction data (e.g. ``hetrec:2``), from ALS."""
        k = _check_k(k)
        if self.als is None:
            raise DataMissingError(
                "no listening data in this catalog: known-user recommendations need ALS"
            )
        ids, scores = self.als.recommend_user(str(user_id), k, exclude_seen)
        out = self.artist_info(ids)
        out["score"] = scores
        history = self.catalog.interactions[self.catalog.interactions["user_id"] == user_id]
        top = history.nlargest(20, "weight")["artist_id"].tolist()
        out["reason"] = self._user_reasons(list(ids), top)
        return out

    def _user_reasons(self, chosen: list[str], history: list[str]) -> list[str]:
        held = [a for a in history if a in self.als]
        if not held:
            return ["listeners like you play it"] * len(chosen)
        items = self.als.artists.items
        sims = items.vectors_of(chosen) @ items.vectors_of(held).T
        names = [self.artists.at[held[int(np.argmax(row))], "name"] for row in sims]
        return [f"listeners of {n} play it too" for n in names]

    def similar_tracks(self, track_id: str, k: int = 10, model: str = "hybrid") -> pd.DataFrame:
        """Tracks like ``track_id`` by ``model``: ``cosine`` (audio), ``als``, ``semantic`` or ``hybrid``."""
        k = _check_k(k)
        self._known([track_id], self.tracks)
        scores = self._neighbours("tracks", str(track_id), k, model)
        scores = scores.drop(
            self.catalog.tracks.loc[self.catalog.tracks["track_id"] == track_id, "track_id"],
            errors="ignore",
        )
        chosen = (
            self._one_per_artist(scores, k) if model == "hybrid" else list(scores.nlargest(k).index)
        )
        out = self.track_info(chosen)
        out["score"] = scores[chosen].to_numpy()
        out["model"] = model
        return out

    def similar_artists(self, artist_id: str, k: int = 10, model: str = "hybrid") -> pd.DataFrame:
        """Artists like ``artist_id`` by ``model``: ``cosine``, ``als``, ``semantic`` or ``hybrid``."""
        k = _check_k(k)
        self._known([artist_id], self.artists)
        scores = self._neighbours("artists", str(artist_id), k, model)
        chosen = list(scores.nlargest(k).index)
        out = self.artist_info(chosen)
        out["score"] = scores[chosen].to_numpy()
        out["model"] = model
        return out

    def _neighbours(self, kind: str, item: str, k: int, model: str) -> pd.Series:
        """Neighbour scores of one item from one model, or fused from all three."""
        scores = self._model_neighbours(kind, item, k, model)
        if scores.empty and model in ("als", "cosine"):
            artist = item if kind == "artists" else self.tracks.at[item, "artist_id"]
            needs = "listening data" if model == "als" else "audio features"
            raise DataMissingError(
                f"the {model} model has no {needs} for {self.artists.at[artist, 'name']}: "
                "try the hybrid or semantic neighbours"
            )
        return scores

    def _model_neighbours(self, kind: str, item: str, k: int, model: str) -> pd.Series:
        models = {
            "cosine": self._content_neighbours,
            "als": self._als_neighbours,
            "semantic": self._semantic_neighbours,
        }
        if model in models:
            return models[model](kind, item, k)
        if model != "hybrid":
            raise InputError(f"model must be one of {[*models, 'hybrid']}, got {model!r}")
        parts = {name: fn(kind, item, k * 5) for name, fn in models.items()}
        table = pd.DataFrame(
            {"content": parts["cosine"], "als": parts["als"], "semantic": parts["semantic"]}
        )
        return rank.weighted_fusion(table, SIMILAR_WEIGHTS)

    def _content_neighbours(self, kind: str, item: str, k: int) -> pd.Series:
        if item not in self.content.index(kind):
            return pd.Series(dtype=float)
        ids, scores = self.content.similar([item], k, kind=kind)
        return pd.Series(scores, index=ids, dtype=float)

    def _semantic_neighbours(self, kind: str, item: str, k: int) -> pd.Series:
        ids, scores = self.semantic.similar([item], k, kind=kind)
        return pd.Series(scores, index=ids, dtype=float)

    def _als_neighbours(self, kind: str, item: str, k: int) -> pd.Series:
        """ALS item neighbours; for tracks without a track model, the top tracks of similar artists."""
        if self.als is None:
            return pd.Series(dtype=float)
        if kind == "tracks" and self.als.tracks is not None:
            ids, scores = (
                self.als.similar_tracks([item], k) if item in self.als.tracks else ([], [])
            )
            return pd.Series(scores, index=ids, dtype=float)
        artist = item if kind == "artists" else self.tracks.at[item, "artist_id"]
        if artist not in self.als:
            return pd.Series(dtype=float)
        ids, scores = self.als.similar([artist], k)
        if kind == "artists":
            return pd.Series(scores, index=ids, dtype=float)
        best = self.catalog.tracks[self.catalog.tracks["artist_id"].isin(ids)].sort_values(
            "popularity", ascending=False
        )
        best = best.drop_duplicates("artist_id").set_index("artist_id")["track_id"]
        pairs = [(best[a], s) for a, s in zip(ids, scores, strict=True) if a in best.index]
        return pd.Series([s for _, s in pairs], index=[t for t, _ in pairs], dtype=float)
