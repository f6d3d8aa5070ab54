"""The first run as the app starts it, behind ``scripts/benchmark.py --first-run``: an empty data
dir and model cache, offline, timed from the click to a usable app and to the semantic index."""

from __future__ import annotations

import os
import time
from pathlib import Path

from tunescout.config import Settings
from tunescout.research.benchmark import steal_seconds

FIRST_RUN_TARGETS = {"usable_s": 20.0, "semantic_mood_s": 60.0}
_OFFLINE_PROXY = "http://127.0.0.1:9"  # the discard port: nothing listens, connections fail at once
_CREDENTIALS = ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "LASTFM_API_KEY")


def first_run(
    workdir: Path,
    query: str = "songs for a rainy heartbreak",
    quick: bool = False,
    timeout: float = 3600.0,
    poll: float = 0.05,
) -> dict:
    """Time the app's first run through the app's own code path, from the click.

    An empty data dir and an empty model cache (``TUNESCOUT_MODEL_CACHE``), offline (downloads go
    to a closed proxy, no API credentials, no ``.env``): :func:`tunescout.firstrun.start` starts
    the background job exactly as Home's button does, and this process plays the app: whenever
    ``indexes/CURRENT`` changes it loads the engine as the app does (``Engine.load`` and a warm-up
    search) and runs a mood search. Run it in a fresh process: a loaded encoder would be reused.

    Args:
        workdir: Where the data dir and the model cache are made (both must not exist yet).
        query: The mood search that must return results.
        quick: Collect a small synthetic snapshot first (the job then skips collection), for CI.
        timeout: Seconds to give up after.
        poll: Seconds between looks at ``CURRENT`` and the job's status.

    Returns:
        ``usable_s`` (first mood results, from the fast indexes), ``semantic_mood_s`` (first mood
        results from a build with the semantic index), when each build became current, the job's
        steps with their seconds, the load average before and after and the CPU steal during it.
    """
    from tunescout import firstrun, jobs
    from tunescout.indexes import store
    from tunescout.serving.engine import Engine

    data, cache = Path(workdir) / "data", Path(workdir) / "model-cache"
    data.mkdir(parents=True)
    cache.mkdir(parents=True)
    os.environ["TUNESCOUT_MODEL_CACHE"] = str(cache)  # for this process's engine, too
    env = {k: v for k, v in os.environ.items() if k not in _CREDENTIALS}
    env |= {"HTTP_PROXY": _OFFLINE_PROXY, "HTTPS_PROXY": _OFFLINE_PROXY, "NO_PROXY": ""}
    env |= {"http_proxy": _OFFLINE_PROXY, "https_proxy": _OFFLINE_PROXY, "no_proxy": ""}
    settings = Settings(data_dir=data)
    if quick:
        from tunescout.collect.runner import Options, collect

        collect(settings, "synthetic", Options(synthetic_tracks=600, synthetic_users=80))
    load_before, steal = os.getloadavg(), steal_seconds()
    clicked = time.perf_counter()
    started = firstrun.start(settings, env=env, cwd=Path(workdir))
    out: dict = {"builds": [], "usable_s": None, "semantic_mood_s": None, "query": query}
    seen = None
    while time.perf_counter() - clicked < timeout:
        current = store.current_id(settings.index_dir)
        if current and current != seen:
            seen = current
            became = time.perf_counter() - clicked
            engine = Engine.load(data)
            engine.search_mood("warm up", 1)  # what the app's cached engine does on load
            found = engine.search_mood(query, 10)
            answered = time.perf_counter() - clicked
            semantic = "semantic" in engine.indexes
            out["builds"].append(
                {"id": current, "components": sorted(engine.build.components),
                 "current_s": became,
                 "answered_s": answered, "results": len(found)}
            )  # fmt: skip
            if len(found) and out["usable_s"] is None:
                out["usable_s"] = answered
            if len(found) and semantic:
                out["semantic_mood_s"] = answered
            del engine
        status = jobs.status(data) or {}
        if status.get("state") != jobs.RUNNING and store.current_id(settings.index_dir) == seen:
            break
        time.sleep(poll)
    status = jobs.status(data) or {}
    out.update(
        job_pid=started.get("pid"),
        state=status.get("state"),
        error=status.get("error"),
        job_s=time.perf_counter() - clicked,
        steps={s["step"]: s["seconds"] for s in status.get("completed", [])},
        collected=(jobs.last_outcome(data) or {}).get("source"),
        load_average_before=load_before[0],
        load_average_after=os.getloadavg()[0],
        cpu_steal_s=steal_seconds() - steal,
        cores=len(os.sched_getaffinity(0)),
    )
    return out


def first_run_verdicts(result: dict) -> list[tuple[str, str, bool | None]]:
    """``(target, measured, met)`` for the first-run targets."""
    rows: list[tuple[str, str, bool | None]] = []
    for key, target in (
        ("usable_s", "app usable (a mood search answers) ≤ 20 s after the click"),
        ("semantic_mood_s", "first semantic mood result ≤ 60 s after the build starts"),
    ):
        value = result.get(key)
        limit = FIRST_RUN_TARGETS[key]
        rows.append(
            (target, "not reached", False) if value is None else
            (target, f"{value:.1f} s", value <= limit)
        )  # fmt: skip
    return rows
