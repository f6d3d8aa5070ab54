"""The whole build on Spark: catalog, then every registered index, into one verified build.

Spark runs the stages that grow with the data (:mod:`.catalog`'s row work, ALS on
:mod:`pyspark.ml`, MiniLM encoding in ``mapInPandas``); the audio, co-listening and tag indexes are
built on the driver with the local code from the Spark-assembled catalog (they grow with artists and
tracks, not listening events, and take seconds at 30k). Everything is written through
:class:`~tunescout.indexes.writer.BuildWriter` and the index classes' own ``save``, so a Spark build
is a build like any other: ``Engine.load`` verifies and loads it without knowing which engine made
it. The manifest's component entries say ``"engine": "spark"`` for the record.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tunescout import catalog
from tunescout.config import Settings
from tunescout.indexes import store, writer
from tunescout.indexes.als import ALSParams
from tunescout.indexes.base import Index, registry
from tunescout.indexes.build import NEEDS_LISTENING, _current, _previous, _rows
from tunescout.jobs import DataLock
from tunescout.vocabulary import model_name

log = logging.getLogger(__name__)
Counts = Callable[[str, int, int], None]
ON_SPARK = ("als", "semantic")  # the rest are built on the driver with the local code


def build_als(spark, catalog_dir: Path, progress: Callable[[int, int], None] | None = None,
              **params) -> Index:  # fmt: skip
    """The ALS index fitted on Spark from the catalog's interactions Parquet."""
    plays = spark.read.parquet(str(Path(catalog_dir) / "interactions.parquet"))
    return als_index(spark, plays, progress, **params)


def als_index(spark, plays, progress: Callable[[int, int], None] | None = None,
              **params) -> Index:  # fmt: skip
    """:meth:`CollaborativeIndex.build` on Spark: the artist model, and the track model when
    interactions name tracks.

    Args:
        spark: The session.
        plays: A Spark frame with ``user_id``, ``artist_id``, ``track_id`` and ``weight``.
        progress: ``(items fitted, items)`` after each model.
        **params: Fields of :class:`ALSParams`.
    """
    from pyspark.sql import functions as F

    from tunescout.indexes.collaborative import CollaborativeIndex
    from tunescout.spark import als

    config = ALSParams(**params)
    plays = plays.select("user_id", "artist_id", "track_id", "weight").cache()
    tracks = plays.where(F.col("track_id").isNotNull())
    n_artists = plays.select("artist_id").distinct().count()
    n_tracks = tracks.select("track_id").distinct().count()
    count = progress or (lambda done, total: None)
    count(0, n_artists + n_tracks)
    parts = {"artists": als.fit(spark, plays, config, "artist_id")}
    count(n_artists, n_artists + n_tracks)
    if n_tracks:
        parts["tracks"] = als.fit(spark, tracks, config, "track_id")
    count(n_artists + n_tracks, n_artists + n_tracks)
    plays.unpersist()
    index = CollaborativeIndex(parts, config)
    index.spark_reg_param = {k: p.spark_reg_param for k, p in parts.items()}
    return index


def build_indexes(
    spark,
    settings: Settings,
    only: Sequence[str] | None = None,
    on_progress: Counts | None = None,
    options: dict | None = None,
) -> store.Build:
    """:func:`tunescout.indexes.build.build_indexes` with ALS and semantic on Spark.

    Args:
        spark: The session.
        settings: Where the catalog and indexes live.
        only: Components to rebuild; the rest are carried over from the current build when it
            was made from the same catalog (as locally).
        on_progress: ``(component, done, total)`` as the local build reports it.
        options: Per model, keyword arguments of its build (``{"als": {"factors": 64}}``).
    """
    from tunescout.spark import semantic

    options = options or {}
    with DataLock(settings.data_dir):
        classes = registry()
        wanted = [model_name(n, tuple(classes)) for n in only] if only else list(classes)
        cat = catalog.read_catalog(settings.catalog_dir)
        catalog_hash = catalog.read_manifest(settings.catalog_dir)["catalog_hash"]
        current = _current(settings)
        same_catalog = current is not None and current.catalog_hash == catalog_hash
        if not same_catalog:
            wanted = list(classes)
        if cat.interactions.empty:
            for name in NEEDS_LISTENING.intersection(wanted):
                log.warning("no listening data: the build has no %s component", name)
                wanted.remove(name)
        with writer.BuildWriter(
            settings.index_dir, catalog_hash, base=current if same_catalog else None
        ) as build:
            for name in wanted:
                report = (
                    (lambda d, t, n=name: on_progress(n, int(d), int(t))) if on_progress else None
                )
                if on_progress:
                    on_progress(name, 0, 0)
                started = time.perf_counter()
                previous = _previous(classes[name], settings.index_dir, current)
                opts = options.get(name, {})
                if name == "als":
                    index = build_als(spark, settings.catalog_dir, report, **opts)
                elif name == "semantic":
                    index = semantic.build(spark, cat, previous, report, **opts)
                else:
                    index = classes[name].build(
                        cat, previous=previous, progress=report or False, **opts
                    )
                info = dict(index.save(build.component_dir(name)))
                info["build_seconds"] = round(time.perf_counter() - started, 2)
                info["engine"] = "spark" if name in ON_SPARK else "driver"
                if name == "als":
                    info["params"] = {**info["params"], "spark_reg_param": index.spark_reg_param}
                build.add_component(name, info)
                log.info("%s index built in %.1f s (%s)", name, info["build_seconds"],
                         info["engine"])  # fmt: skip
                if on_progress:
                    rows = _rows(info)
                    on_progress(name, rows, rows)
        return build.result


def run(
    settings: Settings,
    steps: Sequence[str],
    master: str,
    sources: list[str] | None = None,
    on_step: Callable[[str], None] | None = None,
    on_progress: Counts | None = None,
    timings: dict[str, float] | None = None,
    config: dict[str, str] | None = None,
    options: dict | None = None,
) -> store.Build | None:
    """The catalog (when in ``steps``) and the index components in ``steps`` on Spark.

    Args:
        settings: The data directory.
        steps: ``catalog`` and/or model names.
        master: The Spark master (``local[*]``, ``spark://…``, ``yarn``, ``k8s://…``).
        sources: Raw sources for the catalog (default as locally).
        on_step: Told each step's name as it starts.
        on_progress: Told ``(component, done, total)``.
        timings: Filled with seconds per step (``session``, ``catalog``, each model built).
        config: Extra Spark settings.
        options: Per model, keyword arguments of its build.

    Returns:
        The new current build (``None`` when only the catalog was built).
    """
    from pyspark.sql import SparkSession

    from tunescout.spark.catalog import build_catalog
    from tunescout.spark.session import spark_session

    timings = timings if timings is not None else {}
    started = time.perf_counter()
    running = SparkSession.getActiveSession()  # a caller's session is left running
    spark = spark_session(master, config=config)
    timings["session"] = time.perf_counter() - started
    try:
        if "catalog" in steps:
            if on_step:
                on_step("catalog")
            started = time.perf_counter()
            build_catalog(spark, settings, sources)
            timings["catalog"] = time.perf_counter() - started
        models = [s for s in steps if s != "catalog"]
        if not models:
            return None

        def told(name: str, done: int, total: int) -> None:
            if on_step and done == 0 and total == 0:
                on_step(name)
            if on_progress:
                on_progress(name, done, total)

        result = build_indexes(spark, settings, models, on_progress=told, options=options)
        for name, entry in result.components.items():
            if entry.get("built_in") == result.id and "build_seconds" in entry:
                timings[name] = float(entry["build_seconds"])
        return result
    finally:
        if running is None:
            spark.stop()
