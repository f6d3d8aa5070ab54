"""What a page session shares: the settings, the cached engine and ratings store of this process, and
the active profile (sidebar field and ``?profile=`` in the URL) with its saved ratings."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from tunescout.config import Settings, load_settings
from tunescout.errors import TunescoutError
from tunescout.indexes.store import current_id
from tunescout.serving.ratings import RatingsStore, validate_profile
from tunescout.ui.routing import HOME
from tunescout.ui.text import escape, show_error

if TYPE_CHECKING:
    from tunescout.serving.engine import Engine

DEFAULT_PROFILE = "guest"


def settings() -> Settings:
    """Settings for this process (``TUNESCOUT_DATA_DIR``, default ``data/``)."""
    return load_settings()


@st.cache_resource(show_spinner=False, max_entries=1)
def _engine(data_dir: str, build_id: str | None) -> Engine:
    # torch and friends load here, after the first paint
    from tunescout.serving.engine import Engine

    engine = Engine.load(data_dir)
    engine.search_mood("warm up", 1)  # loads the sentence encoder now, not on the first query
    return engine


def engine() -> Engine:
    """The shared, never-mutated :class:`~tunescout.serving.engine.Engine` of the current build
    (raises when data is missing).

    Cached per build id, read from ``indexes/CURRENT`` on every call (a few microseconds): when a
    build lands — the semantic index after a first run's fast components, or a rebuild — the next
    page run loads it, without a restart; the previous engine is dropped.
    """
    data = settings()
    return _engine(str(data.data_dir), current_id(data.index_dir))


def forget_engine() -> None:
    """Drop the cached engine so the next page load reads a freshly built data directory."""
    _engine.clear()


def require_engine() -> Engine:
    """The engine, or an error with a link to the setup on Home, and the page stops."""
    try:
        with st.spinner("Loading the catalog and indexes…"):
            return engine()
    except TunescoutError as exc:
        show_error(exc)
        st.page_link(HOME, label="Set up the data on the Home page", icon="🏠")
        st.stop()


@st.cache_resource(show_spinner=False)
def _store(path: str) -> RatingsStore:
    return RatingsStore(Path(path))


def store() -> RatingsStore:
    """The ratings database of this data directory."""
    return _store(str(settings().ratings_db))


def profile_picker() -> str:
    """Sidebar field for the profile name, kept in the URL (``?profile=``) so it survives reloads.

    The active name lives in session state apart from the widget, so switching pages never loses it.
    """
    state = st.session_state
    state.setdefault("profile_box", profile())
    st.sidebar.text_input(
        "Profile",
        key="profile_box",
        on_change=_apply_profile,
        max_chars=64,
        help="Your ratings are saved under this name; bookmark the URL to come back.",
    )
    if state.get("profile_error"):
        st.sidebar.error(state["profile_error"])
    st.query_params["profile"] = state["active_profile"]
    return state["active_profile"]


def _checked(name: object, fallback: str) -> str:
    try:
        checked = validate_profile(str(name).strip())
    except TunescoutError as exc:
        # escaped: Markdown would eat the backslash of "cannot contain '/' or '\\'"
        st.session_state["profile_error"] = f"{escape(exc)}; using “{escape(fallback)}”"
        return fallback
    st.session_state.pop("profile_error", None)
    return checked


def _apply_profile() -> None:
    state = st.session_state
    state["active_profile"] = _checked(state["profile_box"], state["active_profile"])


def profile() -> str:
    """The active profile name: chosen in the sidebar, else from the URL, else ``guest``."""
    state = st.session_state
    if "active_profile" not in state:
        state["active_profile"] = _checked(
            st.query_params.get("profile", DEFAULT_PROFILE), DEFAULT_PROFILE
        )
    return state["active_profile"]


def ratings(effective: bool = False) -> dict[str, int]:
    """The active profile's ratings of artists in the loaded catalog (older builds may differ):
    as saved, or (``effective``) what recommendations start from, with the weak no of an artist
    whose tracks were skipped (:meth:`RatingsStore.effective_ratings`)."""
    known = engine().artists.index
    saved = store().effective_ratings(profile()) if effective else store().ratings(profile())
    return {a: s for a, s in saved.items() if a in known}


def skipped_tracks() -> set[str]:
    """The tracks the active profile skipped ("not this track")."""
    feedback = store().track_feedback(profile())
    return {t for t, (_, action) in feedback.items() if action == "skip"}
