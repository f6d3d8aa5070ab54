"""Collect tracks and artists from the Spotify Web API (client credentials) into a raw bundle.

Searches genre × year queries and playlists, fetches artists and audio features in batches, rides
out rate limits, server errors, timeouts, bad bodies and expired tokens, and resumes an interrupted
run from a JSON-lines checkpoint. Audio features that Spotify no longer serves (403 for new apps
since 2024-11-27) are filled from a public data set by track id, by artist profile, or genre priors.

Two kinds of app get different APIs (Spotify's February 2026 migration guide): an app in
*extended quota mode* keeps the old one; an app in *development mode* (every app created since
2026-02-11, every other one since 2026-03-09) gets search pages of at most 10 results (a larger
``limit`` is refused with 400 "Invalid limit"), no ``popularity`` on tracks and artists, no artist
``followers``, no batch ``GET /artists?ids=`` (403), and playlists at ``/items`` only. The
collector finds out which it talks to from the first search page and the first artist batch,
adapts (pages of 10, one ``GET /artists/{id}`` per artist, popularity and followers left missing
for the catalog to fill from Last.fm listeners) and says so in the bundle's notes and params.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import requests
import spotipy
from spotipy.cache_handler import MemoryCacheHandler
from spotipy.exceptions import SpotifyException
from spotipy.oauth2 import SpotifyClientCredentials, SpotifyOauthError
from spotipy.util import Retry
from tqdm.auto import tqdm

from tunescout import catalog
from tunescout.catalog.snapshots import RawBundle
from tunescout.config import Settings
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.domain.genres import estimate_features
from tunescout.errors import SourceError

log = logging.getLogger(__name__)

API_BASE = "https://api.spotify.com/v1"
TOKEN_URL = "https://accounts.spotify.com/api/token"
DEFAULT_GENRES = (
    "pop", "rock", "hip hop", "r&b", "electronic", "indie", "metal", "jazz", "classical",
    "folk", "country", "latin", "soul", "punk", "ambient", "reggae",
)  # fmt: skip
DEFAULT_YEARS = ("1960-1979", "1980-1999", "2000-2009", "2010-2019", "2020-2025")
SEARCH_CAP = 1000  # the search endpoint serves no result past offset 1000
SEARCH_LIMIT = 50
DEV_SEARCH_LIMIT = 10  # development-mode apps since February 2026
EXTENDED, DEVELOPMENT = "extended", "development"
PLAYLIST_LIMIT = 100
ARTIST_BATCH = 50
FEATURE_BATCH = 100
_CLOSED_EFFECT = {
    "audio_features": "features will be estimated (closed to new apps since 2024-11-27)",
    "artists": "artists keep only the names their tracks give",
}
_TRACK_FIELDS = (
    "track_id", "name", "artist_id", "artist_name", "album", "release_year", "popularity",
    "duration_ms",
)  # fmt: skip
_FEATURE_FIELDS = (*AUDIO_FEATURES, "key", "mode")
_ORIGINS = ("measured", "by_track", "by_artist", "by_genre")
_TRANSIENT = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)
_TOO_MANY = re.compile(r"too many (\d{3}) error responses")  # urllib3's retries ran out


@dataclass(frozen=True)
class Retries:
    """How hard to try.

    urllib3 (through spotipy's ``Retry``) retries 429 and 5xx answers, waiting ``Retry-After``
    (capped at ``max_retry_after``) or an exponential backoff; :class:`SpotifyClient` itself retries
    timeouts, dropped connections, unparsable bodies and rejected tokens ``attempts`` times.
    """

    timeout: float = 10.0
    status_retries: int = 5
    backoff: float = 0.5
    max_retry_after: float = 60.0
    attempts: int = 4


class SpotifyStatusError(SourceError):
    """Spotify answered an HTTP error that retrying did not cure; ``status`` is its code."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _RedactAuth(logging.Filter):
    """Blank credentials in spotipy's debug lines, which print request headers verbatim."""

    _pattern = re.compile(r"\b(Basic|Bearer) [^'\"\s,}]+")

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = self._pattern.sub(r"\1 [redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, ()
        return True


_REDACT = _RedactAuth()


def _session(retries: Retries) -> requests.Session:
    """A session that retries like spotipy's own, with ``Retry-After`` capped."""
    retry = Retry(
        total=retries.status_retries,
        connect=None,
        read=False,
        allowed_methods=frozenset({"GET", "POST"}),
        status=retries.status_retries,
        backoff_factor=retries.backoff,
        status_forcelist=(429, 500, 502, 503, 504),
        retry_after_max=retries.max_retry_after,
    )
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class SpotifyClient:
    """spotipy with client credentials, overridable endpoints and the retries of :class:`Retries`.

    Args:
        client_id: Spotify app client id.
        client_secret: Its secret; never logged nor put in an error message.
        api_base: Web API root (default Spotify's ``https://api.spotify.com/v1``).
        token_url: Token endpoint (default Spotify's accounts service).
        retries: Timeouts, retry counts and waits.
    """

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        api_base: str | None = None,
        token_url: str | None = None,
        retries: Retries = Retries(),
    ) -> None:
        for name in ("spotipy.client", "spotipy.oauth2"):
            logging.getLogger(name).addFilter(_REDACT)
        self.retries = retries
        session = _session(retries)
        self.auth = SpotifyClientCredentials(
            client_id,
            client_secret,
            requests_session=session,
            requests_timeout=retries.timeout,
            cache_handler=MemoryCacheHandler(),  # spotipy's default writes the token to ./.cache
        )
        self.auth.OAUTH_TOKEN_URL = token_url or TOKEN_URL
        self.sp = spotipy.Spotify(
            auth_manager=self.auth, requests_session=session, requests_timeout=retries.timeout
        )
        self.sp.prefix = (api_base or API_BASE).rstrip("/") + "/"

    def call(
        self, fn: Callable[..., object], *args: object, expect: str, **kwargs: object
    ) -> dict | None:
        """Run one spotipy call and return its JSON body, or None if the body stayed unusable.

        Args:
            fn: A bound method of ``self.sp``.
            *args: Its positional arguments.
            expect: A key a usable body has at its top level.
            **kwargs: Its keyword arguments.

        Raises:
            SpotifyStatusError: On an HTTP error that spotipy's retries did not cure.
            SourceError: When the credentials are refused or Spotify stays unreachable.
        """
        attempts = self.retries.attempts
        for attempt in range(1, attempts + 1):
            try:
                body = fn(*args, **kwargs)
            except SpotifyException as exc:
                if exc.http_status != 401 or attempt == attempts:
                    raise _status_error(exc) from exc
                self._renew_token()
                continue
            except (
                requests.exceptions.RetryError
            ) as exc:  # raised past spotipy by the token request
                retried = _TOO_MANY.search(str(exc))
                status = int(retried[1]) if retried else 0
                raise SpotifyStatusError(
                    status,
                    f"Spotify's token service answered HTTP {status} to every retry; "
                    "run again to resume",
                ) from exc
            except SpotifyOauthError as exc:
                raise SourceError(
                    f"Spotify refused the client credentials ({exc.error}): "
                    "check SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET"
                ) from exc
            except _TRANSIENT as exc:
                if attempt == attempts:
                    raise SourceError(
                        f"Spotify did not answer after {attempts} tries ({type(exc).__name__}); "
                        "run again to resume"
                    ) from exc
                self._pause(attempt, type(exc).__name__)
                continue
            if isinstance(body, dict) and expect in body:
                return body
            if attempt < attempts:
                self._pause(attempt, "sent an unparsable body")
        return None

    def _renew_token(self) -> None:
        log.info("Spotify rejected the access token (401); requesting a new one")
        self.auth.get_access_token(as_dict=False, check_cache=False)

    def _pause(self, attempt: int, why: str) -> None:
        wait = self.retries.backoff * 2 ** (attempt - 1)
        log.warning(
            "Spotify %s; retry %d of %d in %.2fs", why, attempt, self.retries.attempts - 1, wait
        )
        time.sleep(wait)


def _status_error(exc: SpotifyException) -> SpotifyStatusError:
    reason = exc.reason or exc.msg.rsplit("\n", 1)[-1].strip()
    # spotipy reports any status whose retries ran out as 429; urllib3's reason names the real one
    retried = _TOO_MANY.search(str(reason))
    status = int(retried[1]) if retried else exc.http_status
    return SpotifyStatusError(
        status, f"Spotify answered HTTP {status} ({reason}); run again to resume"
    )


class Checkpoint:
    """Finished pages and batches of one collection as JSON lines, so that a rerun skips them.

    Each record is one appended line, synced to disk before the next request; a line torn by a crash
    is cut off when the file is next read. Work left by a run with other parameters is discarded.

    Args:
        folder: Usually ``<raw-dir>/spotify/_work``.
        params: What the run collects; a different value starts afresh.
    """

    def __init__(self, folder: Path, params: dict) -> None:
        self.folder = Path(folder)
        marker = self.folder / "params.json"
        wanted = json.loads(json.dumps(params))
        if marker.exists() and json.loads(marker.read_text(encoding="utf-8")) != wanted:
            log.info("discarding unfinished Spotify work from a run with other parameters")
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        marker.write_text(json.dumps(wanted), encoding="utf-8")

    def load(self, kind: str) -> list[dict]:
        """Every whole record of ``kind`` (``pages``, ``artists``, ``audio_features``)."""
        path = self.folder / f"{kind}.jsonl"
        if not path.exists():
            return []
        text = path.read_text(encoding="utf-8")
        whole = text[: text.rfind("\n") + 1]
        if whole != text:
            log.warning("dropping a torn last record from %s", path.name)
            path.write_text(whole, encoding="utf-8")
        return [json.loads(line) for line in whole.splitlines()]

    def add(self, kind: str, record: dict) -> None:
        """Append one record durably."""
        with (self.folder / f"{kind}.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def clear(self) -> None:
        """Remove the work folder (after a complete run)."""
        shutil.rmtree(self.folder, ignore_errors=True)


def search_queries(genres: Iterable[str], years: Iterable[str]) -> list[tuple[str, str]]:
    """``(query, genre)`` for every genre × year range, e.g. ``genre:rock year:2010-2019``."""
    quoted = {g: f'"{g}"' if " " in g else g for g in genres}
    return [(f"genre:{q} year:{y}", g) for g, q in quoted.items() for y in years]


class _Collector:
    """One run: every page and batch is fetched once, checkpointed, and skipped on a rerun."""

    def __init__(
        self, client: SpotifyClient, store: Checkpoint, progress: bool, page_size: int | None
    ) -> None:
        self.client, self.store, self.progress = client, store, progress
        self.pages = {r["key"]: r for r in store.load("pages")}
        self.skipped: list[str] = []
        self.closed: set[str] = set()
        # what this app may do, found out once and kept in the checkpoint for a resumed run
        self.facts: dict[str, object] = {}
        for record in store.load("facts"):
            self.facts.update(record)
        self.page_size = int(self.facts.get("page_size") or page_size or SEARCH_LIMIT)

    def _learn(self, **facts: object) -> None:
        new = {k: v for k, v in facts.items() if self.facts.get(k) != v}
        if new:
            self.facts.update(new)
            self.store.add("facts", new)

    @property
    def mode(self) -> str:
        """``development`` when any development-mode limit was met, else ``extended``."""
        dev = ("refused_limit", "no_popularity", "no_followers", "no_batch_artists")
        return DEVELOPMENT if any(self.facts.get(k) for k in dev) else EXTENDED

    def _bar(self, items: Sequence, desc: str, unit: str) -> tqdm:
        return tqdm(items, desc=desc, unit=unit, disable=not self.progress)

    def _skip(self, what: str) -> None:
        log.warning("skipping %s: Spotify's answer stayed unusable", what)
        self.skipped.append(what)

    def _cut_short(self, listing: str, offset: int, total: int, why: str) -> None:
        """Record a listing that ended before its reported total (an empty or repeated page)."""
        log.warning("%s ends at item %d of %d: Spotify sent %s", listing, offset, total, why)
        self.skipped.append(f"{listing} after item {offset} of {total} ({why})")

    def _keep(self, key: str, seed: str | None, page: object, wrapped: bool) -> dict | None:
        items = page.get("items") if isinstance(page, dict) else None
        if not isinstance(items, list):
            self._skip(key)
            return None
        if wrapped:  # a playlist item holds its track under "item" (since 2026) or "track"
            items = [
                i.get("item") or i.get("track") if isinstance(i, dict) else None for i in items
            ]
        record = {
            "key": key,
            "seed": seed,
            "total": int(page.get("total") or 0),
            "more": bool(page.get("next")),
            "count": len(items),
            "tracks": [t for t in map(parse_track, items) if t],
        }
        self.store.add("pages", record)
        return record

    def search(self, queries: list[tuple[str, str]], max_per_query: int) -> list[dict]:
        """Pages of every query, up to ``max_per_query`` results each."""
        pages: list[dict] = []
        for query, seed in self._bar(queries, "spotify search", "query"):
            pages += self._search_query(query, seed, min(SEARCH_CAP, max_per_query))
        return pages

    def _search_query(self, query: str, seed: str, stop: int) -> list[dict]:
        pages, offset = [], 0
        while offset < stop:
            key = f"search|{query}|{offset}"
            record = self.pages.get(key) or self._search_page(key, query, seed, offset, stop)
            size = self.page_size
            offset += size
            if record is None:
                continue
            pages.append(record)
            stop = min(stop, record["total"])
            if not record["count"]:
                if offset - size < stop:
                    self._cut_short(f"search {query!r}", offset - size, stop, "an empty page")
                break
        return pages

    def _search_page(self, key: str, query: str, seed: str, offset: int, stop: int) -> dict | None:
        sp = self.client.sp
        while True:
            limit = min(self.page_size, stop - offset)
            try:
                body = self.client.call(
                    sp.search, q=query, limit=limit, offset=offset, type="track", expect="tracks"
                )
                break
            except SpotifyStatusError as exc:
                # a development-mode app may ask for 10 results at most: the answer to 50 is a
                # 400 "Invalid limit" (at offset 0 the page boundaries stay the same)
                refused = exc.status == 400 and "limit" in str(exc).lower()
                if not refused or offset or self.page_size <= DEV_SEARCH_LIMIT:
                    raise
                log.warning(
                    "Spotify refused %d results per search page (a development-mode app): "
                    "asking for %d",
                    self.page_size,
                    DEV_SEARCH_LIMIT,
                )
                self.page_size = DEV_SEARCH_LIMIT
                self._learn(refused_limit=limit, page_size=DEV_SEARCH_LIMIT)
        tracks = (body or {}).get("tracks")
        items = tracks.get("items") if isinstance(tracks, dict) else None
        if isinstance(items, list) and "no_popularity" not in self.facts:
            shown = [i for i in items if isinstance(i, dict) and i.get("id")]
            if shown:  # development mode leaves popularity out of every track
                self._learn(no_popularity=not any("popularity" in i for i in shown))
        return self._keep(key, seed, tracks, wrapped=False)

    def playlists(self, ids: Sequence[str]) -> list[dict]:
        """Pages of every playlist; what Spotify does not know (400/404) is skipped with a warning."""
        pages: list[dict] = []
        for pid in self._bar(ids, "spotify playlists", "playlist"):
            pages += self._playlist(pid)
        return pages

    def _playlist(self, pid: str) -> list[dict]:
        """Pages of one playlist, up to its total; an empty or repeated page ends it early."""
        pages, offset, total, previous = [], 0, None, None
        while True:
            key = f"playlist|{pid}|{offset}"
            try:
                record = self.pages.get(key) or self._playlist_page(key, pid, offset)
            except SpotifyStatusError as exc:
                if exc.status not in (400, 403, 404):
                    raise
                where = f"playlist {pid}" + (f" from item {offset}" if offset else "")
                log.warning("skipping %s: %s", where, exc)
                self.skipped.append(where)  # the pages before it are kept
                return pages
            if record is not None:
                total = record["total"]
                tracks = [t["track_id"] for t in record["tracks"]]
                if not record["count"] or (tracks and tracks == previous):
                    if offset < total:
                        why = "an empty page" if not record["count"] else "the same page again"
                        self._cut_short(f"playlist {pid}", offset, total, why)
                    return pages
                pages.append(record)
                previous = tracks
            # the reported total bounds the listing, even when Spotify keeps offering a next page
            known = record["more"] if record else True
            if not known or offset + PLAYLIST_LIMIT >= (total or 0):
                return pages
            offset += PLAYLIST_LIMIT

    def _playlist_page(self, key: str, pid: str, offset: int) -> dict | None:
        body = self.client.call(
            self.client.sp.playlist_items,
            pid,
            limit=PLAYLIST_LIMIT,
            offset=offset,
            additional_types=("track",),
            expect="items",
        )
        return self._keep(key, None, body, wrapped=True)

    def artists(self, ids: list[str]) -> list[dict]:
        """Artist records for ``ids``, fetched in batches of 50, or one by one where the batch
        endpoint is gone (403 for development-mode apps)."""

        def fetch(batch: list[str]) -> object:
            if self.facts.get("no_batch_artists"):
                return {"artists": [self._one_artist(i) for i in batch]}
            try:
                return self.client.call(self.client.sp.artists, batch, expect="artists")
            except SpotifyStatusError as exc:
                if exc.status != 403:
                    raise
                # gone for development-mode apps; GET /artists/{id} still answers them
                first = self._one_artist(batch[0], probe=True)
                if first is None:
                    raise  # neither answers: artists are closed to this app (see _batched)
                log.warning(
                    "Spotify answered 403 to GET /artists?ids= (gone for development-mode "
                    "apps): fetching artists one by one"
                )
                self._learn(no_batch_artists=True)
                return {"artists": [first, *(self._one_artist(i) for i in batch[1:])]}

        records = self._batched("artists", ids, ARTIST_BATCH, fetch, parse_artist, called=True)
        if records and "no_followers" not in self.facts:
            self._learn(no_followers=all(r.get("listeners") is None for r in records))
        return records

    def _one_artist(self, artist_id: str, probe: bool = False) -> dict | None:
        """``GET /artists/{id}``; ``None`` for an artist Spotify does not know (or, when
        ``probe``, for an endpoint this app may not use)."""
        try:
            return self.client.call(self.client.sp.artist, artist_id, expect="id")
        except SpotifyStatusError as exc:
            if exc.status not in (400, 404, *((403,) if probe else ())):
                raise
            return None

    def features(self, ids: list[str]) -> list[dict]:
        """Measured audio features for ``ids``, fetched in batches of 100."""

        def fetch(batch: list[str]) -> object:
            # spotipy's audio_features() raises TypeError on an unparsable body; _get gives None
            return self.client.sp._get("audio-features", ids=",".join(batch))

        return self._batched("audio_features", ids, FEATURE_BATCH, fetch, parse_features)

    def _batched(
        self,
        key: str,
        ids: list[str],
        size: int,
        fetch: Callable[[list[str]], object],
        parse: Callable[[object], dict | None],
        called: bool = False,
    ) -> list[dict]:
        """Records for ``ids`` under ``key``: batches done before are reused, a 403 ends asking.

        ``fetch(batch)`` is passed through :meth:`SpotifyClient.call`, unless ``called`` says it
        does so itself."""
        records = self.store.load(key)
        if any(r.get("closed") for r in records):
            self._close(key, "seen before the resume")
        done = {i for r in records for i in r.get("ids", [])}
        todo = [] if key in self.closed else [i for i in ids if i not in done]
        for batch in self._bar(_chunks(todo, size), f"spotify {key}", "batch"):
            try:
                body = fetch(batch) if called else self.client.call(fetch, batch, expect=key)
            except SpotifyStatusError as exc:
                if exc.status != 403:
                    raise
                self._close(key, "this run")
                self.store.add(key, {"closed": True})
                break
            if not isinstance(body, dict) or not isinstance(body.get(key), list):
                self._skip(f"{key} batch from {batch[0]}")
                continue
            record = {"ids": batch, "items": [x for x in map(parse, body[key]) if x]}
            self.store.add(key, record)
            records.append(record)
        return [x for r in records for x in r.get("items", [])]

    def _close(self, key: str, when: str) -> None:
        self.closed.add(key)
        log.warning(
            "Spotify answered 403 to %s (%s): not asking again; %s",
            key.replace("_", "-"),
            when,
            _CLOSED_EFFECT[key],
        )


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _year(date: object) -> int | None:
    """The year of a release date of precision year, month or day (``1999``, ``1999-05``, …)."""
    match = re.match(r"(\d{4})", date) if isinstance(date, str) else None
    year = int(match[1]) if match else None
    return year if year and 1800 <= year <= 2100 else None


def parse_track(item: object) -> dict | None:
    """The catalog fields of a track object; None for local files, episodes and empty items."""
    if not isinstance(item, dict) or item.get("type", "track") != "track" or not item.get("id"):
        return None
    artists = [a for a in item.get("artists") or [] if isinstance(a, dict) and a.get("id")]
    if not artists:
        return None
    album = item.get("album") or {}
    return {
        "track_id": item["id"],
        "name": item.get("name"),
        "artist_id": artists[0]["id"],
        "artist_name": artists[0].get("name"),
        "album": album.get("name"),
        "release_year": _year(album.get("release_date")),
        "popularity": item.get("popularity"),
        "duration_ms": item.get("duration_ms"),
    }


def parse_artist(item: object) -> dict | None:
    """The catalog fields of an artist object (followers become ``listeners``)."""
    if not isinstance(item, dict) or not item.get("id"):
        return None
    return {
        "artist_id": item["id"],
        "name": item.get("name"),
        "genres": [g for g in item.get("genres") or [] if isinstance(g, str)],
        "popularity": item.get("popularity"),
        "listeners": (item.get("followers") or {}).get("total"),
    }


def parse_features(item: object) -> dict | None:
    """Audio features, key and mode of one audio-features object."""
    if not isinstance(item, dict) or not item.get("id"):
        return None
    return {"track_id": item["id"], **{f: item.get(f) for f in _FEATURE_FIELDS}}


def fill_features(
    tracks: pd.DataFrame,
    by_track: pd.DataFrame | None = None,
    by_artist: pd.DataFrame | None = None,
) -> dict[str, int]:
    """Fill missing audio features in place: by track id, else by artist, else by genre prior.

    Rows that already hold every feature are marked ``measured``, the others ``estimated``.

    Args:
        tracks: Rows with ``track_id``, ``artist_id``, ``artist_name``, ``genres``, the
            :data:`~tunescout.domain.features.AUDIO_FEATURES` (NaN where missing), ``key`` and ``mode``, and
            optionally ``seed`` (the genre searched for, the prior when the artist has no genres).
        by_track: Track rows with ``track_id`` and the features, e.g. a TidyTuesday or Kaggle
            snapshot; their ``key`` and ``mode`` are taken too.
        by_artist: Artist profiles with the features and ``name`` (or ``artists`` as in the Spotify
            1921–2020 ``data_w_genres.csv``), matched by Spotify ``artist_id`` when present, else by
            case-folded name.

    Returns:
        How many rows each origin gave: ``measured``, ``by_track``, ``by_artist``, ``by_genre``.
    """
    missing = tracks[AUDIO_FEATURES].isna().any(axis=1)
    tracks["features_source"] = np.where(missing, "estimated", "measured")
    counts = dict.fromkeys(_ORIGINS, 0) | {"measured": int((~missing).sum())}
    if by_track is not None:
        table = by_track.set_index("track_id")
        counts["by_track"] = _fill_rows(tracks, tracks["track_id"], table, _FEATURE_FIELDS)
    if by_artist is not None:
        counts["by_artist"] = _fill_by_artist(tracks, by_artist)
    counts["by_genre"] = _fill_priors(tracks)
    return counts


def _fill_rows(
    tracks: pd.DataFrame, keys: pd.Series, table: pd.DataFrame, columns: Sequence[str]
) -> int:
    """Copy ``columns`` from ``table`` (indexed like ``keys``) into rows still missing a feature."""
    usable = table[table[AUDIO_FEATURES].notna().all(axis=1) & table.index.notna()]
    usable = usable[~usable.index.duplicated()]
    todo = tracks[AUDIO_FEATURES].isna().any(axis=1) & keys.isin(usable.index)
    cols = [c for c in columns if c in usable.columns]
    if todo.any():
        tracks.loc[todo, cols] = usable.loc[keys[todo], cols].to_numpy(dtype=float)
    return int(todo.sum())


def _name_key(names: pd.Series) -> pd.Series:
    return names.astype("string").str.casefold().str.strip().replace("", pd.NA)


def _fill_by_artist(tracks: pd.DataFrame, profiles: pd.DataFrame) -> int:
    filled = 0
    if "artist_id" in profiles:
        by_id = profiles.set_index("artist_id")
        filled += _fill_rows(tracks, tracks["artist_id"], by_id, AUDIO_FEATURES)
    names = _name_key(profiles["name" if "name" in profiles else "artists"])
    by_name = profiles.set_index(pd.Index(names))
    return filled + _fill_rows(tracks, _name_key(tracks["artist_name"]), by_name, AUDIO_FEATURES)


def _fill_priors(tracks: pd.DataFrame) -> int:
    todo = tracks[AUDIO_FEATURES].isna().any(axis=1)
    if not todo.any():
        return 0
    seeds = tracks["seed"] if "seed" in tracks else pd.Series(None, index=tracks.index)
    hints = [
        tuple(catalog.as_list(g)) or ((s,) if isinstance(s, str) else ())
        for g, s in zip(tracks.loc[todo, "genres"], seeds[todo], strict=True)
    ]
    priors = {h: [estimate_features(list(h))[f] for f in AUDIO_FEATURES] for h in set(hints)}
    tracks.loc[todo, AUDIO_FEATURES] = np.array([priors[h] for h in hints])
    return int(todo.sum())


def _tracks_frame(pages: list[dict]) -> pd.DataFrame:
    rows = [{**t, "seed": p["seed"]} for p in pages for t in p["tracks"]]
    frame = pd.DataFrame(rows, columns=[*_TRACK_FIELDS, "seed"])
    return frame.drop_duplicates("track_id", ignore_index=True)


def assemble(
    pages: list[dict],
    artists: list[dict],
    measured: list[dict],
    by_track: pd.DataFrame | None = None,
    by_artist: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """Build validated catalog ``tracks`` and ``artists`` frames from checkpointed records.

    Returns:
        Tracks (each once), artists (every artist a track names), and the counts of
        :func:`fill_features`.
    """
    tracks = _tracks_frame(pages)
    if tracks.empty:  # Arrow cannot type an empty column of lists built by pandas
        return catalog.empty("tracks"), catalog.empty("artists"), dict.fromkeys(_ORIGINS, 0)
    info = pd.DataFrame(artists, columns=["artist_id", "name", "genres", "popularity", "listeners"])
    info = info.drop_duplicates("artist_id").set_index("artist_id")
    tracks["genres"] = [catalog.as_list(g) for g in info["genres"].reindex(tracks["artist_id"])]
    feats = pd.DataFrame(measured, columns=["track_id", *_FEATURE_FIELDS])
    feats = feats.drop_duplicates("track_id").set_index("track_id").astype(float)
    tracks = tracks.join(feats, on="track_id")
    counts = fill_features(tracks, by_track, by_artist)
    tracks["key"] = tracks["key"].round().astype("Int8")
    tracks["mode"] = tracks["mode"].round().astype("Int8")
    tracks["source"] = "spotify"
    return catalog.validate("tracks", tracks), _artists_frame(tracks, info), counts


def _artists_frame(tracks: pd.DataFrame, info: pd.DataFrame) -> pd.DataFrame:
    """One row per artist of ``tracks``: API facts, track count and mean features of its tracks."""
    grouped = tracks.assign(measured=tracks["features_source"].eq("measured")).groupby("artist_id")
    out = grouped.agg(
        track_name=("artist_name", "first"),
        track_count=("track_id", "size"),
        measured=("measured", "all"),
        **{f: (f, "mean") for f in AUDIO_FEATURES},
    ).join(info)
    out["name"] = out["name"].fillna(out["track_name"]).fillna(out.index.to_series())
    out["genres"] = [catalog.as_list(g) for g in out["genres"]]
    out["tags"] = [[] for _ in range(len(out))]
    out["listeners"] = out["listeners"].astype("Int64")
    out["features_source"] = np.where(out["measured"], "measured", "estimated")
    out["source"] = "spotify"
    return catalog.validate("artists", out.reset_index())


def _mode_note(mode: str, facts: dict[str, object]) -> str:
    """What kind of app Spotify treated this one as, and what that changed."""
    if mode == EXTENDED:
        return "spotify: the app has the full Web API (extended quota mode)"
    told = []
    if facts.get("refused_limit"):
        told.append(f"search refused {facts['refused_limit']} results per page")
    if facts.get("no_batch_artists"):
        told.append("GET /artists?ids= answered 403")
    if facts.get("no_popularity"):
        told.append("tracks came without popularity")
    if facts.get("no_followers"):
        told.append("artists came without followers and popularity")
    return (
        f"spotify: development-mode app ({'; '.join(told)}): search pages of "
        f"{facts.get('page_size') or 'the size asked for'}, artists fetched one by one where the "
        "batch is gone, popularity and followers marked missing (the catalog takes artists' "
        "popularity from Last.fm listeners where Last.fm knows them)"
    )


def _notes(counts: dict[str, int], closed: set[str], skipped: list[str]) -> list[str]:
    notes = [f"{key.replace('_', '-')}: 403, {_CLOSED_EFFECT[key]}" for key in sorted(closed)]
    estimated = counts["by_track"] + counts["by_artist"] + counts["by_genre"]
    if estimated:
        notes.append(
            f"{estimated} tracks have estimated audio features: {counts['by_track']} by track id "
            f"from a public data set, {counts['by_artist']} from artist profiles, "
            f"{counts['by_genre']} from genre priors"
        )
    if skipped:
        notes.append(f"{len(skipped)} pages or batches skipped: {', '.join(skipped[:5])}")
    return notes


def collect_spotify(
    settings: Settings,
    genres: Sequence[str] = DEFAULT_GENRES,
    years: Sequence[str] = DEFAULT_YEARS,
    playlists: Sequence[str] = (),
    max_per_query: int = SEARCH_CAP,
    page_size: int | None = None,
    features_by_track: pd.DataFrame | None = None,
    features_by_artist: pd.DataFrame | None = None,
    api_base: str | None = None,
    token_url: str | None = None,
    retries: Retries = Retries(),
    progress: bool = True,
) -> RawBundle:
    """Collect tracks and artists from the Spotify Web API, resuming an interrupted run.

    Args:
        settings: Supplies the client credentials and ``raw_dir`` (the checkpoint lives in
            ``raw_dir/spotify/_work`` until the run completes).
        genres: Genre seeds searched as ``genre:<g>``.
        years: Year ranges such as ``2010-2019`` (or one year), searched as ``year:<y>``.
        playlists: Playlist ids whose tracks are added.
        max_per_query: Results taken per search query (Spotify serves at most 1000).
        page_size: Search results per request (at most 50); by default 50, or 10 once Spotify
            refuses 50 (apps in development mode since February 2026).
        features_by_track: Fallback features by track id (see :func:`fill_features`).
        features_by_artist: Fallback artist profiles (see :func:`fill_features`).
        api_base: Web API root; Spotify's by default.
        token_url: Token endpoint; Spotify's by default.
        retries: Timeouts, retry counts and waits.
        progress: Show progress bars.

    Returns:
        A bundle with source ``spotify`` whose tracks and artists each appear once.

    Raises:
        SourceError: Without credentials, when they are refused, or when Spotify stays unavailable
            (completed pages are kept, so running again resumes).

    Example:
        >>> bundle = collect_spotify(load_settings(), genres=["jazz"], years=["1950-1969"])
    """
    if not settings.has_spotify:
        raise SourceError(
            "no Spotify credentials: set SPOTIFY_CLIENT_ID and SPOTIFY_CLIENT_SECRET "
            "in .env or the environment"
        )
    params = {
        "genres": list(genres),
        "years": list(years),
        "playlists": list(playlists),
        "max_per_query": int(max_per_query),
        "page_size": int(page_size) if page_size else "auto",
        "api_base": api_base or API_BASE,
    }
    client = SpotifyClient(
        settings.spotify_client_id,
        settings.spotify_client_secret,
        api_base=api_base,
        token_url=token_url,
        retries=retries,
    )
    store = Checkpoint(settings.raw_dir / "spotify" / "_work", params)
    run = _Collector(client, store, progress, page_size)
    pages = run.search(search_queries(genres, years), max_per_query)
    pages += run.playlists(playlists)
    track_ids = _tracks_frame(pages)
    artists = run.artists(sorted(set(track_ids["artist_id"])))
    measured = run.features(track_ids["track_id"].tolist())
    tracks, artist_rows, counts = assemble(
        pages, artists, measured, features_by_track, features_by_artist
    )
    store.clear()
    mode, facts = run.mode, {**run.facts, "page_size": run.page_size}
    log.info("spotify: %d tracks, %d artists, features %s", len(tracks), len(artist_rows), counts)
    log.info("%s", _mode_note(mode, facts))
    return RawBundle(
        source="spotify",
        tracks=tracks,
        artists=artist_rows,
        params={
            **params,
            "retries": asdict(retries),
            "features": counts,
            "api_mode": mode,
            "api_facts": facts,
        },
        # development mode changes what the catalog holds, so it heads the notes
        notes=[
            *([_mode_note(mode, facts)] if mode == DEVELOPMENT else []),
            *_notes(counts, run.closed, run.skipped),
        ],
    )
