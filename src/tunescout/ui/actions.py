"""The buttons under a result (like, skip, play next, more like this) and the callbacks that save
them to the active profile."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from tunescout.ui import state
from tunescout.ui.routing import SIMILAR
from tunescout.ui.text import escape, one_line_errors

LIKE, SKIP = 5, 2  # stars a like / a skip stands for


@one_line_errors("Saving your rating")
def rate(artist_id: str, stars: int, name: str) -> None:
    """Save ``stars`` for the artist under the active profile and say so in a toast."""
    state.store().rate(state.profile(), artist_id, stars)
    st.toast(f"{'Liked' if stars == LIKE else 'Skipped'} {escape(name)}: saved as {stars} stars")


@one_line_errors("Adding the track to your queue")
def queue(track_id: str, name: str) -> None:
    """Add the track to the active profile's play-next queue and say so in a toast."""
    state.store().enqueue(state.profile(), track_id)
    st.toast(f"Queued {escape(name)}")


@one_line_errors("Opening Similar")
def more_like_this(kind: str, item_id: str) -> None:
    """Open Similar on the item (``kind`` "track" or "artist")."""
    st.switch_page(SIMILAR, query_params={"profile": state.profile(), kind: item_id})


def buttons(row: pd.Series, key: str, kind: str) -> None:
    """Like / skip (the artist), play next (tracks only) and more like this, in one row."""
    name = str(row["name"])
    artist = str(row.get("artist_name", name))
    cols = st.columns(4 if kind == "track" else 3)
    cols[0].button(
        "👍 Like",
        key=f"{key}_like",
        on_click=rate,
        args=(row["artist_id"], LIKE, artist),
        help="Counts as 5 stars for the artist",
        width="stretch",
    )
    cols[1].button(
        "👎 Skip",
        key=f"{key}_skip",
        on_click=rate,
        args=(row["artist_id"], SKIP, artist),
        help="Counts as 2 stars for the artist",
        width="stretch",
    )
    if kind == "track":
        cols[2].button(
            "▶ Play next",
            key=f"{key}_queue",
            on_click=queue,
            args=(row["track_id"], name),
            help="Adds it to your session queue (For You → Play next)",
            width="stretch",
        )
    if cols[-1].button("🔎 More like this", key=f"{key}_more", width="stretch"):
        more_like_this(kind, row[f"{kind}_id"])
