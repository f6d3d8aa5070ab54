"""The one ranking pipeline: candidates → score table → fuse → pick.

Recommendations, track recommendations, session continuations and neighbours all run through
:func:`rank`; they differ only in their :class:`Signal` columns, their weights row (from
:data:`~tunescout.serving.ranking.WEIGHTS`) and how the final list is picked.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tunescout.serving import ranking
from tunescout.vocabulary import Fusion

POOL = 300  # candidates each signal contributes before fusion
SHORTLIST = 5  # MMR chooses among the best k * SHORTLIST


@dataclass(frozen=True)
class Signal:
    """One column of the score table.

    Attributes:
        name: The column (a model or signal name, matching a key of the weights).
        score: Candidate ids → scores (NaN where the signal knows nothing of an id).
        candidates: Pool size → the ids this signal proposes (``None``: it only scores).
    """

    name: str
    score: Callable[[list[str]], np.ndarray]
    candidates: Callable[[int], Sequence[str]] | None = None

    @classmethod
    def of(cls, name: str, scores: pd.Series, propose: bool = True) -> Signal:
        """A signal from precomputed scores by id (neighbour lists, lifted artist scores)."""
        values = scores[~scores.index.duplicated()]
        return cls(
            name,
            lambda ids: values.reindex(ids).to_numpy(dtype=float),
            (lambda n: values.index[:n].tolist()) if propose else None,
        )


@dataclass(frozen=True)
class Pick:
    """How the final list is chosen from the fused scores.

    Attributes:
        k: How many.
        diversity: MMR trade-off (0 keeps the fused order).
        vectors: Ids → unit vectors, for MMR (required when ``diversity > 0``).
        artist_of: Ids → artist ids; when given, at most one item per artist.
        song_of: Ids → song keys; when given, one recording per song (the best scored).
    """

    k: int
    diversity: float = 0.0
    vectors: Callable[[Sequence[str]], np.ndarray] | None = None
    artist_of: Callable[[Sequence[str]], np.ndarray] | None = None
    song_of: Callable[[Sequence[str]], np.ndarray] | None = None


@dataclass
class Ranking:
    """The chosen ids (best first), every candidate's fused score, and the score table."""

    ids: list[str]
    fused: pd.Series
    table: pd.DataFrame

    def normalised(self, column: str) -> np.ndarray:
        """The chosen ids' min–max normalised scores of one column (0 where the signal holds no
        score for an id; NaN throughout for a signal not scored, i.e. weighed 0)."""
        if column not in self.table:
            return np.full(len(self.ids), np.nan)
        values = ranking.minmax(self.table[column].to_numpy())
        return values[self.table.index.get_indexer(self.ids)]


def candidates(
    signals: Sequence[Signal],
    pool: int = POOL,
    exclude: Collection[str] = (),
    keep: Callable[[list[str]], np.ndarray] | None = None,
) -> list[str]:
    """Every signal's proposals, first come first kept, without ``exclude`` and what ``keep``
    rejects."""
    ids: list[str] = []
    for signal in signals:
        if signal.candidates is not None:
            ids.extend(signal.candidates(pool))
    unique = [i for i in dict.fromkeys(ids) if i not in exclude]
    if keep is not None and unique:
        unique = [i for i, ok in zip(unique, keep(unique), strict=True) if ok]
    return unique


def score_table(signals: Sequence[Signal], ids: list[str]) -> pd.DataFrame:
    """One column per signal, one row per candidate."""
    table = pd.DataFrame(index=pd.Index(ids, dtype=object))
    for signal in signals:
        table[signal.name] = signal.score(ids) if ids else np.array([], dtype=float)
    return table


def fuse(table: pd.DataFrame, weights: dict[str, float], method: Fusion = "weighted") -> pd.Series:
    """The weighted sum of normalised columns, or weighted reciprocal-rank fusion."""
    if method == "rrf":
        return ranking.rrf_fusion(table, weights)
    return ranking.weighted_fusion(table, weights)


def pick(fused: pd.Series, how: Pick) -> list[str]:
    """The final list, best first."""
    if how.song_of is not None and len(fused):
        ordered = fused.sort_values(ascending=False, kind="stable")
        fused = ordered[~pd.Series(how.song_of(list(ordered.index))).duplicated().to_numpy()]
    if how.diversity > 0 and how.vectors is not None:
        top = fused.nlargest(min(len(fused), how.k * SHORTLIST))
        chosen = ranking.mmr(top, how.vectors(list(top.index)), how.k, how.diversity)
        # MMR decides which items; the list is shown best first.
        return list(fused[chosen].sort_values(ascending=False, kind="stable").index)
    ordered = fused.sort_values(ascending=False, kind="stable")
    if how.artist_of is not None:
        first = ~pd.Series(how.artist_of(list(ordered.index))).duplicated().to_numpy()
        ordered = ordered[first]
    return list(ordered.index[: how.k])


def rank(
    signals: Sequence[Signal],
    weights: dict[str, float],
    how: Pick,
    pool: int = POOL,
    exclude: Collection[str] = (),
    keep: Callable[[list[str]], np.ndarray] | None = None,
    fusion: Fusion = "weighted",
) -> Ranking:
    """Candidates → score table → fuse → pick.

    Args:
        signals: The score columns and where candidates come from.
        weights: Signal name → weight (a row of :data:`~tunescout.serving.ranking.WEIGHTS`).
        how: How to choose the final list.
        pool: Candidates each signal proposes.
        exclude: Ids never returned (the rated items, the seed item).
        keep: Ids → which to keep (e.g. no track by a rated artist).
        fusion: ``weighted`` or ``rrf``.
    """
    ids = candidates(signals, pool, exclude, keep)
    table = score_table(signals, ids)
    fused = fuse(table, weights, fusion) if ids else pd.Series(dtype=float)
    return Ranking(pick(fused, how) if ids else [], fused, table)
