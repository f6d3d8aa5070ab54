"""Compositional listener requests for evaluating mood search: the query-file format (see
``docs/EVALUATION.md``), its validation, and the constants that define each constraint."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tunescout.domain.features import AUDIO_FEATURES, UNIT_FEATURES
from tunescout.errors import InputError

CONSTRAINTS = (
    "years",
    "genres",
    "not_genres",
    "tags",
    "like",
    "like_track",
    "relative",
    "features",
    "not_artists",
)
REQUEST_KEYS = {"id", "text", "constraints", "notes"}
FILE_KEYS = {"version", "split", "author", "written", "requests", "quadrants"}
SPLITS = ("dev", "blind")
QUERY_DIR = Path(__file__).resolve().parent / "data"  # the dev and blind request files
QUADRANTS = {"happy": (1, 1), "angry": (-1, 1), "sad": (-1, -1), "calm": (1, -1)}
STEP = {**dict.fromkeys(UNIT_FEATURES, 0.05), "tempo": 5.0, "loudness": 1.0}
HIGH, LOW = 0.6, 0.4  # percentile bounds of "features": high / low
# Near-binary features are judged on Spotify's documented scale, not percentiles: 36% of tracks
# have instrumentalness exactly 0, so its 60th percentile (0.0002) would call vocals instrumental.
# "Values above 0.5 are intended to represent instrumental tracks"; speech above 0.33 is
# "music and speech" (Spotify Web API reference, audio features).
ABSOLUTE = {"instrumentalness": 0.5, "speechiness": 0.33}
MIN_SHARED, MIN_LIFT = 3, 2.0  # co-listening: shared listeners and lift
MIN_SONGS = 20  # a request must be met by at least this many distinct catalog songs
WHY_COLUMNS = ("why", "reason")


@dataclass(frozen=True)
class Constraints:
    """The parts of a request a result must meet; an unset part is not checked."""

    years: tuple[int, int] | None = None
    genres: frozenset[str] = frozenset()
    not_genres: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()
    like: str | None = None
    like_track: tuple[str, str] | None = None
    relative: Mapping[str, str] = field(default_factory=dict)
    features: Mapping[str, str] = field(default_factory=dict)
    not_artists: frozenset[str] = frozenset()

    def kinds(self) -> list[str]:
        """The names of the constraints given, in :data:`CONSTRAINTS` order."""
        return [name for name in CONSTRAINTS if getattr(self, name)]


@dataclass(frozen=True)
class Request:
    """One listener request: its id, the text as typed, and what a good result must meet."""

    id: str
    text: str
    constraints: Constraints
    notes: str = ""

    @property
    def category(self) -> str:
        """A category derived from the constraint kinds (so files need no category field)."""
        return category(self.constraints)


@dataclass(frozen=True)
class QueryFile:
    """A validated query file: requests plus mood requests per Deezer quadrant."""

    version: int
    split: str
    author: str
    written: str
    requests: tuple[Request, ...]
    quadrants: Mapping[str, tuple[str, ...]]


def category(c: Constraints) -> str:
    """Classify a request by its constraint kinds.

    Args:
        c: The request's constraints.

    Returns:
        "multi-part" when it combines three or more of era, genre, exclusion, reference, relative
        and feature parts; otherwise the first that applies of "song reference (+ relative)",
        "artist reference (+ relative)", "exclusion", "era", "genre" and "mood".
    """
    parts = {
        "era": c.years is not None,
        "genre": bool(c.genres or c.tags),
        "exclusion": bool(c.not_genres or c.not_artists),
        "reference": bool(c.like or c.like_track),
        "relative": bool(c.relative),
        "features": bool(c.features),
    }
    if sum(parts.values()) >= 3:
        return "multi-part"
    if c.like_track or c.like:
        kind = "song reference" if c.like_track else "artist reference"
        return f"{kind} + relative" if c.relative else kind
    for name in ("exclusion", "era", "genre"):
        if parts[name]:
            return name
    return "mood"


def request_error(where: str, message: str) -> InputError:
    return InputError(f"{where}: {message}")


def _strings(value: Any, where: str, name: str) -> frozenset[str]:
    if not isinstance(value, list) or not value:
        raise request_error(where, f"{name} must be a non-empty list of strings, got {value!r}")
    if not all(isinstance(v, str) and v.strip() for v in value):
        raise request_error(where, f"{name} must hold non-empty strings, got {value!r}")
    return frozenset(value)


def _directions(value: Any, where: str, name: str, allowed: tuple[str, str]) -> dict[str, str]:
    if not isinstance(value, dict) or not value:
        raise request_error(
            where, f"{name} must be a non-empty object feature -> {'|'.join(allowed)}"
        )
    for feature, direction in value.items():
        if feature not in AUDIO_FEATURES:
            raise request_error(
                where, f"{name}: unknown feature {feature!r} (known: {AUDIO_FEATURES})"
            )
        if direction not in allowed:
            raise request_error(
                where, f"{name}.{feature} must be one of {allowed}, got {direction!r}"
            )
    return dict(value)


def parse_constraints(raw: Any, where: str) -> Constraints:
    """Check one request's ``constraints`` object and turn it into :class:`Constraints`.

    Args:
        raw: The JSON object.
        where: The request id, named in errors.

    Returns:
        The constraints.

    Raises:
        InputError: An unknown key, a wrong type, an empty list or a bad feature name or direction.
    """
    if not isinstance(raw, dict):
        raise request_error(where, f"constraints must be an object, got {type(raw).__name__}")
    unknown = set(raw) - set(CONSTRAINTS)
    if unknown:
        raise request_error(
            where, f"unknown constraint(s) {sorted(unknown)} (known: {list(CONSTRAINTS)})"
        )
    out: dict[str, Any] = {}
    if "years" in raw:
        years = raw["years"]
        if (
            not isinstance(years, list)
            or len(years) != 2
            or not all(isinstance(y, int) and not isinstance(y, bool) for y in years)
            or years[0] > years[1]
        ):
            raise request_error(
                where, f"years must be [lo, hi] integers with lo <= hi, got {years!r}"
            )
        out["years"] = (years[0], years[1])
    for name in ("genres", "not_genres", "not_artists"):
        if name in raw:
            out[name] = _strings(raw[name], where, name)
    if "tags" in raw:
        out["tags"] = frozenset(t.casefold() for t in _strings(raw["tags"], where, "tags"))
    if "like" in raw:
        if not isinstance(raw["like"], str) or not raw["like"].strip():
            raise request_error(where, f"like must be an artist name, got {raw['like']!r}")
        out["like"] = raw["like"]
    if "like_track" in raw:
        pair = raw["like_track"]
        if (
            not isinstance(pair, list)
            or len(pair) != 2
            or not all(isinstance(s, str) for s in pair)
        ):
            raise request_error(where, f'like_track must be ["Title", "Artist Name"], got {pair!r}')
        out["like_track"] = (pair[0], pair[1])
    if "relative" in raw:
        out["relative"] = _directions(raw["relative"], where, "relative", ("higher", "lower"))
        if "like" not in raw and "like_track" not in raw:
            raise request_error(where, "relative needs a reference: like or like_track")
    if "features" in raw:
        out["features"] = _directions(raw["features"], where, "features", ("high", "low"))
    if not out:
        raise request_error(where, "constraints are empty: every request must constrain something")
    return Constraints(**out)


def _request(raw: Any, position: int, seen: set[str]) -> Request:
    if not isinstance(raw, dict):
        raise InputError(f"request #{position + 1}: must be an object, got {type(raw).__name__}")
    rid = raw.get("id")
    if not isinstance(rid, str) or not rid.strip():
        raise InputError(f"request #{position + 1}: id must be a non-empty string, got {rid!r}")
    if rid in seen:
        raise request_error(rid, "id is used by an earlier request")
    unknown = set(raw) - REQUEST_KEYS
    if unknown:
        raise request_error(
            rid, f"unknown key(s) {sorted(unknown)} (known: {sorted(REQUEST_KEYS)})"
        )
    text = raw.get("text")
    if not isinstance(text, str) or not text.strip():
        raise request_error(rid, f"text must be a non-empty string, got {text!r}")
    notes = raw.get("notes", "")
    if not isinstance(notes, str):
        raise request_error(rid, f"notes must be a string, got {notes!r}")
    if "constraints" not in raw:
        raise request_error(rid, "constraints are missing")
    return Request(rid, text, parse_constraints(raw["constraints"], rid), notes)


def _quadrants(raw: Any) -> dict[str, tuple[str, ...]]:
    if not isinstance(raw, dict) or set(raw) != set(QUADRANTS):
        got = sorted(raw) if isinstance(raw, dict) else type(raw).__name__
        raise InputError(f"quadrants must have exactly the keys {sorted(QUADRANTS)}, got {got}")
    out = {}
    for name, texts in raw.items():
        ok = (
            isinstance(texts, list)
            and texts
            and all(isinstance(t, str) and t.strip() for t in texts)
        )
        if not ok:
            raise InputError(f"quadrants.{name} must be a non-empty list of request texts")
        out[name] = tuple(texts)
    return out


def parse_queries(data: Any) -> QueryFile:
    """Validate a parsed query file (see ``compositional_schema.md``).

    Args:
        data: The JSON document.

    Returns:
        The query file.

    Raises:
        InputError: The first problem found, naming the request id where there is one.
    """
    if not isinstance(data, dict):
        raise InputError(f"a query file must be a JSON object, got {type(data).__name__}")
    unknown = set(data) - FILE_KEYS
    if unknown:
        raise InputError(f"unknown top-level key(s) {sorted(unknown)} (known: {sorted(FILE_KEYS)})")
    if data.get("version") != 1:
        raise InputError(f"version must be 1, got {data.get('version')!r}")
    if data.get("split") not in SPLITS:
        raise InputError(f"split must be one of {SPLITS}, got {data.get('split')!r}")
    raw_requests = data.get("requests")
    if not isinstance(raw_requests, list) or not raw_requests:
        raise InputError("requests must be a non-empty list")
    seen: set[str] = set()
    requests = []
    for position, raw in enumerate(raw_requests):
        request = _request(raw, position, seen)
        seen.add(request.id)
        requests.append(request)
    return QueryFile(
        version=1,
        split=data["split"],
        author=str(data.get("author", "")),
        written=str(data.get("written", "")),
        requests=tuple(requests),
        quadrants=_quadrants(data.get("quadrants")),
    )


def load_queries(path: Path | str) -> QueryFile:
    """Read and validate a query file.

    Args:
        path: A JSON file in the format of ``compositional_schema.md``.

    Returns:
        The query file.

    Raises:
        InputError: The file is missing, is not JSON, or breaks the format.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise InputError(f"{path}: no such query file") from exc
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}: not valid JSON ({exc})") from exc
    try:
        return parse_queries(data)
    except InputError as exc:
        raise InputError(f"{path.name}: {exc}") from exc
