"""Build the catalog from the latest raw snapshots, then the indexes: `python scripts/build.py --help`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tunescout.catalog import read_manifest
from tunescout.catalog.assemble import build_catalog
from tunescout.cli import run, setup_logging
from tunescout.config import load_settings
from tunescout.indexes.build import build_indexes, components

STEPS = ("catalog", *components())


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split(":")[0])
    p.add_argument(
        "--data-dir", type=Path, help="where data lives (default: $TUNESCOUT_DATA_DIR or data/)"
    )
    p.add_argument(
        "--only",
        choices=STEPS,
        action="append",
        help="build only this step (repeatable); other index components are carried over "
        "from the current build when the catalog is unchanged (default: everything)",
    )
    p.add_argument(
        "--sources",
        nargs="*",
        help="raw sources to build the catalog from (default: the latest snapshot of every "
        "real source, or synthetic when nothing else was collected)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p.parse_args()


def main() -> None:
    args = parse_args()
    setup_logging(args.verbose)
    settings = load_settings(args.data_dir)
    steps = args.only or list(STEPS)
    if "catalog" in steps:
        build_catalog(settings, args.sources)
        manifest = read_manifest(settings.catalog_dir)
        print(f"catalog: {settings.catalog_dir} {json.dumps(manifest['rows'])}")
        if manifest.get("coverage"):
            print(f"hetrec listening on artists with measured features: {manifest['coverage']}")
        if manifest.get("synthetic"):
            print("note: this catalog is SYNTHETIC (no real data was collected)")
    models = [s for s in steps if s != "catalog"]
    if models:
        build = build_indexes(settings, models)
        print(f"indexes: {build.folder} {sorted(build.components)}")


if __name__ == "__main__":
    run(main)
