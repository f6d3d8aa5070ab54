"""Home: a quick mood search, which data is loaded and why, the build's progress, and how to get
(real) data."""

import streamlit as st

from tunescout import jobs
from tunescout.ui import buildstatus, routing, state
from tunescout.ui.text import escape, one_line_errors

routing.ensure_routed(__file__)

st.title("🎧 tunescout")
st.write(
    "Find music by mood, rate a few artists for recommendations, and see how the models think."
)

with st.form("quick_search"):
    # No max_chars: Streamlit empties a field when a longer text is pasted into it. Mood search
    # uses the first 300 characters and says so.
    text = st.text_input("What do you want to hear?", placeholder="songs for a rainy heartbreak")
    if st.form_submit_button("Search", type="primary") and text.strip():
        query = text.strip()[:2000]  # the rest never reaches the engine; keep the URL sane
        st.switch_page(routing.MOOD, query_params={"profile": state.profile(), "q": query})

settings = state.settings()


def why_this_data() -> None:
    """Which sources the last collection tried and why each was skipped, and the catalog's notes."""
    outcome = jobs.last_outcome(settings.data_dir)
    if outcome:
        st.markdown(f"**Collected from:** {escape(outcome.get('source') or 'nothing')}")
        for reason in outcome.get("reasons", []):
            st.caption(f"· {escape(reason)}")
        for note in outcome.get("notes", []):
            st.caption(f"· {escape(note)}")


def how_to_get_real_data(button: str) -> None:
    """The three ways to real data, and a button that collects and builds again."""
    st.markdown(
        "**Real data, three ways** — then press the button:\n"
        "1. **API credentials**: put `SPOTIFY_CLIENT_ID` and `SPOTIFY_CLIENT_SECRET` (Spotify "
        "developer dashboard) and/or `LASTFM_API_KEY` in `.env` (see `.env.example`) or the "
        "environment.\n"
        "2. **Go online**: the public data sets (TidyTuesday's 30,000 Spotify songs and HetRec "
        "2011 Last.fm) download by themselves, checked by sha256, into `downloads/` in the data "
        "dir.\n"
        "3. **Files**: put `spotify_songs.csv`, `data_w_genres.csv`, `dataset.csv` or a HetRec "
        "2011 folder in the data dir.\n"
    )
    st.caption(f"Data dir: {escape(settings.data_dir.resolve())}")
    busy = buildstatus.is_running(buildstatus.job(settings))
    if st.button(button, disabled=busy) and buildstatus.start(settings, rebuild=True):
        st.rerun()


with one_line_errors("Showing the build's progress"):
    running = buildstatus.progress(settings, detailed=True)

engine, missing = None, None
with (
    one_line_errors("Loading the catalog and indexes"),
    st.spinner("Loading the catalog and indexes…"),
):
    engine, missing = buildstatus.engine_or_none(settings)

if engine is None:
    if running:
        st.info(
            "The app becomes usable as soon as the catalog and the audio and co-listening "
            "indexes are published (seconds after the start); semantic search follows. You can "
            "leave this page: the build goes on, and every page shows its progress."
        )
        st.stop()
    if missing is not None:
        st.warning(f"No data to search yet: {escape(missing)}")
    why_this_data()
    st.write(
        "Build it here (collects from the APIs when credentials are set, else public "
        "downloads or local files, else a synthetic demo catalog), or run:"
    )
    st.code(
        f"python scripts/collect.py --data-dir {settings.data_dir}\n"
        f"python scripts/build.py --data-dir {settings.data_dir}",
        language="bash",
    )
    if st.button("Build the data now", type="primary") and buildstatus.start(settings):
        st.rerun()
    st.stop()

with one_line_errors("Showing the loaded data"):
    status = engine.status()
    st.subheader("Loaded data")
    if status["synthetic"]:
        st.warning(
            "This is a **SYNTHETIC** demo catalog: made-up artists and tracks, not real music. "
            "Below: why, and how to get real data."
        )
    if "semantic" not in status["components"]:
        if running:
            st.info(
                "Mood search uses audio features, genres and tags while the semantic index is "
                "built; the app switches to it by itself when it lands."
            )
        else:
            st.warning(
                "This build has no semantic index: mood search uses audio features, genres and "
                "tags. Finish the build here, or run `python scripts/build.py --only semantic`."
            )
            if st.button("Finish the build") and buildstatus.start(settings):
                st.rerun()
    cols = st.columns(4)
    for col, (name, count) in zip(cols, status["rows"].items(), strict=False):
        col.metric(name.replace("_", " "), f"{count:,}")
    st.write(
        f"**Sources:** {escape(', '.join(status['sources']) or 'none')} · "
        f"**catalog built:** {escape(status['catalog_built_at'] or 'unknown')} · "
        f"**index build:** {escape(status['index_build'])} "
        f"({escape(', '.join(status['components']))})"
    )
    for note in status["notes"]:
        st.caption(escape(note))
    st.page_link(
        routing.RATE, label="New here? Rate a few artists to get recommendations", icon="⭐"
    )
    with st.expander(
        "Where this data comes from, and how to get real data", expanded=status["synthetic"]
    ):
        why_this_data()
        how_to_get_real_data("Collect and build again")
