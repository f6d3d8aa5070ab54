"""The embedding explorer's figure: one WebGL point per item, coloured by a category or a number,
with the selection, its neighbours (and lines to them) and items placed outside the sample.

Built from ``graph_objects`` traces rather than Plotly Express: with tens of thousands of points a
page run rebuilds the figure on every click, and plain traces with one pre-formatted hover string
per point keep that cheap. Data text is HTML-escaped here, so names always show literally.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from tunescout.research.explore import NO_GENRE, OTHER

AXES = ("x", "y", "z")
QUALITATIVE = px.colors.qualitative.Plotly + px.colors.qualitative.Dark24
GREYS = {NO_GENRE: "#8a8a8a", OTHER: "#5c5c5c"}  # two catch-alls, told apart
SELECTED, NEIGHBOUR, LINE = "#FFD700", "#FF4B4B", "rgba(255,215,0,0.55)"
HOVER = "%{hovertext}<extra></extra>"


def _hovertext(values: pd.Series) -> np.ndarray:
    return values.map(lambda t: html.escape(str(t)).replace("\n", "<br>")).to_numpy()


def _trace(frame: pd.DataFrame, dims: int, **style) -> go.Scattergl | go.Scatter3d:
    """Points of ``frame`` (its ``x``, ``y``, ``z``) with ids as customdata and the hover text."""
    coords = {axis: frame[axis].to_numpy() for axis in AXES[:dims]}
    trace = go.Scatter3d if dims == 3 else go.Scattergl
    return trace(
        **coords,
        customdata=frame["id"].to_numpy(),
        hovertext=_hovertext(frame["hover"]),
        hovertemplate=HOVER,
        **style,
    )


def _categories(frame: pd.DataFrame, colour: str, dims: int, size: float) -> list:
    """One trace per category, the largest first (so the legend reads in order of size)."""
    order = frame[colour].astype(str).value_counts().index.tolist()
    order = [c for c in order if c not in GREYS] + [c for c in GREYS if c in order]
    palette = iter(QUALITATIVE * 4)
    traces = []
    for category in order:
        part = frame[frame[colour].astype(str) == category]
        fill = GREYS.get(category) or next(palette)
        marker = {"size": size, "color": fill, "opacity": 0.85}
        name = f"{html.escape(category)} ({len(part):,})"
        traces.append(_trace(part, dims, mode="markers", name=name, marker=marker))
    return traces


def _numbers(frame: pd.DataFrame, colour: str, dims: int, size: float) -> list:
    """One trace on a colour scale; items without a value in grey beside it."""
    values = pd.to_numeric(frame[colour], errors="coerce")
    known = frame[values.notna()]
    bar = {"title": {"text": html.escape(colour)}, "thickness": 14}
    marker = {
        "size": size,
        "color": values[values.notna()].to_numpy(),
        "colorscale": "Viridis",
        "colorbar": bar,
        "opacity": 0.85,
    }
    traces = [_trace(known, dims, mode="markers", name=html.escape(colour), marker=marker)]
    missing = frame[values.isna()]
    if len(missing):
        grey = {"size": size, "color": GREYS[NO_GENRE], "opacity": 0.6}
        traces.append(_trace(missing, dims, mode="markers", name="no value", marker=grey))
    return traces


def _lines(centre: pd.Series, ends: pd.DataFrame, dims: int) -> go.Scattergl | go.Scatter3d:
    """Segments from the selected point to each neighbour (``None`` between segments)."""
    coords = {}
    for axis in AXES[:dims]:
        pairs = np.column_stack(
            [np.full(len(ends), centre[axis]), ends[axis], np.full(len(ends), None)]
        )
        coords[axis] = pairs.ravel()
    trace = go.Scatter3d if dims == 3 else go.Scattergl
    return trace(
        **coords, mode="lines", line={"color": LINE, "width": 2}, hoverinfo="skip",
        name="to its neighbours", showlegend=False,
    )  # fmt: skip


def explorer_figure(
    frame: pd.DataFrame,
    colour: str,
    selected: Sequence[str] = (),
    neighbours: Sequence[str] = (),
    isolate: bool = False,
    height: int = 720,
    revision: str = "",
) -> go.Figure:
    """The projection with its selection and the selection's neighbours.

    Args:
        frame: One row per plotted item: ``id``, ``x``, ``y`` (``z`` in 3D), ``hover`` (plain
            text, lines split by ``\\n``), ``placed`` (placed outside the sample) and ``colour``.
        colour: The column to colour by: numbers get a colour scale, anything else a legend.
        selected: Ids of the selected items (a click: one; a box or lasso: several).
        neighbours: Ids of the selection's nearest items in the original space, nearest first.
        isolate: Draw only the selection and its neighbours, named on the plot.
        height: Pixels.
        revision: Plotly's ``uirevision`` (keeps zoom and legend clicks while it is unchanged).

    Returns:
        WebGL traces in 2D (``scatter3d`` in 3D); every point's ``customdata`` is its id.
    """
    dims = 3 if "z" in frame else 2
    size = 4.0 if len(frame) > 10_000 else 6.0 if dims == 2 else 3.0
    chosen, near = set(selected), list(dict.fromkeys(neighbours))
    shown = frame[frame["id"].isin(chosen | set(near))] if isolate else frame
    base = shown[~shown["placed"]]
    numeric = pd.api.types.is_numeric_dtype(frame[colour]) and not pd.api.types.is_bool_dtype(
        frame[colour]
    )
    build = _numbers if numeric else _categories
    traces = build(base, colour, dims, size * (2 if isolate else 1)) if len(base) else []
    placed = shown[shown["placed"]]
    if len(placed):
        ring = {"size": size * 2.5, "symbol": "circle-open", "color": "#e0e0e0"}
        name = "placed (outside the sample)"
        traces.append(_trace(placed, dims, mode="markers", name=name, marker=ring))
    near_rows = frame.set_index("id").reindex(near).dropna(subset=["x"]).reset_index()
    centre = frame[frame["id"].isin(chosen)]
    if len(near_rows) and len(centre) == 1:
        traces.append(_lines(centre.iloc[0], near_rows, dims))
    if len(near_rows):
        ring = {
            "size": size * 2.2,
            "color": "rgba(0,0,0,0)",
            "line": {"width": 2, "color": NEIGHBOUR},
        }
        if dims == 3:
            ring = {"size": size * 2, "color": NEIGHBOUR, "opacity": 0.9}
        traces.append(_trace(near_rows, dims, mode="markers", name="neighbours", marker=ring))
    if len(centre):  # one item: a large diamond; a box or lasso: its members ringed in gold
        star = {"size": size * 3, "color": SELECTED, "symbol": "diamond"}
        if len(centre) > 1:
            star = {"size": size * 1.6, "color": "rgba(0,0,0,0)", "symbol": "circle"}
        star["line"] = {"width": 1.5, "color": "#000000" if len(centre) == 1 else SELECTED}
        traces.append(_trace(centre, dims, mode="markers", name="selected", marker=star))
    if isolate:  # few points: name them on the plot
        named = pd.concat([centre, near_rows]).drop_duplicates("id")
        text = named["hover"].map(lambda t: html.escape(str(t).split("\n")[0][:40]))
        coords = {axis: named[axis].to_numpy() for axis in AXES[:dims]}
        kind = go.Scatter3d if dims == 3 else go.Scatter
        traces.append(
            kind(**coords, mode="text", text=text.to_numpy(), textposition="top center",
                 hoverinfo="skip", showlegend=False, textfont={"size": 11})
        )  # fmt: skip
    fig = go.Figure(traces)
    if isolate and dims == 2 and len(shown) + len(near_rows):  # room for the outermost names
        drawn = pd.concat([shown, near_rows])
        for axis in ("x", "y"):
            low, high = float(drawn[axis].min()), float(drawn[axis].max())
            pad = max(high - low, 1e-6) * 0.15
            fig.update_layout({f"{axis}axis": {"range": [low - pad, high + pad]}})
    fig.update_layout(
        height=height,
        margin={"l": 0, "r": 0, "t": 24, "b": 0},
        legend={
            "itemsizing": "constant",
            "font": {"size": 11},
            "orientation": "h",
            "x": 0,
            "y": -0.03,
            "yanchor": "top",
        },
        hoverlabel={"font": {"size": 11}, "align": "left"},
        uirevision=revision or None,
    )
    return fig
