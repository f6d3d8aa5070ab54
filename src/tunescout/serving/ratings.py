"""Listeners' artist ratings, likes and skips of tracks, and "play next" queues, kept per profile
name in SQLite.

Safe for the app's many sessions at once: every call opens its own short connection, the database
runs in WAL mode with a busy timeout, and writes take the write lock up front (``BEGIN IMMEDIATE``).
Longer than most modules because it is the one place with SQL for all of them, and for the CSV
import and export with their safety checks.

A like of a track is a like of its artist (:data:`LIKE_STARS`); a skip means "not this track": it
is remembered for the track, and only :data:`SKIPS_FOR_WEAK_NO` skipped tracks of an artist the
listener has not rated or liked count as a weak no for the artist (:data:`WEAK_NO` stars, in
:meth:`RatingsStore.effective_ratings`, never saved as a rating).
"""

from __future__ import annotations

import csv
import io
import logging
import os
import sqlite3
import unicodedata
from collections.abc import Container, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from tunescout import config
from tunescout.errors import InputError, StorageError
from tunescout.serving import checks

log = logging.getLogger(__name__)

MAX_PROFILE_CHARS = 64
MAX_IMPORT_BYTES = 2_000_000
MAX_QUEUE = 50
LIKE_STARS = 5  # a liked track's artist, and an artist's 👍
NOT_FOR_ME = 2  # an artist's 👎 ("not for me"); a track's 👎 is only "not this track"
WEAK_NO, SKIPS_FOR_WEAK_NO = 2, 2  # an artist with two skipped tracks and no rating or like
TRACK_ACTIONS = ("like", "skip")
MAX_TIMEOUT = 3600.0
CSV_COLUMNS = ("artist_id", "stars", "updated_at")
EXPORT_COLUMNS = ("artist_id", "artist_name", "stars", "updated_at")
# A spreadsheet reads a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")
TEXT_MARK = "'"  # what spreadsheets show as "this cell is text"; removed again on import
# SQLite's own files beside the database; a link in their place would write elsewhere.
_SIDE_FILES = ("", "-wal", "-shm", "-journal")
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
CREATE TABLE IF NOT EXISTS track_feedback (
    profile TEXT NOT NULL,
    track_id TEXT NOT NULL,
    artist_id TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('like', 'skip')),
    prior_stars INTEGER,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (profile, track_id)
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
    try:  # the engine's one check, without whole floats: a store holds what was clicked
        return checks.stars(stars, whole_floats=False)
    except InputError:
        raise InputError(
            f"stars must be a whole number from 1 to 5, got {checks.shown(stars)}"
        ) from None


def _check_id(value: object, what: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"{what} must be a non-empty string")
    return checks.valid_text(value, what)


def spreadsheet_safe(cell: str) -> str:
    """``cell`` as a CSV cell that no spreadsheet runs as a formula and that reads back exactly.

    A cell that would start a formula (``=``, ``+``, ``-``, ``@``, a tab or line break, also after
    leading spaces), that has surrounding whitespace (which an import strips from hand-made files)
    or that starts with the mark itself gets :data:`TEXT_MARK` in front; :func:`from_cell` removes
    it again.
    """
    if (
        cell != cell.strip()
        or cell.startswith(TEXT_MARK)
        or cell.lstrip().startswith(FORMULA_START)
    ):
        return TEXT_MARK + cell
    return cell


def from_cell(cell: str) -> str:
    """The value a CSV cell holds: after :data:`TEXT_MARK` the rest verbatim, else stripped (so
    hand-made files may pad their cells)."""
    return cell[len(TEXT_MARK) :] if cell.startswith(TEXT_MARK) else cell.strip()


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
    too_big = ImportRejected(f"the file is larger than {MAX_IMPORT_BYTES // 1_000_000} MB", [])
    if isinstance(data, bytes | bytearray | memoryview):
        if len(data) > MAX_IMPORT_BYTES:
            raise too_big
        try:
            data = bytes(data).decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportRejected(
                f"the file is not UTF-8 text (byte {exc.start} cannot be read)", []
            ) from exc
    elif isinstance(data, str):
        # text counts as its UTF-8 bytes (a character is at least one byte: check that first)
        if (
            len(data) > MAX_IMPORT_BYTES
            or len(data.encode("utf-8", "surrogatepass")) > MAX_IMPORT_BYTES
        ):
            raise too_big
    else:
        raise ImportRejected(f"a ratings file must be bytes or text, got {type(data).__name__}", [])
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
            ratings[from_cell(row[id_col])] = problem
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
    artist = from_cell(row[id_col])
    if not artist.strip():
        return "artist_id is empty"
    try:
        checks.valid_text(artist, "artist_id")
    except InputError as exc:
        return str(exc)
    if artist in seen:
        return f"artist {artist[:40]!r} appears more than once"
    if known is not None and artist not in known:
        return f"artist {artist[:40]!r} is not in the catalog"
    return _parse_stars(row[stars_col])


class RatingsStore:
    """Ratings and play-next queues of every profile in one SQLite file.

    Args:
        path: The database file (created with its folder when missing). It must be a file, not a
            symbolic link (nor may SQLite's ``-wal``, ``-shm`` or ``-journal`` files beside it be):
            ratings are written only where the data dir says.
        timeout: Seconds a write waits for another writer before giving up (0 to 3600); by
            default ``TUNESCOUT_RATINGS_TIMEOUT`` or 10.

    Raises:
        InputError: ``timeout`` is not a number from 0 to 3600.
        StorageError: The database cannot be created, opened or used, or is a link.

    Example:
        >>> store = RatingsStore(tmp_path / "ratings.sqlite")
        >>> store.rate("ana", "ar1", 5)
        >>> store.ratings("ana")
        {'ar1': 5}
    """

    def __init__(self, path: str | Path, timeout: float | None = None) -> None:
        self.path = Path(path)
        if timeout is None:
            timeout = config.ratings_timeout()
        self.timeout = checks.real(timeout, "the ratings database's timeout", 0.0, MAX_TIMEOUT)
        # messages name the file, not where the server keeps it
        self.shown = f"the ratings database ({self.path.name})"
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(
                f"{self.shown} cannot be created ({exc.strerror or type(exc).__name__}): "
                "make the data dir writable"
            ) from exc
        with self._connection() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

    def _refuse_links(self) -> None:
        for suffix in _SIDE_FILES:
            side = self.path.with_name(self.path.name + suffix)
            if os.path.islink(side):
                raise StorageError(
                    f"{self.shown}: {side.name} is a symbolic link; ratings are written only "
                    "inside the data dir: replace the link with the file it points to"
                )

    @contextmanager
    def _connection(self) -> Iterator[sqlite3.Connection]:
        """A short connection; SQLite's own errors come out as one-line :class:`StorageError`."""
        self._refuse_links()
        try:
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        except sqlite3.Error as exc:
            raise StorageError(f"{self.shown} cannot be opened ({exc}){_hint(exc)}") from exc
        try:
            conn.execute(f"PRAGMA busy_timeout={int(self.timeout * 1000)}")
            # In WAL mode NORMAL keeps every commit safe from an app crash without an fsync each.
            conn.execute("PRAGMA synchronous=NORMAL")
            yield conn
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise StorageError(f"{self.shown} cannot be used ({exc}){_hint(exc)}") from exc
            raise StorageError(
                f"the ratings database is busy (another write held it for over {self.timeout:g} s); "
                "nothing was changed, try again"
            ) from exc
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"{self.shown} cannot be used ({exc})") from exc
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
        """Save (or change) one rating (what taking back a liked track then puts back)."""
        profile, stars = validate_profile(profile), _check_stars(stars)
        artist_id = _check_id(artist_id, "artist_id")
        with self._write() as conn:
            conn.execute(
                "INSERT INTO ratings VALUES (?, ?, ?, ?) ON CONFLICT (profile, artist_id) "
                "DO UPDATE SET stars = excluded.stars, updated_at = excluded.updated_at",
                (profile, artist_id, stars, _now()),
            )
            self._given(conn, profile, artist_id, stars)

    def forget(self, profile: str, artist_id: str) -> bool:
        """Delete one rating; whether it existed."""
        profile, artist_id = validate_profile(profile), _check_id(artist_id, "artist_id")
        with self._write() as conn:
            cur = conn.execute(
                "DELETE FROM ratings WHERE profile = ? AND artist_id = ?", (profile, artist_id)
            )
            self._given(conn, profile, artist_id, None)
        return cur.rowcount > 0

    @staticmethod
    def _given(conn: sqlite3.Connection, profile: str, artist_id: str, stars: int | None) -> None:
        """The listener set the artist's stars themselves: what a like taken back restores."""
        conn.execute(
            "UPDATE track_feedback SET prior_stars = ? "
            "WHERE profile = ? AND artist_id = ? AND action = 'like'",
            (stars, profile, artist_id),
        )

    def delete_profile(self, profile: str) -> int:
        """Delete every rating, like and skip and the queue of a profile; how many ratings went."""
        profile = validate_profile(profile)
        with self._write() as conn:
            count = conn.execute("DELETE FROM ratings WHERE profile = ?", (profile,)).rowcount
            conn.execute("DELETE FROM queue WHERE profile = ?", (profile,))
            conn.execute("DELETE FROM track_feedback WHERE profile = ?", (profile,))
        return count

    def ratings(self, profile: str) -> dict[str, int]:
        """Artist id to stars, oldest rating first."""
        table = self.table(profile)
        return {a: int(s) for a, s in zip(table["artist_id"], table["stars"], strict=True)}

    def table(self, profile: str) -> pd.DataFrame:
        """The profile's ratings as ``artist_id, stars, updated_at``, oldest first.

        Rows that no write of this class makes (stars that are not 1–5, an id that is not text:
        a database edited by hand or by an older schema) are left out with a warning.
        """
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT artist_id, stars, updated_at FROM ratings WHERE profile = ? "
                "ORDER BY updated_at, rowid",
                (validate_profile(profile),),
            ).fetchall()
        good = [
            (a, s, u if isinstance(u, str) else "")
            for a, s, u in rows
            if isinstance(a, str) and a and type(s) is int and 1 <= s <= 5
        ]
        if len(good) < len(rows):
            log.warning(
                "ratings: %d unreadable row(s) of a profile left out", len(rows) - len(good)
            )
        return pd.DataFrame(good, columns=list(CSV_COLUMNS)).astype({"stars": "int64"})

    def profiles(self) -> list[str]:
        """Every profile with at least one rating, sorted."""
        with self._connection() as conn:
            rows = conn.execute("SELECT DISTINCT profile FROM ratings ORDER BY profile").fetchall()
        return [r[0] for r in rows]

    def export_csv(self, profile: str, names: Mapping[str, object] | None = None) -> str:
        """The profile's ratings as CSV text: ``artist_id,artist_name,stars,updated_at``.

        :meth:`import_csv` reads it back exactly (any id, CRs, surrounding spaces and U+2028
        included), and no cell runs as a spreadsheet formula (see :func:`spreadsheet_safe`).

        Args:
            profile: Whose ratings.
            names: Artist id to name (e.g. the catalog's); ids it lacks get an empty name.
        """
        names = names if names is not None else {}
        out = io.StringIO()
        # CRLF as RFC 4180 has it: a cell holding a lone CR or LF is then quoted too
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(EXPORT_COLUMNS)
        for artist, stars, updated in self.table(profile).itertuples(index=False):
            name = names.get(artist) if hasattr(names, "get") else None
            name = "" if name is None or name != name else str(name)  # None and NaN: no name
            writer.writerow([spreadsheet_safe(artist), spreadsheet_safe(name), int(stars), updated])
        return out.getvalue()

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

    # ---- likes and skips of tracks ----------------------------------------------------------

    def track_feedback(self, profile: str) -> dict[str, tuple[str, str]]:
        """Track id to ``(artist id, "like" or "skip")``, oldest first (unreadable rows left out)."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT track_id, artist_id, action FROM track_feedback WHERE profile = ? "
                "ORDER BY updated_at, rowid",
                (validate_profile(profile),),
            ).fetchall()
        return {
            t: (a, act)
            for t, a, act in rows
            if isinstance(t, str) and t and isinstance(a, str) and act in TRACK_ACTIONS
        }

    def mark_track(self, profile: str, track_id: str, artist_id: str, action: str | None) -> None:
        """Like, skip or clear one track, in one transaction.

        A like also rates the artist :data:`LIKE_STARS` and remembers the stars the artist had
        before (none, or what the listener gave). Taking back the artist's last liked track (a
        skip or a clear) puts those stars back, unless the listener has rated the artist since.
        A skip never changes a rating (see :meth:`effective_ratings`).

        Raises:
            InputError: An action other than ``"like"``, ``"skip"`` or ``None``.
        """
        profile = validate_profile(profile)
        track_id, artist_id = _check_id(track_id, "track_id"), _check_id(artist_id, "artist_id")
        if action is not None and action not in TRACK_ACTIONS:
            raise InputError(f"a track is liked, skipped or cleared, not {str(action)[:20]!r}")
        with self._write() as conn:
            before = conn.execute(
                "SELECT action, prior_stars FROM track_feedback WHERE profile = ? AND track_id = ?",
                (profile, track_id),
            ).fetchone()
            conn.execute(
                "DELETE FROM track_feedback WHERE profile = ? AND track_id = ?", (profile, track_id)
            )
            stars = conn.execute(
                "SELECT stars FROM ratings WHERE profile = ? AND artist_id = ?",
                (profile, artist_id),
            ).fetchone()
            other = conn.execute(  # another liked track of the artist, and the stars it kept
                "SELECT prior_stars FROM track_feedback WHERE profile = ? AND artist_id = ? "
                "AND action = 'like' LIMIT 1",
                (profile, artist_id),
            ).fetchone()
            if before is not None and before[0] == "like":
                prior = before[1]
            elif other is not None:
                prior = other[0]
            else:
                prior = None if stars is None else stars[0]
            if action is not None:
                conn.execute(
                    "INSERT INTO track_feedback VALUES (?, ?, ?, ?, ?, ?)",
                    (profile, track_id, artist_id, action, prior if action == "like" else None,
                     _now()),
                )  # fmt: skip
            if action == "like":
                conn.execute(
                    "INSERT INTO ratings VALUES (?, ?, ?, ?) ON CONFLICT (profile, artist_id) "
                    "DO UPDATE SET stars = excluded.stars, updated_at = excluded.updated_at",
                    (profile, artist_id, LIKE_STARS, _now()),
                )
            elif before is not None and before[0] == "like" and other is None:
                self._restore(conn, profile, artist_id, prior)

    @staticmethod
    def _restore(conn: sqlite3.Connection, profile: str, artist_id: str, prior: object) -> None:
        """Put back the stars an artist had before its first liked track (if still the like's)."""
        where = "WHERE profile = ? AND artist_id = ? AND stars = ?"
        if isinstance(prior, int) and 1 <= prior <= 5:
            conn.execute(
                f"UPDATE ratings SET stars = ?, updated_at = ? {where}",
                (prior, _now(), profile, artist_id, LIKE_STARS),
            )
        else:
            conn.execute(f"DELETE FROM ratings {where}", (profile, artist_id, LIKE_STARS))

    def effective_ratings(self, profile: str) -> dict[str, int]:
        """The ratings recommendations start from: the saved ratings, and :data:`WEAK_NO` stars
        for each artist with :data:`SKIPS_FOR_WEAK_NO` or more skipped tracks that the listener
        has neither rated nor liked a track of."""
        saved = self.ratings(profile)
        skips: dict[str, int] = {}
        liked = set()
        for artist, action in self.track_feedback(profile).values():
            if action == "skip":
                skips[artist] = skips.get(artist, 0) + 1
            else:
                liked.add(artist)
        weak = {
            a: WEAK_NO
            for a, n in skips.items()
            if n >= SKIPS_FOR_WEAK_NO and a not in saved and a not in liked
        }
        return saved | weak

    # ---- play-next queue --------------------------------------------------------------------

    def queue(self, profile: str) -> list[str]:
        """The profile's queued track ids, oldest first (anything but text is left out)."""
        with self._connection() as conn:
            rows = conn.execute(
                "SELECT track_id FROM queue WHERE profile = ? ORDER BY position",
                (validate_profile(profile),),
            ).fetchall()
        return [r[0] for r in rows if isinstance(r[0], str) and r[0]]

    def enqueue(self, profile: str, track_id: str) -> list[str]:
        """Append a track (moving it to the end if queued already); keeps the last ``MAX_QUEUE``."""
        profile, track_id = validate_profile(profile), _check_id(track_id, "track_id")
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

    def replace_queue(self, profile: str, track_ids: list[str]) -> list[str]:
        """Put the queue in this order (a reorder or a removal; repeats kept once, the last
        ``MAX_QUEUE``)."""
        profile = validate_profile(profile)
        tracks = list(dict.fromkeys(_check_id(t, "track_id") for t in track_ids))[-MAX_QUEUE:]
        with self._write() as conn:
            self._put_queue(conn, profile, tracks)
        return tracks

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


def _hint(exc: sqlite3.Error) -> str:
    """What to do about an error SQLite names."""
    text = str(exc).lower()
    if "readonly" in text or "read-only" in text:
        return ": the data dir is read-only, make it writable"
    if "unable to open" in text:
        return ": check that the data dir exists and is writable"
    return ""
