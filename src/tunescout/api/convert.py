"""Engine answers (DataFrames) as JSON-ready items, and JSON bytes.

Tracks and artists keep the catalog's column names; audio features go under ``features``, each
model's normalised score under ``scores``, and a track's ``why`` (mood search) or ``reason``
(recommendations) under ``reason``. Missing values are ``null``, never NaN.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from tunescout.domain.features import AUDIO_FEATURES

_FEATURES = frozenset(AUDIO_FEATURES)
_RENAMED = {"why": "reason"}


def plain(value: object) -> object:
    """``value`` as a JSON value: numpy scalars as Python numbers, NaN and NA as ``None``,
    arrays as lists."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str | bool):
        return value
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.ndarray | list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return str(value)


def items(frame: pd.DataFrame) -> list[dict]:
    """One item per row: catalog columns, ``features``, ``scores`` and ``reason``.

    Reads whole columns (``tolist``), never row by row: pandas' row iteration costs more than the
    search behind a similar-tracks answer.
    """
    places = []  # (column values, where the value goes, its name there)
    for name in frame.columns:
        values = frame[name].tolist()
        if name in _FEATURES:
            places.append((values, "features", name))
        elif name.startswith("score_"):
            places.append((values, "scores", name[len("score_") :]))
        else:
            places.append((values, None, _RENAMED.get(name, name)))
    out = []
    for i in range(len(frame)):
        item: dict[str, object] = {}
        for values, group, name in places:
            value = plain(values[i])
            if group is None:
                item[name] = value
            else:
                item.setdefault(group, {})[name] = value
        if "genres" in item and item["genres"] is None:
            item["genres"] = []
        out.append(item)
    return out


def dumps(payload: object) -> bytes:
    """Compact UTF-8 JSON (NaN refused: :func:`plain` has already made it ``null``)."""
    return json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def floats(mapping: dict[str, float]) -> dict[str, float]:
    """Weights rounded for reading (six decimals)."""
    return {str(k): round(float(v), 6) for k, v in mapping.items()}


def strings(values: Iterable[object]) -> list[str]:
    return [str(v) for v in values]
