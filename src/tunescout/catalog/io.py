"""The catalog on disk: four validated Parquet tables plus a checksummed manifest, swapped in whole.

Writing: the new catalog goes to ``catalog.new/``, then ``catalog/`` becomes ``catalog.old/`` and
``catalog.new/`` becomes ``catalog/``, all under an exclusive lock on ``catalog.lock``.

Reading never writes and never takes the lock, except in one case: when ``catalog/`` is missing
and ``catalog.old/`` is whole, a writer was killed between its two renames, and a reader that can
take the lock (so no writer is alive: the kernel drops a dead process's lock) renames it back. A
reader opens the folder and all of its files at once, so a swap that happens meanwhile cannot mix
two catalogs (files are never changed in place), and reads them back against the manifest's sha256
of each file. Any failure is one :class:`~tunescout.errors.ArtifactError` naming the file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import logging
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from tunescout.catalog.schema import TABLES, to_arrow, to_pandas
from tunescout.errors import ArtifactError, CatalogError, DataMissingError

try:  # POSIX; elsewhere writers are not locked against each other (and readers never restore)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
BUILD_COMMAND = "python scripts/build.py"
MAX_MANIFEST_BYTES = 16 << 20  # a catalog manifest is a few kB; its notes grow with sources
MAX_JSON_DEPTH = 64  # the deepest manifest tunescout writes is 4 levels
OPEN_ATTEMPTS = 6  # a swap under way makes an open fail at most once or twice
WRITER_WAIT = 60.0  # seconds a reader waits for a live writer between its two renames
_HEX64 = re.compile(r"[0-9a-f]{64}")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


@dataclass
class Catalog:
    """The four catalog tables, keyed by canonical artist ids.

    ``manifest`` is the manifest the tables were read with (empty for a catalog made in memory).
    """

    tracks: pd.DataFrame
    artists: pd.DataFrame
    artist_map: pd.DataFrame
    interactions: pd.DataFrame
    manifest: dict = field(default_factory=dict, repr=False, compare=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {name: getattr(self, name) for name in TABLES}

    @classmethod
    def read(cls, directory: Path) -> Catalog:
        """Read a catalog written by :func:`write_catalog`."""
        return read_catalog(directory)


def check_references(cat: Catalog) -> None:
    """Raise :class:`CatalogError` when a table points at an artist or track the catalog lacks."""
    known = set(cat.artists["artist_id"])
    errors = []
    for table in ("tracks", "artist_map", "interactions"):
        bad = int((~getattr(cat, table)["artist_id"].isin(known)).sum())
        if bad:
            errors.append(f"{table}.artist_id: {bad} rows name an artist missing from artists")
    tracks = cat.interactions["track_id"].dropna()
    bad = int((~tracks.isin(set(cat.tracks["track_id"]))).sum())
    if bad:
        errors.append(f"interactions.track_id: {bad} rows name a track missing from tracks")
    if errors:
        raise CatalogError("; ".join(errors))


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes."""
    with Path(path).open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


# ---- bounded JSON ------------------------------------------------------------------------------


def parse_json(
    data: bytes | str, max_bytes: int = MAX_MANIFEST_BYTES, max_depth: int = MAX_JSON_DEPTH
) -> object:
    """JSON from a file tunescout wrote, within bounds: at most ``max_bytes`` and ``max_depth``
    levels of nesting (measured before parsing, so hostile nesting never reaches the recursive
    decoder).

    Raises:
        ValueError: Too large, too deeply nested or not JSON; the message says which.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    if len(raw) > max_bytes:
        raise ValueError(f"larger than {max_bytes:,} bytes")
    brackets = _STRING.sub(b'""', raw).translate(None, _NOT_BRACKETS)
    if brackets:
        steps = np.frombuffer(brackets, dtype=np.uint8)
        depth = np.cumsum(np.where((steps == ord("[")) | (steps == ord("{")), 1, -1)).max()
        if depth > max_depth:
            raise ValueError(f"nested deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at line {exc.lineno}") from None
    except (ValueError, RecursionError):  # not UTF-8 text; nesting the scan did not see
        raise ValueError("not valid JSON") from None


def read_json(path: Path, max_bytes: int = MAX_MANIFEST_BYTES) -> object:
    """:func:`parse_json` of a file, read no further than ``max_bytes`` + 1 bytes."""
    with Path(path).open("rb") as fh:
        return parse_json(fh.read(max_bytes + 1), max_bytes)


# ---- the writer's lock and the crash recovery ---------------------------------------------------


def _siblings(directory: Path) -> tuple[Path, Path, Path]:
    """``catalog.new``, ``catalog.old`` and ``catalog.lock`` beside ``directory``."""
    return tuple(directory.with_name(directory.name + s) for s in (".new", ".old", ".lock"))  # type: ignore[return-value]


@contextlib.contextmanager
def exclusive(directory: Path, wait: float | None = None) -> Iterator[bool]:
    """Hold the catalog's writer lock; yields whether it is held (``False`` when ``wait`` seconds
    passed first, or when the lock file cannot be made, e.g. in a read-only data dir)."""
    if fcntl is None:  # pragma: no cover
        yield True
        return
    lock = _siblings(directory)[2]
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)
    except OSError:
        yield False
        return
    try:
        deadline = None if wait is None else time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if deadline is None else fcntl.LOCK_NB))
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    yield False
                    return
                time.sleep(0.005)
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _restore(directory: Path) -> bool:
    """Under the lock: bring ``catalog.old`` back when a writer died between its two renames."""
    old = _siblings(directory)[1]
    if not directory.exists() and (old / MANIFEST).is_file():
        old.rename(directory)
        log.warning("restored the previous catalog in %s after an interrupted write", directory)
        return True
    return False


def _recover(directory: Path) -> None:
    """When ``catalog`` is missing but ``catalog.old`` is whole: wait for a live writer to finish
    its swap, or, when none is alive, restore ``catalog.old``. Never renames under a live writer."""
    old = _siblings(directory)[1]
    if directory.exists() or not (old / MANIFEST).is_file():
        return
    with exclusive(directory, wait=WRITER_WAIT) as held:
        if held:
            with contextlib.suppress(OSError):  # read-only data dir: report it missing below
                _restore(directory)


# ---- writing ------------------------------------------------------------------------------------


def write_catalog(cat: Catalog, directory: Path, info: dict | None = None) -> Path:
    """Validate and write the catalog as Parquet plus ``manifest.json``, replacing it whole.

    The new catalog is written beside the old one and swapped in only when complete, so a failed
    write leaves the previous catalog as it was. Writers take turns (``catalog.lock``).

    Args:
        cat: The tables.
        directory: Usually ``<data-dir>/catalog``.
        info: Extra facts for the manifest (e.g. which sources were used).

    Returns:
        ``directory``.
    """
    arrow = {name: to_arrow(name, df) for name, df in cat.tables().items()}
    check_references(cat)
    directory = Path(directory)
    directory.parent.mkdir(parents=True, exist_ok=True)
    staging, old, _ = _siblings(directory)
    with exclusive(directory):
        _restore(directory)  # a writer killed mid-swap: its old catalog is the current one
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        files = {}
        for name, table in arrow.items():
            path = staging / f"{name}.parquet"
            pq.write_table(table, path)
            files[path.name] = file_sha256(path)
        manifest = {
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "rows": {name: table.num_rows for name, table in arrow.items()},
            "sha256": files,
            "catalog_hash": _catalog_hash(files),
            **(info or {}),
        }
        (staging / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))
        shutil.rmtree(old, ignore_errors=True)
        if directory.exists():
            directory.rename(old)
        staging.rename(directory)
        shutil.rmtree(old, ignore_errors=True)
    log.info("catalog written to %s: %s", directory, manifest["rows"])
    return directory


def _catalog_hash(files: dict[str, str]) -> str:
    return hashlib.sha256("".join(sorted(files.values())).encode()).hexdigest()


# ---- reading ------------------------------------------------------------------------------------


def _shown(directory: Path, name: str = "") -> str:
    """A catalog path as messages show it: relative to the data dir (``catalog/tracks.parquet``)."""
    return f"{directory.name}/{name}"


def _corrupt(directory: Path, name: str, problem: str) -> ArtifactError:
    return ArtifactError(f"{_shown(directory, name)} {problem}; rebuild with: {BUILD_COMMAND}")


def _missing(directory: Path) -> DataMissingError:
    return DataMissingError(
        f"no catalog yet ({_shown(directory, MANIFEST)} is missing): "
        "run `python scripts/collect.py` then `python scripts/build.py`"
    )


class _Swapped(Exception):
    """A file vanished while the catalog was being opened: a writer swapped it; try again."""


@dataclass
class _Opened:
    """A catalog folder opened at one instant: the manifest and handles on its table files."""

    manifest: dict
    files: dict[str, BinaryIO]

    def close(self) -> None:
        for fh in self.files.values():
            fh.close()


def _open_in(dir_fd: int, name: str, directory: Path) -> int:
    try:
        fd = os.open(name, os.O_RDONLY | _NOFOLLOW, dir_fd=dir_fd)
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise _corrupt(directory, name, "is not a file")
        return fd
    except FileNotFoundError:
        raise _Swapped(name) from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise _corrupt(
                directory, name, "is a symbolic link (the catalog is read only from its own files)"
            ) from None
        raise _corrupt(directory, name, f"cannot be read ({exc.strerror})") from None


def _open_once(directory: Path, tables: tuple[str, ...]) -> _Opened:
    """Open the folder, its manifest and the files of ``tables`` at once."""
    try:
        dir_fd = os.open(directory, os.O_RDONLY | _DIRECTORY | _NOFOLLOW)
    except FileNotFoundError:
        raise _Swapped("") from None
    except OSError as exc:
        if directory.is_symlink():
            raise ArtifactError(
                f"{_shown(directory)} is a symbolic link; the catalog is read only from inside "
                f"the data dir: replace the link, or rebuild with: {BUILD_COMMAND}"
            ) from None
        raise _corrupt(directory, "", f"cannot be opened ({exc.strerror})") from None
    files: dict[str, BinaryIO] = {}
    try:
        with os.fdopen(_open_in(dir_fd, MANIFEST, directory), "rb") as fh:
            text = fh.read(MAX_MANIFEST_BYTES + 1)
        for table in tables:
            files[table] = os.fdopen(_open_in(dir_fd, f"{table}.parquet", directory), "rb")
    except BaseException:
        for fh in files.values():
            fh.close()
        raise
    finally:
        os.close(dir_fd)
    opened = _Opened({}, files)
    try:
        opened.manifest = _check_manifest(directory, text)
    except BaseException:
        opened.close()
        raise
    return opened


def _open(directory: Path, tables: tuple[str, ...]) -> _Opened:
    """:func:`_open_once`, again while a writer's swap makes files vanish underneath."""
    directory = Path(directory)
    staging, old, _ = _siblings(directory)
    for attempt in range(OPEN_ATTEMPTS):
        _recover(directory)
        try:
            return _open_once(directory, tables)
        except _Swapped as gone:
            name = gone.args[0]
            nothing = not name and not staging.exists() and not old.exists()  # no catalog at all
            if nothing or attempt == OPEN_ATTEMPTS - 1:
                if name in ("", MANIFEST):
                    raise _missing(directory) from None
                raise _corrupt(directory, name, "is missing") from None
            time.sleep(0.002 * 2**attempt)  # 62 ms in all: a swap takes microseconds
    raise AssertionError("unreachable")  # pragma: no cover


def _check_manifest(directory: Path, text: bytes) -> dict:
    """The manifest, if it is one this module wrote: a digest per table file and the catalog hash."""
    try:
        manifest = parse_json(text)
    except ValueError as exc:
        raise _corrupt(directory, MANIFEST, f"is corrupt ({exc})") from None
    if not isinstance(manifest, dict):
        raise _corrupt(directory, MANIFEST, f"is corrupt (holds a {type(manifest).__name__})")
    digests = manifest.get("sha256")
    if not isinstance(digests, dict):
        raise _corrupt(directory, MANIFEST, "is corrupt (no sha256 of the tables)")
    for table in TABLES:
        value = digests.get(f"{table}.parquet")
        if not isinstance(value, str) or not _HEX64.fullmatch(value):
            raise _corrupt(directory, MANIFEST, f"is corrupt (no sha256 of {table}.parquet)")
    if manifest.get("catalog_hash") != _catalog_hash(digests):
        raise _corrupt(
            directory, MANIFEST, "is corrupt (its catalog_hash does not match its files)"
        )
    rows = manifest.get("rows")
    if not isinstance(rows, dict) or not all(
        isinstance(rows.get(t), int) and not isinstance(rows.get(t), bool) for t in TABLES
    ):
        raise _corrupt(directory, MANIFEST, "is corrupt (no row count of each table)")
    return manifest


def read_manifest(directory: Path) -> dict:
    """The catalog's ``manifest.json``, checked to be one :func:`write_catalog` wrote.

    Raises:
        DataMissingError: There is no catalog.
        ArtifactError: The manifest is corrupt, too large or too deeply nested, or the folder is a
            symbolic link (names the file and the rebuild command).
    """
    opened = _open(Path(directory), ())
    opened.close()
    return opened.manifest


def _read_table(directory: Path, name: str, fh: BinaryIO, manifest: dict) -> pd.DataFrame:
    """One table after its bytes matched the manifest's sha256 and its rows the manifest's count."""
    shown = f"{name}.parquet"
    try:
        found = hashlib.file_digest(fh, "sha256").hexdigest()
        fh.seek(0)
    except OSError as exc:  # a folder in its place, an I/O error
        raise _corrupt(directory, shown, f"cannot be read ({exc.strerror})") from None
    if found != manifest["sha256"][shown]:
        raise _corrupt(directory, shown, "is corrupt (sha256 mismatch)")
    # One chunk per column: taking 10 rows from a 1M-row string column split into row-group chunks
    # cost 2.6 ms, against 0.1 ms from one chunk (every result table does such takes).
    # Interactions repeat a few user and artist ids millions of times: as categories they take
    # 74 MB instead of 247 MB at 3M rows.
    ids = {"interactions": ["user_id", "artist_id", "track_id", "source"]}
    try:
        table = pq.read_table(fh, read_dictionary=ids.get(name)).combine_chunks()
        if table.num_rows != manifest["rows"][name]:
            says = f"{table.num_rows} rows, its manifest says {manifest['rows'][name]}"
            raise _corrupt(directory, shown, f"is corrupt ({says})")
        return to_pandas(table)
    except (pa.ArrowException, OSError, ValueError, TypeError, KeyError) as exc:
        raise _corrupt(directory, shown, f"cannot be read ({type(exc).__name__})") from exc


def read_catalog(directory: Path) -> Catalog:
    """Read a catalog written by :func:`write_catalog`, every file checked against its manifest.

    Raises:
        DataMissingError: There is no catalog.
        ArtifactError: A file is missing, corrupt, a symbolic link, or does not match the
            manifest (names the file and the rebuild command).
    """
    directory = Path(directory)
    opened = _open(directory, tuple(TABLES))
    try:
        frames = {
            name: _read_table(directory, name, fh, opened.manifest)
            for name, fh in opened.files.items()
        }
    finally:
        opened.close()
    pa.default_memory_pool().release_unused()  # the Arrow copies are gone: give the pages back
    return Catalog(**frames, manifest=opened.manifest)
