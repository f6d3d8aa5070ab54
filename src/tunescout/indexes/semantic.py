"""The semantic index: MiniLM embeddings of a short text document per track and per artist.

Each document names the item, its artist, genres, Last.fm tags, era and mood words read off the
audio features, so free text such as "sad slow piano ballad" finds matching music. Rebuilds
re-encode only documents whose text changed.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd

from tunescout.catalog import Catalog, as_list
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.errors import ArtifactError, InputError
from tunescout.indexes.encoding.encoder import Encoder, load_encoder
from tunescout.indexes.vectors import VectorIndex

log = logging.getLogger(__name__)

KINDS = ("tracks", "artists")
PARAMS_FILE = "semantic.json"
TOP_TAGS = 5
MAX_GENRES = 6
_REBUILD = "run `python scripts/build.py` to rebuild the indexes"

# Quadrants of the valence × energy plane, with a dead zone around the middle so that
# middling tracks get no mood words instead of arbitrary ones.
_HIGH, _LOW = 0.55, 0.45


def _mood_rules(f: dict[str, np.ndarray]) -> list[tuple[np.ndarray, str]]:
    """(row mask, words) pairs; NaN features compare false, so unknown features add no words."""
    v, e = f["valence"], f["energy"]
    with np.errstate(invalid="ignore"):
        return [
            ((v >= _HIGH) & (e >= _HIGH), "happy, euphoric, upbeat"),
            ((v <= _LOW) & (e <= _LOW), "sad, melancholic, gloomy"),
            ((v > _LOW) & (e <= _LOW), "calm, peaceful, relaxed"),
            ((v <= _LOW) & (e >= _HIGH), "angry, intense, aggressive"),
            (e >= 0.8, "energetic"),
            (e <= 0.3, "soft, quiet"),
            (f["acousticness"] >= 0.6, "acoustic"),
            (f["instrumentalness"] >= 0.5, "instrumental"),
            (f["speechiness"] >= 0.66, "spoken word"),
            ((f["speechiness"] >= 0.33) & (f["speechiness"] < 0.66), "rap-heavy, spoken vocals"),
            (f["liveness"] >= 0.8, "live recording"),
            (f["danceability"] >= 0.7, "danceable"),
            (f["tempo"] < 90, "slow tempo"),
            (f["tempo"] >= 130, "fast tempo"),
        ]


def mood_words(frame: pd.DataFrame) -> pd.Series:
    """Mood and style words (e.g. "sad, acoustic") per row of a table with :data:`AUDIO_FEATURES`.

    Args:
        frame: Tracks or artists; missing feature values add no words.

    Returns:
        Comma-separated words per row (empty string when nothing stands out), same index.
    """
    features = {c: frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in AUDIO_FEATURES}
    rules = _mood_rules(features)
    words = [", ".join(text for mask, text in rules if mask[row]) for row in range(len(frame))]
    return pd.Series(words, index=frame.index, dtype=object)


def era_words(year: float | None, verb: str = "released in") -> str:
    """'released in 1994, 90s' for a year, '' when the year is unknown."""
    if year is None or pd.isna(year):
        return ""
    year = int(year)
    decade = year - year % 10
    label = f"{decade % 100:02d}s" if 1900 <= decade < 2000 else f"{decade}s"
    return f"{verb} {year}, {label}"


def _top_tags(tags: object, skip: set[str]) -> list[str]:
    pairs = [t for t in as_list(tags) if t is not None and t.get("tag")]
    pairs.sort(key=lambda t: -(t.get("weight") or 0.0))
    names = [t["tag"] for t in pairs if t["tag"].casefold() not in skip]
    return list(dict.fromkeys(names))[:TOP_TAGS]


def _compose(title: str, genres: list[str], tags: object, era: str, mood: str) -> str:
    genres = list(dict.fromkeys(g for g in genres if g))[:MAX_GENRES]
    tag_names = _top_tags(tags, {g.casefold() for g in genres})
    parts = [title]
    if genres:
        parts.append("Genres: " + ", ".join(genres))
    if tag_names:
        parts.append("Tags: " + ", ".join(tag_names))
    if era:
        parts.append(era[0].upper() + era[1:])
    if mood:
        parts.append("Mood: " + mood)
    return ". ".join(parts) + "."


def _track_documents(catalog: Catalog) -> pd.Series:
    tracks, artists = catalog.tracks, catalog.artists.set_index("artist_id")
    artist_genres = tracks["artist_id"].map(artists["genres"])
    artist_tags = tracks["artist_id"].map(artists["tags"])
    moods = mood_words(tracks)
    docs = []
    for row, a_genres, a_tags, mood in zip(
        tracks.itertuples(index=False), artist_genres, artist_tags, moods, strict=True
    ):
        name = row.name if isinstance(row.name, str) and row.name else "Untitled"
        title = f"{name} by {row.artist_name}" if isinstance(row.artist_name, str) else name
        genres = as_list(row.genres) + as_list(a_genres)
        docs.append(_compose(title, genres, a_tags, era_words(row.release_year), mood))
    return pd.Series(docs, index=pd.Index(tracks["track_id"], name="track_id"), dtype=object)


def _track_genres_by_artist(tracks: pd.DataFrame) -> pd.Series:
    """Per artist, the genres of its tracks, most frequent first."""
    pairs = tracks[["artist_id"]].assign(genre=tracks["genres"].map(as_list))
    pairs = pairs.explode("genre").dropna()
    counts = (
        pairs.groupby(["artist_id", "genre"]).size().sort_values(ascending=False, kind="stable")
    )
    return counts.reset_index().groupby("artist_id", sort=False)["genre"].agg(list)


def _artist_documents(catalog: Catalog) -> pd.Series:
    artists, tracks = catalog.artists, catalog.tracks
    median_year = artists["artist_id"].map(tracks.groupby("artist_id")["release_year"].median())
    # Many sources label genres per track only: the artist's own come first, then its tracks'.
    track_genres = artists["artist_id"].map(_track_genres_by_artist(tracks))
    moods = mood_words(artists)
    docs = [
        _compose(
            str(row.name),
            as_list(row.genres) + as_list(t_genres),
            row.tags,
            era_words(year, "active around"),
            mood,
        )
        for row, t_genres, year, mood in zip(
            artists.itertuples(index=False), track_genres, median_year, moods, strict=True
        )
    ]
    return pd.Series(docs, index=pd.Index(artists["artist_id"], name="artist_id"), dtype=object)


def documents(catalog: Catalog, kind: str = "tracks") -> pd.Series:
    """The text each track (or artist) is embedded from, indexed by catalog id in table order.

    Args:
        catalog: The catalog.
        kind: ``"tracks"`` or ``"artists"``.

    Returns:
        One document per row, e.g. ``"Hurt by Johnny Cash. Genres: country. Released in 2002,
        2000s. Mood: sad, melancholic, gloomy, acoustic, slow tempo."``

    Example:
        >>> documents(catalog).loc["4u7EnebtmKWzUH433cf5Qv"]  # doctest: +SKIP
    """
    _check_kind(kind)
    return _track_documents(catalog) if kind == "tracks" else _artist_documents(catalog)


def document_hashes(docs: pd.Series) -> np.ndarray:
    """A 32-hex-digit BLAKE2b digest per document (fixed-width unicode, stored without pickle)."""
    return np.array(
        [hashlib.blake2b(d.encode(), digest_size=16).hexdigest() for d in docs], dtype="<U32"
    )


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}: use one of {list(KINDS)}")


def _embed(
    docs: pd.Series,
    hashes: np.ndarray,
    encoder: Encoder,
    previous: tuple[VectorIndex, np.ndarray] | None,
    batch_size: int,
    progress: bool,
) -> tuple[np.ndarray, int, int]:
    """Vectors for ``docs``: reused from ``previous`` where the hash matches, else encoded.

    Returns:
        ``(vectors, n_encoded, n_reused)``: distinct texts sent to the encoder, and documents whose
        vector came from ``previous``.
    """
    vectors = np.zeros((len(docs), encoder.dim), dtype=np.float32)
    todo = np.ones(len(docs), dtype=bool)
    if previous is not None:
        old_index, old_hashes = previous
        # Match by text, not by id, so an id that changed under identity resolution is still reused.
        first = ~pd.Index(old_hashes).duplicated()
        lookup = pd.Index(old_hashes[first])
        old_rows = np.flatnonzero(first)
        hit = lookup.get_indexer(hashes)
        todo = hit < 0
        vectors[~todo] = old_index.vectors_at(old_rows[hit[~todo]])
    # Identical texts (the same song on two albums) are encoded once.
    new_hashes, first, inverse = np.unique(hashes[todo], return_index=True, return_inverse=True)
    if len(new_hashes):
        texts = docs.to_numpy()[todo][first]
        encoded = encoder.encode_documents(list(texts), batch_size=batch_size, progress=progress)
        vectors[todo] = encoded[inverse]
    return vectors, len(new_hashes), int((~todo).sum())


class SemanticIndex:
    """MiniLM vectors of track and artist documents behind the shared index contract.

    Every method takes and returns catalog ids; ``kind`` picks tracks or artists. A ``mask`` is a
    boolean array over the rows of ``catalog.tracks`` (or ``catalog.artists``) in table order, as
    made by ``FilterTable(frame, id_column).mask(filters)``; it is applied inside the search.

    Args:
        indexes: One :class:`VectorIndex` per kind, rows in catalog table order.
        hashes: Document digests per kind, aligned with the index rows.
        params: Model name, dims, backend and build statistics.
        encoder: Encoder for queries; the packaged MiniLM is loaded on first use when ``None``.

    Example:
        >>> index = SemanticIndex.build(catalog)  # doctest: +SKIP
        >>> ids, scores = index.search("sad slow piano ballad", k=10)  # doctest: +SKIP
    """

    def __init__(
        self,
        indexes: dict[str, VectorIndex],
        hashes: dict[str, np.ndarray],
        params: dict,
        encoder: Encoder | None = None,
    ) -> None:
        self.indexes = indexes
        self.hashes = hashes
        self.params = params
        self._encoder = encoder

    @property
    def encoder(self) -> Encoder:
        """The query encoder (loaded lazily so that scoring alone never loads the model)."""
        if self._encoder is None:
            self._encoder = load_encoder()
        if self._encoder.dim != self.params["dim"]:
            raise ArtifactError(
                f"semantic index has {self.params['dim']} dims but the encoder gives "
                f"{self._encoder.dim}: {_REBUILD}"
            )
        return self._encoder

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        previous: SemanticIndex | None = None,
        encoder: Encoder | None = None,
        batch_size: int = 64,
        progress: bool = False,
        method: str = "auto",
    ) -> Self:
        """Embed every track and artist document.

        Args:
            catalog: The catalog.
            previous: An earlier index (e.g. from :meth:`load`); documents whose text is unchanged
                reuse its vectors instead of being re-encoded.
            encoder: The encoder; the packaged MiniLM by default.
            batch_size: Texts per forward pass.
            progress: Show tqdm bars while encoding.
            method: :class:`VectorIndex` method (``"auto"``, ``"exact"`` or ``"hnsw"``).

        Returns:
            The index; ``params["stats"]`` says per kind how many documents were encoded and reused.
        """
        encoder = encoder or load_encoder()
        if previous is not None and (
            previous.params.get("model") != encoder.name
            or previous.params.get("backend") != encoder.backend
        ):
            log.info("semantic: previous index used another model or backend; re-encoding all")
            previous = None
        indexes, hashes, stats = {}, {}, {}
        for kind in KINDS:
            docs = documents(catalog, kind)
            hashes[kind] = document_hashes(docs)
            old = None if previous is None else (previous.indexes[kind], previous.hashes[kind])
            vectors, encoded, reused = _embed(
                docs, hashes[kind], encoder, old, batch_size, progress
            )
            indexes[kind] = VectorIndex(docs.index.to_numpy(dtype=str), vectors, method=method)
            stats[kind] = {"documents": len(docs), "encoded": encoded, "reused": reused}
            log.info(
                "semantic %s: %d documents, %d texts encoded, %d reused",
                kind,
                len(docs),
                encoded,
                reused,
            )
        params = {
            "model": encoder.name,
            "dim": encoder.dim,
            "backend": encoder.backend,
            "precision": encoder.document_precision,
            "method": {kind: indexes[kind].method for kind in KINDS},
            "stats": stats,
        }
        return cls(indexes, hashes, params, encoder)

    def index(self, kind: str = "tracks") -> VectorIndex:
        """The :class:`VectorIndex` of ``kind`` (rows in catalog table order)."""
        _check_kind(kind)
        return self.indexes[kind]

    def _mask(self, kind: str, mask: np.ndarray | None) -> np.ndarray | None:
        if mask is not None and len(mask) != len(self.index(kind)):
            raise InputError(
                f"filter mask has {len(mask)} rows but the semantic {kind} index has "
                f"{len(self.index(kind))}: build the mask from the catalog this index was built on"
            )
        return mask

    def encode_query(self, text: str) -> np.ndarray:
        """The unit-length vector of a free-text query, shape ``(dim,)``.

        Raises:
            InputError: When ``text`` is empty.
        """
        if not isinstance(text, str) or not text.strip():
            raise InputError("the search text is empty: describe the music you want")
        return self.encoder.encode([text.strip()])[0]

    def search(
        self, query_text: str, k: int, mask: np.ndarray | None = None, kind: str = "tracks"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Items whose documents best match ``query_text``.

        Args:
            query_text: Free text, e.g. ``"sad slow piano ballad"``.
            k: How many results.
            mask: Rows allowed (filters), applied inside the search.
            kind: ``"tracks"`` or ``"artists"``.

        Returns:
            ``(ids, cosine scores)`` best first; ``k`` of them whenever ``k`` rows pass ``mask``.
        """
        return self.index(kind).search(self.encode_query(query_text), k, self._mask(kind, mask))

    def similar(
        self, ids: Sequence[str], k: int, mask: np.ndarray | None = None, kind: str = "tracks"
    ) -> tuple[np.ndarray, np.ndarray]:
        """Items nearest to the mean vector of ``ids``, excluding ``ids`` themselves.

        Raises:
            UnknownIdError: When an id is not in the index.
        """
        return self.index(kind).similar(ids, k, mask=self._mask(kind, mask))

    def score(
        self, profile_vector: np.ndarray, candidate_ids: Sequence[str], kind: str = "tracks"
    ) -> np.ndarray:
        """Cosine of ``profile_vector`` to each candidate; NaN for ids the index lacks.

        Raises:
            InputError: When ``profile_vector`` is not a vector of this index's dimension.
        """
        profile_vector = np.asarray(profile_vector, dtype=np.float32)
        if profile_vector.size != self.params["dim"]:
            raise InputError(
                f"profile vector has shape {profile_vector.shape}; the semantic index needs "
                f"({self.params['dim']},), e.g. from encode_query or index().mean_vector"
            )
        return self.index(kind).scores(profile_vector.reshape(-1), candidate_ids)

    def save(self, folder: Path) -> dict:
        """Write FAISS indexes, id and hash arrays (``.npy``, no pickle) and ``semantic.json``.

        Returns:
            The params for the manifest: model, dims, backend, index methods, build stats, rows.
        """
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for kind in KINDS:
            self.indexes[kind].save(folder, f"semantic_{kind}")
            np.save(folder / f"semantic_{kind}.hashes.npy", self.hashes[kind], allow_pickle=False)
        params = {**self.params, "rows": {kind: len(self.indexes[kind]) for kind in KINDS}}
        (folder / PARAMS_FILE).write_text(json.dumps(params, indent=2))
        return params

    @classmethod
    def load(cls, folder: Path, encoder: Encoder | None = None) -> Self:
        """Read what :meth:`save` wrote; the model itself is loaded on the first query.

        Raises:
            ArtifactError: When a file is missing or the parts disagree.
        """
        folder = Path(folder)
        try:
            params = json.loads((folder / PARAMS_FILE).read_text())
            indexes = {kind: VectorIndex.load(folder, f"semantic_{kind}") for kind in KINDS}
            # Memory-mapped: only an incremental rebuild reads them (122 MB for 1M tracks).
            hashes = {
                kind: np.load(
                    folder / f"semantic_{kind}.hashes.npy", mmap_mode="r", allow_pickle=False
                )
                for kind in KINDS
            }
        except (OSError, RuntimeError, ValueError) as exc:
            raise ArtifactError(
                f"semantic index in {folder} is unreadable ({exc}): {_REBUILD}"
            ) from exc
        for kind in KINDS:
            if len(hashes[kind]) != len(indexes[kind]) or indexes[kind].dim != params["dim"]:
                raise ArtifactError(f"semantic {kind} files in {folder} disagree: {_REBUILD}")
        return cls(indexes, hashes, params, encoder)
