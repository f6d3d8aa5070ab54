"""The encoder's ONNX Runtime query path: same vectors as torch, and torch when it cannot be had."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from tunescout.indexes.encoding.encoder import Encoder, load_encoder

TEXTS = [
    "rainy heartbreak",
    "focus music for coding",
    "Björk — jóga, ça va? 東京の夜",
    "a",
    " ".join(["very long query"] * 120),  # over 256 word pieces: truncated the same way
]


@pytest.fixture(scope="module")
def encoder() -> Encoder:
    return load_encoder()


def test_short_texts_run_on_onnx_with_torchs_vectors(encoder: Encoder) -> None:
    assert encoder.query_backend == "onnx"
    fast = encoder.encode(TEXTS)
    reference = encoder.encode_torch(TEXTS)
    assert fast.shape == (len(TEXTS), 384) and fast.dtype == np.float32
    assert np.allclose(np.linalg.norm(fast, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(fast * reference, axis=1)) > 0.99999
    # One text or several in a batch (padding) give the same vector.
    assert np.allclose(encoder.encode(TEXTS[:1])[0], fast[0], atol=1e-5)


def test_batches_of_queries_match_torch_and_documents_run_on_torch(encoder: Encoder) -> None:
    texts = [f"song number {i} sad piano" for i in range(40)]
    batch = encoder.encode(texts, batch_size=16)  # several ONNX batches, padded differently
    reference = encoder.encode_torch(texts)
    assert np.min(np.sum(batch * reference, axis=1)) > 0.99999
    docs = encoder.encode_documents(texts[:3])  # torch (bf16 autocast where the CPU has it)
    assert np.min(np.sum(docs * reference[:3], axis=1)) > 0.999


def test_torch_only_when_asked(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TUNESCOUT_QUERY_BACKEND", "torch")
    monkeypatch.setenv("TUNESCOUT_MODEL_CACHE", str(tmp_path))
    encoder = Encoder()
    assert encoder.query_backend == "torch"
    assert list(tmp_path.iterdir()) == []  # nothing exported
    assert encoder.encode(["rainy heartbreak"]).shape == (1, 384)


def test_a_changed_cached_export_is_made_again(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TUNESCOUT_MODEL_CACHE", str(tmp_path))
    first = Encoder()
    assert first.query_backend == "onnx"
    (exported,) = tmp_path.glob("*.onnx")
    assert (tmp_path / (exported.name + ".verified.json")).exists()
    exported.write_bytes(b"not an onnx graph")
    again = Encoder()
    assert again.query_backend == "onnx"
    assert exported.stat().st_size > 1_000_000
    assert np.allclose(again.encode(TEXTS[:2]), first.encode(TEXTS[:2]), atol=1e-5)


def test_a_serving_process_never_imports_torch(tmp_path) -> None:
    """Once the export is cached, queries load neither torch nor transformers (~400 MB)."""
    code = (
        "import sys; from tunescout.indexes.encoding.encoder import Encoder; e = Encoder(); "
        "v = e.encode(['rainy heartbreak']); assert v.shape == (1, 384), v.shape; "
        "print(e.query_backend, 'torch' in sys.modules, 'transformers' in sys.modules)"
    )
    env = {**os.environ, "TUNESCOUT_MODEL_CACHE": str(tmp_path)}
    runs = [
        subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
        for _ in range(2)
    ]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
    assert runs[0].stdout.split() == ["onnx", "True", "True"]  # the first run exports
    assert runs[1].stdout.split() == ["onnx", "False", "False"]


def test_an_unwritable_cache_falls_back_to_torch(monkeypatch, tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache folder should be")
    monkeypatch.setenv("TUNESCOUT_MODEL_CACHE", str(blocker / "cache"))
    encoder = Encoder()
    assert encoder.query_backend == "torch"
    reference = encoder.encode_torch(TEXTS[:2])
    assert np.min(np.sum(encoder.encode(TEXTS[:2]) * reference, axis=1)) > 0.99999


def test_a_torch_query_does_not_leave_builds_on_one_thread(encoder: Encoder) -> None:
    import torch

    encoder.encode_torch(["one short query"])  # runs on one thread
    assert torch.get_num_threads() == 1
    encoder.encode_torch([f"document {i}" for i in range(40)])
    assert torch.get_num_threads() == len(os.sched_getaffinity(0))
