"""Text the pages show: data text escaped for Markdown, one-line error boxes and progress bars.

No traceback reaches a page: every page body, callback and engine or store call runs inside
:func:`one_line_errors`, which turns any exception into one line saying what failed and what to do
(the traceback goes to the server log), and ``.streamlit/config.toml`` sets
``client.showErrorDetails = "none"`` for anything that still slips through.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import streamlit as st

from tunescout.errors import TunescoutError

log = logging.getLogger(__name__)

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


def failure_message(exc: BaseException, doing: str) -> str:
    """One line for the page: what went wrong while ``doing`` and what to do about it.

    tunescout's own errors already say both; a file-system error names the file (not where the
    server keeps it); anything else names only its type, with the details in the server log.
    """
    if isinstance(exc, TunescoutError):
        return str(exc)
    if isinstance(exc, OSError) and exc.strerror:
        name = f" ({Path(str(exc.filename)).name})" if exc.filename else ""
        return (
            f"{doing} failed: {exc.strerror}{name}; check that the data dir exists and is "
            "readable and writable, then reload the page"
        )
    if isinstance(exc, MemoryError):
        return f"{doing} failed: the server ran out of memory; try a smaller request"
    return (
        f"{doing} failed ({type(exc).__name__}); reload the page, and if it keeps failing, "
        "the details are in the server's log"
    )


@contextmanager
def one_line_errors(doing: str = "Showing this page") -> Iterator[None]:
    """Turn any exception raised inside into one escaped ``st.error`` line (see
    :func:`failure_message`) and log its traceback on the server; the block's remaining code is
    skipped. Streamlit's own control flow (``st.stop``, ``st.rerun``, ``st.switch_page``) passes
    through: it is not an ``Exception``.

    Works as a context manager around a page body or a call, and as a decorator of a widget
    callback (which then returns ``None`` after a failure)::

        with one_line_errors("Loading your ratings"):
            saved = state.store().ratings(profile)

        @one_line_errors("Saving your rating")
        def save(...): ...

    Args:
        doing: What was being done, as the start of a sentence ("Saving your rating").
    """
    try:
        yield
    except Exception as exc:
        if isinstance(exc, TunescoutError):
            log.info("%s: %s", doing, exc)
        else:
            log.exception("%s failed", doing)
        st.error(escape(failure_message(exc, doing)))


def step_bar(label: str) -> Callable[[str, float], None]:
    """A ``st.progress`` bar as an ``on_step(message, fraction)`` callback."""
    bar = st.progress(0.0, text=label)
    return lambda message, fraction: bar.progress(min(max(fraction, 0.0), 1.0), text=message)
