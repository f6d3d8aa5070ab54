"""A fake Last.fm API (``/2.0/``) that answers in the real JSON shapes, with a fault plan.

The data is a small fixed world (:data:`ARTISTS`, :data:`CHART`, :data:`TAG_ARTISTS`,
:data:`FRIENDS`, :data:`TOP_ARTISTS`), so tests know every right answer. Shapes follow the
examples of the Last.fm API docs: numbers as strings except ``toptags.tag[].count``, pagination
in ``@attr`` (``page``, ``perPage``, ``totalPages``, ``total``), errors as
``{"error": N, "message": …}``.

``server.faults`` maps ``(method, subject)`` – the method name as sent, lower-cased, and the
``artist``, ``user`` or ``tag`` parameter (``""`` for the chart) – to behaviours served first, one
per request: ``"error:N"`` (Last.fm error N with HTTP 200), ``"http:S"`` (status S with an HTML
body), ``"http:429:R"`` (429 with ``Retry-After: R``), ``"sleep:X"`` (answer after X seconds),
``"malformed"`` (a complete answer holding cut-off JSON), ``"truncated"`` (half the promised bytes,
then the connection closes), ``"reset"`` (a TCP reset instead of an answer). ``server.total_pages`` overrides the reported ``totalPages`` per
method; past the real last page ``server.past_end`` decides: ``"empty"`` or ``"repeat"`` (the last
page again). Every request is recorded in ``server.calls`` as ``(monotonic time, params)``.
``server.outage`` is a behaviour every request after the first ``server.outage_after`` gets when no
fault is planned for it (an outage: ``"http:503"``, ``"reset"``…), and ``server.chart`` the names
the chart lists.
"""

from __future__ import annotations

import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, quote_plus, urlsplit

from tests.fakes import reset, truncated

FAKE_KEY = "fakekey0123456789abcdef0123456789"

ARTISTS: dict[str, dict] = {
    "Radiohead": {
        "listeners": 5_100_000,
        "playcount": 900_000_000,
        "tags": [("alternative", 100), ("rock", 90), ("melancholic", 41), ("Sad", 30)],
    },
    "Adele": {
        "listeners": 3_000_000,
        "playcount": 400_000_000,
        "tags": [("soul", 100), ("pop", 80), ("sad", 55), ("female vocalists", 50)],
    },
    "Daft Punk": {
        "listeners": 4_200_000,
        "playcount": 600_000_000,
        "tags": [("electronic", 100), ("dance", 70), ("happy", 20), ("french", 0)],
    },
    "Bon Iver": {
        "listeners": 2_000_000,
        "playcount": 150_000_000,
        "tags": [("indie folk", 100), ("chill", 60), ("sad", 45)],
    },
    "Pharrell Williams": {
        "listeners": 2_500_000,
        "playcount": 90_000_000,
        "tags": [("pop", 100), ("happy", 80)],
    },
    "Nujabes": {
        "listeners": 900_000,
        "playcount": 120_000_000,
        "tags": [("hip-hop", 100), ("chill", 90), ("jazz", 50)],
    },
    "Sigur Rós": {
        "listeners": 1_800_000,
        "playcount": 110_000_000,
        "tags": [("post-rock", 100), ("dreamy", 60)],
    },
    "The Prodigy": {
        "listeners": 2_700_000,
        "playcount": 130_000_000,
        "tags": [("electronic", 100), ("energetic", 70)],
    },
    "Norah Jones": {
        "listeners": 2_200_000,
        "playcount": 100_000_000,
        "tags": [("jazz", 100), ("romantic", 40), ("chill", 30)],
    },
}
CHART = [
    "Radiohead",
    "Adele",
    "Daft Punk",
    "Bon Iver",
    "Pharrell Williams",
    "The Prodigy",
    "Norah Jones",
]
TAG_ARTISTS = {
    "sad": ["Adele", "Radiohead", "Bon Iver"],
    "chill": ["Nujabes", "Bon Iver", "Norah Jones"],
    "happy": ["Pharrell Williams", "Daft Punk"],
}
FRIENDS = {
    "alice": ["bob", "carol"],
    "bob": ["alice", "dave"],
    "carol": ["alice"],
    "dave": ["bob", "erin"],
    "erin": [],
}
# "Ghost Artist" is listened to but unknown to artist.getInfo / getTopTags (error 6).
TOP_ARTISTS = {
    "alice": [("Radiohead", 120), ("Bon Iver", 80), ("Sigur Rós", 15)],
    "bob": [("Daft Punk", 300), ("The Prodigy", 40)],
    "carol": [("Adele", 55), ("Norah Jones", 20), ("Ghost Artist", 3)],
    "dave": [("Nujabes", 75)],
    "erin": [("Radiohead", 5)],
}
MESSAGES = {
    6: "The artist you supplied could not be found",
    8: "Operation failed - Most likely the backend service failed. Please try again.",
    10: "Invalid API key - You must be granted a valid key by last.fm",
    11: "Service Offline - This service is temporarily offline. Try again later.",
    16: "There was a temporary error processing your request. Please try again",
    26: "Suspended API key - Access for your account has been suspended, please contact Last.fm",
    29: "Rate Limit Exceeded - Your IP has made too many requests in a short period",
}


def state(**overrides: object) -> dict:
    """Server attributes for ``serve(LastfmHandler, **state())``; keywords override them."""
    values = {
        "api_key": FAKE_KEY,
        "suspended": False,
        "faults": {},
        "total_pages": {},
        "past_end": "empty",
        "outage": None,
        "outage_after": 0,
        "chart": list(CHART),
        "calls": [],
        "lock": threading.Lock(),
    }
    values.update(overrides)
    return values


def _images(url: str) -> list[dict]:
    return [{"#text": f"{url}.png", "size": s} for s in ("small", "medium", "large", "extralarge")]


def _artist_summary(name: str, rank: int) -> dict:
    url = "https://www.last.fm/music/" + quote_plus(name)
    return {
        "name": name,
        "mbid": "",
        "url": url,
        "streamable": "0",
        "image": _images(url),
        "@attr": {"rank": str(rank)},
    }


class LastfmHandler(BaseHTTPRequestHandler):
    """Serves the Last.fm shapes from ``self.server`` state (see :func:`state`)."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output clean
        return

    def do_GET(self) -> None:
        self._dispatch(urlsplit(self.path).query)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._dispatch(self.rfile.read(length).decode())

    def _dispatch(self, form: str) -> None:
        query = urlsplit(self.path).query
        self.params = {k: v[0] for k, v in parse_qs(f"{query}&{form}").items()}
        method = self.params.get("method", "").lower()
        subject = (
            self.params.get("artist") or self.params.get("user") or self.params.get("tag") or ""
        )
        with self.server.lock:
            self.server.calls.append((time.monotonic(), dict(self.params)))
            plan = self.server.faults.get((method, subject))
            down = len(self.server.calls) > self.server.outage_after
            fault = plan.pop(0) if plan else (self.server.outage if down else None)
        try:
            if fault and self._fault(fault):
                return
            if self.params.get("api_key") != self.server.api_key:
                self._error(10, 403)
            elif self.server.suspended:
                self._error(26, 403)
            elif method in _ROUTES:
                getattr(self, _ROUTES[method])()
            else:
                self._json(
                    {
                        "error": 3,
                        "message": "Invalid Method - No method with that name in this package",
                    },
                    400,
                )
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (timeout test): nothing left to answer

    def _fault(self, fault: str) -> bool:
        """Act out ``fault``; ``True`` when it replaced the answer."""
        kind, _, arg = fault.partition(":")
        if kind == "sleep":
            time.sleep(float(arg))
            return False
        if kind == "error":
            self._error(int(arg), 200)
        elif kind == "http":
            status, _, retry_after = arg.partition(":")
            headers = {"Retry-After": retry_after} if retry_after else {}
            self._send(
                int(status), b"<html><body>Service Unavailable</body></html>", "text/html", headers
            )
        elif kind == "malformed":
            self._send(200, b'{"toptags": {"tag": [{"count": 10', "application/json")
        elif kind == "truncated":
            truncated(self, b'{"toptags": {"tag": [{"count": 10, "name": "rock"}]}}')
        elif kind == "reset":
            reset(self)
        return True

    def _send(
        self, status: int, body: bytes, content_type: str, headers: dict | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, payload: dict, status: int = 200) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json; charset=utf-8")

    def _error(self, code: int, status: int, message: str | None = None) -> None:
        self._json({"error": code, "message": message or MESSAGES.get(code, "Error")}, status)

    def _page(self, method: str, items: list) -> tuple[list, dict]:
        """The requested page of ``items`` and its ``@attr`` block."""
        page, limit = int(self.params.get("page", 1)), int(self.params.get("limit", 50))
        real = math.ceil(len(items) / limit)
        shown = page
        if page > real and self.server.past_end == "repeat" and real:
            shown = real
        chunk = items[(shown - 1) * limit : shown * limit]
        total = self.server.total_pages.get(method, real)
        attr = {
            "page": str(page),
            "perPage": str(limit),
            "totalPages": str(total),
            "total": str(len(items)),
        }
        return chunk, attr

    def _chart_top_artists(self) -> None:
        names, attr = self._page("chart.gettopartists", self.server.chart)
        artists = []
        for name in names:
            row = _artist_summary(name, 0)
            del row["@attr"]
            stats = ARTISTS[name]
            artists.append(
                {**row, "playcount": str(stats["playcount"]), "listeners": str(stats["listeners"])}
            )
        self._json({"artists": {"artist": artists, "@attr": attr}})

    def _tag_top_artists(self) -> None:
        tag = self.params.get("tag", "")
        names, attr = self._page("tag.gettopartists", TAG_ARTISTS.get(tag, []))
        start = (int(attr["page"]) - 1) * int(attr["perPage"])
        artists = [_artist_summary(n, start + i + 1) for i, n in enumerate(names)]
        self._json({"topartists": {"artist": artists, "@attr": {"tag": tag, **attr}}})

    def _artist_top_tags(self) -> None:
        name = self.params.get("artist", "")
        if name not in ARTISTS:
            self._error(6, 200)
            return
        tags = [
            {"count": c, "name": t, "url": "https://www.last.fm/tag/" + quote_plus(t)}
            for t, c in ARTISTS[name]["tags"]
        ]
        self._json({"toptags": {"tag": tags, "@attr": {"artist": name}}})

    def _artist_info(self) -> None:
        name = self.params.get("artist", "")
        if name not in ARTISTS:
            self._error(6, 200)
            return
        stats = ARTISTS[name]
        url = "https://www.last.fm/music/" + quote_plus(name)
        artist = {
            "name": name,
            "mbid": "",
            "url": url,
            "image": _images(url),
            "streamable": "0",
            "ontour": "0",
            "stats": {"listeners": str(stats["listeners"]), "playcount": str(stats["playcount"])},
            "similar": {"artist": []},
            "tags": {
                "tag": [
                    {"name": t, "url": f"https://www.last.fm/tag/{quote_plus(t)}"}
                    for t, _ in stats["tags"][:5]
                ]
            },
            "bio": {"published": "01 Jan 2010, 00:00", "summary": "", "content": ""},
        }
        self._json({"artist": artist})

    def _user_friends(self) -> None:
        user = self.params.get("user", "")
        if user not in FRIENDS:
            self._error(6, 404, "User not found")
            return
        if not FRIENDS[user]:
            self._error(6, 400, "no such page")
            return
        names, attr = self._page("user.getfriends", FRIENDS[user])
        users = [
            {
                "name": n,
                "playcount": "100",
                "subscriber": "0",
                "type": "user",
                "url": f"https://www.last.fm/user/{n}",
                "image": _images(n),
            }
            for n in names
        ]
        self._json({"friends": {"user": users, "@attr": {"user": user, **attr}}})

    def _user_top_artists(self) -> None:
        user = self.params.get("user", "")
        if user not in TOP_ARTISTS:
            self._error(6, 404, "User not found")
            return
        plays = dict(TOP_ARTISTS[user])
        names, attr = self._page("user.gettopartists", list(plays))
        start = (int(attr["page"]) - 1) * int(attr["perPage"])
        artists = [
            {**_artist_summary(n, start + i + 1), "playcount": str(plays[n])}
            for i, n in enumerate(names)
        ]
        self._json({"topartists": {"artist": artists, "@attr": {"user": user, **attr}}})


_ROUTES = {
    "chart.gettopartists": "_chart_top_artists",
    "tag.gettopartists": "_tag_top_artists",
    "artist.gettoptags": "_artist_top_tags",
    "artist.getinfo": "_artist_info",
    "user.getfriends": "_user_friends",
    "user.gettopartists": "_user_top_artists",
}
