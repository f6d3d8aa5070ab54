"""Mood search: free text → audio-feature targets and genres, blended with MiniLM similarity.

A query such as "music for a rainy heartbreak" is split into words and phrases; each is matched
by MiniLM against prototype phrases of a few moods with known feature targets (so "heartbroken"
lands on "sad" without being listed), and against the catalog's genre names. Tracks are then
ranked by a blend of semantic similarity and closeness of their feature percentiles to the targets.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from tunescout.domain.features import AUDIO_FEATURES
from tunescout.domain.genres import GENRE_ALIASES
from tunescout.domain.moods import FEATURE_WORDS, MOODS
from tunescout.errors import InputError
from tunescout.indexes.encoding.encoder import Encoder
from tunescout.indexes.semantic import SemanticIndex
from tunescout.indexes.topk import largest
from tunescout.serving.filters import FilterTable

log = logging.getLogger(__name__)


# Every lexicon phrase, the index in MOODS of its mood, and phrase -> first position.
_PHRASES = tuple(p for mood in MOODS for p in mood.phrases)
_OWNER = np.array([i for i, mood in enumerate(MOODS) for _ in mood.phrases])
_LEXICON = {p: i for i, p in reversed(list(enumerate(_PHRASES)))}

_STOPWORD_TEXT = (
    "a an the some any of for to in on at by with and or me my i you we our us your it its is "
    "are be that this these those what when while before after from into up out get make "
    "music songs song tracks track tunes playlist playlists mix stuff something things"
)
STOPWORDS = frozenset(_STOPWORD_TEXT.split())
WORD = re.compile(r"[a-z0-9&'’-]+")
_MAX_GRAM = 3
# Cosine of a query phrase to a prototype: below _SIM_LO it implies nothing, from _SIM_HI fully.
_SIM_LO, _SIM_HI = 0.5, 0.8
_POOL = 400
_GRAM_CACHE = 20_000  # vectors of query phrases kept (384 floats each: about 30 MB when full)
_GENRE_BONUS = 1.0
# With a strong intent the feature fit carries this share of the score; semantic the rest.
_FIT_SHARE = 0.75


@dataclass
class Intent:
    """What a free-text query implies.

    Attributes:
        targets: Feature to target value in feature units, e.g. ``{"valence": 0.1, "tempo": 75}``.
        weights: Feature to how strongly the query implies it (0–1).
        genres: Catalog genres the query names (e.g. ``["classic rock"]``).
        words: Query words or phrases that produced the intent, for explanations.
    """

    targets: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    genres: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)

    @property
    def strength(self) -> float:
        """The strongest feature weight (0 when the query implies no features)."""
        return max(self.weights.values(), default=0.0)


def _tokens(text: str) -> list[str]:
    return WORD.findall(text.casefold().replace("’", "'"))


def _grams(tokens: list[str]) -> list[tuple[str, range]]:
    """Phrases of 1–3 tokens that neither start nor end with a stopword, with their token spans."""
    out = {}
    for n in range(1, _MAX_GRAM + 1):
        for i in range(len(tokens) - n + 1):
            gram = tokens[i : i + n]
            if gram[0] not in STOPWORDS and gram[-1] not in STOPWORDS:
                out.setdefault(" ".join(gram), range(i, i + n))
    return list(out.items())


def _singular(phrase: str) -> str:
    """The phrase with its last word made singular ("lullabies" → "lullaby", "ballads" → "ballad")."""
    head, _, last = phrase.rpartition(" ")
    if len(last) > 4 and last.endswith("ies"):
        last = last[:-3] + "y"
    elif len(last) > 3 and last.endswith("s") and not last.endswith(("ss", "us", "is", "ues")):
        last = last[:-1]
    return f"{head} {last}" if head else last


def _ramp(similarity: np.ndarray) -> np.ndarray:
    return np.clip((similarity - _SIM_LO) / (_SIM_HI - _SIM_LO), 0.0, 1.0)


def _percentile_table(tracks: pd.DataFrame) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Mid-rank percentiles ``(features, n)`` in :data:`AUDIO_FEATURES` order, and sorted values."""
    pct = np.empty((len(AUDIO_FEATURES), len(tracks)), dtype=np.float32)
    sorted_values = {}
    for j, f in enumerate(AUDIO_FEATURES):
        values = tracks[f].to_numpy(dtype=np.float64, na_value=np.nan)
        values = np.where(np.isnan(values), np.nanmedian(values), values)
        pct[j] = (rankdata(values, method="average") - 0.5) / max(len(values), 1)
        sorted_values[f] = np.sort(values)
    return pct, sorted_values


class MoodSearch:
    """Free-text mood search over the catalog tracks.

    Args:
        semantic: The semantic index built on the same catalog.
        tracks: The catalog tracks table (rows in table order; masks refer to these rows).
        encoder: Encoder for queries and prototypes; the semantic index's encoder by default.
        table: ``FilterTable(tracks, "track_id")`` if the caller already has one (its genre
            matrix is shared rather than built twice).

    Example:
        >>> ms = MoodSearch(semantic, catalog.tracks)  # doctest: +SKIP
        >>> ms.search("music for a rainy heartbreak", k=10)  # doctest: +SKIP
    """

    def __init__(
        self,
        semantic: SemanticIndex,
        tracks: pd.DataFrame,
        encoder: Encoder | None = None,
        table: FilterTable | None = None,
    ) -> None:
        self.semantic = semantic
        self._genres = table if table is not None else FilterTable(tracks, "track_id")
        if len(self._genres.ids) != len(tracks) or not np.array_equal(
            self._genres.ids, tracks["track_id"].to_numpy(dtype=str)
        ):
            raise InputError("the filter table's rows are not the tracks table's rows")
        self.ids = self._genres.ids
        self._index = semantic.vectors("tracks")
        # Index rows of each table row, so masks and scores line up whatever the index order.
        self._index_rows = self._index.rows(self.ids)
        self._table_rows = np.full(len(self._index), -1, dtype=np.int64)
        self._table_rows[self._index_rows] = np.arange(len(self.ids))
        self._pct, self._sorted = _percentile_table(tracks)
        vocab = self._genres.genres
        aliases = {a: c for a, c in GENRE_ALIASES.items() if c in vocab}
        self.genre_vocabulary: dict[str, str] = aliases | {g: g for g in vocab}
        self._encoder = encoder
        self._prototypes: tuple[np.ndarray, np.ndarray] | None = None
        self._gram_cache: dict[str, np.ndarray] = {}

    @property
    def encoder(self) -> Encoder:
        """The encoder (the semantic index's own unless one was given)."""
        return self._encoder or self.semantic.encoder

    def _prototype_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Vectors of every mood phrase and the index in :data:`MOODS` of each (encoded once)."""
        if self._prototypes is None:
            self._prototypes = (self.encoder.encode(list(_PHRASES)), _OWNER)
        return self._prototypes

    def _detect_genres(self, tokens: list[str]) -> tuple[list[str], list[str], set[int]]:
        """Genres named in ``tokens`` (longest phrase first), the phrases, and the used positions."""
        genres, phrases, used = [], [], set()
        for n in range(_MAX_GRAM, 0, -1):
            for i in range(len(tokens) - n + 1):
                span = set(range(i, i + n))
                phrase = " ".join(tokens[i : i + n])
                if span & used or phrase not in self.genre_vocabulary:
                    continue
                genres.append(self.genre_vocabulary[phrase])
                phrases.append(phrase)
                used |= span
        return list(dict.fromkeys(genres)), phrases, used

    def _encode_with_grams(self, text: str, grams: list[str]) -> np.ndarray:
        """Vectors of ``text`` then each gram, in one encoder call; gram vectors are cached.

        Query words recur ("sad", "party", "chill"), so most grams after the first few queries
        cost nothing and a query is usually one short text to encode.
        """
        # Reads go through a local dict, so a concurrent query clearing the cache is harmless.
        known = {g: self._gram_cache.get(g) for g in dict.fromkeys(grams)}
        missing = [g for g, v in known.items() if v is None]
        vectors = self.encoder.encode([text, *missing])
        known.update(zip(missing, vectors[1:], strict=True))
        if len(self._gram_cache) + len(missing) > _GRAM_CACHE:
            self._gram_cache.clear()
        self._gram_cache.update((g, known[g]) for g in missing)
        return np.vstack([vectors[:1], *(known[g][None, :] for g in grams)])

    def _analyse(self, text: str) -> tuple[Intent, np.ndarray]:
        """The intent of ``text`` and its MiniLM vector (one encoder call for both)."""
        if not isinstance(text, str) or not text.strip():
            raise InputError("the search text is empty: describe the music you want")
        tokens = _tokens(text)
        genres, genre_phrases, used = self._detect_genres(tokens)
        rest = [t for i, t in enumerate(tokens) if i not in used]
        grams = _grams(rest)
        vectors = self._encode_with_grams(text.strip(), [g for g, _ in grams])
        intent = self._intent_from(grams, vectors[1:], " ".join(rest), vectors[0])
        intent.genres = genres
        intent.words = list(dict.fromkeys(genre_phrases + intent.words))
        log.debug("intent of %r: %s", text, intent)
        return intent, vectors[0]

    def _intent_from(
        self,
        grams: list[tuple[str, range]],
        gram_vectors: np.ndarray,
        rest: str,
        rest_vector: np.ndarray,
    ) -> Intent:
        """Cover the query with its best-matching phrases, each assigned to its nearest mood.

        Phrases are taken greedily, strongest match first and never overlapping, so "dance all
        night" counts once as dancing rather than also as "late night". The whole query text is matched
        too (its phrase is labelled without genre words), which catches scenario sentences no single phrase names.
        """
        if not grams:
            return Intent()
        protos, owner = self._prototype_vectors()
        phrases = [g for g, _ in grams]
        vectors = gram_vectors
        if len(grams) > 1:
            phrases.append(rest)
            vectors = np.vstack([gram_vectors, rest_vector[None, :]])
        sims = vectors @ protos.T
        # MiniLM's word pieces make plurals drift ("lullabies" is 0.41 from "lullaby"): a phrase
        # whose singular form is in the lexicon matches that entry exactly.
        for i, phrase in enumerate(phrases):
            hit = _LEXICON.get(_singular(phrase))
            if hit is not None:
                sims[i, hit] = 1.0
        best = sims.argmax(axis=1)
        strength = _ramp(sims[np.arange(len(phrases)), best])
        spans = [set(span) for _, span in grams] + [set()]
        covered: set[int] = set()
        activation: dict[int, float] = {}
        words: dict[int, str] = {}
        for i in sorted(range(len(phrases)), key=lambda i: (-strength[i], -len(spans[i]))):
            if strength[i] <= 0 or spans[i] & covered:
                continue
            covered |= spans[i]
            mood = int(owner[best[i]])
            if strength[i] > activation.get(mood, 0.0):
                activation[mood], words[mood] = float(strength[i]), phrases[i]
        return self._combine(activation, words)

    @staticmethod
    def _combine(activation: dict[int, float], words: dict[int, str]) -> Intent:
        """Per feature, the target of the mood that implies it most strongly.

        Averaging would pull "fast" (170 BPM) towards "energetic" (135 BPM) and blunt both.
        """
        targets: dict[str, float] = {}
        weights: dict[str, float] = {}
        for mood, a in activation.items():
            for feature, (target, w) in MOODS[mood].targets.items():
                if a * w > weights.get(feature, 0.0):
                    targets[feature], weights[feature] = target, a * w
        used = sorted(activation, key=lambda m: -activation[m])
        return Intent(
            targets=targets, weights=weights, words=list(dict.fromkeys(words[m] for m in used))
        )

    def intent(self, text: str) -> Intent:
        """What ``text`` implies: feature targets and weights, genres, and the words behind them.

        Raises:
            InputError: When ``text`` is empty or blank.
        """
        return self._analyse(text)[0]

    def _target_percentiles(self, intent: Intent) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Feature columns, their target percentiles in this catalog, and weights."""
        cols, targets, weights = [], [], []
        for feature, value in intent.targets.items():
            ordered = self._sorted[feature]
            lo = np.searchsorted(ordered, value, side="left")
            hi = np.searchsorted(ordered, value, side="right")
            cols.append(AUDIO_FEATURES.index(feature))
            targets.append((lo + hi) / 2 / max(len(ordered), 1))
            weights.append(intent.weights[feature])
        return np.array(cols, dtype=int), np.array(targets), np.array(weights)

    def feature_fit(self, intent: Intent, rows: np.ndarray | None = None) -> np.ndarray:
        """Closeness (0–1) of tracks' feature percentiles to the intent's targets, weight-averaged.

        Args:
            intent: From :meth:`intent`.
            rows: Table rows to score; all rows by default.

        Returns:
            One value per row; 0.5 everywhere when the intent implies no features.
        """
        n = len(self.ids) if rows is None else len(rows)
        if not intent.targets:
            return np.full(n, 0.5, dtype=np.float32)
        cols, targets, weights = self._target_percentiles(intent)
        weights = (weights / weights.sum()).astype(np.float32)
        distance = np.zeros(n, dtype=np.float32)
        term = np.empty(n, dtype=np.float32)
        # Feature-major storage: each column is contiguous; in-place arithmetic, no temporaries.
        for c, t, w in zip(cols, targets.astype(np.float32), weights, strict=True):
            column = self._pct[c] if rows is None else self._pct[c, rows]
            np.subtract(column, t, out=term)
            np.abs(term, out=term)
            term *= w
            distance += term
        np.subtract(1.0, distance, out=distance)
        return distance

    def _genre_hits(self, genres: list[str], rows: np.ndarray | None = None) -> np.ndarray:
        """``(len(genres), len(rows))``: which of ``rows`` (all rows by default) carry each genre."""
        n = len(self.ids) if rows is None else len(rows)
        hits = [self._genres.genre_hits([g]) for g in genres]
        return np.array([h if rows is None else h[rows] for h in hits], dtype=bool).reshape(
            len(genres), n
        )

    def _candidates(
        self, intent: Intent, vector: np.ndarray, mask: np.ndarray | None, k: int
    ) -> np.ndarray:
        """Table rows worth scoring: the best semantic, feature-fit and genre matches under ``mask``."""
        pool = max(_POOL, 4 * k)
        index_mask = None
        if mask is not None:
            index_mask = np.zeros(len(self._index), dtype=bool)
            index_mask[self._index_rows] = mask
        found, _ = self._index.search_rows(vector, pool, index_mask)
        pools = [self._table_rows[found]]
        allowed = None if mask is None else np.flatnonzero(mask)
        if intent.targets and (allowed is None or len(allowed)):
            fit = self.feature_fit(intent, allowed)
            if intent.genres:
                # Within the named genres first, so "latin party music" finds latin party tracks.
                fit += _GENRE_BONUS * self._genre_hits(intent.genres, allowed).any(axis=0)
            best = largest(fit, pool)
            pools.append(best if allowed is None else allowed[best])
        return np.unique(np.concatenate(pools))

    def _why(self, intent: Intent, rows: np.ndarray, per_genre: np.ndarray) -> list[str]:
        cols, targets, weights = self._target_percentiles(intent)
        quoted = f"matches '{', '.join(intent.words)}'" if intent.words else "similar wording"
        out = []
        for i, row in enumerate(rows):
            words = [g for g, has in zip(intent.genres, per_genre[:, i], strict=True) if has]
            for c, t, w in zip(cols, targets, weights, strict=True):
                p = self._pct[c, row]
                side = "high" if t >= 0.5 else "low"
                on_side = p >= 0.6 if side == "high" else p <= 0.4
                label = FEATURE_WORDS.get((AUDIO_FEATURES[c], side))
                if w >= 0.5 and on_side and label and label not in words:
                    words.append(label)
            out.append(f"{', '.join(words)} — {quoted}" if words else quoted)
        return out

    def search(self, text: str, k: int = 10, mask: np.ndarray | None = None) -> pd.DataFrame:
        """The ``k`` tracks that best match the mood, activity or genre ``text`` describes.

        Args:
            text: Free text, e.g. ``"pump me up for the gym"``.
            k: How many results.
            mask: Boolean array over ``tracks`` rows (from ``FilterTable(tracks,
                "track_id").mask(filters)``); applied before ranking.

        Returns:
            Columns ``track_id, score, semantic, feature_fit, why``, best first; exactly ``k`` rows
            whenever ``k`` tracks pass ``mask``.

        Raises:
            InputError: When ``text`` is blank, ``k`` is not positive, or ``mask`` has the wrong length.
        """
        if k <= 0:
            raise InputError(f"k must be positive, got {k}")
        if mask is not None:
            mask = np.asarray(mask, dtype=bool)
            if mask.shape != (len(self.ids),):
                raise InputError(
                    f"filter mask has {mask.size} rows but the tracks table has {len(self.ids)}"
                )
        intent, vector = self._analyse(text)
        rows = self._candidates(intent, vector, mask, k)
        semantic = self._index.vectors_at(self._index_rows[rows]) @ vector
        fit = self.feature_fit(intent, rows)
        per_genre = self._genre_hits(intent.genres, rows)
        genre_hit = per_genre.any(axis=0)
        spread = float(semantic.max() - semantic.min()) if len(rows) else 0.0
        sem_scaled = (semantic - semantic.min()) / spread if spread > 0 else np.zeros(len(rows))
        share = _FIT_SHARE * intent.strength
        score = (1 - share) * sem_scaled + share * fit + _GENRE_BONUS * genre_hit
        top = np.argsort(-score, kind="stable")[:k]
        return pd.DataFrame(
            {
                "track_id": self.ids[rows[top]],
                "score": score[top].astype(np.float64),
                "semantic": semantic[top].astype(np.float64),
                "feature_fit": fit[top].astype(np.float64),
                "why": self._why(intent, rows[top], per_genre[:, top]),
            }
        )
