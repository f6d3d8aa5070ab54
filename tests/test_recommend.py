"""Fusion, weighting, MMR and reason sentences: pure functions on tiny inputs with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunescout.errors import InputError
from tunescout.serving import explain
from tunescout.serving import ranking as rank


def test_stars_become_positive_fold_in_weights_and_low_stars_are_dislikes() -> None:
    assert rank.confidences({"a": 5, "b": 1, "c": 3}) == {"a": 1.5, "b": 0.5, "c": 1.0}
    assert rank.disliked(rank.stars({"a": 5, "b": 1, "c": 3, "d": 2})) == ["b", "d"]


@pytest.mark.parametrize("bad", [0, 6, 2.5, "5", None, True, float("nan")])
def test_out_of_range_stars_are_refused(bad: object) -> None:
    with pytest.raises(InputError, match="1–5 stars"):
        rank.confidences({"a": bad})


def test_weights_follow_the_ratings_and_the_mood() -> None:
    names = ("audio", "als", "semantic", "coplay", "tags", "popularity")
    cold = rank.adaptive_weights(0, has_mood=False, known=names)
    assert cold["popularity"] == 1 and sum(cold.values()) == pytest.approx(1.0)
    mood_only = rank.adaptive_weights(0, has_mood=True, known=names)
    assert mood_only["semantic"] > 0 and mood_only["coplay"] == mood_only["als"] == 0
    rated = rank.adaptive_weights(10, has_mood=False, known=names)
    assert rated["coplay"] > 0 and rated["audio"] == 0
    mooded = rank.adaptive_weights(10, has_mood=True, known=names)
    assert mooded["audio"] > 0 and mooded["semantic"] > 0
    for w in (cold, mood_only, rated, mooded):
        assert sum(w.values()) == pytest.approx(1.0)


def test_weight_overrides_replace_and_renormalise() -> None:
    names = ("audio", "als", "semantic", "coplay", "tags", "popularity")
    w = rank.adaptive_weights(10, False, {"audio": 1.0, "coplay": 0.0}, known=names)
    assert w["coplay"] == 0 and w["audio"] / w["als"] == pytest.approx(
        1.0 / rank.WEIGHTS["survey"]["als"]
    )
    with pytest.raises(InputError, match="unknown model weights"):
        rank.adaptive_weights(1, False, {"magic": 1.0}, known=names)
    with pytest.raises(InputError, match="non-negative"):
        rank.adaptive_weights(1, False, {"als": -1.0}, known=names)
    with pytest.raises(InputError, match="at least one"):
        rank.adaptive_weights(0, False, {"popularity": 0.0}, known=names)


def test_standard_fusion_sums_weighted_z_scores_and_fills_what_a_model_lacks() -> None:
    table = pd.DataFrame(
        {"als": [2.0, 0.0, np.nan], "tags": [0.0, 1.0, 3.0]}, index=["x", "y", "z"]
    )
    fused = rank.standard_fusion(table, {"als": 0.5, "tags": 0.5}, unknown=-1.0)
    assert fused.to_dict() == pytest.approx({"x": 1.0, "y": 0.5, "z": 1.0})
    floors = rank.standard_fusion(table, {"als": 0.5, "tags": 0.5}, unknown={"als": -5.0})
    assert floors["z"] == pytest.approx(-1.0)
    mean, std, floor = rank.standard(np.array([1.0, 2.0, 3.0, np.nan]))
    assert (mean, std) == pytest.approx((2.0, np.sqrt(2 / 3))) and floor < -1


def test_the_dislike_penalty_spares_what_is_as_close_to_a_liked_artist() -> None:
    penalty = rank.dislike_penalty(np.array([0.9, 0.9, 0.3]), np.array([0.0, 0.8, 0.0]), 0.2, 10)
    np.testing.assert_allclose(penalty, [7.0, 0.0, 1.0])


def test_normalize_maps_to_unit_range_and_unknown_to_zero() -> None:
    np.testing.assert_allclose(rank.minmax(np.array([2.0, 4.0, np.nan, 3.0])), [0.0, 1.0, 0.0, 0.5])
    np.testing.assert_allclose(rank.minmax(np.array([7.0, 7.0])), [1.0, 1.0])


def test_weighted_fusion_and_rrf_on_a_known_table() -> None:
    table = pd.DataFrame({"als": [3.0, 2.0, 1.0], "audio": [0.0, 1.0, 0.5]}, index=["x", "y", "z"])
    fused = rank.weighted_fusion(table, {"als": 0.5, "audio": 0.5})
    assert fused.to_dict() == pytest.approx({"x": 0.5, "y": 0.75, "z": 0.25})
    rrf = rank.rrf_fusion(table, {"als": 1.0, "audio": 1.0}, k=60)
    assert rrf["y"] == pytest.approx(1 / 62 + 1 / 61)
    assert rrf.idxmax() == "y"


def test_mmr_trades_relevance_for_variety() -> None:
    relevance = pd.Series([1.0, 0.99, 0.5], index=["a", "a_twin", "far"])
    vectors = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    assert rank.mmr(relevance, vectors, 2, diversity=0.0) == ["a", "a_twin"]
    assert rank.mmr(relevance, vectors, 2, diversity=0.5) == ["a", "far"]
    with pytest.raises(InputError, match="diversity"):
        rank.mmr(relevance, vectors, 2, diversity=1.5)


def test_reasons_read_like_sentences() -> None:
    assert explain.sentence(["Radiohead", "Portishead"], "rainy") == (
        "because you liked Radiohead and Portishead; matches 'rainy'"
    )
    assert explain.sentence(["A", "B", "C"]) == "because you liked A, B and C"
    assert explain.sentence([], genres=["jazz"], popular=True) == "popular in jazz"
