"""Mood search: describe a mood in words, narrow by genre, energy, tempo, popularity or era."""

import streamlit as st

from tunescout.ui import calls, routing, state, tables, widgets
from tunescout.ui.text import escape

routing.ensure_routed(__file__)

EXAMPLES = [
    "songs for a rainy heartbreak",
    "music to focus on coding",
    "sunny road trip singalong",
    "late night drive",
    "angry workout",
]

engine = state.require_engine()
st.title("🌧️ Mood search")

if "mood_text" not in st.session_state:
    st.session_state["mood_text"] = str(st.query_params.get("q", ""))[:300]  # the field's limit

with st.form("mood_search"):
    text = st.text_input(
        "Describe a mood, a moment or a sound",
        key="mood_text",
        placeholder=" · ".join(EXAMPLES[:2]),
        max_chars=300,
    )
    with st.expander("Filters"):
        filters = widgets.filter_controls("mood")
    k = st.slider("How many results", 5, 50, 10, 5)
    st.form_submit_button("Search", type="primary")

if text.strip():
    st.query_params["q"] = text.strip()
    with st.spinner("Searching…"):
        found = calls.search_mood(text.strip(), k, filters)
    if found is not None:
        st.caption(
            f"{len(found)} tracks for “{escape(text.strip())}” — pick a row for its sound "
            "profile; 👍 / 👎 teach For You, ▶ queues it."
        )
        tables.results(found, "mood", kind="track", text="why")
else:
    st.info("Type what you want to hear, e.g. " + ", ".join(f"“{e}”" for e in EXAMPLES) + ".")
