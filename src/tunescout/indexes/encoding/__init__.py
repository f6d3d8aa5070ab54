"""The MiniLM encoder: torch for builds, ONNX Runtime for queries."""
