"""Page settings kept in the URL, so a search with its filters, a For You setup or an explorer view
can be shared, bookmarked and reloaded.

:class:`Link` reads values from the query parameters, each checked against what its widget accepts;
a value it cannot use falls back to the default and is named in :attr:`Link.problems` (the page
shows them in one line). :func:`write` puts the values that differ from their defaults back, and
removes the others, so a plain page keeps a plain URL. The functions take plain mappings and are
tested without Streamlit; :func:`current` reads ``st.query_params``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import streamlit as st

MAX_VALUE = 300  # characters read from one parameter


def current() -> dict[str, list[str]]:
    """``st.query_params`` as name → every value given for it."""
    return {name: st.query_params.get_all(name) for name in st.query_params}


def span_text(low: float, high: float) -> str:
    """A range as one URL value: ``0.2-0.8``, ``1990-1999``."""
    return f"{_short(low)}-{_short(high)}"


def _short(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


class Link:
    """Checked reads of page settings from URL parameters.

    Args:
        params: Name → values, e.g. :func:`current`.

    Example:
        >>> link = Link({"k": ["20"], "energy": ["0.2-0.9"], "pop": ["x"]})
        >>> link.number("k", 10, 5, 50, whole=True), link.span("energy", (0.0, 1.0), 0.0, 1.0)
        (20, (0.2, 0.9))
        >>> link.span("pop", (0, 100), 0, 100, whole=True), link.problems
        ((0, 100), ["pop='x' is not a range like 10-90"])
    """

    def __init__(self, params: Mapping[str, Sequence[str]]) -> None:
        self.params = {k: [str(v)[:MAX_VALUE] for v in vs] for k, vs in params.items()}
        self.problems: list[str] = []

    def _last(self, name: str) -> str | None:
        values = self.params.get(name) or []
        return values[-1].strip() if values else None

    def _refuse(self, name: str, value: str, why: str) -> None:
        self.problems.append(f"{name}={value[:40]!r} {why}")

    def text(self, name: str, default: str = "", limit: int = MAX_VALUE) -> str:
        """A free text (cut to ``limit`` characters)."""
        value = self._last(name)
        return default if value is None else value[:limit]

    def number(
        self, name: str, default: float, low: float, high: float, whole: bool = False
    ) -> Any:
        """A number from ``low`` to ``high`` (an ``int`` when ``whole``)."""
        value = self._last(name)
        if value is None:
            return default
        try:
            number = float(value)
        except ValueError:
            self._refuse(name, value, "is not a number")
            return default
        if (
            not math.isfinite(number)
            or not low <= number <= high
            or (whole and not number.is_integer())
        ):
            self._refuse(
                name,
                value,
                f"is not {'a whole number ' if whole else ''}from {_short(low)} to {_short(high)}",
            )
            return default
        return int(number) if whole else number

    def choice(self, name: str, options: Sequence[Any], default: Any) -> Any:
        """One of ``options``, matched by its text."""
        value = self._last(name)
        if value is None:
            return default
        for option in options:
            if str(option) == value:
                return option
        self._refuse(name, value, "is not one of " + ", ".join(str(o) for o in options[:8]))
        return default

    def span(
        self, name: str, default: tuple, low: float, high: float, whole: bool = False
    ) -> tuple:
        """A ``low-high`` range inside ``[low, high]``."""
        value = self._last(name)
        if value is None:
            return default
        parts = value.split("-")
        try:
            first, last = (float(p) for p in parts) if len(parts) == 2 else (math.nan, math.nan)
        except ValueError:
            first, last = math.nan, math.nan
        if not (low <= first <= last <= high):
            self._refuse(
                name,
                value,
                f"is not a range like {_short(low + (high - low) / 10)}-{_short(high - (high - low) / 10)}"
                if math.isnan(first)
                else f"is not a range inside {_short(low)}-{_short(high)}",
            )
            return default
        if whole:
            return int(first), int(last)
        return first, last

    def many(self, name: str, options: Iterable[str]) -> list[str]:
        """Every given value that is one of ``options`` (others are named as problems)."""
        allowed = set(options)
        chosen = []
        for value in self.params.get(name, []):
            if value in allowed:
                chosen.append(value)
            else:
                self._refuse(name, value, "is not known here")
        return list(dict.fromkeys(chosen))

    def flag(self, name: str, default: bool) -> bool:
        """``1``/``0`` (or ``true``/``false``)."""
        value = self._last(name)
        if value is None:
            return default
        if value.lower() in ("1", "true", "yes"):
            return True
        if value.lower() in ("0", "false", "no"):
            return False
        self._refuse(name, value, "is not 1 or 0")
        return default


def encode(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> dict[str, str | list[str]]:
    """URL values for the settings that differ from their defaults: ranges as ``low-high``,
    lists as repeated parameters, flags as ``1``/``0``, numbers without a needless ``.0``."""
    out: dict[str, str | list[str]] = {}
    for name, value in values.items():
        if value == defaults.get(name) or value is None:
            continue
        if isinstance(value, bool):
            out[name] = "1" if value else "0"
        elif isinstance(value, tuple) and len(value) == 2:
            out[name] = span_text(*value)
        elif isinstance(value, (list, set)):
            out[name] = [str(v) for v in value]
        elif isinstance(value, float):
            out[name] = _short(value)
        else:
            out[name] = str(value)
    return out


def write(values: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
    """Put :func:`encode` of ``values`` in the URL and drop the names left at their default."""
    encoded = encode(values, defaults)
    for name in values:
        if name not in encoded and name in st.query_params:
            del st.query_params[name]
    for name, value in encoded.items():
        if st.query_params.get_all(name) != ([value] if isinstance(value, str) else value):
            st.query_params[name] = value


def seed(values: Mapping[str, Any], keys: Mapping[str, str]) -> None:
    """Give widgets their URL values the first time a session shows them (a reload, or a shared
    link); afterwards the widgets keep whatever the user sets.

    Args:
        values: Setting name → value read through a :class:`Link`.
        keys: Setting name → the widget's key.
    """
    for name, key in keys.items():
        if key not in st.session_state and name in values:
            st.session_state[key] = values[name]
