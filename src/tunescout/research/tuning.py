"""How the recommendation defaults were chosen: grids on validation splits carved from training
listeners only (never a test split), reproducible with ``python scripts/evaluate.py --tune``.

* :func:`tune_survey` — the "survey" row of :data:`~tunescout.serving.ranking.WEIGHTS`, what an
  unheld item counts as (:data:`~tunescout.serving.ranking.UNKNOWN_Z`) and the dislike penalty,
  on the survey validation split (stars from play counts, 10 ratings, seeds 0–2);
* :func:`tune_listener` — the "listener" row, on the known-listener validation split;
* :func:`tune_similar` — the "similar" and "similar/cold" rows, on a held-out co-listening check
  whose held-out listeners are validation listeners (the cold row: content models only, for
  seeds nobody listens to).

Each returns every configuration's mean and std over seeds (best first) and the chosen one. The
scores come from the product's own profiles and scales (:mod:`tunescout.research.recsys`), and the
fusion is :meth:`~tunescout.research.recsys.Scores.fused`, the product's formula.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tunescout.research import recsys
from tunescout.serving import ranking, recommend
from tunescout.serving.engine import Engine

log = logging.getLogger(__name__)
SURVEY_MODELS = ("coplay", "als", "tags", "audio", "semantic")
GRID = (0.0, 0.5, 1.0, 1.5)
SMALL = (0.0, 0.1, 0.25)
UNKNOWN = (None, -1.0, -0.5, 0.0)  # None: one below the model's lowest z for the listener
MARGINS = (0.1, 0.2, 0.3)
STRENGTHS = (4 / 3, 8 / 3, 16 / 3, 32 / 3)
DISLIKE_BUDGET = 0.005  # the most a dislike design may cost on validation (nDCG@10)
TIE = 0.001  # configurations within this of the best count as tied: the simpler one is kept


def _table(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    return frame.sort_values("mean", ascending=False, kind="stable").reset_index(drop=True)


def _pick(frame: pd.DataFrame) -> pd.Series:
    """The simplest configuration within :data:`TIE` of the best (fewest models, then best)."""
    best = frame["mean"].max()
    tied = frame[frame["mean"] >= best - TIE]
    return tied.sort_values(["size", "mean"], ascending=[True, False], kind="stable").iloc[0]


def survey_validation_scores(
    engine: Engine, data_dir: Path | None, seeds: Sequence[int] = recsys.SEEDS, n: int = 10
) -> list[tuple[recsys.Split, recsys.Scores]]:
    """Per seed: the validation split and every model's z-scores for its listeners."""
    plays = recsys.plays_of(engine.catalog)
    out = []
    for seed in seeds:
        split = recsys.survey_split(plays, seed, "val")
        eng = recsys.split_engine(engine, split, data_dir)
        scores = recsys.survey_scores(eng, split.ratings(n), SURVEY_MODELS)
        out.append((split, scores.compact()))
        log.info("survey validation seed %d: %d listeners scored", seed, len(split.users))
    return out


def _mean(cases: list[tuple[recsys.Split, recsys.Scores]], n: int, **fusion) -> tuple[float, float]:
    values = [
        recsys.evaluate_scores(s.fused(**fusion), s, split.truth[n])["ndcg@10"]
        for split, s in cases
    ]
    return float(np.mean(values)), float(np.std(values))


def tune_survey(cases: list[tuple[recsys.Split, recsys.Scores]], n: int = 10) -> dict[str, object]:
    """Grid over the survey weights, the unheld-item value and the dislike penalty.

    1. co-listening, ALS and tags weights over :data:`GRID` (unheld items at the floor);
    2. small audio, MiniLM and popularity weights on the best of 1;
    3. the unheld-item value over :data:`UNKNOWN`;
    4. the dislike penalty: the strongest (then narrowest-margin) setting costing at most
       :data:`DISLIKE_BUDGET` against no penalty.
    """
    rows = []
    for c, a, t in itertools.product(GRID, GRID, GRID):
        weights = {"coplay": c, "als": a, "tags": t}
        if not any(weights.values()) or max(weights.values()) != 1.0:
            continue  # one weight is 1: the others are relative to it
        mean, std = _mean(cases, n, weights=weights, unknown=None)
        rows.append(
            {"weights": weights, "mean": mean, "std": std, "size": sum(map(bool, (c, a, t)))}
        )
    stage1 = _table(rows)
    best = dict(_pick(stage1)["weights"])
    rows = []
    for au, se, po in itertools.product(SMALL, SMALL, SMALL):
        weights = best | {"audio": au, "semantic": se, "popularity": po}
        mean, std = _mean(cases, n, weights=weights, unknown=None)
        size = sum(1 for w in weights.values() if w)
        rows.append({"weights": weights, "mean": mean, "std": std, "size": size})
    stage2 = _table(rows)
    weights = dict(_pick(stage2)["weights"])
    rows = []
    for unknown in UNKNOWN:
        mean, std = _mean(cases, n, weights=weights, unknown=unknown)
        rows.append({"unknown": unknown, "mean": mean, "std": std, "size": 0})
    stage3 = _table(rows)
    best_unknown = stage3.iloc[0]
    # prefer a finite value (an unheld artist stays reachable through tags) when it ties
    finite = stage3[stage3["unknown"].notna() & (stage3["mean"] >= best_unknown["mean"] - TIE)]
    unknown = float(finite.iloc[0]["unknown"]) if len(finite) else None
    base, _ = _mean(cases, n, weights=weights, unknown=unknown)
    rows = []
    for margin, strength in itertools.product(MARGINS, STRENGTHS):
        mean, std = _mean(
            cases, n, weights=weights, unknown=unknown, margin=margin, strength=strength
        )
        rows.append({"margin": margin, "strength": strength, "mean": mean, "std": std,
                     "cost": base - mean})  # fmt: skip
    stage4 = pd.DataFrame(rows)
    allowed = stage4[stage4["cost"] <= DISLIKE_BUDGET]
    chosen_dislike = (
        allowed.sort_values(["strength", "margin"], ascending=[False, True]).iloc[0]
        if len(allowed)
        else None
    )
    return {
        "weights": weights,
        "unknown": unknown,
        "dislike": None if chosen_dislike is None else chosen_dislike.to_dict(),
        "no_penalty": base,
        "stages": {
            "weights": stage1.head(10).to_dict("records"),
            "small": stage2.head(10).to_dict("records"),
            "unknown": stage3.to_dict("records"),
            "dislike": stage4.to_dict("records"),
        },
    }


# ---- known listeners ----------------------------------------------------------------------------

LISTENER_MODELS = ("als", "coplay", "walk", "tags")


def listener_scores(eng: Engine, users: Sequence[str]) -> recsys.Scores:
    """Each listener model's z-scores of every artist (the product's vectors and scales)."""
    from tunescout.serving import signals

    ctx = eng.context
    artists = ctx.lookup.artists["artist_id"].to_numpy(dtype=str)
    z = {m: np.full((len(users), len(artists)), np.nan, dtype=np.float32) for m in LISTENER_MODELS}
    floors = {m: np.full(len(users), -1.0) for m in LISTENER_MODELS}
    rows = {}
    position = pd.Index(artists)
    plays = ctx.catalog.interactions
    by_user = {str(u): g for u, g in plays.groupby("user_id", observed=True)}
    exclude = []
    for row, user in enumerate(users):
        mine = by_user[user].groupby("artist_id", observed=True)["weight"].sum()
        mine = mine.sort_values(ascending=False, kind="stable")
        for name, (index, vector) in recommend.listener_vectors(ctx, user, mine).items():
            if id(index) not in rows:
                rows[id(index)] = pd.Index(index.ids("artists")).get_indexer(artists)
            full = np.asarray(signals.all_scores(index, vector, "artists"), dtype=np.float64)
            scale = signals.Scale(*ranking.standard(full))
            held = rows[id(index)] >= 0
            z[name][row, held] = scale.z(full[rows[id(index)][held]])
            floors[name][row] = scale.floor
        exclude.append(position.get_indexer(mine.index.astype(str)))
    return recsys.Scores(list(users), artists, z, floors, None, exclude).compact()


def tune_listener(
    engine: Engine, data_dir: Path | None, seeds: Sequence[int] = recsys.SEEDS
) -> dict[str, object]:
    """Grid over the "listener" weights (ALS fixed at 1) on the known-listener validation split."""
    plays = recsys.plays_of(engine.catalog)
    grid = list(
        itertools.product((0.0, 0.25, 0.5, 1.0), (0.0, 0.25, 0.5), (0.0, 0.25, 0.5, 1.0, 1.5, 2.0))
    )
    results: dict[tuple, list[float]] = {}
    for seed in seeds:
        split = recsys.known_split(plays, seed, "val")
        eng = recsys.split_engine(engine, split, data_dir)
        users = [u for u in split.users if u in set(split.train["user_id"])]
        s = listener_scores(eng, users)
        for unknown in (None, -1.0):
            for c, w, t in grid:
                weights = {"als": 1.0, "coplay": c, "walk": w, "tags": t}
                m = recsys.evaluate_scores(s.fused(weights, unknown), s, split.truth[0])
                results.setdefault((c, w, t, unknown), []).append(m["ndcg@10"])
        log.info("listener validation seed %d done", seed)
    rows = [
        {"weights": {"als": 1.0, "coplay": c, "walk": w, "tags": t}, "unknown": u,
         "mean": float(np.mean(v)), "std": float(np.std(v)), "size": 1 + sum(map(bool, (c, w, t)))}
        for (c, w, t, u), v in results.items()
    ]  # fmt: skip
    frame = _table(rows)
    chosen = _pick(frame)
    return {"weights": chosen["weights"], "unknown": chosen["unknown"],
            "mean": chosen["mean"], "table": frame.head(15).to_dict("records")}  # fmt: skip


# ---- similar artists ----------------------------------------------------------------------------

SIMILAR_MODELS = ("coplay", "als", "tags", "audio", "semantic")


def similar_truth(
    split: recsys.Split, n_artists: int = 300, seed: int = 0, n: int = 10
) -> tuple[list[str], dict[str, list[str]]]:
    """The held-out co-listening check: a sample of artists with ≥ 20 training listeners and ≥ 5
    held-out listeners; each one's truth is the 20 artists its held-out listeners play most often
    besides it (ties by id)."""
    held = pd.concat([split.reveals[n][["user_id", "artist_id"]], split.truth[n]])
    held = held.astype(str).drop_duplicates()
    train_count = split.train.groupby("artist_id")["user_id"].nunique()
    held_count = held.groupby("artist_id")["user_id"].nunique()
    both = train_count.index.intersection(held_count.index)
    eligible = sorted(a for a in both if train_count[a] >= 20 and held_count[a] >= 5)
    rng = np.random.default_rng(seed)
    chosen = sorted(rng.choice(eligible, size=min(n_artists, len(eligible)), replace=False))
    by_user = held.groupby("user_id")["artist_id"].agg(list)
    truth = {}
    for artist in chosen:
        fans = held.loc[held["artist_id"] == artist, "user_id"]
        counts = pd.Series(
            [a for u in fans for a in by_user[u] if a != artist], dtype=object
        ).value_counts()
        counts = counts.rename_axis("a").reset_index(name="c")
        counts = counts.sort_values(["c", "a"], ascending=[False, True], kind="stable")
        truth[artist] = counts["a"].head(20).tolist()
    return chosen, truth


def similar_scores(eng: Engine, seeds_: Sequence[str]) -> recsys.Scores:
    """Each model's z-scored similarity of every artist to each seed artist (NaN: not held)."""
    from tunescout.serving import neighbours

    ctx = eng.context
    artists = ctx.lookup.artists["artist_id"].to_numpy(dtype=str)
    position = pd.Index(artists)
    z = {m: np.full((len(seeds_), len(artists)), np.nan, dtype=np.float32) for m in SIMILAR_MODELS}
    floors = {m: np.full(len(seeds_), -1.0) for m in SIMILAR_MODELS}
    for row, artist in enumerate(seeds_):
        for name in SIMILAR_MODELS:
            scores = neighbours.similarity_row(ctx, name, artist)
            if scores is None:
                continue
            mean, std, floor = ranking.standard(scores.to_numpy())
            cols = position.get_indexer(scores.index)
            z[name][row, cols[cols >= 0]] = ((scores.to_numpy() - mean) / std)[cols >= 0]
            floors[name][row] = floor
    exclude = [position.get_indexer([a]) for a in seeds_]
    return recsys.Scores(list(seeds_), artists, z, floors, None, exclude)


def tune_similar(
    engine: Engine, data_dir: Path | None, seeds: Sequence[int] = recsys.SEEDS
) -> dict[str, object]:
    """Grid over the "similar" weights on the validation co-listening check."""
    plays = recsys.plays_of(engine.catalog)
    grid = list(
        itertools.product((1.0,), (0.0, 0.25, 0.5), (0.0, 0.1, 0.25), (0.0, 0.1), (0.0, 0.1))
    )
    # the row for seeds without co-listening data: content models only
    cold = list(
        itertools.product((0.0,), (0.0,), (1.0,), (0.0, 0.1, 0.25, 0.5), (0.0, 0.25, 0.5, 1.0))
    )
    results: dict[tuple, list[float]] = {}
    singles: dict[str, list[float]] = {}
    for seed in seeds:
        split = recsys.survey_split(plays, seed, "val")
        eng = recsys.split_engine(engine, split, data_dir)
        chosen, truth = similar_truth(split, seed=seed)
        s = similar_scores(eng, chosen)
        frame = pd.DataFrame(
            [(a, t) for a in chosen for t in truth[a]], columns=["user_id", "artist_id"]
        )
        for name in SIMILAR_MODELS:
            m = recsys.evaluate_scores(s.fused({name: 1.0}, None), s, frame)
            singles.setdefault(name, []).append(m["ndcg@10"])
        for c, a, t, au, se in grid + cold:
            weights = {"coplay": c, "als": a, "tags": t, "audio": au, "semantic": se}
            m = recsys.evaluate_scores(s.fused(weights, None), s, frame)
            results.setdefault((c, a, t, au, se), []).append(m["ndcg@10"])
        log.info("similar validation seed %d done", seed)
    rows = [
        {"weights": dict(zip(SIMILAR_MODELS, key, strict=True)), "mean": float(np.mean(v)),
         "std": float(np.std(v)), "size": sum(map(bool, key))}
        for key, v in results.items()
    ]  # fmt: skip
    frame = _table(rows)
    warm = frame[[w["coplay"] > 0 for w in frame["weights"]]]
    content = frame[[w["coplay"] == 0 and w["als"] == 0 for w in frame["weights"]]]
    chosen = _pick(warm)
    return {
        "weights": chosen["weights"],
        "mean": chosen["mean"],
        "cold": dict(_pick(content)["weights"]),
        "cold_mean": float(_pick(content)["mean"]),
        "cold_table": content.head(8).to_dict("records"),
        "singles": {k: (float(np.mean(v)), float(np.std(v))) for k, v in singles.items()},
        "table": frame.head(10).to_dict("records"),
    }


# ---- baselines of the survey protocol -------------------------------------------------------------


def tune_baselines(
    engine: Engine, data_dir: Path | None, seed: int = 0, n: int = 10
) -> dict[str, object]:
    """EASE^R's λ and item-kNN's neighbours and shrink for the survey protocol's fold-in
    baselines, on the survey validation split (so the product is compared with tuned baselines)."""
    from tunescout.indexes import itemitem
    from tunescout.research.report import foldin_lists

    plays = recsys.plays_of(engine.catalog)
    split = recsys.survey_split(plays, seed, "val")
    ratings = split.ratings(n)
    users, truth = list(ratings), split.truth[n]
    ease = {}
    for l2 in (100.0, 200.0, 500.0, 1000.0):
        model = itemitem.EASE(l2=l2, min_users=2).fit(split.train)
        ease[l2] = recsys.metrics_of(foldin_lists(model, ratings), users, truth)["ndcg@10"]
    knn = {}
    for neighbours, shrink in itertools.product((100, 1000), (0.0, 20.0)):
        model = itemitem.ItemKNN(neighbours=neighbours, shrink=shrink, min_users=2).fit(split.train)
        knn[f"{neighbours}/{shrink:g}"] = recsys.metrics_of(
            foldin_lists(model, ratings), users, truth
        )["ndcg@10"]
    return {
        "ease": {str(k): v for k, v in ease.items()},
        "ease_l2": max(ease, key=ease.get),
        "knn": knn,
        "knn_best": max(knn, key=knn.get),
    }
