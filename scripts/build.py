"""Build the catalog from the latest raw snapshots, then the indexes: `python scripts/build.py --help`.

Holds the data directory's lock throughout (the app's background build takes the same one): when
another build is running, this one waits for it. Progress is also written to `jobs/build.json`, so
the app shows what the command line is doing.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from tqdm import tqdm

from tunescout import jobs
from tunescout.catalog import read_manifest
from tunescout.catalog.assemble import build_catalog
from tunescout.cli import run, setup_logging
from tunescout.config import load_settings
from tunescout.firstrun import LABELS
from tunescout.indexes.build import TABLE, build_indexes, components

STEPS = ("catalog", *components(), TABLE)


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
    p.add_argument(
        "--wait",
        type=float,
        help="seconds to wait for another build of the same data dir (default: until it ends)",
    )
    p.add_argument(
        "--engine",
        choices=("local", "spark"),
        default="local",
        help="local: this process (default); spark: the catalog's row work, ALS and MiniLM "
        "encoding on Apache Spark, into the same verified build (docs/SCALING.md)",
    )
    p.add_argument(
        "--master",
        default="local[*]",
        help="with --engine spark: local[*], local[N], spark://host:7077, yarn or "
        "k8s://https://host:port (default: local[*])",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = p.parse_args()
    if args.master != "local[*]" and args.engine != "spark":
        p.error("--master needs --engine spark")
    return args


class ConsoleJob(jobs.Job):
    """The job status for the app, and a tqdm bar per counted step on the console."""

    bar: tqdm | None = None

    def begin(self, step: str, label: str | None = None, unit: str | None = None) -> None:
        default_label, default_unit = LABELS.get(step, (f"{step} index", "items"))
        super().begin(step, label or default_label, unit or default_unit or None)

    def count(self, done: int, total: int) -> None:
        super().count(done, total)
        if self.bar is None:
            self.bar = tqdm(total=total, desc=self.data["label"], unit=f" {self.data['unit']}")
        self.bar.total = total
        self.bar.update(done - self.bar.n)

    def end(self, note: str = "", ready=()) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        super().end(note, ready)


def main() -> None:
    args = parse_args()
    setup_logging(args.verbose)
    settings = load_settings(args.data_dir)
    steps = args.only or list(STEPS)
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731
    with jobs.exclusive(settings.data_dir, wait=args.wait, say=say):
        job = ConsoleJob(settings.data_dir, "build", steps, "the command line")
        try:
            if args.engine == "spark":
                build_on_spark(settings, steps, args.sources, job, args.master)
            else:
                build(settings, steps, args.sources, job)
        except BaseException as exc:
            job.fail(exc if not isinstance(exc, KeyboardInterrupt) else "interrupted")
            raise
        job.succeed("built " + ", ".join(steps))


def build(settings, steps: list[str], sources: list[str] | None, job: ConsoleJob) -> None:
    if "catalog" in steps:
        job.begin("catalog")
        build_catalog(settings, sources)
        manifest = read_manifest(settings.catalog_dir)
        job.end(json.dumps(manifest["rows"]))
        print(f"catalog: {settings.catalog_dir} {json.dumps(manifest['rows'])}")
        if manifest.get("coverage"):
            print(f"hetrec listening on artists with measured features: {manifest['coverage']}")
        if manifest.get("synthetic"):
            print("note: this catalog is SYNTHETIC (no real data was collected)")
    models = [s for s in steps if s != "catalog"]
    if models:
        result = build_indexes(settings, models, progress=False, on_progress=job.progress)
        if job.data["step"]:
            job.end()
        job.update(ready=sorted(result.models), build=result.id)
        print(f"indexes: {result.folder} {sorted(result.components)}")


def build_on_spark(
    settings, steps: list[str], sources: list[str] | None, job: ConsoleJob, master: str
) -> None:
    """The same steps on Spark (tunescout.spark): the same catalog files and verified build."""
    from tunescout.spark.build import run as run_spark

    timings: dict[str, float] = {}
    steps = [s for s in steps if s != TABLE]  # the Spark build writes no neighbour table
    result = run_spark(
        settings,
        steps,
        master,
        sources,
        on_step=lambda step: job.begin(step) if step == "catalog" else None,
        on_progress=job.progress,
        timings=timings,  # fmt: skip
    )
    if "catalog" in steps:
        manifest = read_manifest(settings.catalog_dir)
        print(f"catalog (spark): {settings.catalog_dir} {json.dumps(manifest['rows'])}")
    if job.data["step"]:
        job.end()
    if result is not None:
        job.update(ready=sorted(result.models), build=result.id)
        print(f"indexes (spark): {result.folder} {sorted(result.components)}")
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in timings.items()))


if __name__ == "__main__":
    run(main)
