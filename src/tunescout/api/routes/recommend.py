"""Recommendations from a session of tracks, from star ratings, for a saved profile and for a
listener in the interaction data, with the weights used and a reason per item."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool

from tunescout.api import fast
from tunescout.api.convert import floats, items
from tunescout.api.models import K_DOC, OptionsIn, RatingsIn, RecommendationsOut, SessionIn
from tunescout.api.routes import ERRORS
from tunescout.api.service import EngineDep, api_of, build_id
from tunescout.serving import checks, ranking

if TYPE_CHECKING:
    from tunescout.serving.engine import Engine

router = APIRouter(tags=["recommendations"], responses=ERRORS)


def session(engine: Engine, body: SessionIn) -> dict | bytes:
    filters = body.filters.for_engine() if body.filters else None
    if hasattr(engine, "continue_session_rows"):  # positions joined with prebuilt item JSON
        return fast.session(engine, build_id(engine), body.track_sequence, body.k, filters)
    found = engine.continue_session(body.track_sequence, k=body.k, filters=filters)
    return {
        "build_id": build_id(engine),
        "source": "session",
        "kind": "tracks",
        "k": body.k,
        "fusion": "weighted",
        "weights": floats(fast.session_weights(engine)),
        "items": items(found),
    }


def for_ratings(engine: Engine, ratings: dict, options: OptionsIn, source: str = "ratings") -> dict:
    """``Engine.recommend`` (artists) or ``recommend_tracks`` with every option of the request."""
    arguments = {
        "k": options.k,
        "mood": options.mood,
        "weights": options.weights,
        "filters": options.filters.for_engine() if options.filters else None,
        "diversity": options.diversity,
        "fusion": options.fusion,
        "familiarity": list(options.familiarity)
        if isinstance(options.familiarity, tuple)
        else options.familiarity,
    }
    if options.kind == "tracks":
        found = engine.recommend_tracks(ratings, **arguments)
    else:
        found = engine.recommend(ratings, **arguments)
    # The weights the engine used: the same function over the same (now checked) arguments.
    names = engine.context.signal_names
    mood = checks.mood(options.mood)
    weights = ranking.adaptive_weights(
        len(ratings), mood is not None, checks.weights(options.weights, names), names
    )
    out = {
        "build_id": build_id(engine),
        "source": source,
        "kind": options.kind,
        "k": options.k,
        "fusion": options.fusion,
        "weights": floats(weights),
        "diversity": options.diversity,
        "mood": mood,
        "ratings_used": len(ratings),
        "items": items(found),
    }
    if options.kind == "tracks":
        out["track_weights"] = floats(ranking.WEIGHTS["tracks"])
    return out


@router.post("/recommendations/session", response_model=RecommendationsOut)
async def from_session(request: Request, body: SessionIn, engine: EngineDep):
    """What to play after a session of track ids (oldest first), one track per artist. The
    engine's session list takes filters but no mood, weights, fusion or diversity."""
    key = ("session", repr(body.model_dump()))
    return await api_of(request).answer(engine, key, lambda: session(engine, body))


@router.post("/recommendations", response_model=RecommendationsOut)
async def from_ratings(request: Request, body: RatingsIn, engine: EngineDep):
    """Artists (or tracks, one per artist) for star ratings of artists, with mood, filters,
    weights, fusion, diversity and familiarity; each item's reason and each model's score."""
    key = ("ratings", repr(body.model_dump()))
    return await api_of(request).answer(
        engine, key, lambda: for_ratings(engine, body.ratings, body)
    )


async def _for_profile(request: Request, profile: str, options: OptionsIn, engine: Engine):
    api = api_of(request)

    def saved() -> dict[str, int]:  # the profile's ratings of artists this catalog holds
        known = engine.artists.index
        return {a: s for a, s in api.store().effective_ratings(profile).items() if a in known}

    ratings = await run_in_threadpool(saved)
    key = ("profile", repr(sorted(ratings.items())), repr(options.model_dump()))
    return await api.answer(
        engine, key, lambda: for_ratings(engine, ratings, options, source="profile")
    )


@router.post("/profiles/{profile}/recommendations", response_model=RecommendationsOut)
async def for_profile(
    request: Request,
    profile: str,
    engine: EngineDep,
    body: OptionsIn | None = None,
):
    """Recommendations for a profile's saved ratings (the app's profiles), with every option."""
    return await _for_profile(request, profile, body or OptionsIn(), engine)


@router.get("/profiles/{profile}/recommendations", response_model=RecommendationsOut)
async def for_profile_get(
    request: Request,
    profile: str,
    engine: EngineDep,
    k: Annotated[int, Query(description=K_DOC)] = 10,
    kind: Annotated[str, Query(description="artists or tracks")] = "artists",
    mood: Annotated[str | None, Query(description="text that steers the taste")] = None,
):
    """The same for a quick GET: k, kind and mood."""
    options = OptionsIn.model_validate({"k": k, "kind": kind, "mood": mood})
    return await _for_profile(request, profile, options, engine)


@router.get("/users/{user_id}/recommendations", response_model=RecommendationsOut)
async def for_listener(
    request: Request,
    user_id: str,
    engine: EngineDep,
    k: Annotated[int, Query(description=K_DOC)] = 10,
    exclude_seen: bool = True,
):
    """Artists for a listener of the interaction data (e.g. ``hetrec:2``)."""

    def compute() -> dict:
        checks.valid_text(user_id, "the user id")
        found = engine.recommend_for_user(user_id, k=k, exclude_seen=exclude_seen)
        return {
            "build_id": build_id(engine),
            "source": "listener",
            "kind": "artists",
            "k": k,
            "fusion": "weighted",
            "weights": floats(ranking.WEIGHTS["listener"]),
            "items": items(found),
        }

    return await api_of(request).answer(engine, ("listener", user_id, k, exclude_seen), compute)
