"""The audio features Spotify measures, as tunescout names them (one definition for every stage)."""

from __future__ import annotations

UNIT_FEATURES = [
    "danceability",
    "energy",
    "valence",
    "acousticness",
    "instrumentalness",
    "speechiness",
    "liveness",
]
AUDIO_FEATURES = [*UNIT_FEATURES, "tempo", "loudness"]
FEATURE_SOURCES = ("measured", "estimated", "synthetic")
