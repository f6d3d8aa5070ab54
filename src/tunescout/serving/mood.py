"""What a mood asks of the music: free text → audio-feature targets, and each track's fit to them.

A mood such as "rainy heartbreak" is split into words and phrases; each is matched by MiniLM
against the phrases of the one mood table (:data:`~tunescout.domain.moods.MOODS`), which carry
feature targets, so "heartbroken" lands on "sad" without being listed. A track fits by how close
its feature percentiles are to the targets. :mod:`tunescout.serving.search` combines this with
the rest of a request (eras, genres, references, exclusions) and with text similarity.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from tunescout.domain.features import AUDIO_FEATURES
from tunescout.domain.moods import MOODS
from tunescout.errors import InputError
from tunescout.indexes.encoding.encoder import Encoder, load_encoder

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
_GRAM_CACHE = 20_000  # vectors of query phrases kept (384 floats each: about 30 MB when full)
# Bounded work per request: words read and new phrases encoded (a long query of many distinct
# words would otherwise encode hundreds of phrases).
MAX_WORDS = 40
MAX_NEW_PHRASES = 64


@dataclass
class Intent:
    """What a free-text query implies.

    Attributes:
        targets: Feature to target value in feature units, e.g. ``{"valence": 0.1, "tempo": 75}``.
        weights: Feature to how strongly the query implies it (0–1).
        words: Query words or phrases that produced the intent, for explanations.
    """

    targets: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    words: list[str] = field(default_factory=list)

    @property
    def strength(self) -> float:
        """The strongest feature weight (0 when the query implies no features)."""
        return max(self.weights.values(), default=0.0)


def _tokens(text: str) -> list[str]:
    return WORD.findall(text.casefold().replace("’", "'"))


def _grams(tokens: list[str]) -> list[tuple[str, range]]:
    """Phrases of 1–3 tokens that neither start nor end with a stopword (or are in the mood
    table as they are), with their token spans."""
    out = {}
    for n in range(1, _MAX_GRAM + 1):
        for i in range(len(tokens) - n + 1):
            gram = tokens[i : i + n]
            phrase = " ".join(gram)
            # Phrasal verbs of the mood table ("work out", "pump me up") keep their particles.
            if (gram[0] not in STOPWORDS and gram[-1] not in STOPWORDS) or phrase in _LEXICON:
                out.setdefault(phrase, range(i, i + n))
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


class Moods:
    """Mood intents of free text and the tracks' fit to them.

    Args:
        tracks: The catalog tracks table (rows in table order: fits and percentiles follow it).
        encoder: Encoder for the text and the mood phrases, or a function that gives it when
            first needed (so loading an engine never loads a model); the packaged MiniLM by
            default.

    Example:
        >>> moods = Moods(catalog.tracks)  # doctest: +SKIP
        >>> intent, vector = moods.analyse("music for a rainy heartbreak")  # doctest: +SKIP
        >>> moods.feature_fit(intent)  # doctest: +SKIP
    """

    def __init__(
        self, tracks: pd.DataFrame, encoder: Encoder | Callable[[], Encoder] | None = None
    ) -> None:
        self.ids = tracks["track_id"].to_numpy(dtype=str)
        self._pct, self._sorted = _percentile_table(tracks)
        self._encoder = encoder if encoder is None or hasattr(encoder, "encode") else None
        self._provide = encoder if self._encoder is None and encoder is not None else load_encoder
        self._prototypes: tuple[np.ndarray, np.ndarray] | None = None
        self._gram_cache: dict[str, np.ndarray] = {}

    @property
    def encoder(self) -> Encoder:
        """The encoder (the packaged MiniLM unless one was given)."""
        if self._encoder is None:
            self._encoder = self._provide()
        return self._encoder

    def median(self, feature: str) -> float:
        """The catalog's median of ``feature`` (feature units)."""
        ordered = self._sorted[feature]
        return float(ordered[len(ordered) // 2]) if len(ordered) else float("nan")

    def percentile(self, feature: str, rows: np.ndarray | None = None) -> np.ndarray:
        """Mid-rank catalog percentile (0–1) of ``feature`` for ``rows`` (all by default)."""
        column = self._pct[AUDIO_FEATURES.index(feature)]
        return column if rows is None else column[rows]

    def analyse(self, text: str) -> tuple[Intent, np.ndarray]:
        """The intent of ``text`` and its MiniLM vector (one encoder call for both).

        Raises:
            InputError: When ``text`` is empty or blank.
        """
        if not isinstance(text, str) or not text.strip():
            raise InputError("the search text is empty: describe the music you want")
        tokens = _tokens(text)[:MAX_WORDS]
        grams = _grams(tokens)
        new = [g for g, _ in grams if g not in self._gram_cache]
        if len(new) > MAX_NEW_PHRASES:  # shortest phrases first: they carry the moods
            dropped = set(new[MAX_NEW_PHRASES:])
            grams = [(g, span) for g, span in grams if g not in dropped]
        vectors = self._encode_with_grams(" ".join(tokens) or text.strip(), [g for g, _ in grams])
        intent = self._intent_from(grams, vectors[1:], " ".join(tokens), vectors[0])
        log.debug("intent of %r: %s", text, intent)
        return intent, vectors[0]

    def intent(self, text: str) -> Intent:
        """What ``text`` implies: feature targets and weights, and the words behind them.

        Raises:
            InputError: When ``text`` is empty or blank.
        """
        return self.analyse(text)[0]

    def _prototype_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """Vectors of every mood phrase and the index in :data:`MOODS` of each (encoded once)."""
        if self._prototypes is None:
            self._prototypes = (self.encoder.encode(list(_PHRASES)), _OWNER)
        return self._prototypes

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
