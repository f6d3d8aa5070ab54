"""Who may call and how often: the optional API key and a token bucket per client."""

from __future__ import annotations

import hmac
import math
import time
from collections import OrderedDict
from collections.abc import Callable

from tunescout.api.errors import ApiError

MAX_CLIENTS = 10_000  # buckets kept; the least recently seen client's is dropped (it was full)
OPEN_PATHS = frozenset({"/health", "/docs", "/docs/oauth2-redirect", "/openapi.json", "/redoc"})
UNLIMITED_PATHS = frozenset({"/health", "/metrics"})  # monitoring is never rate limited


class RateLimiter:
    """A token bucket per client: ``burst`` requests at once, then ``rate`` per second.

    Only the event loop calls it, so it needs no lock.

    Args:
        rate: Requests per second per client; 0 turns limiting off.
        burst: The bucket's size.
        clock: Seconds, monotonic (tests pass their own).
    """

    def __init__(
        self,
        rate: float,
        burst: int,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate, self.burst, self.max_clients, self.clock = (
            rate,
            max(1, burst),
            max_clients,
            clock,
        )
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # tokens, when

    @property
    def enabled(self) -> bool:
        return self.rate > 0

    def wait(self, client: str) -> float:
        """Take one token for ``client``: 0 when the request may go, else the seconds until it may."""
        if not self.enabled:
            return 0.0
        now = self.clock()
        tokens, then = self._buckets.pop(client, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        if tokens >= 1.0:
            self._buckets[client] = (tokens - 1.0, now)
            wait = 0.0
        else:
            self._buckets[client] = (tokens, now)
            wait = (1.0 - tokens) / self.rate
        while len(self._buckets) > self.max_clients:
            self._buckets.popitem(last=False)
        return wait

    def check(self, client: str) -> None:
        """Raise a 429 :class:`ApiError` with ``Retry-After`` when ``client`` must wait."""
        wait = self.wait(client)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests: at most {self.rate:g} per second (bursts of {self.burst}) "
                f"per client; try again in {seconds} s",
                {"Retry-After": str(seconds)},
            )


class KeyCheck:
    """The Bearer token every call but :data:`OPEN_PATHS` must carry, when a key is set."""

    def __init__(self, key: str | None) -> None:
        self._key = key.encode() if key else None

    @property
    def enabled(self) -> bool:
        return self._key is not None

    def check(self, path: str, authorization: bytes | None) -> None:
        if self._key is None or path in OPEN_PATHS:
            return
        scheme, _, token = (authorization or b"").partition(b" ")
        if scheme.lower() != b"bearer" or not hmac.compare_digest(token.strip(), self._key):
            raise ApiError(
                401,
                "unauthorized",
                "this API needs its key: send the header 'Authorization: Bearer <key>'"
                if not authorization
                else "the API key is wrong",
                {"WWW-Authenticate": "Bearer"},
            )
