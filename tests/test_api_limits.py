"""Who may call and how much: the optional API key, the per-client rate limit with Retry-After,
request body limits, and the settings they are read from. No engine is needed: the ratings
endpoints work on an empty data directory."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tunescout.api import create_app
from tunescout.api.gate import MAX_BODY
from tunescout.api.limits import KeyCheck, RateLimiter
from tunescout.config import ApiSettings, api_settings

KEY = "s3cret-key-for-tests"


def app_with(tmp_path: Path, **settings) -> TestClient:
    return TestClient(create_app(tmp_path / "data", ApiSettings(**settings)))


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TUNESCOUT_API_KEY", "TUNESCOUT_API_RATE", "TUNESCOUT_API_BURST",
                 "TUNESCOUT_API_CORS", "TUNESCOUT_API_CACHE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    default = api_settings()
    assert default.key is None and default.rate == 50 and default.burst == 100
    assert default.cors_origins == () and default.cache == 4096
    monkeypatch.setenv("TUNESCOUT_API_KEY", KEY)
    monkeypatch.setenv("TUNESCOUT_API_RATE", "0")
    monkeypatch.setenv("TUNESCOUT_API_CORS", " https://a.example , https://b.example,")
    monkeypatch.setenv("TUNESCOUT_API_CACHE", "nonsense")
    chosen = api_settings()
    assert chosen.key == KEY and chosen.rate == 0 and chosen.cache == 4096
    assert chosen.cors_origins == ("https://a.example", "https://b.example")
    assert KEY not in repr(chosen)


# ---- the key -------------------------------------------------------------------------------------


def test_with_a_key_every_call_but_health_and_docs_needs_it(tmp_path: Path) -> None:
    with app_with(tmp_path, key=KEY, rate=0) as client:
        missing = client.get("/profiles/ana/ratings")
        assert missing.status_code == 401 and missing.json()["kind"] == "unauthorized"
        assert missing.headers["www-authenticate"] == "Bearer"
        assert "Authorization: Bearer" in missing.json()["error"]
        wrong = client.get("/profiles/ana/ratings", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json()["error"] == "the API key is wrong"
        assert KEY not in wrong.text
        basic = client.get("/profiles/ana/ratings", headers={"Authorization": f"Basic {KEY}"})
        assert basic.status_code == 401
        good = client.get("/profiles/ana/ratings", headers={"Authorization": f"Bearer {KEY}"})
        assert good.status_code == 200
        assert client.get("/metrics").status_code == 401  # the numbers are not public either
        for open_path in ("/health", "/docs", "/openapi.json"):
            assert client.get(open_path).status_code in (200, 503), open_path
        assert client.put("/profiles/ana/ratings/ar1", json={"stars": 5}).status_code == 401


def test_without_a_key_the_api_is_open(tmp_path: Path) -> None:
    with app_with(tmp_path, rate=0) as client:
        assert client.get("/profiles/ana/ratings").status_code == 200


def test_key_check_compares_exactly() -> None:
    check = KeyCheck("abc")
    check.check("/x", b"Bearer abc")
    check.check("/x", b"bearer  abc")
    for header in (None, b"", b"Bearer", b"Bearer ab", b"Bearer abcd", b"Token abc"):
        with pytest.raises(Exception, match="key"):
            check.check("/x", header)
    KeyCheck(None).check("/x", None)


# ---- the rate limit ------------------------------------------------------------------------------


def test_a_client_over_its_rate_gets_429_with_retry_after(tmp_path: Path) -> None:
    with app_with(tmp_path, rate=0.5, burst=3) as client:
        answers = [client.get("/profiles/ana/ratings") for _ in range(5)]
        assert [a.status_code for a in answers] == [200, 200, 200, 429, 429]
        limited = answers[-1]
        assert limited.json()["kind"] == "rate_limited"
        assert int(limited.headers["retry-after"]) >= 1
        assert "at most 0.5 per second" in limited.json()["error"]
        assert client.get("/health").status_code != 429  # monitoring is never limited
        metrics = client.get("/metrics").text
        assert 'kind="rate_limited"' in metrics and 'status="429"' in metrics


def test_the_bucket_refills_at_the_rate_per_client() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=2, clock=lambda: now[0])
    assert limiter.wait("a") == 0 and limiter.wait("a") == 0
    assert limiter.wait("a") == pytest.approx(0.5)
    assert limiter.wait("b") == 0  # another client has its own bucket
    now[0] = 0.5
    assert limiter.wait("a") == 0
    now[0] = 100.0  # a long pause refills only up to the burst
    assert [limiter.wait("a") for _ in range(3)][-1] > 0


def test_buckets_are_bounded() -> None:
    limiter = RateLimiter(rate=1.0, burst=1, max_clients=3, clock=lambda: 0.0)
    for client in range(10):
        limiter.wait(str(client))
    assert len(limiter._buckets) == 3
    assert RateLimiter(rate=0, burst=1).wait("x") == 0  # off


# ---- bodies --------------------------------------------------------------------------------------


def test_a_body_over_the_limit_is_refused_before_it_is_read(tmp_path: Path) -> None:
    with app_with(tmp_path, rate=0) as client:
        big = b'{"text": "' + b"x" * MAX_BODY + b'"}'
        r = client.post("/search/mood", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and r.json()["kind"] == "too_large"
        assert f"{MAX_BODY:,} bytes" in r.json()["error"]

        def chunks():  # no Content-Length: counted as it arrives
            for _ in range(100):
                yield b"x" * 1024

        streamed = client.post("/feedback", content=chunks())
        assert streamed.status_code == 413
        csv = b"artist_id,stars\n" + b"ar1,5\n" * 50_000  # 300 kB: fine for an import
        imported = client.post("/profiles/ana/ratings.csv", content=csv)
        assert imported.status_code != 413  # (503 here: no catalog to check the ids against)


def test_serve_binds_to_loopback_unless_told_and_refuses_bad_arguments() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[1]
    shown = subprocess.run([sys.executable, "scripts/serve.py", "--help"], cwd=root,
                           capture_output=True, text=True, timeout=120)  # fmt: skip
    assert shown.returncode == 0 and "default: 127.0.0.1" in shown.stdout
    bad = subprocess.run([sys.executable, "scripts/serve.py", "--port", "70000"], cwd=root,
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 1 and bad.stderr.strip().endswith(
        "--port must be 0 to 65535, got 70000"
    )
    assert "Traceback" not in bad.stderr
