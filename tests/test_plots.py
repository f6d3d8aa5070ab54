"""Figure builders: what each figure holds (traces, values, escaping), checked on literal data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tunescout.ui import plots


def test_escape_text_escapes_strings_and_leaves_numbers():
    frame = pd.DataFrame({"name": ["<i>x</i> & y", None], "n": [1.5, 2.0]})
    out = plots.escape_text(frame)
    assert out["name"].tolist()[0] == "&lt;i&gt;x&lt;/i&gt; &amp; y"
    assert out["name"].isna().tolist() == [False, True]
    assert out["n"].tolist() == [1.5, 2.0]
    assert frame["name"][0] == "<i>x</i> & y"  # the input is not changed


def test_radar_closes_each_outline_and_draws_missing_features_at_zero():
    fig = plots.feature_radar(
        {"energy": 0.9, "valence": 0.2}, {"energy": 0.5}, features=["energy", "valence"]
    )
    reference, item = fig.data
    assert list(item.r) == [0.9, 0.2, 0.9]
    assert list(reference.r) == [0.5, 0.0, 0.5]
    assert list(item.theta) == ["energy", "valence", "energy"]


def test_distribution_normalises_each_group_on_shared_bins():
    results = pd.DataFrame({"energy": [0.8, 0.9, 1.0]})
    catalog = pd.DataFrame({"energy": np.linspace(0, 1, 11)})
    fig = plots.distribution(results, catalog, "energy", bins=10)
    first, second = fig.data
    assert first.histnorm == second.histnorm == "percent"
    assert first.xbins.start == second.xbins.start == 0.0
    assert first.xbins.size == second.xbins.size == pytest.approx(0.1)
    assert list(first.x) == [0.8, 0.9, 1.0]


def test_metrics_frame_flattens_models_and_metrics():
    table = plots.metrics_frame(
        {"als": {"ndcg@10": {"mean": 0.3, "std": 0.01}}, "pop": {"ndcg@10": 0.1}}
    )
    assert table[["model", "metric", "mean"]].values.tolist() == [
        ["als", "ndcg@10", 0.3],
        ["pop", "ndcg@10", 0.1],
    ]
    assert table["std"].iloc[0] == 0.01 and math.isnan(table["std"].iloc[1])


def test_metric_bars_one_bar_per_model_with_error_bars_in_one_panel_per_metric():
    table = plots.metrics_frame(
        {
            "als": {"ndcg@10": {"mean": 0.3, "std": 0.01}, "recall@10": {"mean": 0.4, "std": 0.02}},
            "<pop>": {
                "ndcg@10": {"mean": 0.1, "std": 0.0},
                "recall@10": {"mean": 0.2, "std": 0.03},
            },
        }
    )
    fig = plots.metric_bars(table, ["recall@10"])
    assert [t.name for t in fig.data] == ["als", "&lt;pop&gt;"]
    assert [list(t.y) for t in fig.data] == [[0.4], [0.2]]
    assert [list(t.error_y.array) for t in fig.data] == [[0.02], [0.03]]
    assert [a.text for a in fig.layout.annotations] == ["recall@10"]


def test_query_scores_put_the_best_query_on_top_beside_a_baseline():
    queries = pd.DataFrame(
        {"query": ["sad", "happy", "<calm>"], "score": [0.2, 0.9, 0.5], "baseline": [0.3, 0.1, 0.5]}
    )
    fig = plots.query_scores(queries, scores=["score", "baseline"], names={"score": "search_mood"})
    assert [t.name for t in fig.data] == ["search_mood", "baseline"]
    # plotly draws the last category on top, so ascending order puts the best query first
    assert list(fig.data[0].y) == ["sad", "&lt;calm&gt;", "happy"]
    assert list(fig.data[0].x) == [0.2, 0.5, 0.9]
    assert list(fig.data[1].x) == [0.3, 0.5, 0.1]
