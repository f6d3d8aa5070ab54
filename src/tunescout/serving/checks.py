"""Argument checks for the public API: every value a caller passes is checked here, once, and a
bad one becomes one :class:`~tunescout.errors.InputError` line."""

from __future__ import annotations

import dataclasses
import decimal
import math
import numbers
import reprlib
from collections.abc import Iterable, Mapping

from tunescout.errors import InputError
from tunescout.serving.filters import Filters
from tunescout.vocabulary import FUSIONS, SIGNALS, canonical

MAX_K = 500
MAX_TEXT = 300  # characters of a mood or search text (the app's fields allow as many)
MAX_ID = 1000  # characters of an id (catalog ids have 14 to 40)
INF = float("inf")
_SHORT = reprlib.Repr()
_SHORT.maxlong, _SHORT.maxstring, _SHORT.maxother = 24, 60, 60


def shown(value: object) -> str:
    """``repr(value)`` cut to a readable length (``10**400`` is not printed in full)."""
    return _SHORT.repr(value)


# ---- numbers: every number a caller passes goes through whole() or real() ---------------------


def whole(value: object, what: str, low: int | None = None, high: int | None = None) -> int:
    """A whole number (``int`` or a numpy integer, never ``bool``) within ``low..high``.

    Python integers of any size are compared exactly, so ``10**400`` is refused by its range, not
    by an ``OverflowError``.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InputError(f"{what} must be a whole number{_span(low, high)}, got {shown(value)}")
    number = int(value)
    if (low is not None and number < low) or (high is not None and number > high):
        raise InputError(f"{what} must be a whole number{_span(low, high)}, got {shown(value)}")
    return number


def real(value: object, what: str, low: float = -INF, high: float = INF) -> float:
    """A real number within ``low..high`` as a float: ``int`` (any size), ``float``, ``Fraction``,
    ``Decimal`` and numpy numbers are read; ``bool``, text, NaN and values beyond a float's range
    are refused."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real | decimal.Decimal):
        raise InputError(f"{what} must be a number{_span(low, high)}, got {shown(value)}")
    try:
        number = float(value)
    except (OverflowError, ValueError, ArithmeticError):  # 10**400, Fraction(10**400, 3)
        raise InputError(
            f"{what} must be a number{_span(low, high)} that a float can hold, got {shown(value)}"
        ) from None
    if math.isnan(number) or not low <= number <= high:
        raise InputError(f"{what} must be a number{_span(low, high)}, got {shown(value)}")
    return number


def _span(low: float | None, high: float | None) -> str:
    low = None if low in (None, -INF) else low
    high = None if high in (None, INF) else high
    if low is None and high is None:
        return ""
    if high is None:
        return f" of at least {low:g}"
    if low is None:
        return f" of at most {high:g}"
    return f" from {low:g} to {high:g}"


def k(value: object) -> int:
    """A result count from 1 to :data:`MAX_K`."""
    return whole(value, "k", 1, MAX_K)


def number(value: object, what: str, low: float, high: float) -> float:
    """A real number in ``low..high`` (see :func:`real`)."""
    return real(value, what, low, high)


def stars(value: object, what: str = "stars", whole_floats: bool = True) -> int:
    """Stars from 1 to 5: an integer (numpy's too) or, with ``whole_floats``, a whole real number
    such as ``5.0``."""
    if not isinstance(value, bool) and isinstance(value, numbers.Integral):
        number = int(value)
    elif whole_floats and not isinstance(value, bool) and isinstance(value, numbers.Real):
        try:
            number = int(value) if float(value).is_integer() else 0
        except (OverflowError, ValueError):
            number = 0
    else:
        number = 0
    if not 1 <= number <= 5:
        raise InputError(f"{what} must be 1–5 stars, got {shown(value)}")
    return number


# ---- text --------------------------------------------------------------------------------------


def valid_text(value: str, what: str, max_chars: int = MAX_ID) -> str:
    """``value`` when it can be encoded (no lone surrogate such as ``"\\ud800"``, which neither the
    tokenizer, SQLite nor Arrow can take) and has at most ``max_chars`` characters."""
    if len(value) > max_chars:
        raise InputError(f"{what} has {len(value):,} characters; at most {max_chars:,} are read")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{what} is not valid Unicode (a lone surrogate at character {exc.start + 1})"
        ) from None
    return value


def text(value: object, what: str, optional: bool = False) -> str | None:
    """A mood or search text: a string of at most :data:`MAX_TEXT` characters (or ``None``)."""
    if optional and value is None:
        return None
    if not isinstance(value, str):
        raise InputError(f"the {what} must be text, got {type(value).__name__}")
    if len(value) > MAX_TEXT:
        raise InputError(f"the {what} has {len(value):,} characters; at most {MAX_TEXT} are read")
    return valid_text(value, f"the {what}")


def ids(value: object, what: str) -> list[str]:
    """A list of ids, not one id (whose letters would be taken for ids) nor nothing."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InputError(f"{what} must be a list of ids, got {reprlib.repr(value)}")
    return [valid_text(str(i), f"an id in {what}") for i in value]


# ---- structured arguments ------------------------------------------------------------------------


def _bounds(name: str, pair: object) -> object:
    """A (low, high) pair with its numbers as floats; anything else is left for :class:`Filters`
    to refuse by name."""
    if not isinstance(pair, tuple | list) or len(pair) != 2:
        return pair
    if any(isinstance(v, bool) or not isinstance(v, numbers.Real | decimal.Decimal) for v in pair):
        raise InputError(f"filter {name}: bounds must be numbers, got {shown(tuple(pair))}")
    out: list[float] = []
    for v in pair:
        try:  # integers stay integers as long as numpy compares them exactly
            fits = isinstance(v, numbers.Integral) and -(2**63) <= int(v) < 2**63
            out.append(int(v) if fits else float(v))
        except (OverflowError, ValueError, ArithmeticError):
            raise InputError(
                f"filter {name}: bounds must be numbers a float can hold, got {shown(v)}"
            ) from None
    return tuple(out)


def filters(value: Filters | Mapping | None) -> Filters | None:
    """A :class:`Filters`, built from a dict of its fields when given one; every bound a float."""
    if value is None:
        return None
    if isinstance(value, Filters):
        fields = {f.name: getattr(value, f.name) for f in dataclasses.fields(Filters)}
    elif isinstance(value, Mapping):
        known = list(Filters.__dataclass_fields__)
        unknown = sorted(map(str, set(value) - set(known)))
        if unknown:
            raise InputError(f"unknown filters {unknown}; known: {known}")
        fields = dict(value)
    else:
        raise InputError(f"filters must be a Filters or a dict, got {type(value).__name__}")
    for name in ("popularity", "years"):
        if fields.get(name) is not None:
            fields[name] = _bounds(name, fields[name])
    features = fields.get("features")
    if isinstance(features, Mapping):
        fields["features"] = {f: _bounds(str(f), b) for f, b in features.items()}
    return Filters(**fields)


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
        out[canonical(name)] = real(weight, f"the weight of {name}", 0.0, INF)
    return out


def fusion(value: object) -> str:
    """A fusion method name."""
    if not isinstance(value, str) or value not in FUSIONS:
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
