"""Listener-centred evaluation of mood search: each result against every part of a compositional
request, repeated songs, distinct "why" texts, and the Deezer quadrant check (:mod:`.deezer`).

All facts come from the built catalog and the Deezer labels, never from the search system.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tunescout.catalog import Catalog
from tunescout.research.deezer import deezer_labels, quadrant_lift
from tunescout.research.facts import Facts
from tunescout.research.protocol import json_ready, nanmean
from tunescout.research.requests import WHY_COLUMNS, QueryFile, Request, load_queries

log = logging.getLogger(__name__)
SearchFn = Callable[[str, int], pd.DataFrame]


def met_share(met: Sequence[bool], k: int = 10) -> float:
    """Share of the top ``k`` that meet the request; rows missing from a short list count as failures.

    Args:
        met: Whether each result (in list order) meets every constraint.
        k: The cutoff.

    Returns:
        Met results among the first ``k``, divided by ``k``.
    """
    return float(np.sum(np.asarray(met[:k], dtype=bool))) / k


def has_repeat(songs: Sequence[str]) -> bool:
    """Whether a list holds the same song twice.

    Args:
        songs: Song keys in list order.

    Returns:
        True when some key occurs more than once.
    """
    return len(set(songs)) < len(songs)


def distinct_share(texts: Sequence[str]) -> float:
    """Share of distinct texts in a list ("why" texts): 1.0 when every row explains itself.

    Args:
        texts: One text per row.

    Returns:
        Distinct texts / rows; NaN for an empty list.
    """
    return len(set(texts)) / len(texts) if len(texts) else float("nan")


def _why(frame: pd.DataFrame) -> list[str] | None:
    for column in WHY_COLUMNS:
        if column in frame.columns:
            return [str(v) for v in frame[column].fillna("")]
    return None


def score_lists(
    facts: Facts,
    requests: Sequence[Request],
    results: Mapping[str, pd.DataFrame],
    k: int = 10,
) -> pd.DataFrame:
    """Score each request's result list.

    Args:
        facts: Catalog facts.
        requests: The requests.
        results: Request id -> ranked result frame with ``track_id`` and ``why`` (or ``reason``);
            a request without a frame scores as an empty list.
        k: The cutoff.

    Returns:
        One row per request: id, text, category, n (rows returned, at most k), share (met / k),
        repeat (bool), distinct_why (NaN without a why column or rows), failed (constraint ->
        how many of the top k fail it, plus "missing" for rows short of k).
    """
    rows = []
    for request in requests:
        frame = results.get(request.id)
        frame = frame.head(k) if frame is not None else pd.DataFrame({"track_id": []})
        ids = [str(t) for t in frame["track_id"]]
        detail = facts.failures(request, ids)
        failed = {
            name: int((~detail[name]).sum())
            for name in detail.columns
            if name not in ("track_id", "meets", "failed")
        }
        failed["not in catalog"] = int((detail["failed"] == "not in catalog").sum())
        failed["missing"] = k - len(ids)
        why = _why(frame)
        rows.append(
            {
                "id": request.id,
                "text": request.text,
                "category": request.category,
                "n": len(ids),
                "share": met_share(detail["meets"].tolist(), k),
                "repeat": has_repeat(facts.song_of(ids)),
                "distinct_why": distinct_share(why) if why is not None else float("nan"),
                "failed": failed,
            }
        )
    return pd.DataFrame(rows)


def summarise(scores: pd.DataFrame) -> dict[str, Any]:
    """Aggregate :func:`score_lists` rows, overall and per category.

    Args:
        scores: The per-request frame.

    Returns:
        ``{"requests", "mean_share", "lists_with_repeat", "mean_distinct_why",
        "constraint_failures", "by_category"}``, where constraint_failures gives, per constraint
        kind, the share of top-k rows failing it over the lists that have it.
    """
    by_category = {
        name: {
            "requests": len(group),
            "mean_share": float(group["share"].mean()),
            "lists_with_repeat": int(group["repeat"].sum()),
            "mean_distinct_why": nanmean(group["distinct_why"]),
        }
        for name, group in scores.groupby("category", sort=True)
    }
    totals: dict[str, list[float]] = {}
    for failed, n in zip(scores["failed"], scores["n"], strict=True):
        for name, count in failed.items():
            if name not in ("missing", "not in catalog") and n:
                totals.setdefault(name, []).append(count / n)
    return {
        "requests": len(scores),
        "mean_share": float(scores["share"].mean()) if len(scores) else float("nan"),
        "lists_with_repeat": int(scores["repeat"].sum()) if len(scores) else 0,
        "mean_distinct_why": nanmean(scores["distinct_why"]) if len(scores) else float("nan"),
        "constraint_failures": {k: float(np.mean(v)) for k, v in sorted(totals.items())},
        "by_category": by_category,
    }


def evaluate(
    search: SearchFn,
    catalog: Catalog | Facts,
    requests: QueryFile | Sequence[Request],
    k: int = 10,
) -> dict[str, Any]:
    """Run every request through ``search`` and score the lists.

    Args:
        search: ``search(text, k)`` returning a ranked frame with ``track_id`` and ``why``.
        catalog: The catalog the search serves (or :class:`Facts` built from it).
        requests: A query file or its requests.
        k: The cutoff.

    Returns:
        JSON-ready ``{"summary", "requests"}``; each request row carries its catalog songs meeting
        all constraints and the top-k with the constraints each result fails.
    """
    facts = catalog if isinstance(catalog, Facts) else Facts.from_catalog(catalog)
    items = requests.requests if isinstance(requests, QueryFile) else tuple(requests)
    for request in items:
        facts.check(request)
    results = {r.id: search(r.text, k) for r in items}
    scores = score_lists(facts, items, results, k)
    rows = []
    for request, record in zip(items, scores.to_dict("records"), strict=True):
        frame = results[request.id].head(k)
        detail = facts.failures(request, [str(t) for t in frame["track_id"]])
        why = _why(frame) or [""] * len(frame)
        record["catalog_songs_meeting"] = facts.songs_meeting(request)
        record["top"] = [
            {"track_id": t, "song": s, "failed": f, "why": w}
            for t, s, f, w in zip(
                detail["track_id"],
                facts.song_of(detail["track_id"]),
                detail["failed"],
                why,
                strict=True,
            )
        ]
        rows.append(json_ready(record))
    return {"summary": json_ready(summarise(scores)), "requests": rows}


def run(
    engine: Any,
    dev_path: Path | str,
    blind_path: Path | str | None,
    deezer_dir: Path | str,
    k: int = 10,
) -> dict[str, Any]:
    """Evaluate an engine's mood search on the dev and blind sets and the Deezer quadrants.

    Args:
        engine: Has ``catalog`` and ``search_mood(text, k=..., filters=...)``.
        dev_path: The dev query file.
        blind_path: The blind query file (None to leave it out).
        deezer_dir: The Deezer mood CSVs.
        k: The cutoff.

    Returns:
        JSON-ready ``{"k", "dev", "blind", "deezer"}``; deezer holds the matched track and song
        counts and the quadrant lifts of each file's ``quadrants`` block.
    """
    from tunescout.serving.filters import Filters

    facts = Facts.from_catalog(engine.catalog)
    files = {"dev": load_queries(dev_path)}
    if blind_path is not None:
        files["blind"] = load_queries(blind_path)
    every_track = frozenset(engine.catalog.tracks["track_id"])

    def search(text: str, n: int) -> pd.DataFrame:
        return engine.search_mood(text, k=n)

    def restricted(text: str, n: int, allowed: frozenset[str]) -> pd.DataFrame:
        return engine.search_mood(text, k=n, filters=Filters(exclude=every_track - allowed))

    labels = deezer_labels(engine.catalog, deezer_dir)
    deezer: dict[str, Any] = {
        "matched_tracks": len(labels),
        "matched_songs": int(labels["song"].nunique()),
    }
    out: dict[str, Any] = {"k": k, "dev": None, "blind": None}
    for split, queries in files.items():
        out[split] = evaluate(search, facts, queries, k)
        deezer[split] = quadrant_lift(restricted, labels, queries.quadrants, k)
    out["deezer"] = deezer
    return out


def table(result: dict[str, Any]) -> str:
    """The listener-centred figures of :func:`run` as a few printable lines."""
    lines = []
    for split in ("dev", "blind"):
        part = result.get(split)
        if not part:
            continue
        s = part["summary"]
        lines.append(
            f"{split}: {s['requests']} requests, every constraint met {s['mean_share']:.3f}, "
            f"lists repeating a song {s['lists_with_repeat']}, distinct reasons "
            f"{s['mean_distinct_why']:.3f}"
        )
        deezer = result.get("deezer", {}).get(split)
        if deezer:
            quadrants = ", ".join(f"{q} {v:+.2f}" for q, v in deezer["by_quadrant"].items())
            lines.append(f"  Deezer lift: {quadrants}; mean {deezer['overall']:+.2f}")
    return "\n".join(lines)
