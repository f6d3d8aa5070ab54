"""Where each page lives (paths relative to ``app.py``), and the guard that sends a page Streamlit
ran without the router back through ``app.py``."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

ENTRY = "app.py"
HOME = "pages/home.py"
MOOD = "pages/mood_search.py"
RATE = "pages/rate_artists.py"
FOR_YOU = "pages/for_you.py"
SIMILAR = "pages/similar.py"
EXPLORER = "pages/explorer.py"
REPORT = "pages/model_report.py"

_ROUTED, _RETURN_TO = "_tunescout_routed", "_tunescout_return_to"


def mark_routed() -> str | None:
    """Called by ``app.py`` after ``st.navigation``; returns a page to reopen through the router."""
    st.session_state[_ROUTED] = True
    return st.session_state.pop(_RETURN_TO, None)


def ensure_routed(page_file: str) -> None:
    """Reopen a page through ``app.py`` when Streamlit ran it without the router.

    Streamlit treats a ``pages/`` folder as its legacy multipage layout until the entry point has
    run once, so a deep link that is the first request after a restart runs the page script alone
    (no profile box, no navigation). The page is reopened through the router, query params kept.

    Args:
        page_file: The page's ``__file__`` (a script in the ``pages/`` folder beside ``app.py``).
    """
    if st.session_state.get(_ROUTED):
        return
    st.session_state[_RETURN_TO] = "/".join(Path(page_file).resolve().parts[-2:])
    st.switch_page(ENTRY, query_params=st.query_params.to_dict())
