"""Data splits for offline evaluation: per-user random and chronological holdouts, validation
carved from training, and cold-start (survey) users held out entirely."""

from __future__ import annotations

import numpy as np
import pandas as pd

from tunescout.errors import InputError
from tunescout.research.columns import ITEM, TIMESTAMP, USER


def _check_columns(df: pd.DataFrame, *cols: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise InputError(f"frame lacks column(s) {missing}; it has {list(df.columns)}")


def random_split(
    df: pd.DataFrame,
    test_frac: float = 0.2,
    seed: int = 0,
    col_user: str = USER,
    col_item: str = ITEM,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user random holdout: each user puts ``round(test_frac * n)`` of their n items in test.

    Every user with at least two items sends at least one to test and keeps at least one in
    training; users with a single item stay entirely in training. This is the "per-user random
    holdout" of Steck (2019, EASE) and Liang et al. (2018, Mult-VAE).

    Args:
        df: Interactions, one row per (user, item).
        test_frac: Fraction of each user's items held out, in (0, 1).
        seed: Seed of the random generator; the same seed gives the same split.
        col_user: User column.
        col_item: Item column.

    Returns:
        ``(train, test)``, disjoint, whose union is ``df``; both keep ``df``'s columns.

    Raises:
        InputError: ``test_frac`` is outside (0, 1) or a column is missing.
    """
    if not 0 < test_frac < 1:
        raise InputError(f"test_frac must lie in (0, 1), got {test_frac}")
    _check_columns(df, col_user, col_item)
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(df))
    shuffled = df.iloc[order]
    position = shuffled.groupby(col_user, sort=False).cumcount().to_numpy()
    size = shuffled.groupby(col_user, sort=False)[col_item].transform("size").to_numpy()
    n_test = np.where(size >= 2, np.clip(np.rint(size * test_frac), 1, size - 1), 0)
    is_test = np.zeros(len(df), dtype=bool)
    is_test[order] = position < n_test
    return df[~is_test], df[is_test]


def validation_split(
    train: pd.DataFrame,
    val_frac: float = 0.2,
    seed: int = 0,
    col_user: str = USER,
    col_item: str = ITEM,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Carve a validation holdout out of a training frame, for tuning without touching test.

    The same per-user random holdout as :func:`random_split`, with a generator derived from
    ``seed`` so that the validation rows differ from the test rows drawn with that seed.

    Returns:
        ``(fit, validation)``: fit on the first, choose hyper-parameters on the second.
    """
    return random_split(train, val_frac, seed + 10_007, col_user, col_item)


def cold_start_split(
    df: pd.DataFrame,
    n_survey: int = 10,
    test_user_frac: float = 0.2,
    seed: int = 0,
    col_user: str = USER,
    col_item: str = ITEM,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Simulate new users who rate ``n_survey`` items in a survey (strong generalisation).

    A random ``test_user_frac`` of the users with more than ``n_survey`` items become test users;
    each keeps exactly ``n_survey`` random items as survey answers and the rest become truth. The
    model is fitted without any of their rows (Marlin 2004, "strong generalisation"; Liang et al.
    2018 use the same fold-in protocol for held-out users).

    Args:
        df: Interactions.
        n_survey: Items each test user reveals (e.g. 5, 10 or 20).
        test_user_frac: Fraction of eligible users held out.
        seed: Random seed.
        col_user: User column.
        col_item: Item column.

    Returns:
        ``(train, survey, truth)``: rows of the other users, the test users' survey rows, and
        their remaining rows.

    Raises:
        InputError: ``n_survey < 1``, ``test_user_frac`` outside (0, 1) or no user is eligible.
    """
    if n_survey < 1 or not 0 < test_user_frac < 1:
        raise InputError(
            f"need n_survey >= 1 and 0 < test_user_frac < 1, got {n_survey}, {test_user_frac}"
        )
    _check_columns(df, col_user, col_item)
    rng = np.random.default_rng(seed)
    sizes = df.groupby(col_user)[col_item].size()
    eligible = sizes.index[sizes > n_survey].to_numpy()
    if len(eligible) == 0:
        raise InputError(f"no user has more than n_survey={n_survey} items")
    n_test = max(1, int(round(len(eligible) * test_user_frac)))
    test_users = rng.choice(eligible, size=n_test, replace=False)
    in_test = df[col_user].isin(test_users).to_numpy()
    held = df[in_test].iloc[rng.permutation(int(in_test.sum()))]
    is_survey = held.groupby(col_user, sort=False).cumcount().to_numpy() < n_survey
    survey, truth = held[is_survey], held[~is_survey]
    return df[~in_test], survey.sort_index(), truth.sort_index()


def time_split(
    df: pd.DataFrame,
    test_frac: float = 0.2,
    col_user: str = USER,
    col_item: str = ITEM,
    col_timestamp: str = TIMESTAMP,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user chronological holdout: each user's latest ``round(test_frac * n)`` items are test.

    Like :func:`random_split` but ordered by time instead of at random, so the model predicts
    each user's future from their past (the "leave-last-out" family, e.g. Kang & McAuley 2018).
    Ties in time are broken by the frame's row order. Rows without a timestamp stay in training.

    Raises:
        InputError: the timestamp column is missing or entirely empty.
    """
    _check_columns(df, col_user, col_item, col_timestamp)
    if df[col_timestamp].isna().all():
        raise InputError(f"column {col_timestamp!r} holds no timestamps; use random_split")
    dated = df[df[col_timestamp].notna()].sort_values(col_timestamp, kind="stable")
    from_end = dated.groupby(col_user, sort=False).cumcount(ascending=False).to_numpy()
    size = dated.groupby(col_user, sort=False)[col_item].transform("size").to_numpy()
    n_test = np.where(size >= 2, np.clip(np.rint(size * test_frac), 1, size - 1), 0)
    test_index = dated.index[from_end < n_test]
    is_test = df.index.isin(test_index)
    return df[~is_test], df[is_test]


SURVEY_SIZES = (5, 10, 20)
VALIDATION_OFFSET = 10_007  # as validation_split: validation seeds never equal test seeds


def stars_from_plays(
    df: pd.DataFrame, col_user: str = USER, col_weight: str = "weight"
) -> pd.Series:
    """1–5 stars per row from the listener's OWN play counts: quintiles of their plays.

    ``stars = ceil(5 · pct)`` with ``pct`` the row's average rank among the listener's artists by
    plays divided by their number of artists: with 50 artists, the 10 most played get 5 stars …
    the 10 least played 1 star (ties share a star). Low stars here are artists the listener does
    play, just least: the protocol holds no true dislike.
    """
    pct = df.groupby(col_user)[col_weight].rank(method="average", pct=True)
    return pd.Series(np.clip(np.ceil(5 * pct - 1e-9), 1, 5).astype(int), index=df.index)


def survey_split(
    df: pd.DataFrame,
    n_survey: int,
    seed: int,
    test_user_frac: float = 0.2,
    min_items: int = max(SURVEY_SIZES) + 1,
    col_user: str = USER,
    col_item: str = ITEM,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """New listeners who answer the survey with stars from their own plays (strong generalisation).

    Listeners with at least ``min_items`` artists are eligible (21 by default, more than the
    largest survey, so that for one seed the test listeners are the same at 5, 10 and 20 ratings
    and the reveals are nested). ``test_user_frac`` of them are drawn with
    ``default_rng(seed)`` and leave the training data entirely; each one's artists are shuffled
    (same generator) and the first ``n_survey`` are revealed with :func:`stars_from_plays` stars;
    the rest are the truth.

    Returns:
        ``(train, survey, truth)``: the other listeners' rows; the revealed rows with a ``stars``
        column; the remaining rows.
    """
    if n_survey >= min_items:
        raise InputError(f"n_survey={n_survey} needs min_items > n_survey, got {min_items}")
    _check_columns(df, col_user, col_item)
    df = df.assign(stars=stars_from_plays(df, col_user))
    rng = np.random.default_rng(seed)
    sizes = df.groupby(col_user, observed=True)[col_item].size()
    eligible = np.sort(sizes.index[sizes >= min_items].astype(str).to_numpy())
    if not len(eligible):
        raise InputError(f"no user has at least min_items={min_items} items")
    n_test = max(1, int(round(len(eligible) * test_user_frac)))
    users = np.sort(rng.choice(eligible, size=n_test, replace=False))
    in_test = df[col_user].astype(str).isin(users).to_numpy()
    held = df[in_test].iloc[rng.permutation(int(in_test.sum()))]
    position = held.groupby(col_user, sort=False, observed=True).cumcount().to_numpy()
    survey = held[position < n_survey].sort_values([col_user, col_item])
    truth = held[position >= n_survey].sort_values([col_user, col_item]).drop(columns="stars")
    return df[~in_test].drop(columns="stars"), survey, truth


def survey_validation(
    df: pd.DataFrame, n_survey: int, seed: int, **kwargs
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The validation split of a survey seed: :func:`survey_split` on the TRAINING listeners of
    ``survey_split(df, n_survey, seed)`` only, with seed ``seed + 10007`` (test listeners appear
    neither as training nor as validation listeners)."""
    train, _, _ = survey_split(df, n_survey, seed, **kwargs)
    return survey_split(train, n_survey, seed + VALIDATION_OFFSET, **kwargs)
