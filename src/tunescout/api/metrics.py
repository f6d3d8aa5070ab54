"""Prometheus metrics of one app: requests, latency per endpoint, errors by kind, engine loads.

Each app has its own registry (tests make many apps in one process). With several uvicorn workers,
``scripts/serve.py`` sets ``PROMETHEUS_MULTIPROC_DIR`` and ``/metrics`` adds up every worker.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    values,
)

LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10)
LOAD_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
UNMATCHED = "unmatched"  # the endpoint label of a path no route has (keeps labels bounded)


class Metrics:
    """The app's metrics and their text exposition."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "tunescout_api_requests",
            "HTTP requests answered, by endpoint (route template), method and status",
            ["endpoint", "method", "status"],
            registry=r,
        )
        self.latency = Histogram(
            "tunescout_api_request_duration_seconds",
            "Time from a request's arrival to its answer, by endpoint",
            ["endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter(
            "tunescout_api_errors",
            "Requests answered with an error, by endpoint and kind (input, unknown_id, "
            "rate_limited, unauthorized, building, storage_busy, internal, ...)",
            ["endpoint", "kind"],
            registry=r,
        )
        self.in_flight = Gauge(
            "tunescout_api_requests_in_flight",
            "Requests being answered now",
            registry=r,
            multiprocess_mode="livesum",
        )
        self.engine_load = Histogram(
            "tunescout_engine_load_seconds",
            "Time to load the catalog and an index build into an engine (with warm-up)",
            buckets=LOAD_BUCKETS,
            registry=r,
        )
        self.engine_loads = Counter(
            "tunescout_engine_loads",
            "Engine loads by outcome (ok, failed)",
            ["outcome"],
            registry=r,
        )
        self.cache = Counter(
            "tunescout_api_cache",
            "Answers to identical requests taken from the cache (hit) or computed (miss)",
            ["result"],
            registry=r,
        )

    def loaded(self, seconds: float, ok: bool) -> None:
        """Record one engine load."""
        if ok:
            self.engine_load.observe(seconds)
        self.engine_loads.labels("ok" if ok else "failed").inc()

    def observe(
        self, endpoint: str, method: str, status: int, seconds: float, error: str | None
    ) -> None:
        """Record one answered request."""
        self.requests.labels(endpoint, method, str(status)).inc()
        self.latency.labels(endpoint).observe(seconds)
        if error is not None:
            self.errors.labels(endpoint, error).inc()

    def render(self) -> bytes:
        """The text exposition: this process's, or every worker's in multiprocess mode."""
        if values.ValueClass is not values.MutexValue:  # prometheus-client's multiprocess mode
            from prometheus_client import multiprocess

            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry)
        return generate_latest(self.registry)
