"""Collection: run one source, or ``auto`` (APIs → public downloads → local files → synthetic),
and write what it returns as weekly raw snapshots.

A source that fails or delivers nothing never replaces a saved snapshot: it raises
:class:`~tunescout.errors.SourceError` (Last.fm and Spotify raise it when most of their requests
fail, and a bundle with no rows is refused before anything is written), and ``auto`` then falls
back to the next source.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from tunescout.catalog import snapshots as raw
from tunescout.catalog.snapshots import RawBundle
from tunescout.collect.sources import files
from tunescout.config import Settings
from tunescout.errors import SourceError

log = logging.getLogger(__name__)
SOURCES = ("auto", "spotify", "lastfm", "public", "files", "synthetic")
APIS = ("spotify", "lastfm")  # their notes (API mode, skipped requests) go into the message


@dataclass
class Options:
    """What each source needs beyond the settings; defaults suit a first run."""

    file_paths: dict[str, Path] = field(default_factory=dict)
    synthetic_tracks: int = 20_000
    synthetic_users: int = 2_000
    seed: int = 0
    spotify: dict = field(default_factory=dict)
    lastfm: dict = field(default_factory=dict)
    public: dict = field(default_factory=dict)


@dataclass
class Outcome:
    """What was collected and why this source was chosen."""

    source: str
    snapshots: list[Path]
    reasons: list[str]
    notes: list[str] = field(default_factory=list)

    @property
    def message(self) -> str:
        return "; ".join([*self.reasons, f"collected {self.source}", *self.notes])


def _spotify(settings: Settings, opts: Options) -> list[RawBundle]:
    from tunescout.collect.sources.spotify import collect_spotify

    fallback = {}
    found = opts.file_paths or files.find_files(settings.data_dir)
    if "tidytuesday" in found:
        fallback["features_by_track"] = files.read_tidytuesday(found["tidytuesday"]).tracks
    if "spotify1921" in found:
        fallback["features_by_artist"] = files.read_artist_profiles(found["spotify1921"]).artists
    return [collect_spotify(settings, **fallback, **opts.spotify)]


def _lastfm(settings: Settings, opts: Options) -> list[RawBundle]:
    from tunescout.collect.sources.lastfm import collect_lastfm

    return [collect_lastfm(settings, **opts.lastfm)]


def _public(settings: Settings, opts: Options) -> list[RawBundle]:
    from tunescout.collect.sources.public import collect_public

    return collect_public(settings, **opts.public)


def _files(settings: Settings, opts: Options) -> list[RawBundle]:
    paths = opts.file_paths or files.find_files(settings.data_dir)
    if not paths:
        raise SourceError(
            f"no data files given and none found under {settings.data_dir} "
            "(spotify_songs.csv, data_w_genres.csv, dataset.csv, a HetRec folder)"
        )
    return files.read_files(paths)


def _synthetic(settings: Settings, opts: Options) -> list[RawBundle]:
    from tunescout.collect.sources.synthetic import generate

    return [
        generate(
            n_tracks=opts.synthetic_tracks,
            n_users=opts.synthetic_users,
            seed=opts.seed,
            progress=True,
        )
    ]


_COLLECTORS = {
    "spotify": _spotify,
    "lastfm": _lastfm,
    "public": _public,
    "files": _files,
    "synthetic": _synthetic,
}


def _run(name: str, settings: Settings, opts: Options) -> list[RawBundle]:
    """One source's bundles, each with rows (else :class:`SourceError`; nothing is written)."""
    bundles = _COLLECTORS[name](settings, opts)
    for bundle in bundles:
        raw.check_not_empty(settings.raw_dir, bundle)
    return bundles


def _save(settings: Settings, bundles: list[RawBundle]) -> list[Path]:
    paths = []
    for bundle in bundles:
        for note in bundle.notes:
            log.info(note)
        paths.append(raw.write_snapshot(settings.raw_dir, bundle))
    return paths


def _outcome(settings: Settings, bundles: list[RawBundle], reasons: list[str]) -> Outcome:
    source = "+".join(b.source for b in bundles)
    notes = [n for b in bundles if b.source in APIS for n in b.notes]
    return Outcome(source, _save(settings, bundles), reasons, notes)


def _auto(settings: Settings, opts: Options) -> Outcome:
    reasons = []
    apis = []
    for name, has, needs in (
        ("spotify", settings.has_spotify, "SPOTIFY_CLIENT_ID/SPOTIFY_CLIENT_SECRET"),
        ("lastfm", settings.has_lastfm, "LASTFM_API_KEY"),
    ):
        if not has:
            reasons.append(f"{name} skipped: no {needs} in the environment or .env")
            continue
        try:
            apis += _run(name, settings, opts)
        except SourceError as exc:
            reasons.append(f"{name} failed: {exc}")
    if apis:
        return _outcome(settings, apis, reasons)
    for name in ("public", "files", "synthetic"):
        try:
            bundles = _run(name, settings, opts)
        except SourceError as exc:
            reasons.append(f"{name} failed: {exc}")
            continue
        outcome = _outcome(settings, bundles, reasons)
        outcome.source = name
        return outcome
    raise SourceError("; ".join(reasons))


def collect(settings: Settings, source: str = "auto", opts: Options | None = None) -> Outcome:
    """Collect from ``source`` and write raw snapshots.

    Args:
        settings: Paths and credentials.
        source: One of :data:`SOURCES`; ``auto`` tries the APIs (when credentials exist), then
            public downloads, then files under the data dir, then synthetic data.
        opts: Per-source options.

    Returns:
        The snapshots written and, for ``auto``, why each earlier choice was passed over.

    Raises:
        SourceError: The source failed or delivered nothing (for ``auto``: every source did);
            saved snapshots are unchanged.
    """
    opts = opts or Options()
    if source == "auto":
        outcome = _auto(settings, opts)
    elif source in _COLLECTORS:
        outcome = _outcome(settings, _run(source, settings, opts), [])
        outcome.source = source
    else:
        raise SourceError(f"unknown source {source!r}; choose from {list(SOURCES)}")
    log.info("%s", outcome.message)
    return outcome
