"""The model report's tables and glossary, on literal results."""

from __future__ import annotations

import pytest

from tunescout.ui import report


def test_every_metric_and_model_the_evaluation_writes_has_a_line():
    for metric in ("ndcg@10", "recall@20", "hit_rate@10", "hr@10", "map@10", "mrr@20", "arp@10",
                   "coverage@10", "novelty@10", "pop_percentile@10", "precision@10", "features_mean"):  # fmt: skip
        assert report.explain_metric(metric), metric
    assert report.explain_metric("ndcg@20").endswith("(top 20)")
    assert report.explain_metric("made_up@10") == ""
    for model in ("random", "popularity", "audio", "item_knn", "rp3beta", "ease", "blended_ease",
                  "als (tunescout)", "hybrid (Engine.recommend) n=10", "EASE fold-in n=5",
                  "item-kNN fold-in n=20", "coplay", "tags", "semantic", "plain MiniLM"):  # fmt: skip
        assert report.explain_model(model), model
    assert "new listener" in report.explain_model("EASE fold-in n=5")
    assert "For You" in report.explain_model("hybrid (Engine.recommend) n=20")
    assert report.explain_model("blended_ease") != report.explain_model("ease")


def test_survey_results_by_number_of_ratings_best_last_column_first():
    survey = {
        "popularity n=5": {"ndcg@10": {"mean": 0.05}},
        "popularity n=10": {"ndcg@10": {"mean": 0.06}},
        "hybrid (Engine.recommend) n=5": {"ndcg@10": {"mean": 0.10}},
        "hybrid (Engine.recommend) n=10": {"ndcg@10": {"mean": 0.20, "std": 0.01}},
        "no size": {"ndcg@10": {"mean": 0.9}},
    }
    table = report.by_size(survey)
    assert table.index.tolist() == ["hybrid (Engine.recommend)", "popularity"]
    assert table.columns.tolist() == ["ndcg@10, 5 rated", "ndcg@10, 10 rated"]
    assert table.loc["popularity"].tolist() == pytest.approx([0.05, 0.06])


def test_means_show_the_key_metrics_and_full_every_one_with_its_spread():
    results = {
        "ease": {"ndcg@10": {"mean": 0.2, "std": 0.01}, "mrr@10": {"mean": 0.5, "std": 0.02},
                 "seed": {"mean": 1.0, "std": 0.8}},
        "random": {"ndcg@10": {"mean": 0.001, "std": 0.0}, "mrr@10": 0.01},
    }  # fmt: skip
    assert report.means(results).columns.tolist() == ["ndcg@10"]
    full = report.full(results)
    assert full.columns.tolist() == ["ndcg@10", "mrr@10"]
    assert (
        full.loc["ease", "mrr@10"] == "0.5000 ± 0.0200" and full.loc["random", "mrr@10"] == "0.0100"
    )
    only_other = report.means({"m": {"held": {"mean": 0.5}}})
    assert only_other.columns.tolist() == ["held"]


def test_the_glossary_lists_what_it_knows_once():
    table = report.glossary(["ndcg@10", "ndcg@10", "unknown@3"], ["ease", "mystery"])
    assert table["name"].tolist() == ["ndcg@10", "ease"]
