"""Model report: the latest offline evaluation, mood-search scores, and where the data came from."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from tunescout.catalog.io import read_json
from tunescout.ui import plots, routing, state
from tunescout.ui.text import one_line_errors

routing.ensure_routed(__file__)

EVALUATE = "python scripts/evaluate.py"
CHARTED = (
    "ndcg@10",
    "recall@10",
    "recall@20",
    "map@10",
    "hit_rate@10",
    "coverage@10",
    "novelty@10",
)
HIDDEN = {"seed"}  # the mean of the seeds is not a result
MAX_REPORT_BYTES = 64 << 20


@st.cache_data(max_entries=8, show_spinner=False)
def read_report(path: str, modified: float) -> dict | str:
    """A report's JSON, or why it cannot be read (``modified`` makes a rewritten file reload)."""
    shown = f"reports/{Path(path).name}"  # never the server's path to it
    try:
        data = read_json(Path(path), MAX_REPORT_BYTES)
    except OSError as err:
        return (
            f"{shown} cannot be read ({err.strerror or type(err).__name__}); re-run `{EVALUATE}`."
        )
    except ValueError as err:
        return f"{shown} cannot be read ({err}); re-run `{EVALUATE}`."
    return data if isinstance(data, dict) else f"{shown} does not hold a JSON object."


def report(name: str, current_build: str | None) -> dict | None:
    """The report ``name``, or ``None`` with a note saying which command creates it; warns when
    the report was made on another index build than ``current_build``."""
    path = state.settings().reports_dir / name
    data = read_report(str(path), path.stat().st_mtime) if path.is_file() else None
    if isinstance(data, str):
        st.error(data)
    elif data is None:
        st.info(f"No reports/{name} in the data dir yet. Create it with `{EVALUATE}`.")
    else:
        made = data.get("dataset", {})
        build = made.get("index_build") if isinstance(made, dict) else None
        st.caption(
            f"Created {data.get('created', '(time not stated)')} on index build {build or '(not stated)'}."
        )
        if build and build != current_build:
            st.warning(
                f"This report was made on another index build than the one loaded; re-run `{EVALUATE}`."
            )
        return data
    return None


def models(results: dict, key: str) -> None:
    """A mean ± std table of every model and metric, and bar charts of the chosen metrics."""
    table = plots.metrics_frame(results)
    table = table[~table["metric"].isin(HIDDEN)]
    cells = [
        f"{m:.4f}" if pd.isna(s) else f"{m:.4f} ± {s:.4f}"
        for m, s in zip(table["mean"], table["std"], strict=True)
    ]
    known = list(dict.fromkeys(table["metric"]))
    grid = table.assign(value=cells).pivot(index="model", columns="metric", values="value")
    st.dataframe(grid.reindex(index=list(dict.fromkeys(table["model"])), columns=known))
    chosen = st.multiselect(
        "Metrics to chart",
        known,
        default=[m for m in CHARTED if m in known] or known[:4],
        key=f"{key}_metrics",
    )
    if chosen:
        st.plotly_chart(plots.metric_bars(table, chosen), key=f"{key}_bars")


with one_line_errors("Showing the model report"):
    st.title("Model report")
    status = state.require_engine().status()

    st.header("Recommendation models")
    evaluation = report("evaluation.json", status["index_build"])
    if evaluation is not None:
        if evaluation.get("models"):
            st.subheader("Known listeners (holdout)")
            models(evaluation["models"], "known")
        if evaluation.get("survey"):
            st.subheader("Survey users (cold start)")
            models(evaluation["survey"], "survey")
        with st.expander("Protocol"):
            st.json(evaluation.get("protocol", {}))

    st.header("Mood search")
    mood = report("mood.json", status["index_build"])
    if mood is not None:
        summary = pd.DataFrame(
            {
                "search_mood": mood.get("summary", {}),
                "plain MiniLM": mood.get("baseline_summary", {}),
            }
        )
        st.dataframe(summary.dropna(axis=1, how="all"))
        if "latency_ms" in mood:
            st.caption(f"Median latency {mood['latency_ms']:.0f} ms per query.")
        queries = pd.DataFrame(mood.get("queries", []))
        if {"query", "score"} <= set(queries.columns):
            scores = ["score", "baseline"] if "baseline" in queries else ["score"]
            fig = plots.query_scores(
                queries, "query", scores, {"score": "search_mood", "baseline": "plain MiniLM"}
            )
            st.plotly_chart(fig, key="mood_scores")
            st.dataframe(queries, hide_index=True)

    st.header("Data provenance")
    if status["synthetic"]:
        st.warning("This catalog is synthetic: made-up artists and listeners, not real music.")
    for column, (name, rows) in zip(
        st.columns(len(status["rows"])), status["rows"].items(), strict=True
    ):
        column.metric(name.replace("_", " "), f"{rows:,}")
    facts = {
        "sources": ", ".join(status["sources"]) or "(none)",
        "catalog built": status["catalog_built_at"] or "(unknown)",
        "index build": status["index_build"] or "(none)",
        "index components": ", ".join(status["components"]) or "(none)",
    }
    facts |= {f"coverage: {k.replace('_', ' ')}": f"{v:.1%}" for k, v in status["coverage"].items()}
    st.dataframe(pd.Series(facts, name="value"))
    if status["coverage"]:
        st.caption(
            "Coverage: the share of Last.fm listening (by weight and by artist) on artists with measured audio features."
        )
    for note in status["notes"]:
        st.text(note)
