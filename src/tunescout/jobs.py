"""One writer per data directory: a cross-process lock, and the status of the job that holds it.

Every writer of a data directory — ``scripts/collect.py``, ``scripts/build.py``, the app's background
build (:mod:`tunescout.firstrun`) and :class:`tunescout.indexes.writer.BuildWriter` — holds the data
directory's lock while it writes: ``fcntl.flock`` on ``<data-dir>/jobs/build.lock``. The kernel drops
a flock when the last descriptor of its holder closes, however the process ends (even SIGKILL), so a
lock can never be left behind by a dead process: the next writer simply takes it, and whatever the
dead one left half-written (``indexes/*.partial``) is cleared by that next holder, never by anyone
while a holder is alive. The lock is re-entrant within one thread (a script that holds it can call
code that takes it again) and exclusive between threads and processes.

The holder publishes what it is doing in ``<data-dir>/jobs/build.json`` (replaced atomically, so a
reader sees the old or the new version): the step it is on, counts, measured throughput and an
ETA, the steps done, and the error when it failed. :func:`status` reads it from any process and
checks it against the lock, so a job whose process died shows as failed, not as running forever.
:func:`save_outcome` keeps the collector's reasons (which sources were tried and why each was
skipped) in ``jobs/collect.json`` so the app can show them long after the collection ran.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tunescout.errors import TunescoutError

try:  # POSIX; elsewhere there is no lock (one writer at a time is then the user's job)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

JOBS = "jobs"
LOCK = "build.lock"
STATUS = "build.json"
LOG = "build.log"
OUTCOME = "collect.json"
RUNNING, DONE, FAILED = "running", "done", "failed"
POLL = 0.2  # seconds between attempts to take a held lock
WRITE_EVERY = 0.5  # seconds between status writes within a step (step changes are written at once)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class LockBusy(TunescoutError):
    """Another process is writing this data directory (the message says what it is doing)."""


def jobs_dir(data_dir: str | Path) -> Path:
    """``<data-dir>/jobs``: the lock, the job status, its log and the last collection's outcome."""
    return Path(data_dir) / JOBS


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# ---- the lock --------------------------------------------------------------------------------


@dataclass
class _Hold:
    fd: int
    thread: int
    depth: int


_guard = threading.Lock()
_held: dict[str, _Hold] = {}  # lock file -> this process's hold on it
_threads: dict[str, threading.Lock] = {}  # lock file -> one thread of this process at a time


class DataLock:
    """The data directory's writer lock: exclusive across processes and threads, re-entrant in one
    thread, dropped by the kernel when its holder dies.

    Args:
        data_dir: The data directory (the lock file is ``<data-dir>/jobs/build.lock``).

    Example:
        >>> with DataLock("data"):  # doctest: +SKIP
        ...     build_catalog(settings)
    """

    def __init__(self, data_dir: str | Path) -> None:
        self.path = jobs_dir(data_dir) / LOCK

    @property
    def _key(self) -> str:
        return os.path.abspath(self.path)

    def _open(self) -> int:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return os.open(self.path, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o644)

    def acquire(
        self, wait: float | None = None, on_wait: Callable[[dict | None], None] | None = None
    ) -> bool:
        """Take the lock.

        Args:
            wait: Seconds to wait for a holder to finish (``None``: as long as it takes; 0: not
                at all).
            on_wait: Called once, with the holder's :func:`status`, when the lock is held elsewhere.

        Returns:
            Whether the lock is now held (``False`` only when ``wait`` ran out).
        """
        key, me = self._key, threading.get_ident()
        with _guard:
            hold = _held.get(key)
            if hold is not None and hold.thread == me:
                hold.depth += 1
                return True
            thread_lock = _threads.setdefault(key, threading.Lock())
        deadline = None if wait is None else time.monotonic() + wait
        told = False
        if not thread_lock.acquire(timeout=-1 if wait is None else max(wait, 0.0)):
            return False
        try:
            fd = self._open()
            while True:
                try:
                    if fcntl is not None:
                        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        os.close(fd)
                        thread_lock.release()
                        return False
                    if on_wait is not None and not told:
                        told = True
                        on_wait(read_status(self.path.parent.parent))
                    time.sleep(POLL)
        except BaseException:
            thread_lock.release()
            raise
        with _guard:
            _held[key] = _Hold(fd, me, 1)
        return True

    def adopt(self, fd: int) -> None:
        """Hold the lock through ``fd``, a descriptor of the lock file that a parent process locked
        and passed on (the parent then closes its copy; the lock stays held by this process)."""
        key = self._key
        with _guard:
            thread_lock = _threads.setdefault(key, threading.Lock())
        thread_lock.acquire()
        if fcntl is not None:
            try:  # already ours (a no-op) unless the parent let go before passing it
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError as exc:
                thread_lock.release()
                raise LockBusy("the lock passed to this job is held by another process") from exc
        with _guard:
            _held[key] = _Hold(fd, threading.get_ident(), 1)

    def release(self) -> None:
        """Let go once; the lock is dropped when every :meth:`acquire` of this thread is undone."""
        key = self._key
        with _guard:
            hold = _held.get(key)
            if hold is None or hold.thread != threading.get_ident():
                raise RuntimeError(f"{self.path} is not held by this thread")
            hold.depth -= 1
            if hold.depth:
                return
            del _held[key]
        os.close(hold.fd)  # never LOCK_UN: a child the descriptor was passed to keeps the lock
        _threads[key].release()

    def held_here(self) -> bool:
        """Whether this thread holds the lock."""
        with _guard:
            hold = _held.get(self._key)
        return hold is not None and hold.thread == threading.get_ident()

    def held(self) -> bool:
        """Whether any thread or process holds the lock (a momentary probe, never waits)."""
        key = self._key
        with _guard:
            if key in _held:
                return True
            thread_lock = _threads.setdefault(key, threading.Lock())
        if not thread_lock.acquire(timeout=1.0):  # another thread here is taking it, or holds it
            return True
        try:
            try:
                fd = self._open()
            except OSError:
                return False  # no lock file can be made, so nobody holds it
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return True
            finally:
                os.close(fd)
            return False
        finally:
            thread_lock.release()

    def fd(self) -> int:
        """The descriptor this thread holds the lock through (to pass to a child process)."""
        with _guard:
            hold = _held.get(self._key)
        if hold is None or hold.thread != threading.get_ident():
            raise RuntimeError(f"{self.path} is not held by this thread")
        return hold.fd

    def __enter__(self) -> DataLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


@contextlib.contextmanager
def exclusive(
    data_dir: str | Path, wait: float | None = None, say: Callable[[str], None] | None = None
) -> Iterator[DataLock]:
    """Hold the data directory's lock for a ``with`` block, telling ``say`` who it waits for.

    Raises:
        LockBusy: When ``wait`` seconds pass and another writer still holds it.
    """
    lock = DataLock(data_dir)

    def waiting(holder: dict | None) -> None:
        if say is not None:
            say(f"waiting for {describe(holder)} to finish")

    if not lock.acquire(wait, on_wait=waiting):
        raise LockBusy(f"{describe(read_status(data_dir))} is writing {data_dir}; try again later")
    try:
        yield lock
    finally:
        lock.release()


# ---- the status of the job holding the lock ---------------------------------------------------


def _write_json(path: Path, data: dict) -> None:
    """Replace ``path`` atomically (a reader sees the old or the new content, never a mix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, indent=1, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read_json(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_bytes()[: 1 << 20])
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def read_status(data_dir: str | Path) -> dict | None:
    """The last job's status file as written (``None`` when no job ever ran)."""
    return _read_json(jobs_dir(data_dir) / STATUS)


def status(data_dir: str | Path) -> dict | None:
    """The last job's status, checked against the lock: a job recorded as running whose process no
    longer holds the lock (killed, crashed) is reported as failed.

    Returns:
        ``None`` when no job ever ran here, else the status (``state`` is ``running``, ``done`` or
        ``failed``; see :class:`Job` for the fields).
    """
    _reap()
    found = read_status(data_dir)
    if found is None or found.get("state") != RUNNING:
        return found
    if DataLock(data_dir).held():
        return found
    again = read_status(data_dir)  # it may have finished between the two reads
    if again is not None and again.get("state") != RUNNING:
        return again
    return {
        **(again or found),
        "state": FAILED,
        "error": "the build process stopped before it finished (killed, out of memory or "
        f"crashed: see {JOBS}/{LOG}); start it again — what it had finished is kept",
    }


def running(data_dir: str | Path) -> bool:
    """Whether a job holds this data directory's lock now."""
    found = status(data_dir)
    return bool(found and found.get("state") == RUNNING)


def describe(found: dict | None) -> str:
    """``"the build started from the app (process 123, on step semantic)"`` for messages."""
    if not found or found.get("state") != RUNNING:
        return "another process"
    step = f", on step {found['step']}" if found.get("step") else ""
    return f"the {found.get('job', 'build')} started from {found.get('origin', 'elsewhere')} (process {found.get('pid')}{step})"


def progress_line(found: dict) -> str:
    """One line for a running job: the step, its counts, throughput and ETA, or its elapsed time."""
    steps = found.get("steps") or []
    completed = found.get("completed") or []
    if not found.get("step"):
        if not completed:
            return "starting"
        last = completed[-1]
        return f"{len(completed)} of {max(len(steps), len(completed))} steps done, the last: " + (
            f"{last.get('label') or last.get('step')}"
        )
    step = found["step"]
    where = f"step {steps.index(step) + 1} of {len(steps)}: " if step in steps else ""
    label = found.get("label") or step
    done, total, unit = found.get("done"), found.get("total"), found.get("unit") or "items"
    parts = [f"{where}{label}"]
    if total:
        parts.append(f"{done or 0:,} / {total:,} {unit}")
    if found.get("rate"):
        parts.append(f"{found['rate']:,.0f} {unit}/s")
    if found.get("eta_s") is not None:
        parts.append(f"about {_duration(found['eta_s'])} left")
    elif found.get("step_started"):
        parts.append(f"{_duration(time.time() - found['step_started'])} so far")
    return " · ".join(parts)


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds} s" if seconds < 90 else f"{seconds // 60} min {seconds % 60:02d} s"


class Job:
    """The status of the job holding the lock, written to ``jobs/build.json`` as it goes.

    Fields written: ``job``, ``origin`` (``the app``, ``the command line``), ``pid``, ``state``,
    ``started_at``, ``finished_at``, ``steps`` (planned, in order), ``step``, ``label``, ``done``,
    ``total``, ``unit``, ``step_started`` (epoch seconds), ``rate`` (per second, measured in this
    step), ``eta_s``, ``completed`` (``[{"step", "seconds", "note"}]``), ``ready`` (what the app
    can already use), ``message`` and ``error``.

    Args:
        data_dir: The data directory whose lock this process holds.
        job: What runs (``first run``, ``build``, ``collection``).
        steps: The steps planned, in order (more may be added with :meth:`plan`).
        origin: Who started it.
    """

    def __init__(
        self,
        data_dir: str | Path,
        job: str,
        steps: Sequence[str],
        origin: str,
        pid: int | None = None,
    ) -> None:
        self.path = jobs_dir(data_dir) / STATUS
        self.data: dict[str, Any] = {
            "job": job,
            "origin": origin,
            "pid": pid or os.getpid(),
            "state": RUNNING,
            "started_at": _now(),
            "finished_at": None,
            "steps": list(steps),
            "step": None,
            "label": None,
            "done": None,
            "total": None,
            "unit": None,
            "step_started": None,
            "rate": None,
            "eta_s": None,
            "completed": [],
            "ready": [],
            "message": None,
            "error": None,
        }
        self._first_count: tuple[float, int] | None = None
        self._written = 0.0
        self._write()

    def _write(self) -> None:
        self.data["updated_at"] = _now()
        try:
            _write_json(self.path, self.data)
        except OSError as exc:  # progress is a courtesy: never fail a build over it
            log.warning("could not write the job status %s: %s", self.path, exc)
        self._written = time.monotonic()

    def update(self, **fields: Any) -> None:
        """Set fields and write them at once."""
        self.data.update(fields)
        self._write()

    def plan(self, steps: Sequence[str]) -> None:
        """Replace the planned steps (e.g. once it is known that collection is not needed)."""
        self.data["steps"] = list(steps)
        self._write()

    def begin(self, step: str, label: str | None = None, unit: str | None = None) -> None:
        """Start ``step`` (written at once)."""
        self.data.update(
            step=step, label=label or step, done=None, total=None, unit=unit,
            step_started=time.time(), rate=None, eta_s=None,
        )  # fmt: skip
        self._first_count = None
        log.info("job step: %s", label or step)
        self._write()

    def count(self, done: int, total: int) -> None:
        """``done`` of ``total`` units of the current step; the rate and ETA are measured from the
        first count of the step (loading a model before the first unit does not count)."""
        now = time.monotonic()
        if self._first_count is None or done < self._first_count[1]:
            self._first_count = (now, done)
        start, first = self._first_count
        rate = (done - first) / (now - start) if now > start and done > first else None
        self.data.update(
            done=int(done), total=int(total), rate=rate,
            eta_s=(total - done) / rate if rate else None,
        )  # fmt: skip
        if done >= total or now - self._written >= WRITE_EVERY:
            self._write()

    def progress(self, step: str, done: int, total: int) -> None:
        """The build's progress callback ``(step, done, total)``: begins ``step`` when it changes."""
        if step != self.data["step"]:
            if self.data["step"]:
                self.end()
            self.begin(step)
        if total:
            self.count(done, total)

    def end(self, note: str = "", ready: Sequence[str] = ()) -> None:
        """Finish the current step, with what it made usable (written at once)."""
        started = self.data.get("step_started") or time.time()
        if not note and self.data.get("total"):
            note = f"{self.data['total']:,} {self.data.get('unit') or 'items'}"
        self.data["completed"].append(
            {
                "step": self.data["step"],
                "label": self.data.get("label"),
                "seconds": round(time.time() - started, 2),
                "note": note,
            }
        )
        self.data["ready"] = sorted({*self.data["ready"], *ready})
        self.data.update(
            step=None, label=None, done=None, total=None, unit=None, step_started=None,
            rate=None, eta_s=None,
        )  # fmt: skip
        self._write()

    def record(self, step: str, seconds: float, note: str = "", label: str | None = None) -> None:
        """Record a step that ran beside the others (e.g. in a thread) as done."""
        self.data["completed"].append(
            {"step": step, "label": label or step, "seconds": round(seconds, 2), "note": note}
        )
        self._write()

    def succeed(self, message: str) -> None:
        self.data.update(state=DONE, finished_at=_now(), message=message, step=None)
        self._write()

    def fail(self, error: BaseException | str) -> None:
        text = (
            str(error)
            if isinstance(error, TunescoutError | str)
            else f"{type(error).__name__}: {error}"
        )
        self.data.update(state=FAILED, finished_at=_now(), error=" ".join(text.split())[:500])
        self._write()


# ---- children and collection outcomes ----------------------------------------------------------

_children: list = []  # Popen objects of jobs this process started, reaped when they end


def adopt_child(proc: object) -> None:
    """Keep a started job process so that :func:`status` reaps it when it ends (no zombies)."""
    _children.append(proc)


def _reap() -> None:
    for proc in list(_children):
        if proc.poll() is not None:
            _children.remove(proc)


def save_outcome(data_dir: str | Path, outcome: object) -> None:
    """Keep a collection's outcome (source, why each earlier source was skipped, notes)."""
    _write_json(
        jobs_dir(data_dir) / OUTCOME,
        {
            "source": getattr(outcome, "source", ""),
            "reasons": list(getattr(outcome, "reasons", [])),
            "notes": list(getattr(outcome, "notes", [])),
            "at": _now(),
        },
    )


def last_outcome(data_dir: str | Path) -> dict | None:
    """The last collection's outcome, as :func:`save_outcome` kept it."""
    return _read_json(jobs_dir(data_dir) / OUTCOME)
