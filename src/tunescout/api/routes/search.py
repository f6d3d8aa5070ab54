"""Mood search, name search, the rating survey and catalog details."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request

from tunescout.api.convert import items, plain
from tunescout.api.models import K_DOC, ArtistItem, ItemsOut, MoodIn, MoodOut, TrackItem
from tunescout.api.routes import ERRORS
from tunescout.api.service import EngineDep, api_of, build_id, json_response

if TYPE_CHECKING:
    from tunescout.serving.engine import Engine

router = APIRouter(responses=ERRORS)


def mood(engine: Engine, body: MoodIn) -> dict:
    filters = body.filters.for_engine() if body.filters else None
    found = engine.search_mood(body.text, k=body.k, filters=filters)
    notes = found.attrs.get("notes") or []
    return {
        "build_id": build_id(engine),
        "text": body.text,
        "understood": plain(found.attrs.get("understood")),
        "notes": [str(n) for n in notes],
        "items": items(found),
    }


@router.post("/search/mood", response_model=MoodOut, tags=["search"])
async def search_mood(request: Request, body: MoodIn, engine: EngineDep):
    """Tracks for a mood, moment or request ("rainy heartbreak", "90s rock like Radiohead but
    happier, no rap"); ``understood`` says how it was read, ``notes`` what could not be met."""
    return await api_of(request).answer(
        engine, ("mood", repr(body.model_dump())), lambda: mood(engine, body)
    )


@router.get("/search/mood", response_model=MoodOut, tags=["search"])
async def search_mood_get(
    request: Request,
    engine: EngineDep,
    q: Annotated[str, Query(description="the request in words")],
    k: Annotated[int, Query(description=K_DOC)] = 10,
):
    """The same without filters, for a quick GET."""
    body = MoodIn.model_validate({"text": q, "k": k})
    return await api_of(request).answer(
        engine, ("mood", repr(body.model_dump())), lambda: mood(engine, body)
    )


@router.get("/search/artists", response_model=ItemsOut, tags=["search"])
def find_artists(
    engine: EngineDep,
    q: Annotated[str, Query(description="part of a name (case and accents ignored)")],
    k: Annotated[int, Query(description=K_DOC)] = 10,
):
    """Artists whose name contains ``q``, most popular first (to find ids)."""
    return json_response({"build_id": build_id(engine), "items": items(engine.find_artists(q, k))})


@router.get("/search/tracks", response_model=ItemsOut, tags=["search"])
def find_tracks(
    engine: EngineDep,
    q: Annotated[str, Query(description="part of a title or artist name")],
    k: Annotated[int, Query(description=K_DOC)] = 10,
):
    """Tracks whose title or artist contains ``q``, most popular first (to find ids)."""
    return json_response({"build_id": build_id(engine), "items": items(engine.find_tracks(q, k))})


@router.get("/survey", response_model=ItemsOut, tags=["ratings"])
def survey(
    engine: EngineDep,
    k: Annotated[int, Query(description=K_DOC)] = 12,
    seed: Annotated[int, Query(description="another seed shows other artists")] = 0,
    exclude: Annotated[list[str] | None, Query(description="artist ids not to show")] = None,
):
    """Well-known artists across styles to rate (the app's survey)."""
    found = engine.survey_artists(k, exclude=exclude or [], seed=seed)
    return json_response({"build_id": build_id(engine), "items": items(found)})


@router.get("/tracks/{track_id}", response_model=TrackItem, tags=["catalog"])
def track(track_id: str, engine: EngineDep):
    """A track's catalog details and audio features."""
    return json_response(items(engine.track_info([track_id]))[0])


@router.get("/artists/{artist_id}", response_model=ArtistItem, tags=["catalog"])
def artist(artist_id: str, engine: EngineDep):
    """An artist's catalog details."""
    return json_response(items(engine.artist_info([artist_id]))[0])
