"""First run: make sure a catalog and a current index build exist, collecting and building if not."""

from __future__ import annotations

import logging
from collections.abc import Callable

from tunescout import catalog
from tunescout.catalog import snapshots as raw
from tunescout.catalog.assemble import build_catalog
from tunescout.collect.runner import collect
from tunescout.config import Settings
from tunescout.errors import ArtifactError, DataMissingError
from tunescout.indexes import store
from tunescout.indexes.build import build_indexes

log = logging.getLogger(__name__)
Step = Callable[[str, float], None]


def is_ready(settings: Settings) -> bool:
    """Whether a catalog and a verified build made from it exist."""
    try:
        manifest = catalog.read_manifest(settings.catalog_dir)
        store.open_current(settings.index_dir, manifest["catalog_hash"])
    except (DataMissingError, ArtifactError):
        return False
    return True


def ensure_data(settings: Settings, on_step: Step | None = None) -> list[str]:
    """Collect (``auto``), build the catalog and the indexes — each only if missing.

    Args:
        settings: Where data lives.
        on_step: ``on_step(message, fraction_done)`` for a progress bar.

    Returns:
        What was done, one line per step (empty when everything was there).
    """
    report = on_step or (lambda message, fraction: log.info("%s (%.0f%%)", message, fraction * 100))
    done = []
    if not raw.latest_sources(settings.raw_dir):
        report("collecting data (APIs, public downloads, local files, else synthetic)", 0.0)
        done.append(collect(settings, "auto").message)
    try:
        catalog.read_manifest(settings.catalog_dir)
    except DataMissingError:
        report("building the catalog", 0.2)
        build_catalog(settings)
        done.append("catalog built")
    if not is_ready(settings):
        build_indexes(
            settings,
            progress=False,
            on_step=lambda name, f: report(f"building the {name} index", 0.3 + 0.7 * f),
        )
        done.append("indexes built")
    report("ready", 1.0)
    return done
