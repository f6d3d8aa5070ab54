"""Filter widgets and the catalog facts they need: genres, era, feature means, and familiarity bands
turned into popularity ranges."""

from __future__ import annotations

from typing import Any

import numpy as np
import streamlit as st

from tunescout.domain.features import UNIT_FEATURES
from tunescout.serving.filters import Filters
from tunescout.ui import state, urlstate

FAMILIARITY = {
    "Deep cuts": (0.0, 0.33),
    "Lesser known": (0.0, 0.66),
    "Anything": None,
    "Well known": (0.33, 1.0),
    "Hits": (0.66, 1.0),
}


@st.cache_data(max_entries=8, show_spinner=False)
def catalog_facts(build: str) -> dict[str, Any]:
    """Genres, year range, feature means and popularity quantiles of the loaded catalog."""
    eng = state.engine()
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
    return catalog_facts(state.engine().build.id)


def popularity_band(band: str, kind: str) -> tuple[float, float] | None:
    """A familiarity choice as a popularity range of ``kind`` ("track" or "artist") quantiles."""
    share = FAMILIARITY[band]
    values = facts()[f"{kind}_pop"]
    if share is None or not len(values):
        return None
    lo, hi = np.quantile(values, share)
    return float(lo) if share[0] > 0 else 0.0, float(hi) if share[1] < 1 else 100.0


def filter_keys(key: str) -> dict[str, str]:
    """URL name → widget key of each filter (``?genre=rock&genre=pop&energy=0.5-1&era=1990-1999``)."""
    names = {"genre": "genres", "energy": "energy", "tempo": "tempo", "pop": "pop", "era": "years"}
    return {name: f"{key}_{widget}" for name, widget in names.items()}


def filter_defaults() -> dict[str, Any]:
    """Each filter's value when it filters nothing, by URL name."""
    return {"genre": [], "energy": (0.0, 1.0), "tempo": (40, 220), "pop": (0, 100),
            "era": facts()["years"]}  # fmt: skip


def seed_filters(link: urlstate.Link, key: str) -> None:
    """Give the filter widgets their values from the link the first time a session shows them."""
    info = facts()
    era = info["years"]
    values = {
        "genre": link.many("genre", info["genres"]),
        "energy": link.span("energy", (0.0, 1.0), 0.0, 1.0),
        "tempo": link.span("tempo", (40, 220), 40, 220, whole=True),
        "pop": link.span("pop", (0, 100), 0, 100, whole=True),
        "era": link.span("era", era, era[0], max(era[1], era[0] + 1), whole=True),
    }
    urlstate.seed(values, filter_keys(key))


def filter_values(key: str) -> dict[str, Any]:
    """The filter widgets' current values by URL name (for :func:`urlstate.write`)."""
    values = {}
    for name, widget in filter_keys(key).items():
        value = st.session_state.get(widget)
        values[name] = tuple(value) if isinstance(value, list) and name != "genre" else value
    return values


def filter_controls(key: str, years: bool = True) -> Filters:
    """Genre, energy, tempo, popularity and era widgets; only moved sliders become filters.

    Each widget starts from its session value (seeded from the URL by :func:`seed_filters`), else
    from the value that filters nothing."""
    info = facts()
    era = info["years"]
    for name, widget in filter_keys(key).items():
        st.session_state.setdefault(widget, filter_defaults()[name])
    genres = st.multiselect("Genres", info["genres"], key=f"{key}_genres", placeholder="any genre")
    left, right = st.columns(2)
    energy = left.slider("Energy", 0.0, 1.0, step=0.05, key=f"{key}_energy")
    tempo = right.slider("Tempo (BPM)", 40, 220, step=5, key=f"{key}_tempo")
    popularity = left.slider("Popularity", 0, 100, step=5, key=f"{key}_pop")
    chosen_years = (
        right.slider("Era", era[0], max(era[1], era[0] + 1), key=f"{key}_years") if years else era
    )
    features = {}
    if tuple(energy) != (0.0, 1.0):
        features["energy"] = tuple(energy)
    if tuple(tempo) != (40, 220):
        features["tempo"] = (float(tempo[0]), 300.0 if tempo[1] == 220 else float(tempo[1]))
    return Filters(
        genres=tuple(genres),
        features=features,
        popularity=None
        if tuple(popularity) == (0, 100)
        else (float(popularity[0]), float(popularity[1])),
        years=None if tuple(chosen_years) == tuple(era) else tuple(chosen_years),
    )
