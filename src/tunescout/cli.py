"""Shared plumbing for the command-line scripts: logging set-up and one-line failures."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from tunescout.errors import TunescoutError


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr; INFO by default, DEBUG with ``verbose``; quiet third-party chatter."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("urllib3", "sentence_transformers", "httpx", "filelock", "numba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def run(main: Callable[[], int | None]) -> None:
    """Run ``main`` and exit: 0 on success, 1 with a one-line reason on a known failure."""
    try:
        code = main()
    except TunescoutError as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        print("interrupted; completed snapshots and builds are kept", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)
