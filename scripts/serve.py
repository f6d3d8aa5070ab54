"""Serve the HTTP API over a data directory: `python scripts/serve.py --data-dir data --port 8000`.

Binds to 127.0.0.1 unless told otherwise; the docs are at /docs, the settings (API key, rate
limit, CORS, cache) in docs/API.md.
"""

from __future__ import annotations

import argparse
import ipaddress
import logging
import os
import tempfile

from tunescout.cli import run, setup_logging
from tunescout.config import api_settings, load_settings
from tunescout.errors import InputError

log = logging.getLogger("serve")


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split(":")[0])
    p.add_argument("--data-dir", help="the data directory (default: $TUNESCOUT_DATA_DIR or data/)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000; 0: any free one)")
    p.add_argument("--workers", type=int, default=1,
                   help="processes, each with its own engine (default: 1)")  # fmt: skip
    p.add_argument("--access-log", action="store_true", help="log every request")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    return p.parse_args()


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main() -> None:
    args = parse_args()
    setup_logging(args.verbose)
    if not 0 <= args.port <= 65535:
        raise InputError(f"--port must be 0 to 65535, got {args.port}")
    if args.workers < 1:
        raise InputError(f"--workers must be at least 1, got {args.workers}")
    settings = load_settings(args.data_dir)
    os.environ["TUNESCOUT_DATA_DIR"] = str(settings.data_dir)  # what each worker's app serves
    if not _loopback(args.host) and not api_settings().key:
        log.warning(
            "serving on %s without TUNESCOUT_API_KEY: anyone who reaches this port can read and "
            "change every profile's ratings",
            args.host,
        )
    if args.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # /metrics then adds up every worker's numbers
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tunescout-metrics-")
    import uvicorn

    uvicorn.run(
        "tunescout.api:from_environment",
        factory=True,
        http="tunescout.api.server:NoDelayHTTP",
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=args.access_log,
        log_level="debug" if args.verbose else "info",
        server_header=False,
    )


if __name__ == "__main__":
    run(main)
