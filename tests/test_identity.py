"""Artist identity: normalisation rules and evidence-based merging across and within sources."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tunescout.catalog import identity


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("The Beatles", "beatles"),
        ("Beyoncé", "BEYONCE"),
        ("Simon & Garfunkel", "Simon and Garfunkel"),
        ("Король И Шут", "Король и Шут"),
        ("AC/DC", "ac dc"),
        ("Ｍｕｓｅ", "Muse"),  # full-width letters, NFKC
        ("Beatles, The", "The Beatles"),
    ],
)
def test_equal_keys(a: str, b: str) -> None:
    assert identity.normalize_name(a) == identity.normalize_name(b)


@pytest.mark.parametrize(("a", "b"), [("The The", "The"), ("Air", "Air Supply"), ("Muse", "Mouse")])
def test_different_keys(a: str, b: str) -> None:
    assert identity.normalize_name(a) != identity.normalize_name(b)


def test_punctuation_only_names_keep_a_key() -> None:
    assert identity.normalize_name("!!!") == "!!!"


@pytest.mark.parametrize(
    ("name", "primary", "featured"),
    [
        ("Eminem feat. Rihanna", "Eminem", ["Rihanna"]),
        ("Jay-Z ft. Kanye West & Rihanna", "Jay-Z", ["Kanye West", "Rihanna"]),
        ("Santana (featuring Rob Thomas)", "Santana", ["Rob Thomas"]),
        ("Featurecast", "Featurecast", []),
    ],
)
def test_split_featured(name: str, primary: str, featured: list[str]) -> None:
    assert identity.split_featured(name) == (primary, featured)


@given(st.text(max_size=40))
def test_normalisation_is_idempotent_and_total(name: str) -> None:
    key = identity.normalize_name(name)
    assert isinstance(key, str)
    if key.strip():
        assert identity.normalize_name(key) == key or identity.normalize_name(
            key
        ) == identity.normalize_name(name)


@given(st.text(min_size=1, max_size=30))
def test_case_and_the_never_change_the_key(name: str) -> None:
    assert identity.normalize_name(name.upper()) == identity.normalize_name(name.lower()) or (
        name.upper().lower() != name.lower()  # characters whose case mapping is not reversible
    )


def rec(source: str, source_id: str, name: str, genres=(), tags=(), popularity=None) -> dict:
    return {
        "source": source,
        "source_id": source_id,
        "name": name,
        "genres": list(genres),
        "tags": [{"tag": t, "weight": 1.0} for t in tags],
        "popularity": popularity,
        "listeners": None,
    }


def resolved(*records: dict) -> pd.DataFrame:
    return identity.resolve(pd.DataFrame(list(records))).set_index(["source", "source_id"])


def test_one_candidate_per_source_merges_on_name() -> None:
    m = resolved(
        rec("tidytuesday", "Radiohead", "Radiohead", ["rock"]), rec("hetrec", "1", "radiohead")
    )
    assert m.loc[("tidytuesday", "Radiohead"), "artist_id"] == m.loc[("hetrec", "1"), "artist_id"]
    assert m.loc[("hetrec", "1"), "method"] == "exact"
    assert m.loc[("tidytuesday", "Radiohead"), "method"] == "canonical"


def test_case_variants_inside_one_source_merge() -> None:
    m = resolved(
        rec("hetrec", "1", "Король И Шут", tags=["punk"]), rec("hetrec", "2", "Король и Шут")
    )
    assert m["artist_id"].nunique() == 1


def test_one_source_listing_a_name_twice_means_two_artists() -> None:
    m = resolved(
        rec("synthetic", "1", "Nova", tags=["pop"]), rec("synthetic", "2", "Nova", tags=["pop"])
    )
    assert m["artist_id"].nunique() == 2


def test_same_source_variants_need_evidence() -> None:
    m = resolved(
        rec("hetrec", "1", "Beyoncé", tags=["rnb"]), rec("hetrec", "2", "Beyonce", tags=["metal"])
    )
    assert m["artist_id"].nunique() == 2


def test_well_described_artists_with_nothing_in_common_stay_apart() -> None:
    m = resolved(
        rec("spotify1921", "Battles", "Battles", ["antiviral pop", "comic", "comedy rap"]),
        rec("hetrec", "9", "Battles", tags=["math rock", "experimental", "electronic", "indie"]),
    )
    assert m["artist_id"].nunique() == 2


def test_playlist_genres_do_not_veto_a_merge() -> None:
    m = resolved(
        rec("tidytuesday", "Adele", "Adele", ["latin", "edm", "rap"]),
        rec("hetrec", "5", "Adele", tags=["soul", "singer-songwriter", "british"]),
    )
    assert m["artist_id"].nunique() == 1


def test_ambiguous_names_join_the_candidate_with_shared_genres() -> None:
    m = resolved(
        rec("spotify1921", "Nirvana-1", "Nirvana", ["grunge", "alternative rock"], popularity=80),
        rec(
            "spotify1921",
            "Nirvana-2",
            "Nirvana",
            ["british psychedelia", "sunshine pop"],
            popularity=20,
        ),
        rec("hetrec", "7", "Nirvana", tags=["grunge", "rock", "90s"]),
    )
    assert m.loc[("hetrec", "7"), "artist_id"] == m.loc[("spotify1921", "Nirvana-1"), "artist_id"]
    assert m.loc[("hetrec", "7"), "artist_id"] != m.loc[("spotify1921", "Nirvana-2"), "artist_id"]


def test_loose_and_featured_matches() -> None:
    m = resolved(
        rec("tidytuesday", "Guns N' Roses", "Guns N' Roses", ["rock"]),
        rec("hetrec", "1", "Guns N Roses"),
        rec("tidytuesday", "Eminem", "Eminem", ["rap"]),
        rec("hetrec", "2", "Eminem feat. Rihanna"),
    )
    assert (
        m.loc[("hetrec", "1"), "artist_id"] == m.loc[("tidytuesday", "Guns N' Roses"), "artist_id"]
    )
    assert m.loc[("hetrec", "2"), "artist_id"] == m.loc[("tidytuesday", "Eminem"), "artist_id"]
    assert m.loc[("hetrec", "2"), "method"] == "featured"
    assert m.loc[("hetrec", "2"), "confidence"] < m.loc[("hetrec", "1"), "confidence"] < 1.0


def test_every_record_appears_once_with_a_stable_id() -> None:
    records = [rec("hetrec", str(i), f"Artist {i % 5}") for i in range(20)]
    first = identity.resolve(pd.DataFrame(records))
    again = identity.resolve(pd.DataFrame(records[::-1]))
    assert len(first) == 20 and not first.duplicated(["source", "source_id"]).any()
    key = ["source", "source_id"]
    assert (
        first.set_index(key)["artist_id"]
        .sort_index()
        .equals(again.set_index(key)["artist_id"].sort_index())
    )
