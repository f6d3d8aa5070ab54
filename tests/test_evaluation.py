"""Metrics on tiny literal cases with hand-computed answers, and the splits' guarantees."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from tunescout.errors import InputError
from tunescout.research import metrics as ev
from tunescout.research import protocol, splits

# User "a" has truth {x, y, z}; its ranking is x (hit), p, y (hit), q. User "b" has truth {w};
# its ranking is p, q, r, w (hit at 4). User "c" has truth but no recommendations at all.
TRUTH = pd.DataFrame(
    {
        "user_id": ["a", "a", "a", "b", "c"],
        "artist_id": ["x", "y", "z", "w", "x"],
    }
)
PRED = pd.DataFrame(
    {
        "user_id": ["a"] * 4 + ["b"] * 4,
        "artist_id": ["x", "p", "y", "q", "p", "q", "r", "w"],
        "score": [4.0, 3.0, 2.0, 1.0, 4.0, 3.0, 2.0, 1.0],
    }
)


def log2(n: float) -> float:
    return math.log2(n)


def test_precision_and_recall_at_k():
    # a: 2 hits in top 3; b: 0 hits in top 3; c: nothing.
    assert ev.precision_at_k(TRUTH, PRED, k=3) == pytest.approx((2 / 3) / 3)
    assert ev.recall_at_k(TRUTH, PRED, k=3) == pytest.approx((2 / 3) / 3)
    # at k=4, b's hit enters: recall a=2/3, b=1, c=0.
    assert ev.recall_at_k(TRUTH, PRED, k=4) == pytest.approx((2 / 3 + 1) / 3)


def test_ndcg_of_known_ranking():
    dcg_a = 1 / log2(2) + 1 / log2(4)
    idcg_a = 1 / log2(2) + 1 / log2(3) + 1 / log2(4)  # min(k=4, |truth|=3) ideal hits
    ndcg_b = (1 / log2(5)) / 1.0  # one truth item, ideal at rank 1
    assert ev.ndcg_at_k(TRUTH, PRED, k=4) == pytest.approx((dcg_a / idcg_a + ndcg_b) / 3)
    perfect = TRUTH.assign(score=1.0)
    assert ev.ndcg_at_k(TRUTH, perfect, k=10) == pytest.approx(1.0)


def test_map_mrr_and_hit_rate():
    # AP@4 of a: (1/1 + 2/3) / min(4, 3); of b: (1/4) / 1.
    assert ev.map_at_k(TRUTH, PRED, k=4) == pytest.approx(((1 + 2 / 3) / 3 + 1 / 4) / 3)
    assert ev.mrr_at_k(TRUTH, PRED, k=4) == pytest.approx((1 + 1 / 4) / 3)
    assert ev.mrr_at_k(TRUTH, PRED, k=3) == pytest.approx(1 / 3)
    assert ev.hit_rate_at_k(TRUTH, PRED, k=4) == pytest.approx(2 / 3)


def test_metrics_reject_k_below_one():
    with pytest.raises(InputError):
        ev.ndcg_at_k(TRUTH, PRED, k=0)


def test_coverage_novelty_and_popularity_bias():
    train = pd.DataFrame(
        {
            "user_id": ["u1", "u2", "u3", "u4", "u1", "u2"],
            "artist_id": ["p", "p", "p", "p", "q", "r"],
        }
    )
    # top 2: a -> {x, p}, b -> {p, q}: distinct {x, p, q} of a 4-item catalog.
    assert ev.catalog_coverage(PRED, ["p", "q", "r", "x"], k=2) == pytest.approx(3 / 4)
    # p(p)=4/4, p(q)=1/4, x unseen -> floor 1/4: self-information 0, 2, 2, plus p again 0.
    assert ev.novelty(PRED, train, k=2) == pytest.approx((2 + 0 + 0 + 2) / 4)
    bias = ev.popularity_bias(PRED, train, k=2)
    # ARP: a -> (0 [x unseen] + 1) / 2, b -> (1 + 0.25) / 2.
    assert bias["arp"] == pytest.approx((0.5 + 0.625) / 2)
    # percentiles among p (1.0), q and r (tied, 0.5): a -> (0 + 1) / 2, b -> (1 + 0.5) / 2.
    assert bias["pop_percentile"] == pytest.approx((0.5 + 0.75) / 2)


def test_intra_list_diversity():
    vectors = pd.DataFrame([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]], index=["x", "p", "y"])
    # a's top 3 is x, p, y: pairwise distances 1 (x,p), 0 (x,y), 1 (p,y); b has one vector.
    assert ev.intra_list_diversity(PRED, vectors, k=3) == pytest.approx(2 / 3)


@pytest.fixture
def interactions() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    rows = [(f"u{u}", f"i{i}") for u in range(60) for i in rng.choice(40, 1 + u % 12, False)]
    frame = pd.DataFrame(rows, columns=["user_id", "artist_id"])
    return frame.assign(
        weight=1.0,
        timestamp=pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(frame)), unit="h"),
    )


def _pairs(frame: pd.DataFrame) -> set[tuple[str, str]]:
    return set(zip(frame["user_id"], frame["artist_id"], strict=True))


def test_random_split_is_disjoint_complete_and_seeded(interactions):
    train, test = splits.random_split(interactions, 0.2, seed=3)
    assert not _pairs(train) & _pairs(test)
    assert len(train) + len(test) == len(interactions)
    assert set(train["user_id"]) == set(interactions["user_id"])  # nobody loses every item
    sizes = interactions.groupby("user_id").size()
    singles = sizes.index[sizes == 1]
    assert not test["user_id"].isin(singles).any()
    assert set(test["user_id"]) == set(sizes.index[sizes >= 2])
    again, _ = splits.random_split(interactions, 0.2, seed=3)
    other, _ = splits.random_split(interactions, 0.2, seed=4)
    assert _pairs(again) == _pairs(train) and _pairs(other) != _pairs(train)
    n_test = test.groupby("user_id").size()
    expected = np.clip(np.rint(sizes[n_test.index] * 0.2), 1, sizes[n_test.index] - 1)
    assert (n_test == expected).all()


def test_validation_split_differs_from_test_draw(interactions):
    _, test = splits.random_split(interactions, 0.2, seed=0)
    fit, val = splits.validation_split(interactions, 0.2, seed=0)
    assert not _pairs(fit) & _pairs(val)
    assert _pairs(val) != _pairs(test)


@pytest.mark.parametrize("n", [5, 10])
def test_cold_start_keeps_exactly_n(interactions, n):
    train, survey, truth = splits.cold_start_split(interactions, n_survey=n, seed=1)
    assert (survey.groupby("user_id").size() == n).all()
    assert set(survey["user_id"]) == set(truth["user_id"])
    assert not set(train["user_id"]) & set(survey["user_id"])
    assert len(train) + len(survey) + len(truth) == len(interactions)
    assert not _pairs(survey) & _pairs(truth)


def test_cold_start_without_eligible_users_raises(interactions):
    with pytest.raises(InputError):
        splits.cold_start_split(interactions, n_survey=50)


def test_time_split_holds_out_each_users_latest(interactions):
    train, test = splits.time_split(interactions, 0.2)
    assert not _pairs(train) & _pairs(test)
    latest_train = train.groupby("user_id")["timestamp"].max()
    earliest_test = test.groupby("user_id")["timestamp"].min()
    assert (latest_train[earliest_test.index] < earliest_test).all()


def test_evaluate_drops_leaked_training_items_and_aggregates(tmp_path):
    train = pd.DataFrame({"user_id": ["a", "a"], "artist_id": ["p", "x"]})

    def recommend(users: np.ndarray, k: int) -> pd.DataFrame:
        # "x" is a training item of a: evaluate must drop it, so y becomes rank 1.
        return pd.DataFrame({"user_id": ["a", "a"], "artist_id": ["x", "y"], "score": [2.0, 1.0]})

    metrics = protocol.evaluate(recommend, train, TRUTH[TRUTH.user_id == "a"], k_values=(1,))
    assert metrics["precision@1"] == pytest.approx(1.0)
    assert metrics["n_users"] == 1.0
    summary = protocol.aggregate([{"m": 1.0}, {"m": 3.0}])
    assert summary["m"] == {"mean": 2.0, "std": 1.0}
    path = protocol.save_results({"summary": summary}, tmp_path / "out" / "r.json")
    assert '"mean": 2.0' in path.read_text()
