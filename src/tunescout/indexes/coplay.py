"""Item-item co-listening index: EDLAE for profiles (fold-in ``x·B``), RP3beta rows for neighbours.

Built from the catalog's interactions, per item kind (artists always; tracks when interactions name
tracks). Only items with at least ``min_listeners`` distinct listeners are fitted, at most
``max_items`` of them (the most listened): EDLAE inverts an items × items Gram matrix, so the cap
bounds the build. Items left out are simply not held here; the fusion leans on the tag, ALS and
audio models for them.

A "vector" of this index lives in item space: :meth:`CoplayIndex.profile` returns ``x·B`` over the
fitted items (one sparse-row product, no solve), :meth:`~CoplayIndex.score` reads its entries and
:meth:`~CoplayIndex.search_vector` takes its best ones; :meth:`~CoplayIndex.similar` sums the
seeds' RP3beta rows. Every matrix is pruned to each row's ``neighbours`` largest entries and stored
as a float32 CSR ``.npz`` (no pickle).

Memory (measured by ``research.tuning.coplay_memory``, see docs/EVALUATION.md): HetRec's 17,632
artists have 6,953 with ≥ 2 listeners; each pruned matrix holds ≤ 200 entries per fitted item, so
at most 1.6 KB per item and matrix (≈ 11 MB for B at 6,953 items). The build's peak is the dense
Gram matrix and its inverse, ``8 n²`` bytes each for ``n`` fitted items (0.39 GB at 6,953). At
125k artists the cap (10,000 by default) keeps the build under ≈ 2.5 GB and the served matrices
under 16 MB each, whatever the catalog's size.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Self

import numpy as np
import pandas as pd
import scipy.sparse as sp

from tunescout.catalog import Catalog
from tunescout.errors import ArtifactError, InputError
from tunescout.indexes.base import ComponentInfo, Index, register
from tunescout.indexes.itemitem import ease_weights, prune_rows, rp3beta_rows
from tunescout.indexes.sparsevectors import Keyed, load_sparse, save_sparse
from tunescout.vocabulary import Kind

log = logging.getLogger(__name__)
MODEL = "coplay"
PARAMS_FILE = "coplay.json"
_REBUILD = f"rebuild it with `python scripts/build.py --only {MODEL}`"
_COLUMNS: dict[Kind, str] = {"artists": "artist_id", "tracks": "track_id"}
TIE = 1e-4  # the largest tie-break added to a profile's scores (see CoplayPart.fold_in)


@dataclass(frozen=True)
class CoplayParams:
    """How the item-item matrices are fitted.

    Defaults were chosen on validation splits carved from HetRec training users only
    (``tunescout.research.tuning``; figures in docs/EVALUATION.md).

    Attributes:
        l2: EDLAE's λ (binary input).
        dropout: EDLAE's emphasised-denoising dropout ``p`` (``Λ = λI + p/(1-p) diag G``).
        min_listeners: Items with fewer distinct listeners are not fitted.
        max_items: At most this many items are fitted (the most listened), bounding the build.
        neighbours: Entries kept per row of every matrix.
        rp3_alpha: RP3beta's α (neighbours).
        rp3_beta: RP3beta's β (popularity penalty of neighbours).
        history_l2: λ of a second EDLAE on ``1 + log(plays)`` for listeners with a history
            (0 leaves it out and known listeners use the first matrix).
        history_dropout: Its dropout.
    """

    l2: float = 50.0
    dropout: float = 0.9
    min_listeners: int = 2
    max_items: int = 10_000
    neighbours: int = 200
    rp3_alpha: float = 0.8
    rp3_beta: float = 0.2
    history_l2: float = 1000.0
    history_dropout: float = 0.67

    def __post_init__(self) -> None:
        if not 0 <= self.dropout < 1 or not 0 <= self.history_dropout < 1:
            raise InputError("dropout must lie in [0, 1)")
        if self.l2 <= 0 or self.min_listeners < 1 or self.max_items < 2 or self.neighbours < 1:
            raise InputError("l2, min_listeners, max_items and neighbours must be positive")


def _edlae(x: sp.csr_matrix, l2: float, dropout: float, top_n: int) -> sp.csr_matrix:
    """EDLAE's ``B`` for users × items ``x``, pruned to each row's ``top_n`` largest entries."""
    gram = (x.T @ x).toarray()
    weights = ease_weights(gram, l2, dropout)
    del gram
    return prune_rows(weights, top_n)


class CoplayPart:
    """The fitted matrices of one item kind.

    Attributes:
        items: The fitted items' ids (rows and columns of every matrix).
        profile_matrix: EDLAE ``B`` (binary input), pruned.
        neighbour_matrix: RP3beta ``W``, pruned.
        history_matrix: EDLAE on log plays, pruned (``None`` when not fitted).
        listeners: Items × listeners, binary: who played what (for shared-listener counts).
    """

    def __init__(
        self,
        items: Keyed,
        profile_matrix: sp.csr_matrix,
        neighbour_matrix: sp.csr_matrix,
        history_matrix: sp.csr_matrix | None,
        listeners: sp.csr_matrix,
    ) -> None:
        self.items = items
        self.profile_matrix = profile_matrix
        self.neighbour_matrix = neighbour_matrix
        self.history_matrix = history_matrix
        self.listeners = listeners
        self.counts = np.diff(listeners.indptr).astype(np.int32)

    @classmethod
    def fit(cls, frame: pd.DataFrame, column: str, params: CoplayParams) -> CoplayPart | None:
        """Fit on ``user_id, <column>, weight`` rows; ``None`` when no item has enough listeners."""
        users, user_ids = pd.factorize(frame["user_id"].astype(str), sort=True)
        items, item_ids = pd.factorize(frame[column].astype(str), sort=True)
        plays = sp.csr_matrix(
            (frame["weight"].to_numpy(np.float64), (users, items)),
            shape=(len(user_ids), len(item_ids)),
        )
        plays.sum_duplicates()
        plays.data = np.maximum(plays.data, 0.0)
        plays.eliminate_zeros()
        n = np.diff(plays.tocsc().indptr)
        order = np.lexsort((np.asarray(item_ids, dtype=str), -n))  # most listened first, then id
        kept = order[n[order] >= params.min_listeners][: params.max_items]
        if len(kept) < 2:
            return None
        kept = np.sort(kept)
        x = plays[:, kept].tocsr()
        binary = sp.csr_matrix(x, dtype=np.float32, copy=True)
        binary.data[:] = 1.0
        profile = _edlae(binary, params.l2, params.dropout, params.neighbours)
        neighbours = rp3beta_rows(binary, params.rp3_alpha, params.rp3_beta, params.neighbours)
        history = None
        if params.history_l2 > 0:
            logged = sp.csr_matrix(x, dtype=np.float32, copy=True)
            logged.data = 1.0 + np.log(np.maximum(logged.data, 1.0))
            history = _edlae(logged, params.history_l2, params.history_dropout, params.neighbours)
        listeners = sp.csr_matrix(binary.T, dtype=np.float32)
        log.info("co-listening %s: %d of %d items fitted", column, len(kept), len(item_ids))
        return cls(
            Keyed(np.asarray(item_ids, dtype=str)[kept]), profile, neighbours, history, listeners
        )

    def row(self, weights: Mapping[str, float]) -> sp.csr_matrix | None:
        """The held items of ``weights`` as one sparse input row (``None`` when none is held)."""
        rows = self.items.lookup(list(weights))
        held = rows >= 0
        if not held.any():
            return None
        values = np.fromiter(weights.values(), dtype=np.float64, count=len(weights))[held]
        if not np.isfinite(values).all():
            raise InputError("profile weights must be finite numbers")
        return sp.csr_matrix(
            (values.astype(np.float32), (np.zeros(int(held.sum()), dtype=np.int32), rows[held])),
            shape=(1, len(self.items)),
        )

    def fold_in(
        self, weights: Mapping[str, float], matrix: sp.csr_matrix, ties: bool = False
    ) -> np.ndarray | None:
        """``x·matrix`` over the fitted items; with ``ties``, items the pruned matrix scores alike
        are ordered by a two-step RP3beta walk from the rated items, scaled to at most :data:`TIE`
        (an item that listeners connect to a rated one then ranks above one they never do)."""
        row = self.row(weights)
        if row is None:
            return None
        scores = np.asarray((row @ matrix).todense(), dtype=np.float32).ravel()
        if ties:  # two steps, so an item co-listened only with neighbours of the seeds counts
            step = sp.csr_matrix(row @ self.neighbour_matrix)
            walk = np.asarray((step + step @ self.neighbour_matrix).todense()).ravel()
            top = np.abs(walk).max()
            if top > 0:
                scores += TIE * walk / top
        return scores

    def shared_listeners(self, a: str, b: Sequence[str]) -> np.ndarray:
        """How many listeners of ``a`` also play each of ``b`` (0 where either is not held)."""
        out = np.zeros(len(b), dtype=np.int64)
        ra = self.items.lookup([a])[0]
        rows = self.items.lookup(list(b))
        if ra < 0:
            return out
        held = rows >= 0
        if held.any():
            out[held] = np.asarray(
                (self.listeners[rows[held]] @ self.listeners[ra].T).todense()
            ).ravel()
        return out

    def save(self, folder: Path, kind: str) -> list[str]:
        files = [self.items.save_ids(folder, kind).name]
        matrices = {
            "profile": self.profile_matrix,
            "neighbours": self.neighbour_matrix,
            "history": self.history_matrix,
            "listeners": self.listeners,
        }
        for name, matrix in matrices.items():
            if matrix is not None:
                files.append(save_sparse(folder / f"{kind}.{name}.npz", matrix).name)
        return files

    @classmethod
    def load(cls, folder: Path, kind: str) -> CoplayPart:
        history = folder / f"{kind}.history.npz"
        return cls(
            Keyed(Keyed.load_ids(folder, kind)),
            load_sparse(folder / f"{kind}.profile.npz"),
            load_sparse(folder / f"{kind}.neighbours.npz"),
            load_sparse(history) if history.exists() else None,
            load_sparse(folder / f"{kind}.listeners.npz"),
        )

    def nbytes(self) -> int:
        total = 0
        for m in (self.profile_matrix, self.neighbour_matrix, self.history_matrix, self.listeners):
            if m is not None:
                total += m.data.nbytes + m.indices.nbytes + m.indptr.nbytes
        return int(total)


@register
class CoplayIndex(Index):
    """Co-listening item-item models (EDLAE fold-in, RP3beta neighbours) behind the contract.

    Example:
        >>> index = CoplayIndex.build(catalog)                         # doctest: +SKIP
        >>> v = index.profile({"ar…radiohead": 1.5, "ar…muse": 1.0})     # doctest: +SKIP
        >>> index.search_vector(v, 10, "artists")                       # doctest: +SKIP
    """

    model = MODEL
    shared_space = False  # an artist profile is a vector over artists only

    def __init__(self, parts: dict[Kind, CoplayPart], params: CoplayParams) -> None:
        rows = {kind: len(part.items) for kind, part in parts.items()}
        super().__init__({kind: part.items for kind, part in parts.items()}, asdict(params), rows)
        self.parts = parts
        self.coplay_params = params

    @classmethod
    def build(
        cls,
        catalog: Catalog,
        previous: CoplayIndex | None = None,
        progress: bool = False,
        **params: object,
    ) -> Self:
        """Fit the artist matrices (and the track ones when interactions name tracks).

        A catalog without listening data gives an index that holds nothing (every query answers
        "nothing"), so builds of catalogs without interactions still succeed.

        Args:
            catalog: Its ``interactions`` are used.
            previous: Unused (a fit takes seconds).
            progress: Unused.
            **params: Fields of :class:`CoplayParams`.
        """
        config = CoplayParams(**params)
        frame = catalog.interactions
        parts: dict[Kind, CoplayPart] = {}
        if not frame.empty:
            for kind, column in _COLUMNS.items():
                rows = frame[frame[column].notna()] if kind == "tracks" else frame
                part = CoplayPart.fit(rows, column, config) if len(rows) else None
                if part is not None:
                    parts[kind] = part
        return cls(parts, config)

    def part(self, kind: Kind) -> CoplayPart | None:
        """The fitted matrices of ``kind`` (``None`` when not covered)."""
        return self.parts.get(kind) if self.covers(kind) else None

    # ---- queries ---------------------------------------------------------------------------

    def profile(self, weights: Mapping[str, float], kind: Kind = "artists") -> np.ndarray | None:
        """``x·B``: how the rated items (id → weight) vote for every fitted item."""
        part = self.part(kind)
        return None if part is None else part.fold_in(weights, part.profile_matrix, ties=True)

    def history_profile(
        self, weights: Mapping[str, float], kind: Kind = "artists"
    ) -> np.ndarray | None:
        """``x·B`` with the log-plays model, for a listener's history (id → ``1 + log(plays)``);
        the survey model when no history model was fitted."""
        part = self.part(kind)
        if part is None:
            return None
        matrix = part.profile_matrix if part.history_matrix is None else part.history_matrix
        return part.fold_in(weights, matrix, ties=True)

    def neighbour_profile(
        self, weights: Mapping[str, float], kind: Kind = "artists"
    ) -> np.ndarray | None:
        """``x·W``: the RP3beta random walk from the rated items."""
        part = self.part(kind)
        return None if part is None else part.fold_in(weights, part.neighbour_matrix)

    def score(
        self, vector: np.ndarray, candidates: Sequence[str], kind: Kind = "tracks"
    ) -> np.ndarray:
        """The entries of an item-space ``vector`` for each candidate (NaN where not held)."""
        part = self.part(kind)
        out = np.full(len(candidates), np.nan, dtype=np.float32)
        if part is None:
            return out
        rows = part.items.lookup(candidates)
        out[rows >= 0] = np.asarray(vector, dtype=np.float32)[rows[rows >= 0]]
        return out

    def all_scores(self, vector: np.ndarray, kind: Kind = "artists") -> np.ndarray:
        """Every held item's score (an item-space vector is its own scores)."""
        return np.asarray(vector, dtype=np.float32)

    def similarity_rows(self, rows: np.ndarray, kind: Kind = "artists") -> np.ndarray:
        """What :meth:`similar` ranks by for each single item at index ``rows``: its RP3beta row
        with ties broken, over every held item (for tables of every item's neighbours)."""
        part = self.part(kind)
        ids = part.items.ids
        return np.stack(
            [part.fold_in({ids[r]: 1.0}, part.neighbour_matrix, ties=True) for r in rows]
        )

    def search_vector(
        self, vector: np.ndarray, k: int, kind: Kind = "tracks", mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` held items with the largest entries of ``vector`` among ``mask`` rows."""
        part = self.part(kind)
        if part is None:
            return np.array([], dtype=str), np.array([], dtype=np.float32)
        return part.items.best(np.asarray(vector, dtype=np.float32), k, mask)

    def similar(
        self, ids: Sequence[str], k: int, kind: Kind = "tracks", mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` items the seeds' RP3beta rows point to most, excluding the seeds."""
        part = self.part(kind)
        if part is None:
            return np.array([], dtype=str), np.array([], dtype=np.float32)
        held = [i for i in ids if i in part.items]
        if not held:
            return np.array([], dtype=str), np.array([], dtype=np.float32)
        scores = part.fold_in(dict.fromkeys(held, 1.0), part.neighbour_matrix, ties=True)
        allowed = np.ones(len(part.items), dtype=bool) if mask is None else part.items.align(mask)
        allowed = allowed.copy()
        allowed[part.items.rows(held)] = False
        return part.items.best(scores, k, allowed)

    def listeners(self, ids: Sequence[str], kind: Kind = "artists") -> np.ndarray:
        """Distinct listeners of each id among the fitted items (0 where not held)."""
        part = self.part(kind)
        out = np.zeros(len(ids), dtype=np.int64)
        if part is None:
            return out
        rows = part.items.lookup(ids)
        out[rows >= 0] = part.counts[rows[rows >= 0]]
        return out

    def shared_matrix(
        self, a: Sequence[str], b: Sequence[str], kind: Kind = "artists"
    ) -> np.ndarray:
        """Listeners shared by every item of ``a`` and every item of ``b`` (0 where not held)."""
        out = np.zeros((len(a), len(b)), dtype=np.int64)
        part = self.part(kind)
        if part is None:
            return out
        ra, rb = part.items.lookup(list(a)), part.items.lookup(list(b))
        ia, ib = np.flatnonzero(ra >= 0), np.flatnonzero(rb >= 0)
        if len(ia) and len(ib):
            block = part.listeners[ra[ia]] @ part.listeners[rb[ib]].T
            out[np.ix_(ia, ib)] = np.rint(block.toarray()).astype(np.int64)
        return out

    def shared_listeners(self, a: str, b: Sequence[str], kind: Kind = "artists") -> np.ndarray:
        """How many listeners of ``a`` also play each of ``b`` (0 where either is not held)."""
        part = self.part(kind)
        return np.zeros(len(b), dtype=np.int64) if part is None else part.shared_listeners(a, b)

    # ---- artifacts -------------------------------------------------------------------------

    def save(self, folder: Path) -> ComponentInfo:
        """Write every kind's matrices and ``coplay.json`` into ``folder``."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {"params": asdict(self.coplay_params), "rows": dict(self.rows), "files": {}}
        for kind, part in self.parts.items():
            state["files"][kind] = part.save(folder, kind)
            state.setdefault("bytes", {})[kind] = part.nbytes()
        (folder / PARAMS_FILE).write_text(json.dumps(state, indent=2))
        return {"params": dict(state["params"]), "rows": dict(self.rows)}

    @classmethod
    def load(cls, folder: Path) -> Self:
        """Read what :meth:`save` wrote.

        Raises:
            ArtifactError: A file is missing or unreadable.
        """
        folder = Path(folder)
        try:
            state = json.loads((folder / PARAMS_FILE).read_text())
            params = CoplayParams(**state["params"])
            parts = {kind: CoplayPart.load(folder, kind) for kind in state["files"]}
        except (OSError, KeyError, ValueError, TypeError) as exc:
            raise ArtifactError(
                f"co-listening index in {folder} is unreadable ({exc}): {_REBUILD}"
            ) from exc
        return cls(parts, params)
