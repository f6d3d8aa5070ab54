"""Typed, cached calls of the engine: each answer is cached per index build and arguments, and any
failure (an engine refusal or anything else) becomes a one-line error on the page (the call returns
``None``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Concatenate, ParamSpec

import pandas as pd
import streamlit as st

from tunescout.serving.filters import Filters
from tunescout.ui import state
from tunescout.ui.text import one_line_errors
from tunescout.vocabulary import HYBRID

P = ParamSpec("P")
_KEYED = {"show_spinner": False, "hash_funcs": {Filters: repr}}


def _shown(
    answer: Callable[Concatenate[str, P], pd.DataFrame], *args: P.args, **kwargs: P.kwargs
) -> pd.DataFrame | None:
    """``answer(build id, ...)``; on any failure a one-line error and ``None``."""
    with one_line_errors("Finding the answer"):
        return answer(state.engine().build.id, *args, **kwargs)
    return None


# ---- cached answers (the first argument, the index build id, keys the cache) -----------------


@st.cache_data(max_entries=32, **_KEYED)
def _search_mood(build: str, text: str, k: int, filters: Filters | None) -> pd.DataFrame:
    return state.engine().search_mood(text, k=k, filters=filters)


@st.cache_data(max_entries=32, **_KEYED)
def _recommend(
    build: str,
    ratings: Mapping[str, int],
    k: int,
    mood: str | None,
    weights: Mapping[str, float] | None,
    filters: Filters | None,
    diversity: float | None,
    familiarity: str | None = None,
) -> pd.DataFrame:
    return state.engine().recommend(
        ratings,
        k=k,
        mood=mood,
        weights=weights,
        filters=filters,
        diversity=diversity,
        familiarity=familiarity,
    )


@st.cache_data(max_entries=32, **_KEYED)
def _recommend_tracks(
    build: str,
    ratings: Mapping[str, int],
    k: int,
    mood: str | None,
    weights: Mapping[str, float] | None,
    filters: Filters | None,
    diversity: float | None,
    familiarity: str | None = None,
) -> pd.DataFrame:
    return state.engine().recommend_tracks(
        ratings,
        k=k,
        mood=mood,
        weights=weights,
        filters=filters,
        diversity=diversity,
        familiarity=familiarity,
    )


@st.cache_data(max_entries=16, **_KEYED)
def _continue_session(build: str, track_ids: tuple[str, ...], k: int) -> pd.DataFrame:
    return state.engine().continue_session(track_ids, k=k)


@st.cache_data(max_entries=64, **_KEYED)
def _similar_tracks(build: str, track_id: str, k: int, model: str) -> pd.DataFrame:
    return state.engine().similar_tracks(track_id, k=k, model=model)


@st.cache_data(max_entries=64, **_KEYED)
def _similar_artists(build: str, artist_id: str, k: int, model: str) -> pd.DataFrame:
    return state.engine().similar_artists(artist_id, k=k, model=model)


@st.cache_data(max_entries=16, **_KEYED)
def _survey_artists(build: str, k: int, exclude: tuple[str, ...], seed: int) -> pd.DataFrame:
    return state.engine().survey_artists(k, exclude=exclude, seed=seed)


@st.cache_data(max_entries=32, **_KEYED)
def _find_artists(build: str, text: str, k: int) -> pd.DataFrame:
    return state.engine().find_artists(text, k=k)


@st.cache_data(max_entries=16, **_KEYED)
def _track_info(build: str, ids: tuple[str, ...]) -> pd.DataFrame:
    return state.engine().track_info(ids)


_CACHED = (_search_mood, _recommend, _recommend_tracks, _continue_session, _similar_tracks)
_CACHED += (_similar_artists, _survey_artists, _find_artists, _track_info)


def reload() -> None:
    """Drop the cached engine and every cached answer (after the data directory was rebuilt)."""
    state.forget_engine()
    for cached in _CACHED:
        cached.clear()


# ---- what the pages call ---------------------------------------------------------------------


def search_mood(text: str, k: int, filters: Filters | None = None) -> pd.DataFrame | None:
    """Tracks for a mood in words, with ``score`` and ``why`` (:meth:`Engine.search_mood`)."""
    return _shown(_search_mood, text, k, filters)


def recommend(
    ratings: Mapping[str, int],
    k: int,
    mood: str | None = None,
    weights: Mapping[str, float] | None = None,
    filters: Filters | None = None,
    diversity: float | None = None,
    familiarity: str | None = None,
) -> pd.DataFrame | None:
    """Artists for saved ratings, with ``score``, ``score_<model>`` and ``reason`` (:meth:`Engine.recommend`)."""
    return _shown(_recommend, ratings, k, mood, weights, filters, diversity, familiarity)


def recommend_tracks(
    ratings: Mapping[str, int],
    k: int,
    mood: str | None = None,
    weights: Mapping[str, float] | None = None,
    filters: Filters | None = None,
    diversity: float | None = None,
    familiarity: str | None = None,
) -> pd.DataFrame | None:
    """Tracks for saved ratings, one per artist, with a ``reason`` (:meth:`Engine.recommend_tracks`)."""
    return _shown(_recommend_tracks, ratings, k, mood, weights, filters, diversity, familiarity)


def continue_session(track_ids: Sequence[str], k: int) -> pd.DataFrame | None:
    """What to play after ``track_ids``, oldest first (:meth:`Engine.continue_session`)."""
    return _shown(_continue_session, tuple(track_ids), k)


def similar_tracks(track_id: str, k: int, model: str = HYBRID) -> pd.DataFrame | None:
    """Neighbours of a track by one model or the hybrid (:meth:`Engine.similar_tracks`)."""
    return _shown(_similar_tracks, track_id, k, model)


def similar_artists(artist_id: str, k: int, model: str = HYBRID) -> pd.DataFrame | None:
    """Neighbours of an artist by one model or the hybrid (:meth:`Engine.similar_artists`)."""
    return _shown(_similar_artists, artist_id, k, model)


def survey_artists(k: int, exclude: Sequence[str] = (), seed: int = 0) -> pd.DataFrame | None:
    """Well-known artists across styles to rate, with ``why`` (:meth:`Engine.survey_artists`)."""
    return _shown(_survey_artists, k, tuple(exclude), seed)


def find_artists(text: str, k: int) -> pd.DataFrame | None:
    """Artists whose name contains ``text``, most popular first (:meth:`Engine.find_artists`)."""
    return _shown(_find_artists, text, k)


def track_info(ids: Sequence[str]) -> pd.DataFrame | None:
    """Catalog details of tracks in the given order (:meth:`Engine.track_info`)."""
    return _shown(_track_info, tuple(ids))
