"""End to end, first run: ``streamlit run app.py`` on a data dir with nothing built, in Chromium.

Click "Build the data now", navigate away and back, open a second session: one build runs (one
process, one job), both sessions see its progress and then its end. The job is paused with SIGSTOP
while the sessions look, so what they must see does not depend on how fast the machine is.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright

from tests.test_browser import ARGS, CHROMIUM, free_port, shot, wait_healthy
from tunescout import jobs
from tunescout.collect.runner import Options, collect
from tunescout.config import Settings
from tunescout.indexes import store

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
LOAD = 180_000  # ms
BUILD = 600_000  # ms: the whole small first run, under whatever load the suite runs with


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Collected (a small raw snapshot) but nothing built: Home offers the build."""
    settings = Settings(data_dir=tmp_path_factory.mktemp("firstrun") / "data")
    collect(settings, "synthetic", Options(synthetic_tracks=1000, synthetic_users=120, seed=5))
    return settings.data_dir


@pytest.fixture(scope="module")
def server(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = os.environ | {"TUNESCOUT_DATA_DIR": str(data_dir), "OPENBLAS_NUM_THREADS": "1"}
    log = (tmp_path_factory.mktemp("server") / "streamlit.log").open("w")
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), "--server.headless",
        "true", "--server.port", str(port), "--server.address", "127.0.0.1",
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        yield url
    finally:
        found = jobs.status(data_dir)
        if found and found.get("state") == jobs.RUNNING:  # never leave a build behind
            os.kill(found["pid"], signal.SIGCONT)
            os.kill(found["pid"], signal.SIGKILL)
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run apt-get install chromium (.ci/run does)")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


def job_processes(data_dir: Path) -> list[int]:
    """Pids of first-run job processes building ``data_dir``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"tunescout.firstrun" in argv and str(data_dir.resolve()).encode() in argv:
            found.append(int(entry.name))
    return found


def wait_status(data_dir: Path, done, timeout: float = BUILD / 1000) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = jobs.status(data_dir)
        if found and done(found):
            return found
        time.sleep(0.05)
    raise AssertionError(f"the job did not get there in {timeout} s: {jobs.status(data_dir)}")


def building(page) -> playwright.Locator:
    return page.get_by_text("Building: ").first


def open_page(page, link: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=link).click()


def test_one_build_seen_by_every_session_through_navigation(
    server: str, browser, data_dir: Path
) -> None:
    first = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
    first.goto(f"{server}/?profile=first")
    build_button = first.get_by_role("button", name="Build the data now")
    build_button.wait_for(timeout=LOAD)
    build_button.click()
    started = wait_status(  # the job's own process is at work (past "starting")
        data_dir, lambda f: f["state"] != jobs.RUNNING or f.get("step") not in (None, "starting")
    )
    assert started["state"] == jobs.RUNNING, started
    pid = started["pid"]
    os.kill(pid, signal.SIGSTOP)  # hold the job still while the sessions look at it
    try:
        building(first).wait_for(timeout=LOAD)
        shot(first, "firstrun-1-building")

        open_page(first, "Mood search")  # away: the build goes on, the sidebar shows it
        first.get_by_text("Set up the data on the Home page").wait_for(timeout=LOAD)
        building(first).wait_for(timeout=LOAD)
        open_page(first, "Home")  # and back: the same build, no second button
        building(first).wait_for(timeout=LOAD)
        first.get_by_text("semantic search follows").wait_for(timeout=LOAD)
        assert first.get_by_role("button", name="Build the data now").count() == 0

        second = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
        second.goto(f"{server}/?profile=second")
        building(second).wait_for(timeout=LOAD)
        assert second.get_by_role("button", name="Build the data now").count() == 0
        shot(second, "firstrun-2-second-session")
        assert job_processes(data_dir) == [pid], "one build process"
    finally:
        os.kill(pid, signal.SIGCONT)

    for page in (first, second):  # both see the end: the page reloads the engine by itself
        page.get_by_role("heading", name="Loaded data").wait_for(timeout=BUILD)
    found = wait_status(data_dir, lambda f: f["state"] != jobs.RUNNING)
    assert found["state"] == jobs.DONE and found["pid"] == pid, found.get("error")
    # fast indexes, then semantic, then every item's neighbours
    assert len(store.list_builds(data_dir / "indexes")) == 3
    for page in (first, second):
        page.get_by_text("while the semantic index is built").wait_for(state="hidden", timeout=LOAD)
        page.get_by_text("SYNTHETIC data").first.wait_for(timeout=LOAD)
        assert page.get_by_text("No data to search yet").count() == 0
    shot(first, "firstrun-3-done")

    open_page(second, "Mood search")
    second.get_by_text("SYNTHETIC data").first.wait_for(timeout=LOAD)  # on every page
    box = second.get_by_label("Describe a mood, a moment or a sound")
    box.fill("late night drive")
    second.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    second.get_by_text("tracks for “late night drive”").wait_for(timeout=LOAD)
    deadline = time.monotonic() + 60
    while job_processes(data_dir) and time.monotonic() < deadline:  # it exits after its status
        time.sleep(0.2)
    assert job_processes(data_dir) == []
