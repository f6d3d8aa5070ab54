"""Writing index builds: a new build is written beside the current one, hashed into its manifest,
renamed into place and made current in one atomic step; old builds are pruned.

A writer holds the data directory's lock (:class:`tunescout.jobs.DataLock` on the index folder's
parent) from start to end, so builds never overlap: a second writer waits for the first. Because
every writer holds it, a ``*.partial`` folder found by the holder was left by a writer that died
(the kernel dropped its lock), and only then is it removed; a live writer's files are never touched.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import shutil
import time
from pathlib import Path
from types import TracebackType

from tunescout.errors import ArtifactError
from tunescout.indexes.store import (
    COMPONENT_NAME,
    CURRENT,
    DERIVED,
    KEEP,
    PARTIAL,
    SCHEMA_VERSION,
    Build,
    current_id,
    digest,
    failure,
    library_versions,
    list_builds,
    write_manifest,
)
from tunescout.jobs import DataLock, LockBusy, describe
from tunescout.vocabulary import canonical

log = logging.getLogger(__name__)


def prune(index_dir: Path, keep: int = KEEP) -> list[str]:
    """Delete all but the newest ``keep`` builds, never the current one.

    Returns:
        The ids deleted.
    """
    builds = list_builds(index_dir)
    current = current_id(index_dir)
    doomed = [b for b in builds[: max(len(builds) - max(keep, 1), 0)] if b != current]
    for build_id in doomed:
        shutil.rmtree(Path(index_dir) / build_id)
        log.info("deleted old index build %s", build_id)
    return doomed


def _switch(index_dir: Path, build_id: str) -> None:
    """Point ``CURRENT`` at ``build_id`` in one atomic step (readers see the old or the new id)."""
    tmp = index_dir / f"{CURRENT}.tmp"
    with tmp.open("w") as fh:
        fh.write(build_id + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, index_dir / CURRENT)


def _link_or_copy(source: Path, target: Path) -> None:
    """Hard-link an immutable artifact into a new build (a copy where links are not possible)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


class BuildWriter:
    """Write a new build; it becomes current only if the ``with`` block finishes without error.

    Args:
        index_dir: Usually ``Settings.index_dir``.
        catalog_hash: ``catalog.read_manifest(dir)["catalog_hash"]`` of the catalog built from.
        base: The current build; components not written here are carried over from it.
        keep: How many finished builds to keep afterwards (the current one is never deleted).
        wait: Seconds to wait for another writer of the data directory (``None``: until it ends).

    Example:
        >>> with BuildWriter(index_dir, catalog_hash, base=None) as build:  # doctest: +SKIP
        ...     info = ContentIndex.build(cat).save(build.component_dir("content"))
        ...     build.add_component("content", info)
        >>> build.result.id  # doctest: +SKIP
        '20261122T083015Z'
    """

    def __init__(
        self,
        index_dir: Path,
        catalog_hash: str,
        base: Build | None = None,
        keep: int = KEEP,
        wait: float | None = None,
    ) -> None:
        self.index_dir = Path(index_dir)
        self.lock = DataLock(self.index_dir.parent)
        self.wait = wait
        self.catalog_hash = catalog_hash
        self.base = base
        self.keep = keep
        self.id = ""
        self.folder = Path()
        self.result: Build | None = None
        self._components: dict[str, dict] = {}
        self._started = 0.0

    def __enter__(self) -> BuildWriter:
        if not self.lock.acquire(self.wait, on_wait=self._waiting):
            raise LockBusy(f"another build is writing {self.index_dir}; try again when it ends")
        try:
            self.index_dir.mkdir(parents=True, exist_ok=True)
            for stale in self.index_dir.glob(f"*{PARTIAL}"):  # its writer died: we hold the lock
                log.warning("removing %s left by an interrupted build", stale)
                shutil.rmtree(stale, ignore_errors=True)
            self._started = time.time()
            self.id = self._new_id()
            self.folder = self.index_dir / f"{self.id}{PARTIAL}"
            self.folder.mkdir()
        except BaseException:
            self.lock.release()
            raise
        return self

    def _waiting(self, holder: dict | None) -> None:
        log.warning("waiting for %s to finish writing %s", describe(holder), self.index_dir.parent)

    def _new_id(self) -> str:
        """A UTC timestamp, suffixed ``-N`` past any build of the same second (even a pruned
        one's successor), so ids never repeat."""
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
        same_second = [
            match.group(1)
            for p in self.index_dir.iterdir()
            if (match := re.fullmatch(rf"{stamp}(-\d+)?", p.name.removesuffix(PARTIAL)))
        ]
        if not same_second:
            return stamp
        return f"{stamp}-{max(int(s[1:]) if s else 0 for s in same_second) + 1}"

    def component_dir(self, name: str) -> Path:
        """Create and return the folder for component ``name`` (``content``, ``semantic``, ...)."""
        if not COMPONENT_NAME.fullmatch(name):
            raise ArtifactError(
                f"component name {name!r} must be lower-case letters, digits, - or _"
            )
        path = self.folder / name
        path.mkdir(exist_ok=True)
        return path

    def add_component(self, name: str, info: dict) -> None:
        """Record a component whose files are in :meth:`component_dir`.

        Args:
            name: The component.
            info: JSON-ready facts for the manifest, usually ``{"params": ..., "rows": ...}``.
        """
        if not (self.folder / name).is_dir():
            raise ArtifactError(
                f"component {name} has no files: write them to component_dir({name!r})"
            )
        json.dumps(info)  # fail now, inside the build, rather than when the manifest is written
        self._components[name] = {**info, "catalog_hash": self.catalog_hash, "built_in": self.id}

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self._finish(exc_type, exc)
        finally:
            self.lock.release()

    def _finish(self, exc_type: type[BaseException] | None, exc: BaseException | None) -> None:
        if exc_type is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            log.warning(
                "index build %s abandoned (%s); the previous build stays current", self.id, exc
            )
            return
        try:
            self.result = self._publish()
        except BaseException:
            shutil.rmtree(self.folder, ignore_errors=True)
            raise
        try:
            prune(self.index_dir, self.keep)
        except OSError as err:  # the new build is already current; old ones can go next time
            log.warning("could not delete old index builds: %s", err)

    def _carry_over(self) -> None:
        if self.base is None:
            return
        written = {canonical(name) for name in self._components}
        for name, entry in self.base.components.items():
            if canonical(name) in written or name in DERIVED:
                continue
            if entry.get("catalog_hash") != self.catalog_hash:
                raise failure(self.base.shown(name), "was built from another catalog", None)
            prefix = f"{name}/"
            for relative in self.base.manifest["files"]:
                if relative.startswith(prefix):
                    _link_or_copy(self.base.folder / relative, self.folder / relative)
            self._components[name] = entry
            log.info("carried %s over from build %s", name, self.base.id)

    def _publish(self) -> Build:
        self._carry_over()
        unrecorded = sorted(
            p.name for p in self.folder.iterdir() if p.is_dir() and p.name not in self._components
        )
        if unrecorded:
            raise ArtifactError(f"components {unrecorded} wrote files but were never added")
        files = {
            path.relative_to(self.folder).as_posix(): {
                "sha256": digest(path),
                "size": path.stat().st_size,
            }
            for path in sorted(self.folder.rglob("*"))
            if path.is_file()
        }
        manifest = write_manifest(
            self.folder,
            {
                "schema_version": SCHEMA_VERSION,
                "build_id": self.id,
                "built_at": dt.datetime.now(dt.UTC).isoformat(timespec="microseconds"),
                "build_seconds": round(time.time() - self._started, 3),
                "catalog_hash": self.catalog_hash,
                "libraries": library_versions(),
                "components": self._components,
                "files": files,
            },
        )
        final = self.index_dir / self.id
        self.folder.rename(final)
        self.folder = final
        _switch(self.index_dir, self.id)
        log.info("index build %s is current: %s", self.id, sorted(self._components))
        return Build(final, manifest)
