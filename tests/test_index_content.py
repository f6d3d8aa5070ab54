"""The audio-feature index on a hand-built catalog whose nearest neighbours are known.

What every index promises (ids, masks, profiles, scores, round trips) is checked once for all
models in tests/contracts/test_index_contract.py; these are the audio model's own tests: the
feature transform and its weights, artist vectors, and the FAISS methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tunescout import catalog
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.errors import ArtifactError, CatalogError, InputError
from tunescout.indexes.content import (
    INPUT_COLUMNS,
    OUTPUT_COLUMNS,
    ContentIndex,
    make_transform,
)
from tunescout.indexes.vectors import normalize
from tunescout.serving.filters import Filters, FilterTable

FEATURES = ["danceability", "energy", "valence", "acousticness", "instrumentalness", "speechiness"]
FEATURES += ["liveness", "tempo", "loudness", "key", "mode"]
# Three acoustic slow tracks by "folk" and three loud dance tracks by "edm". a2 is a1 played 28 BPM
# faster and 5 dB louder; a3 is as slow and quiet as a1 but instrumental: a1's nearest is a2.
TRACKS = {
    "a1": ("folk", (0.40, 0.20, 0.30, 0.92, 0.05, 0.04, 0.10, 72.0, -14.0, 0, 1)),
    "a2": ("folk", (0.42, 0.22, 0.32, 0.90, 0.05, 0.04, 0.11, 100.0, -9.0, 7, 1)),
    "a3": ("folk", (0.30, 0.10, 0.20, 0.97, 0.60, 0.03, 0.09, 60.0, -20.0, 2, 0)),
    "d1": ("edm", (0.80, 0.90, 0.70, 0.03, 0.30, 0.06, 0.20, 124.0, -4.0, 5, 1)),
    "d2": ("edm", (0.82, 0.92, 0.72, 0.02, 0.25, 0.05, 0.22, 126.0, -3.5, 5, 0)),
    "d3": ("edm", (0.70, 0.95, 0.50, 0.01, 0.80, 0.05, 0.30, 128.0, -3.0, 9, 1)),
    "s1": ("solo", (0.60, 0.60, 0.90, 0.40, 0.00, 0.30, 0.70, 100.0, -8.0, 4, 1)),
}
ACOUSTIC, DANCE = {"a1", "a2", "a3"}, {"d1", "d2", "d3"}


def _features(track_ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame([TRACKS[t][1] for t in track_ids], columns=FEATURES)


def _artist(artist_id: str, features: dict | None = None, track_count: int = 0) -> dict:
    row = {c.name: None for c in catalog.SCHEMAS["artists"]}
    row |= {"artist_id": artist_id, "name": artist_id.title(), "genres": [], "source": "test"}
    row |= {"track_count": track_count} | (features or {})
    if features:
        row["features_source"] = "estimated"
    return row


def make_catalog() -> catalog.Catalog:
    """Tracks above; artists: folk, edm, solo (one track), ambient (features only: the mean of
    folk's tracks, no tracks of its own) and nobody (neither tracks nor features)."""
    ids = list(TRACKS)
    tracks = _features(ids).assign(
        track_id=ids,
        name=ids,
        artist_id=[TRACKS[t][0] for t in ids],
        artist_name=[TRACKS[t][0] for t in ids],
        album=None,
        release_year=2020,
        popularity=50.0,
        duration_ms=200_000,
        genres=[[TRACKS[t][0]] for t in ids],
        features_source="measured",
        source="test",
    )
    folk_mean = _features(["a1", "a2", "a3"])[AUDIO_FEATURES].mean().to_dict()
    artists = pd.DataFrame(
        [
            _artist("folk", track_count=3),
            _artist("edm", track_count=3),
            _artist("solo", track_count=1),
            _artist("ambient", folk_mean),
            _artist("nobody"),
        ]
    )
    return catalog.Catalog(
        tracks=catalog.validate("tracks", tracks),
        artists=catalog.validate("artists", artists),
        artist_map=catalog.empty("artist_map"),
        interactions=catalog.empty("interactions"),
    )


@pytest.fixture(scope="module")
def cat() -> catalog.Catalog:
    return make_catalog()


@pytest.fixture(scope="module")
def index(cat: catalog.Catalog) -> ContentIndex:
    return ContentIndex.build(cat)


@pytest.mark.parametrize(("seed", "nearest"), [("a1", "a2"), ("a2", "a1"), ("d1", "d2")])
def test_nearest_neighbour_is_known(index: ContentIndex, seed: str, nearest: str) -> None:
    ids, scores = index.similar([seed], k=3)
    assert ids[0] == nearest
    assert seed not in ids
    assert np.all(np.diff(scores) <= 1e-6)


@pytest.mark.parametrize(("tempo", "loudness"), [(126.0, -3.5), (250.0, -60.0), (30.0, 0.0)])
def test_tempo_and_loudness_do_not_swamp_the_unit_features(
    index: ContentIndex, tempo: float, loudness: float
) -> None:
    """a1's 0–1 features with the dance tempo and loudness, or absurd ones, stay acoustic."""
    extreme = _features(["a1"]).assign(tempo=tempo, loudness=loudness)
    ids, _ = index.search_vector(index.transform(extreme)[0], k=3)
    assert set(ids) == ACOUSTIC


def test_partial_profile_treats_missing_features_as_typical(index: ContentIndex) -> None:
    calm = index.transform(pd.DataFrame({"acousticness": [0.95], "energy": [0.1]}))
    assert calm.shape == (1, len(OUTPUT_COLUMNS))
    assert np.isclose(np.linalg.norm(calm), 1.0)
    assert set(index.search_vector(calm[0], k=3)[0]) == ACOUSTIC
    assert set(index.search_vector(-calm[0], k=3)[0]) == DANCE


def test_relative_keys_share_a_point_on_the_circle_of_fifths(index: ContentIndex) -> None:
    c_major, a_minor, f_sharp = index.transform(
        _features(["a1"] * 3).assign(key=[0, 9, 6], mode=[1, 0, 1])
    )
    key = [OUTPUT_COLUMNS.index("key_sin"), OUTPUT_COLUMNS.index("key_cos")]
    assert np.allclose(c_major[key], a_minor[key])
    assert np.allclose(c_major[key], -f_sharp[key], atol=1e-6)  # opposite side of the circle


def test_artist_vector_is_the_mean_of_its_track_vectors(
    index: ContentIndex, cat: catalog.Catalog
) -> None:
    pipeline = make_transform(index.params["learned"], index.params["weights"])
    raw = pipeline.transform(_features(["a1", "a2", "a3"])[INPUT_COLUMNS].astype(float))
    expected = normalize(raw.mean(axis=0))
    artists, tracks = index.frame("artists"), index.frame("tracks")
    assert np.allclose(artists.loc["folk"], expected, atol=1e-6)
    assert np.allclose(artists.loc["solo"], tracks.loc["s1"], atol=1e-6)


def test_artists_from_aggregated_features_and_artists_left_out(index: ContentIndex) -> None:
    assert set(index.ids("artists")) == {"folk", "edm", "solo", "ambient"}
    assert index.rows == {
        "tracks": 7,
        "artists": 4,
        "artists_from_tracks": 3,
        "artists_from_features": 1,
    }
    assert index.similar(["ambient"], k=1, kind="artists")[0].tolist() == ["folk"]
    a1 = index.vectors("tracks").vectors_of(["a1"])[0]
    scores = index.score(a1, ["folk", "edm", "nobody"], kind="artists")
    assert scores[0] > scores[1]
    assert np.isnan(scores[2])


def test_profile_skips_unknown_ids_and_weights_count(index: ContentIndex) -> None:
    a1 = index.vectors("tracks").vectors_of(["a1"])[0]
    assert np.allclose(index.profile({"a1": 1.0, "missing": 1.0}, "tracks"), a1, atol=1e-6)
    toward_dance = index.profile({"a1": 0.1, "d1": 1.0}, "tracks")
    assert index.search_vector(toward_dance, k=1)[0][0] in DANCE
    away_from_dance = index.profile({"s1": 1.0, "d1": -1.0}, "tracks")
    assert index.search_vector(away_from_dance, k=1)[0][0] in ACOUSTIC


def test_masks_keyed_by_catalog_id(index: ContentIndex, cat: catalog.Catalog) -> None:
    """Besides the contract's row-order arrays, its vector index reads a boolean Series by id."""
    allowed = pd.Series(True, index=index.ids("tracks"))
    allowed["a2"] = False
    assert index.similar(["a1"], k=1, mask=allowed)[0].tolist() == ["a3"]
    # A catalog-table mask (artists table order, including an artist the index lacks).
    table = FilterTable(cat.artists, "artist_id")
    only_edm = pd.Series(table.mask(Filters(exclude={"folk", "solo", "ambient"})), index=table.ids)
    assert index.similar(["solo"], k=3, kind="artists", mask=only_edm)[0].tolist() == ["edm"]


@pytest.mark.parametrize("method", ["exact", "hnsw", "ivf"])
def test_exact_and_approximate_agree(
    cat: catalog.Catalog, index: ContentIndex, method: str
) -> None:
    forced = ContentIndex.build(cat, method=method)
    assert forced.vectors("tracks").method == method
    assert forced.vectors("artists").method == method
    for seed in TRACKS:
        assert forced.similar([seed], k=3)[0].tolist() == index.similar([seed], k=3)[0].tolist()


def test_auto_switches_to_ivf_at_the_threshold(cat: catalog.Catalog) -> None:
    auto = ContentIndex.build(cat, approximate_from=5)
    assert auto.vectors("tracks").method == "ivf"  # 7 tracks
    assert auto.vectors("artists").method == "exact"  # 4 artists
    assert ContentIndex.build(cat).params["method"] == {"tracks": "exact", "artists": "exact"}


@pytest.mark.parametrize("method", ["exact", "hnsw", "ivf"])
def test_save_load_keeps_method_weights_and_transform(
    cat: catalog.Catalog, tmp_path, method: str
) -> None:
    built = ContentIndex.build(cat, method=method, weights={"liveness": 0.2})
    info = built.save(tmp_path)
    assert info["rows"]["tracks"] == 7
    assert info["params"]["weights"]["liveness"] == 0.2
    loaded = ContentIndex.load(tmp_path)
    assert loaded.params == built.params
    for kind in ("tracks", "artists"):
        assert loaded.vectors(kind).method == method
        assert np.array_equal(loaded.vectors(kind).vectors, built.vectors(kind).vectors)
    query = pd.DataFrame({"energy": [0.7], "tempo": [300.0], "key": [-1], "mode": [0]})
    assert np.array_equal(loaded.transform(query), built.transform(query))


def test_load_names_a_missing_file(cat: catalog.Catalog, tmp_path) -> None:
    ContentIndex.build(cat).save(tmp_path)
    (tmp_path / "artists.ids.npy").unlink()
    with pytest.raises(
        ArtifactError, match=r"artists\.ids\.npy is missing; rebuild with: .*--only content"
    ):
        ContentIndex.load(tmp_path)


def test_bad_inputs_are_refused(cat: catalog.Catalog) -> None:
    with pytest.raises(InputError, match="unknown content weights"):
        ContentIndex.build(cat, weights={"loudnes": 1.0})
    with pytest.raises(InputError, match="unknown index method"):
        ContentIndex.build(cat, method="annoy")
    empty = catalog.Catalog(
        tracks=catalog.empty("tracks"),
        artists=cat.artists[cat.artists["artist_id"] == "nobody"],
        artist_map=catalog.empty("artist_map"),
        interactions=catalog.empty("interactions"),
    )
    with pytest.raises(CatalogError, match="no track or artist"):
        ContentIndex.build(empty)


def test_artists_only_catalog_fits_on_artist_features(cat: catalog.Catalog) -> None:
    artists_only = catalog.Catalog(
        tracks=catalog.empty("tracks"),
        artists=cat.artists,
        artist_map=catalog.empty("artist_map"),
        interactions=catalog.empty("interactions"),
    )
    index = ContentIndex.build(artists_only)
    assert index.ids("artists").tolist() == ["ambient"]
    assert len(index.ids("tracks")) == 0
