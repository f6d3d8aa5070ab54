"""Argument checks for the public API: every value a caller passes is checked here, once, and a
bad one becomes one :class:`~tunescout.errors.InputError` line."""

from __future__ import annotations

import numbers
import reprlib
from collections.abc import Iterable, Mapping

import numpy as np

from tunescout.errors import InputError
from tunescout.serving.filters import Filters
from tunescout.vocabulary import FUSIONS, SIGNALS, canonical

MAX_K = 500
MAX_TEXT = 300  # characters of a mood or search text (the app's fields allow as many)


def k(value: object) -> int:
    """A result count from 1 to :data:`MAX_K`."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | np.integer)
        or not 1 <= value <= MAX_K
    ):
        raise InputError(f"k must be a whole number from 1 to {MAX_K}, got {value!r}")
    return int(value)


def whole(value: object, what: str, low: int | None = None) -> int:
    """A whole number (optionally at least ``low``)."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InputError(f"{what} must be a whole number, got {value!r}")
    if low is not None and value < low:
        raise InputError(f"{what} must be a whole number of at least {low}, got {value!r}")
    return int(value)


def filters(value: Filters | Mapping | None) -> Filters | None:
    """A :class:`Filters`, built from a dict of its fields when given one."""
    if value is None or isinstance(value, Filters):
        return value
    if isinstance(value, Mapping):
        fields = list(Filters.__dataclass_fields__)
        unknown = sorted(map(str, set(value) - set(fields)))
        if unknown:
            raise InputError(f"unknown filters {unknown}; known: {fields}")
        return Filters(**value)
    raise InputError(f"filters must be a Filters or a dict, got {type(value).__name__}")


def text(value: object, what: str, optional: bool = False) -> str | None:
    """A mood or search text: a string of at most :data:`MAX_TEXT` characters (or ``None``)."""
    if optional and value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"the {what} must be text, got {type(value).__name__}")
    if len(value) > MAX_TEXT:
        raise InputError(f"the {what} has {len(value):,} characters; at most {MAX_TEXT} are read")
    return value


def number(value: object, what: str, low: float, high: float) -> float:
    """A real number in ``low..high`` (NaN is refused)."""
    if (
        isinstance(value, bool)
        or not isinstance(value, numbers.Real)
        or not low <= value <= high  # also refuses NaN
    ):
        span = f"of at least {low:g}" if high == float("inf") else f"from {low:g} to {high:g}"
        raise InputError(f"{what} must be a number {span}, got {value!r}")
    return float(value)


def ids(value: object, what: str) -> list[str]:
    """A list of ids, not one id (whose letters would be taken for ids) nor nothing."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InputError(f"{what} must be a list of ids, got {reprlib.repr(value)}")
    return [str(i) for i in value]


def ratings(value: object) -> Mapping:
    """Ratings: a mapping of artist ids to stars (the stars are checked by the ranking)."""
    if not isinstance(value, Mapping):
        raise InputError("ratings must map artist ids to 1–5 stars")
    return value


def weights(value: object, known: tuple[str, ...] = SIGNALS) -> dict[str, float] | None:
    """Model weights by name (older names accepted), each a non-negative number."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise InputError(f"weights must map model names to numbers, got {value!r}")
    unknown = sorted(str(n) for n in value if not isinstance(n, str) or canonical(n) not in known)
    if unknown:
        raise InputError(f"unknown model weights {unknown}; known: {list(known)}")
    out = {}
    for name, weight in value.items():
        number(weight, f"the weight of {name}", 0.0, float("inf"))
        out[canonical(name)] = float(weight)
    return out


def fusion(value: object) -> str:
    """A fusion method name."""
    if value not in FUSIONS:
        choices = " or ".join(repr(f) for f in FUSIONS)
        raise InputError(f"fusion must be {choices}, got {value!r}")
    return str(value)


def diversity(value: object, default: float) -> float:
    """The MMR trade-off from 0 to 1 (``default`` when ``None``)."""
    return default if value is None else number(value, "diversity", 0.0, 1.0)


def mood(value: object) -> str | None:
    """An optional mood text; blank means none."""
    checked = text(value, "mood", optional=True)
    return checked if checked and checked.strip() else None
