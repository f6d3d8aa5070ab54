"""Embedding explorer: project a space to 2D/3D, colour it, find an item and its neighbours."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from tunescout.domain.features import AUDIO_FEATURES
from tunescout.research import explore
from tunescout.serving import lookup
from tunescout.ui import plots, routing, state
from tunescout.ui.text import one_line_errors

routing.ensure_routed(__file__)

SAMPLINGS = ("uniform random", "stratified by genre")


@st.cache_data(max_entries=12, show_spinner=False)
def projection(
    space: str, method: str, dims: int, n: int, seed: int, sampling: str, build: str
) -> tuple[pd.DataFrame, str]:
    """Sampled ids with their coordinates, and the sentence describing the sample."""
    engine = state.engine()
    chosen_space = explore.spaces(engine)[space]
    strata = labels(space, build)["genre"] if sampling == SAMPLINGS[1] else None
    chosen = explore.sample(chosen_space.ids, n, seed, strata)
    coords = explore.project(chosen_space.vectors[chosen.rows], method, dims, seed)
    frame = pd.DataFrame(coords, columns=list("xyz")[:dims])
    frame.insert(0, "id", chosen.ids)
    frame.insert(1, "row", chosen.rows)
    return frame, chosen.describe(chosen_space.kind)


@st.cache_data(max_entries=12, show_spinner=False)
def cluster_labels(space: str, rows: np.ndarray, k: int, seed: int, build: str) -> np.ndarray:
    """k-means labels of the sampled rows, computed in the space's original dimensions."""
    return explore.clusters(explore.spaces(state.engine())[space].vectors[rows], k, seed)


@st.cache_data(max_entries=6, show_spinner=False)
def labels(space: str, build: str) -> pd.DataFrame:
    """Names, genres and features of every item in a space (for hover, colour and search)."""
    engine = state.engine()
    chosen = explore.spaces(engine)[space]
    return explore.items(engine, chosen.kind, chosen.ids)


with one_line_errors("Showing the embedding explorer"):
    st.title("Embedding explorer")
    engine = state.require_engine()
    available = explore.spaces(engine)
    build = engine.status()["index_build"] or "none"

    with st.form("projection"):
        left, middle, right = st.columns(3)
        space_name = left.selectbox("Space", list(available))
        method = middle.selectbox(
            "Method", explore.METHODS, index=None, placeholder="Choose a method"
        )
        dims = right.radio("Dimensions", (2, 3), format_func=lambda d: f"{d}D", horizontal=True)
        left, middle, right = st.columns(3)
        n = left.number_input("Sample size", 50, explore.MAX_POINTS["PCA"], 3000, step=500)
        sampling = middle.radio("Sampling", SAMPLINGS)
        seed = right.number_input("Seed", 0, 1_000_000, 0)
        submitted = st.form_submit_button("Project", type="primary")
    if submitted and method is None:
        st.warning("Choose a projection method first.")
    elif submitted:
        limit = explore.MAX_POINTS[method]
        if n > limit:
            st.info(
                f"{method} is limited to {limit:,} points to stay interactive; sampling {limit:,}."
            )
        st.session_state["explorer"] = {
            "space": space_name, "method": method, "dims": dims, "n": min(int(n), limit),
            "seed": int(seed), "sampling": sampling,
        }  # fmt: skip

    params = st.session_state.get("explorer")
    if params is None or params["space"] not in available:
        st.info(
            "Choose a space and a method, then press **Project**. "
            "UMAP and t-SNE on 5,000 points take from seconds to a few minutes."
        )
        st.stop()

    space = available[params["space"]]
    with st.spinner(f"Projecting {params['space']} with {params['method']}…"):
        points, description = projection(**params, build=build)
    every = labels(params["space"], build)
    frame = pd.concat(
        [points, every.iloc[points["row"]].drop(columns="id").reset_index(drop=True)], axis=1
    )
    st.caption(
        f"{params['space']} · {params['method']} {params['dims']}D · {description}. Vectors: {space.note}."
    )

    left, middle, right = st.columns(3)
    color = left.selectbox("Colour by", ["genre", "popularity", "cluster", *AUDIO_FEATURES])
    if color == "cluster":
        k = middle.slider("Clusters (k-means in the original space)", 2, 20, 8)
        with st.spinner("Clustering…"):
            frame["cluster"] = [
                f"cluster {c}"
                for c in cluster_labels(
                    params["space"], points["row"].to_numpy(), k, params["seed"], build
                )
            ]
    elif color == "genre":
        frame["genre"] = explore.top_categories(frame["genre"], 12).to_numpy()
    query = right.text_input("Find by name", placeholder="a track or artist name")

    matches = lookup.find(every, query)
    selected = None
    if query and matches.empty:
        st.warning("No item in this space has that name.")
    elif not matches.empty:
        titles = explore.titles(matches)
        selected = st.selectbox("Matches", titles.index, format_func=titles.get)

    plot_col, table_col = st.columns([3, 2])
    near = pd.DataFrame(columns=["id"])
    with table_col:
        if selected is None:
            st.caption("Find an item by name to see its nearest neighbours here.")
        else:
            metric = st.radio(
                "Distance",
                list(explore.METRICS),
                format_func={"cosine": "cosine", "l2": "L2"}.get,
                horizontal=True,
            )
            k_near = st.slider("Neighbours", 5, 50, 10)
            near = explore.neighbours(space.vectors, space.ids, selected, k_near, metric)
            shown = near.merge(every, on="id", how="left")
            columns = [
                c for c in ("rank", "name", "artist", *near.columns[2:], "genres") if c in shown
            ]
            st.dataframe(shown[columns], hide_index=True)
            st.caption(f"Exact search over all {len(space.ids):,} items in the original space.")
            if selected not in set(points["id"]):
                st.caption(
                    "The chosen item is not in the plotted sample; ringed points are neighbours that are."
                )
    with plot_col:
        hover = [c for c in ("artist", "genres", "popularity", *AUDIO_FEATURES) if c in frame]
        fig = plots.explorer_scatter(frame, color, hover, selected, near["id"].tolist())
        st.plotly_chart(fig, key="explorer_plot")

    export = frame.drop(columns=["row"])
    file_name = f"{params['space']}-{params['method']}-{params['dims']}d.csv".replace(" ", "_")
    st.download_button(
        "Download coordinates (CSV)", export.to_csv(index=False), file_name, "text/csv"
    )
