"""tunescout: music discovery over Spotify and Last.fm data."""

__version__ = "0.1.0"
