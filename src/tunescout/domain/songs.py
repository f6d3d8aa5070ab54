"""One key per song (same artist, same title up to version suffixes) so that lists show one
recording per song: remasters, edits, live and acoustic takes, featured credits and remixes fold
into the original, while parts ("Pt. 2"), interludes and covers by another artist stay apart."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

import numpy as np
import pandas as pd

# A suffix naming one of these marks another recording of the same song.
_VERSION_WORDS = (
    r"remaster(?:ed)?|remasterizado|remasterizada|remix(?:es|ed)?|rmx|mix|mixed|edit|version|"
    r"versions|live|vivo|directo|acoustic|acustico|acustica|unplugged|mono|stereo|demo|single|"
    r"radio|extended|original|bonus|explicit|clean|dirty|re recorded|rerecorded|recorded|"
    r"session|sessions|performance|instrumental|deluxe|edition|rework|bootleg|vip|dub|"
    r"anniversary|spotify"
)
_VERSION = re.compile(rf"\b(?:{_VERSION_WORDS})\b")
# A suffix starting with one of these credits someone or something besides the song.
_CREDIT = re.compile(r"^(?:feat|ft|featuring|with|con|from|prod|produced by)\b")
_YEAR = re.compile(r"(?:19|20)\d\d")  # " - 2011" after a title is a remaster year
_PAREN_TAIL = re.compile(r"\s*[(\[]([^()\[\]]*)[)\]]\s*$")
_DASH_TAIL = re.compile(r"\s+[-\u2013\u2014]\s+((?:(?!\s[-\u2013\u2014]\s).)*)$")
_FEAT_TAIL = re.compile(r"\s+(?:feat\.?|ft\.|featuring)\s+.*$", re.IGNORECASE)
_APOSTROPHES = re.compile(r"['\u2019\u2018`\u00b4]")
_NON_WORD = re.compile(r"[^\w]+|_")


def fold(text: str | None) -> str:
    """Casefold, strip accents, drop apostrophes, spell '&' as 'and', turn punctuation into spaces.

    Args:
        text: Any name or title (None counts as empty).

    Returns:
        Lower-case ASCII-ish words separated by single spaces ("Beyoncé & Jay-Z" -> "beyonce and jay z").
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKD", str(text))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    text = _APOSTROPHES.sub("", text.replace("&", " and "))
    return " ".join(_NON_WORD.sub(" ", text).split())


def _is_version_suffix(suffix: str) -> bool:
    words = fold(suffix)
    return bool(words) and bool(
        _VERSION.search(words) or _CREDIT.search(words) or _YEAR.fullmatch(words)
    )


def base_title(title: str | None) -> str:
    """The title without trailing version suffixes such as " - Remastered 2011" or "(feat. X)".

    Args:
        title: A track title as a catalog or a label file spells it.

    Returns:
        The title with every trailing version or credit suffix removed (not yet folded); the title
        itself when removing would leave nothing.
    """
    text = str(title or "").strip()
    while True:
        for pattern in (_PAREN_TAIL, _DASH_TAIL):
            match = pattern.search(text)
            if match and _is_version_suffix(match.group(1)) and text[: match.start()].strip():
                text = text[: match.start()].rstrip()
                break
        else:
            stripped = _FEAT_TAIL.sub("", text).rstrip()
            if stripped and stripped != text:
                text = stripped
                continue
            return text


def artist_key(artist: str | None) -> str:
    """The folded artist name without featured artists or a leading "the".

    Args:
        artist: An artist name.

    Returns:
        The folded name ("The Beatles" -> "beatles", "Sia feat. Sean Paul" -> "sia").
    """
    name = fold(_FEAT_TAIL.sub("", str(artist or "")))
    return name.removeprefix("the ") if name != "the" else name


def song_key(artist: str | None, title: str | None) -> str:
    """One key per song: folded artist and folded title without version suffixes.

    Args:
        artist: The performing artist.
        title: The track title.

    Returns:
        ``"<artist>|<title>"``; two recordings of the same song share it.
    """
    return f"{artist_key(artist)}|{fold(base_title(title))}"


def song_keys(artists: Iterable[str | None], titles: Iterable[str | None]) -> np.ndarray:
    """:func:`song_key` over paired sequences.

    Args:
        artists: Artist names.
        titles: Track titles, as many as ``artists``.

    Returns:
        An object array of keys.
    """
    return np.array([song_key(a, t) for a, t in zip(artists, titles, strict=True)], dtype=object)


def first_per_song(keys: Iterable[str]) -> np.ndarray:
    """Which rows are the first occurrence of their song.

    Args:
        keys: Song keys in list order (from :func:`song_key`).

    Returns:
        A boolean mask, True on the first row of each song.
    """
    return ~pd.Series(list(keys), dtype=object).duplicated().to_numpy()
