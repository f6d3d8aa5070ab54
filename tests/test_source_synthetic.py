"""Tests for the synthetic catalog: schema, determinism, references and realism."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunescout import catalog
from tunescout.catalog.snapshots import RAW_TABLES
from tunescout.collect.sources import synthetic
from tunescout.domain import genres as priors
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.domain.moods import DESCRIPTORS, margins
from tunescout.errors import InputError


@pytest.fixture(scope="module")
def bundle():
    return synthetic.generate(n_tracks=8_000, n_users=800, seed=11)


@pytest.fixture(scope="module")
def broad(bundle) -> pd.Series:
    """Each artist's primary broad genre (the first genre of its list), by artist id."""
    first = bundle.artists["genres"].map(lambda g: priors.broad_genre(g[0]))
    return pd.Series(first.to_numpy(), index=bundle.artists["artist_id"])


def _tagged(artists: pd.DataFrame, tag: str) -> pd.DataFrame:
    has = artists["tags"].map(lambda tags: any(t["tag"] == tag for t in tags))
    return artists[has.astype(bool)]


def test_frames_pass_validation_with_schema_types(bundle):
    assert bundle.source == "synthetic"
    for name in RAW_TABLES:
        frame = getattr(bundle, name)
        assert len(frame) > 0
        pd.testing.assert_frame_equal(catalog.validate(name, frame), frame)
        assert set(frame["source"]) == {"synthetic"}
    assert set(bundle.tracks["features_source"]) == {"synthetic"}
    assert set(bundle.artists["features_source"]) == {"synthetic"}
    assert bundle.notes and bundle.notes[0].startswith("synthetic data:")
    assert bundle.params == {"n_tracks": 8_000, "n_users": 800, "n_artists": 1_000, "seed": 11}


def test_same_seed_gives_identical_frames_and_other_seed_differs():
    first = synthetic.generate(n_tracks=1_500, n_users=100, seed=3)
    again = synthetic.generate(n_tracks=1_500, n_users=100, seed=3)
    other = synthetic.generate(n_tracks=1_500, n_users=100, seed=4)
    for name in RAW_TABLES:
        pd.testing.assert_frame_equal(getattr(first, name), getattr(again, name))
    assert not np.allclose(first.tracks["energy"], other.tracks["energy"])
    assert (first.artists["name"] != other.artists["name"]).mean() > 0.9
    assert not first.interactions["weight"].equals(other.interactions["weight"])


def test_tracks_and_artists_do_not_depend_on_the_number_of_users():
    few = synthetic.generate(n_tracks=1_000, n_users=10, seed=2)
    many = synthetic.generate(n_tracks=1_000, n_users=60, seed=2)
    pd.testing.assert_frame_equal(few.tracks, many.tracks)
    pd.testing.assert_frame_equal(few.artists, many.artists)
    assert few.interactions["user_id"].nunique() == 10
    assert many.interactions["user_id"].nunique() == 60


def test_ids_are_unique_and_well_formed(bundle):
    tracks, artists, plays = bundle.tracks, bundle.artists, bundle.interactions
    assert tracks["track_id"].is_unique and artists["artist_id"].is_unique
    assert tracks["track_id"].str.fullmatch(r"syn-t\d{7}").all()
    assert artists["artist_id"].str.fullmatch(r"syn-a\d{6}").all()
    assert plays["user_id"].str.fullmatch(r"synthetic:\d+").all()
    assert not plays.duplicated(["user_id", "artist_id"]).any()
    assert plays["track_id"].isna().all()


def test_every_reference_resolves_and_track_counts_match(bundle):
    cat = catalog.Catalog(
        tracks=bundle.tracks,
        artists=bundle.artists,
        artist_map=catalog.empty("artist_map"),
        interactions=bundle.interactions,
    )
    catalog.check_references(cat)  # raises CatalogError on any dangling artist or track id
    per_artist = bundle.tracks["artist_id"].value_counts()
    counts = bundle.artists.set_index("artist_id")["track_count"]
    assert counts.sum() == len(bundle.tracks) == 8_000
    pd.testing.assert_series_equal(
        per_artist.reindex(counts.index, fill_value=0), counts, check_names=False, check_dtype=False
    )
    names = bundle.artists.set_index("artist_id")["name"]
    assert (bundle.tracks["artist_name"] == names[bundle.tracks["artist_id"]].to_numpy()).all()


def test_artist_features_are_the_mean_of_their_tracks(bundle):
    means = bundle.tracks.groupby("artist_id")[AUDIO_FEATURES].mean()
    artists = bundle.artists.set_index("artist_id").loc[means.index, AUDIO_FEATURES]
    np.testing.assert_allclose(artists.to_numpy(float), means.to_numpy(float), rtol=1e-5, atol=1e-4)


def test_track_fields_are_in_realistic_ranges(bundle):
    tracks = bundle.tracks
    assert tracks["key"].between(0, 11).all() and set(tracks["mode"]) == {0, 1}
    assert tracks["tempo"].between(40, 220).all()
    assert tracks["loudness"].between(-40, -1).all()
    assert tracks["duration_ms"].between(30_000, 1_200_000).all()
    assert tracks["release_year"].between(1950, synthetic.REFERENCE_TIME.year).all()
    assert tracks["name"].str.len().gt(0).all() and tracks["album"].str.len().gt(0).all()


def test_subgenres_map_back_to_their_broad_genre():
    assert set(synthetic.SUBGENRES) == set(priors.BROAD_GENRES)
    for broad_name, subs in synthetic.SUBGENRES.items():
        assert len(subs) >= 3
        for sub in subs:
            assert priors.broad_genre(sub) == broad_name, sub


def test_genre_lists_look_real(bundle):
    known = {s for subs in synthetic.SUBGENRES.values() for s in subs} | set(priors.BROAD_GENRES)
    lists = bundle.artists["genres"].map(list)
    assert lists.map(lambda g: set(g) <= known).all()
    assert lists.map(len).between(2, 4).all()
    assert lists.map(lambda g: len(set(g)) == len(g)).all()
    assert lists.map(lambda g: " " in g[0] or "-" in g[0]).mean() > 0.5  # mostly "indie rock" style


def test_mean_features_differ_by_genre_as_the_priors_say(bundle, broad):
    genre = broad[bundle.tracks["artist_id"]].to_numpy()
    by_genre = bundle.tracks.assign(genre=genre).groupby("genre")[AUDIO_FEATURES].mean()
    quiet = by_genre.loc[["classical", "ambient"]].mean()
    loud = by_genre.loc[["metal", "edm"]].mean()
    assert quiet["acousticness"] - loud["acousticness"] > 0.5
    assert loud["energy"] - quiet["energy"] > 0.5
    assert loud["loudness"] - quiet["loudness"] > 8
    assert quiet["instrumentalness"] > loud["instrumentalness"] + 0.3
    prior = pd.DataFrame(
        [priors.prior(g)[0] for g in by_genre.index],
        index=by_genre.index,
        columns=AUDIO_FEATURES,
    )
    for feature in ("energy", "acousticness", "valence", "danceability"):
        assert np.corrcoef(by_genre[feature], prior[feature])[0, 1] > 0.85, feature


def test_popularity_and_plays_are_long_tailed(bundle):
    artists = bundle.artists.set_index("artist_id")
    plays = bundle.interactions.groupby("artist_id")["weight"].sum()
    plays = plays.reindex(artists.index, fill_value=0).sort_values(ascending=False)
    top = max(1, len(plays) // 100)
    assert plays.iloc[:top].sum() / plays.sum() > 0.25
    assert plays.median() < plays.mean() / 3
    assert artists["listeners"].max() > 100 * artists["listeners"].median()
    rank = artists[["listeners", "track_count"]].rank()
    assert rank.corr().iloc[0, 1] > 0.3  # popular artists release more
    assert (bundle.interactions["weight"] >= 1).all()


def test_users_play_10_to_100_artists_mostly_in_their_genres(bundle, broad):
    plays = bundle.interactions
    per_user = plays.groupby("user_id").size()
    assert per_user.between(10, 100).all() and per_user.nunique() > 20
    genre = broad[plays["artist_id"]].to_numpy()

    def commonest_genre_share(users: np.ndarray) -> float:
        frame = pd.DataFrame({"user": users, "genre": genre})
        share = frame.groupby("user")["genre"].agg(lambda g: g.value_counts(normalize=True).iloc[0])
        return float(share.median())

    # Against the same plays dealt to random users, taste concentrates a user's genres.
    shuffled = np.random.default_rng(0).permutation(plays["user_id"].to_numpy())
    assert commonest_genre_share(plays["user_id"].to_numpy()) > 1.5 * commonest_genre_share(
        shuffled
    )


def test_timestamps_fall_in_the_last_two_years(bundle):
    stamps = bundle.interactions["timestamp"]
    end = synthetic.REFERENCE_TIME
    assert stamps.le(end).all()
    assert stamps.ge(end - pd.Timedelta(days=synthetic.HISTORY_DAYS)).all()


def test_mood_tags_follow_the_artists_features(bundle):
    artists = bundle.artists
    sad, happy = _tagged(artists, "sad"), _tagged(artists, "happy")
    calm, energetic = _tagged(artists, "calm"), _tagged(artists, "energetic")
    for group in (sad, happy, calm, energetic):
        assert len(group) >= 10
    assert happy["valence"].mean() - sad["valence"].mean() > 0.3
    assert energetic["energy"].mean() - calm["energy"].mean() > 0.3
    # Every mood tag is earned: its artist meets the descriptor the word comes from.
    for rule in DESCRIPTORS:
        tagged = _tagged(artists, rule.words[0])
        columns = {f: tagged[f].to_numpy(dtype=float) for f in AUDIO_FEATURES}
        assert (margins(rule, columns) > 0).all(), rule.words


def test_tags_start_with_the_genres_and_are_sorted_by_weight(bundle):
    for genres, tags in zip(bundle.artists["genres"], bundle.artists["tags"], strict=True):
        weights = [t["weight"] for t in tags]
        assert tags[0]["tag"] == genres[0]
        assert weights == sorted(weights, reverse=True)
        assert all(0 < w <= 100 for w in weights)
        assert len({t["tag"] for t in tags}) == len(tags)


def test_artist_names_look_like_a_real_catalog(bundle):
    names = bundle.artists["name"]
    assert names.str.len().gt(1).all()
    assert names.str.startswith("The ").mean() > 0.05
    assert names.str.contains(" & the ").any()
    assert names.map(lambda s: not s.isascii()).any()
    duplicated = names.duplicated(keep=False).mean()
    assert 0 < duplicated < 0.03


def test_more_artists_than_tracks_leaves_some_without_tracks():
    small = synthetic.generate(n_tracks=50, n_users=5, n_artists=200, seed=1)
    artists = small.artists
    empty = artists["track_count"] == 0
    assert empty.sum() == 150
    assert artists.loc[empty, "energy"].isna().all()
    assert artists.loc[empty, "features_source"].isna().all()
    assert artists.loc[~empty, "energy"].notna().all()
    for name in RAW_TABLES:
        catalog.validate(name, getattr(small, name))


def test_no_users_gives_no_interactions():
    assert synthetic.generate(n_tracks=100, n_users=0).interactions.empty


@pytest.mark.parametrize("sizes", [(0, 10, None), (10, -1, None), (10, 10, 0)])
def test_bad_sizes_raise_input_error(sizes):
    n_tracks, n_users, n_artists = sizes
    with pytest.raises(InputError, match="synthetic catalog needs"):
        synthetic.generate(n_tracks=n_tracks, n_users=n_users, n_artists=n_artists)


def test_scale_100k_tracks():
    big = synthetic.generate(n_tracks=100_000, n_users=5_000, seed=5)
    assert len(big.tracks) == 100_000 and len(big.artists) == 12_500
    assert 10 * 5_000 <= len(big.interactions) <= 100 * 5_000
    for name in RAW_TABLES:
        catalog.to_arrow(name, getattr(big, name))


@pytest.mark.slow
def test_scale_1m_tracks():
    huge = synthetic.generate(n_tracks=1_000_000, n_users=100_000, seed=6)
    assert len(huge.tracks) == 1_000_000 and huge.tracks["track_id"].is_unique
    assert 10 * 100_000 <= len(huge.interactions) <= 100 * 100_000
    for name in RAW_TABLES:
        catalog.to_arrow(name, getattr(huge, name))
