"""``/health`` (what is served) and ``/metrics`` (Prometheus)."""

from __future__ import annotations

import weakref

from fastapi import APIRouter, Request
from fastapi.responses import Response

from tunescout import jobs
from tunescout.api.models import HealthOut
from tunescout.api.service import api_of, json_response
from tunescout.indexes.base import registry
from tunescout.vocabulary import HYBRID

router = APIRouter(tags=["system"])


def _job(api) -> dict | None:
    try:
        found = jobs.status(api.data_dir)
    except Exception:
        return None
    if not found:
        return None
    out = {k: found.get(k) for k in ("job", "state", "step", "started_at", "finished_at", "error")}
    if found.get("state") == jobs.RUNNING:
        out["progress"] = jobs.progress_line(found)
    return out


def _listeners(api, engine) -> int:
    """Distinct listeners in the interaction data, counted once per engine."""
    known = getattr(api, "_listeners", None)
    if known is None or known[0]() is not engine:  # a weak reference: an old engine can go
        known = (weakref.ref(engine), int(engine.catalog.interactions["user_id"].nunique()))
        api._listeners = known
    return known[1]


@router.get("/health", response_model=HealthOut, responses={503: {"model": HealthOut}})
def health(request: Request):
    """The build served, catalog counts, which indexes are loaded, whether the data is synthetic,
    and the data dir's build job; 503 while nothing can be served."""
    api = api_of(request)
    holder = api.holder
    holder.refresh()
    engine = holder.engine
    job = _job(api)
    base = {
        "loading": holder.loading,
        "loaded_at": holder.loaded_at,
        "load_seconds": holder.load_seconds,
        "build_job": job,
        "message": holder.error,
    }
    if engine is None:
        refusal = holder.unavailable()
        return json_response({"status": refusal.kind, **base, "message": str(refusal)}, 503)
    status = engine.status()
    counts = {**status["rows"], "listeners": _listeners(api, engine)}
    models = sorted(registry())
    return json_response(
        {
            "status": "ok",
            "build_id": status["index_build"],
            "synthetic": status["synthetic"],
            "sources": status["sources"],
            "counts": {k: int(v) for k, v in counts.items()},
            "indexes": {m: m in engine.indexes for m in sorted({*models, *engine.indexes})},
            "models": [*engine.indexes, HYBRID],
            **base,
        }
    )


@router.get("/metrics", response_class=Response)
def metrics(request: Request):
    """Requests, latency histograms per endpoint, errors by kind, engine loads (Prometheus text)."""
    api = api_of(request)
    return Response(api.metrics.render(), media_type=api.metrics.content_type)
