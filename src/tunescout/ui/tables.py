"""Result tables (one row per track or artist, with a small bar chart of its sound) and the detail
of the selected row: its radar against the catalog mean and the action buttons."""

from __future__ import annotations

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
COLUMNS = {
    "name": st.column_config.TextColumn(width="medium"),
    "why": st.column_config.TextColumn(width="large"),
    "reason": st.column_config.TextColumn(width="large"),
    "score": st.column_config.ProgressColumn("fit", width="small", **_SCORE),
    **{m: st.column_config.ProgressColumn(SHORT[m], help=_HELP[m], **_SCORE) for m in SIGNALS},
    "sound": st.column_config.BarChartColumn(
        "sound", width="small", y_min=0.0, y_max=1.0, help=" · ".join(UNIT_FEATURES)
    ),
    "year": st.column_config.NumberColumn(format="%d"),
}


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
        features = state.engine().artists.loc[frame["artist_id"], list(UNIT_FEATURES)].to_numpy()
        frame = frame.drop(columns=list(UNIT_FEATURES), errors="ignore").reset_index(drop=True)
        frame[list(UNIT_FEATURES)] = features
    event = st.dataframe(
        _table(frame, kind, text),
        hide_index=True,
        column_config=COLUMNS,
        key=f"{key}_table",
        on_select="rerun",
        selection_mode="single-row",
    )
    rows = event.selection.rows if event is not None else []
    detail(frame.iloc[rows[0] if rows else 0], f"{key}_detail", kind, text)


def _sound(frame: pd.DataFrame) -> list[list[float]]:
    values = frame.reindex(columns=list(UNIT_FEATURES)).astype(float).fillna(0.0).to_numpy()
    return values.round(3).tolist()


def _table(frame: pd.DataFrame, kind: str, text: str) -> pd.DataFrame:
    """What a result table shows, most telling columns first."""
    table = pd.DataFrame({"name": frame["name"].astype(str)})
    if kind == "track":
        table["artist"] = frame["artist_name"].astype(str)
    table[text] = frame[text].astype(str)
    table["score"] = frame["score"].astype(float)
    table["sound"] = _sound(frame)
    if kind == "artist":  # each model's score, under whichever names the engine gives them
        for name in _SCORES:
            column = model_name(name)
            if f"score_{name}" in frame and column not in table:
                table[column] = frame[f"score_{name}"].astype(float)
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
