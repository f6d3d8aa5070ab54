"""The pages' one-click logic without Streamlit running: the marks a result table starts from, the
clicks an editor's state holds, the queue after a move, the survey's cards after "Show me other
artists", and the radar on the dark theme."""

from __future__ import annotations

import pandas as pd

from tunescout.ui import actions, plots, survey

TRACKS = pd.DataFrame({"track_id": ["t1", "t2", "t3"], "artist_id": ["a", "a", "b"]})


def test_track_marks_show_what_is_saved_for_each_row():
    marks = actions.marks_of(TRACKS, "track", {"t1": "like", "t3": "skip"}, ["t2"], {})
    assert marks.to_dict("list") == {
        "like": [True, False, False],
        "skip": [False, False, True],
        "queue": [False, True, False],
        "more": [False, False, False],
    }


def test_artist_marks_read_stars_as_like_or_not_for_me():
    artists = pd.DataFrame({"artist_id": ["a", "b", "c", "d"]})
    marks = actions.marks_of(artists, "artist", {}, (), {"a": 5, "b": 2, "c": 3})
    assert marks["like"].tolist() == [True, False, False, False]
    assert marks["skip"].tolist() == [False, True, False, False]
    assert list(marks.columns) == ["like", "skip", "more"]


def test_an_editors_state_becomes_the_clicks_that_changed_a_mark():
    before = actions.marks_of(TRACKS, "track", {"t1": "like"}, [], {})
    state = {
        "edited_rows": {
            2: {"queue": True},
            0: {"like": True, "name": "x"},  # unchanged, and not a mark
            "1": {"skip": True},  # row numbers may come as text
            9: {"like": True},  # not a row of this table
        }
    }
    assert actions.edits_of(state, before) == [(1, "skip", True), (2, "queue", True)]
    assert actions.edits_of(None, before) == [] == actions.edits_of({"edited_rows": {}}, before)
    after = before.copy()
    after.loc[0, "like"], after.loc[2, "more"] = False, True
    assert actions.changes(before, after) == [(0, "like", False), (2, "more", True)]


def test_the_queue_moves_one_place_or_loses_one_track():
    queue = ["t1", "t2", "t3"]
    assert actions.queue_after(queue, [(2, "up", True)]) == ["t1", "t3", "t2"]
    assert actions.queue_after(queue, [(0, "down", True)]) == ["t2", "t1", "t3"]
    assert actions.queue_after(queue, [(1, "remove", True)]) == ["t1", "t3"]
    assert actions.queue_after(queue, [(0, "up", True)]) == queue  # already first
    assert actions.queue_after(queue, [(2, "down", True)]) == queue  # already last
    assert actions.queue_after(queue, [(1, "remove", False), (5, "up", True)]) == queue
    assert queue == ["t1", "t2", "t3"]  # the input is not changed


def test_other_artists_replace_only_the_unrated_cards():
    new = iter(["n1", "n2", "n3", "n4"])

    def fresh(n: int) -> list[str]:
        return [next(new) for _ in range(n)]

    cards = ["a", "b", "c", "d"]
    assert survey.refreshed(cards, {"a", "c"}, fresh, 4) == ["a", "n1", "c", "n2"]
    assert survey.refreshed(["a", "c"], {"a", "c"}, fresh, 2) == ["n3", "n4"]  # all rated
    assert survey.refreshed(["a", "b"], {"a"}, lambda n: [], 2) == ["a"]  # none left to show


def test_progress_counts_every_saved_rating():
    assert survey.progress_text(7, "ana") == (0.7, "7 of 10 rated · saved as “ana”")
    fraction, text = survey.progress_text(12, "ana")
    assert fraction == 1.0 and text.startswith("12 rated — enough")


def test_the_radar_is_drawn_on_a_transparent_background_for_the_dark_theme():
    fig = plots.feature_radar({"energy": 0.9}, {"energy": 0.5}, features=["energy"])
    assert fig.layout.paper_bgcolor == "rgba(0,0,0,0)"
    assert fig.layout.polar.bgcolor == "rgba(0,0,0,0)"


def test_clicks_are_the_cells_changed_since_the_last_state_taken():
    base = actions.marks_of(TRACKS, "track", {"t1": "like"}, [], {})
    first = {"edited_rows": {0: {"skip": True}}}
    assert actions.clicks(first, None, base) == [(0, "skip", True)]
    second = {"edited_rows": {0: {"skip": True}, 2: {"queue": True}}}  # a quick second click
    assert actions.clicks(second, first, base) == [(2, "queue", True)]
    third = {"edited_rows": {0: {"skip": True, "like": False}, 2: {"queue": True}}}
    assert actions.clicks(third, second, base) == [(0, "like", False)]
    back = {"edited_rows": {0: {"skip": True}, 2: {"queue": True}}}  # a cell back to its base
    assert actions.clicks(back, third, base) == [(0, "like", True)]
    assert actions.clicks(back, back, base) == []
    shown = actions.displayed(base, third)
    assert shown["like"].tolist() == [False, False, False]
    assert shown["skip"].tolist() == [True, False, False]
    assert shown["queue"].tolist() == [False, False, True]
