"""The HTTP API under load, behind ``scripts/benchmark.py --api``: ``scripts/serve.py`` started on
127.0.0.1, a bounded asyncio keep-alive client, and the verdicts against issue #17's targets."""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tunescout.config import Settings
from tunescout.research.benchmark import mood_queries, percentiles, steal_seconds

log = logging.getLogger(__name__)

# The targets for the API on this 2-core machine (8 concurrent clients).
API_TARGETS = {"similar_rps": 1000.0, "similar_p99_ms": 20.0, "session_p99_ms": 100.0}
API_CLIENTS = (1, 8, 32)
_PORT_LINE = re.compile(rb"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@dataclass
class ApiServer:
    """A ``scripts/serve.py`` process on 127.0.0.1 (stopped by :meth:`stop`)."""

    process: object
    port: int

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process and its workers so far."""
        return sum(_cpu_seconds(pid) for pid in _tree(self.process.pid))

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except Exception:
            self.process.kill()
            self.process.wait()


def _tree(pid: int) -> list[int]:
    """``pid`` and its children (uvicorn's workers)."""
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
            todo.extend(int(c) for c in children)
    return out


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def start_api(data_dir: Path, env: dict[str, str] | None = None, workers: int = 1,
              timeout: float = 300.0) -> ApiServer:  # fmt: skip
    """Start ``scripts/serve.py`` on 127.0.0.1 and an ephemeral port; return once it answers."""
    import subprocess
    import urllib.request

    script = Path(__file__).resolve().parents[3] / "scripts" / "serve.py"
    command = [sys.executable, str(script), "--data-dir", str(data_dir), "--host", "127.0.0.1",
               "--port", "0", "--workers", str(workers)]  # fmt: skip
    process = subprocess.Popen(
        command, env={**os.environ, **(env or {})}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline, port, seen = time.monotonic() + timeout, None, b""
    try:
        while port is None:
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                said = seen[-2000:].decode(errors="replace")
                raise RuntimeError(f"the API server stopped: {said}")
            seen += line
            found = _PORT_LINE.search(line)
            if found:
                port = int(found.group(1))
            if time.monotonic() > deadline:
                raise TimeoutError("the API server did not start in time")
        # keep reading its log so the pipe never fills (and the server never blocks on it)
        import threading

        threading.Thread(target=lambda: [None for _ in process.stderr], daemon=True).start()
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=10) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError("the API server does not report healthy")
            time.sleep(0.2)
    except BaseException:
        process.kill()
        process.wait()
        raise
    return ApiServer(process, port)


async def _one_client(port: int, requests: list[tuple[str, str, bytes | None]], take,
                      deadline: float, latencies: list[float], errors: list[str]) -> None:  # fmt: skip
    """One keep-alive HTTP/1.1 connection sending requests one after another until ``take()``
    says the run's count is spent or ``deadline`` passes."""
    import asyncio

    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < deadline:
            i = take()
            if i is None:
                break
            method, path, body = requests[i % len(requests)]
            head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            if body is not None:
                head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            started = time.perf_counter()
            writer.write(head.encode() + b"\r\n" + (body or b""))
            status_line = await reader.readline()
            length = 0
            while True:
                line = await reader.readline()
                if line in (b"\r\n", b""):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            payload = await reader.readexactly(length)
            latencies.append((time.perf_counter() - started) * 1000)
            status = status_line.split(b" ", 2)[1:2]
            if status != [b"200"]:
                errors.append(f"{status_line.decode(errors='replace').strip()} {payload[:200]!r}")
    except Exception as exc:  # a dropped connection counts as an error, and ends this client
        errors.append(f"{type(exc).__name__}: {exc}")
    finally:
        writer.close()


def api_load(port: int, requests: list[tuple[str, str, bytes | None]], clients: int,
             count: int, seconds: float) -> dict:  # fmt: skip
    """``clients`` concurrent connections send ``requests`` (cycled) until ``count`` have been sent
    or ``seconds`` have passed; requests/s, latency percentiles (ms) and errors."""
    import asyncio

    latencies: list[float] = []
    errors: list[str] = []
    sent = iter(range(count))

    def take() -> int | None:
        return next(sent, None)

    async def run() -> float:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *[
                _one_client(port, requests, take, deadline, latencies, errors)
                for _ in range(clients)
            ],
        )
        return time.perf_counter() - started

    elapsed = asyncio.run(run())
    out = percentiles(latencies) if latencies else {"n": 0}
    out.update(
        clients=clients, seconds=elapsed, rps=len(latencies) / elapsed if elapsed else 0.0,
        errors=len(errors), error_examples=errors[:3],
    )  # fmt: skip
    return out


def api_requests(catalog, n: int, seed: int = 0) -> dict[str, list[tuple[str, str, bytes | None]]]:
    """Distinct requests of each kind the load run sends: similar tracks by id (hybrid, the
    default, and audio alone), a session of 3 tracks, a mood search."""
    import json
    from urllib.parse import quote

    rng = np.random.default_rng(seed)
    tracks = catalog.tracks.sort_values("popularity", ascending=False)["track_id"]
    pool = tracks.to_numpy(dtype=str)[: max(3 * n, 1000)]
    ids = rng.choice(pool, min(n, len(pool)), replace=False)
    sessions = [rng.choice(pool, 3, replace=False).tolist() for _ in range(n)]
    return {
        "similar_hybrid": [("GET", f"/similar/tracks/{quote(t)}?k=10", None) for t in ids],
        "similar_audio": [("GET", f"/similar/tracks/{quote(t)}?k=10&model=audio", None) for t in ids],
        "session": [
            ("POST", "/recommendations/session", json.dumps({"track_sequence": s, "k": 10}).encode())
            for s in sessions
        ],
        "mood": [
            ("POST", "/search/mood", json.dumps({"text": q, "k": 10}).encode())
            for q in mood_queries(n, seed)
        ],
    }  # fmt: skip


def api_benchmark(data_dir: Path, count: int = 3000, seconds: float = 15.0,
                  clients: Sequence[int] = API_CLIENTS, workers: int = 1,
                  hot: int = 200) -> dict:  # fmt: skip
    """The API under load on 127.0.0.1: ``scripts/serve.py`` started here (rate limit off), a
    bounded client per run (``count`` requests or ``seconds``, whichever ends first) at each number
    of concurrent ``clients``.

    Two servers in turn: with the answer cache off, so every request is computed by the engine
    (distinct similar ids, sessions and mood texts), then with the cache on and ``hot`` distinct
    requests repeated over and over (a player asking for the same items' neighbours again).
    Each run records requests/s, latency percentiles, errors, the server's CPU seconds and the
    load average; a few requests warm each run up first.
    """
    from tunescout.catalog import read_catalog

    catalog = read_catalog(Settings(data_dir=data_dir).catalog_dir)
    requests = api_requests(catalog, max(hot, min(count, 2000)))
    out: dict = {"count": count, "seconds": seconds, "workers": workers, "clients": list(clients),
                 "tracks": len(catalog.tracks), "runs": {}}  # fmt: skip
    plans = {
        "uncached": ({"TUNESCOUT_API_CACHE": "0"}, ["similar_audio", "similar_hybrid", "session", "mood"]),
        "cached": ({}, ["similar_audio", "similar_hybrid", "session"]),
    }  # fmt: skip
    steal = steal_seconds()
    for mode, (env, kinds) in plans.items():
        server = start_api(data_dir, {"TUNESCOUT_API_RATE": "0", **env}, workers)
        try:
            for kind in kinds:
                pool = requests[kind] if mode == "uncached" else requests[kind][:hot]
                if mode == "cached":  # every hot request answered: the caches hold them
                    for _ in range(3 * workers):  # a connection stays with one worker, and
                        api_load(server.port, pool, 1, len(pool), 600.0)  # each has its cache
                else:
                    api_load(server.port, pool[-10:], 2, 10, 60.0)  # warm-up, not measured
                for n in clients:
                    load_before, cpu = os.getloadavg()[0], server.cpu_seconds()
                    run = api_load(server.port, pool, n, count, seconds)
                    run.update(server_cpu_s=server.cpu_seconds() - cpu,
                               load_average_before=load_before,
                               load_average_after=os.getloadavg()[0])  # fmt: skip
                    out["runs"].setdefault(mode, {}).setdefault(kind, {})[str(n)] = run
                    log.info("api %s %s x%d: %.0f req/s, p50 %.1f ms, p99 %.1f ms, %d errors",
                             mode, kind, n, run["rps"], run.get("p50", float("nan")),
                             run.get("p99", float("nan")), run["errors"])  # fmt: skip
        finally:
            server.stop()
    out["cpu_steal_s"] = steal_seconds() - steal
    out["cores"] = len(os.sched_getaffinity(0))
    return out


def api_verdicts(result: dict) -> list[tuple[str, str, bool | None]]:
    """``(target, measured, met)`` for the API's targets at 8 concurrent clients."""
    rows: list[tuple[str, str, bool | None]] = []
    runs = result.get("runs", {})
    for mode, kind, label in (
        ("uncached", "similar_audio", "similar-by-id (audio, every answer computed)"),
        ("uncached", "similar_hybrid", "similar-by-id (hybrid, every answer computed)"),
        ("cached", "similar_audio", "similar-by-id (audio, repeated ids, cached)"),
        ("cached", "similar_hybrid", "similar-by-id (hybrid, repeated ids, cached)"),
    ):
        run = runs.get(mode, {}).get(kind, {}).get("8")
        if run is None:
            rows.append((f"{label} ≥ 1,000 req/s, p99 ≤ 20 ms at 8 clients", "not run", None))
            continue
        met = (run["rps"] >= API_TARGETS["similar_rps"] and run.get("p99", 1e9)
               <= API_TARGETS["similar_p99_ms"] and run["errors"] == 0)  # fmt: skip
        rows.append((f"{label} ≥ 1,000 req/s, p99 ≤ 20 ms at 8 clients",
                     f"{run['rps']:.0f} req/s, p99 {run.get('p99', float('nan')):.1f} ms, "
                     f"{run['errors']} errors", met))  # fmt: skip
    run = runs.get("uncached", {}).get("session", {}).get("8")
    if run is None:
        rows.append(("session recommendations p99 ≤ 100 ms at 8 clients", "not run", None))
    else:
        rows.append(("session recommendations p99 ≤ 100 ms at 8 clients (computed)",
                     f"p99 {run.get('p99', float('nan')):.1f} ms, {run['rps']:.0f} req/s",
                     run.get("p99", 1e9) <= API_TARGETS["session_p99_ms"] and not run["errors"]))  # fmt: skip
    every = [r for kinds in runs.values() for ns in kinds.values() for r in ns.values()]
    errors, total = sum(r["errors"] for r in every), sum(r.get("n", 0) for r in every)
    rows.append(("zero errors under load", f"{errors} errors in {total:,} requests",
                 errors == 0 if total else None))  # fmt: skip
    return rows
