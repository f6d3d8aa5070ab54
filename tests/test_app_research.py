"""The researcher pages (embedding explorer, model report) driven through Streamlit's AppTest over a
tiny synthetic data directory, plus :func:`explore.spaces` / :func:`explore.items` on a real engine."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import numpy as np
import plotly.io as pio
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import SYNTHETIC_TRACKS
from tunescout.research import explore
from tunescout.serving import lookup

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 300  # first runs load the sentence encoder; two shared cores can be slow
TRACKS = SYNTHETIC_TRACKS


@pytest.fixture(scope="module")
def data_dir(synthetic_dir: Path) -> Path:
    """The shared synthetic data dir, with ``TUNESCOUT_DATA_DIR`` pointing at it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TUNESCOUT_DATA_DIR", str(synthetic_dir))
        yield synthetic_dir


@pytest.fixture
def reports(data_dir: Path) -> Path:
    """An empty reports folder (removed again afterwards)."""
    folder = data_dir / "reports"
    shutil.rmtree(folder, ignore_errors=True)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _plain(value: object) -> object:
    """JSON with plotly's base64 typed arrays (``{"dtype", "bdata"}``) turned back into lists."""
    if isinstance(value, dict) and {"dtype", "bdata"} <= set(value):
        flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
        return flat.reshape(value["shape"]).tolist() if "shape" in value else flat.tolist()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def figures(at: AppTest) -> list:
    """The plotly figures on the page, decoded."""
    return [
        pio.from_json(json.dumps(_plain(json.loads(c.proto.spec)))) for c in at.get("plotly_chart")
    ]


def page(name: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "pages" / name), default_timeout=TIMEOUT)
    at.session_state["_tunescout_routed"] = True  # run the page alone, as app.py's router would
    at.run()
    assert not at.exception, at.exception
    return at


# ---- explore on a real engine -----------------------------------------------------------------


def test_spaces_cover_every_model_with_aligned_ids_and_vectors(engine):
    found = explore.spaces(engine)
    assert list(found) == [
        "ALS artist factors",
        "MiniLM track vectors",
        "MiniLM artist vectors",
        "Audio features (tracks)",
        "Audio features (artists)",
    ]
    for space in found.values():
        assert len(space.ids) == len(space.vectors) > 0
    assert len(found["MiniLM track vectors"].ids) == TRACKS
    assert found["Audio features (tracks)"].kind == "tracks"
    assert found["ALS artist factors"].kind == "artists"
    # raw ALS factors keep their lengths; the index's unit vectors point the same way
    als = found["ALS artist factors"].vectors
    assert not np.allclose(np.linalg.norm(als, axis=1), 1.0)
    unit = engine.als.vectors("artists").vectors
    assert np.allclose(als / np.linalg.norm(als, axis=1, keepdims=True), unit, atol=1e-5)


def test_items_label_ids_in_order(engine):
    ids = engine.catalog.tracks["track_id"].iloc[[5, 0, 3]].tolist()
    labels = explore.items(engine, "tracks", ids)
    expected = engine.tracks.loc[ids]
    assert labels["id"].tolist() == ids
    assert labels["name"].tolist() == expected["name"].tolist()
    assert labels["artist"].tolist() == expected["artist_name"].tolist()
    assert labels["genre"].tolist() == [list(g)[0] for g in expected["genres"]]
    assert labels["energy"].tolist() == pytest.approx(expected["energy"].tolist())


# ---- explorer page ------------------------------------------------------------------------------


def test_explorer_projects_only_after_a_method_is_chosen(data_dir):
    at = page("explorer.py")
    assert not at.get("plotly_chart")
    at.button[0].click().run()  # Project without a method
    assert "Choose a projection method" in at.warning[0].value
    assert not at.get("plotly_chart")


def test_explorer_draws_the_sample_highlights_a_search_and_lists_neighbours(data_dir, engine):
    at = page("explorer.py")
    boxes = {box.label: box for box in at.selectbox}
    boxes["Space"].select("MiniLM track vectors")
    boxes["Method"].select("PCA")
    {box.label: box for box in at.number_input}["Sample size"].set_value(200)
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert f"showing 200 of {TRACKS:,} tracks, uniform random, seed 0" in at.caption[0].value
    (fig,) = figures(at)
    assert sum(len(trace.x) for trace in fig.data) == 200

    space = explore.spaces(engine)["MiniLM track vectors"]
    shown = set(explore.sample(space.ids, 200, seed=0).ids)
    labels = explore.items(engine, "tracks", space.ids)
    # a shown track whose name matches no other, so the search finds exactly it
    target = next(
        t
        for t, n in zip(labels["id"], labels["name"], strict=True)
        if t in shown and len(lookup.find(labels, n)) == 1
    )
    at.text_input[0].input(engine.tracks.at[target, "name"]).run()
    assert not at.exception, at.exception
    chosen = {box.label: box for box in at.selectbox}["Matches"].value
    assert chosen == target
    table = at.dataframe[0].value
    assert len(table) == 10 and table["rank"].tolist() == list(range(1, 11))
    assert table["cosine_similarity"].is_monotonic_decreasing
    expected = explore.neighbours(space.vectors, space.ids, chosen, 10)["id"]
    (fig,) = figures(at)
    marks = {t.name: t for t in fig.data}
    assert len(marks["selected"].x) == 1 and marks["selected"].text == (
        engine.tracks.at[chosen, "name"],
    )
    assert len(marks["neighbours"].x) == len(set(expected) & shown)
    assert at.get("download_button")


def test_explorer_colours_by_clusters_in_3d(data_dir):
    at = page("explorer.py")
    boxes = {box.label: box for box in at.selectbox}
    boxes["Space"].select("ALS artist factors")
    boxes["Method"].select("PCA")
    at.radio[0].set_value(3)
    at.button[0].click().run()
    {box.label: box for box in at.selectbox}["Colour by"].select("cluster").run()
    assert not at.exception, at.exception
    (fig,) = figures(at)
    assert {t.type for t in fig.data} == {"scatter3d"}
    names = {t.name for t in fig.data}
    assert {f"cluster {c}" for c in range(8)} <= names


# ---- model report page --------------------------------------------------------------------------

EVALUATION = {
    "kind": "evaluation",
    "created": "2026-01-02T03:04:05+00:00",
    "dataset": {"index_build": "some-other-build"},
    "protocol": {"known": "per-user random 80/20 holdout", "seeds": [0, 1]},
    "models": {
        "als (tunescout)": {
            "ndcg@10": {"mean": 0.3, "std": 0.01},
            "seed": {"mean": 0.5, "std": 0.5},
        },
        "popularity": {"ndcg@10": {"mean": 0.1, "std": 0.002}, "seed": {"mean": 0.5, "std": 0.5}},
    },
}
MOOD = {
    "created": "2026-01-02T03:04:05+00:00",
    "summary": {"features_mean": 0.8, "genre_mean": 0.6},
    "baseline_summary": {"features_mean": 0.6, "genre_mean": 0.5},
    "latency_ms": 12.0,
    "queries": [
        {"query": "rainy heartbreak", "kind": "features", "score": 0.9, "baseline": 0.7},
        {"query": "<b>gym</b>", "kind": "features", "score": 0.4, "baseline": 0.5},
    ],
}


def test_report_page_without_reports_says_how_to_make_them(reports):
    at = page("model_report.py")
    assert len(at.info) == 2 and all("python scripts/evaluate.py" in box.value for box in at.info)
    assert not at.get("plotly_chart")
    counts = {m.label: m.value for m in at.metric}
    assert counts["tracks"] == f"{TRACKS:,}"
    assert "synthetic" in at.warning[0].value


def test_report_page_shows_metrics_and_mood_scores(reports):
    reports.mkdir(parents=True)
    (reports / "evaluation.json").write_text(json.dumps(EVALUATION))
    (reports / "mood.json").write_text(json.dumps(MOOD))
    at = page("model_report.py")
    metrics = at.dataframe[0].value
    assert metrics.index.tolist() == ["als (tunescout)", "popularity"]
    assert metrics.columns.tolist() == ["ndcg@10"]  # the seed is not a metric
    assert metrics.loc["als (tunescout)", "ndcg@10"] == "0.3000 ± 0.0100"
    assert any("another index build" in w.value for w in at.warning)
    bars, scores = figures(at)
    assert [list(t.error_y.array) for t in bars.data] == [[0.01], [0.002]]
    assert list(scores.data[0].y) == ["&lt;b&gt;gym&lt;/b&gt;", "rainy heartbreak"]
    summary = at.dataframe[1].value
    assert summary.loc["features_mean"].tolist() == [0.8, 0.6]


def test_report_page_names_a_broken_report(reports):
    reports.mkdir(parents=True)
    (reports / "evaluation.json").write_text("{not json")
    at = page("model_report.py")
    assert "evaluation.json cannot be read" in at.error[0].value
