"""For You: artists and tracks for the saved ratings, tuned by mood, model weights, familiarity and
diversity (all kept in the URL), and an editable "play next" queue that suggests what comes
after it."""

import streamlit as st

from tunescout.ui import calls, routing, state, tables, urlstate
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
IN_URL = {label: band or "any" for label, band in BANDS.items()}  # ?familiarity=deep …

routing.ensure_routed(__file__)

with one_line_errors("Showing For You"):
    engine = state.require_engine()
    profile, saved = state.profile(), state.ratings(effective=True)
    st.title("🎁 For You")

    names = engine.context.signal_names
    link = urlstate.Link(urlstate.current())
    band = link.choice("familiarity", list(IN_URL.values()), "any")
    defaults = {
        "mood": "",
        "familiarity": "Anything",
        "diversity": 0.05,
        "auto": True,
        "k": 10,
        **{f"w_{name}": 0.25 for name in names},
    }
    from_url = {
        "mood": link.text("mood", "", 200),
        "familiarity": next(label for label, b in IN_URL.items() if b == band),
        "diversity": link.number("diversity", 0.05, 0.0, 1.0),
        "auto": link.flag("auto", True),
        "k": link.number("k", 10, 5, 30, whole=True),
        **{f"w_{name}": link.number(f"w_{name}", 0.25, 0.0, 1.0) for name in names},
    }
    keys = {name: name if name.startswith("w_") else f"fy_{name}" for name in defaults}
    urlstate.seed(from_url, keys)
    with st.form("for_you"):
        mood = (
            st.text_input(
                "Mood (optional)", placeholder="late night drive", max_chars=200, key=keys["mood"]
            ).strip()
            or None
        )
        left, right = st.columns(2)
        familiarity = left.select_slider(
            "Familiarity",
            options=list(BANDS),
            key=keys["familiarity"],
            help="How well known the suggestions are: deep cuts come from the least-played third "
            "of the catalog (by listeners), hits from the most-played third",
        )
        diversity = right.slider(
            "Diversity", 0.0, 1.0, step=0.05, key=keys["diversity"],
            help="0 = closest matches, 1 = most varied",
        )  # fmt: skip
        with st.expander("Model weights"):
            auto = st.checkbox(
                "Let tunescout choose (adapts to how many artists you liked)", key=keys["auto"]
            )
            cols = st.columns(len(names))
            chosen = {
                name: col.slider(LABELS.get(name, name), 0.0, 1.0, step=0.05, key=f"w_{name}")
                for col, name in zip(cols, names, strict=True)
            }
        k = st.slider("How many", 5, 30, step=5, key=keys["k"])
        st.form_submit_button("Update", type="primary")
    if link.problems:
        st.caption("Ignored from the link: " + escape("; ".join(link.problems)))
    values = {name: st.session_state[key] for name, key in keys.items()}
    values["mood"] = values["mood"].strip()
    values["familiarity"] = IN_URL[values["familiarity"]]
    urlstate.write(values, defaults | {"familiarity": "any"})
    weights = None if auto else chosen

    if saved or mood:
        st.caption(
            f"From {len(saved)} ratings saved as “{escape(profile)}”"
            + (f" and the mood “{escape(mood)}”" if mood else "")
            + ". 👍 / 👎 on a row refine them (👎 on a track: not this track), ▶ queues a track, "
            "🔎 opens Similar."
        )
    artists_tab, tracks_tab, queue_tab = st.tabs(["Artists", "Tracks", "Play next"])
    if not saved and not mood:
        artists_tab.info("Rate a few artists first (five or more work best), or type a mood above.")
        with artists_tab:
            st.page_link(routing.RATE, label="Rate artists", icon="⭐")
    else:
        options = {
            "mood": mood,
            "weights": weights,
            "diversity": diversity,
            "familiarity": BANDS[familiarity],
        }
        with artists_tab, st.spinner("Finding artists…"):
            found = calls.recommend(saved, k, **options)
            tables.results(found, "fy_artists", kind="artist", text="reason")
        with tracks_tab, st.spinner("Finding tracks…"):
            skipped = state.skipped_tracks()  # "not this track": asked for more, then left out
            found = calls.recommend_tracks(saved, min(k + len(skipped), 100), **options)
            if found is not None:
                found = found[~found["track_id"].isin(skipped)].head(k)
            tables.results(found, "fy_tracks", kind="track", text="reason")

    with queue_tab:
        queue = [t for t in state.store().queue(profile) if t in engine.tracks.index]
        if not queue:
            st.info("Your queue is empty: tick ▶ on any track (here, in Mood search or Similar).")
        else:
            tables.queue_editor(engine.track_info(queue), "fy_queue")
            if st.button("Clear the queue", key="fy_clear"):
                state.store().clear_queue(profile)
                st.rerun()
            st.subheader("What comes next")
            found = calls.continue_session(queue, k)
            tables.results(found, "fy_next", kind="track", text="reason")
