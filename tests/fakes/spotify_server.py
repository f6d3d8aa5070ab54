"""A fake Spotify Web API (token, search, playlists, artists, audio features) with a fault plan.

Data is a pure function of the request, so tests know the right answer. ``server.faults`` maps a
route (``search``, ``playlist``, ``artists``, ``audio-features``, ``token``), or a route at one
offset (``search@100``), to behaviours served first, one per request: an HTTP status, ``"slow"``
(answer after ``server.delay`` seconds), ``"malformed"`` (a complete answer holding cut-off JSON),
``"truncated"`` (half the promised bytes, then the connection closes), ``"reset"`` (a TCP reset
instead of an answer), ``"empty"`` (a page with no items that still claims more), ``"expire"``
(every issued token stops working) or ``"ok"`` (serve normally). With ``server.endless`` every
search and playlist page claims a next page, and past the end the last page comes again (a loop).

``server.mode`` is the kind of app the credentials belong to. ``"extended"`` (extended quota mode)
is the Web API as it was: search pages of up to 50, ``popularity`` on tracks and artists,
``followers`` on artists, ``GET /artists?ids=``, playlists at ``/tracks`` and ``/items`` with each
item under ``track``. ``"development"`` is what every app created since 2026-02-11 gets (Spotify's
February 2026 migration guide): search pages of at most 10 (5 by default; a larger ``limit`` is a
400 "Invalid limit"), no ``popularity`` on tracks nor ``popularity``/``followers`` on artists, 403
for ``GET /artists?ids=``, ``/playlists/{id}/tracks``, artists' top tracks, new releases and browse
categories, and audio features (closed to apps created since 2024-11-27); artists come one at a
time from ``GET /artists/{id}`` and playlist items under ``item``. (The single-artist route is
served in the development profile only: the collector needs it only there.)
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import re
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.fakes import reset, truncated

ARTISTS_PER_GENRE = 7
SEARCH_CAP = 1000
_QUERY = re.compile(
    r'genre:(?:"(?P<quoted>[^"]+)"|(?P<plain>\S+)) year:(?P<lo>\d{4})(?:-(?P<hi>\d{4}))?'
)
_REASONS = {401: "Invalid access token", 403: "Forbidden", 404: "Not found", 429: "API rate limit"}
EXTENDED, DEVELOPMENT = "extended", "development"
DEV_SEARCH_LIMIT = 10
# routes a development-mode app gets 403 from
_GONE_IN_DEVELOPMENT = {"artists", "playlist-tracks", "top-tracks", "browse", "audio-features"}


def state(**overrides: object) -> dict:
    """Server attributes for ``serve(SpotifyHandler, **state())``; keywords override them."""
    values = {
        "client_id": "fake-client-id",
        "client_secret": "fake-client-secret",
        "mode": EXTENDED,
        "tracks_per_query": 120,
        "playlists": {"plA": 230},
        "features_closed": False,
        "endless": False,
        "faults": {},
        "retry_after": 1,
        "delay": 1.0,
        "tokens": set(),
        "issued": 0,
        "calls": Counter(),
        "served": [],
        "lock": threading.Lock(),
    }
    values.update(overrides)
    return values


def spotify_id(*parts: object) -> str:
    """A deterministic 22-character base-62-safe id."""
    return hashlib.md5(":".join(map(str, parts)).encode()).hexdigest()[:22]


def artist_object(group: str, j: int, mode: str = EXTENDED) -> dict:
    """The artist object of artist ``j`` in ``group`` (a genre, or ``shared`` with no genres);
    without ``popularity`` and ``followers`` for a development-mode app."""
    if mode == DEVELOPMENT:
        full = artist_object(group, j)
        return {k: v for k, v in full.items() if k not in ("popularity", "followers")}
    return {
        "id": spotify_id("artist", group, j),
        "name": f"{group.title()} Artist {j}",
        "type": "artist",
        "genres": [] if group == "shared" else [group, f"{group} revival"],
        "popularity": (10 * j + 5) % 100,
        "followers": {"href": None, "total": 1000 * (j + 1)},
    }


def _track(tid: str, name: str, artist: dict, year: int, i: int) -> dict:
    date, precision = [(f"{year}", "year"), (f"{year}-04", "month"), (f"{year}-04-12", "day")][
        i % 3
    ]
    return {
        "id": tid,
        "name": name,
        "type": "track",
        "is_local": False,
        "popularity": i % 101,
        "duration_ms": 180_000 + i,
        "artists": [{"id": artist["id"], "name": artist["name"], "type": "artist"}],
        "album": {
            "name": f"Album {i // 10}",
            "release_date": date,
            "release_date_precision": precision,
        },
    }


def search_track(genre: str, years: str, i: int) -> tuple[dict, dict]:
    """Result ``i`` of ``genre:<genre> year:<years>`` and its artist; each 10th is in all genres."""
    group = "shared" if i % 10 == 0 else genre
    artist = artist_object(group, i % ARTISTS_PER_GENRE)
    lo, _, hi = years.partition("-")
    year = int(lo) + i % (int(hi or lo) - int(lo) + 1)
    return _track(
        spotify_id("track", group, years, i), f"{group} song {i}", artist, year, i
    ), artist


def playlist_item(playlist: str, i: int) -> tuple[dict, dict | None]:
    """Item ``i`` of a playlist: item 3 has no track and item 4 is a local file, as Spotify does."""
    artist = artist_object("jazz", i % ARTISTS_PER_GENRE)
    if i == 3:
        return {"added_at": "2024-01-01T00:00:00Z", "track": None}, None
    track = _track(spotify_id("track", "playlist", playlist, i), f"tune {i}", artist, 1990, i)
    if i == 4:
        track.update(id=None, is_local=True)
    return {"added_at": "2024-01-01T00:00:00Z", "track": track}, artist


def audio_features(track_id: str) -> dict:
    """The audio-features object Spotify would return for ``track_id``."""
    h = int(hashlib.md5(track_id.encode()).hexdigest(), 16)
    unit = ["danceability", "energy", "valence", "acousticness", "instrumentalness"]
    values = {name: ((h >> (10 * k)) % 1000) / 1000 for k, name in enumerate(unit)}
    values.update(speechiness=(h % 97) / 200, liveness=(h % 89) / 100)
    return {
        **values,
        "tempo": 60.0 + (h >> 60) % 140,
        "loudness": -1.0 - (h >> 70) % 30,
        "key": (h >> 80) % 12,
        "mode": (h >> 90) % 2,
        "type": "audio_features",
        "id": track_id,
        "duration_ms": 180_000,
        "time_signature": 4,
    }


class SpotifyHandler(BaseHTTPRequestHandler):
    """Serves the Spotify shapes from ``self.server`` state (see :func:`state`)."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output clean
        return

    def do_POST(self) -> None:
        self._dispatch()

    def do_GET(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        self.params = {k: v[0] for k, v in parse_qs(url.query).items()}
        path = url.path.rstrip("/")
        route = self._route(path)
        behaviour = self._next_fault(route)
        self.empty = behaviour == "empty"
        self.damaged = behaviour in ("slow", "malformed", "truncated", "reset")
        try:
            if behaviour == "slow":
                time.sleep(self.server.delay)
            if isinstance(behaviour, int):
                self._error(route, behaviour)
            elif behaviour == "malformed":
                self._send(route, 200, b'{"tracks": {"items": [{"id": ')
            elif behaviour == "truncated":
                self._record(route, 200)
                truncated(self, b'{"tracks": {"items": [], "total": 0, "next": null}}')
            elif behaviour == "reset":
                self._record(route, None)
                reset(self)
            elif behaviour == "expire":
                with self.server.lock:
                    self.server.tokens.clear()
                self._error(route, 401, "The access token expired")
            elif route == "token":
                self._token()
            elif route is None:
                self._error(route, 404)
            elif self._authorised() and not self._gone(route, path):
                getattr(self, "_" + route.replace("-", "_"))(path)
        except ValueError as exc:  # a request the real API rejects with 400
            self._error(route, 400, str(exc))
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (timeout test): nothing left to answer

    @property
    def development(self) -> bool:
        return self.server.mode == DEVELOPMENT

    @staticmethod
    def _route(path: str) -> str | None:
        if path == "/api/token":
            return "token"
        if re.fullmatch(r"/v1/playlists/[^/]+/(items|tracks)", path):
            return "playlist"
        if re.fullmatch(r"/v1/artists/[^/]+/top-tracks", path):
            return "top-tracks"
        if re.fullmatch(r"/v1/artists/[^/]+", path):
            return "artist"
        if re.fullmatch(r"/v1/browse/(new-releases|categories)", path):
            return "browse"
        name = path.removeprefix("/v1/")
        return name if name in ("search", "artists", "audio-features") else None

    def _gone(self, route: str, path: str) -> bool:
        """Whether a development-mode app gets 403 here (the request is answered so)."""
        key = "playlist-tracks" if route == "playlist" and path.endswith("/tracks") else route
        if self.development and key in _GONE_IN_DEVELOPMENT:
            self._error(route, 403)
            return True
        return False

    def _next_fault(self, route: str | None) -> object:
        with self.server.lock:
            self.server.calls[route] += 1
            for key in (f"{route}@{self.params.get('offset', 0)}", route):
                plan = self.server.faults.get(key)
                if plan:
                    return plan.pop(0)
        return None

    def _record(self, route: str | None, status: int | None) -> None:
        with self.server.lock:
            entry = {"route": route, "status": status, "at": time.monotonic(), **self.params}
            self.server.served.append({**entry, "damaged": self.damaged})

    def _send(
        self, route: str | None, status: int, body: bytes, headers: dict | None = None
    ) -> None:
        self._record(route, status)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, route: str, payload: object) -> None:
        self._send(route, 200, json.dumps(payload).encode())

    def _error(self, route: str | None, status: int, message: str | None = None) -> None:
        text = message or _REASONS.get(status, "Server error")
        body = json.dumps({"error": {"status": status, "message": text}}).encode()
        headers = {"Retry-After": str(self.server.retry_after)} if status == 429 else None
        self._send(route, status, body, headers)

    def _token(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        pair = f"{self.server.client_id}:{self.server.client_secret}".encode()
        expected = "Basic " + base64.b64encode(pair).decode()
        if self.headers.get("Authorization") != expected:
            body = {"error": "invalid_client", "error_description": "Invalid client"}
            self._send("token", 400, json.dumps(body).encode())
            return
        if form.get("grant_type") != ["client_credentials"]:
            self._send("token", 400, b'{"error": "unsupported_grant_type"}')
            return
        with self.server.lock:
            self.server.issued += 1
            token = f"token{self.server.issued}"
            self.server.tokens.add(token)
        self._json("token", {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def _authorised(self) -> bool:
        token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
        with self.server.lock:
            known = token in self.server.tokens
        if not known:
            self._error(None, 401)
        return known

    def _paging(
        self, path: str, total: int, cap: int, default: int = 20
    ) -> tuple[int, int, str | None]:
        offset, limit = int(self.params.get("offset", 0)), int(self.params.get("limit", default))
        if limit > cap:
            raise ValueError("Invalid limit")
        if offset > SEARCH_CAP and not self.server.endless:
            raise ValueError(f"Invalid limit or offset: {limit}, {offset}")
        nxt = offset + limit
        query = urlencode({**self.params, "offset": nxt, "limit": limit})
        more = nxt < total or self.server.endless
        return offset, limit, f"{self.server.url}{path}?{query}" if more else None

    def _rows(self, offset: int, limit: int, total: int) -> range:
        """The rows a page shows: none for an ``empty`` fault, the last page again in a loop."""
        if self.empty:
            return range(0)
        if self.server.endless and offset >= total > 0:
            offset = (total - 1) // limit * limit
        return range(offset, min(offset + limit, total))

    def _search(self, path: str) -> None:
        match = _QUERY.fullmatch(self.params.get("q", ""))
        total = self.server.tracks_per_query
        cap, default = (DEV_SEARCH_LIMIT, 5) if self.development else (50, 20)
        offset, limit, nxt = self._paging(path, min(total, SEARCH_CAP), cap, default)
        if match is None or self.params.get("type") != "track":
            raise ValueError("Unsupported query")
        genre = match["quoted"] or match["plain"]
        years = f"{match['lo']}-{match['hi'] or match['lo']}"
        items = [search_track(genre, years, i)[0] for i in self._rows(offset, limit, total)]
        if self.development:
            items = [{k: v for k, v in t.items() if k != "popularity"} for t in items]
        page = {"items": items, "offset": offset, "limit": limit, "total": total, "next": nxt}
        self._json("search", {"tracks": {"href": self.path, "previous": None, **page}})

    def _playlist(self, path: str) -> None:
        total = self.server.playlists.get(path.split("/")[3])
        if total is None:
            self._error("playlist", 404, "Resource not found")
            return
        offset, limit, nxt = self._paging(path, total, 100)
        items = [playlist_item(path.split("/")[3], i)[0] for i in self._rows(offset, limit, total)]
        if self.development:  # the item is under "item", without popularity
            items = [
                {"added_at": i["added_at"], "item": i["track"] and _no_popularity(i["track"])}
                for i in items
            ]
        page = {"items": items, "offset": offset, "limit": limit, "total": total, "next": nxt}
        self._json("playlist", {"href": self.path, "previous": None, **page})

    def _artists(self, path: str) -> None:
        ids = self.params.get("ids", "").split(",")
        if len(ids) > 50:
            raise ValueError("Too many ids requested")
        self._json("artists", {"artists": [_known_artists().get(i) for i in ids]})

    def _artist(self, path: str) -> None:
        if not self.development:  # see the module's docstring
            self._error("artist", 404)
            return
        artist = _known_artists().get(path.rsplit("/", 1)[1])
        if artist is None:
            self._error("artist", 404, "Resource not found")
            return
        self._json(
            "artist", {k: v for k, v in artist.items() if k not in ("popularity", "followers")}
        )

    def _top_tracks(self, path: str) -> None:
        self._json("top-tracks", {"tracks": []})

    def _browse(self, path: str) -> None:
        key = "albums" if path.endswith("new-releases") else "categories"
        self._json("browse", {key: {"items": [], "total": 0, "next": None}})

    def _audio_features(self, path: str) -> None:
        ids = self.params.get("ids", "").split(",")
        if self.server.features_closed:
            self._error("audio-features", 403)
        elif len(ids) > 100:
            raise ValueError("Too many ids requested")
        else:
            self._json("audio-features", {"audio_features": [audio_features(i) for i in ids]})


@functools.cache
def _known_artists() -> dict[str, dict]:
    groups = ["shared", "jazz", "rock", "pop", "hip hop", "metal", "classical", "folk"]
    return {
        a["id"]: a for g in groups for a in (artist_object(g, j) for j in range(ARTISTS_PER_GENRE))
    }


def _no_popularity(track: dict) -> dict:
    return {k: v for k, v in track.items() if k != "popularity"}
