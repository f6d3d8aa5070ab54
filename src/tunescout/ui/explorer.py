"""The embedding explorer's parts: its settings (a form, kept in the URL so a view can be
bookmarked), the projection followed while a worker process computes it (progress, ETA, cancel),
the plotted frame (the sample plus searched items and neighbours placed beside it), and the
selection made by a click, a box, a lasso or a search.

The pure work is in :mod:`tunescout.research.explore` (labels, neighbours, placement),
:mod:`tunescout.research.projector` (processes and cache) and :mod:`tunescout.ui.scatter` (the
figure); this module holds the Streamlit state that ties them together.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, fields, replace

import numpy as np
import pandas as pd
import streamlit as st

from tunescout.domain.features import AUDIO_FEATURES
from tunescout.research import explore
from tunescout.research.projection import METHODS, Params, Projection
from tunescout.research.projector import CANCELLED, DONE, FAILED, Projector, job_key
from tunescout.ui import routing, state, urlstate
from tunescout.ui.text import escape

SAMPLINGS = ("uniform random", "stratified by genre")
CATEGORIES = {"family": "genre family", "genre": "genre or top tag", "cluster": "k-means cluster"}
SELECTION, ADDED = "xp_selection", "xp_added"
MAX_SELECTION = 500  # ids kept from one box or lasso
QUICK_WAIT = 1.5  # seconds a page waits for a new projection before it shows progress instead


@dataclass(frozen=True)
class View:
    """What to project: a space, a sample of it and the projection's parameters."""

    space: str
    method: str = "PCA"
    dims: int = 2
    n: int = 5000
    sampling: str = SAMPLINGS[0]
    seed: int = 0
    neighbours: int = 15
    min_dist: float = 0.1
    perplexity: float = 30.0
    iterations: int = 0

    @property
    def params(self) -> Params:
        skip = {"space", "n", "sampling"}
        return Params(**{f.name: getattr(self, f.name) for f in fields(self) if f.name not in skip})

    def key(self, build: str) -> str:
        """The projection's cache key: build, space, sample and parameters (seed included)."""
        sample = {"n": self.n, "sampling": self.sampling, "seed": self.seed}
        return job_key(build=build, space=self.space, sample=sample, params=self.params.relevant())


# ---- cached data -------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _projector(folder: str) -> Projector:
    projector = Projector(folder)
    projector.warm()  # a worker with numpy and scikit-learn imported before the first Project
    return projector


def projector() -> Projector:
    """This server's projector, writing under the data dir's ``cache/projections``."""
    return _projector(str(state.settings().projections_dir))


@st.cache_resource(max_entries=6, show_spinner=False)
def labels(space: str, build: str) -> pd.DataFrame:
    """Names, genres, numbers and features of every item of a space (hover, colour, search).

    Shared by every session and never changed (``cache_resource``: no copy per page run).
    """
    chosen = explore.spaces(state.engine())[space]
    return explore.items(state.engine(), chosen.kind, chosen.ids)


@st.cache_resource(max_entries=12, show_spinner=False)
def hovers(space: str, colour: str | None, build: str) -> pd.Series:
    """Every item's hover text for a colouring, by id (shared, never changed)."""
    every = labels(space, build)
    return pd.Series(explore.hover(every, colour).to_numpy(), index=every["id"].to_numpy())


@st.cache_data(max_entries=12, show_spinner=False)
def sample(space: str, n: int, seed: int, sampling: str, build: str) -> tuple[np.ndarray, str]:
    """The sampled rows of a space and the sentence describing them."""
    chosen = explore.spaces(state.engine())[space]
    strata = labels(space, build)["family"] if sampling == SAMPLINGS[1] else None
    drawn = explore.sample(chosen.ids, n, seed, strata)
    return drawn.rows, drawn.describe(chosen.kind)


@st.cache_data(max_entries=12, show_spinner=False)
def clusters(space: str, rows: np.ndarray, k: int, seed: int, build: str) -> np.ndarray:
    """k-means labels of the rows, computed in the space's original dimensions."""
    return explore.clusters(explore.spaces(state.engine())[space].vectors[rows], k, seed)


# ---- settings ----------------------------------------------------------------------------------


def settings_form(spaces: dict) -> tuple[View | None, bool]:
    """The projection form, seeded from the URL: the view to draw (``None`` before the first
    **Project**, unless the URL names a method, as a bookmark does) and whether it was just asked
    for."""
    names = list(spaces)
    link = urlstate.Link(urlstate.current())
    space = link.choice("space", names, names[0])
    size = len(spaces[space].ids)
    from_url = View(
        space,
        link.choice("method", METHODS, "PCA"),
        link.choice("dims", (2, 3), 2),
        link.number("n", min(5000, size), 10, size, whole=True),
        link.choice("sampling", SAMPLINGS, SAMPLINGS[0]),
        link.number("seed", 0, 0, 1_000_000, whole=True),
        link.number("nn", 15, 2, 200, whole=True),
        link.number("min_dist", 0.1, 0.0, 1.0),
        link.number("perplexity", 30.0, 2.0, 100.0),
        link.number("iterations", 0, 0, 5000, whole=True),
    )
    keys = {f.name: f"xp_{f.name}" for f in fields(View)}
    urlstate.seed(asdict(from_url), keys)
    with st.form("projection", border=False):
        cols = st.columns([3, 1.4, 1.1, 1.3, 1, 1], vertical_alignment="bottom")
        cols[0].selectbox("Space", names, key=keys["space"])
        cols[1].selectbox("Method", METHODS, key=keys["method"])
        cols[2].radio("Dims", (2, 3), format_func="{}D".format, horizontal=True, key=keys["dims"])
        cols[3].number_input("Sample size", 10, 1_000_000, step=1000, key=keys["n"],
                             help="Up to the whole space (a larger number draws all of it)")  # fmt: skip
        cols[4].number_input(
            "Seed", 0, 1_000_000, key=keys["seed"], help="Of the sample and the projection"
        )
        submitted = cols[5].form_submit_button("Project", type="primary", width="stretch")
        with st.expander("Sampling, UMAP and t-SNE settings"):
            cols = st.columns(5)
            cols[0].radio("Sampling", SAMPLINGS, key=keys["sampling"])
            cols[1].number_input("UMAP neighbours", 2, 200, key=keys["neighbours"])
            cols[2].number_input("UMAP min_dist", 0.0, 1.0, step=0.05, key=keys["min_dist"])
            cols[3].number_input("t-SNE perplexity", 2.0, 100.0, step=5.0, key=keys["perplexity"])
            cols[4].number_input("t-SNE iterations", 0, 5000, step=100, key=keys["iterations"],
                                 help="0: 500 in 2D, 400 in 3D")  # fmt: skip
    if link.problems:
        st.caption("Ignored from the link: " + "; ".join(link.problems))
    chosen = View(**{name: st.session_state[key] for name, key in keys.items()})
    chosen = replace(chosen, n=min(int(chosen.n), len(spaces[chosen.space].ids)))
    if submitted:
        st.session_state["xp_view"] = chosen
        urlstate.write(_url(chosen), _url(View(chosen.space)) | {"space": None, "method": None})
        return chosen, True
    if "xp_view" in st.session_state:
        return st.session_state["xp_view"], False
    return (from_url if "method" in st.query_params else None), False


def _url(view: View) -> dict:
    values = asdict(view)
    values["nn"] = values.pop("neighbours")
    return values


# ---- the projection, followed -------------------------------------------------------------------


def projected(view: View, vectors: np.ndarray, build: str, restart: bool) -> Projection | None:
    """The view's projection: from the cache, or started in a worker and followed with a progress
    bar (the page stops there until it is done). ``None`` after a cancel or a failure (said)."""
    key = view.key(build)
    jobs = projector()
    status = jobs.status(key)
    if status is not None and status.state == "done":
        return jobs.result(key)
    if status is None or restart or status.state not in (CANCELLED, FAILED):
        status = jobs.submit(key, vectors, view.params)
    waited = time.monotonic() + QUICK_WAIT  # a PCA is done in a fraction of a second: draw it
    while not status.finished and time.monotonic() < waited:  # now, not after a progress poll
        time.sleep(0.05)
        status = jobs.status(key) or status
    if status.state == DONE:
        return jobs.result(key)
    if status.state == CANCELLED:
        st.info("The projection was cancelled. Press **Project** to start it again.")
        return None
    if status.state == FAILED:
        st.error(f"The projection failed: {status.error}. Press **Project** to try again.")
        return None
    _follow(key, f"{view.method} {view.dims}D of {len(vectors):,} points")
    st.stop()


@st.fragment(run_every=0.5)
def _follow(key: str, what: str) -> None:
    """Progress of the job (fraction, step, elapsed, ETA) with a cancel button, every 0.5 s."""
    status = projector().status(key)
    if status is None or status.finished:
        st.rerun(scope="app")
    eta = f" · about {status.eta:.0f} s left" if status.eta is not None else ""
    text = f"{what}: {status.message} · {status.elapsed:.0f} s{eta}"
    st.progress(min(max(status.fraction, 0.0), 1.0), text=text)
    if st.button("Cancel", key=f"xp_cancel_{key}"):
        projector().cancel(key)
        st.rerun(scope="app")


# ---- what is plotted ----------------------------------------------------------------------------


def plot_frame(
    every: pd.DataFrame,
    vectors: np.ndarray,
    rows: np.ndarray,
    projection: Projection,
    extra: list[str],
) -> pd.DataFrame:
    """The sampled items with their coordinates, and ``extra`` ids outside the sample placed
    beside their nearest sampled items (``placed`` tells them apart)."""
    dims = projection.coords.shape[1]
    frame = every.iloc[rows].reset_index(drop=True)
    frame[list("xyz"[:dims])] = projection.coords
    frame["placed"] = False
    position = pd.Index(every["id"]).get_indexer(extra)
    outside = np.setdiff1d(position[position >= 0], rows)
    if len(outside):
        more = every.iloc[outside].reset_index(drop=True)
        more[list("xyz"[:dims])] = explore.place(vectors, rows, projection, outside)
        more["placed"] = True
        frame = pd.concat([frame, more], ignore_index=True)
    return frame


def coloured(
    frame: pd.DataFrame, view: View, colour: str, rows: np.ndarray, clusters_k: int, build: str
) -> pd.DataFrame:
    """``frame`` with the colour column ready (clusters, or a short list of genres) and the
    hover texts."""
    texts = hovers(view.space, None if colour == "cluster" else colour, build)
    frame["hover"] = texts.reindex(frame["id"]).to_numpy()
    if colour == "cluster":
        found = clusters(view.space, rows, clusters_k, view.seed, build)
        outside = ["(placed)"] * (len(frame) - len(rows))
        frame["cluster"] = [f"cluster {c}" for c in found] + outside
        frame["hover"] = frame["hover"] + "\n" + frame["cluster"]
    elif colour == "genre":
        frame["genre"] = explore.top_categories(frame["genre"], 15).to_numpy()
    return frame


def colour_options(frame: pd.DataFrame) -> dict[str, str]:
    """Column → label of what the points can be coloured by, meaning first."""
    numbers = ["popularity", "year", "listeners", *AUDIO_FEATURES]
    return CATEGORIES | {c: c for c in numbers if c in frame and frame[c].notna().any()}


# ---- the selection ------------------------------------------------------------------------------


def selection(known: pd.Index) -> list[str]:
    """The selected ids (by a click, a box, a lasso or a search; the URL's ``sel`` at first)."""
    if SELECTION not in st.session_state:
        st.session_state[SELECTION] = st.query_params.get_all("sel")[:MAX_SELECTION]
    chosen = [i for i in st.session_state[SELECTION] if i in known]
    if len(chosen) <= 3:
        st.query_params["sel"] = chosen
    elif "sel" in st.query_params:
        del st.query_params["sel"]  # a box or lasso is too long for a link
    return chosen


def select(ids: list[str]) -> None:
    """Make ``ids`` the selection."""
    st.session_state[SELECTION] = list(dict.fromkeys(ids))[:MAX_SELECTION]


def picked_on_plot(chart_key: str) -> None:
    """``on_select`` callback of the plot: the clicked, boxed or lassoed points become the
    selection (double-click empties it)."""
    event = st.session_state.get(chart_key)
    points = event.selection.points if event is not None else []
    ids = []
    for point in points:
        data = point.get("customdata")
        ids.append(data[0] if isinstance(data, list) else data)
    select([str(i) for i in ids if i])


def added() -> list[str]:
    """Ids found by name that are drawn even though they are not in the sample."""
    return st.session_state.setdefault(ADDED, [])


def found(key: str) -> None:
    """``on_change`` of the search's matches: select the pick and keep it on the plot."""
    item = st.session_state.get(key)
    if item is None:
        return
    select([item])
    if item not in added():
        added().append(item)


# ---- the panel beside the plot --------------------------------------------------------------------


def panel(chosen: list[str], near: pd.DataFrame, every: pd.DataFrame, frame: pd.DataFrame) -> None:
    """The selection (one item's details, or a box's summary and members) and its neighbours in
    the original space, with the neighbour table as CSV."""
    if not chosen:
        st.caption(
            "Click a point (in 2D), draw a box or lasso (toolbar), or find an item by name: its "
            "nearest items in the original space are listed here and drawn on the plot."
        )
        return
    placed = set(frame.loc[frame["placed"], "id"])
    if len(chosen) == 1:
        item = every[every["id"] == chosen[0]]
        st.markdown(f"**{escape(explore.titles(item).iloc[0])}**")
        where = "placed beside its neighbours (not in the sample)" if chosen[0] in placed else ""
        genres = item["genres"].iloc[0] or item["genre"].iloc[0]
        st.caption(escape(" · ".join(p for p in (genres, where) if p)))
        kind = "track" if "artist" in every else "artist"
        st.page_link(routing.SIMILAR, label="More like this (Similar)", icon="🔎",
                     query_params={"profile": state.profile(), kind: chosen[0]})  # fmt: skip
    else:
        members = every[every["id"].isin(chosen)]
        st.markdown(f"**Selection:** {escape(explore.summary(members))}")
        with st.expander(f"The {len(members):,} selected"):
            st.dataframe(_named(members), hide_index=True, height=240)
    if near.empty:
        return
    score = near.columns[2]
    full = near.merge(every, on="id", how="left")
    table = pd.DataFrame({"#": near["rank"].to_numpy(), score: near[score].to_numpy()})
    table["name"] = explore.titles(full).to_numpy()
    st.markdown("**Nearest in the original space**")
    st.dataframe(
        table,
        hide_index=True,
        column_config={
            "#": st.column_config.NumberColumn(width=30),
            score: st.column_config.NumberColumn(score.split("_")[0], format="%.3f", width=64),
        },
    )
    wanted = ["rank", "id", "name", "artist", "family", "genres", score]
    csv = full[[c for c in wanted if c in full]].to_csv(index=False)
    st.download_button("Neighbours (CSV)", csv, "neighbours.csv", "text/csv", on_click="ignore")


def _named(frame: pd.DataFrame) -> pd.DataFrame:
    """Name (with artist for tracks) and genre family of items, for the panel's tables."""
    out = pd.DataFrame({"name": explore.titles(frame).to_numpy()})
    out["family"] = frame["family"].to_numpy()
    return out
