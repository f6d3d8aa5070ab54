"""Index build: every registered index from the current catalog into one verified build.

Each component is optional on the command line (``--only``); the others are carried over from the
current build when it was made from the same catalog. An index may reuse work from its previous
version (the semantic index re-encodes only documents whose text changed). A first build can be
published in stages: ``defer=("semantic",)`` makes the fast components current at once, and a
second ``only=("semantic",)`` build carries them over and adds the rest (:mod:`tunescout.firstrun`).

The whole build holds the data directory's lock (:class:`tunescout.jobs.DataLock`): a second build
waits for the first instead of overlapping it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from tunescout import catalog
from tunescout.config import Settings
from tunescout.errors import ArtifactError, DataMissingError
from tunescout.indexes import store, writer
from tunescout.indexes.base import Index, registry
from tunescout.jobs import DataLock
from tunescout.vocabulary import model_name

log = logging.getLogger(__name__)
Progress = Callable[[str, float], None]
# ``(step, done, total)``: the step is a model name; ``total`` 0 while a step has not counted yet.
Counts = Callable[[str, int, int], None]
# The derived component (tunescout.serving.neighbourtable): ``only=(TABLE,)`` adds it to the
# current build, ``defer=(TABLE,)`` leaves it for later.
TABLE = "neighbours"
# Indexes that learn from listening: a catalog without interactions builds without them.
NEEDS_LISTENING = frozenset({"als"})


def components() -> tuple[str, ...]:
    """The model names a build can hold, in build order."""
    return tuple(registry())


def _current(settings: Settings) -> store.Build | None:
    try:
        return store.open_current(settings.index_dir)
    except (DataMissingError, ArtifactError) as exc:
        log.info("no usable previous build (%s)", exc)
        return None


def _holding(cls: type[Index], index_dir: Path, current: store.Build | None) -> store.Build | None:
    """The newest finished build holding this model: the current one, else an earlier one (a
    staged build publishes without the slow components, whose last version lies one build back)."""
    if current is not None and cls.model in current.models:
        return current
    for build_id in reversed(store.list_builds(index_dir)):
        if current is not None and build_id == current.id:
            continue
        try:
            build = store.open_build(index_dir, build_id)
        except ArtifactError as exc:
            log.info("build %s not reused: %s", build_id, exc)
            continue
        if cls.model in build.models:
            return build
    return None


def _previous(cls: type[Index], index_dir: Path, current: store.Build | None) -> Index | None:
    """The last built version of this index, for reuse (``None`` when absent or unusable)."""
    holder = _holding(cls, index_dir, current)
    if holder is None:
        return None
    try:
        return cls.load(holder.component_dir(cls.model))
    except ArtifactError as exc:
        log.warning("previous %s index unusable, building it from scratch: %s", cls.model, exc)
        return None


def _counting(name: str, on_progress: Counts) -> Callable[[int, int], None]:
    """An index's ``progress(done, total)`` reported as ``on_progress(name, done, total)``."""
    return lambda done, total: on_progress(name, int(done), int(total))


def _rows(info: Mapping[str, Any]) -> int:
    """Items a component holds: its tracks and artists (other row counts are details)."""
    rows = info.get("rows", {})
    if not isinstance(rows, Mapping):
        return int(rows or 0)
    kinds = [rows[kind] for kind in ("tracks", "artists") if isinstance(rows.get(kind), int)]
    return int(sum(kinds)) if kinds else 0


def _neighbour_table(
    build: writer.BuildWriter,
    cat: catalog.Catalog,
    built: dict[str, Index],
    carried: store.Build | None,
    classes: Mapping[str, type[Index]],
    on_progress: Counts | None,
) -> None:
    """Every item's neighbours under the build's models (:mod:`tunescout.serving.neighbourtable`),
    as one more component. Serving works without it (it searches per request), so a failure here
    is logged and the build goes on."""
    from tunescout.serving.engine import Engine  # serving sits on top of the indexes
    from tunescout.serving.neighbourtable import compute

    started = time.perf_counter()
    indexes = dict(built)
    if carried is not None:
        for name, stored in carried.models.items():
            if name in classes and name not in indexes:
                indexes[name] = classes[name].load(carried.component_dir(stored))
    if "audio" not in indexes:
        return
    if on_progress:
        on_progress(TABLE, 0, 0)
    counting = _counting(TABLE, on_progress) if on_progress else None
    try:
        # In the order a loaded build lists them (the manifest's), as the engine will fuse them.
        table = compute(Engine(cat, dict(sorted(indexes.items()))).context, progress=counting)
    except (MemoryError, ValueError, IndexError, KeyError) as exc:
        log.warning("no neighbour table in this build (%s); similar items are searched", exc)
        return
    info = dict(table.save(build.component_dir(TABLE)))
    info["build_seconds"] = round(time.perf_counter() - started, 2)
    build.add_component(TABLE, info)
    log.info("neighbour table built in %.1f s", info["build_seconds"])
    if on_progress:
        rows = _rows(info)
        on_progress(TABLE, rows, rows)


def build_indexes(
    settings: Settings,
    only: Sequence[str] | None = None,
    progress: bool = True,
    on_step: Progress | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
    defer: Sequence[str] = (),
    on_progress: Counts | None = None,
    before_publish: Callable[[], None] | None = None,
) -> store.Build:
    """Build the requested components (all by default) and make the build current.

    Args:
        settings: Where the catalog and indexes live.
        only: Components to rebuild; the rest are carried over from the current build when it
            was made from the same catalog, and rebuilt otherwise.
        progress: Show tqdm bars (when ``on_progress`` is not given).
        on_step: Called as ``on_step(component, fraction_done)`` at each component's start.
        options: Per model, keyword arguments for its ``build`` (e.g.
            ``{"semantic": {"encoder": ...}}``).
        defer: Components not built now: carried over when the current build has them from the
            same catalog, else left out (a later ``only=`` build adds them).
        on_progress: Called as ``on_progress(component, done, total)``: ``(name, 0, 0)`` when a
            component starts, the counts its ``build`` reports through a callable ``progress``
            (e.g. documents encoded), and ``(name, rows, rows)`` when it is saved.
        before_publish: Called when every component is written, before the build becomes
            current (the first run waits there for the query encoder the app will need).

    Returns:
        The new current build.
    """
    with DataLock(settings.data_dir):
        return _build(
            settings, only, progress, on_step, options, defer, on_progress, before_publish
        )


def _build(
    settings: Settings,
    only: Sequence[str] | None,
    progress: bool,
    on_step: Progress | None,
    options: Mapping[str, Mapping[str, Any]] | None,
    defer: Sequence[str],
    on_progress: Counts | None,
    before_publish: Callable[[], None] | None,
) -> store.Build:
    classes = registry()
    table_only = list(only or ()) == [TABLE]
    only = [name for name in only or () if name != TABLE]  # computed whenever all is in
    wanted = [model_name(name, tuple(classes)) for name in only] if only else list(classes)
    cat = catalog.read_catalog(settings.catalog_dir)
    catalog_hash = catalog.read_manifest(settings.catalog_dir)["catalog_hash"]
    current = _current(settings)
    same_catalog = current is not None and current.catalog_hash == catalog_hash
    if not same_catalog:
        missing = [c for c in classes if c not in wanted]
        if missing and only:
            log.info("the catalog changed since the last build: rebuilding %s too", missing)
        wanted = list(classes)
    if cat.interactions.empty:
        for name in NEEDS_LISTENING.intersection(wanted):
            log.warning("no listening data: the build has no %s component", name)
            wanted.remove(name)
    later = {model_name(name, tuple(classes)) for name in defer if name != TABLE}
    wanted = [name for name in wanted if name not in later]
    if table_only and same_catalog:
        wanted = []
    if later:
        log.info("deferred to a later build: %s", sorted(later))
    built: dict[str, Index] = {}
    with writer.BuildWriter(
        settings.index_dir, catalog_hash, base=current if same_catalog else None
    ) as build:
        for step, name in enumerate(wanted):
            if on_step:
                on_step(name, step / len(wanted))
            if on_progress:
                on_progress(name, 0, 0)
            started = time.perf_counter()
            cls = classes[name]
            index = cls.build(
                cat,
                previous=_previous(cls, settings.index_dir, current),
                progress=_counting(name, on_progress) if on_progress else progress,
                **(options or {}).get(name, {}),
            )
            info = dict(index.save(build.component_dir(name)))
            info["build_seconds"] = round(time.perf_counter() - started, 2)
            build.add_component(name, info)
            built[name] = index
            log.info("%s index built in %.1f s", name, info["build_seconds"])
            if on_progress:
                rows = _rows(info)
                on_progress(name, rows, rows)
        if not later and TABLE not in defer:  # a staged build tables them once all is in
            carried = current if same_catalog else None
            _neighbour_table(build, cat, built, carried, classes, on_progress)
        if before_publish:
            before_publish()
    if on_step:
        on_step("done", 1.0)
    return build.result
