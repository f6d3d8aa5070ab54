"""uvicorn's HTTP protocol with ``TCP_NODELAY`` on every connection.

With ``--workers`` above 1 uvicorn binds the listening socket itself (protocol number 0), and
asyncio then leaves Nagle's algorithm on for the connections it accepts: an answer written as
headers then body waits for the client's delayed ACK, about 40 ms on Linux, on every request.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from uvicorn.protocols.http.auto import AutoHTTPProtocol


class NoDelayHTTP(AutoHTTPProtocol):  # type: ignore[misc, valid-type]
    """uvicorn's default protocol (httptools when installed, else h11), without Nagle's delay."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)
