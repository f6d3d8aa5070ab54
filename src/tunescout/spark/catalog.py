"""Catalog assembly on Spark SQL from the raw Parquet snapshots, into the same catalog files.

What runs where (the project's identity resolution stays the project's code):

- **Spark SQL, partitioned**: reading every source's ``tracks``/``artists``/``interactions``
  Parquet; the records of artists each source names (with stubs for artists only referenced by
  its tracks or listening); mapping every track and interaction to its canonical artist (a join
  with the artist map); keeping each track id's highest-priority source (a window); adding up a
  listener's repeated (artist, track) pairs (a group-by) — the row-heavy work, which grows with
  listening events.
- **Driver, global**: :func:`tunescout.catalog.identity.resolve` over the artist records, since one
  cluster of names can span every source and partition (greedy merges on three successive keys
  are transitive, so no partitioning by key is exact); then the per-artist merge
  (``catalog.assemble._artists``: genres, tags, popularity, audio means from the canonical tracks),
  validation and :func:`tunescout.catalog.write_catalog`. These grow with artists and tracks,
  not with listening.

The result equals :func:`tunescout.catalog.assemble.assemble` on the same snapshots up to row order
(tracks and interactions come sorted by their keys here; ``tests/test_spark.py`` checks it).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from tunescout import catalog
from tunescout.catalog import Catalog, identity
from tunescout.catalog import assemble as local
from tunescout.catalog import snapshots as raw
from tunescout.catalog.io import read_json
from tunescout.config import Settings
from tunescout.errors import DataMissingError, SourceError

log = logging.getLogger(__name__)
_ORDER = "_ord"  # a row's place in its source's file, so "first" means what it means locally


def _read(spark, folder: Path, table: str, source: str, priority: int):
    """One raw table of one snapshot, with its source, the source's priority and row order."""
    from pyspark.sql import functions as F

    frame = spark.read.parquet(str(folder / f"{table}.parquet"))
    return frame.withColumns(
        {
            "_source": F.lit(source),
            "_prio": F.lit(priority),
            _ORDER: F.monotonically_increasing_id(),
        }
    )


def _to_pandas(frame, table: str | None = None) -> pd.DataFrame:
    """A Spark frame on the driver through Arrow, typed as the catalog types it."""
    arrow = frame.toArrow()
    if table is None:
        return catalog.to_pandas(arrow)
    names = [c.name for c in catalog.SCHEMAS[table]]
    return catalog.to_pandas(arrow.select(names).cast(catalog.arrow_schema(table)))


def _records(spark, tables: dict[str, dict]):
    """Spark SQL: every artist as each source names it, plus stubs for referenced-only ids."""
    from pyspark.sql import functions as F

    columns = [c.name for c in catalog.SCHEMAS["artists"]]
    frames = []
    for source, t in tables.items():
        artists = t["artists"]
        used = (
            t["tracks"]
            .select("artist_id", "artist_name", F.lit(0).alias("_table"), F.col(_ORDER))
            .unionByName(
                t["interactions"].select(
                    "artist_id",
                    F.lit(None).cast("string").alias("artist_name"),
                    F.lit(1).alias("_table"),
                    F.col(_ORDER),
                )
            )
        )
        extra = (
            used.join(artists.select("artist_id"), "artist_id", "left_anti")
            .groupBy("artist_id")
            .agg(F.min_by("artist_name", F.struct("_table", _ORDER)).alias("artist_name"))
        )
        stubs = extra.select(
            "artist_id",
            F.coalesce("artist_name", "artist_id").alias("name"),
            *[
                F.lit(None).cast(artists.schema[c].dataType).alias(c)
                for c in columns
                if c not in ("artist_id", "name", "genres", "tags")
            ],
            F.array().cast(artists.schema["genres"].dataType).alias("genres"),
            F.array().cast(artists.schema["tags"].dataType).alias("tags"),
            F.lit(1).alias("_stub"),
        )
        # Listed artists first, then stubs (as local assembly concatenates them).
        frames.append(
            artists.select(*columns, F.lit(0).alias("_stub"), F.col(_ORDER))
            .unionByName(stubs.withColumn(_ORDER, F.lit(0).cast("long")))
            .withColumn("source", F.lit(source))
        )
    records = frames[0]
    for frame in frames[1:]:
        records = records.unionByName(frame)
    return records


def _canonical(frame, artist_map):
    """Spark SQL: replace each row's source artist id by its canonical one."""
    return frame.join(
        artist_map, (frame["_source"] == artist_map["m_source"])
        & (frame["artist_id"] == artist_map["m_source_id"]), "left",
    ).drop("artist_id").withColumnRenamed("m_artist_id", "artist_id")  # fmt: skip


def assemble(spark, snapshots: dict[str, Path]) -> tuple[Catalog, list[raw.RawBundle]]:
    """Resolve identities across the snapshots and build the catalog tables.

    Args:
        spark: The session.
        snapshots: Source name → snapshot folder (:func:`assemble.choose_snapshots`).

    Returns:
        The validated catalog, and per source a bundle holding only its params and notes.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    if not snapshots:
        raise SourceError("nothing to build: no source delivered any rows")
    order = {s: i for i, s in enumerate(identity.SOURCE_PRIORITY)}
    ranked = sorted(snapshots, key=lambda s: order.get(s, len(order)))
    tables: dict[str, dict] = {}
    notes: list[raw.RawBundle] = []
    for source in ranked:
        folder = Path(snapshots[source])
        manifest = read_json(folder / "manifest.json")
        notes.append(
            raw.RawBundle(
                source=str(manifest.get("source", source)),
                params=manifest.get("params", {}),
                notes=[str(n) for n in manifest.get("notes", [])],
            )
        )
        prio = ranked.index(source)
        tables[source] = {t: _read(spark, folder, t, source, prio) for t in raw.RAW_TABLES}

    # Driver: identity over the artist records (global), in the local build's record order.
    records = _records(spark, tables)
    ordered = records.orderBy(
        F.expr(
            "CASE source " + " ".join(f"WHEN '{s}' THEN {i}" for i, s in enumerate(ranked)) + " END"
        ),
        "_stub",
        _ORDER,
    ).drop("_stub", _ORDER)
    recs = _to_pandas(ordered)
    recs = recs.rename(columns={"artist_id": "source_id"})
    artist_map = identity.resolve(recs)
    log.info("identity: %d records → %d artists", len(recs), artist_map["artist_id"].nunique())
    mapping = spark.createDataFrame(
        artist_map[["source", "source_id", "artist_id"]].rename(
            columns={"source": "m_source", "source_id": "m_source_id", "artist_id": "m_artist_id"}
        )
    ).cache()

    # Spark SQL: canonical tracks (the highest-priority source's row per track id).
    track_cols = [c.name for c in catalog.SCHEMAS["tracks"]]
    tracks = None
    for source in ranked:
        part = tables[source]["tracks"]
        tracks = part if tracks is None else tracks.unionByName(part)
    first = Window.partitionBy("track_id").orderBy("_prio", _ORDER)
    tracks = (
        _canonical(tracks, F.broadcast(mapping))
        .withColumn("_n", F.row_number().over(first))
        .where("_n = 1")
        .select(*track_cols)
        .orderBy("track_id")
    )
    track_frame = _to_pandas(tracks, "tracks")

    # Spark SQL: listening mapped to canonical artists, repeated pairs added up.
    plays = None
    for source in ranked:
        part = tables[source]["interactions"]
        plays = part if plays is None else plays.unionByName(part)
    keys = ["user_id", "artist_id", "track_id"]
    plays = (
        _canonical(plays, mapping)
        .groupBy(*keys)
        .agg(
            F.sum("weight").alias("weight"),
            F.max("timestamp").alias("timestamp"),
            F.min_by("source", F.struct("_prio", _ORDER)).alias("source"),
        )
        .orderBy(*keys)
    )
    interactions = _to_pandas(plays, "interactions")
    mapping.unpersist()

    # Driver: the per-artist merge with the catalog's own code.
    members = recs.merge(
        artist_map[["source", "source_id", "artist_id", "method"]], on=["source", "source_id"]
    )
    members = members.sort_values(
        "source", key=lambda s: s.map(order).fillna(len(order)), kind="stable"
    )
    artists = local._artists(members, track_frame)
    unknown = track_frame["popularity"].isna()
    if unknown.any():
        known = artists.set_index("artist_id")["popularity"].astype("float64")
        popularity = track_frame["popularity"].astype("float64")
        track_frame["popularity"] = popularity.fillna(track_frame["artist_id"].map(known))
    cat = Catalog(
        tracks=catalog.validate("tracks", track_frame),
        artists=catalog.validate("artists", artists),
        artist_map=catalog.validate("artist_map", artist_map),
        interactions=catalog.validate("interactions", interactions),
    )
    catalog.check_references(cat)
    return cat, notes


def build_catalog(spark, settings: Settings, only: list[str] | None = None) -> Catalog:
    """:func:`tunescout.catalog.assemble.build_catalog` on Spark: the same snapshots chosen, the
    same catalog files and manifest written."""
    chosen = local.choose_snapshots(settings.raw_dir, only)
    if not chosen:
        raise DataMissingError(f"no raw data in {settings.raw_dir}")
    log.info("building the catalog on Spark from %s", {s: p.name for s, p in chosen.items()})
    cat, bundles = assemble(spark, chosen)
    info = {
        "sources": {s: str(p) for s, p in chosen.items()},
        "synthetic": set(chosen) == {"synthetic"},
        "coverage": local.coverage(cat),
        "methods": cat.artist_map["method"].value_counts().to_dict(),
        "notes": [n for b in bundles for n in b.notes],
        "engine": "spark",
    }
    catalog.write_catalog(cat, settings.catalog_dir, info)
    return cat
