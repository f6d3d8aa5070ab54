"""The Deezer valence/arousal check: catalog songs matched to Deezer's mood labels (derived from
Last.fm tags, independent of Spotify's features) and each quadrant's lift over all labelled songs."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunescout.catalog import Catalog
from tunescout.domain.songs import song_keys
from tunescout.errors import InputError
from tunescout.research.protocol import json_ready, nanmean
from tunescout.research.requests import QUADRANTS

log = logging.getLogger(__name__)
RestrictedSearchFn = Callable[[str, int, frozenset[str]], pd.DataFrame]


def read_deezer(deezer_dir: Path | str) -> pd.DataFrame:
    """The Deezer mood labels: train, validation and test CSVs together.

    Args:
        deezer_dir: The folder holding the dataset's CSVs.

    Returns:
        Columns artist_name, track_name, valence, arousal.

    Raises:
        InputError: No CSVs in the folder.
    """
    paths = sorted(Path(deezer_dir).glob("*.csv"))
    if not paths:
        raise InputError(f"{deezer_dir}: no Deezer mood CSVs (train.csv, validation.csv, test.csv)")
    frames = [
        pd.read_csv(p, usecols=["artist_name", "track_name", "valence", "arousal"]) for p in paths
    ]
    return pd.concat(frames, ignore_index=True)


def deezer_labels(catalog: Catalog, deezer_dir: Path | str) -> pd.DataFrame:
    """Deezer valence and arousal for the catalog tracks whose song Deezer labels.

    Songs match on :func:`~tunescout.domain.songs.song_key` of (artist, title); a song Deezer
    labels twice gets the mean. Valence and arousal are then standardised over the matched songs
    (each song once, however many catalog recordings it has).

    Args:
        catalog: The catalog.
        deezer_dir: The folder with the Deezer CSVs.

    Returns:
        One row per matched catalog track: track_id, song, valence, arousal (z-scores).
    """
    deezer = read_deezer(deezer_dir)
    deezer["song"] = song_keys(deezer["artist_name"], deezer["track_name"])
    by_song = deezer.groupby("song")[["valence", "arousal"]].mean()
    tracks = pd.DataFrame(
        {
            "track_id": catalog.tracks["track_id"].to_numpy(),
            "song": song_keys(catalog.tracks["artist_name"], catalog.tracks["name"]),
        }
    )
    matched = tracks.join(by_song, on="song", how="inner").reset_index(drop=True)
    songs = matched.drop_duplicates("song")
    for column in ("valence", "arousal"):
        matched[column] = (matched[column] - songs[column].mean()) / songs[column].std(ddof=0)
    log.info(
        "Deezer labels: %d catalog tracks (%d songs) matched",
        len(matched),
        matched["song"].nunique(),
    )
    return matched


def quadrant_score(labels: pd.DataFrame, quadrant: str) -> np.ndarray:
    """Each labelled row's signed score for a quadrant: the mean of the two signed z-scores.

    Args:
        labels: Rows with standardised valence and arousal.
        quadrant: One of happy (+v, +a), angry (-v, +a), sad (-v, -a), calm (+v, -a).

    Returns:
        One score per row.
    """
    sv, sa = QUADRANTS[quadrant]
    return (sv * labels["valence"].to_numpy() + sa * labels["arousal"].to_numpy()) / 2


def quadrant_lift(
    search_restricted: RestrictedSearchFn,
    labels: pd.DataFrame,
    quadrants: Mapping[str, Sequence[str]],
    k: int = 10,
) -> dict[str, Any]:
    """How far each mood request's results move toward its quadrant, against all labelled songs.

    Args:
        search_restricted: ``search_restricted(text, k, allowed_track_ids)``, the top ``k`` among
            the allowed (labelled) tracks only.
        labels: From :func:`deezer_labels`.
        quadrants: Quadrant -> request texts.
        k: The cutoff.

    Returns:
        JSON-ready ``{"requests", "by_quadrant", "overall"}``: per request its lift (mean signed
        score of its labelled results minus the mean over all labelled songs), mean valence and
        arousal z and result count; per quadrant the mean lift; overall the mean over requests.
    """
    allowed = frozenset(labels["track_id"])
    by_track = labels.set_index("track_id")
    songs = labels.drop_duplicates("song")
    rows = []
    for quadrant, texts in quadrants.items():
        if quadrant not in QUADRANTS:
            raise InputError(f"unknown quadrant {quadrant!r} (known: {list(QUADRANTS)})")
        base = float(quadrant_score(songs, quadrant).mean())
        for text in texts:
            ids = [str(t) for t in search_restricted(text, k, allowed)["track_id"].head(k)]
            got = by_track.loc[[t for t in ids if t in by_track.index]]
            lift = float(quadrant_score(got, quadrant).mean()) - base if len(got) else float("nan")
            rows.append(
                {
                    "quadrant": quadrant,
                    "text": text,
                    "n": len(got),
                    "lift": lift,
                    "valence": float(got["valence"].mean()) if len(got) else float("nan"),
                    "arousal": float(got["arousal"].mean()) if len(got) else float("nan"),
                }
            )
    frame = pd.DataFrame(rows)
    by_quadrant = {q: nanmean(g["lift"]) for q, g in frame.groupby("quadrant", sort=False)}
    return json_ready(
        {"requests": rows, "by_quadrant": by_quadrant, "overall": nanmean(frame["lift"])}
    )
