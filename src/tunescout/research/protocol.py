"""The full-ranking evaluation protocol: rank every item for every test user, score the top k,
repeat over seeded splits and aggregate to mean ± std."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunescout.errors import InputError
from tunescout.research.columns import ITEM, PREDICTION, USER
from tunescout.research.metrics import (
    catalog_coverage,
    hit_rate_at_k,
    intra_list_diversity,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    novelty,
    popularity_bias,
    precision_at_k,
    recall_at_k,
)
from tunescout.research.splits import random_split

logger = logging.getLogger(__name__)
RecommendFn = Callable[[np.ndarray, int], pd.DataFrame]


ACCURACY_METRICS: dict[str, Callable[..., float]] = {
    "precision": precision_at_k,
    "recall": recall_at_k,
    "map": map_at_k,
    "ndcg": ndcg_at_k,
    "hit_rate": hit_rate_at_k,
    "mrr": mrr_at_k,
}


def evaluate(
    recommend_fn: RecommendFn,
    train: pd.DataFrame,
    test: pd.DataFrame,
    k_values: Sequence[int] = (10, 20),
    item_vectors: pd.DataFrame | None = None,
    col_user: str = USER,
    col_item: str = ITEM,
    col_prediction: str = PREDICTION,
) -> dict[str, float]:
    """Full-ranking evaluation: rank every item for every test user, score the top k.

    ``recommend_fn(user_ids, k)`` must return a frame with ``col_user``, ``col_item`` and
    ``col_prediction`` columns and rank the whole catalog without the user's training items (as
    ``Recommender.recommend(..., exclude_seen=True)`` does). Any training pair that still comes
    back is dropped here, so a leak can only cost the model, never flatter it.

    Args:
        recommend_fn: Produces the recommendations.
        train: Training interactions (for filtering and popularity).
        test: Held-out truth.
        k_values: Cut-offs; each accuracy metric is reported as ``"<name>@<k>"``.
        item_vectors: Optional item vectors (index: item id) for intra-list diversity.

    Returns:
        Flat ``{metric@k: value}`` with the accuracy metrics, ``coverage@k``, ``novelty@k``,
        ``arp@k``, ``pop_percentile@k`` (and ``diversity@k``), plus ``n_users`` and ``seconds``.
    """
    users = np.sort(test[col_user].unique())
    start = time.perf_counter()
    recs = recommend_fn(users, max(k_values))
    seconds = time.perf_counter() - start
    seen = train[[col_user, col_item]].drop_duplicates().assign(_seen=True)
    recs = recs.merge(seen, on=[col_user, col_item], how="left")
    leaked = int(recs["_seen"].notna().sum())
    if leaked:
        logger.warning("recommend_fn returned %d training pairs; they were dropped", leaked)
    recs = recs[recs["_seen"].isna()].drop(columns="_seen")
    cols = {"col_user": col_user, "col_item": col_item, "col_prediction": col_prediction}
    catalog = train[col_item].nunique()
    out: dict[str, float] = {}
    for k in k_values:
        for name, metric in ACCURACY_METRICS.items():
            out[f"{name}@{k}"] = metric(test, recs, k, **cols)
        out[f"coverage@{k}"] = catalog_coverage(recs, catalog, k, **cols)
        out[f"novelty@{k}"] = novelty(recs, train, k, **cols)
        bias = popularity_bias(recs, train, k, **cols)
        out[f"arp@{k}"], out[f"pop_percentile@{k}"] = bias["arp"], bias["pop_percentile"]
        if item_vectors is not None:
            out[f"diversity@{k}"] = intra_list_diversity(recs, item_vectors, k, **cols)
    out["n_users"] = float(len(users))
    out["seconds"] = seconds
    return out


def aggregate(runs: Sequence[dict[str, float]]) -> dict[str, dict[str, float]]:
    """Mean and (population) standard deviation of each metric over several runs (e.g. seeds)."""
    if not runs:
        raise InputError("no runs to aggregate")
    frame = pd.DataFrame(list(runs))
    return {
        name: {"mean": float(frame[name].mean()), "std": float(frame[name].std(ddof=0))}
        for name in frame.columns
    }


def evaluate_seeds(
    make_model: Callable[[], object],
    interactions: pd.DataFrame,
    seeds: Sequence[int] = (0, 1, 2),
    test_frac: float = 0.2,
    k_values: Sequence[int] = (10, 20),
    col_user: str = USER,
    col_item: str = ITEM,
) -> dict[str, object]:
    """Repeat split → fit → :func:`evaluate` for each seed and aggregate to mean ± std.

    Args:
        make_model: Builds a fresh model with ``fit(train)`` and ``recommend(user_ids, k)``
            (e.g. a class from :mod:`tunescout.research.baselines`).
        interactions: All interactions.
        seeds: One per-user random split per seed.
        test_frac: Held-out share per user.
        k_values: Cut-offs.

    Returns:
        ``{"runs": [per-seed metrics incl. fit_seconds], "summary": {metric: {mean, std}}}``.
    """
    runs = []
    for seed in seeds:
        train, test = random_split(interactions, test_frac, seed, col_user, col_item)
        model = make_model()
        start = time.perf_counter()
        model.fit(train)
        fit_seconds = time.perf_counter() - start
        metrics = evaluate(
            model.recommend, train, test, k_values, col_user=col_user, col_item=col_item
        )
        metrics.update(seed=float(seed), fit_seconds=fit_seconds)
        logger.info("seed %d: ndcg@%d=%.4f", seed, k_values[0], metrics[f"ndcg@{k_values[0]}"])
        runs.append(metrics)
    return {"runs": runs, "summary": aggregate(runs)}


def save_results(results: dict, path: Path | str) -> Path:
    """Write a results dict as indented JSON (parents created) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, sort_keys=True, default=float) + "\n")
    return path


def json_ready(value: Any) -> Any:
    """``value`` with numpy scalars as Python numbers, NaN as ``None`` and keys as strings."""
    if isinstance(value, dict):
        return {str(k): json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and np.isnan(value):
        return None
    return value


def nanmean(values: pd.Series) -> float:
    """The mean of the finite values (NaN when there is none)."""
    values = values.dropna()
    return float(values.mean()) if len(values) else float("nan")
