"""Plotly figure builders shared by the app's pages: a feature radar, result-vs-catalog
distributions and evaluation bar charts (the explorer's figure is :mod:`tunescout.ui.scatter`).

Plotly reads ``<b>``, ``<br>`` and entities in labels as markup, so every piece of data text
(track names, genres, model names, queries) is HTML-escaped here and always shows literally.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from tunescout.domain.features import UNIT_FEATURES

QUALITATIVE = px.colors.qualitative.Plotly + px.colors.qualitative.Dark24


def escape_text(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` with every text column HTML-escaped (numbers untouched)."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(lambda v: html.escape(str(v)) if isinstance(v, str) else v)
    return out


def feature_radar(
    item: Mapping[str, float],
    reference: Mapping[str, float],
    item_label: str = "item",
    reference_label: str = "catalog median",
    features: Sequence[str] = UNIT_FEATURES,
) -> go.Figure:
    """An item's 0–1 audio features against a reference profile on one radar.

    Args:
        item: Feature name to value (missing features are drawn at 0).
        reference: The profile to compare with, e.g. the catalog median.
        item_label, reference_label: Legend names.
        features: Which features, in order around the circle (0–1 features by default).
    """
    axes = list(features)
    fig = go.Figure()
    for label, values, fill in ((reference_label, reference, "none"), (item_label, item, "toself")):
        r = [float(values.get(f, 0.0) or 0.0) for f in axes]
        fig.add_trace(
            go.Scatterpolar(
                r=[*r, r[0]], theta=[*axes, axes[0]], name=html.escape(label), fill=fill
            )
        )
    grid = "rgba(160,160,160,0.35)"  # reads on the dark theme and on a light one
    fig.update_layout(
        polar={
            "bgcolor": "rgba(0,0,0,0)",
            "radialaxis": {"range": [0, 1], "gridcolor": grid, "linecolor": grid},
            "angularaxis": {"gridcolor": grid, "linecolor": grid},
        },
        paper_bgcolor="rgba(0,0,0,0)",
        showlegend=True,
        margin={"t": 30, "b": 30},
    )
    return fig


def distribution(
    results: pd.DataFrame,
    catalog: pd.DataFrame,
    feature: str,
    labels: tuple[str, str] = ("results", "catalog"),
    bins: int = 20,
) -> go.Figure:
    """How ``feature`` is distributed among results against the whole catalog (each in % of its rows).

    Both histograms share the same bins, so their bars line up.
    """
    values = pd.concat([results[feature], catalog[feature]]).dropna()
    lo, hi = (float(values.min()), float(values.max())) if len(values) else (0.0, 1.0)
    size = (hi - lo) / bins if hi > lo else 1.0
    fig = go.Figure()
    for label, frame in zip(labels, (results, catalog), strict=True):
        fig.add_trace(
            go.Histogram(
                x=frame[feature].dropna(),
                name=html.escape(label),
                histnorm="percent",
                xbins={"start": lo, "end": hi + size, "size": size},
                opacity=0.6,
            )
        )
    fig.update_layout(barmode="overlay", xaxis_title=feature, yaxis_title="% of items")
    return fig


def metrics_frame(models: Mapping[str, Mapping[str, Mapping[str, float]]]) -> pd.DataFrame:
    """``{model: {metric: {"mean", "std"}}}`` as a tidy table: ``model, metric, mean, std``.

    A metric given as a bare number gets a ``std`` of NaN.
    """
    rows = []
    for model, metrics in models.items():
        for metric, value in metrics.items():
            stats = value if isinstance(value, Mapping) else {"mean": value}
            rows.append(
                {
                    "model": str(model),
                    "metric": str(metric),
                    "mean": float(stats.get("mean", np.nan)),
                    "std": float(stats.get("std", np.nan)),
                }
            )
    return pd.DataFrame(rows, columns=["model", "metric", "mean", "std"])


def metric_bars(
    table: pd.DataFrame, metrics: Sequence[str] | None = None, wrap: int = 3
) -> go.Figure:
    """One small bar chart per metric (own y scale), a bar per model with ± std error bars.

    Args:
        table: :func:`metrics_frame` output.
        metrics: Which metrics, in order (all by default).
        wrap: Charts per row.
    """
    chosen = list(metrics) if metrics is not None else list(dict.fromkeys(table["metric"]))
    data = escape_text(table[table["metric"].isin(chosen)])
    fig = px.bar(
        data,
        x="model",
        y="mean",
        color="model",
        error_y="std",
        facet_col="metric",
        facet_col_wrap=wrap,
        category_orders={"metric": [html.escape(m) for m in chosen]},
        facet_row_spacing=0.12,
    )
    fig.update_yaxes(matches=None, showticklabels=True, title=None)
    fig.update_xaxes(showticklabels=False, title=None)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=", 1)[-1]))
    rows = -(-len(chosen) // wrap)
    fig.update_layout(height=max(300, 240 * rows), legend_title_text="model")
    return fig


def query_scores(
    queries: pd.DataFrame,
    text: str = "query",
    scores: Sequence[str] = ("score",),
    names: Mapping[str, str] | None = None,
) -> go.Figure:
    """Horizontal bars of each query's score(s), sorted by the first score, best at the top.

    Args:
        queries: One row per query.
        text: Column holding the query text.
        scores: Score columns to compare side by side (e.g. the product and a baseline).
        names: Legend names of the score columns.
    """
    names = dict(names or {})
    ordered = queries.sort_values(scores[0], ascending=True, kind="stable")
    long = ordered.melt(
        id_vars=[text], value_vars=list(scores), var_name="series", value_name="value"
    )
    long["series"] = long["series"].map(lambda c: names.get(c, c))
    data = escape_text(long)
    fig = px.bar(
        data, x="value", y=text, color="series", orientation="h", barmode="group",
        color_discrete_sequence=QUALITATIVE,
    )  # fmt: skip
    fig.update_layout(
        height=max(300, (14 + 10 * len(scores)) * len(ordered) + 80),
        yaxis_title=None,
        xaxis_title="score",
        legend_title_text=None,
    )
    return fig
