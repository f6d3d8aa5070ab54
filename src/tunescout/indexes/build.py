"""Index build: content, ALS and semantic components from the current catalog into one verified build.

Each component is optional on the command line (``--only``); the others are carried over from the
current build when it was made from the same catalog. The semantic component always reuses the
vectors of unchanged documents from the previous build, so a weekly re-collection re-encodes only
what changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from tunescout import catalog
from tunescout.catalog import Catalog
from tunescout.config import Settings
from tunescout.errors import ArtifactError, DataMissingError, InputError
from tunescout.indexes import store

log = logging.getLogger(__name__)
COMPONENTS = ("content", "als", "semantic")
Progress = Callable[[str, float], None]


def _current(settings: Settings) -> store.Build | None:
    try:
        return store.open_current(settings.index_dir)
    except (DataMissingError, ArtifactError) as exc:
        log.info("no usable previous build (%s)", exc)
        return None


def _previous_semantic(current: store.Build | None):
    from tunescout.indexes.semantic import SemanticIndex

    if current is None or "semantic" not in current.components:
        return None
    try:
        return SemanticIndex.load(current.component_dir("semantic"))
    except ArtifactError as exc:
        log.warning("previous semantic index unusable, re-encoding everything: %s", exc)
        return None


def _build_component(
    name: str, cat: Catalog, current: store.Build | None, progress: bool, encoder: object
):
    if name == "content":
        from tunescout.indexes.content import ContentIndex

        return ContentIndex.build(cat)
    if name == "als":
        from tunescout.indexes.collaborative import CollaborativeIndex

        return CollaborativeIndex.build(cat, show_progress=progress)
    from tunescout.indexes.semantic import SemanticIndex

    return SemanticIndex.build(
        cat, previous=_previous_semantic(current), encoder=encoder, progress=progress
    )


def build_indexes(
    settings: Settings,
    only: Sequence[str] | None = None,
    progress: bool = True,
    on_step: Progress | None = None,
    encoder: object | None = None,
) -> store.Build:
    """Build the requested components (all by default) and make the build current.

    Args:
        settings: Where the catalog and indexes live.
        only: Components to rebuild; the rest are carried over from the current build when it
            was made from the same catalog, and rebuilt otherwise.
        progress: Show tqdm bars.
        on_step: Called as ``on_step(component, fraction_done)`` (the app's progress bar).
        encoder: Document encoder for the semantic component; the packaged MiniLM by default.

    Returns:
        The new current build.
    """
    unknown = sorted(set(only or ()) - set(COMPONENTS))
    if unknown:
        raise InputError(f"unknown index components {unknown}; choose from {list(COMPONENTS)}")
    cat = catalog.read_catalog(settings.catalog_dir)
    catalog_hash = catalog.read_manifest(settings.catalog_dir)["catalog_hash"]
    current = _current(settings)
    same_catalog = current is not None and current.catalog_hash == catalog_hash
    wanted = list(only) if only else list(COMPONENTS)
    if not same_catalog:
        missing = [c for c in COMPONENTS if c not in wanted]
        if missing and only:
            log.info("the catalog changed since the last build: rebuilding %s too", missing)
        wanted = list(COMPONENTS)
    if cat.interactions.empty and "als" in wanted:
        log.warning("no listening data: the build has no ALS component")
        wanted.remove("als")
    with store.BuildWriter(
        settings.index_dir, catalog_hash, base=current if same_catalog else None
    ) as build:
        for step, name in enumerate(wanted):
            if on_step:
                on_step(name, step / len(wanted))
            started = time.perf_counter()
            index = _build_component(name, cat, current, progress, encoder)
            info = index.save(build.component_dir(name))
            info["build_seconds"] = round(time.perf_counter() - started, 2)
            build.add_component(name, info)
            log.info("%s index built in %.1f s", name, info["build_seconds"])
    if on_step:
        on_step("done", 1.0)
    return build.result
