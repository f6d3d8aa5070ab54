"""Security: nothing is unpickled, secrets from ``.env`` never reach logs, errors, files or the page,
data text is escaped wherever the UI renders Markdown, user-supplied paths stay inside the data
dir, and Streamlit keeps XSRF protection on."""

from __future__ import annotations

import ast
import html
import logging
import os
import re
import subprocess
import sys
import traceback
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from tests.fakes import serve
from tests.fakes import spotify_server as fake_spotify
from tests.fakes.lastfm_server import FAKE_KEY, LastfmHandler
from tests.fakes.lastfm_server import state as lastfm_state
from tunescout.catalog import snapshots as raw
from tunescout.catalog.assemble import build_catalog
from tunescout.collect.sources.lastfm import LastfmClient, collect_lastfm
from tunescout.collect.sources.spotify import Retries, collect_spotify
from tunescout.config import Settings, load_settings
from tunescout.errors import ArtifactError, DataMissingError, SourceError, TunescoutError
from tunescout.indexes import store, writer
from tunescout.serving.ratings import MAX_IMPORT_BYTES, validate_profile
from tunescout.ui.text import escape

pytestmark = pytest.mark.hardening

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [ROOT / "app.py", *sorted((ROOT / "pages").glob("*.py"))]
SOURCES += sorted((ROOT / "src" / "tunescout").rglob("*.py")) + sorted(
    (ROOT / "scripts").glob("*.py")
)

# ---- nothing is unpickled ---------------------------------------------------------------------

UNPICKLERS = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve", "marshal"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_source_file_can_unpickle(path: Path) -> None:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            assert not UNPICKLERS & {n.split(".")[0] for n in names}, ast.unparse(node)
        if isinstance(node, ast.Call):
            call = ast.unparse(node.func)
            assert not call.endswith(("torch.load", "read_pickle", "pickle.load")), call
            for kw in node.keywords:
                if kw.arg == "allow_pickle":
                    assert isinstance(kw.value, ast.Constant) and kw.value.value is False, call


TRIPWIRE = """
import pickle, sys

def refuse(*args, **kwargs):
    raise SystemExit("something was unpickled")

class Refusing(pickle.Unpickler):  # libraries subclass Unpickler at import; only loading fails
    load = refuse

pickle.load, pickle.loads, pickle.Unpickler = refuse, refuse, Refusing
from tunescout.serving.engine import Engine

engine = Engine.load(sys.argv[1])  # catalog, FAISS, .npy ids, ALS arrays, MiniLM safetensors
liked = {a: 5 for a in engine.survey_artists(k=3)["artist_id"]}
track = engine.catalog.tracks["track_id"].iloc[0]
assert len(engine.search_mood("rainy heartbreak", k=5)) == 5
assert len(engine.recommend(liked, k=5)) == 5
assert len(engine.similar_tracks(track, k=5)) == 5
print("no pickle")
"""


def test_loading_and_serving_unpickles_nothing(synthetic_dir: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", TRIPWIRE, str(synthetic_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().endswith("no pickle")


# ---- secrets from .env ------------------------------------------------------------------------

SPOTIFY_SECRET = "dotenv-spotify-secret-7f3a9c"
LASTFM_KEY = FAKE_KEY  # the fake Last.fm accepts only its own key
SECRETS = (SPOTIFY_SECRET, LASTFM_KEY)
CREDENTIALS = ("SPOTIFY_CLIENT_ID", "SPOTIFY_CLIENT_SECRET", "LASTFM_API_KEY")


@pytest.fixture
def dotenv_settings(tmp_path: Path):
    """Settings read from a ``.env`` file holding known fake secrets; the environment is restored."""
    env_file = tmp_path / ".env"
    env_file.write_text(
        f"SPOTIFY_CLIENT_ID=fake-client-id\nSPOTIFY_CLIENT_SECRET={SPOTIFY_SECRET}\n"
        f"LASTFM_API_KEY={LASTFM_KEY}\n"
    )
    saved = {name: os.environ.pop(name, None) for name in CREDENTIALS}
    try:
        yield load_settings(tmp_path / "data", env_file=env_file)
    finally:
        for name, value in saved.items():
            os.environ.pop(name, None)
            if value is not None:
                os.environ[name] = value


def leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def test_settings_never_show_secrets(dotenv_settings: Settings) -> None:
    assert dotenv_settings.spotify_client_secret == SPOTIFY_SECRET  # read from .env
    assert dotenv_settings.lastfm_api_key == LASTFM_KEY
    assert leaks(repr(dotenv_settings)) == leaks(str(dotenv_settings)) == []


def failure_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error)) + repr(error.args)


def test_secrets_never_reach_logs_errors_or_files(dotenv_settings: Settings, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    settings, texts = dotenv_settings, []
    spotify = fake_spotify.state(
        client_secret=SPOTIFY_SECRET,
        faults={"search@50": ["expire", 500, "reset"], "artists": ["slow"], "token": ["truncated"]},
        delay=0.5,
    )
    fast = Retries(timeout=0.3, status_retries=2, backoff=0.01, attempts=3)
    with serve(fake_spotify.SpotifyHandler, **spotify) as server:
        urls = {"api_base": server.url + "/v1", "token_url": server.url + "/api/token"}
        bundle = collect_spotify(settings, genres=["rock"], retries=fast, progress=False, **urls)
        raw.write_snapshot(settings.raw_dir, bundle)
        server.faults["search"] = [503] * 20
        with pytest.raises(SourceError) as unavailable:
            collect_spotify(settings, genres=["jazz"], retries=fast, progress=False, **urls)
        texts.append(failure_text(unavailable.value))
        wrong = Settings(
            data_dir=settings.data_dir / "wrong",
            spotify_client_id="fake-client-id",
            spotify_client_secret="x" + SPOTIFY_SECRET,
        )
        with pytest.raises(SourceError, match="refused the client credentials") as refused:
            collect_spotify(wrong, genres=["pop"], retries=fast, progress=False, **urls)
        texts.append(failure_text(refused.value))

    faults = {("artist.gettoptags", "Adele"): ["http:503", "malformed", "reset", "truncated"]}
    with serve(LastfmHandler, **lastfm_state(faults=faults)) as server:
        client = LastfmClient(
            settings.lastfm_api_key, server.url + "/2.0/", timeout=0.4, backoff=0.01,
            calls_per_second=1000,
        )  # fmt: skip
        bundle = collect_lastfm(settings, mood_tags=["sad"], progress=False, client=client)
        raw.write_snapshot(settings.raw_dir, bundle)
    with serve(LastfmHandler, **lastfm_state(api_key="another-key")) as server:
        with pytest.raises(SourceError, match="rejected the API key") as rejected:
            collect_lastfm(settings, api_base=server.url + "/2.0/", progress=False)
        texts.append(failure_text(rejected.value))

    assert "Bearer" in caplog.text  # spotipy's debug lines, which print headers, were captured
    for text in [caplog.text, *texts, *(str(r.args) for r in caplog.records)]:
        assert leaks(text) == []
    for path in settings.data_dir.rglob("*"):  # snapshots, manifests, checkpoints
        if path.is_file():
            assert leaks(path.read_bytes().decode("utf-8", "replace")) == [], path


def test_scripts_never_print_secrets(tmp_path: Path) -> None:
    env = {**os.environ, "SPOTIFY_CLIENT_ID": "fake-client-id"}
    env |= {"SPOTIFY_CLIENT_SECRET": SPOTIFY_SECRET, "LASTFM_API_KEY": LASTFM_KEY}
    data = str(tmp_path / "data")
    runs = [  # nothing here reaches the network: synthetic data, and a build that fails
        ["scripts/collect.py", "--source", "synthetic", "--tracks", "200", "--users", "20", "-v"],
        ["scripts/build.py", "--only", "audio", "-v"],
        ["scripts/collect.py", "--source", "files", "--spotify-csv", "/no/such.csv", "-v"],
    ]
    for args in runs:
        done = subprocess.run(
            [sys.executable, *args, "--data-dir", data],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert leaks(done.stdout + done.stderr) == [], args
    assert done.returncode == 1 and "error:" in done.stderr  # the last one failed, in one line


def test_the_page_never_shows_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESCOUT_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("SPOTIFY_CLIENT_ID", "fake-client-id")
    monkeypatch.setenv("SPOTIFY_CLIENT_SECRET", SPOTIFY_SECRET)
    monkeypatch.setenv("LASTFM_API_KEY", LASTFM_KEY)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    at.run()
    assert not at.exception
    text = page_text(at)
    assert "No data to search yet" in text and "scripts/collect.py" in text
    assert leaks(text) == []


def page_text(at: AppTest) -> str:
    """Every element of the page as its protobuf text: labels, values, bodies, help."""
    texts = []

    def walk(node: object) -> None:
        if getattr(node, "proto", None) is not None:
            texts.append(str(node.proto))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    return "\n".join(texts)


# ---- data text is escaped wherever Markdown is rendered ----------------------------------------

MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    "[click me](javascript:alert(1))",
    "![x](http://evil.example/pixel.png)",
    "**bold** _it_ `code` ~~gone~~",
    ":red[red] :material/home: $x^2$",
    "# heading",
    "Title\n=====",
    "    indented code",
    "1. list\n- item\n> quote",
    "AT&amp;T &lt;b&gt; &#60;i&#62;",
    "a | b\n--|--\nc | d",
    "<http://evil.example> www.evil.example",
    "\\*not\\* a\\\\b",
]


def rendered_text(markdown: str) -> str:
    """What a Markdown renderer shows for ``markdown``: its text, and no element but paragraphs."""
    out = MARKDOWN.render(markdown).strip()
    tags = set(re.findall(r"</?([a-z0-9]+)", out))
    assert tags <= {"p"}, f"{markdown!r} rendered as {out!r}"
    return html.unescape(re.sub(r"</?p>", "", out))


def shown(text: str) -> str:
    """The text as it should read on the page (one line, no control characters)."""
    return " ".join("".join(" " if ord(c) < 32 or 127 <= ord(c) < 160 else c for c in text).split())


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_data_text_reads_literally(text: str) -> None:
    assert rendered_text(escape(text)) == shown(text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Z", "Cc"))))
def test_escaped_text_of_any_kind_reads_literally(text: str) -> None:
    assert rendered_text(escape(text)) == shown(text)


def hostile_page(text: str) -> None:
    """A page drawing one item whose every text field is ``text`` through the UI helpers."""
    import pandas as pd

    from tunescout.ui import actions, calls, state, tables

    eng = state.engine()
    row = eng.track_info([eng.catalog.tracks["track_id"].iloc[0]]).iloc[0].copy()
    row["name"] = row["artist_name"] = row["why"] = text
    tables.detail(row, "hostile", "track", "why")
    # a result row's 👍 and ▶ ticked: each says so in a toast naming the track
    actions.apply(pd.DataFrame([row]), [(0, "like", True), (0, "queue", True)], "track")
    calls.track_info([text])  # an unknown id quoted back in the error


@pytest.mark.parametrize("text", HOSTILE[:7])
def test_the_ui_escapes_data_text(synthetic_dir: Path, monkeypatch, text: str) -> None:
    monkeypatch.setenv("TUNESCOUT_DATA_DIR", str(synthetic_dir))
    at = AppTest.from_function(hostile_page, args=(text,), default_timeout=300)
    at.query_params["profile"] = "hardening-escape"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    bodies = [e.value for kind in ("markdown", "caption", "toast", "error") for e in at.get(kind)]
    assert len(bodies) == 5  # name — artist, why, two toasts, the error
    for body in bodies:
        plain = rendered_text(body.replace("**", ""))  # the page's own bold around the name
        assert shown(text) in plain, body
    assert f"unknown ids: {[text]!r}" in rendered_text(at.error[0].value)


# ---- user-supplied paths stay inside the data dir ---------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=64))
def test_an_accepted_profile_name_is_one_plain_file_name(name: str) -> None:
    """The export file is named after the profile: it can never climb out or name a folder."""
    try:
        profile = validate_profile(name)
    except TunescoutError:
        return
    base = Path("/data/downloads")
    assert (base / f"ratings-{profile}.csv").resolve().parent == base
    assert not {"/", "\\", "\x00"} & set(profile) and profile not in {".", ".."}


@pytest.fixture
def one_build(tmp_path: Path) -> Path:
    index_dir = tmp_path / "data" / "indexes"
    with writer.BuildWriter(index_dir, "catalog-hash") as build:
        (build.component_dir("content") / "vectors.bin").write_bytes(b"\x00" * 64)
        build.add_component("content", {"rows": 1})
    (tmp_path / "data" / "outside.txt").write_text("not part of any build")
    return index_dir


@pytest.mark.parametrize("pointer", ["../outside", "/etc/passwd", "..", "x/../../y", ""])
def test_current_cannot_point_outside_the_index_dir(one_build: Path, pointer: str) -> None:
    (one_build / store.CURRENT).write_text(pointer + "\n")
    with pytest.raises(ArtifactError, match="indexes/CURRENT is corrupt"):
        store.open_current(one_build)


@pytest.mark.parametrize("relative", ["../../outside.txt", "/etc/hostname", "content/../../x"])
def test_a_manifest_cannot_name_files_outside_its_build(one_build: Path, relative: str) -> None:
    build = store.open_current(one_build)
    target = (build.folder / relative).resolve()
    size = target.stat().st_size if target.is_file() else 0
    manifest = {k: v for k, v in build.manifest.items() if k != "manifest_sha256"}
    manifest["files"] = {**manifest["files"], relative: {"sha256": "0" * 64, "size": size}}
    store.write_manifest(build.folder, manifest)  # a consistent but hostile manifest
    with pytest.raises(ArtifactError, match="names a file outside its build"):
        store.open_current(one_build)


@pytest.mark.parametrize("name", ["../x", "/abs", "a/b", "..", "CON"])
def test_component_names_cannot_leave_the_build(tmp_path: Path, name: str) -> None:
    new = writer.BuildWriter(tmp_path / "indexes", "catalog-hash")
    with new as build, pytest.raises(ArtifactError, match="must be lower-case letters"):
        build.component_dir(name)
    made = [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")]
    assert not [m for m in made if m.rsplit("/", 1)[-1] in {"x", "abs", "b", "CON", ".."}], made
    assert not Path("/abs").exists()


@pytest.mark.parametrize("source", ["../../etc", "/etc", "synthetic/../../x"])
def test_source_names_cannot_leave_the_raw_dir(settings: Settings, source: str) -> None:
    with pytest.raises(DataMissingError, match="no snapshot of"):
        build_catalog(settings, [source])
    assert not settings.catalog_dir.exists()


# ---- Streamlit keeps XSRF protection on --------------------------------------------------------


def test_streamlit_keeps_xsrf_protection_on(monkeypatch: pytest.MonkeyPatch) -> None:
    from streamlit import config

    monkeypatch.chdir(ROOT)  # Streamlit reads ./.streamlit/config.toml, as `streamlit run` does
    try:
        config.get_config_options(force_reparse=True)
        assert config.get_option("server.enableXsrfProtection") is True
        assert config.get_option("server.enableCORS") is True
        assert config.get_option("server.maxUploadSize") * 1_000_000 <= MAX_IMPORT_BYTES
    finally:
        monkeypatch.undo()
        config.get_config_options(force_reparse=True)
    for path in [ROOT / "README.md", *(ROOT / ".ci").iterdir(), *SOURCES]:
        if path.is_file():
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"enableXsrfProtection\s*[= ]\s*false", text, re.I), path
            assert not re.search(r"enableCORS\s*[= ]\s*false", text, re.I), path
    assert "enableXsrfProtection = true" in (ROOT / ".streamlit" / "config.toml").read_text()
