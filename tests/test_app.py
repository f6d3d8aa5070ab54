"""The Streamlit pages, driven by AppTest over a small synthetic data directory built once per session."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import SYNTHETIC_TRACKS
from tunescout.domain.features import UNIT_FEATURES
from tunescout.domain.songs import song_keys
from tunescout.serving.ratings import RatingsStore
from tunescout.vocabulary import MODELS

APP = Path(__file__).resolve().parents[1] / "app.py"
FIRST_RUN_TIMEOUT = 300  # the first run in a process loads the indexes and the sentence encoder


@pytest.fixture
def data_env(synthetic_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("TUNESCOUT_DATA_DIR", str(synthetic_dir))
    return synthetic_dir


def start(profile: str, page: str | None = None, **params: str) -> AppTest:
    """Run the app once as ``profile`` and, if given, switch to ``page`` and run it."""
    at = AppTest.from_file(APP, default_timeout=FIRST_RUN_TIMEOUT)
    at.query_params.update(profile=profile, **params)
    at.run()
    if page:
        at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def store(data_dir: Path) -> RatingsStore:
    return RatingsStore(data_dir / "ratings.sqlite")


def progress_text(at: AppTest) -> str:
    return at.get("progress")[0].proto.text


def test_home_says_synthetic_and_counts(data_env: Path) -> None:
    at = start("home-user")
    assert "SYNTHETIC" in at.warning[0].value
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["tracks"] == f"{SYNTHETIC_TRACKS:,}"
    assert at.query_params["profile"] == "home-user"


def test_home_without_data_offers_the_build(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TUNESCOUT_DATA_DIR", str(tmp_path / "empty"))
    at = start("x")
    assert "No data to search yet" in at.warning[0].value
    assert "scripts/collect.py" in at.code[0].value and "scripts/build.py" in at.code[0].value
    assert at.button[-1].label == "Build the data now"


def test_home_search_box_opens_mood_search(data_env: Path) -> None:
    at = start("home-search")
    at.text_input[0].input("late night drive")
    at.form_submit_button[0].click().run()
    assert at.query_params["q"] == "late night drive"
    assert at.text_input(key="mood_text").value == "late night drive"
    assert len(at.dataframe[0].value) == 10


def search(at: AppTest, text: str) -> pd.DataFrame:
    at.text_input(key="mood_text").input(text)
    at.form_submit_button[0].click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    return at.dataframe[0].value


def test_mood_search_returns_explained_tracks(data_env: Path) -> None:
    at = start("mood-user", "pages/mood_search.py")
    assert "Type what you want to hear" in at.info[0].value
    found = search(at, "songs for a rainy heartbreak")
    assert len(found) == 10 and found["why"].str.len().min() > 0
    assert all(len(sound) == len(UNIT_FEATURES) for sound in found["sound"])
    assert len(at.get("plotly_chart")) == 1  # the radar of the first result


def test_mood_search_energy_filter(data_env: Path) -> None:
    at = start("filter-user", "pages/mood_search.py")
    at.slider(key="mood_energy").set_value((0.7, 1.0))
    found = search(at, "music to focus on coding")
    energy = UNIT_FEATURES.index("energy")
    assert len(found) == 10
    assert min(s[energy] for s in found["sound"]) >= 0.7


def editor(at: AppTest, table: str):
    return next(d for d in at.data_editor if d.key and d.key.startswith(f"{table}_"))


def edit_state(at: AppTest, key: str) -> dict:
    try:
        return at.session_state[key]
    except KeyError:
        return {"edited_rows": {}, "added_rows": [], "deleted_rows": []}


def tick(at: AppTest, table: str, row: int, mark: str, value: bool = True) -> AppTest:
    """One click on a result table's box, as the browser sends it: the editor's edit state
    with this cell added to the cells clicked before."""
    key = editor(at, table).key
    state = edit_state(at, key)
    rows = {int(r): dict(c) for r, c in state["edited_rows"].items()}
    rows.setdefault(row, {})[mark] = value
    at.session_state[key] = {"edited_rows": rows, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def marks(at: AppTest, table: str) -> pd.DataFrame:
    """A result table as it shows: its data with the clicked cells."""
    shown = editor(at, table)
    frame = shown.value
    for row, cells in edit_state(at, shown.key)["edited_rows"].items():
        for mark, value in cells.items():
            frame.loc[frame.index[int(row)], mark] = value
    return frame


def test_one_click_like_skip_and_play_next_on_a_result_row(data_env: Path) -> None:
    at = start("actions-user", "pages/mood_search.py")
    found = search(at, "angry workout")
    assert list(found.columns[:4]) == ["like", "skip", "queue", "more"]
    assert not found[["like", "skip", "queue", "more"]].to_numpy().any()
    saved = store(data_env)

    tick(at, "mood", 0, "queue")
    [queued] = saved.queue("actions-user")
    tick(at, "mood", 0, "like")  # one click each, no row to select first
    artist = saved.table("actions-user")["artist_id"].tolist()
    assert saved.ratings("actions-user") == {artist[0]: 5}  # a liked track likes its artist
    assert saved.track_feedback("actions-user") == {queued: (artist[0], "like")}
    shown = marks(at, "mood").iloc[0]
    assert shown["like"] and shown["queue"] and not shown["skip"]  # drawn from what is saved

    tick(at, "mood", 0, "skip")  # "not this track": the like goes, no 2 stars for the artist
    assert saved.track_feedback("actions-user") == {queued: (artist[0], "skip")}
    assert saved.ratings("actions-user") == saved.effective_ratings("actions-user") == {}
    shown = marks(at, "mood").iloc[0]
    assert shown["skip"] and not shown["like"]
    assert found["name"].iloc[0] == marks(at, "mood")["name"].iloc[0]  # the list stays

    tick(at, "mood", 0, "queue", False)
    assert saved.queue("actions-user") == []
    tick(at, "mood", 0, "more")
    assert at.query_params["track"] == queued
    assert at.title[0].value == "🔎 Similar" and len(at.dataframe) == len(MODELS) + 1


def test_mood_search_keeps_its_filters_in_the_url(data_env: Path) -> None:
    at = start("link-user", "pages/mood_search.py", q="music to focus on coding",
               energy="0.7-1", k="5", tempo="oops")  # fmt: skip
    assert at.slider(key="mood_energy").value == (0.7, 1.0)
    assert at.slider(key="mood_k").value == 5
    assert any("tempo='oops'" in c.value.replace("\\", "") for c in at.caption)  # named
    table = at.dataframe[0].value
    energy = UNIT_FEATURES.index("energy")
    assert len(table) == 5 and min(s[energy] for s in table["sound"]) >= 0.7
    at.slider(key="mood_pop").set_value((20, 80))
    at.slider(key="mood_energy").set_value((0.0, 1.0))
    at.form_submit_button[0].click().run()
    assert at.query_params["pop"] == "20-80" and at.query_params["k"] == "5"
    assert "energy" not in at.query_params  # back at its default: a plain URL


def rate_survey(at: AppTest, stars: list[int]) -> None:
    for widget, value in zip(at.feedback, stars, strict=False):
        widget.set_value(value - 1)
    at.run()


def test_survey_saves_ratings_then_for_you_recommends(data_env: Path) -> None:
    at = start("survey-user", "pages/rate_artists.py")
    assert progress_text(at).startswith("0 of 10 rated")
    rate_survey(at, [5, 4, 5, 1, 2])
    assert progress_text(at).startswith("5 of 10 rated")
    rated = store(data_env).ratings("survey-user")
    assert sorted(rated.values()) == [1, 2, 4, 5, 5]

    at.switch_page("pages/for_you.py").run()
    assert not at.exception and not at.error
    artists, tracks = at.dataframe[0].value, at.dataframe[1].value
    assert len(artists) == 10 and len(tracks) == 10
    assert artists["reason"].str.len().min() > 0
    names = set(
        pd.read_parquet(data_env / "catalog" / "artists.parquet")
        .set_index("artist_id")
        .loc[list(rated), "name"]
    )
    assert not names & set(artists["name"])


def cards(at: AppTest) -> dict[str, int | None]:
    """The survey's cards: artist id → the stars shown (None when unrated), in order."""
    return {
        f.key.rsplit("_", 1)[-1]: None if f.value is None else f.value + 1
        for f in at.feedback
        if f.key.startswith("stars_survey_")
    }


def test_other_artists_and_a_reload_keep_the_surveys_progress(data_env: Path) -> None:
    at = start("refresher", "pages/rate_artists.py")
    rate_survey(at, [4] * 7)
    before = cards(at)
    rated = [a for a, s in before.items() if s]
    assert len(rated) == 7 and progress_text(at).startswith("7 of 10 rated")

    next(b for b in at.button if b.label == "Show me other artists").click().run()
    after = cards(at)
    assert progress_text(at).startswith("7 of 10 rated")  # the bar does not reset
    assert [a for a, s in after.items() if s] == rated  # rated cards stay, in their places
    new = [a for a, s in after.items() if not s]
    assert len(new) == 3 and not set(new) & set(before)  # the unrated ones are new artists
    assert any(link.proto.label == "See your recommendations" for link in at.get("page_link"))

    again = start("refresher", "pages/rate_artists.py")  # a reload: a new session
    assert progress_text(again).startswith("7 of 10 rated")
    shown = cards(again)
    assert len(shown) == 10 and not set(shown) & set(rated)  # the next unrated artists
    assert any(link.proto.label == "See your recommendations" for link in again.get("page_link"))


def test_ratings_persist_in_a_fresh_session(data_env: Path) -> None:
    store(data_env).import_csv(
        "returning",
        "artist_id,stars\n"
        + "\n".join(
            f"{a},5"
            for a in pd.read_parquet(data_env / "catalog" / "artists.parquet")["artist_id"][:4]
        ),
    )
    at = start("returning", "pages/rate_artists.py")
    assert progress_text(at).startswith("4 of 10 rated · saved as “returning”")
    assert len(at.dataframe[0].value) == 4
    at.switch_page("pages/for_you.py").run()
    assert len(at.dataframe[0].value) == 10


def test_for_you_without_ratings_says_what_to_do(data_env: Path) -> None:
    at = start("nobody", "pages/for_you.py")
    assert "Rate a few artists first" in at.info[0].value
    assert "Your queue is empty" in at.info[1].value


def tuner(data_env: Path, profile: str, queued: int = 0) -> list[str]:
    ids = pd.read_parquet(data_env / "catalog" / "tracks.parquet")["track_id"][:queued].tolist()
    saved = store(data_env)
    saved.import_csv(
        profile,
        "artist_id,stars\n"
        + "\n".join(
            f"{a},4"
            for a in pd.read_parquet(data_env / "catalog" / "artists.parquet")["artist_id"][10:15]
        ),
    )
    for track in ids:
        saved.enqueue(profile, track)
    return ids


def test_for_you_weights_familiarity_and_queue(data_env: Path) -> None:
    tuner(data_env, "tuner", queued=2)
    at = start("tuner", "pages/for_you.py")
    at.checkbox[0].uncheck()
    for model in ("als", "audio", "semantic"):
        at.slider(key=f"w_{model}").set_value(0.0)
    at.select_slider[0].set_value("Hits")
    at.form_submit_button[0].click().run()
    artists = at.dataframe[0].value
    assert not at.error and len(artists) > 0
    assert artists["score"].tolist() == sorted(artists["score"], reverse=True)
    assert len(at.dataframe) == 4  # artists, tracks, the queue and what comes next
    assert len(at.dataframe[2].value) == 2 and len(at.dataframe[3].value) == 10
    assert at.query_params["familiarity"] == "hits" and at.query_params["auto"] == "0"
    assert at.query_params["w_als"] == "0" and "w_coplay" not in at.query_params


def test_for_you_reloads_with_its_settings(data_env: Path) -> None:
    tuner(data_env, "reloader")
    link = {"familiarity": "well", "auto": "0", "w_als": "0.5", "diversity": "0.3", "k": "5",
            "mood": "late night drive"}  # fmt: skip
    at = start("reloader", "pages/for_you.py", **link)  # a reload, or a shared link
    assert at.select_slider[0].value == "Well known" and at.checkbox[0].value is False
    assert at.slider(key="w_als").value == 0.5 and at.slider(key="fy_diversity").value == 0.3
    assert at.text_input(key="fy_mood").value == "late night drive"
    assert len(at.dataframe[0].value) == 5 and len(at.dataframe[1].value) == 5
    assert any("late night drive" in c.value for c in at.caption)
    assert {k: at.query_params[k] for k in link} == link  # and the URL still says so


def test_for_you_skips_a_track_and_edits_the_queue(data_env: Path) -> None:
    queued = tuner(data_env, "editor", queued=3)
    at = start("editor", "pages/for_you.py")
    first = marks(at, "fy_tracks")["name"].iloc[0]
    tick(at, "fy_tracks", 0, "skip")  # not this track: For You leaves it out from now on
    assert first not in marks(at, "fy_tracks")["name"].tolist()
    assert len(marks(at, "fy_tracks")) == 10
    saved = store(data_env)
    tick(at, "fy_queue", 2, "up")
    assert saved.queue("editor") == [queued[0], queued[2], queued[1]]
    tick(at, "fy_queue", 0, "down")
    assert saved.queue("editor") == [queued[2], queued[0], queued[1]]
    tick(at, "fy_queue", 1, "remove")
    assert saved.queue("editor") == [queued[2], queued[1]]
    assert len(marks(at, "fy_queue")) == 2
    at.button(key="fy_clear").click().run()
    assert saved.queue("editor") == [] and "Your queue is empty" in at.info[-1].value


def test_for_you_reads_two_skipped_tracks_of_an_artist_as_a_weak_no(data_env: Path) -> None:
    tuner(data_env, "weak-no")
    tracks = pd.read_parquet(data_env / "catalog" / "tracks.parquet")
    rated = set(store(data_env).ratings("weak-no"))
    artist, group = next(
        (a, g) for a, g in tracks.groupby("artist_id") if len(g) >= 2 and a not in rated
    )
    saved = store(data_env)
    saved.mark_track("weak-no", group["track_id"].iloc[0], artist, "skip")
    at = start("weak-no", "pages/for_you.py")
    assert any("From 5 ratings" in c.value for c in at.caption)  # one skip: not this track only
    saved.mark_track("weak-no", group["track_id"].iloc[1], artist, "skip")
    at = start("weak-no", "pages/for_you.py")
    assert any("From 6 ratings" in c.value for c in at.caption)  # two: a weak no for the artist
    assert artist not in saved.ratings("weak-no")  # computed, never saved as a rating


BAD_CSV = b"artist_id,stars\nnobody,5\nalso-nobody,x\n"


def test_import_export_and_delete(data_env: Path) -> None:
    first = pd.read_parquet(data_env / "catalog" / "artists.parquet")["artist_id"][0]
    store(data_env).rate("porter", first, 3)
    at = start("porter", "pages/rate_artists.py")
    at.file_uploader[0].upload("bad.csv", BAD_CSV, "text/csv").run()
    at.button(key="import").click().run()
    assert "nothing imported, 2 bad row(s)" in at.error[0].value.replace("\\", "")  # escaped
    assert store(data_env).ratings("porter") == {first: 3}
    assert at.download_button[0].proto.label == "Export CSV"

    at.file_uploader[0].upload(
        "good.csv", f"artist_id,stars\n{first},5\n".encode(), "text/csv"
    ).run()
    at.button(key="import").click().run()
    assert at.success[0].value == "Imported 1 ratings."
    assert store(data_env).ratings("porter") == {first: 5}

    at.toggle(key="delete_toggle").set_value(True).run()
    at.button[-1].click().run()
    assert store(data_env).ratings("porter") == {}
    assert "No ratings yet" in at.info[0].value


def test_similar_shows_every_model_and_never_the_song_itself(data_env: Path) -> None:
    tracks = pd.read_parquet(data_env / "catalog" / "tracks.parquet")
    songs = pd.Series(song_keys(tracks["artist_name"], tracks["name"]), index=tracks["track_id"])
    twice = songs[songs.duplicated(keep=False)]  # a song with another recording (another id)
    track = twice.index[0]
    at = start("neighbour", "pages/similar.py", track=track)
    assert not at.error
    assert len(at.dataframe) == len(MODELS) + 1  # every model and the hybrid
    assert all(len(d.value) == 10 for d in at.dataframe)
    for table in at.dataframe:
        title, artist = table.value["item"].str.rsplit(" — ", n=1, expand=True).T.to_numpy()
        assert songs[track] not in set(song_keys(artist, title))
    assert len(at.get("plotly_chart")) == 1
    at.segmented_control(key="sim_kind").set_value("artist").run()
    assert "Search artists by name above" in at.info[0].value


def test_bad_profile_name_falls_back(data_env: Path) -> None:
    at = start("../../etc")
    shown = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", at.sidebar.error[0].value)  # as Markdown shows it
    assert "cannot contain '/' or '\\' or be '.' or '..'; using “guest”" in shown
    assert at.query_params["profile"] == "guest"
    # AppTest reruns only the page script after the first run (the pages/ folder wins over
    # st.navigation there), so the sidebar field itself is exercised by the browser test.
    at.switch_page("pages/rate_artists.py").run()
    assert "saved as “guest”" in progress_text(at)


def test_mood_search_shows_how_it_read_the_request(data_env: Path) -> None:
    at = start("intent-user", "pages/mood_search.py")
    search(at, "happy songs from the 90s, no rap")
    understood = [m.value for m in at.markdown if m.value.startswith("**Understood as:**")]
    assert understood and "1990s" in understood[0] and "no rap" in understood[0]
    table = at.dataframe[0].value
    assert len(table) and table["year"].between(1990, 1999).all()
