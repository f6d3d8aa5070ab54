"""End to end: ``streamlit run app.py`` on the synthetic data directory, driven by headless Chromium.

Screenshots go to ``screenshots/`` (git-ignored) together with ``timings.json``: seconds from
``streamlit run`` until Home is interactive, and how long a new mood query takes in the browser.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright import sync_api as playwright

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[1]
SHOTS = ROOT / "screenshots"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LOAD = 180_000  # ms: the first page loads the indexes and the sentence encoder
STEP = 60_000
TIMINGS: dict[str, float] = {}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "streamlit exited early"
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
                if reply.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"streamlit did not answer on {url} within {timeout} s")


@pytest.fixture(scope="module")
def server(synthetic_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    env = os.environ | {"TUNESCOUT_DATA_DIR": str(synthetic_dir), "OPENBLAS_NUM_THREADS": "1"}
    log = (tmp_path_factory.mktemp("server") / "streamlit.log").open("w")
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            str(ROOT / "app.py"),
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url, proc)
        TIMINGS["server_healthy_s"] = time.perf_counter() - started
        TIMINGS["started"] = started
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        TIMINGS.pop("started", None)
        SHOTS.mkdir(exist_ok=True)
        (SHOTS / "timings.json").write_text(
            json.dumps({k: round(v, 2) for k, v in TIMINGS.items()}, indent=2)
        )


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"no Chromium at {CHROMIUM}: run apt-get install chromium (.ci/run does)")
    with playwright.sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield chromium
        chromium.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(exist_ok=True)
    page.wait_for_timeout(300)  # let charts finish drawing
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def settle(page) -> None:
    """Wait until the script run ends (the running indicator disappears) and no error is shown."""
    page.wait_for_timeout(200)
    page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden", timeout=LOAD)
    assert page.locator('[data-testid="stException"]').count() == 0
    assert page.locator('[data-testid="stAlertContentError"]').count() == 0


def open_page(page, link: str, heading: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=link).click()
    page.get_by_role("heading", name=heading).first.wait_for(timeout=LOAD)
    settle(page)


def test_listener_and_new_user_journey(server: str, browser) -> None:
    page = browser.new_page(viewport={"width": 1400, "height": 1800})
    page.goto(f"{server}/?profile=browser-user")
    page.get_by_label("What do you want to hear?").wait_for(timeout=LOAD)
    TIMINGS["home_interactive_s"] = time.perf_counter() - TIMINGS["started"]
    page.get_by_text("SYNTHETIC", exact=True).wait_for(timeout=LOAD)
    page.locator('[data-testid="stMetric"]').first.wait_for(timeout=LOAD)
    TIMINGS["home_with_data_status_s"] = time.perf_counter() - TIMINGS["started"]
    settle(page)
    shot(page, "1-home")

    page.get_by_label("What do you want to hear?").fill("songs for a rainy heartbreak")
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    page.get_by_text("10 tracks for “songs for a rainy heartbreak”").wait_for(timeout=STEP)
    settle(page)
    page.locator('[data-testid="stDataFrame"]').wait_for(timeout=STEP)
    page.locator('[data-testid="stPlotlyChart"]').wait_for(timeout=STEP)
    shot(page, "2-mood-search")

    box = page.get_by_label("Describe a mood, a moment or a sound")
    box.fill("music to focus on coding")
    started = time.perf_counter()
    page.get_by_test_id("stBaseButton-primaryFormSubmit").click()
    page.get_by_text("10 tracks for “music to focus on coding”").wait_for(timeout=STEP)
    settle(page)
    TIMINGS["new_mood_query_in_browser_s"] = time.perf_counter() - started
    page.get_by_role("button", name="👍 Like").click()
    settle(page)

    open_page(page, "Rate artists", "⭐ Rate artists")
    stars = page.locator('[data-testid="stFeedback"]')
    stars.nth(9).wait_for(timeout=STEP)
    assert stars.count() == 10
    for i in range(5):
        stars.nth(i).get_by_role("radio", name="4 out of 5 stars").click()
        page.get_by_text(f"{i + 1} of 10 rated").wait_for(timeout=STEP)
    settle(page)
    shot(page, "3-rate-artists")

    open_page(page, "For You", "🎁 For You")
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=STEP)
    page.get_by_text("From 6 ratings saved as “browser-user”").wait_for(timeout=STEP)
    shot(page, "4-for-you")
    page.get_by_role("tab", name="Tracks").click()
    shot(page, "5-for-you-tracks")

    open_page(page, "Similar", "🔎 Similar")
    page.get_by_label("Search tracks by name").fill("the")
    page.keyboard.press("Enter")
    settle(page)
    shot(page, "6-similar-search")

    open_page(page, "Embedding explorer", "Embedding explorer")
    shot(page, "7-explorer")
    page.close()


def test_ratings_survive_a_new_tab(server: str, browser) -> None:
    context = browser.new_context(viewport={"width": 1400, "height": 1800})
    page = context.new_page()
    page.goto(f"{server}/rate_artists?profile=browser-user")
    page.get_by_text("5 of 10 rated · 6 ratings saved as “browser-user”").wait_for(timeout=LOAD)
    assert page.get_by_label("Profile", exact=True).input_value() == "browser-user"
    page.get_by_label("Profile", exact=True).fill("someone-else")
    page.keyboard.press("Enter")
    page.get_by_text("0 ratings saved as “someone-else”").wait_for(timeout=STEP)
    assert "profile=someone-else" in page.url
    settle(page)
    shot(page, "8-new-tab-other-profile")
    context.close()
