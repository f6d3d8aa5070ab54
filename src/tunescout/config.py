"""Settings from the environment and `.env`, and the paths tunescout uses under its data directory."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from dotenv import load_dotenv

DEFAULT_DATA_DIR = Path("data")
MODEL_CACHE = Path.home() / ".cache" / "tunescout"


@dataclass(frozen=True)
class Settings:
    """Where data lives and which API credentials exist.

    Secrets are excluded from ``repr`` so that logging a ``Settings`` never leaks them.
    """

    data_dir: Path = DEFAULT_DATA_DIR
    spotify_client_id: str | None = field(default=None, repr=False)
    spotify_client_secret: str | None = field(default=None, repr=False)
    lastfm_api_key: str | None = field(default=None, repr=False)

    @property
    def raw_dir(self) -> Path:
        return self.data_dir / "raw"

    @property
    def catalog_dir(self) -> Path:
        return self.data_dir / "catalog"

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "indexes"

    @property
    def downloads_dir(self) -> Path:
        return self.data_dir / "downloads"

    @property
    def reports_dir(self) -> Path:
        return self.data_dir / "reports"

    @property
    def ratings_db(self) -> Path:
        return self.data_dir / "ratings.sqlite"

    @property
    def projections_dir(self) -> Path:
        """The embedding explorer's projections (progress and results of its worker processes)."""
        return self.data_dir / "cache" / "projections"

    @property
    def has_spotify(self) -> bool:
        return bool(self.spotify_client_id and self.spotify_client_secret)

    @property
    def has_lastfm(self) -> bool:
        return bool(self.lastfm_api_key)


def load_settings(data_dir: str | Path | None = None, env_file: str | Path = ".env") -> Settings:
    """Read settings from ``env_file`` (if present) and the environment.

    Args:
        data_dir: Overrides ``TUNESCOUT_DATA_DIR``; defaults to ``data/``.
        env_file: A dotenv file; values already in the environment win.

    Returns:
        The settings, with empty credentials treated as missing.
    """
    load_dotenv(env_file, override=False)
    chosen = data_dir or os.environ.get("TUNESCOUT_DATA_DIR") or DEFAULT_DATA_DIR
    return Settings(
        data_dir=Path(chosen),
        spotify_client_id=os.environ.get("SPOTIFY_CLIENT_ID") or None,
        spotify_client_secret=os.environ.get("SPOTIFY_CLIENT_SECRET") or None,
        lastfm_api_key=os.environ.get("LASTFM_API_KEY") or None,
    )


# ---- process settings: read where they are used, but only here -------------------------------


def _int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default


def _float(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value == value and abs(value) != float("inf") else default


def ratings_timeout() -> float:
    """Seconds a ratings write waits for another writer: ``TUNESCOUT_RATINGS_TIMEOUT``, default 10
    (0 to 3600)."""
    return min(max(_float("TUNESCOUT_RATINGS_TIMEOUT", 10.0), 0.0), 3600.0)


def ivf_threads() -> int:
    """Threads one approximate (IVF) search may use: ``TUNESCOUT_IVF_THREADS``, default up to 2."""
    return max(1, _int("TUNESCOUT_IVF_THREADS", min(2, os.cpu_count() or 1)))


def faiss_threads() -> int:
    """FAISS's OpenMP threads for everything else: ``TUNESCOUT_FAISS_THREADS``, default 1."""
    return max(1, _int("TUNESCOUT_FAISS_THREADS", 1))


def model_cache() -> Path:
    """Where exported model files are cached: ``TUNESCOUT_MODEL_CACHE``, default
    ``~/.cache/tunescout``."""
    return Path(os.environ.get("TUNESCOUT_MODEL_CACHE") or MODEL_CACHE)


def query_backend() -> str:
    """``TUNESCOUT_QUERY_BACKEND``: ``onnx`` (default) or ``torch`` for query encoding."""
    return os.environ.get("TUNESCOUT_QUERY_BACKEND", "onnx").strip().lower()


@dataclass(frozen=True)
class ApiSettings:
    """The HTTP API's settings (``tunescout.api``); the key is kept out of ``repr``."""

    key: str | None = field(default=None, repr=False)
    rate: float = 50.0  # requests per second per client; 0 turns the limit off
    burst: int = 100  # requests a client may send at once before the rate applies
    cors_origins: tuple[str, ...] = ()  # none: no CORS headers at all
    cache: int = 4096  # answers kept per process for identical requests; 0 turns it off


def api_settings() -> ApiSettings:
    """``TUNESCOUT_API_KEY`` (a Bearer token every call but ``/health`` and the docs must carry;
    unset: open), ``TUNESCOUT_API_RATE`` and ``TUNESCOUT_API_BURST`` (per client, default 50/s
    with bursts of 100; a rate of 0 turns limiting off), ``TUNESCOUT_API_CORS`` (comma-separated
    origins; unset: CORS off) and ``TUNESCOUT_API_CACHE`` (cached answers, default 4096; 0: off).
    Call :func:`load_settings` first so ``.env`` is read."""
    origins = os.environ.get("TUNESCOUT_API_CORS", "")
    return ApiSettings(
        key=os.environ.get("TUNESCOUT_API_KEY") or None,
        rate=max(0.0, _float("TUNESCOUT_API_RATE", 50.0)),
        burst=max(1, _int("TUNESCOUT_API_BURST", 100)),
        cors_origins=tuple(o.strip() for o in origins.split(",") if o.strip()),
        cache=max(0, _int("TUNESCOUT_API_CACHE", 4096)),
    )
