"""Index builds on disk: one folder per build with a manifest, verified on open (written by
:mod:`tunescout.indexes.writer`).

Layout: ``<index-dir>/<build-id>/<component>/...`` plus ``manifest.json`` (library versions, catalog
hash, each component's params and row counts, the sha256 and size of every file), and a ``CURRENT``
file naming the build in use. A build is written as ``<build-id>.partial`` and renamed when whole,
then ``CURRENT`` is replaced atomically, so readers only ever see a complete, verified build.

Reading stays inside the data dir: every path (``indexes/``, ``CURRENT``, the build folder, each
file) is resolved, and one that leads outside the data dir (a symbolic link) is refused by name.
Manifests are parsed within bounds (size and nesting, see :func:`tunescout.catalog.io.parse_json`)
and their shape is checked before use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path, PurePosixPath

from tunescout.catalog import file_sha256
from tunescout.catalog.io import parse_json
from tunescout.errors import ArtifactError, DataMissingError
from tunescout.vocabulary import canonical

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
COMPONENT_NAME = re.compile(r"[a-z][a-z0-9_-]*")
_BUILD_ID = re.compile(r"\d{8}T\d{6}Z(-\d+)?")
_HEX64 = re.compile(r"[0-9a-f]{64}")
MAX_MANIFEST_BYTES = 16 << 20


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


def digest(data: bytes | Path) -> str:
    if isinstance(data, bytes):
        return hashlib.sha256(data).hexdigest()
    return file_sha256(data)


def _manifest_digest(manifest: dict) -> str:
    """sha256 of the manifest's canonical JSON without its own digest field."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return digest(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def write_manifest(folder: Path, manifest: dict) -> dict:
    """Write ``manifest.json`` into ``folder`` with a digest of its own content, so that any change
    to it is detected like a change to any other file.

    Returns:
        The manifest as written (with ``manifest_sha256``).
    """
    manifest = {**manifest, "manifest_sha256": _manifest_digest(manifest)}
    (Path(folder) / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def failure(shown: str, problem: str, component: str | None = None) -> ArtifactError:
    command = f"{BUILD_COMMAND} --only {component}" if component else BUILD_COMMAND
    return ArtifactError(f"{shown} {problem}; rebuild with: {command}")


# Components computed from all the others (the neighbour table), not models: written by every
# build that holds every model, never carried over into one that changed any of them.
DERIVED = frozenset({"neighbours"})


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

    @property
    def models(self) -> dict[str, str]:
        """Model name → the component folder holding it (builds before the vocabulary was settled
        store the audio model as ``content``); derived components are not models."""
        return {canonical(stored): stored for stored in self.components if stored not in DERIVED}

    def component_dir(self, name: str) -> Path:
        """The folder of one component, by its model name (or its stored name).

        Raises:
            ArtifactError: When this build has no such component.
        """
        stored = name if name in DERIVED and name in self.components else None
        stored = stored or self.models.get(canonical(name))
        if stored is None:
            raise failure(self.shown(), f"has no {name} index", name)
        return self.folder / stored


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path``, every link followed, lies in ``root`` (itself resolved)."""
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError):  # a link loop
        return False


def _outside(shown: str) -> ArtifactError:
    return failure(shown, "leads outside the data dir (a symbolic link); it is not read")


def _bounded(path: Path, shown: str) -> object:
    with path.open("rb") as fh:
        data = fh.read(MAX_MANIFEST_BYTES + 1)
    try:
        return parse_json(data, MAX_MANIFEST_BYTES)
    except ValueError as exc:
        raise failure(shown, f"is corrupt ({exc})") from None


def _read_manifest(folder: Path, shown: str) -> dict:
    path = folder / MANIFEST
    if not path.is_file():
        raise failure(f"{shown}/{MANIFEST}", "is missing")
    if not _inside(path, folder):
        raise _outside(f"{shown}/{MANIFEST}")
    manifest = _bounded(path, f"{shown}/{MANIFEST}")
    intact = isinstance(manifest, dict) and manifest.get("manifest_sha256") == _manifest_digest(
        manifest
    )
    if not intact:
        raise failure(f"{shown}/{MANIFEST}", "is corrupt (sha256 mismatch)")
    problem = _shape_problem(manifest)
    if problem:
        raise failure(f"{shown}/{MANIFEST}", f"is corrupt ({problem})")
    return manifest


def _shape_problem(manifest: dict) -> str:
    """What a manifest with a valid digest still lacks to be one the writer wrote ("" if none)."""
    if not isinstance(manifest.get("catalog_hash"), str):
        return "no catalog hash"
    components = manifest.get("components")
    if not isinstance(components, dict) or not all(
        isinstance(c, dict) for c in components.values()
    ):
        return "no components"
    libraries = manifest.get("libraries", {})
    if not isinstance(libraries, dict):
        return "libraries are not a mapping"
    files = manifest.get("files")
    if not isinstance(files, dict):
        return "no file list"
    for name, entry in files.items():
        ok = (
            isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str)
            and _HEX64.fullmatch(entry["sha256"])
            and isinstance(entry.get("size"), int)
            and not isinstance(entry.get("size"), bool)
        )
        if not ok:
            return f"no size and sha256 for {str(name)[:60]!r}"
    return ""


def _check_compatible(manifest: dict, shown: str) -> None:
    where = f"{shown}/{MANIFEST}"
    if manifest.get("schema_version") != SCHEMA_VERSION:
        found = manifest.get("schema_version")
        raise failure(where, f"has artifact schema {found}, this tunescout reads {SCHEMA_VERSION}")
    installed = library_versions()
    for label, built in manifest.get("libraries", {}).items():
        now = installed.get(label)
        if label in _INFORMATIONAL or not isinstance(built, str) or not built or not now:
            continue
        if _series(built) != _series(now):
            raise failure(where, f"was built with {label} {built} but {now} is installed")


def _check_files(build: Build) -> None:
    for relative, expected in build.manifest["files"].items():
        parts = PurePosixPath(relative).parts
        if not parts or parts[0] == "/" or ".." in parts or "\\" in relative:
            raise failure(build.shown(MANIFEST), f"names a file outside its build ({relative!r})")
        component = relative.split("/", 1)[0]
        component = component if component in build.components else None
        path = build.folder / relative
        if not path.is_file():
            raise failure(build.shown(relative), "is missing", component)
        if not _inside(path, build.folder):
            raise _outside(build.shown(relative))
        size = path.stat().st_size
        if size != expected["size"]:
            problem = f"is corrupt ({size} bytes, expected {expected['size']})"
            raise failure(build.shown(relative), problem, component)
        if digest(path) != expected["sha256"]:
            raise failure(build.shown(relative), "is corrupt (sha256 mismatch)", component)


def open_build(index_dir: Path, build_id: str) -> Build:
    """Open one build after verifying its manifest, library versions and every file's sha256.

    Raises:
        ArtifactError: Naming the first bad file and the command that rebuilds it.
    """
    index_dir = Path(index_dir)
    folder = index_dir / build_id
    shown = f"{folder.parent.name}/{build_id}"
    if not folder.is_dir():
        raise failure(shown, "is missing")
    if not _inside(index_dir, index_dir.parent):
        raise _outside(index_dir.name)
    if not _inside(folder, index_dir):
        raise _outside(shown)
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
    if not _inside(pointer, Path(index_dir)):
        raise _outside(f"{Path(index_dir).name}/{CURRENT}")
    with pointer.open("rb") as fh:
        build_id = fh.read(256).decode(errors="replace").strip()
    if not _BUILD_ID.fullmatch(build_id):
        raise failure(f"{Path(index_dir).name}/{CURRENT}", f"is corrupt (holds {build_id[:40]!r})")
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
        raise failure(build.shown(), problem)
    return build


def _build_time(folder: Path) -> str:
    try:
        with (folder / MANIFEST).open("rb") as fh:
            manifest = parse_json(fh.read(MAX_MANIFEST_BYTES + 1), MAX_MANIFEST_BYTES)
    except (OSError, ValueError):
        return ""
    built = manifest.get("built_at") if isinstance(manifest, dict) else None
    return built if isinstance(built, str) else ""


def list_builds(index_dir: Path) -> list[str]:
    """Ids of the finished builds in ``index_dir``, oldest first."""
    index_dir = Path(index_dir)
    if not index_dir.is_dir():
        return []
    folders = [p for p in index_dir.iterdir() if p.is_dir() and _BUILD_ID.fullmatch(p.name)]
    return [p.name for p in sorted(folders, key=lambda p: (_build_time(p), p.name))]
