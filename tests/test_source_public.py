"""Verified, cached downloads of the public data sets, served from ../shared/data locally."""

from __future__ import annotations

import hashlib
import io
import socket
import time
import zipfile
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests.fakes import serve
from tunescout.collect.sources.public import (
    HETREC_SHA256,
    TIDYTUESDAY_SHA256,
    collect_public,
    download_hetrec,
    fetch_verified,
)
from tunescout.config import Settings
from tunescout.errors import SourceError

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
SONGS = SHARED / "spotify-tracks" / "spotify_songs.csv"
HETREC = SHARED / "hetrec2011-lastfm-2k"
# The original zip has CRLF endings in these members (see PROVENANCE.txt) and LF in artists.dat.
CRLF_MEMBERS = ("tags.dat", "user_artists.dat", "user_friends.dat")


class FileHandler(BaseHTTPRequestHandler):
    """Serves ``server.files`` (path → bytes); ``server.truncated`` paths stop halfway."""

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep test output clean
        return

    def do_GET(self) -> None:
        self.server.requests.append(self.path)
        body = self.server.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body[: len(body) // 2] if self.path in self.server.truncated else body)
        except (BrokenPipeError, ConnectionResetError):
            return


def hetrec_zip(change: str | None = None) -> bytes:
    """A zip shaped like hetrec2011-lastfm-2k.zip; ``change`` names a member to alter slightly."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in [*HETREC_SHA256, "readme.txt"]:
            data = (HETREC / name).read_bytes()
            if name in CRLF_MEMBERS:
                data = data.replace(b"\n", b"\r\n")
            if name == change:
                data = data.replace(b"\t", b" ", 1)
            zf.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return {
        "/spotify_songs.csv": SONGS.read_bytes(),
        "/hetrec.zip": hetrec_zip(),
        "/hetrec-altered.zip": hetrec_zip(change="user_artists.dat"),
    }


@pytest.fixture
def server(files):
    with serve(FileHandler, files=dict(files), requests=[], truncated=set()) as srv:
        yield srv


def corrupt(data: bytes) -> bytes:
    """The same length with one byte in the middle changed."""
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/file"


def test_verified_download_is_cached(server, tmp_path):
    dest = tmp_path / "spotify_songs.csv"
    url = server.url + "/spotify_songs.csv"
    assert fetch_verified(url, dest, TIDYTUESDAY_SHA256, progress=False) == dest
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == TIDYTUESDAY_SHA256
    assert fetch_verified(url, dest, TIDYTUESDAY_SHA256, progress=False) == dest
    assert server.requests == ["/spotify_songs.csv"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spotify_songs.csv"]


@pytest.mark.parametrize("fault", ["corrupt", "truncated", "wrong-sha", "http-404"])
def test_bad_download_raises_and_caches_nothing(fault, server, tmp_path):
    path = "/spotify_songs.csv"
    sha = TIDYTUESDAY_SHA256
    if fault == "corrupt":
        server.files[path] = corrupt(server.files[path])
    elif fault == "truncated":
        server.truncated.add(path)
    elif fault == "wrong-sha":
        sha = "0" * 64
    else:
        path = "/missing.csv"
    with pytest.raises(SourceError, match="download of http"):
        fetch_verified(server.url + path, tmp_path / "songs.csv", sha, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_cached_file_that_fails_verification_is_fetched_again(server, tmp_path):
    dest = tmp_path / "spotify_songs.csv"
    dest.write_bytes(corrupt(server.files["/spotify_songs.csv"]))
    fetch_verified(server.url + "/spotify_songs.csv", dest, TIDYTUESDAY_SHA256, progress=False)
    assert hashlib.sha256(dest.read_bytes()).hexdigest() == TIDYTUESDAY_SHA256
    assert server.requests == ["/spotify_songs.csv"]


def test_connection_refused_fails_fast(tmp_path):
    start = time.monotonic()
    with pytest.raises(SourceError, match=r"cannot connect to 127\.0\.0\.1:\d+ \(offline\?\)"):
        fetch_verified(closed_port_url(), tmp_path / "x.csv", progress=False)
    assert time.monotonic() - start < 1.0
    assert list(tmp_path.iterdir()) == []


def test_hetrec_members_verified_after_removing_cr(server, tmp_path):
    folder = download_hetrec(tmp_path, server.url + "/hetrec.zip", progress=False)
    assert folder == tmp_path / "hetrec2011-lastfm-2k"
    assert sorted(p.name for p in folder.iterdir()) == sorted(HETREC_SHA256)
    for name in HETREC_SHA256:
        assert (folder / name).read_bytes() == (HETREC / name).read_bytes()
    assert download_hetrec(tmp_path, server.url + "/hetrec.zip", progress=False) == folder
    assert server.requests == ["/hetrec.zip"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "hetrec2011-lastfm-2k",
        "hetrec2011-lastfm-2k.zip",
    ]


def test_hetrec_is_extracted_again_from_a_cached_zip(server, tmp_path):
    folder = download_hetrec(tmp_path, server.url + "/hetrec.zip", progress=False)
    (folder / "tags.dat").write_bytes(b"tagID\ttagValue\n1\tmetal\n")
    download_hetrec(tmp_path, server.url + "/hetrec.zip", progress=False)
    assert (folder / "tags.dat").read_bytes() == (HETREC / "tags.dat").read_bytes()
    assert server.requests == ["/hetrec.zip"]


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("/hetrec-altered.zip", "user_artists.dat does not match its known sha256"),
        ("/spotify_songs.csv", "not a readable zip archive"),
        ("/hetrec-corrupt.zip", "not a readable zip archive"),
    ],
)
def test_bad_hetrec_zip_raises_and_caches_nothing(path, message, server, tmp_path):
    server.files["/hetrec-corrupt.zip"] = corrupt(server.files["/hetrec.zip"])
    with pytest.raises(SourceError, match=message):
        download_hetrec(tmp_path, server.url + path, progress=False)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow  # parses the full data sets (about 6 s)
def test_collect_public_returns_both_bundles_with_licence_notes(server, tmp_path):
    settings = Settings(data_dir=tmp_path)
    tidy, hetrec = collect_public(
        settings,
        tidytuesday_url=server.url + "/spotify_songs.csv",
        hetrec_url=server.url + "/hetrec.zip",
        progress=False,
    )
    assert (tidy.source, hetrec.source) == ("tidytuesday", "hetrec")
    assert len(tidy.tracks) == 28_356
    assert len(hetrec.interactions) == 92_834
    assert any("non-commercial" in note for note in hetrec.notes)
    assert any("MIT" in note for note in tidy.notes)
    assert (settings.downloads_dir / "spotify_songs.csv").is_file()


def test_collect_public_offline_fails_fast(tmp_path):
    start = time.monotonic()
    with pytest.raises(SourceError, match="offline"):
        collect_public(
            Settings(data_dir=tmp_path),
            tidytuesday_url=closed_port_url(),
            hetrec_url=closed_port_url(),
            progress=False,
        )
    assert time.monotonic() - start < 1.0
