"""The explorer's figure: what each trace holds, checked on literal points."""

from __future__ import annotations

import pandas as pd
import pytest

from tunescout.research.explore import NO_GENRE, OTHER
from tunescout.ui import scatter


@pytest.fixture
def points() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": ["a", "b", "c", "d", "e", "p"],
            "family": ["rock", "rock", "rock", "jazz", NO_GENRE, "jazz"],
            "energy": [0.1, 0.2, None, 0.4, 0.5, 0.6],
            "x": [0.0, 1.0, 2.0, 3.0, 4.0, 9.0],
            "y": [0.0, -1.0, -2.0, -3.0, -4.0, 9.0],
            "hover": ["<b>Bold</b>\nrock", "b", "c", "d", "e", "p"],
            "placed": [False] * 5 + [True],
        }
    )


def by_name(fig) -> dict:
    return {t.name.split(" (")[0] if t.name else None: t for t in fig.data}


def test_categories_largest_first_with_counts_ids_and_escaped_hover(points):
    fig = scatter.explorer_figure(points, "family")
    assert [t.name for t in fig.data] == [
        "rock (3)", "jazz (1)", f"{NO_GENRE} (1)", "placed (outside the sample)",
    ]  # fmt: skip
    rock = fig.data[0]
    assert rock.type == "scattergl" and list(rock.customdata) == ["a", "b", "c"]
    assert rock.hovertext[0] == "&lt;b&gt;Bold&lt;/b&gt;<br>rock"
    assert fig.data[2].marker.color == scatter.GREYS[NO_GENRE] != scatter.GREYS[OTHER]
    assert fig.data[0].marker.color not in scatter.GREYS.values()
    assert list(fig.data[3].customdata) == ["p"] and fig.data[3].marker.symbol == "circle-open"


def test_numbers_on_a_colour_scale_and_missing_values_in_grey(points):
    fig = by_name(scatter.explorer_figure(points, "energy"))
    assert list(fig["energy"].marker.color) == [0.1, 0.2, 0.4, 0.5]
    assert list(fig["no value"].customdata) == ["c"]


def test_one_selected_point_gets_a_diamond_and_lines_to_its_plotted_neighbours(points):
    fig = scatter.explorer_figure(points, "family", ["d"], ["b", "p", "zz"])
    traces = by_name(fig)
    assert list(traces["selected"].x) == [3.0] and traces["selected"].marker.symbol == "diamond"
    assert list(traces["neighbours"].customdata) == ["b", "p"]  # "zz" is not plotted
    lines = next(t for t in fig.data if t.mode == "lines")
    assert list(lines.x) == [3.0, 1.0, None, 3.0, 9.0, None]
    assert list(lines.y) == [-3.0, -1.0, None, -3.0, 9.0, None]


def test_a_box_selection_is_ringed_without_lines(points):
    fig = scatter.explorer_figure(points, "family", ["a", "b", "c"], ["d"])
    traces = by_name(fig)
    assert list(traces["selected"].customdata) == ["a", "b", "c"]
    assert traces["selected"].marker.symbol == "circle"
    assert not [t for t in fig.data if t.mode == "lines"]


def test_isolate_draws_only_the_selection_and_its_neighbours_with_names(points):
    fig = scatter.explorer_figure(points, "family", ["a"], ["b", "p"], isolate=True)
    drawn = {i for t in fig.data if t.customdata is not None for i in t.customdata}
    assert drawn == {"a", "b", "p"}
    names = next(t for t in fig.data if t.mode == "text")
    assert list(names.text) == ["&lt;b&gt;Bold&lt;/b&gt;", "b", "p"]
    low, high = fig.layout.xaxis.range
    assert low < 0.0 and high > 9.0  # room around the outermost names


def test_3d_uses_3d_traces(points):
    fig = scatter.explorer_figure(points.assign(z=range(6)), "family", ["a"], ["b"])
    assert {t.type for t in fig.data} == {"scatter3d"}
    assert list(by_name(fig)["selected"].z) == [0]
