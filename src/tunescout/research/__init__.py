"""Research: metrics, splits, baselines, evaluations, the benchmark and the embedding explorer."""
