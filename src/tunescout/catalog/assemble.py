"""Catalog assembly: the latest raw snapshot of each source → one catalog with canonical artists.

Reads only what collection wrote (``raw/``) and writes only ``catalog/``, so it can be re-run alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from tunescout import catalog
from tunescout.catalog import Catalog, identity
from tunescout.catalog import snapshots as raw
from tunescout.config import Settings
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.errors import DataMissingError, SourceError

log = logging.getLogger(__name__)
MAX_GENRES = 12
MAX_TAGS = 20


def choose_snapshots(raw_dir: Path, only: list[str] | None = None) -> dict[str, Path]:
    """The latest snapshot per source to build from.

    Synthetic data is used only when no real source has been collected (or when asked for), so a
    real collection never gets mixed with made-up artists.
    """
    latest = raw.latest_sources(raw_dir)
    if only:
        missing = sorted(set(only) - set(latest))
        if missing:
            raise DataMissingError(f"no snapshot of {missing} in {raw_dir}: collect them first")
        return {s: latest[s] for s in only}
    if not latest:
        raise DataMissingError(f"no raw data in {raw_dir}: run `python scripts/collect.py` first")
    real = {s: p for s, p in latest.items() if s != "synthetic"}
    return real or latest


def _records(bundles: list[raw.RawBundle]) -> pd.DataFrame:
    """Every artist as each source names it, including artists only referenced by tracks/plays."""
    frames = []
    for b in bundles:
        artists = b.artists
        used = pd.concat([b.tracks[["artist_id", "artist_name"]], b.interactions[["artist_id"]]])
        extra = used[~used["artist_id"].isin(artists["artist_id"])].drop_duplicates("artist_id")
        if len(extra):
            names = extra["artist_name"].fillna(extra["artist_id"])
            stub = catalog.empty("artists").reindex(range(len(extra)))
            stub = stub.assign(artist_id=extra["artist_id"].to_numpy(), name=names.to_numpy())
            stub["genres"] = [[] for _ in range(len(stub))]
            stub["tags"] = [[] for _ in range(len(stub))]
            artists = pd.concat([artists, stub], ignore_index=True)
        frames.append(artists.assign(source=b.source).rename(columns={"artist_id": "source_id"}))
    return pd.concat(frames, ignore_index=True)


def _canonical(frame: pd.DataFrame, source: str, artist_map: pd.DataFrame) -> pd.Series:
    lookup = artist_map[artist_map["source"] == source].set_index("source_id")["artist_id"]
    return frame["artist_id"].astype(str).map(lookup)


def _merge_lists(members: pd.DataFrame, column: str, limit: int) -> pd.Series:
    exploded = members[["artist_id", column]].explode(column).dropna()
    exploded = exploded.drop_duplicates()
    return exploded.groupby("artist_id", sort=False)[column].agg(lambda v: list(v)[:limit])


def _merge_tags(members: pd.DataFrame) -> pd.Series:
    exploded = members[["artist_id", "tags"]].explode("tags").dropna()
    if exploded.empty:
        return pd.Series(dtype=object)
    flat = pd.DataFrame(
        {
            "artist_id": exploded["artist_id"].to_numpy(),
            "tag": [t["tag"] for t in exploded["tags"]],
            "weight": [t["weight"] for t in exploded["tags"]],
        }
    )
    summed = flat.groupby(["artist_id", "tag"], as_index=False)["weight"].sum()
    summed = summed.sort_values(["artist_id", "weight"], ascending=[True, False])
    summed = summed.groupby("artist_id").head(MAX_TAGS)
    summed["record"] = [
        {"tag": t, "weight": float(w)} for t, w in zip(summed["tag"], summed["weight"], strict=True)
    ]
    return summed.groupby("artist_id", sort=False)["record"].agg(list)


def _artists(members: pd.DataFrame, tracks: pd.DataFrame) -> pd.DataFrame:
    """One row per canonical artist, merged from its members (``members`` sorted by priority)."""
    grouped = members.groupby("artist_id", sort=False)
    reps = members[members["method"] == "canonical"].set_index("artist_id")
    out = pd.DataFrame(index=reps.index)
    out["name"] = reps["name"]
    empty_list = pd.Series([[]] * len(out), index=out.index, dtype=object)
    out["genres"] = (
        _merge_lists(members, "genres", MAX_GENRES).reindex(out.index).fillna(empty_list)
    )
    out["tags"] = _merge_tags(members).reindex(out.index).fillna(empty_list)
    out["popularity"] = grouped["popularity"].max()
    out["listeners"] = grouped["listeners"].max()
    by_tracks = tracks.groupby("artist_id")
    track_means = by_tracks[AUDIO_FEATURES].mean()
    own = grouped[AUDIO_FEATURES].first()
    has_tracks = out.index.isin(track_means.index)
    for f in AUDIO_FEATURES:
        out[f] = track_means[f].reindex(out.index).where(has_tracks, own[f].reindex(out.index))
    fs_tracks = by_tracks["features_source"].agg(lambda s: s.mode().iat[0])
    fs_own = grouped["features_source"].first()
    out["features_source"] = fs_tracks.reindex(out.index).where(
        has_tracks, fs_own.reindex(out.index)
    )
    out.loc[out["energy"].isna(), "features_source"] = None
    out["track_count"] = by_tracks.size().reindex(out.index).fillna(0).astype("int32")
    out["source"] = grouped["source"].agg(lambda s: "+".join(sorted(set(s))))
    # Artists known only by listener counts get a popularity from their listener percentile.
    listeners = out["listeners"].astype("float64")
    ranks = listeners.rank(pct=True) * 100
    out["popularity"] = out["popularity"].astype("float64").fillna(ranks)
    return out.reset_index()


def _interactions(bundles: list[raw.RawBundle], artist_map: pd.DataFrame) -> pd.DataFrame:
    frames = [
        b.interactions.assign(artist_id=_canonical(b.interactions, b.source, artist_map))
        for b in bundles
        if len(b.interactions)
    ]
    if not frames:
        return catalog.empty("interactions")
    plays = pd.concat(frames, ignore_index=True)
    # Merged case variants can give one user two rows for one artist: add them up.
    keys = ["user_id", "artist_id", "track_id"]
    return plays.groupby(keys, dropna=False, sort=False, as_index=False).agg(
        weight=("weight", "sum"), timestamp=("timestamp", "max"), source=("source", "first")
    )


def assemble(bundles: list[raw.RawBundle]) -> Catalog:
    """Resolve artist identities across ``bundles`` and build the catalog tables.

    Args:
        bundles: Raw bundles; when two hold the same track id, the higher-priority source wins
            (see :data:`tunescout.catalog.identity.SOURCE_PRIORITY`).

    Returns:
        A validated :class:`Catalog`.
    """
    if not bundles:
        raise SourceError("nothing to build: no source delivered any rows")
    order = {s: i for i, s in enumerate(identity.SOURCE_PRIORITY)}
    bundles = sorted(bundles, key=lambda b: order.get(b.source, len(order)))
    records = _records(bundles)
    artist_map = identity.resolve(records)
    members = records.merge(
        artist_map[["source", "source_id", "artist_id", "method"]], on=["source", "source_id"]
    )
    members = members.sort_values(
        "source", key=lambda s: s.map(order).fillna(len(order)), kind="stable"
    )
    track_frames = [
        b.tracks.assign(artist_id=_canonical(b.tracks, b.source, artist_map))
        for b in bundles
        if len(b.tracks)
    ]
    tracks = (
        pd.concat(track_frames, ignore_index=True).drop_duplicates("track_id")
        if track_frames
        else catalog.empty("tracks")
    )
    artists = _artists(members, tracks)
    # Tracks without a popularity (a development-mode Spotify app gets none since February 2026)
    # take their artist's, which comes from Last.fm listeners when Spotify gave none either.
    unknown = tracks["popularity"].isna()
    if unknown.any():
        known = artists.set_index("artist_id")["popularity"].astype("float64")
        popularity = tracks["popularity"].astype("float64")
        tracks["popularity"] = popularity.fillna(tracks["artist_id"].map(known))
    cat = Catalog(
        tracks=catalog.validate("tracks", tracks),
        artists=catalog.validate("artists", artists),
        artist_map=catalog.validate("artist_map", artist_map),
        interactions=catalog.validate("interactions", _interactions(bundles, artist_map)),
    )
    catalog.check_references(cat)
    return cat


def coverage(cat: Catalog, source: str = "hetrec") -> dict[str, float]:
    """How much of ``source``'s listening lands on artists with measured audio features."""
    plays = cat.interactions[cat.interactions["source"] == source]
    if plays.empty:
        return {}
    measured = set(cat.artists.loc[cat.artists["features_source"] == "measured", "artist_id"])
    hit = plays["artist_id"].isin(measured)
    artists = plays["artist_id"].drop_duplicates()
    return {
        "weight_share": float(plays.loc[hit, "weight"].sum() / plays["weight"].sum()),
        "artist_share": float(artists.isin(measured).mean()),
    }


def build_catalog(settings: Settings, only: list[str] | None = None) -> Catalog:
    """Assemble the catalog from the latest snapshots under ``settings.raw_dir`` and write it."""
    chosen = choose_snapshots(settings.raw_dir, only)
    log.info("building the catalog from %s", {s: p.name for s, p in chosen.items()})
    bundles = [raw.read_snapshot(p) for p in chosen.values()]
    cat = assemble(bundles)
    info = {
        "sources": {s: str(p) for s, p in chosen.items()},
        "synthetic": set(chosen) == {"synthetic"},
        "coverage": coverage(cat),
        "methods": cat.artist_map["method"].value_counts().to_dict(),
        "notes": [n for b in bundles for n in b.notes],
    }
    catalog.write_catalog(cat, settings.catalog_dir, info)
    return cat
