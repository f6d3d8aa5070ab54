"""Listeners' artist ratings and "play next" queues, kept per profile name in SQLite.

Safe for the app's many sessions at once: every call opens its own short connection, the database
runs in WAL mode with a busy timeout, and writes take the write lock up front (``BEGIN IMMEDIATE``).
"""

from __future__ import annotations

import csv
import io
import logging
import sqlite3
import unicodedata
from collections.abc import Container, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from tunescout.errors import InputError, StorageError

log = logging.getLogger(__name__)

MAX_PROFILE_CHARS = 64
MAX_IMPORT_BYTES = 2_000_000
MAX_QUEUE = 50
CSV_COLUMNS = ("artist_id", "stars", "updated_at")
SCHEMA = """
CREATE TABLE IF NOT EXISTS ratings (
    profile TEXT NOT NULL,
    artist_id TEXT NOT NULL,
    stars INTEGER NOT NULL CHECK (stars BETWEEN 1 AND 5),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (profile, artist_id)
);
CREATE TABLE IF NOT EXISTS queue (
    profile TEXT NOT NULL,
    position INTEGER NOT NULL,
    track_id TEXT NOT NULL,
    PRIMARY KEY (profile, position)
);
"""


class ImportRejected(InputError):
    """A ratings file that cannot be imported; ``problems`` lists each bad row and why."""

    def __init__(self, message: str, problems: list[str]) -> None:
        super().__init__(message)
        self.problems = problems


def validate_profile(name: object) -> str:
    """Return ``name`` as a profile key (NFC-normalised), or raise.

    Any language is fine; control and other invisible format characters, path separators and
    surrounding whitespace are not, so a name always reads the same as it is stored.

    Raises:
        InputError: The name is empty, too long or holds a forbidden character.
    """
    if not isinstance(name, str):
        raise InputError(f"a profile name must be text, got {type(name).__name__}")
    name = unicodedata.normalize("NFC", name)
    if not 1 <= len(name) <= MAX_PROFILE_CHARS:
        raise InputError(
            f"a profile name needs 1 to {MAX_PROFILE_CHARS} characters, got {len(name)}"
        )
    if name != name.strip():
        raise InputError("a profile name cannot start or end with a space")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise InputError("a profile name cannot contain control or invisible characters")
    if any(c in "/\\" for c in name) or name in {".", ".."}:
        raise InputError("a profile name cannot contain '/' or '\\' or be '.' or '..'")
    return name


def _check_stars(stars: object) -> int:
    if isinstance(stars, bool) or not isinstance(stars, int) or not 1 <= stars <= 5:
        raise InputError(f"stars must be a whole number from 1 to 5, got {stars!r}")
    return int(stars)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _parse_stars(text: str) -> int | str:
    """Stars from a CSV cell, or why the cell is not usable."""
    value = text.strip()
    if value.casefold() in {"", "nan", "na", "null", "none"}:
        return "stars is missing"
    try:
        number = float(value)
    except ValueError:
        return f"stars {value[:20]!r} is not a number"
    if not number.is_integer() or not 1 <= number <= 5:
        return f"stars {value[:20]!r} is not a whole number from 1 to 5"
    return int(number)


def parse_ratings_csv(data: bytes | str, known: Container[str] | None = None) -> dict[str, int]:
    """Read a ratings CSV (columns ``artist_id`` and ``stars``; others are ignored).

    Args:
        data: The file's bytes (UTF-8, with or without BOM) or text.
        known: When given, artist ids outside it are rejected.

    Returns:
        Artist id to stars.

    Raises:
        ImportRejected: Wrong encoding, missing columns, truncated or malformed lines, missing
            or out-of-range stars, duplicate or unknown artists — every bad row is listed.
    """
    if isinstance(data, bytes):
        if len(data) > MAX_IMPORT_BYTES:
            raise ImportRejected(f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB", [])
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportRejected(
                f"the file is not UTF-8 text (byte {exc.start} cannot be read)", []
            ) from exc
    data = data.removeprefix("\ufeff")
    try:
        rows = list(csv.reader(io.StringIO(data, newline=""), strict=True))
    except csv.Error as exc:
        raise ImportRejected(f"the file is not valid CSV: {exc}", []) from exc
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise ImportRejected("the file is empty: expected a header with artist_id and stars", [])
    header = [cell.strip().casefold() for cell in rows[0]]
    missing = [c for c in ("artist_id", "stars") if c not in header]
    if missing:
        raise ImportRejected(f"missing column(s) {missing}; the header has {rows[0]}", [])
    id_col, stars_col = header.index("artist_id"), header.index("stars")
    ratings: dict[str, int] = {}
    problems = []
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        problem = _row_problem(row, len(header), id_col, stars_col, ratings, known)
        if isinstance(problem, str):
            problems.append(f"line {line}: {problem}")
        else:
            ratings[row[id_col].strip()] = problem
    if problems:
        shown = "; ".join(problems[:3]) + (
            f"; and {len(problems) - 3} more" if len(problems) > 3 else ""
        )
        raise ImportRejected(f"nothing imported, {len(problems)} bad row(s): {shown}", problems)
    if not ratings:
        raise ImportRejected("the file has a header but no ratings", [])
    return ratings


def _row_problem(
    row: list[str],
    width: int,
    id_col: int,
    stars_col: int,
    seen: dict[str, int],
    known: Container[str] | None,
) -> str | int:
    """Why a data row is bad, or its stars when it is good."""
    if len(row) != width:
        return f"has {len(row)} field(s), the header has {width} (truncated or extra commas?)"
    artist = row[id_col].strip()
    if not artist:
        return "artist_id is empty"
    if artist in seen:
        return f"artist {artist[:40]!r} appears more than once"
    if known is not None and artist not in known:
        return f"artist {artist[:40]!r} is not in the catalog"
    return _parse_stars(row[stars_col])


class RatingsStore:
    """Ratings and play-next queues of every profile in one SQLite file.

    Args:
        path: The database file (created with its folder when missing).
        timeout: Seconds a write waits for another writer before giving up.

    Example:
        >>> store = RatingsStore(tmp_path / "ratings.sqlite")
        >>> store.rate("ana", "ar1", 5)
        >>> store.ratings("ana")
        {'ar1': 5}
    """

    def __init__(self, path: str | Path, timeout: float = 10.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connection() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A short connection; SQLite's own errors come out as one-line :class:`StorageError`."""
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(
                f"the ratings database {self.path} cannot be opened ({exc})"
            ) from exc
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            # In WAL mode NORMAL keeps every commit safe from an app crash without an fsync each.
            conn.execute("PRAGMA synchronous=NORMAL")
            yield conn
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise StorageError(
                    f"the ratings database {self.path} cannot be used ({exc})"
                ) from exc
            raise StorageError(
                f"the ratings database is busy (another write held it for over {self.timeout:g} s); "
                "nothing was changed, try again"
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"the ratings database {self.path} cannot be used ({exc})") from exc
        finally:
            conn.close()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One all-or-nothing write transaction holding the write lock from its start."""
        with self._connection() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # ---- ratings ----------------------------------------------------------------------------

    def rate(self, profile: str, artist_id: str, stars: int) -> None:
        """Save (or change) one rating."""
        profile, stars = validate_profile(profile), _check_stars(stars)
        if not isinstance(artist_id, str) or not artist_id.strip():
            raise InputError("artist_id must be a non-empty string")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO ratings VALUES (?, ?, ?, ?) ON CONFLICT (profile, artist_id) "
                "DO UPDATE SET stars = excluded.stars, updated_at = excluded.updated_at",
                (profile, artist_id, stars, _now()),
            )

    def forget(self, profile: str, artist_id: str) -> bool:
        """Delete one rating; whether it existed."""
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM ratings WHERE profile = ? AND artist_id = ?",
                (validate_profile(profile), artist_id),
            )
        return cur.rowcount > 0

    def delete_profile(self, profile: str) -> int:
        """Delete every rating and the queue of a profile; how many ratings went."""
        profile = validate_profile(profile)
        with self._write() as conn:
            count = conn.execute("DELETE FROM ratings WHERE profile = ?", (profile,)).rowcount
            conn.execute("DELETE FROM queue WHERE profile = ?", (profile,))
        return count

    def ratings(self, profile: str) -> dict[str, int]:
        """Artist id to stars, oldest rating first."""
        table = self.table(profile)
        return {a: int(s) for a, s in zip(table["artist_id"], table["stars"], strict=True)}

    def table(self, profile: str) -> pd.DataFrame:
        """The profile's ratings as ``artist_id, stars, updated_at``, oldest first."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT artist_id, stars, updated_at FROM ratings WHERE profile = ? "
                "ORDER BY updated_at, rowid",
                (validate_profile(profile),),
            ).fetchall()
        return pd.DataFrame(rows, columns=list(CSV_COLUMNS)).astype({"stars": "int64"})

    def profiles(self) -> list[str]:
        """Every profile with at least one rating, sorted."""
        with self._connection() as conn:
            rows = conn.execute("SELECT DISTINCT profile FROM ratings ORDER BY profile").fetchall()
        return [r[0] for r in rows]

    def export_csv(self, profile: str) -> str:
        """The profile's ratings as CSV text (``artist_id,stars,updated_at``)."""
        return self.table(profile).to_csv(index=False, lineterminator="\n")

    def import_csv(
        self,
        profile: str,
        data: bytes | str,
        known: Container[str] | None = None,
        replace: bool = False,
    ) -> int:
        """Import a ratings CSV in one transaction: all rows, or none when any row is bad.

        Args:
            profile: Whose ratings.
            data: The file (see :func:`parse_ratings_csv`).
            known: Catalog artist ids; others are rejected.
            replace: Drop the profile's other ratings first (default: merge, file wins).

        Returns:
            How many ratings were imported.

        Raises:
            ImportRejected: The file is bad; the saved ratings are unchanged.
        """
        profile = validate_profile(profile)
        ratings = parse_ratings_csv(data, known)
        now = _now()
        with self._write() as conn:
            if replace:
                conn.execute("DELETE FROM ratings WHERE profile = ?", (profile,))
            conn.executemany(
                "INSERT INTO ratings VALUES (?, ?, ?, ?) ON CONFLICT (profile, artist_id) "
                "DO UPDATE SET stars = excluded.stars, updated_at = excluded.updated_at",
                [(profile, a, s, now) for a, s in ratings.items()],
            )
        log.info("imported %d ratings for a profile", len(ratings))
        return len(ratings)

    # ---- play-next queue --------------------------------------------------------------------

    def queue(self, profile: str) -> list[str]:
        """The profile's queued track ids, oldest first."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT track_id FROM queue WHERE profile = ? ORDER BY position",
                (validate_profile(profile),),
            ).fetchall()
        return [r[0] for r in rows]

    def enqueue(self, profile: str, track_id: str) -> list[str]:
        """Append a track (moving it to the end if queued already); keeps the last ``MAX_QUEUE``."""
        profile = validate_profile(profile)
        if not isinstance(track_id, str) or not track_id.strip():
            raise InputError("track_id must be a non-empty string")
        with self._write() as conn:
            current = [
                r[0]
                for r in conn.execute(
                    "SELECT track_id FROM queue WHERE profile = ? ORDER BY position", (profile,)
                )
            ]
            tracks = [t for t in current if t != track_id][-(MAX_QUEUE - 1) :] + [track_id]
            self._put_queue(conn, profile, tracks)
        return tracks

    def remove_from_queue(self, profile: str, track_id: str) -> list[str]:
        """Drop one track from the queue; the queue that remains."""
        profile = validate_profile(profile)
        with self._write() as conn:
            conn.execute(
                "DELETE FROM queue WHERE profile = ? AND track_id = ?", (profile, track_id)
            )
        return self.queue(profile)

    def clear_queue(self, profile: str) -> None:
        """Empty the profile's queue."""
        with self._write() as conn:
            conn.execute("DELETE FROM queue WHERE profile = ?", (validate_profile(profile),))

    @staticmethod
    def _put_queue(conn: sqlite3.Connection, profile: str, tracks: list[str]) -> None:
        conn.execute("DELETE FROM queue WHERE profile = ?", (profile,))
        conn.executemany(
            "INSERT INTO queue VALUES (?, ?, ?)", [(profile, i, t) for i, t in enumerate(tracks)]
        )
