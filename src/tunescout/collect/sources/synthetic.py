"""Synthetic catalog: made-up artists, tracks and listeners drawn from the genre priors.

It lets tunescout start with no network and no files and gives benchmarks catalogs of any size;
every row says ``source="synthetic"`` and nothing in it describes real music.
"""

from __future__ import annotations

import functools
import logging
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from tqdm.auto import tqdm

from tunescout import catalog
from tunescout.catalog.snapshots import RawBundle
from tunescout.domain import genres as priors
from tunescout.domain.features import AUDIO_FEATURES, UNIT_FEATURES
from tunescout.domain.moods import DESCRIPTORS, margins
from tunescout.errors import InputError

log = logging.getLogger(__name__)

SOURCE = "synthetic"
# A fixed "now", so that a seed gives the same frames whatever day it runs on.
REFERENCE_TIME = pd.Timestamp("2025-12-31 23:59:59", tz="UTC")
HISTORY_DAYS = 730

# Each sub-genre maps back onto its broad genre through priors.broad_genre (a test checks this).
SUBGENRES: dict[str, tuple[str, ...]] = {
    "pop": ("teen pop", "art pop", "bedroom pop", "power pop"),
    "rock": ("indie rock", "classic rock", "hard rock", "garage rock", "psychedelic rock"),
    "rap": ("trap", "gangsta rap", "melodic rap", "cloud rap"),
    "hip hop": ("east coast hip hop", "underground hip hop", "old school hip hop"),
    "r&b": ("contemporary r&b", "neo soul", "urban contemporary"),
    "latin": ("reggaeton", "salsa", "bachata", "tropical"),
    "edm": ("deep house", "progressive house", "dubstep", "trance"),
    "electronic": ("techno", "idm", "minimal techno", "electronica"),
    "indie": ("lo-fi indie", "alternative", "indietronica", "modern alternative"),
    "metal": ("death metal", "metalcore", "black metal", "heavy metal", "thrash metal"),
    "punk": ("post-punk", "hardcore punk", "emo", "street punk"),
    "jazz": ("cool jazz", "jazz fusion", "swing", "bossa nova", "vocal jazz"),
    "classical": ("baroque", "classical piano", "contemporary classical", "orchestral"),
    "ambient": ("dark ambient", "drone", "new age", "space ambient"),
    "folk": ("traditional folk", "contemporary folk", "freak folk", "anti-folk"),
    "country": ("americana", "bluegrass", "contemporary country", "outlaw country"),
    "soul": ("funk", "motown", "classic soul", "northern soul"),
    "blues": ("delta blues", "chicago blues", "modern blues"),
    "reggae": ("roots reggae", "dub", "ska"),
    "singer-songwriter": ("singer-songwriter", "uk singer-songwriter", "indie singer-songwriter"),
    "soundtrack": ("film soundtrack", "tv soundtrack", "video game soundtrack"),
    "lo-fi": ("lo-fi beats", "chillhop", "lofi hip hop"),
}
# Relative number of artists per broad genre; genres absent here get _DEFAULT_SHARE.
_SHARE = {
    "pop": 12, "rock": 12, "rap": 8, "hip hop": 7, "r&b": 5, "latin": 5, "edm": 5,
    "electronic": 5, "indie": 7, "metal": 5, "punk": 3, "jazz": 4, "classical": 3, "ambient": 2,
    "folk": 4, "country": 4, "soul": 3, "blues": 2, "reggae": 2, "singer-songwriter": 3,
    "soundtrack": 2, "lo-fi": 2,
}  # fmt: skip
_DEFAULT_SHARE = 3.0
# Mean and spread of the year an artist's first release comes out.
_ERA = {
    "pop": (2005, 12), "rock": (1988, 15), "rap": (2010, 8), "hip hop": (2003, 10),
    "r&b": (2005, 12), "latin": (2012, 8), "edm": (2013, 5), "electronic": (2003, 10),
    "indie": (2010, 7), "metal": (1995, 13), "punk": (1992, 12), "jazz": (1968, 18),
    "classical": (1975, 20), "ambient": (2005, 12), "folk": (1990, 20), "country": (2000, 15),
    "soul": (1972, 12), "blues": (1970, 15), "reggae": (1985, 15), "singer-songwriter": (2008, 12),
    "soundtrack": (2005, 12), "lo-fi": (2019, 3),
}  # fmt: skip
_DEFAULT_ERA = (2000, 15)
# Typical track length in seconds.
_DURATION = {
    "pop": 205, "rock": 240, "rap": 200, "hip hop": 220, "r&b": 215, "latin": 210, "edm": 220,
    "electronic": 300, "indie": 230, "metal": 290, "punk": 160, "jazz": 330, "classical": 400,
    "ambient": 380, "folk": 220, "country": 205, "soul": 210, "blues": 260, "reggae": 240,
    "singer-songwriter": 225, "soundtrack": 170, "lo-fi": 140,
}  # fmt: skip
_DEFAULT_DURATION = 220.0
# Correlations between feature deviations, as in real catalogs (loud songs are energetic, …).
_CORRELATED = {
    ("danceability", "valence"): 0.35, ("danceability", "energy"): 0.15,
    ("energy", "valence"): 0.3, ("energy", "acousticness"): -0.6, ("energy", "loudness"): 0.7,
    ("acousticness", "loudness"): -0.5, ("energy", "liveness"): 0.15,
    ("instrumentalness", "valence"): -0.2, ("instrumentalness", "speechiness"): -0.1,
}  # fmt: skip
# Relative frequency of the 12 pitch classes (C, C#, …, B) in popular music.
_KEY_FREQ = np.array([12.5, 10, 11, 3, 8, 8, 7, 12, 6.5, 10, 6, 7])
_LIMITS = {"tempo": (40.0, 220.0), "loudness": (-40.0, -1.0)}
_ARTIST_SPREAD, _TRACK_SPREAD = 0.5, 0.6  # fractions of the genre's std
# How strongly listener counts drive who is played and how often: calibrated so the top 1% of
# artists hold about a third of all plays (half in HetRec Last.fm, which keeps top-50 lists only).
_CHOICE_EXPONENT, _PLAYS_EXPONENT = 1.3, 0.5
_DRAW_ROUNDS = 6  # rounds of top-up draws for users whose genres hold too few artists
_URN_SLOTS = 32  # average urn slots per artist; more slots sample the long tail more finely


def _vocab(text: str, extra: tuple[str, ...] = ()) -> np.ndarray:
    """A word list written as one space-separated string (plus ``extra`` words such as "")."""
    return np.array([*text.split(), *extra])


# Empty onsets and codas are listed repeatedly so that they are drawn more often.
_ONSETS = _vocab(
    "b b br c ch d d dr f g gr h j k k kr l l m m n n p r r s s sh st t t tr v w z", ("", "")
)
_VOWELS = _vocab("a e i o u a e o ai ea ou y")
_ACCENTED = _vocab("é á ö ø å ü í ó è")
_CODAS = _vocab("n r l s x nd rk th m ck", ("", "", "", ""))
_BAND_NOUNS = _vocab(
    "Parade Machine Garden Society Collective Echo Orchestra Club Theory Ghosts Lights Riot "
    "Union Signal Empire Hotel Circus Atlas Choir Engine"
)
# (prefix, suffix) pairs for stage names typical of a genre.
_STAGE = {
    "rap": (("Lil ", ""), ("Young ", "")), "hip hop": (("MC ", ""), ("Big ", "")),
    "edm": (("DJ ", ""), ("", " Sound System")), "electronic": (("DJ ", ""), ("", " Unit")),
    "jazz": (("", " Quartet"), ("", " Trio")), "classical": (("", " Ensemble"), ("", " Quartet")),
    "country": (("", " Band"), ("Little ", "")), "blues": (("Blind ", ""), ("", " Band")),
}  # fmt: skip
_ADJECTIVES = _vocab(
    "Blue Golden Broken Silent Electric Midnight Lonely Wild Velvet Hollow Burning Neon Paper "
    "Sweet Cold Endless Falling Crimson Quiet Restless Secret Silver Distant Hidden Bitter Lost "
    "Bright Empty Heavy Little Open Slow Summer Winter Strange Tender Young Dark Last"
)
_NOUNS = _vocab(
    "Heart Night River Dream Fire Road Sky Light Rain Home Ocean City Moon Star Shadow Window "
    "Garden Mirror Storm Summer Letter Song Train Island Highway Ghost Echo Morning Kingdom Wave "
    "Desert Harbor Forest Signal Engine Mountain Avenue Angel Diamond Thunder Memory Horizon "
    "Paradise Machine Circle Fever Canyon Lullaby Satellite Daylight Hurricane Sunset Valley "
    "Bridge Silence Wires Stranger Blossom Secrets Tides"
)


@dataclass(frozen=True)
class _Genres:
    """The broad genres as arrays (row ``g`` describes ``names[g]``) and the tag vocabulary."""

    names: np.ndarray  # (G,)
    means: np.ndarray  # (G, F) prior means of AUDIO_FEATURES
    stds: np.ndarray  # (G, F)
    share: np.ndarray  # (G,) sums to 1
    era: np.ndarray  # (G, 2) mean and std of first-release year
    duration_s: np.ndarray  # (G,)
    neighbours: np.ndarray  # (G, G) rows sum to 1, zero diagonal: where a second genre comes from
    sub_start: np.ndarray  # (G,) where each genre's sub-genres begin in sub_code
    sub_count: np.ndarray  # (G,)
    sub_code: np.ndarray  # sub-genres as codes into vocab, grouped by broad genre
    name_code: np.ndarray  # (G,) broad genres as codes into vocab
    vocab: pa.StringArray  # every genre and tag word once
    code: dict[str, int]  # word -> index in vocab
    stage: np.ndarray  # (G, 2, 2) stage-name prefix/suffix pairs, empty when the genre has none


@functools.cache
def _genres() -> _Genres:
    names = np.array(priors.BROAD_GENRES)
    means, stds = (np.stack(a) for a in zip(*(priors.prior(g) for g in names), strict=True))
    share = np.array([_SHARE.get(g, _DEFAULT_SHARE) for g in names], dtype=np.float64)
    z = (means / stds)[:, None, :] - (means / stds)[None, :, :]
    near = np.exp(-np.sqrt((z**2).sum(-1))) * share[None, :]
    np.fill_diagonal(near, 0.0)
    subs = [SUBGENRES.get(g, (g,)) for g in names]
    counts = np.array([len(s) for s in subs])
    words = [*(s for group in subs for s in group), *names, *_MOOD_WORDS, _SEEN_LIVE]
    code = {w: i for i, w in enumerate(dict.fromkeys(words))}
    stage = np.full((len(names), 2, 2), "", dtype=object)
    for i, g in enumerate(names):
        if g in _STAGE:
            stage[i] = _STAGE[g]
    return _Genres(
        names=names,
        means=means,
        stds=stds,
        share=share / share.sum(),
        era=np.array([_ERA.get(g, _DEFAULT_ERA) for g in names], dtype=np.float64),
        duration_s=np.array([_DURATION.get(g, _DEFAULT_DURATION) for g in names]),
        neighbours=near / near.sum(axis=1, keepdims=True),
        sub_start=np.concatenate([[0], np.cumsum(counts)[:-1]]),
        sub_count=counts,
        sub_code=np.array([code[s] for group in subs for s in group]),
        name_code=np.array([code[g] for g in names]),
        vocab=pa.array(list(code)),
        code=code,
        stage=stage.astype(str),
    )


@functools.cache
def _noise_factor() -> np.ndarray:
    """Cholesky factor of the feature correlation matrix (fails loudly if it is not positive)."""
    corr = np.eye(len(AUDIO_FEATURES))
    for (a, b), r in _CORRELATED.items():
        i, j = AUDIO_FEATURES.index(a), AUDIO_FEATURES.index(b)
        corr[i, j] = corr[j, i] = r
    return np.linalg.cholesky(corr)


def _noise(rng: np.random.Generator, stds: np.ndarray, scale: float) -> np.ndarray:
    """Correlated deviations with per-row standard deviations ``stds * scale``."""
    z = rng.standard_normal(stds.shape) @ _noise_factor().T
    return z * stds * scale


def _clip_features(x: np.ndarray) -> np.ndarray:
    n_unit = len(UNIT_FEATURES)
    x[:, :n_unit] = np.clip(x[:, :n_unit], 0.0, 1.0)
    for name, (lo, hi) in _LIMITS.items():
        i = AUDIO_FEATURES.index(name)
        x[:, i] = np.clip(x[:, i], lo, hi)
    return x


def _categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One draw per row of a matrix ``probs`` whose rows sum to 1."""
    u = rng.random(len(probs))
    chosen = np.zeros(len(probs), dtype=np.int64)
    cum = np.zeros(len(probs))
    # Column by column, so no (rows × columns) temporary is needed beyond ``probs`` itself.
    for j in range(probs.shape[1] - 1):
        cum += probs[:, j]
        chosen += u >= cum
    return chosen


def _ids(prefix: str, n: int, width: int) -> pa.Array:
    """``prefix`` followed by 0..n-1 zero-padded to ``width`` digits."""
    digits = pc.utf8_lpad(pa.array(np.arange(n)).cast(pa.string()), width=width, padding="0")
    return pc.binary_join_element_wise(prefix, digits, "")


def _repeat(value: str, n: int) -> pa.Array:
    return pa.repeat(pa.scalar(value), n)


# ---------------------------------------------------------------- names


def _words(rng: np.random.Generator, n: int, accented: np.ndarray) -> np.ndarray:
    """Capitalised made-up words of 2–3 syllables; rows in ``accented`` get one accented vowel."""
    n_syllables = np.where(rng.random(n) < 0.7, 2, 3)
    word = np.full(n, "", dtype=_ONSETS.dtype)
    for i in range(3):
        vowel = _VOWELS[rng.integers(0, len(_VOWELS), n)]
        if i == 1:
            vowel = np.where(accented, _ACCENTED[rng.integers(0, len(_ACCENTED), n)], vowel)
        syllable = _ONSETS[rng.integers(0, len(_ONSETS), n)] + vowel
        word = np.where(i < n_syllables, word + syllable, word)
    return np.strings.capitalize(word + _CODAS[rng.integers(0, len(_CODAS), n)])


def _plural(words: np.ndarray) -> np.ndarray:
    done = np.strings.endswith(words, "s") | np.strings.endswith(words, "x")
    return np.where(done, words, words + "s")


def _artist_names(rng: np.random.Generator, primary: np.ndarray) -> np.ndarray:
    """Names like "Dravo Kelun", "The Brailors", "Fiko & the Strands", "Lil Zenth", "Mørak Trio"."""
    n = len(primary)
    accented = rng.random(n) < 0.06
    first, second = _words(rng, n, accented), _words(rng, n, accented)
    stage = _genres().stage[primary, rng.integers(0, 2, n)]
    has_stage = (stage[:, 0] != "") | (stage[:, 1] != "")
    template = rng.choice(6, n, p=[0.22, 0.33, 0.12, 0.06, 0.12, 0.15])
    names = np.select(
        [
            template == 0,
            (template == 1) | ((template == 5) & ~has_stage),
            template == 2,
            template == 3,
            template == 4,
        ],
        [
            first,
            first + " " + second,
            "The " + _plural(first),
            first + " & the " + _plural(second),
            first + " " + _BAND_NOUNS[rng.integers(0, len(_BAND_NOUNS), n)],
        ],
        default=stage[:, 0] + first + stage[:, 1],
    )
    # Real catalogs hold different artists who share a name; keep a few such clashes.
    clash = np.flatnonzero(rng.random(n) < 0.003)
    names[clash] = names[rng.integers(0, n, len(clash))]
    return names


@functools.cache
def _title_vocab() -> tuple[pa.StringArray, np.ndarray]:
    """Every title the generator can give, and where each title pattern begins in that list.

    Patterns: "Neon Harbor", "Lullaby", "The Ghost", "Memory of Rain"; each repeated with
    " (Live)" after the plain ones.
    """
    adj_noun = np.strings.add(np.strings.add(_ADJECTIVES[:, None], " "), _NOUNS[None, :])
    noun_of = np.strings.add(np.strings.add(_NOUNS[:, None], " of "), _NOUNS[None, :])
    patterns = [adj_noun.ravel(), _NOUNS, np.strings.add("The ", _NOUNS), noun_of.ravel()]
    plain = np.concatenate(patterns)
    starts = np.cumsum([0, *(len(p) for p in patterns)])
    return pa.array(np.concatenate([plain, np.strings.add(plain, " (Live)")])), starts


def _titles(rng: np.random.Generator, n: int, live: np.ndarray | None = None) -> pa.Array:
    """``n`` song or album titles; rows flagged ``live`` get the " (Live)" version."""
    vocab, starts = _title_vocab()
    pattern = rng.choice(len(starts) - 1, n, p=[0.45, 0.25, 0.15, 0.15])
    size = starts[pattern + 1] - starts[pattern]
    code = starts[pattern] + (rng.random(n) * size).astype(np.int64)
    if live is not None:
        code += live * starts[-1]
    return vocab.take(pa.array(code))


# ---------------------------------------------------------------- artists


@dataclass
class _Artists:
    primary: np.ndarray  # broad genre index
    secondary: np.ndarray  # broad genre index, equal to primary when the artist has one genre
    weight: np.ndarray  # share of the primary genre in the artist's mix
    center: np.ndarray  # (A, F) the artist's typical sound
    listeners: np.ndarray
    popularity: np.ndarray
    first_year: np.ndarray
    names: np.ndarray


def _make_artists(rng: np.random.Generator, n: int) -> _Artists:
    gt = _genres()
    primary = rng.choice(len(gt.names), n, p=gt.share)
    has_second = rng.random(n) < 0.6
    secondary = np.where(has_second, _categorical(rng, gt.neighbours[primary]), primary)
    weight = np.where(has_second, rng.beta(6, 2, n), 1.0)
    mix = weight[:, None] * gt.means[primary] + (1 - weight[:, None]) * gt.means[secondary]
    center = mix + _noise(rng, gt.stds[primary], _ARTIST_SPREAD)
    # Lognormal audience: a few stars, a long tail; mainstream genres a little bigger.
    log_reach = 1.8 * rng.standard_normal(n) + 0.3 * np.log(gt.share[primary] * len(gt.names))
    listeners = np.maximum(np.round(2000 * np.exp(log_reach)), 1).astype(np.int64)
    popularity = np.clip((np.log10(listeners) - 2) * 20, 0, 100)
    first_year = rng.normal(gt.era[primary, 0], gt.era[primary, 1])
    first_year = np.clip(np.round(first_year), 1950, REFERENCE_TIME.year).astype(np.int32)
    names = _artist_names(rng, primary)
    return _Artists(primary, secondary, weight, center, listeners, popularity, first_year, names)


def _track_counts(rng: np.random.Generator, n_tracks: int, listeners: np.ndarray) -> np.ndarray:
    """Tracks per artist, growing with popularity and summing to ``n_tracks``."""
    n = len(listeners)
    appeal = listeners.astype(np.float64) ** 0.6
    if n_tracks < n:
        # Gumbel top-k: a weighted draw of the artists that get one track, without replacement.
        keys = np.log(appeal) + rng.gumbel(size=n)
        counts = np.zeros(n, dtype=np.int64)
        counts[np.argpartition(-keys, n_tracks - 1)[:n_tracks]] = 1
        return counts
    return 1 + rng.multinomial(n_tracks - n, appeal / appeal.sum())


def _artist_genres(rng: np.random.Generator, art: _Artists) -> tuple[np.ndarray, np.ndarray]:
    """Spotify-style genre lists as (artist, vocab code) rows in list order.

    Each list holds one or two sub-genres, the broad genre and one sub-genre of the second genre.
    """
    gt = _genres()
    n = len(art.primary)
    count = gt.sub_count[art.primary]
    first = rng.integers(0, count)
    other = (first + 1 + rng.integers(0, np.maximum(count - 1, 1))) % count
    second = gt.sub_start[art.secondary] + rng.integers(0, gt.sub_count[art.secondary])
    rows = np.arange(n)
    two_subs = (rng.random(n) < 0.4) & (count > 1)
    mixed = art.secondary != art.primary
    rows, _, codes = _merge(
        [
            (rows, 0, gt.sub_code[gt.sub_start[art.primary] + first]),
            (rows[two_subs], 1, gt.sub_code[gt.sub_start[art.primary] + other][two_subs]),
            (rows, 2, gt.name_code[art.primary]),
            (rows[mixed], 3, gt.sub_code[second][mixed]),
        ]
    )
    return rows, codes


def _merge(pieces: list[tuple]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Merge (row, order, code) pieces into rows sorted by row then order, one code per row once.

    A code that occurs twice for a row (a sub-genre named like its broad genre) keeps its first
    place.
    """
    rows = np.concatenate([p[0] for p in pieces])
    order = np.concatenate([np.broadcast_to(p[1], len(p[0])) for p in pieces])
    codes = np.concatenate([np.broadcast_to(p[2], len(p[0])) for p in pieces])
    by_code = np.lexsort((order, codes, rows))
    repeat = (rows[by_code][1:] == rows[by_code][:-1]) & (codes[by_code][1:] == codes[by_code][:-1])
    kept = by_code[np.concatenate([[True], ~repeat])]
    kept = kept[np.lexsort((order[kept], rows[kept]))]
    return rows[kept], order[kept], codes[kept]


def _offsets(rows: np.ndarray, n: int) -> pa.Array:
    return pa.array(np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))]), pa.int32())


_MOOD_WORDS = tuple(word for rule in DESCRIPTORS for word in rule.words)
_SEEN_LIVE = "seen live"


def _mood_pieces(rng: np.random.Generator, features: np.ndarray) -> list[tuple]:
    """Mood-tag pieces (the words of :data:`~tunescout.domain.moods.DESCRIPTORS`) whose weight
    (30–100) grows with how clearly the features meet each rule."""
    code = _genres().code
    rows = np.arange(len(features))
    pieces = []
    columns = {name: features[:, j] for j, name in enumerate(AUDIO_FEATURES)}
    for rule in DESCRIPTORS:
        margin = margins(rule, columns)
        weight = np.round(30 + 70 * np.clip(margin / 0.25, 0, 1))
        for rank, tag in enumerate(rule.words):
            # Listeners do not apply every fitting tag; secondary words are rarer and weaker.
            chosen = (margin > 0) & (rng.random(len(features)) < 0.9 - 0.3 * rank)
            pieces.append((rows[chosen], -(weight[chosen] - 10 * rank), code[tag]))
    return pieces


def _artist_tags(
    rng: np.random.Generator,
    art: _Artists,
    features: np.ndarray,
    genre_rows: np.ndarray,
    genre_codes: np.ndarray,
) -> pa.ListArray:
    """Last.fm-style tags: the artist's genres, mood words that fit its sound, "seen live"."""
    n = len(art.primary)
    starts = np.asarray(_offsets(genre_rows, n))[:-1]
    position = np.arange(len(genre_rows)) - starts[genre_rows]
    seen_live = np.flatnonzero(rng.random(n) < art.popularity / 150)
    rows, order, codes = _merge(
        [
            (genre_rows, -np.maximum(100 - 15 * position, 40), genre_codes),
            *_mood_pieces(rng, features),
            (
                seen_live,
                -np.round(10 + 0.3 * art.popularity[seen_live]),
                _genres().code[_SEEN_LIVE],
            ),
        ]
    )
    tag = _genres().vocab.take(pa.array(codes))
    items = pa.StructArray.from_arrays(
        [tag, pa.array(-order, pa.float32())], fields=list(catalog.TAG_TYPE.value_type)
    )
    return pa.ListArray.from_arrays(_offsets(rows, n), items, type=catalog.TAG_TYPE)


# ---------------------------------------------------------------- tracks


def _make_tracks(
    rng: np.random.Generator, art: _Artists, counts: np.ndarray
) -> tuple[dict[str, object], np.ndarray]:
    """Track columns (grouped by artist) and their artist index per row."""
    gt = _genres()
    n = int(counts.sum())
    artist = np.repeat(np.arange(len(counts)), counts)
    features = art.center[artist] + _noise(rng, gt.stds[art.primary[artist]], _TRACK_SPREAD)
    features = _clip_features(features)
    # Albums of 6–14 tracks, one every 1–4 years from the artist's first release.
    position = np.arange(n) - np.repeat(np.cumsum(counts) - counts, counts)
    album_size = rng.integers(6, 15, len(counts))
    album_local = position // album_size[artist]
    n_albums = -(-counts // album_size)
    album = (np.cumsum(n_albums) - n_albums)[artist] + album_local
    gap = 1 + rng.poisson(1.5, len(counts))
    year = np.minimum(art.first_year[artist] + album_local * gap[artist], REFERENCE_TIME.year)
    valence = features[:, AUDIO_FEATURES.index("valence")]
    live = features[:, AUDIO_FEATURES.index("liveness")] > 0.8
    duration = rng.lognormal(np.log(gt.duration_s[art.primary[artist]]), 0.25) * 1000
    popularity = art.popularity[artist] - np.abs(rng.normal(0, 12, n)) + 4 * (year >= 2020)
    columns = {
        "name": _titles(rng, n, live),
        "album": _titles(rng, int(n_albums.sum())).take(pa.array(album)),
        "release_year": year.astype(np.int32),
        "popularity": np.clip(popularity, 0, 100),
        "duration_ms": np.clip(duration, 30_000, 1_200_000).astype(np.int64),
        "key": rng.choice(12, n, p=_KEY_FREQ / _KEY_FREQ.sum()).astype(np.int8),
        "mode": (rng.random(n) < 0.35 + 0.45 * valence).astype(np.int8),
        **{f: features[:, i] for i, f in enumerate(AUDIO_FEATURES)},
    }
    return columns, artist


def _artist_means(features: np.ndarray, artist: np.ndarray, n: int) -> np.ndarray:
    """Mean track features per artist (NaN for artists without tracks)."""
    counts = np.bincount(artist, minlength=n).astype(np.float64)
    sums = np.stack([np.bincount(artist, f, minlength=n) for f in features.T], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / counts[:, None]


# ---------------------------------------------------------------- listeners


def _tastes(rng: np.random.Generator, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """Each user's 1–3 favourite broad genres (U, 3) and Dirichlet weights over them (U, 3)."""
    gt = _genres()
    keys = np.log(gt.share)[None, :] + rng.gumbel(size=(n_users, len(gt.names)))
    genres = np.argsort(-keys, axis=1)[:, :3]
    n_genres = rng.choice([1, 2, 3], n_users, p=[0.3, 0.45, 0.25])
    weights = rng.gamma(1.0, size=(n_users, 3)) * (np.arange(3)[None, :] < n_genres[:, None])
    return genres, weights / weights.sum(axis=1, keepdims=True)


@dataclass(frozen=True)
class _Urns:
    """Artists repeated in proportion to their appeal: one urn per broad genre, then one for all.

    A uniform slot of an urn is an artist drawn with probability proportional to its appeal
    (rounded stochastically to whole slots) at O(1) per draw, which millions of draws need.
    """

    table: np.ndarray  # every urn's slots, one after the other
    start: np.ndarray  # (G + 1,)
    size: np.ndarray  # (G + 1,)


def _urns(rng: np.random.Generator, art: _Artists) -> _Urns:
    n, n_genres = len(art.primary), len(_genres().names)
    appeal = art.listeners.astype(np.float64) ** _CHOICE_EXPONENT
    artist = np.tile(np.arange(n, dtype=np.int32), 3)
    urn = np.concatenate([art.primary, art.secondary, np.full(n, n_genres)])
    weight = np.concatenate([appeal * art.weight, appeal * (1 - art.weight), appeal])
    members = np.bincount(urn, weights=weight > 0, minlength=n_genres + 1)
    mass = np.bincount(urn, weights=weight, minlength=n_genres + 1)
    expected = weight / np.maximum(mass[urn], 1e-300) * _URN_SLOTS * members[urn]
    copies = np.floor(expected + rng.random(len(expected))).astype(np.int64)
    order = np.argsort(urn, kind="stable")
    size = np.bincount(urn, weights=copies, minlength=n_genres + 1).astype(np.int64)
    start = np.concatenate([[0], np.cumsum(size)[:-1]])
    return _Urns(np.repeat(artist[order], copies[order]), start, size)


def _draw_artists(rng: np.random.Generator, urns: _Urns, urn: np.ndarray) -> np.ndarray:
    """One artist per entry of ``urn``; an empty genre urn (tiny catalogs) falls back to all."""
    urn = np.where(urns.size[urn] > 0, urn, len(urns.size) - 1)
    slot = (rng.random(len(urn)) * urns.size[urn]).astype(np.int64)
    return urns.table[urns.start[urn] + slot]


def _first_picks(
    user: np.ndarray, artist: np.ndarray, affinity: np.ndarray, wanted: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each user's first ``wanted`` distinct artists, in draw order, grouped by user."""
    order = np.argsort(user, kind="stable")
    user, artist, affinity = user[order], artist[order], affinity[order]
    key = user * (int(artist.max(initial=0)) + 1) + artist
    _, first = np.unique(key, return_index=True)
    first = np.sort(first)
    user, artist, affinity = user[first], artist[first], affinity[first]
    per_user = np.bincount(user, minlength=len(wanted))
    rank = np.arange(len(user)) - np.repeat(np.cumsum(per_user) - per_user, per_user)
    keep = rank < wanted[user]
    return user[keep], artist[keep], affinity[keep]


def _make_interactions(
    rng: np.random.Generator, art: _Artists, n_users: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """User × artist play counts: (user index, artist index, plays, last played in ms)."""
    genres, taste = _tastes(rng, n_users)
    wanted = np.clip(np.round(10 + rng.lognormal(np.log(15), 0.9, n_users)), 10, 100)
    wanted = np.minimum(wanted, len(art.primary)).astype(np.int64)
    urns = _urns(rng, art)
    everywhere = len(urns.size) - 1
    user, artist = np.empty(0, np.int64), np.empty(0, np.int32)
    affinity = np.empty(0)
    for attempt in range(_DRAW_ROUNDS):
        short = wanted - np.bincount(user, minlength=n_users)
        if not (short > 0).any():
            break
        # Draw more than needed since repeats are dropped. 10% of first-round draws ignore the
        # user's genres; later rounds top up users whose genres hold too few artists from anywhere.
        new_user = np.repeat(np.arange(n_users), np.where(short > 0, 3 * short // 2 + 5, 0))
        slot = _categorical(rng, taste[new_user])
        explore = rng.random(len(new_user)) < (0.1 if attempt == 0 else 1.0)
        picks = _draw_artists(rng, urns, np.where(explore, everywhere, genres[new_user, slot]))
        user, artist, affinity = _first_picks(
            np.concatenate([user, new_user]),
            np.concatenate([artist, picks]),
            np.concatenate([affinity, np.where(explore, 0.2, taste[new_user, slot])]),
            wanted,
        )
    star = (art.listeners[artist] / np.median(art.listeners)) ** _PLAYS_EXPONENT
    plays = np.ceil(rng.lognormal(np.log(30), 1.2, len(user)) * star * (0.5 + affinity))
    recency = rng.beta(1.0, 2.5, len(user)) * HISTORY_DAYS * 86_400_000
    last_ms = int(REFERENCE_TIME.timestamp() * 1000) - recency.astype(np.int64)
    return user, artist, plays, last_ms


# ---------------------------------------------------------------- assembly


def _frame(table: str, columns: dict[str, object]) -> pd.DataFrame:
    """Columns (numpy or Arrow) as a frame with exactly the catalog schema's types."""
    schema = catalog.arrow_schema(table)
    arrays = [
        col
        if isinstance(col := columns[f.name], pa.Array)
        else pa.array(col, f.type, from_pandas=True)
        for f in schema
    ]
    return catalog.to_pandas(pa.Table.from_arrays(arrays, schema=schema))


def generate(
    n_tracks: int = 20_000,
    n_users: int = 2_000,
    n_artists: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> RawBundle:
    """Generate a realistic, plainly labelled synthetic catalog.

    Artists get made-up names, a genre mix, a long-tailed audience and a typical sound drawn
    around the genre priors; their tracks scatter around that sound; tags follow the genres and
    the artist's mean features; users with a taste over 1–3 genres play 10–100 artists chosen by
    taste and popularity. The same arguments always give the same frames.

    Args:
        n_tracks: Number of tracks.
        n_users: Number of listeners (``synthetic:<n>``); 0 gives no interactions.
        n_artists: Number of artists; default one per eight tracks. With more artists than
            tracks, some artists have no tracks (and no features).
        seed: Random seed. Tracks and artists do not depend on ``n_users``.
        progress: Show a progress bar over the generation stages.

    Returns:
        A :class:`RawBundle` with source ``synthetic`` whose frames pass :func:`catalog.validate`.

    Raises:
        InputError: When a size is out of range.

    Example:
        >>> bundle = generate(n_tracks=200, n_users=20, seed=1)
        >>> bundle.tracks["features_source"].unique().tolist()
        ['synthetic']
    """
    n_artists = max(1, n_tracks // 8) if n_artists is None else n_artists
    if n_tracks < 1 or n_artists < 1 or n_users < 0:
        raise InputError(
            "synthetic catalog needs n_tracks >= 1, n_artists >= 1, n_users >= 0 "
            f"(got {n_tracks}, {n_artists}, {n_users})"
        )
    started = time.perf_counter()
    rng_artists, rng_tracks, rng_tags, rng_users = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    with tqdm(total=4, desc="synthetic catalog", disable=not progress) as bar:
        art = _make_artists(rng_artists, n_artists)
        counts = _track_counts(rng_artists, n_tracks, art.listeners)
        genre_rows, genre_codes = _artist_genres(rng_artists, art)
        bar.update()
        columns, track_artist = _make_tracks(rng_tracks, art, counts)
        features = np.stack([columns[f] for f in AUDIO_FEATURES], axis=1)
        means = _artist_means(features, track_artist, n_artists)
        bar.update()
        # Artists without tracks are tagged from their typical sound instead of a track mean.
        tag_basis = np.where(np.isnan(means), art.center, means)
        tags = _artist_tags(rng_tags, art, tag_basis, genre_rows, genre_codes)
        bar.update()
        interactions = _make_interactions(rng_users, art, n_users)
        bar.update()
    genres = pa.ListArray.from_arrays(
        _offsets(genre_rows, n_artists), _genres().vocab.take(pa.array(genre_codes))
    )
    artist_ids = _ids("syn-a", n_artists, max(6, len(str(n_artists - 1))))
    bundle = RawBundle(
        source=SOURCE,
        tracks=_tracks_frame(columns, track_artist, artist_ids, art, genres),
        artists=_artists_frame(art, artist_ids, genres, tags, means, counts),
        interactions=_interactions_frame(interactions, artist_ids),
        params={"n_tracks": n_tracks, "n_users": n_users, "n_artists": n_artists, "seed": seed},
        notes=[
            f"synthetic data: {n_artists} made-up artists, {n_tracks} tracks and {n_users} "
            f"listeners generated from genre priors (seed {seed}); not real music or people"
        ],
    )
    log.info(
        "synthetic catalog: %d tracks, %d artists, %d interactions in %.1fs",
        len(bundle.tracks),
        n_artists,
        len(bundle.interactions),
        time.perf_counter() - started,
    )
    return bundle


def _tracks_frame(
    columns: dict[str, object],
    artist: np.ndarray,
    artist_ids: pa.Array,
    art: _Artists,
    genres: pa.ListArray,
) -> pd.DataFrame:
    n = len(artist)
    index = pa.array(artist)
    return _frame(
        "tracks",
        {
            **columns,
            "track_id": _ids("syn-t", n, max(7, len(str(n - 1)))),
            "artist_id": artist_ids.take(index),
            "artist_name": pa.array(art.names).take(index),
            "genres": genres.take(index),
            "features_source": _repeat(SOURCE, n),
            "source": _repeat(SOURCE, n),
        },
    )


def _artists_frame(
    art: _Artists,
    artist_ids: pa.Array,
    genres: pa.ListArray,
    tags: pa.ListArray,
    means: np.ndarray,
    counts: np.ndarray,
) -> pd.DataFrame:
    n = len(artist_ids)
    return _frame(
        "artists",
        {
            "artist_id": artist_ids,
            "name": art.names,
            "genres": genres,
            "tags": tags,
            "popularity": art.popularity,
            "listeners": art.listeners,
            **{f: means[:, i] for i, f in enumerate(AUDIO_FEATURES)},
            "features_source": np.where(counts > 0, SOURCE, None),
            "track_count": counts.astype(np.int32),
            "source": _repeat(SOURCE, n),
        },
    )


def _interactions_frame(interactions: tuple[np.ndarray, ...], artist_ids: pa.Array) -> pd.DataFrame:
    user, artist, plays, last_ms = interactions
    n = len(user)
    user_ids = _ids("synthetic:", int(user.max(initial=-1)) + 1, 0)
    return _frame(
        "interactions",
        {
            "user_id": user_ids.take(pa.array(user)),
            "artist_id": artist_ids.take(pa.array(artist)),
            "track_id": pa.nulls(n, pa.string()),
            "weight": plays,
            "timestamp": last_ms.astype("datetime64[ms]"),
            "source": _repeat(SOURCE, n),
        },
    )
