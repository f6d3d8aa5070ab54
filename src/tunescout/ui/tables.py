"""Result tables: one row per track or artist with one-click 👍 / 👎 / ▶ / 🔎 boxes in front
(``st.data_editor`` checkbox columns; :mod:`tunescout.ui.actions` saves what changed), a small bar
chart of its sound and column widths that fit the page; and the detail of one item (its radar
against the catalog mean, with the action buttons)."""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from tunescout.domain.features import UNIT_FEATURES
from tunescout.ui import actions, plots, state
from tunescout.ui.text import escape
from tunescout.ui.widgets import facts
from tunescout.vocabulary import SHORT, SIGNALS, model_name

_HELP = {
    "audio": "audio features",
    "als": "co-listening",
    "semantic": "descriptions and tags",
    "coplay": "listeners who play both (item-item)",
    "tags": "shared Last.fm tags and genres",
    "popularity": "catalog popularity",
}
_SCORES = (*SIGNALS, "content")  # "content": the audio model's score column before the rename
_SCORE = {"min_value": 0.0, "max_value": 1.0, "format": "%.2f"}
MARK_WIDTH = 40  # a mark's header shows the editable-column icon and its emoji
_MARK = {
    "like": st.column_config.CheckboxColumn(
        "👍", width=MARK_WIDTH, help="Like (tracks: their artist too)"
    ),
    "skip": st.column_config.CheckboxColumn(
        "👎", width=MARK_WIDTH, help="Tracks: not this track. Artists: not for me (2 stars)"
    ),
    "queue": st.column_config.CheckboxColumn(
        "▶", width=MARK_WIDTH, help="Play next (For You → Play next)"
    ),
    "more": st.column_config.CheckboxColumn(
        "🔎", width=MARK_WIDTH, help="More like this (Similar)"
    ),
}
COLUMNS = {
    **_MARK,
    # Widths that show a whole name, artist, year and three genres at 1,400 px; the long text
    # ("why", "reason") comes last and is whole in the row's detail below the table.
    "name": st.column_config.TextColumn(width=140),
    "artist": st.column_config.TextColumn(width=140),
    "year": st.column_config.NumberColumn(format="%d", width=48),
    "genres": st.column_config.TextColumn(width=210),
    "why": st.column_config.TextColumn(width="large"),
    "reason": st.column_config.TextColumn(width="large"),
    # a fused score is not 0–1 (mood fit, z-scores): a number, not a bar that is always full
    "score": st.column_config.NumberColumn("fit", width=50, format="%.2f"),
    **{
        m: st.column_config.ProgressColumn(SHORT[m], help=_HELP[m], width=60, **_SCORE)
        for m in SIGNALS
    },
    "sound": st.column_config.BarChartColumn(
        "sound", width=60, y_min=0.0, y_max=1.0, help=" · ".join(UNIT_FEATURES)
    ),
}


def results(
    frame: pd.DataFrame | None,
    key: str,
    kind: str = "track",
    text: str | None = "why",
    compact: bool = False,
) -> None:
    """A result table with one-click marks in front of each row (like, skip, play next for
    tracks, more like this) and a small bar chart of each row's 0–1 audio features; unless
    ``compact``, the radar of one row (the first, or the one picked) below it.

    A click is saved at once by the editor's callback (:func:`actions.edited`); the boxes show
    what is saved (:func:`actions.board` draws the table afresh when a mark changed elsewhere).

    Args:
        frame: Engine results (``kind`` "track" or "artist"), best first.
        key: Unique widget-key prefix on the page.
        text: The column that says why each item is here ("why" or "reason"), if any.
        compact: Only the name (with the artist for tracks) and the score, for narrow columns.
    """
    actions.follow()
    if frame is None or frame.empty:
        st.info("Nothing matches: loosen the filters or try other words.")
        return
    frame = frame.reset_index(drop=True)
    if kind == "artist":  # artist results carry no audio features; the catalog has their means
        features = state.engine().artists.loc[frame["artist_id"], list(UNIT_FEATURES)].to_numpy()
        frame = frame.drop(columns=list(UNIT_FEATURES), errors="ignore")
        frame[list(UNIT_FEATURES)] = features
    ids = "|".join(frame[f"{kind}_id"].astype(str))
    digest = hashlib.sha1(ids.encode()).hexdigest()[:10]
    editor, marks = actions.board(f"{key}_{digest}", frame, kind)
    table = _compact(frame, kind) if compact else _table(frame, kind, text)
    shown = pd.concat([marks, table], axis=1)
    st.data_editor(
        shown,
        key=editor,
        hide_index=True,
        column_config=COLUMNS,
        disabled=[c for c in shown if c not in marks],
        on_change=actions.edited,
        args=(editor, frame, kind),
    )
    if not compact:
        labels = frame["name"].astype(str)
        if kind == "track":
            labels = labels + " — " + frame["artist_name"].astype(str)
        picked = st.selectbox(
            "Sound profile of",
            range(len(frame)),
            format_func=labels.get,
            key=f"{key}_sound_{digest}",
        )
        detail(frame.iloc[picked or 0], f"{key}_detail", kind, text, buttons=False)


def _sound(frame: pd.DataFrame) -> list[list[float]]:
    values = frame.reindex(columns=list(UNIT_FEATURES)).astype(float).fillna(0.0).to_numpy()
    return values.round(3).tolist()


def _compact(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """Score and name (— artist): what fits half the page (the score first, never cut off)."""
    name = frame["name"].astype(str)
    if kind == "track":
        name = name + " — " + frame["artist_name"].astype(str)
    return pd.DataFrame({"score": frame["score"].astype(float), "item": name})


def _table(frame: pd.DataFrame, kind: str, text: str | None) -> pd.DataFrame:
    """What a result table shows after the marks: short columns first, the long text last."""
    table = pd.DataFrame({"name": frame["name"].astype(str)})
    if kind == "track":
        table["artist"] = frame["artist_name"].astype(str)
        table["year"] = frame["release_year"]
    table["genres"] = frame["genres"].map(lambda g: ", ".join(list(g)[:3]) if g is not None else "")
    table["score"] = frame["score"].astype(float)
    table["sound"] = _sound(frame)
    if kind == "artist":  # each model's score, under whichever names the engine gives them
        for name in _SCORES:
            column = model_name(name)
            scored = f"score_{name}" in frame and frame[f"score_{name}"].notna().any()
            if scored and column not in table:  # a model weighed 0 was not asked
                table[column] = frame[f"score_{name}"].astype(float)
    if text is not None:
        table[text] = frame[text].astype(str)
    return table


def detail(
    row: pd.Series, key: str, kind: str, text: str | None = "why", buttons: bool = True
) -> None:
    """One item: its radar against the catalog mean, why it is here, and (``buttons``) its
    like, skip, play next and more like this."""
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
        if buttons:
            actions.buttons(row, key, kind)


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


_QUEUE = {
    "up": st.column_config.CheckboxColumn("▲", width=MARK_WIDTH, help="Play it one place earlier"),
    "down": st.column_config.CheckboxColumn("▼", width=MARK_WIDTH, help="Play it one place later"),
    "remove": st.column_config.CheckboxColumn(
        "✕", width=MARK_WIDTH, help="Take it out of the queue"
    ),
    "name": st.column_config.TextColumn(width=220),
    "artist": st.column_config.TextColumn(width=160),
    "year": st.column_config.NumberColumn(format="%d", width=50),
}


def queue_editor(info: pd.DataFrame, key: str) -> None:
    """The play-next queue in order, each track with one-click ▲ / ▼ (move one place) and ✕
    (take it out), saved at once."""
    queue = info["track_id"].astype(str).tolist()
    names = (info["name"].astype(str) + " — " + info["artist_name"].astype(str)).tolist()
    shown = pd.DataFrame(False, index=range(len(queue)), columns=list(actions.QUEUE_MARKS))
    shown["name"] = info["name"].astype(str).to_numpy()
    shown["artist"] = info["artist_name"].astype(str).to_numpy()
    shown["year"] = info["release_year"].to_numpy()
    version = st.session_state.get(actions.version_key(key), 0)
    digest = hashlib.sha1("|".join(queue).encode()).hexdigest()[:10]
    editor = f"{key}_{digest}_{version}"
    after = st.data_editor(
        shown,
        key=editor,
        hide_index=True,
        column_config=_QUEUE,
        disabled=["name", "artist", "year"],
        on_change=actions.queue_edited,
        args=(editor, key, queue, names),
    )
    edits = actions.changes(shown[list(actions.QUEUE_MARKS)], after[list(actions.QUEUE_MARKS)])
    if edits:  # reached the script without the callback (an editor state seeded by a test)
        st.session_state[actions.version_key(key)] = version + 1
        if actions.reorder(queue, edits, names) is not None:
            st.rerun()
