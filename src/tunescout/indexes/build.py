"""Index build: every registered index from the current catalog into one verified build.

Each component is optional on the command line (``--only``); the others are carried over from the
current build when it was made from the same catalog. An index may reuse work from its previous
version (the semantic index re-encodes only documents whose text changed).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from tunescout import catalog
from tunescout.config import Settings
from tunescout.errors import ArtifactError, DataMissingError
from tunescout.indexes import store, writer
from tunescout.indexes.base import Index, registry
from tunescout.vocabulary import model_name

log = logging.getLogger(__name__)
Progress = Callable[[str, float], None]
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


def _previous(cls: type[Index], current: store.Build | None) -> Index | None:
    """The current build's version of this index, for reuse (``None`` when absent or unusable)."""
    if current is None or cls.model not in current.models:
        return None
    try:
        return cls.load(current.component_dir(cls.model))
    except ArtifactError as exc:
        log.warning("previous %s index unusable, building it from scratch: %s", cls.model, exc)
        return None


def build_indexes(
    settings: Settings,
    only: Sequence[str] | None = None,
    progress: bool = True,
    on_step: Progress | None = None,
    options: Mapping[str, Mapping[str, Any]] | None = None,
) -> store.Build:
    """Build the requested components (all by default) and make the build current.

    Args:
        settings: Where the catalog and indexes live.
        only: Components to rebuild; the rest are carried over from the current build when it
            was made from the same catalog, and rebuilt otherwise.
        progress: Show tqdm bars.
        on_step: Called as ``on_step(component, fraction_done)`` (the app's progress bar).
        options: Per model, keyword arguments for its ``build`` (e.g.
            ``{"semantic": {"encoder": ...}}``).

    Returns:
        The new current build.
    """
    classes = registry()
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
    with writer.BuildWriter(
        settings.index_dir, catalog_hash, base=current if same_catalog else None
    ) as build:
        for step, name in enumerate(wanted):
            if on_step:
                on_step(name, step / len(wanted))
            started = time.perf_counter()
            cls = classes[name]
            index = cls.build(
                cat,
                previous=_previous(cls, current),
                progress=progress,
                **(options or {}).get(name, {}),
            )
            info = dict(index.save(build.component_dir(name)))
            info["build_seconds"] = round(time.perf_counter() - started, 2)
            build.add_component(name, info)
            log.info("%s index built in %.1f s", name, info["build_seconds"])
    if on_step:
        on_step("done", 1.0)
    return build.result
