"""`scripts/benchmark.py --explorer` runs end to end in its quick mode and judges what it measured.

No timing is asserted here: speed is judged by the benchmark on the real build (docs/EXPLORER.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tunescout.research import explorer_bench

ROOT = Path(__file__).resolve().parents[1]


def _listing(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*")) if folder.exists() else []


def test_quick_explorer_run_measures_every_projection(synthetic_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    cache = synthetic_dir / "cache"
    before = _listing(cache)
    done = subprocess.run(
        [sys.executable, "scripts/benchmark.py", "--explorer", "--quick",
         "--data-dir", str(synthetic_dir), "--workdir", str(tmp_path / "work"), "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.with_name("bench-explorer.json").read_text())
    found = result["explorer"]
    assert found["space"] == "MiniLM track vectors" and found["space_items"] == 4000
    assert found["dims_in"] == 384 and found["build"]
    assert set(found["runs"]) == {
        "PCA 2D 300", "PCA 3D 300", "PCA 2D 1000", "PCA 3D 1000",
        "UMAP 2D 300", "UMAP 3D 300", "t-SNE 2D 300", "t-SNE 3D 300",
    }  # fmt: skip
    for run in [found["cold_first_job"], *found["runs"].values()]:
        assert run["shape"][0] == run["points"]
        assert 0 < run["first_progress_s"] <= run["seconds"]
        assert run["first_moved_s"] <= run["seconds"]
        assert run["last_message"] == "done"
        assert run["load_before"] >= 0 and run["load_after"] >= 0
    for run in found["runs"].values():
        assert run["shape"] == [run["points"], run["dims"]]
    assert found["runs"]["PCA 3D 1000"]["shape"] == [1000, 3]
    assert found["cold_first_job"]["run"] == "PCA 2D 300"
    assert found["cold_first_job"]["shape"] == [300, 2]
    near = found["neighbours"]
    assert near["items"] == 4000 and near["k"] == 10
    for metric in ("cosine", "l2"):
        assert 0 < near[metric]["median_s"] <= near[metric]["max_s"]
    targets = [v["target"] for v in result["verdicts"]]
    assert "UMAP 2D of 300 points ≤ 30 s" in targets and "PCA 3D of 300 points ≤ 2 s" in targets
    assert "PCA 2D of 1,000 points (no target)" in targets
    assert any(t.startswith("UMAP and t-SNE progress visible ≤ 1 s") for t in targets)
    assert any(t.startswith("exact neighbours of one item over 4,000 items") for t in targets)
    assert all(v["met"] in (True, False, None) for v in result["verdicts"])
    assert "MET" in done.stdout or "MISS" in done.stdout
    assert "load average:" in done.stdout
    # the projections went to the work dir, never into the data dir's cache
    assert _listing(cache) == before
    assert list((tmp_path / "work").glob("projections-*/*.npz"))


def _run(method: str, dims: int, size: str, seconds: float, first: float = 0.1) -> dict:
    points = 5000 if size == "small" else 50000
    return {"method": method, "dims": dims, "size": size, "points": points, "seconds": seconds,
            "first_progress_s": first, "load_before": 3.0}  # fmt: skip


def test_verdicts_judge_each_target() -> None:
    result = {
        "runs": {
            "PCA 2D 5000": _run("PCA", 2, "small", 1.5),
            "PCA 3D 5000": _run("PCA", 3, "small", 2.5),
            "PCA 2D 50000": _run("PCA", 2, "large", 9.0),
            "UMAP 2D 5000": _run("UMAP", 2, "small", 29.0, first=0.4),
            "t-SNE 3D 5000": _run("t-SNE", 3, "small", 31.0, first=1.5),
        },
        "cold_first_job": {"run": "PCA 2D 5000", "first_progress_s": 0.5, "seconds": 1.0},
        "neighbours": {"items": 28356, "cosine": {"median_s": 0.05, "max_s": 0.08},
                       "l2": {"median_s": 0.06, "max_s": 1.2}},
    }  # fmt: skip
    verdicts = {t: met for t, _, met in explorer_bench.explorer_verdicts(result)}
    assert verdicts["PCA 2D of 5,000 points ≤ 2 s"] is True
    assert verdicts["PCA 3D of 5,000 points ≤ 2 s"] is False
    assert verdicts["PCA 2D of 50,000 points (no target)"] is None
    assert verdicts["UMAP 2D of 5,000 points ≤ 30 s"] is True
    assert verdicts["t-SNE 3D of 5,000 points ≤ 30 s"] is False
    assert verdicts["UMAP and t-SNE progress visible ≤ 1 s after submit"] is False  # t-SNE's 1.5 s
    cold = "a new server's first job: progress ≤ 1 s (PCA 2D 5000, cold worker)"
    assert verdicts[cold] is True
    assert verdicts["exact neighbours of one item over 28,356 items ≤ 1 s"] is False  # L2's 1.2 s
