"""The researcher pages (embedding explorer, model report) driven through Streamlit's AppTest over a
tiny synthetic data directory, plus :func:`explore.spaces` / :func:`explore.items` on a real engine."""

from __future__ import annotations

import base64
import json
import shutil
import time
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
    """The app (router, profile) switched to ``pages/<name>``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    at.run()
    at.switch_page(f"pages/{name}").run()
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


def projected(at: AppTest, timeout: float = 240) -> AppTest:
    """Rerun the page until the worker's projection is drawn (the page shows progress till then)."""
    deadline = time.monotonic() + timeout
    while not at.get("plotly_chart"):
        assert not at.exception, at.exception
        assert time.monotonic() < deadline, "the projection was not drawn in time"
        assert at.get("progress") or at.get("plotly_chart"), "neither progress nor a plot"
        time.sleep(0.5)
        at.run()
    return at


def project(at: AppTest, space: str, method: str = "PCA", n: int = 200, dims: int = 2) -> AppTest:
    at.selectbox(key="xp_space").select(space)
    at.selectbox(key="xp_method").select(method)
    at.number_input(key="xp_n").set_value(n)
    at.radio(key="xp_dims").set_value(dims)
    at.button[0].click().run()
    return projected(at)


def test_explorer_projects_in_a_worker_only_after_project(data_dir):
    at = page("explorer.py")
    assert not at.get("plotly_chart") and "press **Project**" in at.info[0].value
    at.button[0].click().run()  # PCA of the first space: the page follows the worker
    projected(at)
    assert not at.exception, at.exception
    assert at.query_params["method"] == "PCA"  # the view is in the URL: a bookmark redraws it


def test_explorer_selects_a_search_draws_its_neighbours_and_places_it(data_dir, engine):
    at = project(page("explorer.py"), "MiniLM track vectors")
    assert any(
        f"showing 200 of {TRACKS:,} tracks, uniform random, seed 0" in c.value for c in at.caption
    )
    (fig,) = figures(at)
    assert sum(len(t.x) for t in fig.data) == 200

    space = explore.spaces(engine)["MiniLM track vectors"]
    shown = set(explore.sample(space.ids, 200, seed=0).ids)
    labels = explore.items(engine, "tracks", space.ids)
    # a track outside the sample whose name matches no other, so the search finds exactly it
    target = next(
        t
        for t, n in zip(labels["id"], labels["name"], strict=True)
        if t not in shown and len(lookup.find(labels, n)) == 1
    )
    at.text_input(key="xp_find").input(engine.tracks.at[target, "name"]).run()
    matches = next(box for box in at.selectbox if box.label == "Matches")
    matches.select(target).run()
    assert not at.exception, at.exception
    assert at.session_state["xp_selection"] == [target]
    assert at.query_params["sel"] == target  # the selection is in the URL too
    table = at.dataframe[-1].value
    expected = explore.neighbours(space.vectors, space.ids, target, 10)
    assert len(table) == 10 and table["cosine_similarity"].tolist() == pytest.approx(
        expected["cosine_similarity"].tolist(), abs=1e-6
    )
    (fig,) = figures(at)
    marks = {t.name: t for t in fig.data}
    assert list(marks["selected"].customdata) == [target]
    assert list(marks["neighbours"].customdata) == expected["id"].tolist()  # all drawn
    placed = set(marks["placed (outside the sample)"].customdata)
    assert target in placed and placed <= {target, *expected["id"]}

    at.toggle(key="xp_isolate").set_value(True).run()
    (fig,) = figures(at)
    drawn = {i for t in fig.data if t.customdata is not None for i in t.customdata}
    assert drawn == {target, *expected["id"]}


def test_explorer_colours_by_clusters_and_by_numbers_in_3d(data_dir):
    at = project(page("explorer.py"), "ALS artist factors", dims=3)
    at.selectbox(key="xp_colour").select("cluster").run()
    assert not at.exception, at.exception
    (fig,) = figures(at)
    assert {t.type for t in fig.data} == {"scatter3d"}
    assert {f"cluster {c}" for c in range(8)} <= {t.name.split(" (")[0] for t in fig.data}
    at.selectbox(key="xp_colour").select("energy").run()
    (fig,) = figures(at)
    assert fig.data[0].marker.colorscale is not None


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
    assert len(at.info) == 2
    assert all("python scripts/evaluate.py --data-dir" in box.value for box in at.info)
    assert str(reports.parent) not in " ".join(box.value for box in at.info)
    assert not at.get("plotly_chart")
    counts = {m.label: m.value for m in at.metric}
    assert counts["tracks"] == f"{TRACKS:,}"
    assert "synthetic" in at.warning[0].value


def test_report_page_shows_means_one_chart_full_tables_and_a_glossary(reports):
    reports.mkdir(parents=True)
    (reports / "evaluation.json").write_text(json.dumps(EVALUATION))
    (reports / "mood.json").write_text(json.dumps(MOOD))
    at = page("model_report.py")
    means, full = at.dataframe[0].value, at.dataframe[1].value
    assert means.index.tolist() == ["als (tunescout)", "popularity"]
    assert means.columns.tolist() == ["ndcg@10"]  # the seed is not a metric
    assert means.loc["als (tunescout)", "ndcg@10"] == pytest.approx(0.3)
    assert full.loc["als (tunescout)", "ndcg@10"] == "0.3000 ± 0.0100"
    assert any("another index build" in w.value for w in at.warning)
    bars, scores = figures(at)
    assert [list(t.error_y.array) for t in bars.data] == [[0.01], [0.002]]
    assert list(scores.data[0].y) == ["&lt;b&gt;gym&lt;/b&gt;", "rainy heartbreak"]
    summary = next(d.value for d in at.dataframe if "search_mood" in d.value.columns)
    assert summary.loc["features_mean"].tolist() == [0.8, 0.6]
    glossary = next(d.value for d in at.dataframe if "meaning" in d.value.columns)
    lines = dict(zip(glossary["name"], glossary["meaning"], strict=True))
    assert lines["ndcg@10"].startswith("ranking quality") and lines["ndcg@10"].endswith("(top 10)")
    assert "ALS" in lines["als (tunescout)"] and "most played" in lines["popularity"]
    assert "features" in lines["features_mean"] and "MiniLM" in lines["plain MiniLM"]


def test_report_page_names_a_broken_report(reports):
    reports.mkdir(parents=True)
    (reports / "evaluation.json").write_text("{not json")
    at = page("model_report.py")
    assert "evaluation.json cannot be read" in at.error[0].value
