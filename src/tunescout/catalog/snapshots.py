"""Raw snapshots: what one collection from one source returned, kept per ISO week.

Layout: ``<data-dir>/raw/<source>/<ISO-year>-W<week>/{tracks,artists,interactions}.parquet`` plus
``manifest.json``. A snapshot is written to a staging folder and renamed into place when complete,
so a folder with a manifest is always whole; a later week never touches an earlier one.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from tunescout import catalog

log = logging.getLogger(__name__)
RAW_TABLES = ("tracks", "artists", "interactions")


@dataclass
class RawBundle:
    """One source's collected rows in catalog schema, with that source's own artist ids.

    Attributes:
        source: The data set or API the rows come from (``spotify``, ``lastfm``, ``hetrec``,
            ``tidytuesday``, ``kaggle``, ``spotify1921``, ``synthetic``); it names the snapshot folder
            and the ``source`` column of ``artist_map``.
        tracks, artists, interactions: Frames in the catalog schema (missing ones are empty).
        params: How the rows were collected (recorded in the manifest).
        notes: Facts worth telling the user (rows dropped and why, licence notes).
    """

    source: str
    tracks: pd.DataFrame = field(default_factory=lambda: catalog.empty("tracks"))
    artists: pd.DataFrame = field(default_factory=lambda: catalog.empty("artists"))
    interactions: pd.DataFrame = field(default_factory=lambda: catalog.empty("interactions"))
    params: dict = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def frames(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in RAW_TABLES}


def week_label(when: dt.datetime | None = None) -> str:
    """``2026-W47`` for the ISO week of ``when`` (default: now, UTC)."""
    year, week, _ = (when or dt.datetime.now(dt.UTC)).isocalendar()
    return f"{year}-W{week:02d}"


def write_snapshot(raw_dir: Path, bundle: RawBundle, when: dt.datetime | None = None) -> Path:
    """Validate ``bundle`` and write it as this week's snapshot of its source.

    Re-collecting in the same week replaces that week's snapshot whole; earlier weeks are kept.

    Returns:
        The snapshot folder.
    """
    tables = {name: catalog.to_arrow(name, df) for name, df in bundle.frames().items()}
    target = Path(raw_dir) / bundle.source / week_label(when)
    staging = target.with_name(target.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    for name, table in tables.items():
        pq.write_table(table, staging / f"{name}.parquet")
    manifest = {
        "source": bundle.source,
        "week": target.name,
        "collected_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "rows": {name: table.num_rows for name, table in tables.items()},
        "params": bundle.params,
        "notes": bundle.notes,
    }
    (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, default=str))
    if target.exists():
        shutil.rmtree(target)
    staging.rename(target)
    log.info("snapshot %s: %s", target, manifest["rows"])
    return target


def snapshots(raw_dir: Path, source: str) -> list[Path]:
    """Complete snapshots of ``source``, oldest first."""
    folder = Path(raw_dir) / source
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if (p / "manifest.json").is_file())


def latest_sources(raw_dir: Path) -> dict[str, Path]:
    """The latest complete snapshot of every source under ``raw_dir``."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        return {}
    found = {p.name: snapshots(raw_dir, p.name) for p in sorted(raw_dir.iterdir()) if p.is_dir()}
    return {source: paths[-1] for source, paths in found.items() if paths}


def read_snapshot(folder: Path) -> RawBundle:
    """Read a snapshot folder back into a :class:`RawBundle`."""
    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    frames = {
        name: catalog.to_pandas(pq.read_table(folder / f"{name}.parquet")) for name in RAW_TABLES
    }
    return RawBundle(
        source=manifest["source"], params=manifest["params"], notes=manifest["notes"], **frames
    )
