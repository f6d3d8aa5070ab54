"""Ranking and beyond-accuracy metrics as pure functions over DataFrames.

Column names are keyword arguments (``col_user``, ``col_item``, ``col_prediction``) in the style of
recommenders-team/recommenders. Ranking metrics use binary relevance: an item is relevant when it
appears in the user's held-out truth.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import numpy as np
import pandas as pd

from tunescout.errors import InputError
from tunescout.research.columns import ITEM, PREDICTION, USER


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


PerUser = Callable[[pd.DataFrame, pd.Series, int, str], pd.Series]
RankingMetric = Callable[..., float]


def _ranking_metric(per_user: PerUser) -> RankingMetric:
    """A ranking metric from its per-user score ``per_user(hits, n_true, k, col_user)``, where
    ``hits`` holds each user's relevant items in their top k (``user``, ``rank``) and ``n_true``
    each truth user's number of relevant items; the metric is that score averaged over every
    truth user (users without hits count as zero). Its docstring is ``per_user``'s."""

    def metric(
        rating_true: pd.DataFrame,
        rating_pred: pd.DataFrame,
        k: int = 10,
        col_user: str = USER,
        col_item: str = ITEM,
        col_prediction: str = PREDICTION,
    ) -> float:
        hits, n_true = _hits(rating_true, rating_pred, k, col_user, col_item, col_prediction)
        return _per_user_mean(per_user(hits, n_true, k, col_user).dropna(), n_true)

    metric.__name__ = metric.__qualname__ = per_user.__name__.removeprefix("_") + "_at_k"
    metric.__doc__ = per_user.__doc__
    return metric


def _precision(hits: pd.DataFrame, n_true: pd.Series, k: int, user: str) -> pd.Series:
    """Precision@k: relevant items among the top k, divided by k, averaged over truth users.

    Manning, Raghavan & Schütze (2008), *Introduction to Information Retrieval*, ch. 8.4.
    """
    return hits.groupby(user).size() / k


def _recall(hits: pd.DataFrame, n_true: pd.Series, k: int, user: str) -> pd.Series:
    """Recall@k: relevant items in the top k divided by the user's number of relevant items.

    Manning, Raghavan & Schütze (2008), ch. 8.4. (Liang et al. 2018 divide by min(k, |truth|)
    instead; this is the plain definition.)
    """
    return hits.groupby(user).size() / n_true


def _map(hits: pd.DataFrame, n_true: pd.Series, k: int, user: str) -> pd.Series:
    """MAP@k: mean over users of the precision at each hit's rank, summed, over min(k, |truth|).

    Average precision as in Manning et al. (2008) ch. 8.4, truncated at k with the
    ``min(k, |truth|)`` normaliser used by Kaggle's ``apk`` and RecBole.
    """
    hits = hits.sort_values([user, "rank"])
    precision = (hits.groupby(user).cumcount() + 1) / hits["rank"]
    return precision.groupby(hits[user]).sum() / np.minimum(n_true, k)


def _ndcg(hits: pd.DataFrame, n_true: pd.Series, k: int, user: str) -> pd.Series:
    """nDCG@k with binary relevance and a log2 discount, ideal DCG over min(k, |truth|) hits.

    Järvelin & Kekäläinen (2002), "Cumulated gain-based evaluation of IR techniques", with the
    ``1 / log2(rank + 1)`` discount used by Liang et al. (2018) and Steck (2019).
    """
    dcg = (1.0 / np.log2(hits["rank"] + 1.0)).groupby(hits[user]).sum()
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    idcg = pd.Series(discounts[np.minimum(n_true.to_numpy(), k) - 1], index=n_true.index)
    return dcg / idcg


def _hit_rate(hits: pd.DataFrame, n_true: pd.Series, k: int, user: str) -> pd.Series:
    """Hit rate@k: the share of truth users with at least one relevant item in their top k.

    Deshpande & Karypis (2004), "Item-based top-N recommendation algorithms".
    """
    return hits.groupby(user).size().clip(upper=1).astype(float)


def _mrr(hits: pd.DataFrame, n_true: pd.Series, k: int, user: str) -> pd.Series:
    """Mean reciprocal rank@k: 1 / rank of the first relevant item (0 if none in the top k).

    Voorhees (1999), "The TREC-8 question answering track report".
    """
    return 1.0 / hits.groupby(user)["rank"].min()


precision_at_k = _ranking_metric(_precision)
recall_at_k = _ranking_metric(_recall)
map_at_k = _ranking_metric(_map)
ndcg_at_k = _ranking_metric(_ndcg)
hit_rate_at_k = _ranking_metric(_hit_rate)
mrr_at_k = _ranking_metric(_mrr)


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
