"""ALS on Spark MLlib into the project's :class:`~tunescout.indexes.als.FactorModel` artifacts.

The local build fits ``implicit``'s ALS on confidences ``c = 1 + alpha * log1p(w)``; MLlib's implicit
ALS (``implicitPrefs=True``, Hu, Koren & Volinsky 2008) takes a rating ``r`` and uses
``c = 1 + alpha * |r|`` with preference ``r > 0``. So Spark gets ``r = log1p(w)`` (the summed plays
of a user and item) and ``alpha`` unchanged: the confidences are the same numbers. ``rank`` is
``factors``, ``maxIter`` is ``iterations``, ``seed`` is ``random_state``.

Regularisation is the one parameter that does not carry over as a number: ``implicit`` adds a
fixed ``lambda * I`` to each normal equation, MLlib adds ``regParam * n * I``, where ``n`` is the
number of ratings of that user or item (ALS-WR, Zhou et al. 2008). No single ``regParam`` gives
every row the same penalty; :func:`mllib_reg_param` divides ``lambda`` by the mean number of
ratings per user, since the per-user 80/20 parity test measures user-side ranking
(docs/SCALING.md gives the nDCG@10 of the candidates measured). Ids become integers through the
catalog's own sort order (the local build's ``_codes``), so row ``i`` of the factors is the same
artist in both builds.

The fitted factors are put into an ``implicit`` model object, so the saved files, the fold-in of a
new listener (``recalculate_user`` with the local ``lambda``) and everything that loads them are
exactly those of a local build.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
from scipy import sparse

from tunescout.errors import DataMissingError, InputError
from tunescout.indexes.als import ALSParams, FactorModel, _one_blas_thread, confidence
from tunescout.indexes.vectors import VectorIndex

log = logging.getLogger(__name__)

# How implicit's fixed lambda becomes MLlib's regParam (see the module docstring).
REG_SCALE = "per_user"


def mllib_reg_param(params: ALSParams, ratings_per_user: float, ratings_per_item: float) -> float:
    """MLlib's ``regParam`` for the local ``lambda``: ``lambda / n``, ``n`` per :data:`REG_SCALE`.

    ``"per_user"`` divides by the mean ratings per user, ``"per_item"`` by the mean per item,
    ``"geometric"`` by their geometric mean.
    """
    n = {
        "per_user": ratings_per_user,
        "per_item": ratings_per_item,
        "geometric": float(np.sqrt(ratings_per_user * ratings_per_item)),
    }[REG_SCALE]
    return float(params.regularization / max(n, 1.0))


def _ratings(params: ALSParams):
    """The Spark column expression of the rating MLlib reads as ``c = 1 + alpha * r``."""
    from pyspark.sql import functions as F

    if params.weighting == "log1p":
        return F.log1p(F.col("weight"))
    if params.weighting == "raw":
        return F.col("weight")
    raise InputError(
        f"weighting {params.weighting!r} has no Spark build (BM25 needs per-item statistics "
        "MLlib does not compute): use log1p or raw"
    )


def _ids(frame, column: str) -> np.ndarray:
    """The distinct ids of ``column``, sorted as the local build sorts them (as unicode)."""
    ids = frame.select(column).distinct().toPandas()[column].to_numpy(dtype=str)
    return np.sort(ids)


def _codes_frame(spark, ids: np.ndarray, column: str, code: str):
    return spark.createDataFrame(
        pd.DataFrame({column: ids.astype(object), code: np.arange(len(ids), dtype=np.int32)})
    )


def _factors(frame, n: int, rank: int) -> np.ndarray:
    """MLlib's ``(id, features)`` factor frame as an ``(n, rank)`` float32 matrix by id."""
    table = frame.toPandas()
    out = np.zeros((n, rank), dtype=np.float32)
    if len(table):
        out[table["id"].to_numpy()] = np.stack(table["features"].to_numpy()).astype(np.float32)
    return out


def fit(
    spark,
    interactions,
    params: ALSParams | None = None,
    item_column: str = "artist_id",
) -> FactorModel:
    """Fit one ALS model on Spark and return it as the local :class:`FactorModel`.

    Args:
        spark: The session.
        interactions: A Spark DataFrame with ``user_id``, ``item_column`` and ``weight``;
            repeated pairs add up, as in the local fit.
        params: The local build's parameters (:class:`ALSParams`), mapped as the module says.
        item_column: ``artist_id`` or ``track_id``.

    Returns:
        A fitted :class:`FactorModel` whose files are those of a local build.
    """
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    params = params or ALSParams()
    pairs = (
        interactions.where(F.col(item_column).isNotNull())
        .groupBy("user_id", item_column)
        .agg(F.sum("weight").alias("weight"))
        .cache()
    )
    users, items = _ids(pairs, "user_id"), _ids(pairs, item_column)
    if not len(users) or not len(items):
        pairs.unpersist()
        raise DataMissingError(f"no interactions name a {item_column} for ALS")
    coded = (
        pairs.join(_codes_frame(spark, users, "user_id", "user"), "user_id")
        .join(F.broadcast(_codes_frame(spark, items, item_column, "item")), item_column)
        .select("user", "item", "weight", _ratings(params).alias("rating"))
        .cache()
    )
    n = coded.count()
    reg_param = mllib_reg_param(params, n / len(users), n / len(items))
    als = ALS(
        rank=params.factors,
        maxIter=params.iterations,
        regParam=reg_param,
        alpha=params.alpha,
        implicitPrefs=True,
        userCol="user",
        itemCol="item",
        ratingCol="rating",
        seed=params.random_state,
        nonnegative=False,
        coldStartStrategy="drop",
        numUserBlocks=max(2, spark.sparkContext.defaultParallelism),
        numItemBlocks=max(2, spark.sparkContext.defaultParallelism),
    )
    start = time.perf_counter()
    model = als.fit(coded)
    user_factors = _factors(model.userFactors, len(users), params.factors)
    item_factors = _factors(model.itemFactors, len(items), params.factors)
    elapsed = time.perf_counter() - start
    log.info(
        "Spark ALS over %d users × %d %s (%d interactions, regParam %.4g): %.3fs per iteration",
        len(users), len(items), item_column, n, reg_param, elapsed / params.iterations,
    )  # fmt: skip
    # The training confidences (which items a known user has heard), built as the local fit does.
    local = coded.select("user", "item", "weight").toPandas()
    coded.unpersist()
    pairs.unpersist()
    weights = sparse.csr_matrix(
        (
            local["weight"].to_numpy(dtype=np.float64),
            (local["user"].to_numpy(), local["item"].to_numpy()),
        ),
        shape=(len(users), len(items)),
    )
    seen = confidence(weights, params)
    return attach(params, item_column, users, items, user_factors, item_factors, seen, reg_param)


def attach(
    params: ALSParams,
    item_column: str,
    users: np.ndarray,
    items: np.ndarray,
    user_factors: np.ndarray,
    item_factors: np.ndarray,
    seen: sparse.csr_matrix,
    reg_param: float | None = None,
) -> FactorModel:
    """A :class:`FactorModel` holding factors fitted elsewhere, in an ``implicit`` model object
    (so saving, loading and the fold-in of new listeners are the local build's own code)."""
    from implicit.cpu.als import AlternatingLeastSquares

    with _one_blas_thread():  # as the local fit: implicit checks BLAS threads when made
        model = AlternatingLeastSquares(
            factors=params.factors,
            regularization=params.regularization,  # the fold-in's lambda, as in a local build
            alpha=1.0,  # implicit's default, as in the local fit (confidences are precomputed)
            iterations=params.iterations,
            random_state=params.random_state,
            num_threads=1,
        )
    model.user_factors = np.ascontiguousarray(user_factors, dtype=np.float32)
    model.item_factors = np.ascontiguousarray(item_factors, dtype=np.float32)
    unit = float(np.median(seen.data)) - 1.0 if seen.nnz else 1.0
    fitted = FactorModel(params, item_column)._attach(
        model, users, VectorIndex(items, model.item_factors), seen.astype(np.float32), unit
    )
    fitted.spark_reg_param = reg_param
    return fitted
