"""Download the public data sets that need no credentials, verify them, and cache them.

TidyTuesday's "30,000 Spotify songs" CSV is checked against its known sha256. The HetRec 2011
Last.fm 2K zip from GroupLens is checked against the sha256 pinned for its URL (the same value is
pinned by several independent projects), and each data file inside it is checked too, after
removing CR characters (the zip has CRLF line endings where the reference copies have LF), so a
mirror or a local copy of the zip is verified member by member.

Nothing is trusted before it is verified, and nothing is read whole: downloads stop at
:data:`MAX_DOWNLOAD` bytes, and archive members are inflated in chunks, hashed and written as they
come, each stopped at :data:`MAX_MEMBER` bytes whatever the zip claims (a 1 MB zip that inflates to
1 GiB is refused after 16 MB, in constant memory).
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import zipfile
import zlib
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path, PurePosixPath
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from tqdm import tqdm
from urllib3.exceptions import ConnectTimeoutError
from urllib3.util.retry import Retry

from tunescout.catalog import file_sha256
from tunescout.catalog.snapshots import RawBundle
from tunescout.config import Settings
from tunescout.errors import SourceError

log = logging.getLogger(__name__)

TIDYTUESDAY_URL = (
    "https://raw.githubusercontent.com/rfordatascience/tidytuesday/master/"
    "data/2020/2020-01-21/spotify_songs.csv"
)
TIDYTUESDAY_SHA256 = "9902920cfe4940f0914ebb6716801a42f7f19ac88fbd6693eaae7e2822b16845"
TIDYTUESDAY_NOTE = (
    "tidytuesday: spotify_songs.csv from rfordatascience/tidytuesday (MIT licence); the values "
    "come from the Spotify Web API, so Spotify's developer terms apply. Credit TidyTuesday and "
    "spotifyr."
)
HETREC_URL = "https://files.grouplens.org/datasets/hetrec2011/hetrec2011-lastfm-2k.zip"
HETREC_DIR = "hetrec2011-lastfm-2k"
# sha256 of the archive itself, by the URL it is published at.
PINNED_ARCHIVES = {
    HETREC_URL: "6738f48195667ff03caaab4d32ca9a3133d8cc026b7c3cdaf6ce1010e913c59c",
}
# sha256 of each member with CRs removed, as listed in the data set's PROVENANCE.txt.
HETREC_SHA256 = {
    "artists.dat": "c173881362c6b28551368fecb3c0be5a6a30a6cd859e1f5775413dfe46d48648",
    "tags.dat": "c815d7216101fd0ba9b9c59fa2a011998d2fd076e0064d281ec4153d95ae8095",
    "user_artists.dat": "254272fa721c3935e8be286d28c051b206844307128698ab4eaa41d483379416",
    "user_friends.dat": "0360883a3557776e04fdebda851f2e5dd23e796cad7059b968acdebd528d13fa",
    "user_taggedartists.dat": "c4a9ffae9ab47a9f9b2f0678ab1f7e5c1db4ca818837d8cddd1f5699c5bbf048",
}
HETREC_TERMS = (
    "hetrec: the HetRec 2011 Last.fm 2K data is made available for non-commercial use; "
    "commercial use needs Last.fm's consent (readme.txt of hetrec2011-lastfm-2k.zip)."
)
# Unreachable hosts must fail fast (offline machines rely on it), whatever the read timeout.
CONNECT_TIMEOUT = 10.0
MAX_DOWNLOAD = 64 << 20  # the CSV is 8 MB and the zip 2.5 MB
MAX_MEMBER = 16 << 20  # the largest HetRec member, user_taggedartists.dat, is 4.4 MB with CRLFs
CHUNK = 1 << 16


def _session() -> requests.Session:
    """A session that retries 429/5xx answers and read errors, but never a refused connection."""
    retry = Retry(
        total=3,
        connect=0,
        read=2,
        status=3,
        other=0,
        backoff_factor=0.5,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET"}),
        retry_after_max=60,
        raise_on_status=False,
    )
    session = requests.Session()
    session.mount("http://", HTTPAdapter(max_retries=retry))
    session.mount("https://", HTTPAdapter(max_retries=retry))
    return session


def _download(url: str, part: Path, timeout: float, progress: bool, max_bytes: int) -> str:
    """Stream ``url`` into ``part`` and return the sha256 of what was received (at most
    ``max_bytes``, else :class:`SourceError`)."""
    digest = hashlib.sha256()
    received = 0
    too_big = SourceError(
        f"download of {url} failed: larger than {max_bytes >> 20} MB, not the expected file"
    )
    try:
        with (
            _session() as session,
            session.get(
                url, stream=True, timeout=(min(timeout, CONNECT_TIMEOUT), timeout)
            ) as response,
        ):
            if response.status_code != 200:
                raise SourceError(f"download of {url} failed: HTTP {response.status_code}")
            size = int(response.headers.get("Content-Length") or 0) or None
            if size and size > max_bytes:
                raise too_big
            name = PurePosixPath(urlsplit(url).path).name
            with (
                part.open("wb") as fh,
                tqdm(total=size, unit="B", unit_scale=True, desc=name, disable=not progress) as bar,
            ):
                for chunk in response.iter_content(CHUNK):
                    received += len(chunk)
                    if received > max_bytes:
                        raise too_big
                    fh.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
    except requests.ConnectionError as exc:
        reason = getattr(exc.args[0] if exc.args else None, "reason", None)
        if isinstance(reason, ConnectTimeoutError):  # refused, unresolvable or timed out
            host = urlsplit(url).netloc
            raise SourceError(
                f"download of {url} failed: cannot connect to {host} (offline?)"
            ) from exc
        raise SourceError(f"download of {url} failed: the connection broke off") from exc
    except requests.RequestException as exc:
        raise SourceError(f"download of {url} failed: {type(exc).__name__}") from exc
    return digest.hexdigest()


def _verify(path: Path, sha256: str | None, check: Callable[[Path], object] | None) -> None:
    if sha256 is not None:
        found = file_sha256(path)
        if found != sha256:
            raise SourceError(
                f"{path.name}: sha256 {found[:12]}… is not the expected {sha256[:12]}…; "
                "the download is corrupt or the file changed upstream"
            )
    if check is not None:
        check(path)


def fetch_verified(
    url: str,
    dest: Path,
    sha256: str | None = None,
    *,
    timeout: float = 60.0,
    check: Callable[[Path], object] | None = None,
    progress: bool = True,
    max_bytes: int = MAX_DOWNLOAD,
) -> Path:
    """Download ``url`` to ``dest`` unless a verified copy is already there.

    The bytes go to ``<dest>.part``, which is renamed to ``dest`` only once complete and verified,
    so ``dest`` never holds a partial or corrupt file. A cached ``dest`` that fails verification is
    deleted and downloaded again.

    Args:
        url: What to download (HTTP or HTTPS).
        dest: Where the verified file goes.
        sha256: The expected hex digest of the whole file, if known.
        timeout: Seconds to wait for the next bytes (connecting waits at most 10 s).
        check: Raises :class:`SourceError` when a downloaded file is not right (for archives
            whose own checksum is unknown).
        progress: Show a progress bar.
        max_bytes: The most bytes to receive; a larger answer is refused unread.

    Returns:
        ``dest``.

    Raises:
        SourceError: The server cannot be reached, answers with an error, or sends bytes that
            fail verification; nothing is left in the cache then.
    """
    dest = Path(dest)
    if dest.exists():
        try:
            _verify(dest, sha256, check)
        except SourceError as exc:
            log.warning("cached %s failed verification (%s); downloading it again", dest, exc)
            dest.unlink()
        else:
            log.info("using cached %s", dest)
            return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        digest = _download(url, part, timeout, progress, max_bytes)
        if sha256 is not None and digest != sha256:
            raise SourceError(
                f"download of {url}: sha256 {digest[:12]}… is not the expected {sha256[:12]}…; "
                "the download is corrupt or the file changed upstream"
            )
        if check is not None:
            check(part)
        part.replace(dest)
    finally:
        part.unlink(missing_ok=True)
    log.info("downloaded %s to %s", url, dest)
    return dest


def hetrec_members(archive: Path, into: Path | None = None, max_member: int = MAX_MEMBER) -> None:
    """Verify the HetRec data files in ``archive`` (CRs removed, each against its sha256) and,
    with ``into``, write them there as they are verified.

    Members are found by file name wherever they sit in the zip. Each is inflated in chunks and
    stopped at ``max_member`` bytes, whatever size the zip declares, so memory stays constant.

    Raises:
        SourceError: The zip is unreadable, lacks a data file, has one larger than ``max_member``
            or one with unexpected content.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            by_name = {PurePosixPath(i.filename).name: i for i in zf.infolist() if not i.is_dir()}
            for name, expected in HETREC_SHA256.items():
                if name not in by_name:
                    raise SourceError(f"{archive.name} lacks {name}: not the HetRec Last.fm 2K zip")
                _member(zf, by_name[name], expected, archive.name, into, max_member)
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise SourceError(f"{archive.name} is not a readable zip archive ({exc})") from exc


def _member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    expected: str,
    shown: str,
    into: Path | None,
    max_member: int,
) -> None:
    name = PurePosixPath(info.filename).name
    too_big = SourceError(
        f"{shown}: {name} inflates to more than {max_member >> 20} MB; "
        "not the HetRec Last.fm 2K zip (a zip bomb?)"
    )
    if info.file_size > max_member:
        raise too_big  # what the zip declares; the stream below is counted all the same
    digest, inflated = hashlib.sha256(), 0
    with ExitStack() as stack:
        source = stack.enter_context(zf.open(info))
        out = stack.enter_context((into / name).open("wb")) if into is not None else None
        while chunk := source.read(CHUNK):
            inflated += len(chunk)
            if inflated > max_member:
                raise too_big
            chunk = chunk.replace(b"\r", b"")
            digest.update(chunk)
            if out is not None:
                out.write(chunk)
    if digest.hexdigest() != expected:
        raise SourceError(
            f"{shown}: {name} does not match its known sha256; "
            "the download is corrupt or the data set changed"
        )


def _folder_verified(folder: Path) -> bool:
    return all(
        (folder / name).is_file() and file_sha256(folder / name) == expected
        for name, expected in HETREC_SHA256.items()
    )


def download_hetrec(
    downloads_dir: Path,
    url: str = HETREC_URL,
    *,
    timeout: float = 60.0,
    progress: bool = True,
    sha256: str | None = None,
) -> Path:
    """Download, verify and extract HetRec Last.fm 2K into ``<downloads_dir>/hetrec2011-lastfm-2k``.

    The five data files are written with LF line endings, byte for byte the verified content.
    A folder whose files already verify is used as it is.

    Args:
        downloads_dir: The downloads cache.
        url: Where the zip is served.
        timeout: Seconds to wait for the next bytes.
        progress: Show a progress bar.
        sha256: The zip's own sha256; by default the one pinned for ``url``
            (:data:`PINNED_ARCHIVES`), none for other URLs (their members are still verified).

    Returns:
        The folder holding ``artists.dat``, ``tags.dat``, ``user_artists.dat``,
        ``user_friends.dat`` and ``user_taggedartists.dat``.

    Raises:
        SourceError: As :func:`fetch_verified`.
    """
    folder = Path(downloads_dir) / HETREC_DIR
    log.info("%s", HETREC_TERMS)
    if _folder_verified(folder):
        log.info("using cached %s", folder)
        return folder
    archive = fetch_verified(
        url,
        folder.with_name(HETREC_DIR + ".zip"),
        sha256 or PINNED_ARCHIVES.get(url),
        timeout=timeout,
        check=hetrec_members,
        progress=progress,
    )
    staging = folder.with_name(HETREC_DIR + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        hetrec_members(archive, into=staging)
    except SourceError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    shutil.rmtree(folder, ignore_errors=True)
    staging.rename(folder)
    return folder


def collect_public(
    settings: Settings,
    tidytuesday_url: str = TIDYTUESDAY_URL,
    hetrec_url: str = HETREC_URL,
    timeout: float = 60.0,
    progress: bool = True,
) -> list[RawBundle]:
    """Download TidyTuesday's 30k Spotify songs and HetRec Last.fm 2K and read them into bundles.

    Downloads are cached under ``settings.downloads_dir``; both must succeed.

    Args:
        settings: Supplies the downloads folder.
        tidytuesday_url: Where ``spotify_songs.csv`` is served.
        hetrec_url: Where ``hetrec2011-lastfm-2k.zip`` is served.
        timeout: Seconds to wait for the next bytes of a download.
        progress: Show progress bars.

    Returns:
        The ``tidytuesday`` and ``hetrec`` bundles, licence notes included.

    Raises:
        SourceError: A download failed or did not verify (fast when offline).
    """
    # The parsers live in files.py; importing here keeps this module loadable on its own.
    from tunescout.collect.sources.files import read_hetrec, read_tidytuesday

    downloads = settings.downloads_dir
    csv_path = fetch_verified(
        tidytuesday_url,
        downloads / "spotify_songs.csv",
        TIDYTUESDAY_SHA256,
        timeout=timeout,
        progress=progress,
    )
    folder = download_hetrec(downloads, hetrec_url, timeout=timeout, progress=progress)
    tidy, hetrec = read_tidytuesday(csv_path), read_hetrec(folder)
    tidy.notes.append(TIDYTUESDAY_NOTE)
    if not any("non-commercial" in note for note in hetrec.notes):
        hetrec.notes.append(HETREC_TERMS)
    tidy.params.update(url=tidytuesday_url, sha256=TIDYTUESDAY_SHA256)
    hetrec.params.update(url=hetrec_url, verified_members=sorted(HETREC_SHA256))
    return [tidy, hetrec]
