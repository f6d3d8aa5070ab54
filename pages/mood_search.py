"""Mood search: describe a mood in words, narrow by genre, energy, tempo, popularity or era (the
text, the filters and the count are in the URL: a search can be shared and reloaded)."""

import streamlit as st

from tunescout.serving.checks import MAX_TEXT
from tunescout.ui import calls, routing, state, tables, urlstate, widgets
from tunescout.ui.text import escape, one_line_errors

routing.ensure_routed(__file__)

PASTE_LIMIT = 20_000  # characters kept of a pasted text (only the first MAX_TEXT are searched)

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
    st.session_state["mood_text"] = str(st.query_params.get("q", ""))[:PASTE_LIMIT]
link = urlstate.Link(urlstate.current())
with one_line_errors("Reading the search's settings from the link"):
    widgets.seed_filters(link, "mood")
    urlstate.seed({"k": link.number("k", 10, 5, 50, whole=True)}, {"k": "mood_k"})

with st.form("mood_search"):
    # No max_chars: Streamlit empties the field when a longer text is pasted. The search reads
    # the first MAX_TEXT characters and says so below.
    text = st.text_input(
        "Describe a mood, a moment or a sound",
        key="mood_text",
        placeholder=" · ".join(EXAMPLES[:2]),
    )
    with st.expander("Filters"):
        filters = widgets.filter_controls("mood")
    st.session_state.setdefault("mood_k", 10)
    k = st.slider("How many results", 5, 50, step=5, key="mood_k")
    st.form_submit_button("Search", type="primary")
if link.problems:
    st.caption("Ignored from the link: " + escape("; ".join(link.problems)))
with one_line_errors("Keeping the search's settings in the link"):
    urlstate.write(widgets.filter_values("mood") | {"k": k}, widgets.filter_defaults() | {"k": 10})

with one_line_errors("Searching"):
    if text.strip():
        asked = text.strip()
        used = asked[:MAX_TEXT].strip()
        st.query_params["q"] = used
        if len(asked) > MAX_TEXT:
            st.info(
                f"Your text has {len(asked):,} characters: the search used the first {MAX_TEXT}, "
                f"up to “…{escape(used[-40:])}”."
            )
        with st.spinner("Searching…"):
            found = calls.search_mood(used, k, filters)
        if found is not None:
            understood = found.attrs.get("understood")
            if understood:
                st.markdown(f"**Understood as:** {escape(understood)}")
            for note in found.attrs.get("notes", []):
                st.warning(escape(note[:1].upper() + note[1:]))
            st.caption(
                f"{len(found)} tracks for “{escape(used)}” — one click on a row: 👍 like "
                "(teaches For You), 👎 not this track, ▶ play next, 🔎 more like this."
            )
            tables.results(found, "mood", kind="track", text="why")
    else:
        st.info("Type what you want to hear, e.g. " + ", ".join(f"“{e}”" for e in EXAMPLES) + ".")
