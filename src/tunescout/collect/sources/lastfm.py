"""Collect artists, their tags and users' play counts from the Last.fm web API (version 2.0).

Last.fm keys artists by name (the MusicBrainz id is often empty), so ``artist_id`` in the raw bundle
is the artist's name exactly as Last.fm writes it.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Iterator, Sequence

import pandas as pd
import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.exceptions import ConnectTimeoutError
from urllib3.util.retry import Retry

from tunescout import catalog
from tunescout.catalog.snapshots import RawBundle
from tunescout.config import Settings
from tunescout.errors import SourceError

log = logging.getLogger(__name__)

API_BASE = "https://ws.audioscrobbler.com/2.0/"
MOOD_TAGS = (
    "sad",
    "happy",
    "chill",
    "energetic",
    "melancholic",
    "romantic",
    "mellow",
    "upbeat",
    "dark",
    "relaxing",
    "aggressive",
    "dreamy",
)
TOP_TAGS = 25
FATAL_CODES = {10: "invalid API key", 26: "suspended API key"}
RETRY_CODES = {8, 11, 16, 29}  # operation failed, service offline, temporary error, rate limit
NOT_FOUND = 6
RETRY_STATUSES = (429, 500, 502, 503, 504)
# Last.fm counts requests as they arrive; the margin keeps network jitter from squeezing six
# requests into one of its seconds.
RATE_MARGIN = 0.05
# When Last.fm is down (an outage, a reset, a dead proxy) the collection stops instead of saving an
# empty or gutted snapshot: after this many failed requests before any answer, this many in a
# row, or when more than this share of all requests failed.
FAILED_FIRST, FAILED_IN_A_ROW, FAILED_SHARE = 3, 10, 0.5


class RateLimiter:
    """Blocks so that at most ``calls`` requests start in any ``period`` seconds (thread-safe)."""

    def __init__(self, calls: int, period: float) -> None:
        self.calls = calls
        self.period = period
        self._starts: collections.deque[float] = collections.deque(maxlen=calls)
        self._lock = threading.Lock()

    def wait(self) -> None:
        """Sleep until one more request may start, and count it."""
        with self._lock:
            if len(self._starts) == self.calls:
                delay = self._starts[0] + self.period - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
            self._starts.append(time.monotonic())


class _PacedRetry(Retry):
    """A urllib3 ``Retry`` whose retries also pass through the client's rate limiter."""

    limiter: RateLimiter | None = None

    def new(self, **kw: object) -> _PacedRetry:
        retry = super().new(**kw)
        retry.limiter = self.limiter
        return retry

    def sleep(self, response: object = None) -> None:
        super().sleep(response)
        if self.limiter is not None:
            self.limiter.wait()


def _items(value: object) -> list[dict]:
    """A Last.fm list field as a list of dicts (a lone item sometimes comes as a bare object)."""
    if isinstance(value, dict):
        value = [value]
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []


def _number(value: object) -> int | None:
    """Last.fm sends numbers as strings (``"1511"``); anything unreadable becomes ``None``."""
    try:
        return int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _never_connected(exc: requests.ConnectionError) -> bool:
    """Whether the request failed before connecting (refused, unresolvable, timed out)."""
    reason = getattr(exc.args[0] if exc.args else None, "reason", None)
    return isinstance(reason, ConnectTimeoutError)


class LastfmClient:
    """Calls Last.fm API methods with a rate limit, retries, and care never to reveal the key.

    Parameters travel in a POST form body, as pylast sends them, so the key never appears in a URL
    that urllib3 logs or an exception quotes. urllib3 retries HTTP 429/5xx (honouring
    ``Retry-After``), read timeouts and dropped connections; this class retries the Last.fm error
    codes that mean "try again" (8, 11, 16, 29) and malformed JSON, with exponential back-off.

    Args:
        api_key: The Last.fm API key.
        api_base: The API endpoint (a local fake in tests).
        timeout: Seconds to wait for a connection or the next bytes of an answer.
        attempts: Tries per request before it is skipped with a warning.
        backoff: Seconds before the first retry; each further retry waits twice as long.
        calls_per_second: At most this many requests start in any second.

    Raises:
        SourceError: When ``api_key`` is empty.
    """

    def __init__(
        self,
        api_key: str,
        api_base: str = API_BASE,
        *,
        timeout: float = 10.0,
        attempts: int = 4,
        backoff: float = 1.0,
        calls_per_second: int = 5,
    ) -> None:
        if not api_key:
            raise SourceError(
                "no Last.fm API key: set LASTFM_API_KEY (get one at https://www.last.fm/api/account/create)"
            )
        self._api_key = api_key
        self.api_base = api_base
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.skipped = 0
        self.requests = 0  # calls made (each with its retries)
        self.failed = 0  # calls that got no usable answer (not counting "not found")
        self.answered = 0
        self._in_a_row = 0
        self.problem = ""  # the last failure's reason
        self._limiter = RateLimiter(calls_per_second, 1.0 + RATE_MARGIN)
        retry = _PacedRetry(
            total=attempts - 1,
            connect=1,
            read=attempts - 1,
            status=attempts - 1,
            other=0,
            backoff_factor=backoff,
            status_forcelist=RETRY_STATUSES,
            allowed_methods=frozenset({"GET", "POST"}),
            respect_retry_after_header=True,
            retry_after_max=60,
            raise_on_status=False,
        )
        retry.limiter = self._limiter
        self._session = requests.Session()
        self._session.headers["User-Agent"] = "tunescout/0.1 (music discovery research)"
        adapter = HTTPAdapter(max_retries=retry)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)

    def call(self, method: str, **params: str | int) -> dict | None:
        """Call one API method and return its JSON, or ``None`` when the item is skipped.

        Args:
            method: A method name such as ``artist.getTopTags``.
            **params: The method's parameters (``artist``, ``user``, ``page`` …).

        Returns:
            The decoded JSON object, or ``None`` after a warning when Last.fm says the item does
            not exist (error 6) or the request kept failing.

        Raises:
            SourceError: When Last.fm rejects the key (errors 10, 26) or cannot be reached at all.
        """
        payload = {**{k: str(v) for k, v in params.items()}, "method": method, "format": "json"}
        payload["api_key"] = self._api_key
        what = " ".join([method, *(f"{k}={v!r}" for k, v in params.items())])
        problem = ""
        self.requests += 1
        for attempt in range(self.attempts):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                response = self._post(payload, what)
            except requests.exceptions.ChunkedEncodingError:
                problem = "the answer was cut off"  # urllib3 does not retry a short body
                continue
            if response is None:
                return None
            verdict, data, problem = self._interpret(response)
            if verdict == "ok":
                self._answered()
                return data
            if verdict == "missing":
                self._answered()
                return self._skip(what, problem, failed=False)
            if verdict == "skip":
                return self._skip(what, problem)
        return self._skip(what, f"{problem}, {self.attempts} attempts")

    def check_health(self) -> None:
        """Raise :class:`SourceError` when more than :data:`FAILED_SHARE` of the requests failed
        (an outage mid-way leaves too little to be worth a snapshot)."""
        if self.failed and self.failed > FAILED_SHARE * self.requests:
            raise SourceError(
                f"Last.fm failed {self.failed} of {self.requests} requests (last: {self.problem}); "
                "nothing was saved, run again later"
            )

    def _answered(self) -> None:
        self.answered += 1
        self._in_a_row = 0

    def pages(
        self, method: str, container: str, item: str, max_pages: int, **params: str | int
    ) -> Iterator[dict]:
        """Yield the items of a paginated listing, at most ``max_pages`` pages of it.

        Stops early when a page fails, comes back empty or repeats an earlier page: the
        ``@attr.totalPages`` Last.fm reports is not always true, and some listings repeat their
        last page when asked for one past the end.

        Args:
            method: The listing method (``chart.getTopArtists`` …).
            container: The answer's top-level key (``artists``, ``topartists``, ``friends``).
            item: The list's key inside it (``artist``, ``user``).
            max_pages: The most pages to fetch.
            **params: Further method parameters (``tag``, ``user``, ``limit``).
        """
        seen: set[tuple] = set()
        for page in range(1, max_pages + 1):
            data = self.call(method, **params, page=page)
            block = data.get(container) if data else None
            if not isinstance(block, dict):
                if data is not None:
                    self._skip(f"{method} page {page}", f"no {container!r} in the answer")
                return
            items = _items(block.get(item))
            signature = tuple(str(x.get("name")) for x in items)
            if not items or signature in seen:
                return
            seen.add(signature)
            yield from items
            attr = block.get("@attr") if isinstance(block.get("@attr"), dict) else {}
            if page >= (_number(attr.get("totalPages")) or page):
                return

    def _post(self, payload: dict, what: str) -> requests.Response | None:
        self._limiter.wait()
        try:
            return self._session.post(self.api_base, data=payload, timeout=self.timeout)
        except requests.exceptions.ChunkedEncodingError:
            raise
        except requests.exceptions.ProxyError as exc:
            raise SourceError(
                "cannot reach the Last.fm API through the proxy (HTTPS_PROXY/HTTP_PROXY in the "
                "environment): check the proxy or unset it"
            ) from exc
        except requests.ConnectionError as exc:
            if _never_connected(exc):
                raise SourceError(
                    f"cannot reach the Last.fm API at {self.api_base}: check the network"
                ) from exc
            return self._skip(what, "the connection broke off or timed out, even after retries")
        except requests.RequestException as exc:
            return self._skip(what, f"{type(exc).__name__}, even after retries")

    def _interpret(self, response: requests.Response) -> tuple[str, dict | None, str]:
        """Decide what an answer means: ``ok`` with data, ``retry``, ``missing`` (Last.fm does not
        know the item) or ``skip`` with a reason."""
        status = response.status_code
        # urllib3 has already retried these statuses, so another round here would only multiply.
        exhausted = status in RETRY_STATUSES
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            if response.ok:
                return "retry", None, f"malformed JSON (HTTP {status})"
            # urllib3 has retried 429/5xx already; other errors (401, 403, 404) will not change
            return "skip", None, f"HTTP {status} without a JSON answer"
        if "error" not in data:
            if response.ok:
                return "ok", data, ""
            return "skip", None, f"HTTP {status}"
        code = _number(data.get("error"))
        message = str(data.get("message", "")).replace(self._api_key, "***")
        if code in FATAL_CODES:
            raise SourceError(
                f"Last.fm rejected the API key ({FATAL_CODES[code]}, error {code}): "
                "check LASTFM_API_KEY"
            )
        if code == NOT_FOUND:
            return "missing", None, f"not found ({message})"
        reason = f"error {code} ({message})"
        return ("retry" if code in RETRY_CODES and not exhausted else "skip"), None, reason

    def _skip(self, what: str, reason: str, failed: bool = True) -> None:
        self.skipped += 1
        log.warning("Last.fm %s skipped: %s", what, reason)
        if not failed:
            return
        self.failed += 1
        self._in_a_row += 1
        self.problem = reason
        if not self.answered and self.failed >= FAILED_FIRST:
            raise SourceError(
                f"Last.fm is not answering: the first {self.failed} requests failed ({reason}); "
                "nothing was saved, check the network or run again later"
            )
        if self._in_a_row >= FAILED_IN_A_ROW:
            raise SourceError(
                f"Last.fm stopped answering: {self._in_a_row} requests in a row failed ({reason}); "
                "nothing was saved, run again later"
            )


def top_artists(client: LastfmClient, pages: int, per_page: int) -> dict[str, int | None]:
    """The global chart's artists, mapped to their listener counts."""
    chart = client.pages("chart.getTopArtists", "artists", "artist", pages, limit=per_page)
    return {a["name"]: _number(a.get("listeners")) for a in chart if a.get("name")}


def tagged_artists(
    client: LastfmClient, tags: Sequence[str], pages: int, per_page: int
) -> dict[str, list[str]]:
    """The top artists of each tag, as ``{tag: [artist names]}``."""
    found = {}
    for tag in tags:
        listing = client.pages(
            "tag.getTopArtists", "topartists", "artist", pages, tag=tag, limit=per_page
        )
        found[tag] = [a["name"] for a in listing if a.get("name")]
    return found


def reach_users(
    client: LastfmClient, seeds: Sequence[str], max_users: int, pages: int
) -> list[str]:
    """Breadth-first search over ``user.getFriends`` from ``seeds`` until ``max_users`` are reached.

    Returns:
        The reached users in the order found, seeds first.
    """
    reached = list(dict.fromkeys(seeds))[:max_users]
    known = set(reached)
    queue = collections.deque(reached)
    while queue and len(reached) < max_users:
        user = queue.popleft()
        for friend in client.pages("user.getFriends", "friends", "user", pages, user=user):
            name = friend.get("name")
            if name and name not in known:
                known.add(name)
                reached.append(name)
                queue.append(name)
                if len(reached) >= max_users:
                    break
    return reached


def user_plays(
    client: LastfmClient, users: Sequence[str], pages: int, per_page: int, progress: bool = True
) -> pd.DataFrame:
    """Each user's top artists with play counts as interactions (``user_id=lastfm:<name>``)."""
    rows = []
    for user in tqdm(users, desc="last.fm users", unit="user", disable=not progress):
        listing = client.pages(
            "user.getTopArtists", "topartists", "artist", pages, user=user, limit=per_page
        )
        for artist in listing:
            plays = _number(artist.get("playcount"))
            if artist.get("name") and plays:
                rows.append((f"lastfm:{user}", artist["name"], float(plays)))
    frame = pd.DataFrame(rows, columns=["user_id", "artist_id", "weight"])
    frame = frame.drop_duplicates(["user_id", "artist_id"])
    return frame.assign(track_id=None, timestamp=pd.NaT, source="lastfm")


def artist_tags(client: LastfmClient, name: str) -> list[dict]:
    """An artist's top tags (lower-cased) weighted by Last.fm's 0–100 count, strongest first."""
    data = client.call("artist.getTopTags", artist=name)
    tags: dict[str, float] = {}
    for tag in _items((data or {}).get("toptags", {}).get("tag")):
        label, count = str(tag.get("name", "")).strip().lower(), _number(tag.get("count"))
        if label and count and label not in tags:
            tags[label] = float(count)
    ranked = sorted(tags.items(), key=lambda kv: -kv[1])[:TOP_TAGS]
    return [{"tag": label, "weight": weight} for label, weight in ranked]


def artist_listeners(client: LastfmClient, name: str) -> int | None:
    """An artist's listener count from ``artist.getInfo``."""
    data = client.call("artist.getInfo", artist=name)
    artist = (data or {}).get("artist")
    return _number(artist.get("stats", {}).get("listeners")) if isinstance(artist, dict) else None


def artist_rows(
    client: LastfmClient, listeners: dict[str, int | None], progress: bool = True
) -> pd.DataFrame:
    """Catalog artist rows: top tags for every artist, listeners looked up where still unknown."""
    blank = {c.name: None for c in catalog.SCHEMAS["artists"]}
    rows = []
    for name, count in tqdm(
        listeners.items(), desc="last.fm artists", unit="artist", disable=not progress
    ):
        rows.append(
            {
                **blank,
                "artist_id": name,
                "name": name,
                "genres": [],
                "tags": artist_tags(client, name),
                "listeners": count if count is not None else artist_listeners(client, name),
                "track_count": 0,
                "source": "lastfm",
            }
        )
    return pd.DataFrame(rows, columns=list(blank))


def collect_lastfm(
    settings: Settings,
    mood_tags: Sequence[str] = MOOD_TAGS,
    seed_users: Sequence[str] = (),
    max_users: int = 25,
    pages: int = 1,
    per_page: int = 50,
    api_base: str | None = None,
    progress: bool = True,
    client: LastfmClient | None = None,
) -> RawBundle:
    """Collect the chart, mood-tag artists and the listening of users reached from ``seed_users``.

    Makes about ``pages`` × (1 + len(mood_tags) + users) listing calls plus one or two calls per
    artist, at most 5 per second.

    Args:
        settings: Supplies ``lastfm_api_key``.
        mood_tags: Tags whose top artists join the catalog.
        seed_users: Last.fm user names where the friend search starts; none means no interactions.
        max_users: How many users (seeds included) to collect play counts for.
        pages: Pages per listing (chart, each tag, each user's friends and top artists).
        per_page: Items per page (Last.fm allows up to 1000; 50 is its default).
        api_base: Another endpoint than ``ws.audioscrobbler.com``.
        progress: Show progress bars.
        client: A ready client (tests pass one with short timeouts); built from the settings
            when ``None``.

    Returns:
        A ``lastfm`` bundle with artists (tags, listeners) and interactions (play counts).

    Raises:
        SourceError: No key, a rejected key, an unreachable API (or proxy), or an API that fails
            most requests (see :data:`FAILED_SHARE`): nothing is returned then, so no saved
            snapshot is replaced.
    """
    client = client or LastfmClient(settings.lastfm_api_key or "", api_base or API_BASE)
    listeners = top_artists(client, pages, per_page)
    by_tag = tagged_artists(client, mood_tags, pages, per_page)
    users = reach_users(client, seed_users, max_users, pages)
    interactions = user_plays(client, users, pages, per_page, progress)
    for name in [n for names in by_tag.values() for n in names] + list(interactions["artist_id"]):
        listeners.setdefault(name, None)
    artists = artist_rows(client, listeners, progress)
    client.check_health()
    notes = [
        f"lastfm: {len(artists)} artists, {len(users)} users reached from {len(seed_users)} seeds"
    ]
    if client.skipped:
        notes.append(f"lastfm: {client.skipped} requests skipped after errors (see the log)")
    params = {
        "mood_tags": list(mood_tags),
        "seed_users": list(seed_users),
        "max_users": max_users,
        "pages": pages,
        "per_page": per_page,
        "api_base": client.api_base,
        "tag_artists": {tag: len(names) for tag, names in by_tag.items()},
    }
    log.info("last.fm: %d artists, %d interactions", len(artists), len(interactions))
    return RawBundle(
        "lastfm",
        artists=catalog.validate("artists", artists),
        interactions=catalog.validate("interactions", interactions),
        params=params,
        notes=notes,
    )
