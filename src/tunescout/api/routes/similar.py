"""Similar tracks and artists by id, per model or hybrid (``Engine.similar_tracks/_artists``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request

from tunescout.api import fast
from tunescout.api.convert import items
from tunescout.api.models import K_DOC, SimilarOut
from tunescout.api.routes import ERRORS
from tunescout.api.service import EngineDep, api_of, build_id
from tunescout.serving import checks
from tunescout.vocabulary import HYBRID

if TYPE_CHECKING:
    from tunescout.serving.engine import Engine

router = APIRouter(tags=["similar"], responses=ERRORS)
MODEL_DOC = "a model the build holds (audio, als, semantic, coplay, tags; see /health) or hybrid"


def similar(engine: Engine, kind: str, item_id: str, k: int, model: str) -> dict:
    checks.valid_text(item_id, f"the {kind[:-1]} id")  # long ids are refused before any lookup
    find = engine.similar_tracks if kind == "tracks" else engine.similar_artists
    info = engine.track_info if kind == "tracks" else engine.artist_info
    found = find(item_id, k=k, model=model)
    return {
        "build_id": build_id(engine),
        "kind": kind,
        "model": str(found["model"].iloc[0]) if len(found) else model,
        "k": k,
        "seed": items(info([item_id]))[0],
        "items": items(found.drop(columns=["model"])),
    }


@router.get("/similar/tracks/{track_id}", response_model=SimilarOut)
async def similar_tracks(
    request: Request,
    track_id: str,
    engine: EngineDep,
    k: Annotated[int, Query(description=K_DOC)] = 10,
    model: Annotated[str, Query(description=MODEL_DOC)] = HYBRID,
):
    """Tracks that sound, are played or are described like ``track_id``, best first; a hybrid
    list has one track per artist."""
    key = ("similar", "tracks", track_id, k, model)
    return await api_of(request).answer(
        engine,
        key,
        lambda: similar(engine, "tracks", track_id, k, model),
        lambda: fast.similar(engine, build_id(engine), "tracks", track_id, k, model),
    )


@router.get("/similar/artists/{artist_id}", response_model=SimilarOut)
async def similar_artists(
    request: Request,
    artist_id: str,
    engine: EngineDep,
    k: Annotated[int, Query(description=K_DOC)] = 10,
    model: Annotated[str, Query(description=MODEL_DOC)] = HYBRID,
):
    """Artists like ``artist_id``, best first; the hybrid fuses each model by the evidence there
    is about the artist."""
    key = ("similar", "artists", artist_id, k, model)
    return await api_of(request).answer(
        engine,
        key,
        lambda: similar(engine, "artists", artist_id, k, model),
        lambda: fast.similar(engine, build_id(engine), "artists", artist_id, k, model),
    )
