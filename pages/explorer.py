"""Embedding explorer: project a space to 2D/3D in a worker process, colour it, select points by a
click, a box, a lasso or a search, and see their neighbours in the original space."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from tunescout.research import explore
from tunescout.serving import lookup
from tunescout.ui import explorer as ex
from tunescout.ui import routing, scatter, state
from tunescout.ui.text import one_line_errors

routing.ensure_routed(__file__)


@st.fragment
def explore_view(view: ex.View, rows, description: str, projection) -> None:
    """The plot, its controls and the selection panel: a click reruns only this part."""
    with one_line_errors("Drawing the projection"):
        engine = state.engine()
        space, build = explore.spaces(engine)[view.space], engine.build.id
        every = ex.labels(view.space, build)
        chosen = ex.selection(pd.Index(every["id"]))

        left, middle, right, find = st.columns([2, 2, 1.2, 3])
        options = ex.colour_options(every)
        colour = left.selectbox(
            "Colour by", list(options), format_func=options.get, key="xp_colour"
        )
        k = middle.slider("Neighbours", 1, 50, 10, key="xp_k")
        metric = right.radio("Distance", list(explore.METRICS), key="xp_metric", horizontal=True)
        query = find.text_input("Find by name (any item of the space)", key="xp_find")
        matches = lookup.find(every, query, 20)
        if query.strip() and matches.empty:
            find.caption("No item in this space has that name.")
        elif not matches.empty:
            names = explore.titles(matches)
            key = f"xp_match_{query}"
            find.selectbox("Matches", names.index, format_func=names.get, index=None, key=key,
                           placeholder="pick one to select it", on_change=ex.found, args=(key,))  # fmt: skip

        near = pd.DataFrame(columns=["rank", "id", "score"])
        if chosen:
            near = explore.neighbours(space.vectors, space.ids, chosen, k, metric)
        frame = ex.plot_frame(every, space.vectors, rows, projection, [*ex.added(), *near["id"]])
        count = 8
        if colour == "cluster":
            count = left.slider("Clusters (k-means, original space)", 2, 20, 8, key="xp_kmeans")
        frame = ex.coloured(frame, view, colour, rows, count, build)

        plot, side = st.columns([5, 2.2])
        with side:
            isolate = st.toggle("Isolate the selection and its neighbours", key="xp_isolate")
            ex.panel(chosen, near, every, frame)
        with plot:
            figure = scatter.explorer_figure(
                frame, colour, chosen, near["id"].tolist(), isolate and bool(chosen), revision=build
            )
            st.plotly_chart(figure, key="xp_plot", on_select=lambda: ex.picked_on_plot("xp_plot"),
                            selection_mode=("points", "box", "lasso"))  # fmt: skip
            picking = (
                "click a point" if view.dims == 2 else "find an item by name (3D has no click)"
            )
            st.caption(
                f"{view.space} · {view.method} {view.dims}D · {description}; {picking}. "
                f"{space.note}."
            )
        export = frame.drop(columns=["hover"])
        name = f"{view.space}-{view.method}-{view.dims}d-seed{view.seed}.csv".replace(" ", "_")
        st.download_button(
            "Coordinates (CSV)", lambda: export.to_csv(index=False), name, "text/csv",
            on_click="ignore",
        )  # fmt: skip


with one_line_errors("Showing the embedding explorer"):
    st.title("🗺️ Embedding explorer")
    engine = state.require_engine()
    spaces, build = explore.spaces(engine), engine.build.id
    view, asked = ex.settings_form(spaces)
    if view is None or view.space not in spaces:
        st.info(
            "Choose a space and a method, then press **Project**. PCA draws any sample in a "
            "second or two (plots stay interactive up to 50,000 points); UMAP and t-SNE run in a "
            "worker process with progress and a cancel button, about 20 s for 5,000 points."
        )
        st.stop()
    space = spaces[view.space]
    rows, description = ex.sample(view.space, view.n, view.seed, view.sampling, build)
    projection = ex.projected(view, space.vectors[rows], build, restart=asked)
    if projection is None:
        st.stop()
    explore_view(view, rows, description, projection)
