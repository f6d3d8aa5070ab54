"""What the model report shows: compact tables of the evaluation's results (the means, with each
metric explained in its column's tooltip), the full mean ± std tables for the expanders, and a
one-line glossary of every metric and model (plain pandas, tested without Streamlit); then the
page's parts that draw them."""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import streamlit as st

from tunescout.catalog.io import read_json
from tunescout.config import DEFAULT_DATA_DIR
from tunescout.ui import state
from tunescout.ui.plots import metric_bars, metrics_frame, query_scores
from tunescout.ui.text import escape

# One line per metric (the part after "@" is the list length), higher is better unless said.
METRICS = {
    "ndcg": "ranking quality: held-out artists found, those near the top counting more (0–1)",
    "recall": "share of a listener's held-out artists that the list finds",
    "hit_rate": "share of listeners with at least one held-out artist in the list",
    "hr": "share of listeners with at least one held-out artist in the list",
    "precision": "share of the list that are held-out artists",
    "map": "mean average precision: precision at each hit, averaged (rewards early hits)",
    "mrr": "1 / the rank of the first hit, averaged",
    "coverage": "share of the catalog's artists that appear in anyone's list (breadth)",
    "novelty": "mean −log2 of the share of listeners who play each listed artist (higher: less "
    "mainstream)",
    "arp": "average recommendation popularity: mean share of listeners of the listed artists "
    "(lower: less mainstream)",
    "pop_percentile": "mean popularity percentile of the listed artists (lower: less mainstream)",
    "n_users": "listeners evaluated",
    "seconds": "seconds to recommend for every evaluated listener",
    "fit_seconds": "seconds to train the model",
    "held": "share of seed artists the model has any answer for",
    "median_percentile": "median reach percentile of the listed artists (familiarity)",
    "p10_percentile": "10th percentile of the listed artists' reach",
    "p90_percentile": "90th percentile of the listed artists' reach",
    "in_band": "share of listed artists inside the asked familiarity band",
    "per_list": "artists per list",
    "features_mean": "mood search: mean catalog percentile, among the top 20, of the features each "
    "request implies (calm → low energy)",
    "features_min": "mood search: the worst request's features percentile",
    "genre_mean": "mood search: share of the top 20 in the genre a request names",
    "genre_min": "mood search: the worst request's genre share",
    "mean_share": "share of the top 10 meeting every constraint of a compositional request",
    "score": "the request's score (features or genre, as its kind says)",
    "baseline": "the same score for plain MiniLM similarity",
}
# One line per model or method (names as the evaluation writes them, case-insensitive prefixes).
MODELS = {
    "random": "random artists: the floor",
    "popularity": "the most played artists the listener has not played",
    "audio": "artists nearest the mean audio features of the listener's artists",
    "item_knn": "item-kNN: artists most often co-played with the listener's (cosine)",
    "item-knn fold-in": "item-kNN on a new listener's rated artists",
    "rp3beta": "RP3beta: a three-step random walk over who played what, popular artists damped",
    "ease": "EASE^R: a closed-form item-to-item linear model (Steck 2019)",
    "ease fold-in": "EASE^R on a new listener's rated artists",
    "blended_ease": "EASE on log plays blended with RP3beta into one item-item matrix",
    "als": "implicit ALS: matrix factorisation of who played what (the app's co-listening model)",
    "hybrid (engine.recommend)": "the app's For You: per-listener z-scores of co-listening, ALS, "
    "tags and sound, fused with validated weights",
    "hybrid (recommend_for_user)": "the app's picks for a known listener: ALS, co-listening, its "
    "random walk and tags fused",
    "hybrid": "the app's fused neighbours (weights chosen on held-out co-listening)",
    "coplay": "co-listening: listeners who play both artists (RP3beta rows)",
    "tags": "shared Last.fm tags and genres",
    "semantic": "MiniLM similarity of the artists' descriptions",
    "search_mood": "the app's mood search (request understanding + MiniLM + feature fit)",
    "plain minilm": "MiniLM similarity of the request to each track's description alone",
}
KEY = ("ndcg@10", "recall@20", "hit_rate@10", "hr@10", "coverage@10", "novelty@10", "arp@10")
HIDDEN = {"seed"}  # the mean of the seeds is not a result


def explain_metric(name: str) -> str:
    """The glossary line of a metric such as ``ndcg@10`` (empty when unknown)."""
    base, _, at = name.partition("@")
    line = METRICS.get(base, "")
    return f"{line} (top {at})" if line and at else line


def explain_model(name: str) -> str:
    """The glossary line of a model such as ``EASE fold-in n=10`` (empty when unknown)."""
    plain = re.sub(r"\s+n=\d+$", "", name.strip()).casefold()
    plain = plain.removesuffix(" (tunescout)")
    for key in sorted(MODELS, key=len, reverse=True):
        if plain == key or plain.startswith(key):
            return MODELS[key]
    return ""


def means(results: Mapping) -> pd.DataFrame:
    """``{model: {metric: {"mean", "std"}}}`` as a models × metrics table of means: the key
    metrics when the results have any (the rest are in :func:`full`), else every metric."""
    table = metrics_frame(results)
    table = table[~table["metric"].isin(HIDDEN)]
    wide = table.pivot(index="model", columns="metric", values="mean")
    order = [m for m in KEY if m in wide] or list(dict.fromkeys(table["metric"]))
    return wide.reindex(index=list(dict.fromkeys(table["model"])), columns=order)


def full(results: Mapping) -> pd.DataFrame:
    """The same table with every cell as ``mean ± std`` (for the expanders)."""
    table = metrics_frame(results)
    table = table[~table["metric"].isin(HIDDEN)]
    cells = [
        f"{m:.4f}" if pd.isna(s) else f"{m:.4f} ± {s:.4f}"
        for m, s in zip(table["mean"], table["std"], strict=True)
    ]
    wide = table.assign(value=cells).pivot(index="model", columns="metric", values="value")
    return wide.reindex(
        index=list(dict.fromkeys(table["model"])), columns=list(dict.fromkeys(table["metric"]))
    )


def by_size(results: Mapping, metric: str = "ndcg@10") -> pd.DataFrame:
    """Survey results named ``"<method> n=<n>"`` as methods × n for one metric."""
    rows = []
    for name, values in results.items():
        found = re.match(r"^(.*) n=(\d+)$", str(name))
        value = values.get(metric) if isinstance(values, Mapping) else None
        value = value.get("mean") if isinstance(value, Mapping) else value
        if found and isinstance(value, (int, float)):
            rows.append((found[1], int(found[2]), float(value)))
    if not rows:
        return pd.DataFrame()
    frame = pd.DataFrame(rows, columns=["method", "n", metric])
    wide = frame.pivot(index="method", columns="n", values=metric)
    wide.columns = [f"{metric}, {n} rated" for n in wide.columns]
    return wide.sort_values(wide.columns[-1], ascending=False)


def glossary(metrics: list[str], models: list[str]) -> pd.DataFrame:
    """One line for each metric and model shown (those the glossary knows)."""
    rows = [("metric", m, explain_metric(m)) for m in dict.fromkeys(metrics)]
    rows += [("model", m, explain_model(m)) for m in dict.fromkeys(models)]
    return pd.DataFrame([r for r in rows if r[2]], columns=["kind", "name", "meaning"])


# ---- the page's parts ---------------------------------------------------------------------------

MAX_REPORT_BYTES = 64 << 20


def evaluate_command() -> str:
    """The command that writes this data dir's reports (never the server's path to it)."""
    default = Path(state.settings().data_dir) == DEFAULT_DATA_DIR
    where = "data" if default else '"$TUNESCOUT_DATA_DIR"'
    return f"python scripts/evaluate.py --data-dir {where}"


@st.cache_data(max_entries=8, show_spinner=False)
def read_report(path: str, modified: float) -> dict | str:
    """A report's JSON, or why it cannot be read (``modified`` makes a rewritten file reload)."""
    shown = f"reports/{Path(path).name}"  # never the server's path to it
    try:
        data = read_json(Path(path), MAX_REPORT_BYTES)
    except OSError as err:
        why = err.strerror or type(err).__name__
        return f"{shown} cannot be read ({why}); re-run `{evaluate_command()}`."
    except ValueError as err:
        return f"{shown} cannot be read ({err}); re-run `{evaluate_command()}`."
    return data if isinstance(data, dict) else f"{shown} does not hold a JSON object."


def load(name: str, build: str | None) -> dict | None:
    """The report ``name``, with one line saying when and on which index build it was made (or
    which command makes it)."""
    path = state.settings().reports_dir / name
    data = read_report(str(path), path.stat().st_mtime) if path.is_file() else None
    if isinstance(data, str):
        st.error(data)
        return None
    if data is None:
        st.info(f"No reports/{name} in the data dir yet. Create it with `{evaluate_command()}`.")
        return None
    made = data.get("dataset") if isinstance(data.get("dataset"), dict) else {}
    made_on = made.get("index_build")
    line = f"Created {data.get('created', '(time not stated)')} on index build {made_on or '(not stated)'}"
    if made_on and made_on != build:
        st.warning(
            f"{escape(line)}: another index build than the one loaded; re-run `{evaluate_command()}`."
        )
    else:
        st.caption(escape(line) + ".")
    return data


def table(values: Mapping, key: str) -> list[str]:
    """Means of the key metrics, each explained in its header's tooltip, and every metric's mean ±
    std behind an expander. Returns the metrics shown."""
    wide = means(values)
    config = {
        m: st.column_config.NumberColumn(m, format="%.3f", help=explain_metric(m) or None)
        for m in wide
    }
    st.dataframe(wide, column_config=config, height=min(36 * (len(wide) + 1) + 3, 330), key=key)
    every = full(values)
    with st.expander("Every metric, mean ± std over seeds"):
        st.dataframe(every)
    return list(every.columns)


def recommendations(evaluation: Mapping) -> tuple[list[str], list[str]]:
    """The recommendation results in tabs (known listeners, survey, similar artists) and a chart
    of one metric of the known-listener models. Returns the metrics and models shown."""
    parts = {"Known listeners": evaluation.get("models"), "New listeners": evaluation.get("survey")}
    similar = evaluation.get("recommendations", {})
    similar = similar.get("similar", {}) if isinstance(similar, Mapping) else {}
    parts |= {f"Similar artists ({split})": v for split, v in similar.items()}
    parts = {k: v for k, v in parts.items() if isinstance(v, Mapping) and v}
    metrics, models = [], []
    if not parts:
        st.warning(
            "reports/evaluation.json holds no recommendation results in the expected shape; "
            f"re-run `{evaluate_command()}`."
        )
        return metrics, models
    for tab, (name, values) in zip(st.tabs(list(parts)), parts.items(), strict=True):
        with tab:
            sizes = by_size(values) if name == "New listeners" else pd.DataFrame()
            if not sizes.empty:
                st.caption("nDCG@10 of held-out listeners who rated 5, 10 or 20 artists:")
                st.dataframe(
                    sizes,
                    column_config={c: st.column_config.NumberColumn(format="%.3f") for c in sizes},
                )
            metrics += table(values, f"report_{name}")
            models += list(values)
    known = evaluation.get("models")
    if isinstance(known, Mapping) and known:
        tidy = metrics_frame(known)
        options = [m for m in KEY if m in set(tidy["metric"])]
        chart = st.segmented_control("Chart of", options, default=options[0] if options else None)
        if chart:
            fig = metric_bars(tidy, [chart], wrap=1)
            fig.update_layout(height=260, showlegend=False, margin={"t": 28, "b": 0})
            fig.update_xaxes(showticklabels=True)
            st.plotly_chart(fig, key="known_bars")
    return metrics, models


def mood(data: Mapping) -> tuple[list[str], list[str]]:
    """Mood search's scores against plain MiniLM, the compositional results, and every query
    behind an expander. Returns the metrics and models shown."""
    summary = pd.DataFrame(
        {"search_mood": data.get("summary", {}), "plain MiniLM": data.get("baseline_summary", {})}
    ).dropna(axis=1, how="all")
    number = {c: st.column_config.NumberColumn(format="%.3f") for c in summary}
    left, right = st.columns(2)
    left.dataframe(summary, column_config=number)
    if isinstance(data.get("latency_ms"), (int, float)):
        left.caption(f"Median latency {data['latency_ms']:.0f} ms per query.")
    listener = data.get("listener") if isinstance(data.get("listener"), Mapping) else {}
    rows = {
        s: listener[s].get("summary")
        for s in ("dev", "blind")
        if isinstance(listener.get(s), Mapping)
    }
    rows = {s: r for s, r in rows.items() if isinstance(r, Mapping)}
    if rows:
        right.dataframe(pd.DataFrame(rows).T)
        right.caption("Compositional requests (dev and blind): share meeting every constraint, …")
    queries = pd.DataFrame(data.get("queries", []))
    if {"query", "score"} <= set(queries.columns):
        with st.expander(f"All {len(queries)} queries, scored"):
            scores = ["score", "baseline"] if "baseline" in queries else ["score"]
            names = {"score": "search_mood", "baseline": "plain MiniLM"}
            st.plotly_chart(query_scores(queries, "query", scores, names), key="mood_scores")
            st.dataframe(queries, hide_index=True)
    return list(summary.index) + ["mean_share"] * bool(rows), list(summary.columns)


def provenance(status: Mapping) -> None:
    """Row counts, sources, build times, and coverage and notes behind an expander."""
    if status["synthetic"]:
        st.warning("This catalog is synthetic: made-up artists and listeners, not real music.")
    counts = status["rows"]
    for column, (name, rows) in zip(st.columns(len(counts)), counts.items(), strict=True):
        column.metric(name.replace("_", " "), f"{rows:,}")
    st.caption(
        escape(
            f"Sources: {', '.join(status['sources']) or '(none)'} · catalog built "
            f"{status['catalog_built_at'] or '(unknown)'} · index build "
            f"{status['index_build'] or '(none)'} ({', '.join(status['components']) or 'none'})"
        )
    )
    if status["coverage"] or status["notes"]:
        with st.expander("Coverage and notes"):
            for name, share in status["coverage"].items():
                st.text(f"coverage: {name.replace('_', ' ')} {share:.1%}")
            if status["coverage"]:
                st.caption(
                    "Coverage: the share of Last.fm listening (by weight and by artist) on "
                    "artists with measured audio features."
                )
            for note in status["notes"]:
                st.text(note)
