"""The semantic index: MiniLM embeddings of a short description of each track and artist.

A description says what the music is — genres, listeners' tags and mood words read off the audio
features — and never its title or name, so free text such as "rainy heartbreak" finds sad
music rather than songs called "Rain". Each distinct description is encoded once; rebuilds
re-encode only what changed.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd

from tunescout.catalog import Catalog, as_list
from tunescout.domain.genres import GENERIC_TAGS
from tunescout.domain.moods import mood_words
from tunescout.errors import ArtifactError, InputError
from tunescout.indexes.base import ComponentInfo, Index, register
from tunescout.indexes.encoding.encoder import Encoder, load_encoder
from tunescout.indexes.vectors import VectorIndex
from tunescout.vocabulary import KINDS, Kind

log = logging.getLogger(__name__)

PARAMS_FILE = "semantic.json"
TOP_TAGS = 5
MAX_GENRES = 6
FIELDS = ("genres", "tags", "mood")
DOCUMENTS = "described-v3"  # descriptions without titles, names or years
_REBUILD = "run `python scripts/build.py` to rebuild the indexes"


def _top_tags(tags: object, skip: set[str]) -> list[str]:
    pairs = [t for t in as_list(tags) if t is not None and t.get("tag")]
    pairs.sort(key=lambda t: -(t.get("weight") or 0.0))
    names = [t["tag"] for t in pairs if t["tag"].casefold() not in skip | GENERIC_TAGS]
    return list(dict.fromkeys(names))[:TOP_TAGS]


def _fields(genres: list[str], tags: object, mood: str) -> tuple[str, str, str]:
    """The pieces of one document, each with its label ('' where there is nothing to say).

    No era: a request's era is a constraint on the release year (:mod:`~tunescout.serving.query`),
    which text similarity could only blur; leaving it out makes descriptions shorter and more of
    them alike (an artist's songs of one mood share one), so fewer are encoded.
    """
    genres = list(dict.fromkeys(g for g in genres if g))[:MAX_GENRES]
    tag_names = _top_tags(tags, set())
    return (
        "Genres: " + ", ".join(genres) if genres else "",
        "Tags: " + ", ".join(tag_names) if tag_names else "",
        "Mood: " + mood if mood else "",
    )


def _track_fields(catalog: Catalog) -> pd.DataFrame:
    tracks, artists = catalog.tracks, catalog.artists.set_index("artist_id")
    artist_genres = tracks["artist_id"].map(artists["genres"])
    artist_tags = tracks["artist_id"].map(artists["tags"])
    moods = mood_words(tracks)
    rows = [
        _fields(as_list(g) + as_list(a_g), a_t, mood)
        for g, a_g, a_t, mood in zip(
            tracks["genres"], artist_genres, artist_tags, moods, strict=True
        )
    ]
    return pd.DataFrame(rows, columns=FIELDS, index=pd.Index(tracks["track_id"], name="id"))


def _track_genres_by_artist(tracks: pd.DataFrame) -> pd.Series:
    """Per artist, the genres of its tracks, most frequent first."""
    pairs = tracks[["artist_id"]].assign(genre=tracks["genres"].map(as_list))
    pairs = pairs.explode("genre").dropna()
    counts = (
        pairs.groupby(["artist_id", "genre"]).size().sort_values(ascending=False, kind="stable")
    )
    return counts.reset_index().groupby("artist_id", sort=False)["genre"].agg(list)


def _artist_fields(catalog: Catalog) -> pd.DataFrame:
    artists, tracks = catalog.artists, catalog.tracks
    # Many sources label genres per track only: the artist's own come first, then its tracks'.
    track_genres = artists["artist_id"].map(_track_genres_by_artist(tracks))
    moods = mood_words(artists)
    rows = [
        _fields(as_list(g) + as_list(t_g), tags, mood)
        for g, t_g, tags, mood in zip(
            artists["genres"], track_genres, artists["tags"], moods, strict=True
        )
    ]
    return pd.DataFrame(rows, columns=FIELDS, index=pd.Index(artists["artist_id"], name="id"))


def document_fields(catalog: Catalog, kind: str = "tracks") -> pd.DataFrame:
    """The pieces each track (or artist) is described by, one column per field of
    :data:`FIELDS`, indexed by catalog id in table order. No title and no name: a document says
    what the music is, so a title word never outweighs what listeners tag it with."""
    if kind not in KINDS:
        raise InputError(f"unknown kind {kind!r}: use one of {list(KINDS)}")
    return _track_fields(catalog) if kind == "tracks" else _artist_fields(catalog)


def join_fields(fields: pd.DataFrame) -> pd.Series:
    """The documents as text: the non-empty pieces joined ("Genres: …. Tags: …. Mood: ….")."""
    return pd.Series(
        [". ".join(p for p in row if p) + "." if any(row) else "" for row in fields.to_numpy()],
        index=fields.index,
        dtype=object,
    )


def documents(catalog: Catalog, kind: str = "tracks") -> pd.Series:
    """The text each track (or artist) is described by, indexed by catalog id in table order.

    Returns:
        One document per row, e.g. ``"Genres: country. Tags: singer-songwriter, outlaw country.
        Mood: sad, melancholic, gloomy, acoustic, slow tempo."``
    """
    return join_fields(document_fields(catalog, kind))


def document_hashes(docs: pd.Series) -> np.ndarray:
    """A 32-hex-digit BLAKE2b digest per document (fixed-width unicode, stored without pickle)."""
    return np.array(
        [hashlib.blake2b(d.encode(), digest_size=16).hexdigest() for d in docs], dtype="<U32"
    )


def _embed(
    docs: pd.Series,
    hashes: np.ndarray,
    encoder: Encoder,
    previous: tuple[VectorIndex, np.ndarray] | None,
    batch_size: int,
    progress: bool | Callable[[int, int], None],
) -> tuple[np.ndarray, int, int]:
    """Vectors for ``docs``: reused from ``previous`` where the hash matches, else encoded, each
    distinct text once (descriptions without names repeat: an artist's songs of one year and
    mood share one).

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
    reused = int((~todo).sum())
    todo &= docs.to_numpy() != ""  # nothing to say: the vector stays zero
    new_hashes, first, inverse = np.unique(hashes[todo], return_index=True, return_inverse=True)
    if len(new_hashes):
        texts = list(docs.to_numpy()[todo][first])
        report = progress if callable(progress) else _reporter(progress, len(texts))
        vectors[todo] = encoder.encode_documents(texts, batch_size=batch_size, progress=report)[
            inverse
        ]
    return vectors, len(new_hashes), reused


def _documents_done(
    progress: Callable[[int, int], None],
    before: int,
    documents: int,
    total: int,
    encoded: int,
    texts: int,
) -> None:
    """Report texts encoded as catalog documents done: ``before`` plus this kind's share."""
    progress(before + round(documents * encoded / max(texts, 1)), total)


def _reporter(show: bool, texts: int) -> Callable[[int, int], None] | None:
    """Log lines with counts and an ETA while a build encodes (the CLI's progress)."""
    if not show:
        return None
    started = time.perf_counter()

    def report(done: int, total: int) -> None:
        elapsed = time.perf_counter() - started
        log.info(
            "semantic: %d of %d texts encoded (%.0f/s), ETA %.0f s",
            done, total, done / max(elapsed, 1e-9), elapsed / max(done, 1) * (total - done),
        )  # fmt: skip

    return report


@register
class SemanticIndex(Index):
    """MiniLM vectors of track and artist documents behind the shared index contract.

    Args:
        vectors: One :class:`VectorIndex` per kind, rows in catalog table order.
        hashes: Document digests per kind, aligned with the index rows.
        params: Model name, dims, backend and build statistics.
        encoder: Encoder for queries; the packaged MiniLM is loaded on first use when ``None``.

    Example:
        >>> index = SemanticIndex.build(catalog)  # doctest: +SKIP
        >>> ids, scores = index.search_text("sad slow piano ballad", k=10)  # doctest: +SKIP
    """

    model = "semantic"

    def __init__(
        self,
        vectors: dict[Kind, VectorIndex],
        hashes: dict[Kind, np.ndarray],
        params: dict,
        encoder: Encoder | None = None,
    ) -> None:
        super().__init__(vectors, params, {kind: len(vectors[kind]) for kind in KINDS})
        self.hashes = hashes
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
        progress: bool | Callable[[int, int], None] = False,
        encoder: Encoder | None = None,
        batch_size: int = 128,
        method: str = "auto",
    ) -> Self:
        """Embed every track and artist document.

        Args:
            catalog: The catalog.
            previous: An earlier index (e.g. from :meth:`load`); documents whose text is unchanged
                reuse its vectors instead of being re-encoded.
            progress: Log progress lines (counts and ETA) while encoding, or a callable
                ``progress(done, total)`` in catalog documents (tracks and artists together).
            encoder: The encoder; the packaged MiniLM by default.
            batch_size: Texts per forward pass.
            method: :class:`VectorIndex` method (``"auto"``, ``"exact"``, ``"ivf"`` or ``"hnsw"``).

        Returns:
            The index; ``params["stats"]`` says per kind how many documents were encoded and reused.
        """
        encoder = encoder or load_encoder()
        if previous is not None and (
            previous.params.get("model") != encoder.name
            or previous.params.get("backend") != encoder.backend
            or previous.params.get("documents") != DOCUMENTS
        ):
            log.info("semantic: previous index used another model or backend; re-encoding all")
            previous = None
        vectors, hashes, stats = {}, {}, {}
        every = {kind: documents(catalog, kind) for kind in KINDS}
        total, done = sum(len(d) for d in every.values()), 0
        for kind in KINDS:
            docs = every[kind]
            hashes[kind] = document_hashes(docs)
            old = None if previous is None else (previous.vectors(kind), previous.hashes[kind])
            report = progress
            if callable(progress):  # catalog documents across both kinds, for one ETA
                report = functools.partial(_documents_done, progress, done, len(docs), total)
            embedded, encoded, reused = _embed(docs, hashes[kind], encoder, old, batch_size, report)
            done += len(docs)
            if callable(progress):
                progress(done, total)
            vectors[kind] = VectorIndex(docs.index.to_numpy(dtype=str), embedded, method=method)
            stats[kind] = {"documents": len(docs), "encoded": encoded, "reused": reused}
            log.info(
                "semantic %s: %d documents, %d distinct texts encoded, %d reused",
                kind,
                len(docs),
                encoded,
                reused,
            )
        params = {
            "documents": DOCUMENTS,
            "model": encoder.name,
            "dim": encoder.dim,
            "backend": encoder.backend,
            "precision": encoder.document_precision,
            "method": {kind: vectors[kind].method for kind in KINDS},
            "stats": stats,
        }
        return cls(vectors, hashes, params, encoder)

    def encode_query(self, text: str) -> np.ndarray:
        """The unit-length vector of a free-text query, shape ``(dim,)``.

        Raises:
            InputError: When ``text`` is empty.
        """
        if not isinstance(text, str) or not text.strip():
            raise InputError("the search text is empty: describe the music you want")
        return self.encoder.encode([text.strip()])[0]

    def search_text(
        self, text: str, k: int, kind: Kind = "tracks", mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Items whose documents best match free ``text`` (plain MiniLM retrieval)."""
        return self.search_vector(self.encode_query(text), k, kind, mask)

    def score(
        self, vector: np.ndarray, candidates: Sequence[str], kind: Kind = "tracks"
    ) -> np.ndarray:
        """Cosine of ``vector`` to each candidate; NaN for ids the index lacks.

        Raises:
            InputError: When ``vector`` is not a vector of this index's dimension.
        """
        vector = np.asarray(vector, dtype=np.float32)
        if vector.size != self.params["dim"]:
            raise InputError(
                f"profile vector has shape {vector.shape}; the semantic index needs "
                f"({self.params['dim']},), e.g. from encode_query or profile"
            )
        return super().score(vector.reshape(-1), candidates, kind)

    def save(self, folder: Path) -> ComponentInfo:
        """Write FAISS indexes, id and hash arrays (``.npy``, no pickle) and ``semantic.json``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for kind in KINDS:
            self.vectors(kind).save(folder, f"semantic_{kind}")
            np.save(folder / f"semantic_{kind}.hashes.npy", self.hashes[kind], allow_pickle=False)
        (folder / PARAMS_FILE).write_text(json.dumps({**self.params, "rows": self.rows}, indent=2))
        return {"params": self.params, "rows": self.rows}

    @classmethod
    def load(cls, folder: Path, encoder: Encoder | None = None) -> Self:
        """Read what :meth:`save` wrote; the model itself is loaded on the first query.

        Raises:
            ArtifactError: When a file is missing or the parts disagree.
        """
        folder = Path(folder)
        try:
            params = json.loads((folder / PARAMS_FILE).read_text())
            params.pop("rows", None)
            vectors = {kind: VectorIndex.load(folder, f"semantic_{kind}") for kind in KINDS}
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
            if len(hashes[kind]) != len(vectors[kind]) or vectors[kind].dim != params["dim"]:
                raise ArtifactError(f"semantic {kind} files in {folder} disagree: {_REBUILD}")
        return cls(vectors, hashes, params, encoder)
