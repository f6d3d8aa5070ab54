"""Offline evaluation as pure functions over DataFrames: data splits, ranking metrics at k,
beyond-accuracy metrics, and a full-ranking protocol aggregated over seeds.

Column names are keyword arguments (``col_user``, ``col_item``, ``col_rating``, ``col_prediction``)
in the style of recommenders-team/recommenders. Ranking metrics use binary relevance: an item is
relevant when it appears in the user's held-out truth.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from tunescout.errors import InputError

logger = logging.getLogger(__name__)

USER = "user_id"
ITEM = "artist_id"
RATING = "weight"
PREDICTION = "score"
TIMESTAMP = "timestamp"

RecommendFn = Callable[[np.ndarray, int], pd.DataFrame]


# --------------------------------------------------------------------------- splits


def _check_columns(df: pd.DataFrame, *cols: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"frame lacks column(s) {missing}; it has {list(df.columns)}")


def random_split(
    df: pd.DataFrame,
    test_frac: float = 0.2,
    seed: int = 0,
    col_user: str = USER,
    col_item: str = ITEM,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user random holdout: each user puts ``round(test_frac * n)`` of their n items in test.

    Every user with at least two items sends at least one to test and keeps at least one in
    training; users with a single item stay entirely in training. This is the "per-user random
    holdout" of Steck (2019, EASE) and Liang et al. (2018, Mult-VAE).

    Args:
        df: Interactions, one row per (user, item).
        test_frac: Fraction of each user's items held out, in (0, 1).
        seed: Seed of the random generator; the same seed gives the same split.
        col_user: User column.
        col_item: Item column.

    Returns:
        ``(train, test)``, disjoint, whose union is ``df``; both keep ``df``'s columns.

    Raises:
        InputError: ``test_frac`` is outside (0, 1) or a column is missing.
    """
    if not 0 < test_frac < 1:
        raise InputError(f"test_frac must lie in (0, 1), got {test_frac}")
    _check_columns(df, col_user, col_item)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(df))
    shuffled = df.iloc[order]
    position = shuffled.groupby(col_user, sort=False).cumcount().to_numpy()
    size = shuffled.groupby(col_user, sort=False)[col_item].transform("size").to_numpy()
    n_test = np.where(size >= 2, np.clip(np.rint(size * test_frac), 1, size - 1), 0)
    is_test = np.zeros(len(df), dtype=bool)
    is_test[order] = position < n_test
    return df[~is_test], df[is_test]


def validation_split(
    train: pd.DataFrame,
    val_frac: float = 0.2,
    seed: int = 0,
    col_user: str = USER,
    col_item: str = ITEM,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carve a validation holdout out of a training frame, for tuning without touching test.

    The same per-user random holdout as :func:`random_split`, with a generator derived from
    ``seed`` so that the validation rows differ from the test rows drawn with that seed.

    Returns:
        ``(fit, validation)``: fit on the first, choose hyper-parameters on the second.
    """
    return random_split(train, val_frac, seed + 10_007, col_user, col_item)


def cold_start_split(
    df: pd.DataFrame,
    n_survey: int = 10,
    test_user_frac: float = 0.2,
    seed: int = 0,
    col_user: str = USER,
    col_item: str = ITEM,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Simulate new users who rate ``n_survey`` items in a survey (strong generalisation).

    A random ``test_user_frac`` of the users with more than ``n_survey`` items become test users;
    each keeps exactly ``n_survey`` random items as survey answers and the rest become truth. The
    model is fitted without any of their rows (Marlin 2004, "strong generalisation"; Liang et al.
    2018 use the same fold-in protocol for held-out users).

    Args:
        df: Interactions.
        n_survey: Items each test user reveals (e.g. 5, 10 or 20).
        test_user_frac: Fraction of eligible users held out.
        seed: Random seed.
        col_user: User column.
        col_item: Item column.

    Returns:
        ``(train, survey, truth)``: rows of the other users, the test users' survey rows, and
        their remaining rows.

    Raises:
        InputError: ``n_survey < 1``, ``test_user_frac`` outside (0, 1) or no user is eligible.
    """
    if n_survey < 1 or not 0 < test_user_frac < 1:
        raise InputError(
            f"need n_survey >= 1 and 0 < test_user_frac < 1, got {n_survey}, {test_user_frac}"
        )
    _check_columns(df, col_user, col_item)
    rng = np.random.default_rng(seed)
    sizes = df.groupby(col_user)[col_item].size()
    eligible = sizes.index[sizes > n_survey].to_numpy()
    if len(eligible) == 0:
        raise InputError(f"no user has more than n_survey={n_survey} items")
    n_test = max(1, int(round(len(eligible) * test_user_frac)))
    test_users = rng.choice(eligible, size=n_test, replace=False)
    in_test = df[col_user].isin(test_users).to_numpy()
    held = df[in_test].iloc[rng.permutation(int(in_test.sum()))]
    is_survey = held.groupby(col_user, sort=False).cumcount().to_numpy() < n_survey
    survey, truth = held[is_survey], held[~is_survey]
    return df[~in_test], survey.sort_index(), truth.sort_index()


def time_split(
    df: pd.DataFrame,
    test_frac: float = 0.2,
    col_user: str = USER,
    col_item: str = ITEM,
    col_timestamp: str = TIMESTAMP,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user chronological holdout: each user's latest ``round(test_frac * n)`` items are test.

    Like :func:`random_split` but ordered by time instead of at random, so the model predicts
    each user's future from their past (the "leave-last-out" family, e.g. Kang & McAuley 2018).
    Ties in time are broken by the frame's row order. Rows without a timestamp stay in training.

    Raises:
        InputError: the timestamp column is missing or entirely empty.
    """
    _check_columns(df, col_user, col_item, col_timestamp)
    if df[col_timestamp].isna().all():
        raise InputError(f"column {col_timestamp!r} holds no timestamps; use random_split")
    dated = df[df[col_timestamp].notna()].sort_values(col_timestamp, kind="stable")
    from_end = dated.groupby(col_user, sort=False).cumcount(ascending=False).to_numpy()
    size = dated.groupby(col_user, sort=False)[col_item].transform("size").to_numpy()
    n_test = np.where(size >= 2, np.clip(np.rint(size * test_frac), 1, size - 1), 0)
    test_index = dated.index[from_end < n_test]
    is_test = df.index.isin(test_index)
    return df[~is_test], df[is_test]


# --------------------------------------------------------------------------- ranking metrics


def top_k(
    rating_pred: pd.DataFrame,
    k: int,
    col_user: str = USER,
    col_item: str = ITEM,
    col_prediction: str = PREDICTION,
) -> pd.DataFrame:
    """Each user's ``k`` highest-scored items with a 1-based ``rank`` column (ties by row order)."""
    ranked = rating_pred.sort_values(
        [col_user, col_prediction], ascending=[True, False], kind="stable"
    )
    ranked = ranked.assign(rank=ranked.groupby(col_user, sort=False).cumcount() + 1)
    return ranked.loc[ranked["rank"] <= k, [col_user, col_item, col_prediction, "rank"]]


def _hits(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    k: int,
    col_user: str,
    col_item: str,
    col_prediction: str,
) -> tuple[pd.DataFrame, pd.Series]:
    """Relevant items among each user's top ``k`` (user, rank) and each truth user's truth size."""
    if k < 1:
        raise InputError(f"k must be >= 1, got {k}")
    n_true = rating_true.drop_duplicates([col_user, col_item]).groupby(col_user).size()
    top = top_k(rating_pred, k, col_user, col_item, col_prediction)
    truth = rating_true[[col_user, col_item]].drop_duplicates()
    hits = top.merge(truth, on=[col_user, col_item], how="inner")[[col_user, "rank"]]
    return hits, n_true


def _per_user_mean(per_user_hits: pd.Series, n_true: pd.Series) -> float:
    """Average a per-user score over every truth user; users without hits count as zero."""
    return float(per_user_hits.reindex(n_true.index, fill_value=0.0).mean()) if len(n_true) else 0.0


def precision_at_k(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    k: int = 10,
    col_user: str = USER,
    col_item: str = ITEM,
    col_prediction: str = PREDICTION,
) -> float:
    """Precision@k: relevant items among the top k, divided by k, averaged over truth users.

    Manning, Raghavan & Schütze (2008), *Introduction to Information Retrieval*, ch. 8.4.
    """
    hits, n_true = _hits(rating_true, rating_pred, k, col_user, col_item, col_prediction)
    return _per_user_mean(hits.groupby(col_user).size() / k, n_true)


def recall_at_k(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    k: int = 10,
    col_user: str = USER,
    col_item: str = ITEM,
    col_prediction: str = PREDICTION,
) -> float:
    """Recall@k: relevant items in the top k divided by the user's number of relevant items.

    Manning, Raghavan & Schütze (2008), ch. 8.4. (Liang et al. 2018 divide by min(k, |truth|)
    instead; this is the plain definition.)
    """
    hits, n_true = _hits(rating_true, rating_pred, k, col_user, col_item, col_prediction)
    per_user = hits.groupby(col_user).size() / n_true
    return _per_user_mean(per_user.dropna(), n_true)


def map_at_k(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    k: int = 10,
    col_user: str = USER,
    col_item: str = ITEM,
    col_prediction: str = PREDICTION,
) -> float:
    """MAP@k: mean over users of the precision at each hit's rank, summed, over min(k, |truth|).

    Average precision as in Manning et al. (2008) ch. 8.4, truncated at k with the
    ``min(k, |truth|)`` normaliser used by Kaggle's ``apk`` and RecBole.
    """
    hits, n_true = _hits(rating_true, rating_pred, k, col_user, col_item, col_prediction)
    hits = hits.sort_values([col_user, "rank"])
    hits["precision"] = (hits.groupby(col_user).cumcount() + 1) / hits["rank"]
    per_user = hits.groupby(col_user)["precision"].sum() / np.minimum(n_true, k)
    return _per_user_mean(per_user.dropna(), n_true)


def ndcg_at_k(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    k: int = 10,
    col_user: str = USER,
    col_item: str = ITEM,
    col_prediction: str = PREDICTION,
) -> float:
    """nDCG@k with binary relevance and a log2 discount, ideal DCG over min(k, |truth|) hits.

    Järvelin & Kekäläinen (2002), "Cumulated gain-based evaluation of IR techniques", with the
    ``1 / log2(rank + 1)`` discount used by Liang et al. (2018) and Steck (2019).
    """
    hits, n_true = _hits(rating_true, rating_pred, k, col_user, col_item, col_prediction)
    dcg = (1.0 / np.log2(hits["rank"] + 1.0)).groupby(hits[col_user]).sum()
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    idcg = pd.Series(discounts[np.minimum(n_true.to_numpy(), k) - 1], index=n_true.index)
    return _per_user_mean((dcg / idcg).dropna(), n_true)


def hit_rate_at_k(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    k: int = 10,
    col_user: str = USER,
    col_item: str = ITEM,
    col_prediction: str = PREDICTION,
) -> float:
    """Hit rate@k: the share of truth users with at least one relevant item in their top k.

    Deshpande & Karypis (2004), "Item-based top-N recommendation algorithms".
    """
    hits, n_true = _hits(rating_true, rating_pred, k, col_user, col_item, col_prediction)
    return _per_user_mean(hits.groupby(col_user).size().clip(upper=1).astype(float), n_true)


def mrr_at_k(
    rating_true: pd.DataFrame,
    rating_pred: pd.DataFrame,
    k: int = 10,
    col_user: str = USER,
    col_item: str = ITEM,
    col_prediction: str = PREDICTION,
) -> float:
    """Mean reciprocal rank@k: 1 / rank of the first relevant item (0 if none in the top k).

    Voorhees (1999), "The TREC-8 question answering track report".
    """
    hits, n_true = _hits(rating_true, rating_pred, k, col_user, col_item, col_prediction)
    return _per_user_mean(1.0 / hits.groupby(col_user)["rank"].min(), n_true)


# --------------------------------------------------------------------------- beyond accuracy


def item_popularity(train: pd.DataFrame, col_user: str = USER, col_item: str = ITEM) -> pd.Series:
    """The share of training users who interacted with each item (index: item id)."""
    n_users = train[col_user].nunique()
    return train.drop_duplicates([col_user, col_item]).groupby(col_item).size() / max(n_users, 1)


def catalog_coverage(
    rating_pred: pd.DataFrame,
    catalog: Iterable | int,
    k: int = 10,
    col_user: str = USER,
    col_item: str = ITEM,
    col_prediction: str = PREDICTION,
) -> float:
    """Catalog coverage@k: distinct items in anyone's top k over the catalog size.

    Ge, Delgado-Battenfeld & Jannach (2010), "Beyond accuracy: evaluating recommender systems by
    coverage and serendipity".

    Args:
        rating_pred: Predictions.
        catalog: The recommendable items, or their count.
        k: Cut-off.
    """
    size = catalog if isinstance(catalog, int) else len(set(catalog))
    if size <= 0:
        raise InputError("catalog is empty")
    top = top_k(rating_pred, k, col_user, col_item, col_prediction)
    return top[col_item].nunique() / size


def novelty(
    rating_pred: pd.DataFrame,
    train: pd.DataFrame,
    k: int = 10,
    col_user: str = USER,
    col_item: str = ITEM,
    col_prediction: str = PREDICTION,
) -> float:
    """Novelty@k: mean self-information ``-log2 p(i)`` of recommended items, p = share of users.

    Zhou et al. (2010), "Solving the apparent diversity-accuracy dilemma of recommender systems",
    PNAS; Castells, Hurley & Vargas (2015), *Recommender Systems Handbook*, ch. 26. Items never
    seen in training get the popularity of one user.
    """
    top = top_k(rating_pred, k, col_user, col_item, col_prediction)
    pop = item_popularity(train, col_user, col_item)
    floor = 1.0 / max(train[col_user].nunique(), 1)
    p = top[col_item].map(pop).fillna(floor).to_numpy(dtype=float)
    return float(np.mean(-np.log2(p))) if len(p) else 0.0


def intra_list_diversity(
    rating_pred: pd.DataFrame,
    item_vectors: pd.DataFrame,
    k: int = 10,
    col_user: str = USER,
    col_item: str = ITEM,
    col_prediction: str = PREDICTION,
) -> float:
    """Intra-list diversity@k: mean pairwise cosine distance within each list, averaged over users.

    Ziegler et al. (2005), "Improving recommendation lists through topic diversification".
    Items without a vector are skipped; lists with fewer than two vectors are left out.

    Args:
        rating_pred: Predictions.
        item_vectors: One row per item (index: item id), one column per dimension.
        k: Cut-off.
    """
    top = top_k(rating_pred, k, col_user, col_item, col_prediction)
    top = top[top[col_item].isin(item_vectors.index)]
    vectors = item_vectors.to_numpy(dtype=np.float64)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
    row_of = pd.Series(np.arange(len(item_vectors)), index=item_vectors.index)
    scores = []
    for _, items in top.groupby(col_user)[col_item]:
        if len(items) < 2:
            continue
        v = vectors[row_of[items.to_numpy()].to_numpy()]
        n = len(v)
        mean_sim = (np.sum(v @ v.T) - n) / (n * (n - 1))
        scores.append(1.0 - mean_sim)
    return float(np.mean(scores)) if scores else 0.0


def popularity_bias(
    rating_pred: pd.DataFrame,
    train: pd.DataFrame,
    k: int = 10,
    col_user: str = USER,
    col_item: str = ITEM,
    col_prediction: str = PREDICTION,
) -> dict[str, float]:
    """Average recommendation popularity (ARP) and mean popularity percentile of top-k items.

    ARP (Abdollahpouri, Burke & Mobasher 2019, "Managing popularity bias in recommender systems
    with personalized re-ranking") is the mean training popularity (share of users) of the
    recommended items; the percentile (0 = least, 1 = most popular training item) makes it
    comparable across data sets.

    Returns:
        ``{"arp": ..., "pop_percentile": ...}``.
    """
    top = top_k(rating_pred, k, col_user, col_item, col_prediction)
    pop = item_popularity(train, col_user, col_item)
    percentile = pop.rank(pct=True, method="average")
    if top.empty:
        return {"arp": 0.0, "pop_percentile": 0.0}
    arp = top[col_item].map(pop).fillna(0.0).groupby(top[col_user]).mean().mean()
    pct = top[col_item].map(percentile).fillna(0.0).groupby(top[col_user]).mean().mean()
    return {"arp": float(arp), "pop_percentile": float(pct)}


# --------------------------------------------------------------------------- protocol

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
