"""For You: artists and tracks for the saved ratings, tuned by mood, model weights, familiarity and
diversity, and a "play next" queue that suggests what comes after it."""

import streamlit as st

from tunescout.ui import calls, routing, state, tables
from tunescout.ui.text import escape, one_line_errors
from tunescout.vocabulary import LABELS

# The familiarity control as reach percentiles (listeners where the catalog has listening data):
# deep cuts are the long tail, hits the head (tunescout.serving.recommend.FAMILIARITY).
BANDS = {
    "Deep cuts": "deep",
    "Lesser known": "lesser",
    "Anything": None,
    "Well known": "well",
    "Hits": "hits",
}

routing.ensure_routed(__file__)

with one_line_errors("Showing For You"):
    engine = state.require_engine()
    profile, saved = state.profile(), state.ratings()
    st.title("🎁 For You")

    with st.form("for_you"):
        mood = (
            st.text_input("Mood (optional)", placeholder="late night drive", max_chars=200).strip()
            or None
        )
        left, right = st.columns(2)
        familiarity = left.select_slider(
            "Familiarity",
            options=list(BANDS),
            value="Anything",
            help="How well known the suggestions are: deep cuts come from the least-played third "
            "of the catalog (by listeners), hits from the most-played third",
        )
        diversity = right.slider(
            "Diversity", 0.0, 1.0, 0.05, 0.05, help="0 = closest matches, 1 = most varied"
        )
        with st.expander("Model weights"):
            auto = st.checkbox(
                "Let tunescout choose (adapts to how many artists you liked)", value=True
            )
            names = engine.context.signal_names
            cols = st.columns(len(names))
            chosen = {
                name: col.slider(LABELS.get(name, name), 0.0, 1.0, 0.25, 0.05, key=f"w_{name}")
                for col, name in zip(cols, names, strict=True)
            }
        k = st.slider("How many", 5, 30, 10, 5)
        st.form_submit_button("Update", type="primary")
    weights = None if auto else chosen

    if saved or mood:
        st.caption(
            f"From {len(saved)} ratings saved as “{escape(profile)}”"
            + (f" and the mood “{escape(mood)}”" if mood else "")
            + ". 👍 / 👎 refine them; pick a row for its sound profile."
        )
    artists_tab, tracks_tab, queue_tab = st.tabs(["Artists", "Tracks", "Play next"])
    if not saved and not mood:
        artists_tab.info("Rate a few artists first (five or more work best), or type a mood above.")
        with artists_tab:
            st.page_link(routing.RATE, label="Rate artists", icon="⭐")
    else:
        with artists_tab, st.spinner("Finding artists…"):
            found = calls.recommend(
                saved, k, mood=mood, weights=weights, diversity=diversity,
                familiarity=BANDS[familiarity],
            )  # fmt: skip
            tables.results(found, "fy_artists", kind="artist", text="reason")
        with tracks_tab, st.spinner("Finding tracks…"):
            found = calls.recommend_tracks(
                saved, k, mood=mood, weights=weights, diversity=diversity,
                familiarity=BANDS[familiarity],
            )  # fmt: skip
            tables.results(found, "fy_tracks", kind="track", text="reason")

    with queue_tab:
        queue = [t for t in state.store().queue(profile) if t in engine.tracks.index]
        if not queue:
            st.info(
                "Your queue is empty: press ▶ Play next on any track (here, in Mood search or Similar)."
            )
        else:
            info = engine.track_info(queue)
            st.dataframe(
                info[["name", "artist_name", "release_year"]],
                hide_index=True,
                column_config={"release_year": st.column_config.NumberColumn("year", format="%d")},
            )
            if st.button("Clear the queue"):
                state.store().clear_queue(profile)
                st.rerun()
            st.subheader("What comes next")
            found = calls.continue_session(queue, k)
            tables.results(found, "fy_next", kind="track", text="reason")
