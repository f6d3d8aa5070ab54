"""Reasons: the short texts that say why each recommended item is there."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tunescout.catalog import as_list
from tunescout.indexes.base import Index
from tunescout.serving.lookup import Lookup

SIMILAR_ENOUGH = 0.3  # cosine of two artists' descriptions above which one explains the other


def sentence(
    liked_names: Sequence[str],
    mood: str | None = None,
    genres: Sequence[str] = (),
    popular: bool = False,
) -> str:
    """A sentence like "because you liked Radiohead and Portishead; matches 'rainy'"."""
    parts = []
    if liked_names:
        names = list(liked_names)
        joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        parts.append(f"because you liked {joined}")
    if mood:
        parts.append(f"matches '{mood}'")
    if genres and not parts:
        parts.append(
            "popular in " + ", ".join(genres[:2]) if popular else "in " + ", ".join(genres[:2])
        )
    elif popular and not parts:
        parts.append("popular with listeners")
    return "; ".join(parts) or "close to your taste"


def genre_line(lookup: Lookup, artist_id: str, n: int = 3) -> str:
    """An artist's first genres, or a note that it has none."""
    genres = as_list(lookup.artists.at[artist_id, "genres"])[:n]
    return ", ".join(genres) if genres else "no genre listed"


def for_survey(
    lookup: Lookup, space: Index, chosen: Sequence[str], liked: Sequence[str], mood: str | None
) -> list[str]:
    """Name the liked artists each chosen artist is closest to in ``space`` (artists)."""
    vectors = space.vectors("artists")
    held = [a for a in liked if a in vectors]
    sims = (
        vectors.vectors_of(chosen) @ vectors.vectors_of(held).T
        if held
        else np.zeros((len(chosen), 0))
    )
    reasons = []
    for row, artist in enumerate(chosen):
        order = np.argsort(-sims[row])[:2] if held else []
        names = [lookup.name(held[i]) for i in order if sims[row, i] > SIMILAR_ENOUGH]
        genres = as_list(lookup.artists.at[artist, "genres"])[:2]
        reasons.append(sentence(names, mood, genres, popular=not names and not mood))
    return reasons


def for_listener(
    lookup: Lookup, space: Index, chosen: Sequence[str], history: Sequence[str]
) -> list[str]:
    """Name the artist of a listener's history each chosen artist is nearest to in ``space``."""
    vectors = space.vectors("artists")
    held = [a for a in history if a in vectors]
    if not held:
        return ["listeners like you play it"] * len(chosen)
    sims = vectors.vectors_of(chosen) @ vectors.vectors_of(held).T
    return [f"listeners of {lookup.name(held[int(np.argmax(row))])} play it too" for row in sims]


def for_session(lookup: Lookup, last_track: str) -> str:
    """Why a track follows a session."""
    return f"follows on from '{lookup.tracks.at[last_track, 'name']}'"
