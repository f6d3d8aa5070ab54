"""Text the pages show: data text escaped for Markdown, one-line error boxes and progress bars."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import streamlit as st

_PUNCTUATION = re.compile(r"([!-/:-@\[-`{-~])")  # all ASCII punctuation: CommonMark escapes each


def escape(value: object) -> str:
    """Data text made safe to show inside ``st.markdown`` and other Markdown labels.

    One line (no heading underline, list or code block can start), no control characters, and every
    ASCII punctuation character backslash-escaped, so no link, image, emphasis, HTML, entity, math
    or Streamlit colour directive can form; it reads exactly as the text.
    """
    text = "".join(" " if unicodedata.category(ch) == "Cc" else ch for ch in str(value))
    text = " ".join(text.split())
    return _PUNCTUATION.sub(r"\\\1", text)


def show_error(exc: Exception) -> None:
    """A one-line error box; the message may quote data or user text, so it is escaped."""
    st.error(escape(exc))


def step_bar(label: str) -> Callable[[str, float], None]:
    """A ``st.progress`` bar as an ``on_step(message, fraction)`` callback."""
    bar = st.progress(0.0, text=label)
    return lambda message, fraction: bar.progress(min(max(fraction, 0.0), 1.0), text=message)
