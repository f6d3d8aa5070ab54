"""Weekly raw snapshots: one folder per source and ISO week; later weeks never touch earlier ones."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from tests.test_catalog import artist
from tunescout import catalog
from tunescout.catalog import snapshots as raw


def bundle(name: str = "Artist") -> raw.RawBundle:
    artists = catalog.validate("artists", pd.DataFrame([artist(name=name)]))
    return raw.RawBundle("test", artists=artists, params={"n": 1}, notes=["hello"])


def test_week_label_uses_iso_weeks() -> None:
    assert raw.week_label(dt.datetime(2021, 1, 3, tzinfo=dt.UTC)) == "2020-W53"
    assert raw.week_label(dt.datetime(2026, 11, 22, tzinfo=dt.UTC)) == "2026-W47"


def test_later_weeks_add_and_the_latest_is_read(tmp_path) -> None:
    week1 = raw.write_snapshot(tmp_path, bundle("Old"), dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
    week2 = raw.write_snapshot(tmp_path, bundle("New"), dt.datetime(2026, 1, 12, tzinfo=dt.UTC))
    assert (week1.name, week2.name) == ("2026-W02", "2026-W03")
    assert raw.snapshots(tmp_path, "test") == [week1, week2]
    assert raw.latest_sources(tmp_path) == {"test": week2}
    assert raw.read_snapshot(week1).artists["name"].tolist() == ["Old"]
    back = raw.read_snapshot(week2)
    assert back.artists["name"].tolist() == ["New"]
    assert back.params == {"n": 1} and back.notes == ["hello"]


def test_an_unfinished_snapshot_is_ignored(tmp_path) -> None:
    done = raw.write_snapshot(tmp_path, bundle(), dt.datetime(2026, 1, 5, tzinfo=dt.UTC))
    (tmp_path / "test" / "2026-W09.partial").mkdir()
    (tmp_path / "test" / "2026-W10").mkdir()  # no manifest: interrupted
    assert raw.latest_sources(tmp_path) == {"test": done}
