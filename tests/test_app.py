"""The Streamlit pages, driven by AppTest over a small synthetic data directory built once per session."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import SYNTHETIC_TRACKS
from tunescout.domain.features import UNIT_FEATURES
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


def test_like_skip_and_play_next_from_search(data_env: Path) -> None:
    at = start("actions-user", "pages/mood_search.py")
    first = search(at, "angry workout").iloc[0]
    at.button(key="mood_detail_queue").click().run()
    at.button(key="mood_detail_like").click().run()
    saved = store(data_env)
    artist = saved.table("actions-user")["artist_id"].tolist()
    assert saved.ratings("actions-user") == {artist[0]: 5}
    assert len(saved.queue("actions-user")) == 1
    at.button(key="mood_detail_skip").click().run()
    assert saved.ratings("actions-user") == {artist[0]: 2}
    assert first["name"] in at.dataframe[0].value["name"].tolist()

    at.button(key="mood_detail_more").click().run()
    assert at.query_params["track"] == saved.queue("actions-user")[0]
    assert at.title[0].value == "🔎 Similar" and len(at.dataframe) == len(MODELS) + 1


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
    assert "4 ratings saved as “returning”" in progress_text(at)
    assert len(at.dataframe[0].value) == 4
    at.switch_page("pages/for_you.py").run()
    assert len(at.dataframe[0].value) == 10


def test_for_you_without_ratings_says_what_to_do(data_env: Path) -> None:
    at = start("nobody", "pages/for_you.py")
    assert "Rate a few artists first" in at.info[0].value
    assert "Your queue is empty" in at.info[1].value


def test_for_you_weights_familiarity_and_queue(data_env: Path) -> None:
    ids = pd.read_parquet(data_env / "catalog" / "tracks.parquet")["track_id"][:2].tolist()
    saved = store(data_env)
    saved.import_csv(
        "tuner",
        "artist_id,stars\n"
        + "\n".join(
            f"{a},4"
            for a in pd.read_parquet(data_env / "catalog" / "artists.parquet")["artist_id"][10:15]
        ),
    )
    for track in ids:
        saved.enqueue("tuner", track)
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


def test_similar_shows_every_model(data_env: Path) -> None:
    track = pd.read_parquet(data_env / "catalog" / "tracks.parquet")["track_id"][5]
    at = start("neighbour", "pages/similar.py", track=track)
    assert not at.error
    assert len(at.dataframe) == len(MODELS) + 1  # every model and the hybrid
    assert all(len(d.value) == 10 for d in at.dataframe)
    assert len(at.get("plotly_chart")) == 1
    at.segmented_control(key="sim_kind").set_value("artist").run()
    assert "Search artists by name above" in at.info[0].value


def test_bad_profile_name_falls_back(data_env: Path) -> None:
    at = start("../../etc")
    assert "cannot contain '/'" in at.sidebar.error[0].value
    assert at.query_params["profile"] == "guest"
    # AppTest reruns only the page script after the first run (the pages/ folder wins over
    # st.navigation there), so the sidebar field itself is exercised by the browser test.
    at.switch_page("pages/rate_artists.py").run()
    assert "ratings saved as “guest”" in progress_text(at)


def test_mood_search_shows_how_it_read_the_request(data_env: Path) -> None:
    at = start("intent-user", "pages/mood_search.py")
    search(at, "happy songs from the 90s, no rap")
    understood = [m.value for m in at.markdown if m.value.startswith("**Understood as:**")]
    assert understood and "1990s" in understood[0] and "no rap" in understood[0]
    table = at.dataframe[0].value
    assert len(table) and table["year"].between(1990, 1999).all()
