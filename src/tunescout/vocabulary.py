"""The names tunescout uses for its models, item kinds and fusion methods: one name per thing.

Pages, the engine, the weights table, index manifests and reports all use these; older names
(``content``/``cosine`` for the audio model, ``collaborative`` for ALS) are read through
:func:`model_name` so that builds and calls made before the rename keep working.
"""

from __future__ import annotations

from typing import Literal, get_args

from tunescout.errors import InputError

Model = Literal["audio", "als", "semantic", "coplay", "tags"]
"""An index: audio-feature cosine, co-listening ALS, MiniLM text semantics, item-item co-listening
(EDLAE fold-in, RP3beta neighbours) or Last.fm tag and genre profiles."""
Signal = Literal["audio", "als", "semantic", "coplay", "tags", "popularity"]
"""What fusion blends: every model plus catalog popularity."""
Kind = Literal["tracks", "artists"]
Fusion = Literal["weighted", "rrf"]

MODELS: tuple[Model, ...] = get_args(Model)
SIGNALS: tuple[Signal, ...] = get_args(Signal)
KINDS: tuple[Kind, ...] = get_args(Kind)
FUSIONS: tuple[Fusion, ...] = get_args(Fusion)
HYBRID = "hybrid"

LABELS: dict[str, str] = {
    "audio": "Audio (cosine)",
    "als": "Co-listening (ALS)",
    "semantic": "Text (MiniLM)",
    "coplay": "Co-listening (item-item)",
    "tags": "Tags (Last.fm)",
    "popularity": "Popularity",
    HYBRID: "Hybrid",
}
SHORT: dict[str, str] = {
    "audio": "audio",
    "als": "ALS",
    "semantic": "text",
    "coplay": "co-listen",
    "tags": "tags",
    "popularity": "pop",
}

# Names used before the vocabulary was settled; read, never written.
_OLD: dict[str, str] = {"content": "audio", "cosine": "audio", "collaborative": "als"}


def canonical(name: str) -> str:
    """``name`` with an older spelling replaced by its current one (anything else unchanged)."""
    return _OLD.get(name, name)


def model_name(name: object, allowed: tuple[str, ...] = SIGNALS) -> str:
    """The canonical name of a model or signal, accepting the older names.

    Raises:
        InputError: ``name`` is not text or not one of ``allowed``.
    """
    if not isinstance(name, str):
        raise InputError(f"a model name must be text, got {type(name).__name__}")
    current = canonical(name)
    if current not in allowed:
        raise InputError(f"unknown model {name!r}; known: {list(allowed)}")
    return current
