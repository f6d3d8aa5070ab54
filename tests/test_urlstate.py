"""Page settings read from and written to the URL, checked against what their widgets accept."""

from __future__ import annotations

from tunescout.ui.urlstate import Link, encode


def test_values_are_read_with_their_types_and_bounds():
    link = Link(
        {
            "k": ["20"], "energy": ["0.2-0.9"], "years": ["1990-1999"], "genre": ["rock", "jazz"],
            "auto": ["0"], "band": ["Hits"], "q": ["late night drive"],
        }
    )  # fmt: skip
    assert link.number("k", 10, 5, 50, whole=True) == 20
    assert link.span("energy", (0.0, 1.0), 0.0, 1.0) == (0.2, 0.9)
    assert link.span("years", (1950, 2020), 1950, 2020, whole=True) == (1990, 1999)
    assert link.many("genre", ["rock", "jazz", "pop"]) == ["rock", "jazz"]
    assert link.flag("auto", True) is False
    assert link.choice("band", ["Deep cuts", "Hits"], "Anything") == "Hits"
    assert link.text("q") == "late night drive"
    assert link.number("missing", 7, 0, 9) == 7
    assert link.problems == []


def test_values_a_widget_cannot_take_fall_back_and_are_named_once_each():
    link = Link(
        {
            "k": ["500"], "energy": ["0.9-0.2"], "pop": ["x"], "genre": ["rock", "<script>"],
            "auto": ["maybe"], "band": ["Loud"], "seed": ["1.5"],
        }
    )  # fmt: skip
    assert link.number("k", 10, 5, 50, whole=True) == 10
    assert link.span("energy", (0.0, 1.0), 0.0, 1.0) == (0.0, 1.0)
    assert link.span("pop", (0, 100), 0, 100, whole=True) == (0, 100)
    assert link.many("genre", ["rock"]) == ["rock"]
    assert link.flag("auto", True) is True
    assert link.choice("band", ["Hits"], "Hits") == "Hits"
    assert link.number("seed", 0, 0, 9, whole=True) == 0
    assert len(link.problems) == 7
    assert link.problems[0] == "k='500' is not a whole number from 5 to 50"
    assert all("\n" not in p for p in link.problems)


def test_long_values_are_cut_before_anything_reads_them():
    link = Link({"q": ["x" * 10_000]})
    assert len(link.text("q")) == 300


def test_encode_keeps_only_what_differs_from_the_defaults():
    defaults = {"k": 10, "energy": (0.0, 1.0), "genre": [], "auto": True, "div": 0.05}
    values = {"k": 20, "energy": (0.2, 0.9), "genre": ["rock", "jazz"], "auto": True, "div": 0.5}
    assert encode(values, defaults) == {
        "k": "20", "energy": "0.2-0.9", "genre": ["rock", "jazz"], "div": "0.5",
    }  # fmt: skip
    assert encode(defaults, defaults) == {}
    assert encode({"auto": False, "years": (1990, 1999)}, {"auto": True}) == {
        "auto": "0", "years": "1990-1999",
    }  # fmt: skip
