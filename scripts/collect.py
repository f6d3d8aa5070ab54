"""Collect raw data into weekly snapshots: `python scripts/collect.py --help`.

Holds the data directory's lock while it collects (builds, here or in the app, take the same one)
and keeps the outcome — which sources were tried and why each was skipped — for the app's Home.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tunescout import jobs
from tunescout.cli import run, setup_logging
from tunescout.collect.runner import SOURCES, Options, collect
from tunescout.config import load_settings


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split(":")[0])
    p.add_argument(
        "--source",
        choices=SOURCES,
        default="auto",
        help="auto tries the APIs (with credentials), public downloads, files under the "
        "data dir, then synthetic data (default: auto)",
    )
    p.add_argument(
        "--data-dir", type=Path, help="where data lives (default: $TUNESCOUT_DATA_DIR or data/)"
    )
    files = p.add_argument_group("files (--source files)")
    files.add_argument("--spotify-csv", type=Path, help="TidyTuesday spotify_songs.csv")
    files.add_argument("--lastfm-dir", type=Path, help="HetRec 2011 Last.fm 2K folder")
    files.add_argument(
        "--kaggle-csv", type=Path, help="Kaggle 'Spotify Tracks Dataset' dataset.csv"
    )
    files.add_argument("--artists-csv", type=Path, help="Spotify 1921-2020 data_w_genres.csv")
    syn = p.add_argument_group("synthetic (--source synthetic)")
    syn.add_argument("--tracks", type=int, default=20_000, help="number of tracks (default: 20000)")
    syn.add_argument("--users", type=int, default=2_000, help="number of users (default: 2000)")
    syn.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    api = p.add_argument_group("APIs (--source spotify / lastfm)")
    api.add_argument("--genres", nargs="*", help="Spotify genre seeds to search")
    api.add_argument("--playlists", nargs="*", default=[], help="Spotify playlist ids to read")
    api.add_argument("--max-per-query", type=int, help="Spotify tracks per search query")
    api.add_argument("--mood-tags", nargs="*", help="Last.fm mood tags to collect artists for")
    api.add_argument("--seed-users", nargs="*", help="Last.fm users to start the friend walk from")
    api.add_argument("--max-users", type=int, help="Last.fm users to reach")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p.parse_args()


def _given(pairs: dict) -> dict:
    return {k: v for k, v in pairs.items() if v}


def main() -> None:
    args = parse_args()
    setup_logging(args.verbose)
    settings = load_settings(args.data_dir)
    opts = Options(
        file_paths=_given(
            {
                "tidytuesday": args.spotify_csv,
                "hetrec": args.lastfm_dir,
                "kaggle": args.kaggle_csv,
                "spotify1921": args.artists_csv,
            }
        ),
        synthetic_tracks=args.tracks,
        synthetic_users=args.users,
        seed=args.seed,
        spotify=_given(
            {
                "genres": args.genres,
                "playlists": args.playlists,
                "max_per_query": args.max_per_query,
            }
        ),
        lastfm=_given(
            {
                "mood_tags": args.mood_tags,
                "seed_users": args.seed_users,
                "max_users": args.max_users,
            }
        ),
    )
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731
    with jobs.exclusive(settings.data_dir, say=say):
        job = jobs.Job(settings.data_dir, "collection", ["collect"], "the command line")
        job.begin("collect", f"collecting from {args.source}")
        try:
            outcome = collect(settings, args.source, opts)
        except BaseException as exc:
            job.fail(exc if not isinstance(exc, KeyboardInterrupt) else "interrupted")
            raise
        jobs.save_outcome(settings.data_dir, outcome)
        job.end(outcome.message)
        job.succeed(outcome.message)
    print(outcome.message)
    for path in outcome.snapshots:
        print(f"snapshot: {path}")


if __name__ == "__main__":
    run(main)
