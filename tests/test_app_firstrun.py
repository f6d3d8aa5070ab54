"""The app's first run, driven by AppTest: the build runs as a background job that Home shows and
joins, the app becomes usable when the fast indexes land, the SYNTHETIC badge is on every page,
the collector's reasons stay on Home, and a long pasted mood text is used, not emptied."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tunescout import firstrun, jobs
from tunescout.collect.runner import Options, Outcome, collect
from tunescout.config import Settings
from tunescout.ui.text import escape

APP = Path(__file__).resolve().parents[1] / "app.py"
TIMEOUT = 300
REASONS = [
    "spotify skipped: no SPOTIFY_CLIENT_ID/SPOTIFY_CLIENT_SECRET in the environment or .env",
    "public failed: download of https://example.org/x failed: cannot connect (offline?)",
]


def start(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params.update(profile="first-run")
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> str:
    parts = [*at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.subheader]
    return "\n".join(str(p.value) for p in parts)


def badge(at: AppTest) -> bool:
    return any("SYNTHETIC data" in str(m.value) for m in at.markdown)


@pytest.fixture
def collected(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A data dir holding a small raw snapshot and the outcome of the collection that made it."""
    settings = Settings(data_dir=tmp_path / "data")
    outcome = collect(settings, "synthetic", Options(synthetic_tracks=600, synthetic_users=80))
    jobs.save_outcome(settings.data_dir, Outcome("synthetic", outcome.snapshots, REASONS))
    monkeypatch.setenv("TUNESCOUT_DATA_DIR", str(settings.data_dir))
    return settings


def wait_for(settings: Settings, done, timeout: float = TIMEOUT) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = jobs.status(settings.data_dir)
        if found and done(found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"the job did not get there in {timeout} s: {found}")


def ended(found: dict) -> bool:
    return found["state"] != jobs.RUNNING


def test_first_run_is_a_background_job_that_home_follows_to_its_end(collected: Settings) -> None:
    at = start()
    assert "No data to search yet" in at.warning[0].value
    assert all(escape(reason) in texts(at) for reason in REASONS), "why the data is what it is"
    [build] = [b for b in at.button if b.label == "Build the data now"]
    build.click().run()
    assert not at.exception, [e.value for e in at.exception]
    first = jobs.status(collected.data_dir)
    assert first is not None and first["origin"] == "the app"

    os.kill(first["pid"], signal.SIGSTOP)  # hold the job still while other sessions look
    try:
        other = start()  # a second session sees the same job and cannot start another
        assert not [b for b in other.button if b.label == "Build the data now"]
        assert "Building" in other.get("progress")[0].proto.text
        assert firstrun.start(collected)["joined"]
    finally:
        os.kill(first["pid"], signal.SIGCONT)

    staged = wait_for(collected, lambda f: "audio" in f.get("ready", []) or ended(f))
    os.kill(first["pid"], signal.SIGSTOP)  # the fast indexes are out, semantic is not
    try:
        assert staged["state"] == jobs.RUNNING, "published before the semantic index"
        usable = start()
        assert [s.value for s in usable.subheader] == ["Loaded data"]
        assert any("while the semantic index is built" in i.value for i in usable.info)
        usable.switch_page("pages/mood_search.py").run()
        usable.text_input(key="mood_text").input("songs for a rainy heartbreak")
        usable.form_submit_button[0].click().run()
        assert not usable.exception and not usable.error, [e.value for e in usable.error]
        assert len(usable.dataframe[0].value) == 10
    finally:
        os.kill(first["pid"], signal.SIGCONT)

    found = wait_for(collected, ended)
    assert found["state"] == jobs.DONE and found["pid"] == first["pid"], found.get("error")
    for session in (at, other):
        session.run()
        assert not session.exception, [e.value for e in session.exception]
        assert [s.value for s in session.subheader] == ["Loaded data"]
        assert not [w for w in session.warning if "No data" in w.value], "no stale warning"
        assert "SYNTHETIC" in session.warning[0].value
        assert all(escape(reason) in texts(session) for reason in REASONS)
        assert any(b.label == "Collect and build again" for b in session.button)
    assert badge(start())  # AppTest keeps app.py's own elements on a session's first run only


def test_a_build_that_died_is_shown_as_failed_with_a_way_to_retry(collected: Settings) -> None:
    job = jobs.Job(collected.data_dir, "first run", ["catalog", "audio"], "the app", pid=1)
    job.begin("catalog")  # recorded as running, but no process holds the lock
    at = start()
    errors = [e.value for e in at.error]
    assert any("The build failed" in e and "stopped before it finished" in e for e in errors)
    assert any(b.label == "Build the data now" for b in at.button)


@pytest.fixture
def data_env(synthetic_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TUNESCOUT_DATA_DIR", str(synthetic_dir))
    return synthetic_dir


def test_the_synthetic_badge_is_worn_by_synthetic_data_only(
    data_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every page shows it (app.py draws it before the page; the browser test sees it on Mood
    search and after navigating); AppTest shows app.py's elements on a session's first run."""
    assert badge(start())
    from tunescout.ui import buildstatus

    monkeypatch.setattr(buildstatus, "catalog_info", lambda settings: {"synthetic": False})
    assert not badge(start())


def test_a_long_paste_is_searched_by_its_first_300_characters(data_env: Path) -> None:
    at = start("pages/mood_search.py")
    pasted = ("quiet piano for a rainy night and a cup of tea " * 30).strip()
    assert len(pasted) > 1000
    at.text_input(key="mood_text").input(pasted)
    at.form_submit_button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.text_input(key="mood_text").value == pasted, "the box keeps what was pasted"
    assert f"Your text has {len(pasted):,} characters: the search used the first 300" in (
        at.info[0].value
    )
    assert len(at.query_params["q"][0]) <= 300
    assert len(at.dataframe[0].value) == 10
