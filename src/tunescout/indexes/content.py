"""Audio-feature similarity: tracks and artists as vectors of their Spotify audio features.

A scikit-learn transform turns features into 12-dimensional vectors whose cosine says "sounds
alike"; its learned numbers are saved as JSON and the transform is rebuilt from them on load
(no pickle).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.frozen import FrozenEstimator
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, RobustScaler

from tunescout.catalog import Catalog
from tunescout.domain.features import AUDIO_FEATURES, UNIT_FEATURES
from tunescout.errors import ArtifactError, CatalogError, InputError
from tunescout.indexes.base import ComponentInfo, Index, register
from tunescout.indexes.vectors import APPROXIMATE_FROM, EF_SEARCH, VectorIndex, normalize
from tunescout.vocabulary import KINDS, Kind

log = logging.getLogger(__name__)

SCALED_FEATURES = ["tempo", "loudness"]
INPUT_COLUMNS = [*UNIT_FEATURES, *SCALED_FEATURES, "key", "mode"]
OUTPUT_COLUMNS = [*UNIT_FEATURES, *SCALED_FEATURES, "key_sin", "key_cos", "mode"]

# Why these weights (applied after centring/scaling, before L2 normalisation):
# - The 0–1 features are centred on the catalog median but keep their own scale, so a feature that
#   varies a lot across the catalog (acousticness) separates tracks more than one that barely moves.
#   Centring matters for cosine: uncentred features all point into the positive orthant, where a
#   quiet and a loud track with proportional features look identical; centred, a vector says "more
#   X than the typical track", and a missing feature becomes 0, i.e. neutral (so partial mood
#   profiles work).
# - liveness only detects an audience in the recording, speechiness and instrumentalness are nearly
#   binary (a jump from 0 to 1 would outweigh everything else): these get less weight.
# - tempo and loudness are robust-scaled so the middle 90% of the catalog spans 1 (like a 0–1
#   feature), clipped at ±1 so outliers (tempo 0 for silence) cannot dominate, and half-weighted:
#   tempo detectors confuse half and double time, and loudness largely repeats energy.
# - key and mode are weak cues to how a track feels, and unlike the centred features they never
#   shrink towards 0, so they get small weights: on the Spotify songs data (28k tracks) they take a
#   median 3% of a vector's squared length and only break ties; at 0.25 they took a third and
#   neighbours agreed less on genre (37% against 38% at top 10).
DEFAULT_WEIGHTS: dict[str, float] = {
    "danceability": 1.0,
    "energy": 1.0,
    "valence": 1.0,
    "acousticness": 1.0,
    "instrumentalness": 0.75,
    "speechiness": 0.75,
    "liveness": 0.5,
    "tempo": 0.5,
    "loudness": 0.5,
    "key": 0.06,
    "mode": 0.04,
}
QUANTILE_RANGE = (5.0, 95.0)
# Smallest spread allowed for tempo (BPM) and loudness (dB): a tiny or uniform catalog must not
# blow a 2 BPM difference up to the size of "acoustic vs electric".
MIN_SCALE = {"tempo": 20.0, "loudness": 4.0}
CLIP = 1.0
TRANSFORM_FILE = "transform.json"
SCHEMA_VERSION = 1
REBUILD = "python scripts/build.py --only content"


def _key_on_circle(frame: pd.DataFrame) -> np.ndarray:
    """Key as (sin, cos) of its place on the circle of fifths; unknown key gives NaN (made neutral).

    Neighbouring keys on the circle share all but one note, so they sit close; a minor key is placed
    at its relative major (A minor at C), whose notes it shares.
    """
    key = frame["key"].to_numpy(dtype=np.float64)
    minor = frame["mode"].to_numpy(dtype=np.float64) == 0
    pitch = np.where(minor, key + 3, key)
    angle = 2 * np.pi * ((pitch * 7) % 12) / 12
    return np.column_stack([np.sin(angle), np.cos(angle)])


def _mode_sign(frame: pd.DataFrame) -> np.ndarray:
    """Major as +1, minor as -1, unknown as NaN (made neutral)."""
    return 2 * frame[["mode"]].to_numpy(dtype=np.float64) - 1


def _weigh(vectors: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return vectors * weights


def _scaler(columns: list[str], center: list[float], scale: list[float] | None) -> FrozenEstimator:
    """A fitted :class:`RobustScaler` rebuilt from its learned numbers, frozen against refitting."""
    scaler = RobustScaler(with_scaling=scale is not None, quantile_range=QUANTILE_RANGE)
    scaler.center_ = np.asarray(center, dtype=np.float64)
    scaler.scale_ = None if scale is None else np.asarray(scale, dtype=np.float64)
    scaler.n_features_in_ = len(columns)
    scaler.feature_names_in_ = np.asarray(columns, dtype=object)
    return FrozenEstimator(scaler)


def fit_params(features: pd.DataFrame) -> dict:
    """Learn the centring and scaling numbers of the transform from catalog rows.

    Args:
        features: Rows with the :data:`AUDIO_FEATURES` columns (tracks, or artists' aggregates).

    Returns:
        JSON-ready numbers for :func:`make_transform`.
    """
    unit = RobustScaler(with_scaling=False).fit(_inputs(features)[UNIT_FEATURES])
    scaled = RobustScaler(quantile_range=QUANTILE_RANGE).fit(_inputs(features)[SCALED_FEATURES])
    floor = np.array([MIN_SCALE[c] for c in SCALED_FEATURES])
    return {
        "unit_center": unit.center_.tolist(),
        "scaled_center": scaled.center_.tolist(),
        "scaled_scale": np.maximum(scaled.scale_, floor).tolist(),
    }


def make_transform(params: dict, weights: dict[str, float]) -> Pipeline:
    """The fitted feature transform, assembled from learned numbers (one path for build and load).

    Args:
        params: What :func:`fit_params` returned.
        weights: Weight per feature name (``key`` covers both circle coordinates).

    Returns:
        A pipeline mapping a frame with :data:`INPUT_COLUMNS` to ``(n, 12)`` unnormalised vectors.
    """
    unit = _scaler(UNIT_FEATURES, params["unit_center"], None)
    scaled = _scaler(SCALED_FEATURES, params["scaled_center"], params["scaled_scale"])
    clip = FunctionTransformer(np.clip, kw_args={"a_min": -CLIP, "a_max": CLIP})
    columns = ColumnTransformer(
        [
            ("unit", unit, UNIT_FEATURES),
            ("scaled", make_pipeline(scaled, clip), SCALED_FEATURES),
            ("key", FunctionTransformer(_key_on_circle), ["key", "mode"]),
            ("mode", FunctionTransformer(_mode_sign), ["mode"]),
        ]
    )
    weight_vector = np.array(
        [weights[c if not c.startswith("key_") else "key"] for c in OUTPUT_COLUMNS]
    )
    pipeline = Pipeline(
        [
            ("columns", columns),
            ("neutral", FunctionTransformer(np.nan_to_num)),
            ("weigh", FunctionTransformer(_weigh, kw_args={"weights": weight_vector})),
        ]
    )
    # Every learned number is already in place; fitting only records the input columns.
    return pipeline.fit(pd.DataFrame(np.zeros((1, len(INPUT_COLUMNS))), columns=INPUT_COLUMNS))


def _inputs(frame: pd.DataFrame) -> pd.DataFrame:
    """Float input columns; absent columns and key -1 ("no key detected") become NaN."""
    out = pd.DataFrame(index=range(len(frame)))
    for col in INPUT_COLUMNS:
        values = frame[col] if col in frame.columns else pd.Series(np.nan, index=frame.index)
        out[col] = pd.to_numeric(values, errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
    out.loc[out["key"] < 0, "key"] = np.nan
    return out


def _apply(transform: Pipeline, frame: pd.DataFrame) -> np.ndarray:
    """Unnormalised vectors of ``frame``'s rows (sklearn refuses zero rows, so those skip it)."""
    if not len(frame):
        return np.empty((0, len(OUTPUT_COLUMNS)))
    return transform.transform(_inputs(frame))


@register
class ContentIndex(Index):
    """Cosine similarity of audio features for tracks and artists, keyed by catalog ids.

    Track vectors are the transformed features of each track; an artist's vector is the mean of its
    tracks' vectors, or, for an artist without tracks, the transform of its aggregated features.
    Tracks and artists share one space, so a profile built from tracks can score artists.

    Example:
        >>> index = ContentIndex.build(catalog)  # doctest: +SKIP
        >>> ids, scores = index.similar(["track-1"], k=5)  # doctest: +SKIP
    """

    model = "audio"

    def __init__(
        self,
        transform: Pipeline,
        vectors: dict[Kind, VectorIndex],
        params: dict,
        rows: dict,
    ) -> None:
        super().__init__(vectors, params, rows)
        self._transform = transform

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        previous: ContentIndex | None = None,
        progress: bool | Callable[[int, int], None] = False,
        method: str = "auto",
        approximate_from: int = APPROXIMATE_FROM,
        ef_search: int = EF_SEARCH,
        weights: dict[str, float] | None = None,
    ) -> Self:
        """Fit the transform on the catalog and index its tracks and artists.

        Args:
            catalog: The catalog; tracks always have features, artists may have aggregates.
            previous: Unused (fitting takes about a second).
            progress: A callable is told ``(items done, items)`` (tracks and artists); no bars.
            method: ``"exact"``, ``"hnsw"``, ``"ivf"`` or ``"auto"``.
            approximate_from: Size at which ``auto`` switches to the approximate index.
            ef_search: HNSW search breadth.
            weights: Overrides of :data:`DEFAULT_WEIGHTS` by feature name.

        Raises:
            CatalogError: When neither tracks nor artists carry audio features.
            InputError: For an unknown weight name or index method.
        """
        unknown = sorted(set(weights or {}) - set(DEFAULT_WEIGHTS))
        if unknown:
            raise InputError(f"unknown content weights {unknown}; known: {list(DEFAULT_WEIGHTS)}")
        weights = DEFAULT_WEIGHTS | (weights or {})
        tracks, artists = catalog.tracks, catalog.artists
        count = progress if callable(progress) else lambda done, total: None
        count(0, len(tracks) + len(artists))
        with_features = artists[artists[AUDIO_FEATURES].notna().any(axis=1)]
        fit_on = tracks if len(tracks) else with_features
        if not len(fit_on):
            raise CatalogError(
                "content index: no track or artist in the catalog has audio features"
            )
        learned = fit_params(fit_on)
        transform = make_transform(learned, weights)
        track_vecs = _apply(transform, tracks)
        count(len(tracks), len(tracks) + len(artists))
        by_artist = pd.DataFrame(track_vecs).groupby(tracks["artist_id"].to_numpy()).mean()
        extra = with_features[~with_features["artist_id"].isin(by_artist.index)]
        artist_ids = [*by_artist.index, *extra["artist_id"]]
        artist_vecs = np.vstack([by_artist.to_numpy(), _apply(transform, extra)])
        options = {"method": method, "approximate_from": approximate_from, "ef_search": ef_search}
        vectors: dict[Kind, VectorIndex] = {
            "tracks": VectorIndex(tracks["track_id"], track_vecs, **options),
            "artists": VectorIndex(artist_ids, artist_vecs, **options),
        }
        params = {
            "weights": weights,
            "learned": learned,
            "ef_search": ef_search,
            "method": {kind: idx.method for kind, idx in vectors.items()},
        }
        rows = {
            "tracks": len(tracks),
            "artists": len(artist_ids),
            "artists_from_tracks": len(by_artist),
            "artists_from_features": len(extra),
        }
        log.info("content index built: %s", rows)
        count(len(tracks) + len(artists), len(tracks) + len(artists))
        return cls(transform, vectors, params, rows)

    def frame(self, kind: Kind = "tracks") -> pd.DataFrame:
        """Every item's unit vector, one row per id (columns :data:`OUTPUT_COLUMNS`)."""
        idx = self.vectors(kind)
        return pd.DataFrame(idx.vectors, index=pd.Index(idx.ids, name="id"), columns=OUTPUT_COLUMNS)

    def transform(self, features: pd.DataFrame) -> np.ndarray:
        """Unit vectors for feature rows, e.g. a mood's target profile as a query.

        Args:
            features: Any of :data:`INPUT_COLUMNS`; absent columns and NaN count as the catalog's
                typical value, so ``{"energy": 0.9, "valence": 0.8}`` asks for "more energetic and
                happier than usual" and nothing else.

        Returns:
            ``(n, 12)`` float32 unit vectors in this index's space.
        """
        return normalize(_apply(self._transform, features))

    def save(self, folder: Path) -> ComponentInfo:
        """Write ``transform.json`` and one FAISS index plus id array per kind into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {"schema_version": SCHEMA_VERSION, "params": self.params, "rows": self.rows}
        (folder / TRANSFORM_FILE).write_text(json.dumps(state, indent=2))
        for kind in KINDS:
            self.vectors(kind).save(folder, kind)
        return {"params": self.params, "rows": self.rows}

    @classmethod
    def load(cls, folder: Path) -> Self:
        """Read what :meth:`save` wrote and rebuild the transform from its numbers.

        Raises:
            ArtifactError: When a file is missing or written by another schema version.
        """
        folder = Path(folder)
        needed = [TRANSFORM_FILE, *(f"{k}{ext}" for k in KINDS for ext in (".faiss", ".ids.npy"))]
        for name in needed:
            if not (folder / name).exists():
                raise ArtifactError(f"{folder / name} is missing; rebuild with: {REBUILD}")
        state = json.loads((folder / TRANSFORM_FILE).read_text())
        if state.get("schema_version") != SCHEMA_VERSION:
            raise ArtifactError(
                f"{folder / TRANSFORM_FILE} has schema {state.get('schema_version')}, expected "
                f"{SCHEMA_VERSION}; rebuild with: {REBUILD}"
            )
        params = state["params"]
        transform = make_transform(params["learned"], params["weights"])
        ef = params["ef_search"]
        vectors: dict[Kind, VectorIndex] = {
            k: VectorIndex.load(folder, k, ef_search=ef) for k in KINDS
        }
        return cls(transform, vectors, params, state["rows"])
