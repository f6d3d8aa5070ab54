"""Local HTTP servers on 127.0.0.1 that speak the shapes of the real APIs, for fault-injection tests."""

from __future__ import annotations

import socket
import struct
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler], **state: object) -> Iterator[ThreadingHTTPServer]:
    """Run ``handler`` on an ephemeral 127.0.0.1 port in a thread for the duration of the block.

    Keyword arguments become attributes of the server, so handlers read shared state and fault
    plans as ``self.server.<name>``. The server's base URL is ``server.url``.
    """
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    for name, value in state.items():
        setattr(server, name, value)
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def reset(handler: BaseHTTPRequestHandler) -> None:
    """Drop the connection with a TCP reset instead of an answer (a crashed proxy or server)."""
    handler.close_connection = True
    handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    handler.connection.close()


def truncated(handler: BaseHTTPRequestHandler, body: bytes) -> None:
    """Promise ``body`` in ``Content-Length`` but send only its first half, then hang up."""
    handler.close_connection = True
    handler.send_response(200)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body[: len(body) // 2])
