"""tunescout's Streamlit entry point: the profile in the sidebar and the router over ``pages/``.

Run with ``streamlit run app.py``; the data directory comes from ``TUNESCOUT_DATA_DIR`` (default ``data/``).
"""

import streamlit as st

from tunescout import ui

st.set_page_config(page_title="tunescout", page_icon="🎧", layout="wide")

pages = {
    "Discover": [
        st.Page(ui.HOME, title="Home", icon="🏠", default=True),
        st.Page(ui.MOOD, title="Mood search", icon="🌧️"),
        st.Page(ui.RATE, title="Rate artists", icon="⭐"),
        st.Page(ui.FOR_YOU, title="For You", icon="🎁"),
        st.Page(ui.SIMILAR, title="Similar", icon="🔎"),
    ],
    "Under the hood": [
        st.Page("pages/explorer.py", title="Embedding explorer", icon="🗺️"),
        st.Page("pages/model_report.py", title="Model report", icon="📊"),
    ],
}
page = st.navigation(pages)
reopen = ui.mark_routed()
if reopen:  # a deep link that Streamlit ran without this router (see ui.ensure_routed)
    st.switch_page(reopen, query_params=st.query_params.to_dict())
ui.profile_picker()
page.run()
