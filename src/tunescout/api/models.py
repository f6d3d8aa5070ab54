"""Request and response models (pydantic), which the OpenAPI docs at ``/docs`` show.

Requests are typed strictly (``"5"`` is not a number, ``5.0`` is not a count) and refuse unknown
fields; ranges and meanings (k from 1 to 500, 1–5 stars, known genres and models, text lengths)
are checked by the engine, whose one-line messages come back as they are.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, StrictFloat, StrictInt, StrictStr

from tunescout.serving.checks import MAX_K, MAX_TEXT

Number = StrictInt | StrictFloat
Pair = tuple[Number, Number]
MAX_IDS = 500  # ids in one session, exclusion list or lookup
MAX_RATINGS = 2000  # ratings in one request
K_DOC = f"how many results, 1 to {MAX_K}"


def k_field() -> object:
    """``k`` (or the seeds' ``top_k``)."""
    return Field(10, description=K_DOC, validation_alias=AliasChoices("k", "top_k"))


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# ---- requests ----------------------------------------------------------------------------------


class FiltersIn(Strict):
    """What results must satisfy (:class:`tunescout.serving.filters.Filters`)."""

    genres: list[StrictStr] | StrictStr = Field(
        default_factory=list, max_length=100, description="any of these genres (case-insensitive)"
    )
    features: dict[StrictStr, Pair] = Field(
        default_factory=dict,
        max_length=20,
        description='inclusive ranges of audio features, e.g. {"energy": [0.7, 1.0]}',
    )
    popularity: Pair | None = Field(None, description="inclusive 0–100 range")
    years: Pair | None = Field(None, description="inclusive release-year range (tracks)")
    exclude: list[StrictStr] = Field(
        default_factory=list, max_length=MAX_IDS, description="ids never to return"
    )

    def for_engine(self) -> dict:
        """Only the fields that were given, as the engine's filter dict."""
        return self.model_dump(exclude_unset=True)


class SessionIn(Strict):
    """A listening session, oldest first; what to play next."""

    track_sequence: list[StrictStr] = Field(
        max_length=MAX_IDS,
        validation_alias=AliasChoices("track_sequence", "track_ids"),
        description="track ids played, oldest first",
    )
    k: StrictInt = k_field()
    filters: FiltersIn | None = None


class OptionsIn(Strict):
    """How to recommend for a set of ratings."""

    kind: Literal["artists", "tracks"] = Field("artists", description="recommend artists or tracks")
    k: StrictInt = k_field()
    mood: StrictStr | None = Field(
        None, description=f"text that steers the taste, at most {MAX_TEXT} characters"
    )
    weights: dict[StrictStr, Number] | None = Field(
        None,
        max_length=20,
        description="model weights (audio, als, semantic, coplay, tags, popularity)",
    )
    fusion: StrictStr = Field("weighted", description="'weighted' (z-scores) or 'rrf'")
    diversity: Number | None = Field(None, description="0–1, relevance against variety (MMR)")
    familiarity: StrictStr | Pair | None = Field(
        None, description="'deep', 'lesser', 'any', 'well', 'hits' or a (low, high) reach band"
    )
    filters: FiltersIn | None = None


class RatingsIn(OptionsIn):
    """Star ratings of artists and how to recommend for them."""

    ratings: dict[StrictStr, Number] = Field(
        max_length=MAX_RATINGS, description="artist id to 1–5 stars (1–2: not for me)"
    )


class MoodIn(Strict):
    """A mood, moment or request in words."""

    text: StrictStr = Field(
        validation_alias=AliasChoices("text", "q", "query"),
        description=f"e.g. 'rainy heartbreak' or '90s rock like Radiohead but happier' "
        f"(at most {MAX_TEXT} characters)",
    )
    k: StrictInt = k_field()
    filters: FiltersIn | None = None


class RatingIn(Strict):
    stars: Number = Field(description="1–5")


class FeedbackIn(Strict):
    """A like or a skip of any track or artist, saved as the app saves it."""

    profile: StrictStr = Field(description="whose ratings (the app's profile name)")
    item_id: StrictStr = Field(
        validation_alias=AliasChoices("item_id", "track_id", "artist_id"),
        description="a track id (its artist is rated) or an artist id",
    )
    action: Literal["like", "skip"] = Field(
        description="a track: like (its artist 5 stars) or skip (not this track); "
        "an artist: like (5 stars) or skip (2 stars)"
    )
    kind: Literal["track", "artist"] | None = Field(
        None, description="what item_id is (found out from the catalog when left out)"
    )


# ---- responses ---------------------------------------------------------------------------------


class Item(BaseModel):
    """Fields every answer's items share."""

    model_config = ConfigDict(extra="allow")
    name: str | None = None
    genres: list[str] = []
    popularity: float | None = None
    score: float | None = None
    reason: str | None = Field(None, description="why it was chosen, with evidence")
    model: str | None = Field(None, description="the model that found it (similar)")
    familiarity: float | None = Field(None, description="reach percentile 0–100")
    scores: dict[str, float | None] | None = Field(
        None, description="each model's normalised score (artist recommendations)"
    )


class TrackItem(Item):
    track_id: str
    artist_id: str
    artist_name: str | None = None
    album: str | None = None
    release_year: int | None = None
    features: dict[str, float | None] = {}


class ArtistItem(Item):
    artist_id: str
    listeners: float | None = None
    track_count: int | None = None


class SimilarOut(BaseModel):
    build_id: str | None
    kind: Literal["tracks", "artists"]
    model: str
    k: int
    seed: TrackItem | ArtistItem
    items: list[TrackItem] | list[ArtistItem]


class RecommendationsOut(BaseModel):
    build_id: str | None
    source: Literal["session", "ratings", "profile", "listener"]
    kind: Literal["tracks", "artists"]
    k: int
    fusion: str
    weights: dict[str, float] = Field(
        description="the weight of each signal used (normalised); for tracks from ratings, the "
        "artist stage's, with the track stage's under track_weights"
    )
    track_weights: dict[str, float] | None = None
    diversity: float | None = Field(None, description="null: the engine's default")
    mood: str | None = None
    ratings_used: int | None = Field(None, description="ratings the list was made from")
    items: list[TrackItem] | list[ArtistItem]


class MoodOut(BaseModel):
    build_id: str | None
    text: str
    understood: str | None = Field(None, description="how the request was read")
    notes: list[str] = Field([], description="what could not be met, e.g. too few tracks")
    items: list[TrackItem]


class RatingOut(BaseModel):
    profile: str
    artist_id: str
    artist_name: str | None = None
    stars: int
    updated_at: str | None = None


class RatingsOut(BaseModel):
    profile: str
    ratings: list[RatingOut]


class FeedbackOut(RatingOut):
    stars: int | None = Field(None, description="the artist's saved rating, if any")
    action: Literal["like", "skip"]
    item_id: str
    kind: Literal["track", "artist"]
    effective_stars: int | None = Field(
        None, description="what recommendations start from for the artist (a weak no included)"
    )


class ImportOut(BaseModel):
    profile: str
    imported: int
    replaced: bool


class ItemsOut(BaseModel):
    build_id: str | None
    items: list[TrackItem] | list[ArtistItem]


class HealthOut(BaseModel):
    status: Literal["ok", "loading", "building", "unavailable"]
    build_id: str | None = None
    synthetic: bool | None = None
    sources: list[str] = []
    counts: dict[str, int] = {}
    indexes: dict[str, bool] = Field({}, description="each model and whether it is loaded")
    models: list[str] = Field([], description="what similar and weights accept (with hybrid)")
    loaded_at: float | None = None
    load_seconds: float | None = None
    loading: bool = False
    build_job: dict | None = Field(None, description="the data dir's running or last build")
    message: str | None = None


class ErrorOut(BaseModel):
    error: str = Field(description="one line saying what is wrong and what to do")
    kind: str
    status: int
    problems: list[str] | None = None
