"""The survey protocol's split and stars, and the evaluation harness's metrics, on small frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunescout.research import metrics, recsys, splits


def plays(n_users: int = 40, n_items: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for a in rng.choice(n_items, size=int(rng.integers(22, 40)), replace=False):
            rows.append((f"u{u}", f"a{a}", float(rng.integers(1, 500))))
    return pd.DataFrame(rows, columns=["user_id", "artist_id", "weight"])


def test_stars_are_quintiles_of_the_listeners_own_plays() -> None:
    frame = pd.DataFrame({"user_id": ["u"] * 10, "weight": np.arange(1, 11, dtype=float)})
    assert splits.stars_from_plays(frame).tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]


def test_survey_listeners_leave_training_and_reveals_nest() -> None:
    df = plays()
    found = {n: splits.survey_split(df, n, seed=3) for n in splits.SURVEY_SIZES}
    train, survey, truth = found[10]
    users = set(survey["user_id"])
    assert len(users) == round(0.2 * df["user_id"].nunique())
    assert not users & set(train["user_id"])
    assert survey.groupby("user_id").size().eq(10).all()
    assert survey["stars"].between(1, 5).all()
    pairs = lambda f: set(zip(f["user_id"], f["artist_id"], strict=True))  # noqa: E731
    assert not pairs(survey) & pairs(truth)
    assert pairs(found[5][1]) <= pairs(survey)  # the same listeners, nested reveals
    val_train, val_survey, _ = splits.survey_validation(df, 10, seed=3)
    assert not set(val_survey["user_id"]) & users  # validation listeners come from training
    assert set(val_train["user_id"]) < set(train["user_id"])


def test_harness_metrics_match_the_metrics_module() -> None:
    rng = np.random.default_rng(1)
    users = [f"u{i}" for i in range(30)]
    truth = pd.DataFrame(
        [(u, f"a{a}") for u in users for a in rng.choice(50, 8, replace=False)],
        columns=["user_id", "artist_id"],
    )
    lists = [[f"a{a}" for a in rng.choice(50, 20, replace=False)] for _ in users]
    recs = pd.DataFrame(
        [
            (u, a, 20.0 - r)
            for u, found in zip(users, lists, strict=True)
            for r, a in enumerate(found)
        ],
        columns=["user_id", "artist_id", "score"],
    )
    got = recsys.metrics_of(lists, users, truth)
    assert got["ndcg@10"] == pytest.approx(metrics.ndcg_at_k(truth, recs, 10))
    assert got["recall@20"] == pytest.approx(metrics.recall_at_k(truth, recs, 20))
    assert got["hr@10"] == pytest.approx(metrics.hit_rate_at_k(truth, recs, 10))
