"""The data directory's build as every page sees it: the SYNTHETIC badge, the running job's
progress (polled, so any session sees the same job), and the switch to a new build when one lands.

The job runs in its own process (:mod:`tunescout.firstrun`); pages only read ``jobs/build.json``,
``indexes/CURRENT`` and the catalog's manifest, which costs well under a millisecond a run.
"""

from __future__ import annotations

import streamlit as st

from tunescout import catalog, firstrun, jobs
from tunescout.config import Settings
from tunescout.errors import ArtifactError, DataMissingError, TunescoutError
from tunescout.indexes import store
from tunescout.ui.text import escape

POLL_S = 1.0  # how often a page re-reads the job's status while it runs
_SEEN = "_tunescout_build_seen"


def catalog_info(settings: Settings) -> dict | None:
    """The catalog's manifest, or ``None`` when there is no readable catalog."""
    try:
        return catalog.read_manifest(settings.catalog_dir)
    except (TunescoutError, OSError, ValueError):
        return None


def current_build(settings: Settings) -> str | None:
    """The id ``indexes/CURRENT`` names (``None`` when nothing is built or it is unreadable)."""
    try:
        return store.current_id(settings.index_dir)
    except (ArtifactError, OSError):
        return None


def job(settings: Settings) -> dict | None:
    """The last job's status (:func:`tunescout.jobs.status`)."""
    try:
        return jobs.status(settings.data_dir)
    except OSError:
        return None


def is_running(found: dict | None) -> bool:
    return bool(found and found.get("state") == jobs.RUNNING)


def _fingerprint(settings: Settings) -> tuple:
    found = job(settings)
    return current_build(settings), (found or {}).get("state"), (found or {}).get("started_at")


def synthetic_badge(settings: Settings) -> None:
    """A SYNTHETIC badge at the top of every page while the catalog is synthetic."""
    info = catalog_info(settings)
    if info and info.get("synthetic"):
        st.badge(
            "SYNTHETIC data",
            icon=":material/science:",
            color="orange",
            help="Made-up artists, tracks and listeners, not real music: Home says why and how "
            "to get real data.",
        )


def start(settings: Settings, rebuild: bool = False) -> dict | None:
    """Start the build job (or join the one running) and say which on the page."""
    try:
        found = firstrun.start(settings, rebuild=rebuild)
    except TunescoutError as exc:
        st.error(escape(exc))
        return None
    if found.get("joined"):
        st.toast(f"A build is already running ({escape(jobs.describe(found))}): showing it")
    return found


def _fraction(found: dict) -> float:
    steps = found.get("steps") or []
    step = found.get("step")
    if step not in steps:
        return 0.0
    within = (found.get("done") or 0) / found["total"] if found.get("total") else 0.0
    return min((steps.index(step) + min(within, 1.0)) / len(steps), 1.0)


def _show(settings: Settings, detailed: bool) -> None:
    """The job's progress (one bar with the step, counts and ETA), its finished steps, or its
    failure; reruns the whole page when the job ends or a new build becomes current."""
    found = job(settings)
    if _fingerprint(settings) != st.session_state.get(_SEEN):
        st.rerun()  # a build landed or the job ended: the page reloads the engine
    if found is None:
        return
    if is_running(found):
        who = "" if found.get("origin") == "the app" else f" (started from {found['origin']})"
        st.progress(_fraction(found), text=escape(f"Building{who}: {jobs.progress_line(found)}"))
        if detailed:
            for done in found.get("completed", []):
                seconds = done.get("seconds", 0)
                note = f" — {done['note']}" if done.get("note") else ""
                st.caption(
                    escape(f"✓ {done.get('label') or done['step']} ({seconds:.1f} s){note}")
                )
            ready = found.get("ready") or []
            if ready:
                st.caption(escape(f"usable now: {', '.join(ready)}"))
    elif found.get("state") == jobs.FAILED and detailed:
        log_path = jobs.jobs_dir(settings.data_dir) / jobs.LOG
        st.error(escape(f"The build failed: {found.get('error')} (details in {log_path})"))


def progress(settings: Settings, detailed: bool = False) -> bool:
    """Show the job's progress where called, polled every second while it runs.

    Returns:
        Whether a job is running.
    """
    st.session_state[_SEEN] = _fingerprint(settings)
    running = is_running(job(settings))
    st.fragment(run_every=POLL_S if running else None)(_show)(settings, detailed)
    return running


def sidebar(settings: Settings) -> None:
    """A compact progress line in the sidebar of every page while a build runs."""
    with st.sidebar:
        progress(settings, detailed=False)


def engine_or_none(settings: Settings):
    """The engine for the current build, or ``None`` (with the reason) when there is none yet."""
    from tunescout.ui import state

    try:
        return state.engine(), None
    except (DataMissingError, ArtifactError) as exc:
        return None, exc
