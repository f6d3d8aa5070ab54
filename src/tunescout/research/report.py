"""The evaluation runs behind `scripts/evaluate.py`: known users (holdout), survey users (new
listeners through the real :class:`~tunescout.serving.engine.Engine`, against EASE^R and item-kNN
fold-in), similar artists against held-out co-listening, familiarity bands, and mood search.

Results are plain dicts saved as JSON under ``<data-dir>/reports/`` for the model-report page.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from tqdm import tqdm

from tunescout.errors import DataMissingError
from tunescout.indexes import itemitem
from tunescout.indexes.als import FactorModel
from tunescout.indexes.base import Index
from tunescout.research import baselines, protocol, recsys, tuning
from tunescout.research.splits import SURVEY_SIZES
from tunescout.serving import recommend
from tunescout.serving.engine import Engine

log = logging.getLogger(__name__)
SEEDS = (0, 1, 2)


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


# ---- survey listeners, similar artists and familiarity (one engine per split and seed) ---------

# Baselines of the survey protocol, each tuned on the survey validation split (seed 0, 10
# ratings; ``tuning.tune_baselines``): EASE^R λ over 100/200/500/1000, item-kNN neighbours over
# 100/1000 × shrink 0/20.
EASE_L2 = 500.0
KNN = {"neighbours": 1000, "shrink": 20.0}
SURVEY_SINGLES = ("coplay", "als", "tags", "audio", "semantic")
SIMILAR_MODELS = ("audio", "als", "semantic", "coplay", "tags", "hybrid")
BANDS = (None, "deep", "hits")


def foldin_lists(
    model: itemitem.ItemItemRecommender, ratings: dict[str, dict[str, int]], k: int = 20
) -> list[list[str]]:
    """Each survey listener's top ``k`` from an item-item model's fold-in of their (binary)
    revealed artists, the revealed artists left out."""
    position = pd.Index(model.item_ids)
    rows, cols = [], []
    for r, rated in enumerate(ratings.values()):
        found = position.get_indexer(list(rated))
        cols += found[found >= 0].tolist()
        rows += [r] * int((found >= 0).sum())
    x = sp.csr_matrix(
        (np.ones(len(rows), np.float32), (rows, cols)), shape=(len(ratings), len(position))
    )
    top, scores = model._rank(x, k, exclude_seen=True)
    return [
        [model.item_ids[c] for c, v in zip(t, sc, strict=True) if np.isfinite(v)]
        for t, sc in zip(top, scores, strict=True)
    ]


def _product_survey(eng: Engine, ratings: dict[str, dict[str, int]], **options) -> list[list[str]]:
    out = []
    for user in ratings:
        found, _ = recommend.artists(eng.context, ratings[user], 20, **options)
        out.append(found["artist_id"].tolist())
    return out


def run_recommendations(
    engine: Engine,
    data_dir: Path | None,
    seeds: Sequence[int] = SEEDS,
    splits_: Sequence[str] = ("val", "test"),
    max_users: int | None = None,
) -> dict:
    """The survey protocol, the similar-artist check and the familiarity bands, per split and
    seed on one engine fitted on that split's training listeners.

    * survey: 5/10/20 revealed artists with stars from the listener's own plays (see
      :func:`tunescout.research.splits.survey_split`); nDCG@10, Recall@20, HR@10 of
      ``Engine.recommend`` (through :func:`tunescout.serving.recommend.artists`, default
      options), EASE^R and item-kNN fold-in, popularity, and each model alone (its z-scores);
    * similar: for artists with ≥ 20 training and ≥ 5 held-out listeners, does each model's top 10
      (``Engine.similar_artists``) hit the 20 artists the held-out listeners play most with it;
    * familiarity: the reach percentiles of ``recommend`` lists per band (10 ratings).

    Returns:
        ``{"survey": {split: {"<method> n=<n>": summary}}, "similar": {split: {model: summary}},
        "familiarity": {split: {band: summary}}, "tags": how tags were kept from leaking}``.
    """
    plays = recsys.plays_of(engine.catalog)
    runs: dict = {"survey": {}, "similar": {}, "familiarity": {}}
    tag_source = ""
    for split_name in splits_:
        for seed in seeds:
            split = recsys.survey_split(plays, seed, split_name)
            eng = recsys.split_engine(engine, split, data_dir)
            tag_source = split.tag_source
            ease = itemitem.EASE(l2=EASE_L2, min_users=2).fit(split.train)
            knn = itemitem.ItemKNN(min_users=2, **KNN).fit(split.train)
            for n in SURVEY_SIZES:
                ratings = split.ratings(n)
                if max_users:
                    ratings = dict(list(ratings.items())[:max_users])
                users = list(ratings)
                truth = split.truth[n]
                lists: dict[str, list[list[str]]] = {}
                scores = recsys.survey_scores(eng, ratings, SURVEY_SINGLES)
                for name in SURVEY_SINGLES:
                    top = recsys.top_rows(scores.fused({name: 1.0}, None), 20, scores.exclude)
                    lists[name] = [[scores.artists[c] for c in row if c >= 0] for row in top]
                pop = recsys.popularity_scores(eng, users, split.train)
                top = recsys.top_rows(pop, 20, scores.exclude)
                lists["popularity"] = [[scores.artists[c] for c in row if c >= 0] for row in top]
                lists["EASE fold-in"] = foldin_lists(ease, ratings)
                lists["item-kNN fold-in"] = foldin_lists(knn, ratings)
                lists["hybrid (Engine.recommend)"] = _product_survey(eng, ratings)
                for name, found in lists.items():
                    metric = recsys.metrics_of(found, users, truth)
                    runs["survey"].setdefault(split_name, {}).setdefault(
                        f"{name} n={n}", []
                    ).append(metric)
                log.info("survey %s seed %d n=%d: hybrid %.4f, EASE %.4f", split_name, seed, n,
                         runs["survey"][split_name][f"hybrid (Engine.recommend) n={n}"][-1]["ndcg@10"],
                         runs["survey"][split_name][f"EASE fold-in n={n}"][-1]["ndcg@10"])  # fmt: skip
            _similar(eng, split, seed, runs["similar"].setdefault(split_name, {}))
            if split_name == "test":
                _familiarity(eng, split, runs["familiarity"].setdefault(split_name, {}), max_users)
    out = {
        part: {
            split_name: {name: recsys.summarise(r) for name, r in by_name.items()}
            for split_name, by_name in by_split.items()
        }
        for part, by_split in runs.items()
    }
    out["tags"] = tag_source
    return out


def _similar(eng: Engine, split, seed: int, into: dict) -> None:
    chosen, truth = tuning.similar_truth(split, seed=seed)
    frame = pd.DataFrame(
        [(a, t) for a in chosen for t in truth[a]], columns=["user_id", "artist_id"]
    )
    for model in SIMILAR_MODELS:
        lists = []
        for artist in chosen:
            try:
                lists.append(eng.similar_artists(artist, 10, model)["artist_id"].tolist())
            except DataMissingError:
                lists.append([])
        metric = recsys.metrics_of(lists, chosen, frame)
        metric = {"ndcg@10": metric["ndcg@10"], "hr@10": metric["hr@10"],
                  "recall@10": metric["recall@20"], "held": float(np.mean([bool(x) for x in lists]))}  # fmt: skip
        into.setdefault(model, []).append(metric)


def _familiarity(eng: Engine, split, into: dict, max_users: int | None) -> None:
    ratings = split.ratings(10)
    ratings = dict(list(ratings.items())[: max_users or 200])
    for band in BANDS:
        lists, pct = [], []
        for rated in ratings.values():
            found, _ = recommend.artists(eng.context, rated, 10, familiarity=band)
            lists.append(found["artist_id"].tolist())
            pct += found["familiarity"].tolist()
        metric = recsys.metrics_of(lists, list(ratings), split.truth[10])
        bounds = recommend.FAMILIARITY.get(band) if band else None
        inside = [bounds[0] <= p <= bounds[1] for p in pct] if bounds else [True] * len(pct)
        into.setdefault(band or "any", []).append(
            {"ndcg@10": metric["ndcg@10"], "median_percentile": float(np.median(pct)),
             "p10_percentile": float(np.percentile(pct, 10)),
             "p90_percentile": float(np.percentile(pct, 90)),
             "in_band": float(np.mean(inside)), "per_list": float(len(pct) / len(ratings))}
        )  # fmt: skip


def run_listeners(
    engine: Engine,
    data_dir: Path | None,
    seeds: Sequence[int] = SEEDS,
    splits_: Sequence[str] = ("val", "test"),
) -> dict:
    """Known listeners (per-user random 80/20, full ranking, training artists left out):
    ``Engine.recommend_for_user`` on an engine fitted on the training part, and ALS alone."""
    plays = recsys.plays_of(engine.catalog)
    runs: dict = {}
    for split_name in splits_:
        for seed in seeds:
            split = recsys.known_split(plays, seed, split_name)
            eng = recsys.split_engine(engine, split, data_dir)
            users = [u for u in split.users if u in set(split.train["user_id"])]
            truth = split.truth[0]
            hybrid = [eng.recommend_for_user(u, 20)["artist_id"].tolist() for u in users]
            als = [list(eng.als.recommend_user(u, 20)[0]) for u in users]
            for name, lists in (("hybrid (recommend_for_user)", hybrid), ("als", als)):
                runs.setdefault(split_name, {}).setdefault(name, []).append(
                    recsys.metrics_of(lists, users, truth)
                )
            log.info("listeners %s seed %d: hybrid %.4f als %.4f", split_name, seed,
                     runs[split_name]["hybrid (recommend_for_user)"][-1]["ndcg@10"],
                     runs[split_name]["als"][-1]["ndcg@10"])  # fmt: skip
    return {
        split_name: {name: recsys.summarise(r) for name, r in by_name.items()}
        for split_name, by_name in runs.items()
    }


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
