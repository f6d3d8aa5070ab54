"""Ratings per profile and feedback, in the app's own ratings database (a rating saved in the
browser shows up here, and one put here shows up in the app)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tunescout.api.models import (
    FeedbackIn,
    FeedbackOut,
    ImportOut,
    RatingIn,
    RatingOut,
    RatingsOut,
)
from tunescout.api.routes import ERRORS
from tunescout.api.service import EngineDep, api_of, json_response
from tunescout.errors import UnknownIdError
from tunescout.serving.ratings import LIKE_STARS, NOT_FOR_ME, validate_profile

if TYPE_CHECKING:
    from tunescout.serving.engine import Engine

router = APIRouter(tags=["ratings"], responses=ERRORS)


def _name(engine: Engine | None, artist_id: str) -> str | None:
    if engine is None or artist_id not in engine.artists.index:
        return None
    return str(engine.artists.at[artist_id, "name"])


def _rating(request: Request, profile: str, artist_id: str) -> dict:
    """The artist's saved rating (``stars`` ``None`` when there is none)."""
    table = api_of(request).store().table(profile)
    row = table[table["artist_id"] == artist_id]
    engine = api_of(request).holder.engine
    return {
        "profile": validate_profile(profile),
        "artist_id": artist_id,
        "artist_name": _name(engine, artist_id),
        "stars": int(row["stars"].iloc[0]) if len(row) else None,
        "updated_at": (str(row["updated_at"].iloc[0]) or None) if len(row) else None,
    }


@router.get("/profiles/{profile}/ratings", response_model=RatingsOut)
def list_ratings(request: Request, profile: str):
    """Every rating of a profile, oldest first (artists of other catalogs included)."""
    table = api_of(request).store().table(profile)
    engine = api_of(request).holder.engine
    rows = [
        {
            "profile": profile,
            "artist_id": a,
            "artist_name": _name(engine, a),
            "stars": int(s),
            "updated_at": u or None,
        }
        for a, s, u in table.itertuples(index=False)
    ]
    return json_response({"profile": validate_profile(profile), "ratings": rows})


@router.put("/profiles/{profile}/ratings/{artist_id}", response_model=RatingOut)
def put_rating(
    request: Request,
    profile: str,
    artist_id: str,
    body: RatingIn,
    engine: EngineDep,
):
    """Save (or change) one rating of an artist in the catalog: 1–5 stars."""
    engine.artist_info([artist_id])  # an artist this catalog holds, or 404
    api_of(request).store().rate(profile, artist_id, body.stars)
    return json_response(_rating(request, profile, artist_id))


@router.delete("/profiles/{profile}/ratings/{artist_id}", status_code=204)
def delete_rating(request: Request, profile: str, artist_id: str):
    """Forget one rating (404 when there was none)."""
    if not api_of(request).store().forget(profile, artist_id):
        raise UnknownIdError(f"the profile has no rating of {artist_id[:60]!r}")
    return Response(status_code=204)


@router.delete("/profiles/{profile}/ratings")
def delete_profile(request: Request, profile: str) -> dict:
    """Forget every rating and the play-next queue of a profile."""
    return {
        "profile": validate_profile(profile),
        "deleted": api_of(request).store().delete_profile(profile),
    }


@router.get(
    "/profiles/{profile}/ratings.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the app's CSV export"}},
)
def export_ratings(request: Request, profile: str):
    """The profile's ratings as the app exports them (``artist_id,artist_name,stars,updated_at``;
    no cell runs as a spreadsheet formula)."""
    engine = api_of(request).holder.engine
    names = engine.artists["name"] if engine is not None else None
    text = api_of(request).store().export_csv(profile, names)
    return Response(
        text.encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="ratings.csv"'},
    )


@router.post("/profiles/{profile}/ratings.csv", response_model=ImportOut)
async def import_ratings(
    request: Request,
    profile: str,
    engine: EngineDep,
    replace: Annotated[bool, Query(description="drop the profile's other ratings first")] = False,
):
    """Import a ratings CSV (the body, at most 2 MB): all rows or, when any is bad, none (each
    bad row is listed under ``problems``)."""
    data = await request.body()
    store = api_of(request).store()
    count = await run_in_threadpool(store.import_csv, profile, data, engine.artists.index, replace)
    return json_response(
        {"profile": validate_profile(profile), "imported": count, "replaced": replace}
    )


@router.post("/feedback", response_model=FeedbackOut)
def feedback(request: Request, body: FeedbackIn, engine: EngineDep):
    """A like or a skip of a track or an artist, saved as the app's 👍 / 👎 save it: a liked
    track rates its artist 5 stars; a skipped track is "not this track" (two skipped tracks of an
    artist with no rating are a weak no, ``effective_stars``); an artist's like or skip is 5 or 2
    stars."""
    kind = body.kind
    if kind is None:
        kind = "track" if body.item_id in engine.tracks.index else "artist"
    store = api_of(request).store()
    if kind == "track":
        artist_id = str(engine.track_info([body.item_id])["artist_id"].iloc[0])
        store.mark_track(body.profile, body.item_id, artist_id, body.action)
    else:
        artist_id = str(engine.artist_info([body.item_id])["artist_id"].iloc[0])
        store.rate(body.profile, artist_id, LIKE_STARS if body.action == "like" else NOT_FOR_ME)
    saved = _rating(request, body.profile, artist_id)
    effective = store.effective_ratings(body.profile).get(artist_id)
    return json_response(
        {
            **saved,
            "action": body.action,
            "item_id": body.item_id,
            "kind": kind,
            "effective_stars": effective,
        }
    )
