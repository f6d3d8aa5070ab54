"""Raw snapshots: what one collection from one source returned, kept per ISO week.

Layout: ``<data-dir>/raw/<source>/<ISO-year>-W<week>/{tracks,artists,interactions}.parquet`` plus
``manifest.json``. A snapshot is written to a staging folder and renamed into place when complete,
so a folder with a manifest is always whole; a later week never touches an earlier one. A snapshot
with no rows is never written (an outage must not replace what was saved), and one that replaces
this week's is renamed aside first, so a kill between the renames still leaves one snapshot.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tunescout import catalog
from tunescout.catalog.io import exclusive, read_json
from tunescout.errors import ArtifactError, SourceError

log = logging.getLogger(__name__)
RAW_TABLES = ("tracks", "artists", "interactions")
WEEK = re.compile(r"\d{4}-W\d{2}")
REPLACED = ".replaced"  # this week's previous snapshot while the new one is renamed into place


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

    @property
    def rows(self) -> int:
        """Rows in all three tables together (0: the source delivered nothing)."""
        return sum(len(frame) for frame in self.frames().values())


def week_label(when: dt.datetime | None = None) -> str:
    """``2026-W47`` for the ISO week of ``when`` (default: now, UTC)."""
    year, week, _ = (when or dt.datetime.now(dt.UTC)).isocalendar()
    return f"{year}-W{week:02d}"


def check_not_empty(raw_dir: Path, bundle: RawBundle) -> None:
    """Raise :class:`SourceError` when ``bundle`` holds no rows, naming the snapshot that stays."""
    if bundle.rows:
        return
    kept = latest_sources(raw_dir).get(bundle.source)
    saved = (
        f"the saved snapshot {bundle.source}/{kept.name} is kept"
        if kept
        else "no snapshot was written"
    )
    raise SourceError(f"{bundle.source} delivered no tracks, artists or listening; {saved}")


def write_snapshot(raw_dir: Path, bundle: RawBundle, when: dt.datetime | None = None) -> Path:
    """Validate ``bundle`` and write it as this week's snapshot of its source.

    Re-collecting in the same week replaces that week's snapshot whole; earlier weeks are kept.

    Returns:
        The snapshot folder.

    Raises:
        SourceError: The bundle has no rows (nothing is written; a saved snapshot stays).
        CatalogError: A table does not match the catalog schema.
    """
    check_not_empty(raw_dir, bundle)
    tables = {name: catalog.to_arrow(name, df) for name, df in bundle.frames().items()}
    target = Path(raw_dir) / bundle.source / week_label(when)
    target.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(target.parent / "_write"):
        return _write(target, bundle, tables)


def _write(target: Path, bundle: RawBundle, tables: dict[str, pa.Table]) -> Path:
    staging = target.with_name(target.name + ".partial")
    replaced = target.with_name(target.name + REPLACED)
    if not target.exists() and (replaced / "manifest.json").is_file():
        replaced.rename(target)  # a writer killed between its renames: its old snapshot is back
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
    shutil.rmtree(replaced, ignore_errors=True)
    if target.exists():
        target.rename(replaced)
    staging.rename(target)
    shutil.rmtree(replaced, ignore_errors=True)
    log.info("snapshot %s: %s", target, manifest["rows"])
    return target


def snapshots(raw_dir: Path, source: str) -> list[Path]:
    """Complete snapshots of ``source``, oldest first: one folder per ISO week (a week whose
    replacement was cut off between its two renames is read from its ``.replaced`` folder)."""
    folder = Path(raw_dir) / source
    if not folder.is_dir():
        return []
    weeks: dict[str, Path] = {}
    for path in folder.iterdir():
        week = path.name.removesuffix(REPLACED)
        if not WEEK.fullmatch(week) or not (path / "manifest.json").is_file():
            continue
        if path.name == week or week not in weeks:  # the week's own folder wins
            weeks[week] = path
    return [weeks[w] for w in sorted(weeks)]


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
    shown = f"raw/{folder.parent.name}/{folder.name}"
    again = f"collect it again with: python scripts/collect.py --source {folder.parent.name}"
    try:
        manifest = read_json(folder / "manifest.json")
        if not isinstance(manifest, dict):
            raise ValueError(f"holds a {type(manifest).__name__}")
        frames = {
            name: catalog.to_pandas(pq.read_table(folder / f"{name}.parquet"))
            for name in RAW_TABLES
        }
        params, notes = manifest.get("params", {}), manifest.get("notes", [])
        return RawBundle(
            source=str(manifest["source"]),
            params=params if isinstance(params, dict) else {},
            notes=[str(n) for n in notes] if isinstance(notes, list) else [],
            **frames,
        )
    except (OSError, ValueError, KeyError, TypeError, pa.ArrowException) as exc:
        raise ArtifactError(f"the snapshot {shown} cannot be read ({exc}); {again}") from exc
