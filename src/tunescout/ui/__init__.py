"""Streamlit helpers shared by the app's pages: the cached engine and ratings store, the profile in
the URL, filter widgets, and result tables with like / skip / play next / more like this.

UI only: every decision about music is the engine's, every stored rating the ratings store's.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from tunescout.config import Settings, load_settings
from tunescout.domain.features import UNIT_FEATURES
from tunescout.errors import TunescoutError
from tunescout.serving.filters import Filters
from tunescout.serving.ratings import RatingsStore, validate_profile
from tunescout.ui import plots

log = logging.getLogger(__name__)

DEFAULT_PROFILE = "guest"
LIKE, SKIP = 5, 2  # stars a like / a skip stands for
HOME, MOOD, RATE, FOR_YOU, SIMILAR = (
    "pages/home.py",
    "pages/mood_search.py",
    "pages/rate_artists.py",
    "pages/for_you.py",
    "pages/similar.py",
)
ROOT = Path(__file__).resolve().parents[2]
_ROUTED, _RETURN_TO = "_tunescout_routed", "_tunescout_return_to"
_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # all ASCII punctuation: CommonMark escapes each
FAMILIARITY = {
    "Deep cuts": (0.0, 0.33),
    "Lesser known": (0.0, 0.66),
    "Anything": None,
    "Well known": (0.33, 1.0),
    "Hits": (0.66, 1.0),
}


def mark_routed() -> str | None:
    """Called by ``app.py`` after ``st.navigation``; returns a page to reopen through the router."""
    st.session_state[_ROUTED] = True
    return st.session_state.pop(_RETURN_TO, None)


def ensure_routed(page_file: str) -> None:
    """Reopen a page through ``app.py`` when Streamlit ran it without the router.

    Streamlit treats a ``pages/`` folder as its legacy multipage layout until the entry point has
    run once, so a deep link that is the first request after a restart runs the page script alone
    (no profile box, no navigation). The page is reopened through the router, query params kept.
    """
    if st.session_state.get(_ROUTED):
        return
    st.session_state[_RETURN_TO] = Path(page_file).resolve().relative_to(ROOT).as_posix()
    st.switch_page("app.py", query_params=st.query_params.to_dict())


def settings() -> Settings:
    """Settings for this process (``TUNESCOUT_DATA_DIR``, default ``data/``)."""
    return load_settings()


@st.cache_resource(show_spinner=False)
def _engine(data_dir: str) -> Any:
    from tunescout.serving.engine import (
        Engine,
    )  # torch and friends load here, after the first paint

    engine = Engine.load(data_dir)
    engine.search_mood(
        "warm up", 1
    )  # loads the sentence encoder now rather than on the first query
    return engine


def engine() -> Any:
    """The shared, never-mutated :class:`~tunescout.serving.engine.Engine` (raises when data is missing)."""
    return _engine(str(settings().data_dir))


def forget_engine() -> None:
    """Drop the cached engine so the next page load reads a freshly built data directory."""
    _engine.clear()
    run.clear()


def require_engine() -> Any:
    """The engine, or an error with a link to the setup on Home, and the page stops."""
    try:
        with st.spinner("Loading the catalog and indexes…"):
            return engine()
    except TunescoutError as exc:
        show_error(exc)
        st.page_link(HOME, label="Set up the data on the Home page", icon="🏠")
        st.stop()


@st.cache_data(max_entries=128, show_spinner=False, hash_funcs={Filters: repr})
def run(method: str, build: str, *args: Any, **kwargs: Any) -> pd.DataFrame:
    """``engine().<method>(*args, **kwargs)``, cached per index build and arguments."""
    return getattr(engine(), method)(*args, **kwargs)


def call(method: str, *args: Any, **kwargs: Any) -> pd.DataFrame | None:
    """Run an engine method through the cache; show a one-line error and return None on failure."""
    try:
        return run(method, engine().build.id, *args, **kwargs)
    except TunescoutError as exc:
        show_error(exc)
        return None


def show_error(exc: Exception) -> None:
    """A one-line error box; the message may quote data or user text, so it is escaped."""
    st.error(escape(exc))


@st.cache_resource(show_spinner=False)
def _store(path: str) -> RatingsStore:
    return RatingsStore(Path(path))


def store() -> RatingsStore:
    """The ratings database of this data directory."""
    return _store(str(settings().ratings_db))


# ---- profile ------------------------------------------------------------------------------


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
        st.session_state["profile_error"] = f"{exc}; using “{escape(fallback)}”"
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


def ratings() -> dict[str, int]:
    """The active profile's saved ratings of artists in the loaded catalog (older builds may differ)."""
    known = engine().artists.index
    return {a: s for a, s in store().ratings(profile()).items() if a in known}


# ---- widgets ------------------------------------------------------------------------------


@st.cache_data(max_entries=8, show_spinner=False)
def catalog_facts(build: str) -> dict[str, Any]:
    """Genres, year range, feature means and popularity quantiles of the loaded catalog."""
    eng = engine()
    tracks, artists = eng.catalog.tracks, eng.catalog.artists
    years = tracks["release_year"].dropna()
    return {
        "genres": eng.genres(),
        "years": (int(years.min()), int(years.max())) if len(years) else (1950, 2025),
        "mean": tracks[list(UNIT_FEATURES)].mean().to_dict(),
        "track_pop": tracks["popularity"].dropna().to_numpy(dtype=float),
        "artist_pop": artists["popularity"].dropna().to_numpy(dtype=float),
    }


def facts() -> dict[str, Any]:
    """:func:`catalog_facts` of the current build."""
    return catalog_facts(engine().build.id)


def popularity_band(band: str, kind: str) -> tuple[float, float] | None:
    """A familiarity choice as a popularity range of ``kind`` ("track" or "artist") quantiles."""
    share = FAMILIARITY[band]
    values = facts()[f"{kind}_pop"]
    if share is None or not len(values):
        return None
    lo, hi = np.quantile(values, share)
    return float(lo) if share[0] > 0 else 0.0, float(hi) if share[1] < 1 else 100.0


def filter_controls(key: str, years: bool = True) -> Filters:
    """Genre, energy, tempo, popularity and era widgets; only moved sliders become filters."""
    info = facts()
    genres = st.multiselect("Genres", info["genres"], key=f"{key}_genres", placeholder="any genre")
    left, right = st.columns(2)
    energy = left.slider("Energy", 0.0, 1.0, (0.0, 1.0), 0.05, key=f"{key}_energy")
    tempo = right.slider("Tempo (BPM)", 40, 220, (40, 220), 5, key=f"{key}_tempo")
    popularity = left.slider("Popularity", 0, 100, (0, 100), 5, key=f"{key}_pop")
    era = info["years"]
    chosen_years = (
        right.slider("Era", era[0], max(era[1], era[0] + 1), era, key=f"{key}_years")
        if years
        else era
    )
    features = {}
    if energy != (0.0, 1.0):
        features["energy"] = energy
    if tempo != (40, 220):
        features["tempo"] = (float(tempo[0]), 300.0 if tempo[1] == 220 else float(tempo[1]))
    return Filters(
        genres=tuple(genres),
        features=features,
        popularity=None if popularity == (0, 100) else (float(popularity[0]), float(popularity[1])),
        years=None if tuple(chosen_years) == tuple(era) else tuple(chosen_years),
    )


# ---- actions ------------------------------------------------------------------------------


def _rate(artist_id: str, stars: int, name: str) -> None:
    store().rate(profile(), artist_id, stars)
    st.toast(f"{'Liked' if stars == LIKE else 'Skipped'} {escape(name)}: saved as {stars} stars")


def _queue(track_id: str, name: str) -> None:
    store().enqueue(profile(), track_id)
    st.toast(f"Queued {escape(name)}")


def _more_like_this(kind: str, item_id: str) -> None:
    st.switch_page(SIMILAR, query_params={"profile": profile(), kind: item_id})


def _action_buttons(row: pd.Series, key: str, kind: str) -> None:
    name = str(row["name"])
    artist = str(row.get("artist_name", name))
    cols = st.columns(4 if kind == "track" else 3)
    cols[0].button(
        "👍 Like",
        key=f"{key}_like",
        on_click=_rate,
        args=(row["artist_id"], LIKE, artist),
        help="Counts as 5 stars for the artist",
        width="stretch",
    )
    cols[1].button(
        "👎 Skip",
        key=f"{key}_skip",
        on_click=_rate,
        args=(row["artist_id"], SKIP, artist),
        help="Counts as 2 stars for the artist",
        width="stretch",
    )
    if kind == "track":
        cols[2].button(
            "▶ Play next",
            key=f"{key}_queue",
            on_click=_queue,
            args=(row["track_id"], name),
            help="Adds it to your session queue (For You → Play next)",
            width="stretch",
        )
    if cols[-1].button("🔎 More like this", key=f"{key}_more", width="stretch"):
        _more_like_this(kind, row[f"{kind}_id"])


def _sound(frame: pd.DataFrame) -> list[list[float]]:
    values = frame.reindex(columns=list(UNIT_FEATURES)).astype(float).fillna(0.0).to_numpy()
    return values.round(3).tolist()


def results(frame: pd.DataFrame | None, key: str, kind: str = "track", text: str = "why") -> None:
    """A result table (one small bar chart of 0–1 audio features per row) and, for the selected
    row (the first by default), a radar against the catalog mean with the actions.

    Args:
        frame: Engine results (``kind`` "track" or "artist"), best first.
        key: Unique widget-key prefix on the page.
        text: The column that says why each item is here ("why" or "reason").
    """
    if frame is None or frame.empty:
        st.info("Nothing matches: loosen the filters or try other words.")
        return
    if kind == "artist":  # artist results carry no audio features; the catalog has their means
        features = engine().artists.loc[frame["artist_id"], list(UNIT_FEATURES)].to_numpy()
        frame = frame.drop(columns=list(UNIT_FEATURES), errors="ignore").reset_index(drop=True)
        frame[list(UNIT_FEATURES)] = features
    event = st.dataframe(
        _table(frame, kind, text),
        hide_index=True,
        column_config=_COLUMNS,
        key=f"{key}_table",
        on_select="rerun",
        selection_mode="single-row",
    )
    rows = event.selection.rows if event is not None else []
    detail(frame.iloc[rows[0] if rows else 0], f"{key}_detail", kind, text)


_SCORE = {"min_value": 0.0, "max_value": 1.0, "format": "%.2f"}
_COLUMNS = {
    "name": st.column_config.TextColumn(width="medium"),
    "why": st.column_config.TextColumn(width="large"),
    "reason": st.column_config.TextColumn(width="large"),
    "score": st.column_config.ProgressColumn("fit", width="small", **_SCORE),
    "als": st.column_config.ProgressColumn("ALS", help="co-listening", **_SCORE),
    "content": st.column_config.ProgressColumn("audio", help="audio features", **_SCORE),
    "semantic": st.column_config.ProgressColumn("text", help="descriptions and tags", **_SCORE),
    "sound": st.column_config.BarChartColumn(
        "sound", width="small", y_min=0.0, y_max=1.0, help=" · ".join(UNIT_FEATURES)
    ),
    "year": st.column_config.NumberColumn(format="%d"),
}


def _table(frame: pd.DataFrame, kind: str, text: str) -> pd.DataFrame:
    """What a result table shows, most telling columns first."""
    table = pd.DataFrame({"name": frame["name"].astype(str)})
    if kind == "track":
        table["artist"] = frame["artist_name"].astype(str)
    table[text] = frame[text].astype(str)
    table["score"] = frame["score"].astype(float)
    table["sound"] = _sound(frame)
    if kind == "artist":
        for model in ("als", "content", "semantic"):
            table[model] = frame[f"score_{model}"].astype(float)
    else:
        table["year"] = frame["release_year"]
    table["genres"] = frame["genres"].map(lambda g: ", ".join(list(g)[:3]) if g is not None else "")
    return table


def detail(row: pd.Series, key: str, kind: str, text: str | None = "why") -> None:
    """One item: its radar against the catalog mean, why it is here, and the action buttons."""
    left, right = st.columns([2, 3])
    with left:
        radar(row, str(row["name"]), key=f"{key}_radar")
    with right:
        st.markdown(
            f"**{escape(row['name'])}**"
            + (f" — {escape(row['artist_name'])}" if kind == "track" else "")
        )
        if text is not None and text in row:
            st.caption(escape(row[text]))
        _action_buttons(row, key, kind)


def radar(row: pd.Series, label: str, key: str, height: int = 280) -> None:
    """Plotly radar of one item's 0–1 features against the catalog mean."""
    item = {f: row.get(f) for f in UNIT_FEATURES if pd.notna(row.get(f))}
    if not item:
        st.caption("No audio features for this item.")
        return
    fig = plots.feature_radar(
        item, facts()["mean"], item_label=label[:40], reference_label="catalog mean"
    )
    fig.update_layout(
        height=height,
        margin={"t": 20, "b": 20, "l": 30, "r": 30},
        legend={"orientation": "h", "y": -0.1},
    )
    st.plotly_chart(fig, key=key, config={"displayModeBar": False})


def escape(value: object) -> str:
    """Data text made safe to show inside ``st.markdown`` and other Markdown labels.

    One line (no heading underline, list or code block can start), no control characters, and every
    ASCII punctuation character backslash-escaped, so no link, image, emphasis, HTML, entity, math
    or Streamlit colour directive can form; it reads exactly as the text.
    """
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in str(value))
    text = " ".join(text.split())
    return _PUNCTUATION.sub(r"\\\1", text)


def step_bar(label: str) -> Callable[[str, float], None]:
    """A ``st.progress`` bar as an ``on_step(message, fraction)`` callback."""
    bar = st.progress(0.0, text=label)
    return lambda message, fraction: bar.progress(min(max(fraction, 0.0), 1.0), text=message)
