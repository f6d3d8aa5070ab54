"""Result filters (genres, feature ranges, popularity, era) evaluated as boolean masks over a catalog table."""

from __future__ import annotations

import functools
import math
import numbers
import reprlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse

from tunescout.domain.features import AUDIO_FEATURES
from tunescout.errors import InputError

_LIMITS = {f: (0.0, 1.0) for f in AUDIO_FEATURES} | {
    "tempo": (0.0, 300.0),
    "loudness": (-70.0, 10.0),
}


def _labels(name: str, values: object) -> list[str]:
    """Genre names or ids as a list of strings (one string counts as one value, not its letters)."""
    if isinstance(values, str):
        return [values]
    if not isinstance(values, Iterable) or isinstance(values, Mapping):
        raise InputError(f"filter {name}: give a list of strings, got {reprlib.repr(values)}")
    values = list(values)
    if not all(isinstance(v, str) for v in values):
        raise InputError(f"filter {name}: every value must be a string, got {reprlib.repr(values)}")
    return values


def _check_range(
    name: str, bounds: tuple[float, float] | None, limits: tuple[float, float]
) -> None:
    if bounds is None:
        return
    if not isinstance(bounds, tuple | list) or len(bounds) != 2:
        raise InputError(f"filter {name}: give a (low, high) pair, got {reprlib.repr(bounds)}")
    lo, hi = bounds
    if any(isinstance(v, bool) or not isinstance(v, numbers.Real) or math.isnan(v) for v in bounds):
        raise InputError(f"filter {name}: bounds must be numbers, got {bounds!r}")
    if lo > hi:
        raise InputError(f"filter {name}: lower bound {lo} is above upper bound {hi}")
    if hi < limits[0] or lo > limits[1]:
        raise InputError(
            f"filter {name}: {lo}..{hi} lies outside the possible range {limits[0]}..{limits[1]}"
        )


@dataclass(frozen=True)
class Filters:
    """What results must satisfy. Every field is optional; an empty ``Filters`` keeps everything.

    Attributes:
        genres: Keep items tagged with any of these genres (case-insensitive).
        features: Feature name to an inclusive (low, high) range, e.g. ``{"energy": (0.7, 1.0)}``.
        popularity: Inclusive 0–100 range (a familiarity control).
        years: Inclusive release-year range (tracks only).
        exclude: Catalog ids never to return.
    """

    genres: tuple[str, ...] = ()
    features: dict[str, tuple[float, float]] = field(default_factory=dict)
    popularity: tuple[float, float] | None = None
    years: tuple[int, int] | None = None
    exclude: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not isinstance(self.features, Mapping):
            raise InputError(
                f"filter features: give a dict of (low, high) pairs, got {self.features!r}"
            )
        unknown = sorted(set(self.features) - set(_LIMITS))
        if unknown:
            raise InputError(f"filter on unknown features {unknown}; known: {list(_LIMITS)}")
        for name, bounds in self.features.items():
            _check_range(name, bounds, _LIMITS[name])
        _check_range("popularity", self.popularity, (0.0, 100.0))
        _check_range("years", self.years, (1800, 2100))
        genres = _labels("genres", self.genres)
        object.__setattr__(self, "genres", tuple(g.casefold().strip() for g in genres if g.strip()))
        object.__setattr__(self, "exclude", frozenset(_labels("exclude", self.exclude)))

    @property
    def is_empty(self) -> bool:
        return not (self.genres or self.features or self.popularity or self.years or self.exclude)


class FilterTable:
    """Column arrays of one catalog table, prepared so a :class:`Filters` mask costs microseconds per row.

    Genres become a sparse item×genre matrix, so "any of these genres" is one sparse column sum.
    """

    def __init__(self, frame: pd.DataFrame, id_column: str) -> None:
        self.ids = frame[id_column].to_numpy(dtype=str)
        self._aligned: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        self.numeric = {
            c: frame[c].to_numpy(dtype=np.float64, na_value=np.nan)
            for c in [*AUDIO_FEATURES, "popularity", "release_year"]
            if c in frame.columns
        }
        genres = frame["genres"].map(lambda g: [x.casefold() for x in g] if g is not None else [])
        vocab = sorted({g for gs in genres for g in gs})
        self.genre_index = {g: i for i, g in enumerate(vocab)}
        rows = np.repeat(np.arange(len(frame)), genres.map(len).to_numpy())
        cols = [self.genre_index[g] for gs in genres for g in gs]
        self.genre_matrix = sparse.csc_matrix(
            (np.ones(len(cols), dtype=np.int8), (rows, cols)), shape=(len(frame), len(vocab))
        )

    @functools.cached_property
    def _row(self) -> pd.Index:
        return pd.Index(self.ids)

    def rows_of(self, ids: np.ndarray) -> np.ndarray | None:
        """Table row of each of ``ids`` (-1 where absent), or ``None`` when ``ids`` are the table's
        own ids in order. Cached per ids array: an index's ids never change."""
        key = id(ids)
        cached = self._aligned.get(key)
        if cached is None or cached[0] is not ids:
            same = len(ids) == len(self.ids) and (ids is self.ids or np.array_equal(ids, self.ids))
            cached = (ids, None if same else self._row.get_indexer(ids))
            self._aligned[key] = cached
        return cached[1]

    def align(self, mask: np.ndarray | None, ids: np.ndarray) -> np.ndarray | None:
        """A mask over this table's rows re-expressed over ``ids`` (an index's row order); ids the
        table lacks are off. This is the one mask convention at an index's boundary: a boolean
        array aligned with ``index.ids(kind)``."""
        if mask is None:
            return None
        rows = self.rows_of(ids)
        if rows is None:
            return mask
        out = np.zeros(len(ids), dtype=bool)
        found = rows >= 0
        out[found] = mask[rows[found]]
        return out

    def _between(self, column: str, bounds: tuple[float, float]) -> np.ndarray:
        values = self.numeric.get(column)
        if values is None:
            return np.zeros(len(self.ids), dtype=bool)
        with np.errstate(invalid="ignore"):
            return (values >= bounds[0]) & (values <= bounds[1])

    def mask(self, filters: Filters | None) -> np.ndarray | None:
        """Rows that pass ``filters``, or ``None`` when nothing is filtered."""
        if filters is None or filters.is_empty:
            return None
        keep = np.ones(len(self.ids), dtype=bool)
        if filters.genres:
            keep &= self.genre_hits(filters.genres)
        for name, bounds in filters.features.items():
            keep &= self._between(name, bounds)
        if filters.popularity is not None:
            keep &= self._between("popularity", filters.popularity)
        if filters.years is not None:
            keep &= self._between("release_year", filters.years)
        if filters.exclude:
            rows = self._row.get_indexer(list(filters.exclude))
            keep[rows[rows >= 0]] = False
        return keep

    def genre_hits(self, genres: Iterable[str]) -> np.ndarray:
        """Rows tagged with any of ``genres`` (casefolded names; unknown names match nothing)."""
        hit = np.zeros(len(self.ids), dtype=bool)
        m = self.genre_matrix
        for g in genres:
            col = self.genre_index.get(g)
            if col is not None:  # the rows of one CSC column: the tracks of that genre
                hit[m.indices[m.indptr[col] : m.indptr[col + 1]]] = True
        return hit

    @property
    def genres(self) -> list[str]:
        """Every genre in the table, sorted."""
        return list(self.genre_index)
