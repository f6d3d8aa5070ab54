"""No traceback on a page (issue #15, item 2, and the page side of item 9): every page over a data
dir whose catalog is truncated or corrupt, whose ratings database cannot be opened, is busy when a
star or a button is clicked, or holds a row no write makes; a report file of the wrong shape; and
the model report never names where the server keeps its data.

Each shows one line saying what is wrong and what to do (or the page as usual), never an
exception, and the ratings database is unchanged (its SQL dump compared before and after).
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_hardening_input import db_state
from tests.test_hardening_security import page_text
from tunescout.serving.ratings import RatingsStore

pytestmark = pytest.mark.hardening

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")
HOME = "pages/home.py"
PAGES = [
    HOME,
    "pages/mood_search.py",
    "pages/rate_artists.py",
    "pages/for_you.py",
    "pages/similar.py",
    "pages/explorer.py",
    "pages/model_report.py",
]
STORE_PAGES = ["pages/rate_artists.py", "pages/for_you.py"]  # the pages that open the ratings


def copy_of(synthetic_dir: Path, where: Path) -> Path:
    data = where / "data"
    shutil.copytree(synthetic_dir, data, ignore=shutil.ignore_patterns("ratings.sqlite*", "jobs"))
    return data


def visit(data: Path, page: str, profile: str = "visitor") -> AppTest:
    os.environ["TUNESCOUT_DATA_DIR"] = str(data)
    at = AppTest.from_file(APP, default_timeout=300)
    at.query_params.update(profile=profile)
    at.run()
    if page != HOME:
        at.switch_page(page).run()
    return at


def messages(at: AppTest) -> list[str]:
    """The error and warning lines on the page, unescaped."""
    return [e.value.replace("\\", "") for e in [*at.error, *at.warning]]


def assert_no_traceback(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    text = page_text(at)
    assert "Traceback" not in text and 'File "' not in text


@pytest.fixture(autouse=True)
def data_dir_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TUNESCOUT_DATA_DIR", "unset")  # visit() sets it; restored afterwards
    monkeypatch.setenv("TUNESCOUT_RATINGS_TIMEOUT", "0.3")


# ---- a damaged catalog: every page says so in one line ---------------------------------------------

CATALOG_DAMAGE = {
    "manifest truncated": (
        lambda c: (c / "manifest.json").write_text((c / "manifest.json").read_text()[:60]),
        "catalog/manifest.json is corrupt",
    ),
    "tracks garbage": (
        lambda c: (c / "tracks.parquet").write_bytes(b"PAR1" + os.urandom(2000)),
        "catalog/tracks.parquet is corrupt (sha256 mismatch)",
    ),
}


@pytest.fixture(scope="module", params=list(CATALOG_DAMAGE))
def damaged(request, synthetic_dir: Path, tmp_path_factory) -> tuple[Path, str]:
    data = copy_of(synthetic_dir, tmp_path_factory.mktemp("damaged"))
    make, message = CATALOG_DAMAGE[request.param]
    make(data / "catalog")
    return data, message


@pytest.mark.parametrize("page", PAGES)
def test_a_damaged_catalog_is_one_line_on_every_page(damaged, page: str) -> None:
    data, message = damaged
    at = visit(data, page)
    assert_no_traceback(at)
    lines = messages(at)
    assert any(
        message in line and "rebuild with: python scripts/build.py" in line for line in lines
    )
    assert all("\n" not in line for line in lines)


# ---- the ratings database: unusable, busy, or holding a row no write makes --------------------------


@pytest.fixture(scope="module")
def served(synthetic_dir: Path, tmp_path_factory) -> Path:
    """A data dir the pages are served from (loaded once), with two saved ratings."""
    data = copy_of(synthetic_dir, tmp_path_factory.mktemp("served"))
    artists = json.loads((data / "catalog" / "manifest.json").read_text())["rows"]["artists"]
    assert artists > 2
    return data


def saved_ratings(data: Path, profile: str) -> dict[str, int]:
    import pyarrow.parquet as pq

    ids = pq.read_table(data / "catalog" / "artists.parquet", columns=["artist_id"])
    ids = ids.column(0).to_pylist()[:2]
    store = RatingsStore(data / "ratings.sqlite")
    for artist, stars in zip(ids, (5, 4), strict=True):
        store.rate(profile, artist, stars)
    return dict(zip(ids, (5, 4), strict=True))


def test_a_ratings_database_that_cannot_be_opened_is_one_line(
    synthetic_dir: Path, tmp_path: Path
) -> None:
    """The issue's read-only data dir: as root (CI containers) permissions do not stop writes, so
    a folder where the database file belongs makes SQLite fail to open it the same way."""
    data = copy_of(synthetic_dir, tmp_path)
    if os.geteuid() == 0:
        (data / "ratings.sqlite").mkdir()
    else:
        data.chmod(0o555)
    try:
        for page in PAGES:
            at = visit(data, page)
            assert_no_traceback(at)
            if page in STORE_PAGES:
                line = " ".join(messages(at))
                assert "the ratings database (ratings.sqlite) cannot be" in line, line
                assert str(data) not in line
    finally:
        data.chmod(0o755)


def test_a_busy_database_when_a_star_is_clicked_is_one_line(served: Path) -> None:
    at = visit(served, "pages/rate_artists.py", profile="busy-star")
    before = db_state(served / "ratings.sqlite")
    holder = sqlite3.connect(served / "ratings.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process holds the write lock
    try:
        at.feedback[0].set_value(3)
        at.run()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_no_traceback(at)
    assert any("the ratings database is busy" in m and "try again" in m for m in messages(at))
    assert db_state(served / "ratings.sqlite") == before
    at.feedback[0].set_value(4)
    at.run()  # once the lock is gone a click saves
    assert_no_traceback(at)
    assert RatingsStore(served / "ratings.sqlite").ratings("busy-star")


def test_a_busy_database_when_like_is_pressed_is_one_line(served: Path) -> None:
    saved_ratings(served, "busy-like")
    at = visit(served, "pages/for_you.py", profile="busy-like")
    assert_no_traceback(at)
    editor = next(d for d in at.data_editor if d.key and d.key.startswith("fy_artists_"))
    before = db_state(served / "ratings.sqlite")
    holder = sqlite3.connect(served / "ratings.sqlite", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:  # one click on a row's 👍
        at.session_state[editor.key] = {
            "edited_rows": {0: {"like": True}},
            "added_rows": [],
            "deleted_rows": [],
        }
        at.run()
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert_no_traceback(at)
    assert any("the ratings database is busy" in m for m in messages(at))
    assert db_state(served / "ratings.sqlite") == before


def test_a_row_no_write_makes_does_not_break_a_page(served: Path) -> None:
    """The issue's ``stars='x'`` row (a database edited by hand): the pages leave it out."""
    good = saved_ratings(served, "odd-row")
    with sqlite3.connect(served / "ratings.sqlite") as conn:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        conn.execute("INSERT INTO ratings VALUES ('odd-row', 'arX', 'x', '2024-01-01')")
    conn.close()
    for page in STORE_PAGES:
        at = visit(served, page, profile="odd-row")
        assert_no_traceback(at)
        assert not at.error, messages(at)
    assert RatingsStore(served / "ratings.sqlite").ratings("odd-row") == good


# ---- reports of the wrong shape, and the server's path ---------------------------------------------


@pytest.mark.parametrize(
    "report",
    ['{"models": "x", "survey": [1, 2]}', '{"models": {"als": {"ndcg@10": "high"}}}', "[" * 5000],
    ids=["wrong shape", "text scores", "nested 5,000 deep"],
)
def test_a_report_of_the_wrong_shape_is_one_line(served: Path, report: str) -> None:
    reports = served / "reports"
    reports.mkdir(exist_ok=True)
    (reports / "evaluation.json").write_text(report)
    try:
        at = visit(served, "pages/model_report.py")
    finally:
        (reports / "evaluation.json").unlink()
    assert_no_traceback(at)
    lines = messages(at)
    assert lines and all("\n" not in line for line in lines)
    assert any("evaluation.json" in line or "failed (" in line for line in lines), lines


def test_the_model_report_never_shows_the_servers_data_path(served: Path, tmp_path: Path) -> None:
    data = tmp_path / "a-private-place" / "data"
    data.parent.mkdir()
    data.symlink_to(served, target_is_directory=True)  # an absolute path only the server knows
    at = visit(data.absolute(), "pages/model_report.py")
    assert_no_traceback(at)
    text = page_text(at)
    assert "a-private-place" not in text and str(served) not in text
    assert "reports/evaluation.json" in " ".join(i.value.replace("\\", "") for i in at.info)


def test_the_server_listens_on_this_machine_only_and_hides_tracebacks(monkeypatch) -> None:
    import streamlit.config as config

    monkeypatch.chdir(ROOT)  # where `streamlit run app.py` reads .streamlit/config.toml
    config.get_config_options(force_reparse=True)
    try:
        assert config.get_option("server.address") == "127.0.0.1"
        assert config.get_option("client.showErrorDetails") == "none"
    finally:
        config.get_config_options(force_reparse=True)
