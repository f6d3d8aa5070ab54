"""Similar: one track or artist with its sound profile, and its neighbours from each model side by
side, each row with one-click like, skip, play next and more like this."""

import pandas as pd
import streamlit as st

from tunescout.serving import lookup
from tunescout.ui import calls, routing, state, tables
from tunescout.ui.text import escape, one_line_errors
from tunescout.vocabulary import HYBRID, LABELS, MODELS

routing.ensure_routed(__file__)

with one_line_errors("Showing Similar"):
    engine = state.require_engine()
    st.title("🔎 Similar")

    @st.cache_data(max_entries=4, show_spinner=False)
    def names(kind: str, build: str) -> pd.DataFrame:
        """id, name, artist and popularity of every track or artist, for the name search."""
        table = engine.catalog.tracks if kind == "track" else engine.catalog.artists
        cols = {
            f"{kind}_id": "id",
            "name": "name",
            "artist_name": "artist",
            "popularity": "popularity",
        }
        return table[[c for c in cols if c in table]].rename(columns=cols)

    def choose(kind: str) -> None:
        """Show the picked match (only when the pick changes, so neighbour clicks are not overridden)."""
        if st.session_state[f"sim_pick_{kind}"]:
            st.query_params.pop("track" if kind == "artist" else "artist", None)
            st.query_params[kind] = st.session_state[f"sim_pick_{kind}"]

    kind = (
        st.segmented_control(
            "Find neighbours of a",
            ["track", "artist"],
            default="artist" if "artist" in st.query_params else "track",
            key="sim_kind",
        )
        or "track"
    )
    needle = st.text_input(f"Search {kind}s by name", key=f"sim_find_{kind}", max_chars=100)
    table = engine.tracks if kind == "track" else engine.artists
    if needle.strip():
        hits = lookup.find(names(kind, engine.build.id), needle, 20)
        suffix = " — " + hits["artist"] if kind == "track" else ""
        labels = dict(zip(hits["id"], hits["name"] + suffix, strict=True))
        st.selectbox(
            f"{len(labels)} matches",
            list(labels),
            format_func=labels.get,
            index=None,
            key=f"sim_pick_{kind}",
            placeholder="pick one",
            on_change=choose,
            args=(kind,),
        )
        if labels and st.query_params.get(kind) not in table.index:
            st.query_params[kind] = next(iter(labels))  # show the best match until one is picked
    item = st.query_params.get(kind)
    if item not in table.index:
        st.info(f"Search {kind}s by name above, or press 🔎 More like this on any result.")
        st.stop()

    row = table.loc[item]
    tables.detail(row, "sim_item", kind, text=None)
    st.caption(escape(", ".join(list(row["genres"])[:5]) or "no genres listed"))
    neighbours = calls.similar_tracks if kind == "track" else calls.similar_artists
    shown_models = (*MODELS, HYBRID)
    st.caption("👍 like · 👎 " + ("not this track" if kind == "track" else "not for me")
               + (" · ▶ play next" if kind == "track" else "") + " · 🔎 open it here")  # fmt: skip
    for first in range(0, len(shown_models), 2):  # two tables a row: names and scores fit
        pair = shown_models[first : first + 2]
        for col, model in zip(st.columns(2), pair, strict=False):
            with col:
                st.markdown(f"**{LABELS[model]}**")
                found = neighbours(item, 10, model)
                if found is None or found.empty:
                    st.caption("No neighbours from this model here (e.g. no listening data).")
                    continue
                tables.results(found, f"nb_{model}", kind=kind, text=None, compact=True)
