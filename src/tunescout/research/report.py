"""The evaluation runs behind `scripts/evaluate.py`: known users (holdout), survey users (cold
start through the real :class:`~tunescout.serving.engine.Engine`), and mood search.

Results are plain dicts saved as JSON under ``<data-dir>/reports/`` for the model-report page.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np
import pandas as pd
from tqdm import tqdm

from tunescout.indexes import itemitem
from tunescout.indexes.als import FactorModel
from tunescout.indexes.base import Index
from tunescout.indexes.collaborative import CollaborativeIndex
from tunescout.research import baselines, protocol, splits
from tunescout.research import metrics as ev
from tunescout.serving.engine import Engine

log = logging.getLogger(__name__)
SEEDS = (0, 1, 2)
SURVEY_SIZES = (5, 10, 20)


class ProfileRecommender:
    """Any index behind the baselines' ``fit / recommend`` interface: a user's profile is the
    index's own profile of their play-weighted artists (``log1p`` of plays), ranked by
    ``search_vector``. Used for the audio model, which has no interaction data of its own."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self.train: pd.DataFrame | None = None

    def fit(self, train: pd.DataFrame) -> ProfileRecommender:
        self.train = train[train["artist_id"].isin(self.index.ids("artists"))]
        return self

    def recommend(self, user_ids: Sequence[str], k: int = 10) -> pd.DataFrame:
        rows = []
        by_user = self.train.groupby("user_id")
        ids_of = self.index.ids("artists")
        for user in user_ids:
            if user not in by_user.groups:
                continue
            mine = by_user.get_group(user)
            weights = dict(zip(mine["artist_id"], np.log1p(mine["weight"].to_numpy()), strict=True))
            query = self.index.profile(weights, "artists")
            mask = ~pd.Series(ids_of).isin(mine["artist_id"]).to_numpy()
            ids, scores = self.index.search_vector(query, k, "artists", mask)
            rows.append(pd.DataFrame({"user_id": user, "artist_id": ids, "score": scores}))
        return pd.concat(rows, ignore_index=True)


def known_user_models(engine: Engine) -> dict[str, Callable[[], object]]:
    """The models compared for users with listening history (tuned hyper-parameters, see docs)."""
    return {
        "random": lambda: baselines.RandomRecommender(seed=0),
        "popularity": baselines.PopularityRecommender,
        "audio": lambda: ProfileRecommender(engine.audio),
        "item_knn": lambda: itemitem.ItemKNN(neighbours=100),
        "rp3beta": lambda: itemitem.RP3beta(alpha=0.8, beta=0.4, neighbours=200),
        "ease": lambda: itemitem.EASE(l2=100.0),
        "blended_ease": lambda: itemitem.BlendedEASE(neighbours=None),
        "als (tunescout)": FactorModel,
    }


def run_known_users(
    engine: Engine, models: Sequence[str] | None = None, seeds: Sequence[int] = SEEDS
) -> dict:
    """Per-user random 80/20 holdout, full ranking, training items filtered, mean ± std over seeds."""
    plays = engine.catalog.interactions[["user_id", "artist_id", "weight"]]
    factories = known_user_models(engine)
    chosen = list(models or factories)
    out = {}
    for name in tqdm(chosen, desc="known users"):
        result = protocol.evaluate_seeds(factories[name], plays, seeds=seeds, k_values=(10, 20))
        out[name] = result["summary"]
        log.info("%s: ndcg@10 %.4f", name, result["summary"]["ndcg@10"]["mean"])
    return out


def _survey_engine(engine: Engine, train: pd.DataFrame) -> Engine:
    """The same engine with ALS retrained on ``train`` only, so held-out plays stay unseen."""
    cat = engine.catalog
    plays = cat.interactions.merge(train[["user_id", "artist_id"]], on=["user_id", "artist_id"])
    als = CollaborativeIndex.build(replace(cat, interactions=plays))
    return Engine(cat, {**engine.indexes, "als": als}, engine.build, engine.catalog_info)


def run_cold_start(
    engine: Engine,
    sizes: Sequence[int] = SURVEY_SIZES,
    seeds: Sequence[int] = SEEDS,
    max_users: int = 200,
    k: int = 10,
) -> dict:
    """Survey users: held-out users keep ``n`` of their artists as 5-star ratings; the rest is truth.

    Compares ``Engine.recommend`` (the product's survey path, ALS retrained without the test
    users) with popularity, by nDCG/recall/hit rate at ``k``.
    """
    plays = engine.catalog.interactions[["user_id", "artist_id", "weight"]]
    results: dict[str, list[dict]] = {}
    for seed in seeds:
        for n in sizes:
            train, survey, truth = splits.cold_start_split(plays, n_survey=n, seed=seed)
            users = (
                truth["user_id"]
                .drop_duplicates()
                .sample(min(max_users, truth["user_id"].nunique()), random_state=seed)
            )
            truth = truth[truth["user_id"].isin(users)]
            hybrid = _survey_engine(engine, train)
            popular = baselines.PopularityRecommender().fit(train)
            recs, pops = [], []
            for user in tqdm(users, desc=f"survey n={n} seed={seed}", leave=False):
                rated = survey.loc[survey["user_id"] == user, "artist_id"].tolist()
                found = hybrid.recommend({a: 5 for a in rated}, k=k)
                recs.append(found.assign(user_id=user)[["user_id", "artist_id", "score"]])
                pop = popular.recommend_items(rated, k=k, exclude_seen=True)
                pops.append(pop.assign(user_id=user))
            for name, frames in (("hybrid (engine.recommend)", recs), ("popularity", pops)):
                pred = pd.concat(frames, ignore_index=True)
                results.setdefault(f"{name} n={n}", []).append(
                    {
                        f"ndcg@{k}": ev.ndcg_at_k(truth, pred, k),
                        f"recall@{k}": ev.recall_at_k(truth, pred, k),
                        f"hit_rate@{k}": ev.hit_rate_at_k(truth, pred, k),
                    }
                )
    return {name: protocol.aggregate(runs) for name, runs in results.items()}


def run_mood(engine: Engine, k: int = 20) -> dict:
    """Mood-search quality (see :mod:`tunescout.research.mood_eval`) of ``search_mood`` against plain MiniLM.

    Returns:
        ``summary`` (features mean/min, genre mean/min), ``splits`` (dev and the three held-out sets),
        ``latency_ms``, ``baseline_summary`` and one row per query with both scores.
    """
    from tunescout.research.mood_eval import SPLITS, evaluate_mood

    tracks = engine.catalog.tracks
    product = evaluate_mood(lambda q: engine.search_mood(q, k)["track_id"], tracks, k=k)
    plain = evaluate_mood(lambda q: engine.semantic.search_text(q, k)[0], tracks, k=k)
    queries = product["per_query"].rename(columns={"text": "query"})
    queries["baseline"] = plain["per_query"]["score"].to_numpy()
    return {
        "summary": product["all"],
        "splits": {split: product[split] for split in SPLITS if split in product},
        "latency_ms": product["latency_ms"],
        "baseline_summary": plain["all"],
        "queries": queries.to_dict("records"),
    }


def envelope(kind: str, engine: Engine, body: dict, protocol: dict) -> dict:
    """Wrap results with what produced them, for the JSON the report page reads."""
    return {
        "kind": kind,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "dataset": engine.status(),
        "protocol": protocol,
        **body,
    }
