"""Fusion, weighting, MMR and reason sentences: pure functions on tiny inputs with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunescout.errors import InputError
from tunescout.serving import explain
from tunescout.serving import ranking as rank


def test_stars_become_signed_confidence() -> None:
    assert rank.confidences({"a": 5, "b": 1, "c": 3}) == {"a": 2.0, "b": -1.0, "c": 0.25}


@pytest.mark.parametrize("bad", [0, 6, 2.5, "5", None, True, float("nan")])
def test_out_of_range_stars_are_refused(bad: object) -> None:
    with pytest.raises(InputError, match="1–5 stars"):
        rank.confidences({"a": bad})


def test_weights_adapt_to_how_much_was_rated() -> None:
    none = rank.adaptive_weights(0, has_mood=True)
    few = rank.adaptive_weights(2, has_mood=False)
    many = rank.adaptive_weights(10, has_mood=False)
    assert none["als"] == none["audio"] == 0 and none["semantic"] > 0
    assert rank.adaptive_weights(0, has_mood=False) == {
        "als": 0,
        "audio": 0,
        "semantic": 0,
        "popularity": 1,
    }
    assert few["audio"] == max(few.values())
    assert many["als"] == max(many.values())
    for w in (none, few, many):
        assert sum(w.values()) == pytest.approx(1.0)


def test_weight_overrides_replace_and_renormalise() -> None:
    w = rank.adaptive_weights(10, False, {"als": 0.0, "popularity": 0.0})
    assert w["als"] == 0 and w["popularity"] == 0
    assert w["audio"] / w["semantic"] == pytest.approx(0.2 / 0.15)
    with pytest.raises(InputError, match="unknown model weights"):
        rank.adaptive_weights(1, False, {"magic": 1.0})
    with pytest.raises(InputError, match="non-negative"):
        rank.adaptive_weights(1, False, {"als": -1.0})
    with pytest.raises(InputError, match="at least one"):
        rank.adaptive_weights(0, False, {"popularity": 0.0})


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
