"""Index builds on disk: one folder per build with a manifest, verified on open, swapped atomically.

Layout: ``<index-dir>/<build-id>/<component>/...`` plus ``manifest.json`` (library versions, catalog
hash, each component's params and row counts, the sha256 and size of every file), and a ``CURRENT``
file naming the build in use. A build is written as ``<build-id>.partial`` and renamed when whole,
then ``CURRENT`` is replaced atomically, so readers only ever see a complete, verified build.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath
from types import TracebackType

from tunescout.catalog import file_sha256
from tunescout.errors import ArtifactError, DataMissingError

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
CURRENT = "CURRENT"
PARTIAL = ".partial"
KEEP = 3
BUILD_COMMAND = "python scripts/build.py"
# Library label -> distribution names that may provide it (the first one installed counts).
LIBRARIES: dict[str, tuple[str, ...]] = {
    "numpy": ("numpy",),
    "faiss": ("faiss-cpu", "faiss-gpu", "faiss"),
    "implicit": ("implicit",),
    "sentence-transformers": ("sentence-transformers",),
    "torch": ("torch",),
    "scikit-learn": ("scikit-learn",),
    "tunescout": ("tunescout",),
}
# tunescout's own artifact compatibility is SCHEMA_VERSION (and each component's), not its version.
_INFORMATIONAL = {"tunescout"}
_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_BUILD_ID = re.compile(r"\d{8}T\d{6}Z(-\d+)?")


def library_versions() -> dict[str, str | None]:
    """Installed version of each library in :data:`LIBRARIES` (``None`` when not installed)."""
    versions: dict[str, str | None] = {}
    for label, dists in LIBRARIES.items():
        versions[label] = None
        for dist in dists:
            try:
                versions[label] = metadata.version(dist)
                break
            except metadata.PackageNotFoundError:
                continue
    return versions


def _series(version: str) -> tuple[int, ...]:
    """The part of a version that must match: the major, or major.minor for 0.x (semver)."""
    numbers = tuple(int(n) for n in re.findall(r"\d+", version)[:2])
    return numbers if numbers[:1] == (0,) else numbers[:1]


def _digest(data: bytes | Path) -> str:
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest()
    return file_sha256(data)


def _manifest_digest(manifest: dict) -> str:
    """sha256 of the manifest's canonical JSON without its own digest field."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return _digest(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def write_manifest(folder: Path, manifest: dict) -> dict:
    """Write ``manifest.json`` into ``folder`` with a digest of its own content, so that any change
    to it is detected like a change to any other file.

    Returns:
        The manifest as written (with ``manifest_sha256``).
    """
    manifest = {**manifest, "manifest_sha256": _manifest_digest(manifest)}
    (Path(folder) / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _fail(shown: str, problem: str, component: str | None = None) -> ArtifactError:
    command = f"{BUILD_COMMAND} --only {component}" if component else BUILD_COMMAND
    return ArtifactError(f"{shown} {problem}; rebuild with: {command}")


@dataclass(frozen=True)
class Build:
    """A complete, verified build: its folder and manifest."""

    folder: Path
    manifest: dict

    @property
    def id(self) -> str:
        return self.folder.name

    @property
    def catalog_hash(self) -> str:
        return self.manifest["catalog_hash"]

    @property
    def components(self) -> dict[str, dict]:
        """Component name to its manifest entry (params, rows, catalog hash, build it came from)."""
        return self.manifest["components"]

    def shown(self, relative: str = "") -> str:
        """A path inside this build as messages show it, e.g. ``indexes/<id>/content/x.faiss``."""
        return "/".join(p for p in (self.folder.parent.name, self.id, relative) if p)

    def component_dir(self, name: str) -> Path:
        """The folder of one component.

        Raises:
            ArtifactError: When this build has no such component.
        """
        if name not in self.components:
            raise _fail(self.shown(), f"has no {name} index", name)
        return self.folder / name


def _read_manifest(folder: Path, shown: str) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise _fail(f"{shown}/{MANIFEST}", "is missing")
    try:
        manifest = json.loads(path.read_bytes())
    except ValueError as exc:
        raise _fail(f"{shown}/{MANIFEST}", "is corrupt (not valid JSON)") from exc
    intact = isinstance(manifest, dict) and manifest.get("manifest_sha256") == _manifest_digest(
        manifest
    )
    if not intact:
        raise _fail(f"{shown}/{MANIFEST}", "is corrupt (sha256 mismatch)")
    return manifest


def _check_compatible(manifest: dict, shown: str) -> None:
    where = f"{shown}/{MANIFEST}"
    if manifest.get("schema_version") != SCHEMA_VERSION:
        found = manifest.get("schema_version")
        raise _fail(where, f"has artifact schema {found}, this tunescout reads {SCHEMA_VERSION}")
    installed = library_versions()
    for label, built in manifest.get("libraries", {}).items():
        now = installed.get(label)
        if label in _INFORMATIONAL or not built or not now:
            continue
        if _series(built) != _series(now):
            raise _fail(where, f"was built with {label} {built} but {now} is installed")


def _check_files(build: Build) -> None:
    for relative, expected in build.manifest["files"].items():
        parts = PurePosixPath(relative).parts
        if not parts or parts[0] == "/" or ".." in parts or "\\" in relative:
            raise _fail(build.shown(MANIFEST), f"names a file outside its build ({relative!r})")
        component = relative.split("/", 1)[0]
        component = component if component in build.components else None
        path = build.folder / relative
        if not path.is_file():
            raise _fail(build.shown(relative), "is missing", component)
        size = path.stat().st_size
        if size != expected["size"]:
            problem = f"is corrupt ({size} bytes, expected {expected['size']})"
            raise _fail(build.shown(relative), problem, component)
        if _digest(path) != expected["sha256"]:
            raise _fail(build.shown(relative), "is corrupt (sha256 mismatch)", component)


def open_build(index_dir: Path, build_id: str) -> Build:
    """Open one build after verifying its manifest, library versions and every file's sha256.

    Raises:
        ArtifactError: Naming the first bad file and the command that rebuilds it.
    """
    folder = Path(index_dir) / build_id
    shown = f"{folder.parent.name}/{build_id}"
    if not folder.is_dir():
        raise _fail(shown, "is missing")
    manifest = _read_manifest(folder, shown)
    _check_compatible(manifest, shown)
    build = Build(folder, manifest)
    _check_files(build)
    return build


def current_id(index_dir: Path) -> str | None:
    """The id of the build ``CURRENT`` names, or ``None`` when there is no build yet.

    Raises:
        ArtifactError: When ``CURRENT`` holds something that is not a build id.
    """
    pointer = Path(index_dir) / CURRENT
    if not pointer.is_file():
        return None
    build_id = pointer.read_bytes().decode(errors="replace").strip()
    if not _BUILD_ID.fullmatch(build_id):
        raise _fail(f"{Path(index_dir).name}/{CURRENT}", f"is corrupt (holds {build_id[:40]!r})")
    return build_id


def open_current(index_dir: Path, catalog_hash: str | None = None) -> Build:
    """Open and verify the build in use.

    Args:
        index_dir: Usually ``Settings.index_dir``.
        catalog_hash: When given, the build must have been made from this catalog.

    Returns:
        The verified build.

    Raises:
        DataMissingError: When nothing has been built yet.
        ArtifactError: When the build is missing, corrupt, incompatible or for another catalog.
    """
    build_id = current_id(index_dir)
    if build_id is None:
        raise DataMissingError(f"no index build in {index_dir}: run `{BUILD_COMMAND}`")
    build = open_build(index_dir, build_id)
    if catalog_hash is not None and build.catalog_hash != catalog_hash:
        problem = (
            f"was built from another catalog ({build.catalog_hash[:12]}, now {catalog_hash[:12]})"
        )
        raise _fail(build.shown(), problem)
    return build


def _build_time(folder: Path) -> str:
    try:
        return json.loads((folder / MANIFEST).read_bytes()).get("built_at", "")
    except (OSError, ValueError):
        return ""


def list_builds(index_dir: Path) -> list[str]:
    """Ids of the finished builds in ``index_dir``, oldest first."""
    index_dir = Path(index_dir)
    if not index_dir.is_dir():
        return []
    folders = [p for p in index_dir.iterdir() if p.is_dir() and _BUILD_ID.fullmatch(p.name)]
    return [p.name for p in sorted(folders, key=lambda p: (_build_time(p), p.name))]


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

    Example:
        >>> with BuildWriter(index_dir, catalog_hash, base=None) as build:  # doctest: +SKIP
        ...     info = ContentIndex.build(cat).save(build.component_dir("content"))
        ...     build.add_component("content", info)
        >>> build.result.id  # doctest: +SKIP
        '20261122T083015Z'
    """

    def __init__(
        self, index_dir: Path, catalog_hash: str, base: Build | None = None, keep: int = KEEP
    ) -> None:
        self.index_dir = Path(index_dir)
        self.catalog_hash = catalog_hash
        self.base = base
        self.keep = keep
        self.id = ""
        self.folder = Path()
        self.result: Build | None = None
        self._components: dict[str, dict] = {}
        self._started = 0.0

    def __enter__(self) -> BuildWriter:
        self.index_dir.mkdir(parents=True, exist_ok=True)
        for stale in self.index_dir.glob(f"*{PARTIAL}"):
            log.warning("removing %s left by an interrupted build", stale)
            shutil.rmtree(stale, ignore_errors=True)
        self._started = time.time()
        self.id = self._new_id()
        self.folder = self.index_dir / f"{self.id}{PARTIAL}"
        self.folder.mkdir()
        return self

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
        if not _NAME.fullmatch(name):
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
        for name, entry in self.base.components.items():
            if name in self._components:
                continue
            if entry.get("catalog_hash") != self.catalog_hash:
                raise _fail(self.base.shown(name), "was built from another catalog", None)
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
                "sha256": _digest(path),
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
