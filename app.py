"""tunescout's Streamlit entry point: the profile in the sidebar and the router over ``pages/``.

Run with ``streamlit run app.py``; the data directory comes from ``TUNESCOUT_DATA_DIR`` (default ``data/``).
"""

import streamlit as st

from tunescout.ui import buildstatus, routing, state
from tunescout.ui.text import one_line_errors

st.set_page_config(page_title="tunescout", page_icon="🎧", layout="wide")

pages = {
    "Discover": [
        st.Page(routing.HOME, title="Home", icon="🏠", default=True),
        st.Page(routing.MOOD, title="Mood search", icon="🌧️"),
        st.Page(routing.RATE, title="Rate artists", icon="⭐"),
        st.Page(routing.FOR_YOU, title="For You", icon="🎁"),
        st.Page(routing.SIMILAR, title="Similar", icon="🔎"),
    ],
    "Under the hood": [
        st.Page(routing.EXPLORER, title="Embedding explorer", icon="🗺️"),
        st.Page(routing.REPORT, title="Model report", icon="📊"),
    ],
}
page = st.navigation(pages)
reopen = routing.mark_routed()
if reopen:  # a deep link that Streamlit ran without this router (see routing.ensure_routed)
    st.switch_page(reopen, query_params=st.query_params.to_dict())
state.profile_picker()
with one_line_errors("Reading the build's status"):
    buildstatus.synthetic_badge(state.settings())  # on every page while the catalog is made up
    buildstatus.sidebar(state.settings())  # a running build's progress, seen from every page
page.run()
