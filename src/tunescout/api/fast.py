"""Answers written as JSON bytes from catalog positions: similar-by-id from the build's neighbour
table, session continuations from the engine's positions.

The general path asks the engine for a DataFrame and converts it item by item. Here each catalog
item's JSON is written once per engine (:class:`Fragments`) and an answer joins those fragments
with the scores (and reasons): the same JSON as the general path.
"""

from __future__ import annotations

import threading
import weakref
from typing import TYPE_CHECKING

import numpy as np

from tunescout.api.convert import dumps, floats, items
from tunescout.serving import checks, ranking
from tunescout.vocabulary import HYBRID, KINDS, Kind, model_name

if TYPE_CHECKING:
    from tunescout.serving.engine import Engine

_FRAGMENTS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_LOCK = threading.Lock()


class Fragments:
    """Every catalog item's JSON object without its closing brace, by table position."""

    def __init__(self, engine: Engine) -> None:
        lookup = engine.context.lookup
        self.of: dict[Kind, list[bytes]] = {}
        for kind in KINDS:
            frame = lookup.rows_at(np.arange(len(lookup.table(kind))), kind)
            self.of[kind] = [dumps(item)[:-1] for item in items(frame)]


def fragments(engine: Engine) -> Fragments:
    """The engine's fragments, written on first use (:func:`prepare` does it at load)."""
    with _LOCK:
        found = _FRAGMENTS.get(engine)
        if found is None:
            found = _FRAGMENTS[engine] = Fragments(engine)
        return found


def prepare(engine: Engine) -> None:
    """Write the fragments now when the engine has a neighbour table (the API's engine loader)."""
    if getattr(getattr(engine, "context", None), "table", None) is not None:
        fragments(engine)


def similar(engine: Engine, build_id: str | None, kind: Kind, item_id: str, k: int, model: str):
    """The answer's JSON bytes from the table, or ``None`` when the table cannot give it (no
    table, ``k`` beyond it, an item the model has no list for): the engine answers then.

    Raises the engine's errors for a bad ``k``, model or id, as the slow path does.
    """
    ctx = getattr(engine, "context", None)
    if ctx is None or ctx.table is None:
        return None
    checks.valid_text(item_id, f"the {kind[:-1]} id")
    k = checks.k(k)
    model = model_name(model, (*ctx.indexes, HYBRID))
    item = ctx.lookup.known([item_id], kind)[0]
    position = ctx.lookup.position(item, kind)
    rows, scores = ctx.table.get(kind, model, position, k)
    if not len(rows):
        return None
    of = fragments(engine).of[kind]
    listed = b",".join(
        of[r] + b',"score":' + dumps(float(s)) + b"}"
        for r, s in zip(rows.tolist(), scores.tolist(), strict=True)
    )
    head = {"build_id": build_id, "kind": kind, "model": model, "k": k}
    return dumps(head)[:-1] + b',"seed":' + of[position] + b'},"items":[' + listed + b"]}"


def session_weights(engine: Engine) -> dict[str, float]:
    """The "session" weights row over the signals this build has."""
    present = {*engine.indexes, "popularity"}
    return {n: w for n, w in ranking.WEIGHTS["session"].items() if n in present}


def session(engine: Engine, build_id: str | None, tracks: list[str], k: int, filters) -> bytes:
    """The session answer's JSON bytes (``Engine.continue_session_rows``)."""
    found = engine.continue_session_rows(tracks, k=k, filters=filters)
    of = fragments(engine).of["tracks"]
    tail = b',"reason":' + dumps(found.reason) + b"}"
    listed = b",".join(
        of[p] + b',"score":' + dumps(float(s)) + tail
        for p, s in zip(found.positions.tolist(), found.scores.tolist(), strict=True)
    )
    head = {
        "build_id": build_id,
        "source": "session",
        "kind": "tracks",
        "k": k,
        "fusion": "weighted",
        "weights": floats(session_weights(engine)),
    }
    return dumps(head)[:-1] + b',"items":[' + listed + b"]}"
