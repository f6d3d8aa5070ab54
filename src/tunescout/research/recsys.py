"""The machinery of the recommendation evaluations and their tuning: protocol splits of the
catalog's listening, catalogs and engines fitted on a split's training part only, each model's
per-listener z-scores over every artist (through the product's own profile and scale functions),
and fast top-k metrics with :mod:`tunescout.research.metrics`' definitions.

Leakage: an engine for a split is built from a catalog whose interactions are the training rows
and whose artist tags are rebuilt from the tag assignments of training listeners only (HetRec's
``user_taggedartists.dat``, found through the raw snapshot the catalog was built from), so a test
listener's tags never describe the artists they know. Without that file the catalog's tags are
used and :attr:`Split.tag_source` says so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from tunescout.catalog import Catalog
from tunescout.indexes.base import Index, registry
from tunescout.research import splits
from tunescout.serving import ranking, recommend, signals
from tunescout.serving.engine import Engine

log = logging.getLogger(__name__)
SEEDS = (0, 1, 2)
TRAINED = ("als", "coplay", "tags")  # the models refitted on a split's training part
TOP_TAGS = 20  # tags kept per artist, as the files source keeps them


# ---- splits ----------------------------------------------------------------------------------


@dataclass
class Split:
    """One protocol split: the training rows, each listener's input and truth.

    Attributes:
        kind: ``"survey"`` or ``"known"``.
        split: ``"test"`` or ``"val"``.
        seed: The split seed.
        train: Training rows (``user_id, artist_id, weight``).
        reveals: Survey size → revealed rows with ``stars`` (survey splits only).
        truth: Survey size (0 for known splits) → held-out rows.
        held_pairs: Known splits: the held-out (user, artist) pairs, whose tags are left out.
    """

    kind: str
    split: str
    seed: int
    train: pd.DataFrame
    reveals: dict[int, pd.DataFrame] = field(default_factory=dict)
    truth: dict[int, pd.DataFrame] = field(default_factory=dict)
    held_pairs: pd.DataFrame | None = None
    tag_source: str = ""

    @property
    def users(self) -> np.ndarray:
        first = next(iter(self.truth.values()))
        return np.sort(first["user_id"].astype(str).unique())

    def ratings(self, n: int) -> dict[str, dict[str, int]]:
        """Listener → {artist: stars} of the ``n`` revealed artists."""
        frame = self.reveals[n]
        return {
            str(u): dict(zip(g["artist_id"].astype(str), g["stars"].astype(int), strict=True))
            for u, g in frame.groupby("user_id", observed=True)
        }


def plays_of(cat: Catalog) -> pd.DataFrame:
    """The catalog's listening as plain ``user_id, artist_id, weight`` string/float columns."""
    frame = cat.interactions[["user_id", "artist_id", "weight"]]
    frame = frame.groupby(["user_id", "artist_id"], observed=True, as_index=False)["weight"].sum()
    return frame.astype({"user_id": str, "artist_id": str, "weight": float})


def survey_split(plays: pd.DataFrame, seed: int, split: str = "test") -> Split:
    """The survey protocol (see :func:`tunescout.research.splits.survey_split`) at 5, 10 and 20
    ratings; ``split="val"`` carves the validation listeners from the training listeners."""
    make = splits.survey_split if split == "test" else splits.survey_validation
    out = Split("survey", split, seed, pd.DataFrame())
    for n in splits.SURVEY_SIZES:
        train, reveal, truth = make(plays, n, seed)
        out.train, out.reveals[n], out.truth[n] = train, reveal, truth
    return out


def known_split(plays: pd.DataFrame, seed: int, split: str = "test") -> Split:
    """Known listeners: per-user random 80/20 (``random_split``); ``split="val"`` is the
    validation split carved from its training part (``validation_split``)."""
    train, test = splits.random_split(plays, 0.2, seed)
    if split != "test":
        train, test = splits.validation_split(train, 0.2, seed)
    pairs = test[["user_id", "artist_id"]]
    return Split("known", split, seed, train, {}, {0: test}, pairs)


# ---- engines fitted on a split -----------------------------------------------------------------


def hetrec_dir(data_dir: Path) -> Path | None:
    """The HetRec folder the catalog's hetrec snapshot was read from (``None`` when unknown)."""
    try:
        info = json.loads((Path(data_dir) / "catalog" / "manifest.json").read_text())
        snapshot = Path(info["sources"]["hetrec"])
        path = Path(json.loads((snapshot / "manifest.json").read_text())["params"]["path"])
    except (OSError, KeyError, ValueError, TypeError):
        return None
    return path if (path / "user_taggedartists.dat").is_file() else None


def training_tags(
    cat: Catalog, folder: Path, users: Iterable[str], held: pd.DataFrame | None = None
) -> pd.Series:
    """Artist id → top tags as the catalog stores them, from the tag assignments of ``users``
    only (minus the held-out ``(user_id, artist_id)`` pairs of a known split)."""
    tags = pd.read_csv(folder / "tags.dat", sep="\t", encoding="latin-1", dtype=str)
    tagged = pd.read_csv(folder / "user_taggedartists.dat", sep="\t", dtype=str)
    tagged["user_id"] = "hetrec:" + tagged["userID"]
    tagged = tagged[tagged["user_id"].isin(set(users))]
    hetrec = cat.artist_map[cat.artist_map["source"] == "hetrec"]
    tagged = tagged.merge(
        hetrec[["source_id", "artist_id"]], left_on="artistID", right_on="source_id"
    )
    if held is not None and len(held):
        drop = held.assign(_held=True)[["user_id", "artist_id", "_held"]]
        tagged = tagged.merge(drop, on=["user_id", "artist_id"], how="left")
        tagged = tagged[tagged["_held"].isna()]
    counts = (
        tagged.merge(tags, on="tagID")
        .groupby(["artist_id", "tagValue"])
        .size()
        .rename("weight")
        .reset_index()
        .sort_values(["artist_id", "weight"], ascending=[True, False], kind="stable")
    )
    counts = counts.groupby("artist_id").head(TOP_TAGS)
    records = [
        {"tag": t, "weight": float(w)}
        for t, w in zip(counts["tagValue"], counts["weight"], strict=True)
    ]
    return counts.assign(record=records).groupby("artist_id", sort=False)["record"].agg(list)


def training_catalog(cat: Catalog, split: Split, data_dir: Path | None) -> Catalog:
    """``cat`` with only the split's training listening and training listeners' tags."""
    train = split.train
    keys = pd.MultiIndex.from_frame(train[["user_id", "artist_id"]].astype(str))
    rows = pd.MultiIndex.from_arrays(
        [cat.interactions["user_id"].astype(str), cat.interactions["artist_id"].astype(str)]
    )
    interactions = cat.interactions[rows.isin(keys)].reset_index(drop=True)
    artists = cat.artists
    folder = hetrec_dir(data_dir) if data_dir is not None else None
    if folder is not None:
        users = train["user_id"].astype(str).unique()
        tags = training_tags(cat, folder, users, split.held_pairs)
        artists = artists.assign(tags=artists["artist_id"].map(tags))
        artists["tags"] = [t if isinstance(t, list) else [] for t in artists["tags"]]
        split.tag_source = "training listeners' HetRec tags"
    else:
        split.tag_source = "catalog tags (held-out listeners' tags included)"
    return replace(cat, artists=artists, interactions=interactions)


def split_engine(
    engine: Engine,
    split: Split,
    data_dir: Path | None,
    options: Mapping[str, Mapping] | None = None,
) -> Engine:
    """The engine with ALS, co-listening and tags refitted on the split's training part (audio and
    MiniLM describe content, not listening, and are kept)."""
    cat = training_catalog(engine.catalog, split, data_dir)
    classes = registry()
    indexes: dict[str, Index] = dict(engine.indexes)
    for name in TRAINED:
        if name in classes:
            indexes[name] = classes[name].build(cat, **(options or {}).get(name, {}))
    return Engine(cat, indexes, engine.build, engine.catalog_info)


# ---- per-listener scores ------------------------------------------------------------------------


@dataclass
class Scores:
    """Each model's z-scores of every artist for a list of listeners (NaN where not held), each
    listener's per-model floor, and the tag-similarity gap of the dislike penalty."""

    users: list[str]
    artists: np.ndarray
    z: dict[str, np.ndarray]
    floors: dict[str, np.ndarray]
    gap: np.ndarray | None = None  # tag cosine to nearest disliked minus nearest liked (−inf: none)
    exclude: list[np.ndarray] = field(default_factory=list)
    cols: np.ndarray | None = None  # compact form: each row's candidate artists (-1: none)

    def fused(
        self,
        weights: Mapping[str, float],
        unknown: float | None = ranking.UNKNOWN_Z,
        margin: float = ranking.DISLIKE_MARGIN,
        strength: float = 0.0,
    ) -> np.ndarray:
        """The product's fusion (:func:`ranking.standard_fusion`) of these scores, with the
        dislike penalty of ``strength`` (weights are normalised to sum to 1 as the product does)."""
        total = sum(w for w in weights.values() if w)
        width = len(self.artists) if self.cols is None else self.cols.shape[1]
        out = np.zeros((len(self.users), width))
        for name, w in weights.items():
            if not w or name not in self.z:
                continue
            z = self.z[name]
            fill = self.floors[name][:, None] if unknown is None else unknown
            out += (w / total) * np.where(np.isnan(z), fill, z)
        if strength and self.gap is not None:
            out -= ranking.dislike_penalty(self.gap, 0.0, margin, strength)
        if self.cols is not None:
            out[self.cols < 0] = -np.inf
        return out

    def compact(self, pool: int = 300) -> Scores:
        """The same scores over each row's candidates only: the union of every model's ``pool``
        best artists (excluded ones left out), as the product's pipeline proposes them."""
        n = len(self.users)
        excluded = np.zeros((n, len(self.artists)), dtype=bool)
        for row, cols in enumerate(self.exclude):
            excluded[row, cols[cols >= 0]] = True
        picks = []
        for z in self.z.values():
            ranked = np.where(np.isnan(z) | excluded, -np.inf, z)
            part = np.argpartition(-ranked, pool - 1, axis=1)[:, :pool]
            part[np.take_along_axis(ranked, part, axis=1) == -np.inf] = -1
            picks.append(part)
        merged = np.concatenate(picks, axis=1)
        width = max(len(np.unique(r[r >= 0])) for r in merged)
        cols = np.full((n, width), -1, dtype=np.int64)
        for row in range(n):
            found = np.unique(merged[row][merged[row] >= 0])
            cols[row, : len(found)] = found
        take = np.where(cols >= 0, cols, 0)
        z = {
            m: np.where(cols >= 0, np.take_along_axis(v, take, axis=1), np.nan)
            for m, v in self.z.items()
        }
        gap = None if self.gap is None else np.take_along_axis(self.gap, take, axis=1)
        return Scores(self.users, self.artists, z, self.floors, gap, [], cols)


def survey_scores(
    eng: Engine, ratings: Mapping[str, Mapping[str, int]], models: Sequence[str]
) -> Scores:
    """Each model's z-scores of every artist for survey listeners, from the product's profiles."""
    ctx = eng.context
    artists = ctx.lookup.artists["artist_id"].to_numpy(dtype=str)
    users = list(ratings)
    z = {m: np.full((len(users), len(artists)), np.nan, dtype=np.float32) for m in models}
    floors = {m: np.full(len(users), -1.0) for m in models}
    gap = np.full((len(users), len(artists)), -np.inf, dtype=np.float32)
    tags = ctx.indexes.get("tags")
    exclude = []
    position = pd.Index(artists)
    rows = {
        m: pd.Index(ctx.indexes[m].ids("artists")).get_indexer(artists)
        for m in models
        if m in ctx.indexes
    }
    for row, user in enumerate(users):
        t = recommend.taste(ctx, ratings[user], None)
        for name in models:
            vector = t.vectors.get(name)
            if vector is None or name not in ctx.indexes:
                continue
            index = ctx.indexes[name]
            full = np.asarray(signals.all_scores(index, vector, "artists"), dtype=np.float64)
            scale = signals.Scale(*ranking.standard(full))
            if len(full) == len(index.ids("artists")):
                held = rows[name] >= 0
                z[name][row, held] = scale.z(full[rows[name][held]])
            else:  # a sampled scale: read the scores themselves
                z[name][row] = scale.z(index.score(vector, artists, "artists"))
            floors[name][row] = scale.floor
        if tags is not None and t.disliked:
            to_d = tags.similarities(artists, t.disliked).max(axis=1)
            to_l = tags.similarities(artists, t.liked).max(axis=1) if t.liked else 0.0
            gap[row] = to_d - to_l
        exclude.append(position.get_indexer(list(ratings[user])))
    return Scores(users, artists, z, floors, gap, exclude)


def popularity_scores(eng: Engine, users: Sequence[str], train: pd.DataFrame) -> np.ndarray:
    """Training listeners per artist, the same for every listener (the popularity baseline)."""
    artists = eng.context.lookup.artists["artist_id"].to_numpy(dtype=str)
    counts = train.groupby("artist_id")["user_id"].nunique().reindex(artists).fillna(0.0)
    return np.broadcast_to(counts.to_numpy(dtype=np.float32), (len(users), len(artists)))


# ---- metrics ------------------------------------------------------------------------------------


def top_rows(scores: np.ndarray, k: int, exclude: Sequence[np.ndarray] = ()) -> np.ndarray:
    """Column positions of each row's ``k`` best finite scores (``exclude``'s columns never)."""
    s = np.array(scores, dtype=np.float64, copy=True)
    s[~np.isfinite(s)] = -np.inf
    for row, cols in enumerate(exclude):
        cols = np.asarray(cols)
        s[row, cols[cols >= 0]] = -np.inf
    part = np.argpartition(-s, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(s, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    top = np.take_along_axis(part, order, axis=1)
    top[np.take_along_axis(vals, order, axis=1) == -np.inf] = -1
    return top


def metrics_of(
    lists: Sequence[Sequence[str]], users: Sequence[str], truth: pd.DataFrame
) -> dict[str, float]:
    """nDCG@10, Recall@20, HR@10 of ranked id lists (binary relevance, log2 discount, ideal DCG
    over min(k, |truth|), recall over |truth|, every truth listener counted): the definitions of
    :mod:`tunescout.research.metrics`, computed per list."""
    sets = truth.groupby("user_id", observed=True)["artist_id"].agg(lambda s: set(s.astype(str)))
    disc = 1.0 / np.log2(np.arange(2, 22))
    ndcg, recall, hit = [], [], []
    for user, items in zip(users, lists, strict=True):
        relevant = sets.get(user)
        if not relevant:
            continue
        hits = np.array([i in relevant for i in list(items)[:20]] + [False] * 20)[:20]
        ideal = disc[: min(10, len(relevant))].sum()
        ndcg.append((hits[:10] * disc[:10]).sum() / ideal)
        recall.append(hits[:20].sum() / len(relevant))
        hit.append(float(hits[:10].any()))
    return {
        "ndcg@10": float(np.mean(ndcg)),
        "recall@20": float(np.mean(recall)),
        "hr@10": float(np.mean(hit)),
    }


def evaluate_scores(scores: np.ndarray, s: Scores, truth: pd.DataFrame) -> dict[str, float]:
    """Metrics of ranking every artist (or a compact form's candidates) by ``scores``, rated
    artists left out."""
    top = top_rows(scores, 20, s.exclude)
    if s.cols is not None:
        top = np.where(top >= 0, np.take_along_axis(s.cols, np.maximum(top, 0), axis=1), -1)
    lists = [[s.artists[c] for c in row if c >= 0] for row in top]
    return metrics_of(lists, s.users, truth)


def summarise(runs: Sequence[Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and population std of each metric over runs (seeds)."""
    frame = pd.DataFrame(list(runs))
    return {
        c: {"mean": float(frame[c].mean()), "std": float(frame[c].std(ddof=0))}
        for c in frame.columns
    }


def fmt(summary: Mapping[str, Mapping[str, float]], metric: str = "ndcg@10") -> str:
    return f"{summary[metric]['mean']:.4f} ± {summary[metric]['std']:.4f}"


def product_lists(call: Callable[[str], Sequence[str]], users: Sequence[str]) -> list[list[str]]:
    """Each listener's list from a product call (``call(user) -> ids``)."""
    return [list(call(u)) for u in users]
