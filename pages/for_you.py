"""For You: artists and tracks for the saved ratings, tuned by mood, model weights, familiarity and
diversity, and a "play next" queue that suggests what comes after it."""

import streamlit as st

from tunescout import ui
from tunescout.serving.filters import Filters

ui.ensure_routed(__file__)

MODELS = {
    "als": "Co-listening (ALS)",
    "content": "Audio features",
    "semantic": "Descriptions",
    "popularity": "Popularity",
}
engine = ui.require_engine()
profile, saved = ui.profile(), ui.ratings()
st.title("🎁 For You")

with st.form("for_you"):
    mood = (
        st.text_input("Mood (optional)", placeholder="late night drive", max_chars=200).strip()
        or None
    )
    left, right = st.columns(2)
    familiarity = left.select_slider(
        "Familiarity",
        options=list(ui.FAMILIARITY),
        value="Anything",
        help="How well known the suggestions are (by popularity)",
    )
    diversity = right.slider(
        "Diversity", 0.0, 1.0, 0.15, 0.05, help="0 = closest matches, 1 = most varied"
    )
    with st.expander("Model weights"):
        auto = st.checkbox(
            "Let tunescout choose (adapts to how many artists you liked)", value=True
        )
        cols = st.columns(4)
        chosen = {
            m: cols[i].slider(label, 0.0, 1.0, 0.25, 0.05, key=f"w_{m}")
            for i, (m, label) in enumerate(MODELS.items())
        }
    k = st.slider("How many", 5, 30, 10, 5)
    st.form_submit_button("Update", type="primary")
weights = None if auto else chosen

if saved or mood:
    st.caption(
        f"From {len(saved)} ratings saved as “{ui.escape(profile)}”"
        + (f" and the mood “{ui.escape(mood)}”" if mood else "")
        + ". 👍 / 👎 refine them; pick a row for its sound profile."
    )
artists_tab, tracks_tab, queue_tab = st.tabs(["Artists", "Tracks", "Play next"])
if not saved and not mood:
    artists_tab.info("Rate a few artists first (five or more work best), or type a mood above.")
    with artists_tab:
        st.page_link(ui.RATE, label="Rate artists", icon="⭐")
else:
    with artists_tab, st.spinner("Finding artists…"):
        band = Filters(popularity=ui.popularity_band(familiarity, "artist"))
        found = ui.call(
            "recommend", saved, k=k, mood=mood, weights=weights, filters=band, diversity=diversity
        )
        ui.results(found, "fy_artists", kind="artist", text="reason")
    with tracks_tab, st.spinner("Finding tracks…"):
        band = Filters(popularity=ui.popularity_band(familiarity, "track"))
        found = ui.call(
            "recommend_tracks",
            saved,
            k=k,
            mood=mood,
            weights=weights,
            filters=band,
            diversity=diversity,
        )
        ui.results(found, "fy_tracks", kind="track", text="reason")

with queue_tab:
    queue = [t for t in ui.store().queue(profile) if t in engine.tracks.index]
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
            ui.store().clear_queue(profile)
            st.rerun()
        st.subheader("What comes next")
        ui.results(
            ui.call("continue_session", tuple(queue), k=k), "fy_next", kind="track", text="reason"
        )
