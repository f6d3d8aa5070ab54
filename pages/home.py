"""Home: a quick mood search, which data is loaded, and how to get data when there is none."""

import streamlit as st

from tunescout import firstrun
from tunescout.errors import TunescoutError
from tunescout.ui import calls, routing, state
from tunescout.ui.text import escape, show_error, step_bar

routing.ensure_routed(__file__)

st.title("🎧 tunescout")
st.write(
    "Find music by mood, rate a few artists for recommendations, and see how the models think."
)

with st.form("quick_search"):
    text = st.text_input(
        "What do you want to hear?", placeholder="songs for a rainy heartbreak", max_chars=300
    )
    if st.form_submit_button("Search", type="primary") and text.strip():
        st.switch_page(routing.MOOD, query_params={"profile": state.profile(), "q": text.strip()})

settings = state.settings()
try:
    with st.spinner("Loading the catalog and indexes…"):
        status = state.engine().status()
except TunescoutError as exc:
    st.warning(f"No data to search yet: {escape(exc)}")
    st.write(
        "Build it here (collects from the APIs when credentials are set, else public "
        "downloads or local files, else a synthetic demo catalog), or run:"
    )
    st.code(
        f"python scripts/collect.py --data-dir {settings.data_dir}\n"
        f"python scripts/build.py --data-dir {settings.data_dir}",
        language="bash",
    )
    if st.button("Build the data now", type="primary"):
        try:
            done = firstrun.ensure_data(settings, on_step=step_bar("Starting…"))
        except TunescoutError as build_exc:
            show_error(build_exc)
            st.stop()
        calls.reload()
        st.success("; ".join(done) or "The data was already there.")
        st.rerun()
    st.stop()

st.subheader("Loaded data")
if status["synthetic"]:
    st.warning(
        "This is a **SYNTHETIC** demo catalog: made-up artists and tracks, not real music. "
        "Set Spotify / Last.fm credentials or add data files and rebuild for real data."
    )
cols = st.columns(4)
for col, (name, count) in zip(cols, status["rows"].items(), strict=False):
    col.metric(name.replace("_", " "), f"{count:,}")
st.write(
    f"**Sources:** {', '.join(status['sources']) or 'none'} · "
    f"**catalog built:** {status['catalog_built_at'] or 'unknown'} · "
    f"**index build:** {status['index_build']} ({', '.join(status['components'])})"
)
for note in status["notes"]:
    st.caption(escape(note))
st.page_link(routing.RATE, label="New here? Rate a few artists to get recommendations", icon="⭐")
