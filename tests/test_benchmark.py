"""The benchmark script runs end to end in its quick mode (so it never rots) and its helpers measure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tunescout.research import benchmark as bench

ROOT = Path(__file__).resolve().parents[1]


def test_percentiles_of_known_latencies() -> None:
    stats = bench.percentiles(list(range(1, 101)))
    assert stats["p50"] == pytest.approx(50.5)
    assert stats["p99"] == pytest.approx(99.01)
    assert stats["max"] == 100 and stats["n"] == 100


def test_mood_queries_are_distinct_and_seeded() -> None:
    queries = bench.mood_queries(300)
    assert len(set(queries)) == 300
    assert queries == bench.mood_queries(300) != bench.mood_queries(300, seed=1)


def test_topk_overlap_counts_shared_neighbours() -> None:
    docs = np.eye(4, dtype=np.float32)
    query = np.array([[1.0, 0.5, 0.2, 0.0]], dtype=np.float32)
    assert bench.topk_overlap(docs, docs, query, query, k=2) == 1.0
    swapped = docs[[2, 1, 0, 3]]  # document 0 and 2 trade places
    assert bench.topk_overlap(docs, swapped, query, query, k=2) == 0.5


def test_verdicts_judge_only_what_was_measured() -> None:
    results = {
        "engines": {"30k": {"search_mood_ms": {"p99": 20.0}, "recommend_ms": {"p99": 80.0}}},
        "als": {"overhead": 1.05},
    }
    verdicts = {target: met for target, _, met in bench.verdicts(results)}
    assert verdicts["search_mood p99 ≤ 25 ms at 30k (real)"] is True
    assert verdicts["recommend p99 ≤ 50 ms at 30k (real)"] is False
    assert verdicts["ALS overhead ≤ 1.1×"] is True
    assert verdicts["engine memory at 1M ≤ 2.5 GB"] is None


def test_quick_run_measures_every_section(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    done = subprocess.run(
        [sys.executable, "scripts/benchmark.py", "--quick", "--queries", "20",
         "--workdir", str(tmp_path / "work"), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    engine = result["engines"]["quick"]
    assert engine["tracks"] == 3000
    for call in ("search_mood_ms", "recommend_ms", "similar_tracks_ms"):
        assert engine[call]["n"] == 20 and 0 < engine[call]["p50"] <= engine[call]["p99"]
    assert engine["rss_mb"] > engine["rss_before_load_mb"] > 0
    backends = result["semantic"]["backends"]
    assert set(backends) == {
        "torch fp32", "torch bf16 autocast (default build)", "onnx fp32",
        "onnx int8 (dynamic, per channel)",
    }  # fmt: skip
    assert backends["torch fp32"]["overlap_at_10"] == 1.0
    assert backends["onnx fp32"]["overlap_at_10"] > 0.95
    assert all(b["docs_per_s"] > 0 for b in backends.values())
    assert result["als"]["ours_s_per_iter"] > 0 and result["als"]["bare_s_per_iter"] > 0
    for method in ("hnsw", "ivf"):
        assert 0.0 <= result["faiss"]["quick"][method]["recall_at_10"] <= 1.0
    assert {v["target"] for v in result["verdicts"]} >= {"ALS overhead ≤ 1.1×"}
    assert "MET" in done.stdout or "MISS" in done.stdout
    assert result["cpu_steal_s"] >= 0.0 and "CPU steal during the run" in done.stdout


def test_steal_seconds_reads_proc_stat() -> None:
    from tunescout.research.benchmark import steal_seconds

    first = steal_seconds()
    assert first >= 0.0 and steal_seconds() >= first
