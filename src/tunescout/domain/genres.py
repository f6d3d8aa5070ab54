"""Genre priors for audio features: typical means and spreads per broad genre.

Used to estimate features where Spotify no longer serves them (``features_source=estimated``) and
to generate the synthetic catalog. The means are rounded from published genre averages of Spotify
audio features (tempo in BPM, loudness in dB).
"""

from __future__ import annotations

import functools
import re

import numpy as np

from tunescout.domain.features import AUDIO_FEATURES

# danceability, energy, valence, acousticness, instrumentalness, speechiness, liveness, tempo, loudness
_MEANS: dict[str, tuple[float, ...]] = {
    "pop": (0.64, 0.70, 0.51, 0.17, 0.02, 0.07, 0.18, 120.0, -6.3),
    "rock": (0.52, 0.73, 0.54, 0.15, 0.06, 0.06, 0.20, 124.0, -7.6),
    "rap": (0.72, 0.65, 0.50, 0.19, 0.01, 0.20, 0.19, 120.0, -7.0),
    "hip hop": (0.73, 0.64, 0.52, 0.17, 0.01, 0.22, 0.19, 112.0, -6.8),
    "r&b": (0.67, 0.59, 0.53, 0.26, 0.03, 0.12, 0.17, 114.0, -7.9),
    "latin": (0.71, 0.71, 0.61, 0.21, 0.04, 0.10, 0.18, 119.0, -6.3),
    "edm": (0.66, 0.80, 0.40, 0.08, 0.22, 0.09, 0.21, 126.0, -5.4),
    "electronic": (0.62, 0.70, 0.38, 0.12, 0.45, 0.07, 0.17, 124.0, -8.0),
    "indie": (0.55, 0.60, 0.44, 0.30, 0.10, 0.05, 0.16, 120.0, -8.2),
    "metal": (0.43, 0.92, 0.32, 0.01, 0.18, 0.09, 0.22, 128.0, -5.0),
    "punk": (0.48, 0.91, 0.52, 0.02, 0.03, 0.08, 0.27, 150.0, -5.2),
    "jazz": (0.57, 0.38, 0.52, 0.66, 0.36, 0.07, 0.16, 112.0, -12.0),
    "classical": (0.30, 0.15, 0.20, 0.92, 0.80, 0.05, 0.13, 100.0, -21.0),
    "ambient": (0.32, 0.20, 0.15, 0.78, 0.85, 0.05, 0.11, 98.0, -19.0),
    "folk": (0.53, 0.38, 0.45, 0.71, 0.05, 0.05, 0.14, 116.0, -10.5),
    "country": (0.58, 0.63, 0.56, 0.27, 0.01, 0.04, 0.18, 122.0, -6.8),
    "soul": (0.58, 0.50, 0.58, 0.40, 0.04, 0.06, 0.18, 112.0, -9.0),
    "blues": (0.52, 0.52, 0.55, 0.45, 0.08, 0.06, 0.22, 118.0, -9.5),
    "reggae": (0.75, 0.58, 0.72, 0.18, 0.05, 0.14, 0.17, 110.0, -7.8),
    "singer-songwriter": (0.52, 0.35, 0.36, 0.72, 0.02, 0.05, 0.13, 114.0, -10.8),
    "soundtrack": (0.28, 0.25, 0.14, 0.75, 0.82, 0.05, 0.12, 102.0, -17.0),
    "lo-fi": (0.68, 0.35, 0.42, 0.65, 0.70, 0.08, 0.12, 84.0, -11.5),
}
_STDS = (0.13, 0.17, 0.22, 0.20, 0.25, 0.08, 0.12, 25.0, 3.0)
_DEFAULT = "pop"
# Words that point at a broad genre when the exact name is not in the table.
_ALIASES = {
    "hip-hop": "hip hop",
    "trap": "rap",
    "dance": "edm",
    "house": "edm",
    "techno": "electronic",
    "trance": "edm",
    "dubstep": "edm",
    "electro": "electronic",
    "idm": "electronic",
    "alternative": "indie",
    "grunge": "rock",
    "emo": "punk",
    "hardcore": "punk",
    "core": "metal",
    "reggaeton": "latin",
    "salsa": "latin",
    "bachata": "latin",
    "tropical": "latin",
    "funk": "soul",
    "motown": "soul",
    "neo soul": "r&b",
    "urban": "r&b",
    "swing": "jazz",
    "bossa": "jazz",
    "orchestra": "classical",
    "baroque": "classical",
    "piano": "classical",
    "chill": "lo-fi",
    "lofi": "lo-fi",
    "new age": "ambient",
    "drone": "ambient",
    "acoustic": "folk",
    "americana": "country",
    "bluegrass": "country",
    "ska": "reggae",
    "dub": "reggae",
    "score": "soundtrack",
    "film": "soundtrack",
    "singer": "singer-songwriter",
    "electronica": "electronic",
    "indietronica": "indie",
    "orchestral": "classical",
    "chillhop": "lo-fi",
    "lofi hip hop": "lo-fi",
    "metalcore": "metal",
    "deathcore": "metal",
    "chillout": "lo-fi",
    "big beat": "electronic",
    "breakbeat": "electronic",
    "rave": "edm",
    "trip-hop": "electronic",
    "trip hop": "electronic",
    "downtempo": "electronic",
    "synth": "electronic",
    "new wave": "rock",
    "easy listening": "jazz",
    "adult standards": "jazz",
    "lounge": "jazz",
    "dancehall": "reggae",
    "r&b": "r&b",
    "rnb": "r&b",
    "grime": "rap",
    "drill": "rap",
    "gothic": "rock",
    "shoegaze": "indie",
}

BROAD_GENRES = tuple(_MEANS)


_TERMS = {**{g: g for g in _MEANS}, **_ALIASES}
_TERM_PATTERN = re.compile(
    r"(?<!\w)(" + "|".join(re.escape(t) for t in sorted(_TERMS, key=len, reverse=True)) + r")(?!\w)"
)


@functools.lru_cache(maxsize=65536)
def broad_genre(genre: str) -> str | None:
    """Map a fine genre onto a broad one, if any, by whole words.

    Genre names put the head noun last ("dance pop" is pop, "pop punk" is punk), so the
    rightmost known term decides.

    >>> [broad_genre(g) for g in ("album rock", "dance pop", "pop punk", "film score", "post-rock")]
    ['rock', 'pop', 'punk', 'soundtrack', 'rock']
    """
    g = genre.casefold().strip()
    if g in _TERMS:
        return _TERMS[g]
    found = list(_TERM_PATTERN.finditer(g))
    return _TERMS[found[-1].group(1)] if found else None


def prior(genre: str) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard deviation of :data:`AUDIO_FEATURES` for a genre (pop when unknown)."""
    broad = broad_genre(genre) or _DEFAULT
    return np.array(_MEANS[broad], dtype=np.float64), np.array(_STDS, dtype=np.float64)


def estimate_features(genres: list[str]) -> dict[str, float]:
    """Estimate audio features as the mean prior of the recognised genres (pop when none is).

    >>> round(estimate_features(["classical"])["acousticness"], 2)
    0.92
    """
    known = [g for g in genres if broad_genre(g)] or [_DEFAULT]
    mean = np.mean([prior(g)[0] for g in known], axis=0)
    return dict(zip(AUDIO_FEATURES, (float(v) for v in mean), strict=True))


# Spellings people type for genres the catalog names otherwise.
GENRE_ALIASES = {
    "hip-hop": "hip hop",
    "hiphop": "hip hop",
    "rnb": "r&b",
    "r and b": "r&b",
    "r'n'b": "r&b",
    "electronic": "edm",
    "electronica": "edm",
    "techno": "edm",
    "house": "edm",
    "latino": "latin",
    "rock and roll": "rock",
    "rock n roll": "rock",
}
# Words listeners use interchangeably for one family of catalog genres ("no rap" leaves out hip hop).
GENRE_SYNONYMS: tuple[tuple[str, ...], ...] = (
    ("rap", "hip hop"),
    ("edm", "electronic", "dance music"),
    ("r&b", "rnb"),
)


_COMPOUND = re.compile(r"^[a-z]{3,}(pop|rock|metal|punk|core|wave|hop|gaze|step|house)$")


def is_genre_word(word: str) -> bool:
    """Whether a listener's tag (or any word) names a genre, by the broad-genre terms above or
    as a compound of one ("britpop", "synthpop", "darkwave")."""
    return broad_genre(word) is not None or bool(_COMPOUND.match(word))


# Listeners' tags that say how much someone likes an artist, not what it sounds like.
GENERIC_TAGS = frozenset(
    {
        "seen live", "favorites", "favourites", "favorite", "favourite", "<3", "awesome",
        "amazing", "love", "cool", "good", "best", "favorite songs", "favourite songs",
        "albums i own", "love at first listen", "my favorite", "best song ever", "good shit",
        "f4nt4stic", "4m4zinq", "nice",
    }
)  # fmt: skip
