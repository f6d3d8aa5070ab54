"""First run: the app's build, a background job owned by the data directory, not by a page.

:func:`start` launches ``python -m tunescout.firstrun`` as its own process (its own session, so it
outlives the page, the browser tab and the app) and hands it the data directory's lock
(:mod:`tunescout.jobs`), or joins the job that already holds the lock: every session of every app
process sees the same job through ``jobs/build.json``, and no second build starts. The job
(:func:`run`) goes through these steps, each skipped when its result is already there, so a job
that was killed resumes where it stopped:

1. ``collect``: ``auto`` (APIs with credentials, public downloads, files under the data dir, else
   synthetic) when nothing was collected yet, or always on a rebuild; the outcome — which sources
   were tried and why each was skipped — is kept for Home (:func:`tunescout.jobs.save_outcome`);
2. ``catalog``: assembled when missing (or on a rebuild);
3. the fast indexes (audio, ALS and any other but the deferred ones) published as a build that
   becomes current at once: the app is usable with mood search from features, genres and tags;
4. ``query encoder``: MiniLM for queries (mood search reads every request with it) loaded and,
   on a first run, exported to ONNX and verified once; this runs in a thread from the job's start,
   beside steps 1–3, and the fast build is published only when it is done, so the app loads a
   ready query encoder instead of exporting its own copy while the job does the same;
5. the deferred ``semantic`` index in a second build that carries the others over; the app picks
   it up on its next page run (the engine is cached per build id).

``scripts/build.py`` and ``scripts/collect.py`` take the same lock, so the app and the command line
never write one data directory at once.
"""

from __future__ import annotations

import argparse
import logging
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from tunescout import catalog, jobs
from tunescout.catalog import snapshots as raw
from tunescout.config import Settings, load_settings
from tunescout.errors import ArtifactError, DataMissingError, TunescoutError
from tunescout.indexes import store
from tunescout.indexes.build import TABLE

log = logging.getLogger(__name__)

LATER = ("semantic",)  # built after the app is usable; everything else first
COLLECT, CATALOG, ENCODER = "collect", "catalog", "query encoder"
LABELS: dict[str, tuple[str, str]] = {  # step -> (what the page says, unit of its counts)
    COLLECT: ("collecting data (APIs, public downloads, local files, else synthetic)", ""),
    CATALOG: ("assembling the catalog", ""),
    "audio": ("audio-feature index", "items"),
    "als": ("co-listening (ALS) index", "items"),
    ENCODER: ("preparing the query encoder (a one-time ONNX export)", ""),
    "semantic": ("semantic (MiniLM) index", "documents"),
    TABLE: ("every item's neighbours (for fast similar lists)", "items"),
}


def is_ready(settings: Settings) -> bool:
    """Whether a catalog and a verified build made from it exist."""
    try:
        manifest = catalog.read_manifest(settings.catalog_dir)
        store.open_current(settings.index_dir, manifest["catalog_hash"])
    except (DataMissingError, ArtifactError):
        return False
    return True


def _label(step: str) -> tuple[str, str]:
    return LABELS.get(step, (f"{step} index", "items"))


class _Steps(jobs.Job):
    """A :class:`~tunescout.jobs.Job` that labels the build's steps for the page."""

    def begin(self, step: str, label: str | None = None, unit: str | None = None) -> None:
        default_label, default_unit = _label(step)
        super().begin(step, label or default_label, unit or default_unit or None)


def _models(settings: Settings, catalog_hash: str, *derived: str) -> set[str]:
    """The models the current build holds for this catalog (none when it was made from another),
    and which of the ``derived`` components."""
    try:
        current = store.open_current(settings.index_dir, catalog_hash)
    except (DataMissingError, ArtifactError):
        return set()
    return set(current.models) | {name for name in derived if name in current.components}


def _components(listening: bool) -> tuple[list[str], list[str]]:
    """The models to build first and later (ALS only with listening data)."""
    from tunescout.indexes.build import NEEDS_LISTENING, components

    every = [m for m in components() if listening or m not in NEEDS_LISTENING]
    return [m for m in every if m not in LATER], [m for m in every if m in LATER]


def plan(settings: Settings, rebuild: bool = False) -> list[str]:
    """The steps a job would run now (what is already there is skipped)."""
    steps = []
    if rebuild or not raw.latest_sources(settings.raw_dir):
        steps += [COLLECT, CATALOG]
    else:
        try:
            manifest = catalog.read_manifest(settings.catalog_dir)
        except (DataMissingError, ArtifactError):
            steps.append(CATALOG)
        else:
            have = _models(settings, manifest["catalog_hash"], TABLE)
            first, later = _components(bool(manifest.get("rows", {}).get("interactions", 1)))
            missing_later = [m for m in later if m not in have]
            missing_first = [m for m in first if m not in have]
            encoder = [ENCODER] if missing_first or missing_later else []
            table = [TABLE] if TABLE not in have or missing_first or missing_later else []
            return [*missing_first, *encoder, *missing_later, *table]
    first, later = _components(True)
    return [*steps, *first, ENCODER, *later, TABLE]


def run(
    settings: Settings,
    rebuild: bool = False,
    job: jobs.Job | None = None,
    options: object | None = None,
) -> list[str]:
    """The first-run steps in this process, holding the data directory's lock throughout.

    Args:
        settings: Where data lives.
        rebuild: Collect and assemble again even when data exists (e.g. after adding credentials).
        job: Where progress goes (a new one, from this process, by default).
        options: :class:`tunescout.collect.runner.Options` for the collection.

    Returns:
        What was done, one line per step (empty when everything was there).
    """
    with jobs.exclusive(settings.data_dir, say=log.warning):
        job = job or _Steps(
            settings.data_dir, "rebuild" if rebuild else "first run", [], "this process"
        )
        job.plan(plan(settings, rebuild))
        try:
            done = _run(settings, rebuild, job, options)
        except BaseException as exc:
            job.fail(exc if not isinstance(exc, KeyboardInterrupt) else "interrupted")
            raise
        job.succeed("; ".join(done) or "the data was already there")
        return done


class _Encoder(threading.Thread):
    """Prepares the query encoder beside the other steps (see the module's step 4)."""

    def __init__(self) -> None:
        super().__init__(name="query-encoder", daemon=True)
        self.note, self.seconds, self.recorded = "", 0.0, False

    def run(self) -> None:
        started = time.perf_counter()
        self.note = _warm_query_encoder()
        self.seconds = time.perf_counter() - started

    def wait(self, job: jobs.Job) -> None:
        """Join it, shown as the ``query encoder`` step (recorded once)."""
        if self.recorded:
            return
        if job.data.get("step"):
            job.end()
        if self.is_alive():
            job.begin(ENCODER)
            self.join()
            job.end(self.note)
        else:
            self.join()
            job.record(ENCODER, self.seconds, self.note, _label(ENCODER)[0])
        self.recorded = True


def _run(settings: Settings, rebuild: bool, job: jobs.Job, options: object | None) -> list[str]:
    from tunescout.catalog.assemble import build_catalog
    from tunescout.collect.runner import collect
    from tunescout.indexes.build import build_indexes

    done = []
    encoder = _Encoder()
    if job.data["steps"]:  # something to build: the app will need the query encoder with it
        encoder.start()
    if rebuild or not raw.latest_sources(settings.raw_dir):
        job.begin(COLLECT)
        outcome = collect(settings, "auto", options)
        jobs.save_outcome(settings.data_dir, outcome)
        job.end(outcome.message)
        done.append(outcome.message)
    try:
        manifest = None if rebuild else catalog.read_manifest(settings.catalog_dir)
    except (DataMissingError, ArtifactError) as exc:
        log.info("assembling the catalog: %s", exc)
        manifest = None
    if manifest is None:
        job.begin(CATALOG)
        build_catalog(settings)
        manifest = catalog.read_manifest(settings.catalog_dir)
        rows = manifest.get("rows", {})
        names = {"tracks": "tracks", "artists": "artists", "interactions": "listening events"}
        note = ", ".join(f"{rows.get(key, 0):,} {name}" for key, name in names.items())
        job.end(note)
        done.append(f"catalog built ({note})")

    have = _models(settings, manifest["catalog_hash"])
    first, later = _components(bool(manifest.get("rows", {}).get("interactions", 1)))
    missing = [m for m in first if m not in have]
    if missing:
        build = build_indexes(
            settings,
            only=missing if have else None,
            progress=False,
            defer=LATER,
            on_progress=job.progress,
            before_publish=lambda: encoder.wait(job),
        )
        _published(job, build)
        done.append(f"{', '.join(missing)} ready in build {build.id}")
    missing = [m for m in later if m not in _models(settings, manifest["catalog_hash"])]
    if missing:
        encoder.wait(job)
        build = build_indexes(
            settings, only=missing, progress=False, on_progress=job.progress, defer=(TABLE,)
        )
        _published(job, build)
        done.append(f"{', '.join(missing)} ready in build {build.id}")
    if TABLE not in _models(settings, manifest["catalog_hash"], TABLE):  # last, once usable
        build = build_indexes(settings, only=(TABLE,), progress=False, on_progress=job.progress)
        _published(job, build)
        done.append(f"neighbour lists ready in build {build.id}")
    return done


def _published(job: jobs.Job, build: store.Build) -> None:
    if job.data.get("step"):
        job.end()
    job.update(ready=sorted(build.models), build=build.id)


def _warm_query_encoder() -> str:
    """Export and verify MiniLM for queries now (cached for every later process)."""
    try:
        from tunescout.indexes.encoding.encoder import load_encoder

        return "queries run on " + ("onnx" if load_encoder().query_encoder() else "torch")
    except Exception as exc:  # queries fall back to torch; the build itself may still work
        log.warning("the query encoder could not be prepared: %s", exc)
        return f"not prepared ({exc})"


# ---- the background job ----------------------------------------------------------------------


def start(
    settings: Settings,
    rebuild: bool = False,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
) -> dict:
    """Start the first run (or a rebuild) as a background process, or join the one running.

    The lock is taken here and handed to the new process (its descriptor is inherited), so there
    is no moment at which a second request could start a second build.

    Args:
        settings: The data directory to build.
        rebuild: Collect and assemble again although data exists.
        env: The job's environment (default: this process's).
        cwd: The job's working directory, where ``.env`` is read (default: this one).

    Returns:
        The job's status (:func:`tunescout.jobs.status`); ``joined`` is true when a job was
        already running and no new one was started.
    """
    lock = jobs.DataLock(settings.data_dir)
    if not lock.acquire(wait=1.0):
        return {**(jobs.status(settings.data_dir) or {}), "joined": True}
    try:
        job = _Steps(
            settings.data_dir, "rebuild" if rebuild else "first run", plan(settings, rebuild),
            "the app",
        )  # fmt: skip
        job.begin("starting", "starting the build process")
        log_path = jobs.jobs_dir(settings.data_dir) / jobs.LOG
        fd = lock.fd()
        command = [
            sys.executable, "-m", "tunescout.firstrun", "--data-dir",
            str(Path(settings.data_dir).resolve()), "--lock-fd", str(fd),
            *(["--rebuild"] if rebuild else []),
        ]  # fmt: skip
        try:
            with log_path.open("w") as out:
                proc = subprocess.Popen(
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    pass_fds=(fd,),
                    start_new_session=True,  # a Ctrl-C of the app or a closed tab leaves it running
                    env=dict(env) if env is not None else None,
                    cwd=cwd,
                )
        except OSError as exc:
            job.fail(f"the build process could not start: {exc}")
            raise TunescoutError(f"the build process could not start: {exc}") from exc
        jobs.adopt_child(proc)
        job.update(pid=proc.pid)
    finally:
        lock.release()  # the child holds the same lock through its inherited descriptor
    return {**(jobs.status(settings.data_dir) or job.data), "joined": False}


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="tunescout's first-run build (started by the app)")
    p.add_argument("--data-dir", type=Path, required=True)
    p.add_argument("--rebuild", action="store_true", help="collect and assemble again")
    p.add_argument("--lock-fd", type=int, help="the data directory's lock, taken by the parent")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """The background job's entry point: ``python -m tunescout.firstrun --data-dir DIR``."""
    from tunescout.cli import setup_logging

    args = _parse(argv)
    setup_logging()
    settings = load_settings(args.data_dir)
    lock = jobs.DataLock(settings.data_dir)
    if args.lock_fd is not None:
        lock.adopt(args.lock_fd)
    elif not lock.acquire(wait=0):
        print(f"joined: {jobs.describe(jobs.status(settings.data_dir))} is already building")
        return 0
    try:
        job = _Steps(
            settings.data_dir, "rebuild" if args.rebuild else "first run", [], "the app",
        )  # fmt: skip
        try:
            done = run(settings, args.rebuild, job)
        except TunescoutError as exc:
            log.error("%s", exc)
            return 1
        except Exception:
            log.exception("the build failed")
            return 1
        print("; ".join(done) or "the data was already there")
        return 0
    finally:
        lock.release()


if __name__ == "__main__":
    sys.exit(main())
