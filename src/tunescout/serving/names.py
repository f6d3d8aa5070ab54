"""The catalog's words, as a request's parser reads them: artists' and songs' names (fuzzy,
case- and accent-insensitive, best known first), genre labels with their families, and listeners'
tags common enough to stand for a genre.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from rapidfuzz import fuzz, process

from tunescout.catalog import as_list
from tunescout.catalog.identity import normalize_name
from tunescout.domain.genres import GENRE_ALIASES, GENRE_SYNONYMS, is_genre_word
from tunescout.domain.moods import LEXICON
from tunescout.domain.songs import base_title

FUZZY_MIN = 86  # rapidfuzz score (0–100) from which a misspelt name counts as a reference
EXACT = 1.0
FILLER = frozenset(  # words that carry no request of their own
    ["a", "an", "the", "some", "any", "of", "for", "to", "in", "on", "at", "by", "with", "me", "my", "i", "you", "it", "is", "are", "be", "that", "this", "music", "songs", "song", "tracks", "track", "tunes", "stuff", "something", "things", "playlist", "mix", "please", "just", "more", "less", "too", "very", "really", "kind", "sort", "type", "but", "and", "or", "like"]
)


@dataclass(frozen=True)
class Reference:
    """A catalog artist or track the listener named.

    Attributes:
        kind: ``"artists"`` or ``"tracks"``.
        id: The catalog id.
        name: The catalog's name ("Radiohead", or "Creep — Radiohead" for a track).
        artist_id: The artist (the track's artist for a track reference).
        said: What the listener typed.
        confidence: 1 for an exact match (up to case, accents and punctuation), lower when fuzzy.
    """

    kind: str
    id: str
    name: str
    artist_id: str
    said: str
    confidence: float


class Vocabulary:
    """Catalog names the parser resolves words against: artists, track titles, genre labels
    (with their families) and listeners' tags.

    Args:
        tracks: The catalog tracks table (``track_id``, ``name``, ``artist_id``, ``artist_name``,
            ``genres``, ``popularity``).
        artists: The catalog artists table (``artist_id``, ``name``, ``genres``, ``tags``,
            ``popularity``, ``listeners``).
        min_tag_artists: A tag counts as a genre word when at least this many artists carry it.
    """

    def __init__(self, tracks: pd.DataFrame, artists: pd.DataFrame, min_tag_artists: int = 8):
        self.artists = _names(artists["name"], artists["artist_id"], _fame(artists))
        track_names = tracks["name"].fillna("").astype(str)
        titles = pd.concat([track_names, track_names.map(base_title)])
        twice = pd.concat([tracks["track_id"], tracks["track_id"]])
        self.tracks = _names(titles, twice, pd.concat([tracks["popularity"]] * 2))
        self.track_artist = pd.Series(tracks["artist_id"].to_numpy(), index=tracks["track_id"])
        self.track_label = pd.Series(
            (track_names + " — " + tracks["artist_name"].fillna("").astype(str)).to_numpy(),
            index=tracks["track_id"],
        )
        self.artist_name = pd.Series(artists["name"].to_numpy(), index=artists["artist_id"])
        self.families = genre_families(tracks["genres"])
        self.tag_counts = {
            tag: n
            for tag, n in tag_counts(artists["tags"], min_tag_artists).items()
            if is_genre_word(tag) and tag not in LEXICON and tag not in FILLER
        }
        words = {g: (g,) for g in self.families}
        for group in GENRE_SYNONYMS:
            known = tuple(g for g in group if g in self.families)
            for g in group:
                if known:
                    words[g] = known
        words |= {alias: words[g] for alias, g in GENRE_ALIASES.items() if g in words}
        self.genre_words = words
        self._artist_keys = list(self.artists)
        self._title_keys = list(self.tracks)

    def genre_labels(self, word: str, broad: bool = False) -> tuple[str, ...]:
        """Catalog genre labels a genre word stands for, with their sub-genres; ``broad`` adds
        every label that names them ("latin hip hop" for "hip hop"), as exclusions want."""
        labels: list[str] = []
        for g in self.genre_words.get(word, ()):
            labels.extend(self.families[g])
            if broad:
                labels.extend(related_labels(g, self.families))
        return tuple(dict.fromkeys(labels))

    def named_label(self, word: str) -> tuple[str, ...]:
        """The catalog label a genre word names itself ("hip hop", "edm" for "electronic"), as
        opposed to the family it stands for."""
        if word in self.families:
            return (word,)
        target = GENRE_ALIASES.get(word)
        return (target,) if target in self.families else self.genre_words.get(word, ())[:1]

    def resolve(self, phrase: str, fuzzy: bool = True) -> Reference | None:
        """The artist or track a phrase names ("radiohed" → Radiohead), or ``None``."""
        said = phrase.strip()
        title, _, by = said.partition(" by ")
        key = normalize_name(said)
        if not key or key in FILLER or key in LEXICON or key in self.genre_words:
            return None  # a mood or genre word is not a name ("chill vibe" is no reference)
        if by and normalize_name(by) in self.artists:
            found = self._track_by(normalize_name(title), self.artists[normalize_name(by)][0])
            if found is not None:
                return self._track(found, said, EXACT)
        if key in self.artists:
            return self._artist(self.artists[key][0], said, EXACT)
        if key in self.tracks:
            return self._track(self.tracks[key][0], said, EXACT)
        if not fuzzy or len(key) < 4:
            return None
        hit = process.extractOne(key, self._artist_keys, scorer=fuzz.ratio, score_cutoff=FUZZY_MIN)
        if hit is not None:
            return self._artist(self.artists[hit[0]][0], said, hit[1] / 100)
        hit = process.extractOne(key, self._title_keys, scorer=fuzz.ratio, score_cutoff=92)
        if hit is not None:
            return self._track(self.tracks[hit[0]][0], said, hit[1] / 100)
        return None

    def _track_by(self, title_key: str, artist_id: str) -> str | None:
        for track_id in self.tracks.get(title_key, ()):
            if self.track_artist[track_id] == artist_id:
                return track_id
        return None

    def _artist(self, artist_id: str, said: str, confidence: float) -> Reference:
        name = str(self.artist_name[artist_id])
        return Reference("artists", artist_id, name, artist_id, said, round(confidence, 3))

    def _track(self, track_id: str, said: str, confidence: float) -> Reference:
        label = str(self.track_label[track_id])
        artist = str(self.track_artist[track_id])
        return Reference("tracks", track_id, label, artist, said, round(confidence, 3))


def _fame(artists: pd.DataFrame) -> pd.Series:
    """How well known each artist is: catalog popularity, else listeners on a log scale."""
    listeners = np.log1p(artists["listeners"].astype(float).fillna(0.0)) * 8
    return artists["popularity"].astype(float).fillna(listeners).fillna(0.0)


def _names(names: pd.Series, ids: pd.Series, fame: pd.Series) -> dict[str, list[str]]:
    """Folded name → ids carrying it, best known first."""
    frame = pd.DataFrame(
        {
            "key": names.astype(str).map(normalize_name).to_numpy(),
            "id": ids.to_numpy(),
            "fame": fame.to_numpy(),
        }
    )
    frame = frame[frame["key"] != ""].drop_duplicates(["key", "id"])
    frame = frame.sort_values("fame", ascending=False, kind="stable")
    return frame.groupby("key", sort=False)["id"].agg(list).to_dict()


def genre_families(genres: pd.Series, share: float = 0.7) -> dict[str, tuple[str, ...]]:
    """Each genre label with the labels it covers: itself and the labels whose tracks nearly all
    carry it too (a sub-genre listed under its genre, as "permanent wave" under "rock")."""
    lists = [as_list(g) for g in genres]
    counts = pd.Series([g for gs in lists for g in gs]).value_counts()
    pairs = pd.Series([(a, b) for gs in lists for a in gs for b in gs if a != b]).value_counts()
    families: dict[str, list[str]] = {g: [g] for g in counts.index}
    for (child, parent), n in pairs.items():
        if n >= share * counts[child] and counts[parent] >= counts[child]:
            families[parent].append(child)
    return {g: tuple(dict.fromkeys(members)) for g, members in families.items()}


def related_labels(genre: str, labels: Iterable[str]) -> list[str]:
    """Labels that name ``genre`` as words ("latin hip hop" for "hip hop"): what "no hip hop"
    leaves out besides the genre's own family."""
    pattern = re.compile(rf"\b{re.escape(genre)}\b")
    return [other for other in labels if other != genre and pattern.search(other)]


def tag_counts(tags: pd.Series, minimum: int) -> dict[str, int]:
    """Listeners' tags carried by at least ``minimum`` artists, with their artist counts."""
    counts = pd.Series(
        [t["tag"].casefold() for ts in tags for t in as_list(ts) if t and t.get("tag")]
    ).value_counts()
    return counts[counts >= minimum].to_dict()
