"""An independent yardstick for mood search: annotated natural-language queries scored on measured audio features.

Each mood query names the audio features it implies and their direction ("songs to cry to": low
valence, low energy). A result list scores the mean catalog percentile of those features over its
tracks (``1 - percentile`` for "low"), so random results score 0.5 and perfect ones approach 1.
Genre queries score the share of results in the named genre. Nothing here depends on any index.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from tunescout.catalog import as_list
from tunescout.domain.features import AUDIO_FEATURES
from tunescout.errors import InputError, UnknownIdError

DIRECTIONS = ("high", "low")
SPLITS = ("dev", "heldout", "heldout2", "heldout3")


@dataclass(frozen=True)
class MoodQuery:
    """One annotated query.

    Attributes:
        text: What a person would type.
        implies: Audio feature to ``"high"`` or ``"low"``; empty for a genre query.
        genre: The catalog genre a genre query asks for (``None`` for a mood query).
        split: ``"dev"`` (used while tuning), ``"heldout"`` (written with the dev set in the first
            session; one of its failures was then studied, so it no longer counts as unseen) or
            ``"heldout2"`` (written in the second session before the intent mapping was changed;
            two of its failures were then studied) or ``"heldout3"`` (written by a second annotator
            who never saw the lexicon or the code, scored once after the last change).
    """

    text: str
    implies: dict[str, str] = field(default_factory=dict)
    genre: str | None = None
    split: str = "dev"

    def __post_init__(self) -> None:
        if bool(self.implies) == (self.genre is not None):
            raise InputError(f"query {self.text!r}: give either implied features or a genre")
        bad = {
            f: d for f, d in self.implies.items() if f not in AUDIO_FEATURES or d not in DIRECTIONS
        }
        if bad:
            raise InputError(f"query {self.text!r}: bad annotations {bad}")
        if self.split not in SPLITS:
            raise InputError(f"query {self.text!r}: split must be one of {SPLITS}")

    @property
    def kind(self) -> str:
        """``"genre"`` or ``"features"``."""
        return "genre" if self.genre is not None else "features"


def _q(text: str, split: str, **implies: str) -> MoodQuery:
    return MoodQuery(text, implies, split=split)


def _g(text: str, genre: str, split: str) -> MoodQuery:
    return MoodQuery(text, genre=genre, split=split)


# The dev and held-out halves were written in full before any tuning; the held-out half was not
# looked at query by query while the lexicon and blend weights were chosen. "heldout2" was added
# in the second session, after a held-out query had failed, before the fix for it.
QUERIES: tuple[MoodQuery, ...] = (
    _q("music for a rainy heartbreak", "dev", valence="low", energy="low"),
    _q("pump me up for the gym", "dev", energy="high", loudness="high"),
    _q("focus music for coding", "dev", instrumentalness="high", speechiness="low"),
    _q("songs to cry to", "dev", valence="low", energy="low"),
    _q("sunday morning coffee", "dev", energy="low", acousticness="high"),
    _q("angry workout", "dev", valence="low", energy="high"),
    _q("chill late-night drive", "dev", energy="low"),
    _q("party anthems", "dev", danceability="high", energy="high"),
    _q("happy upbeat songs", "dev", valence="high", energy="high"),
    _q("sad piano ballads", "dev", valence="low", energy="low", acousticness="high"),
    _q("dance all night", "dev", danceability="high", energy="high"),
    _q("quiet acoustic evening", "dev", acousticness="high", energy="low", loudness="low"),
    _q("instrumental beats to study to", "dev", instrumentalness="high", speechiness="low"),
    _q("feel-good summer vibes", "dev", valence="high", danceability="high"),
    _q("aggressive heavy music", "dev", energy="high", loudness="high", valence="low"),
    _q("relaxing music to fall asleep", "dev", energy="low", loudness="low", acousticness="high"),
    _q("fast running playlist", "dev", tempo="high", energy="high"),
    _q("live concert recordings", "dev", liveness="high"),
    _q("spoken word and rap verses", "dev", speechiness="high"),
    _q("melancholic slow songs", "dev", valence="low", tempo="low"),
    _q("heartbroken and lonely", "heldout", valence="low", energy="low"),
    _q("get hyped before the game", "heldout", energy="high", loudness="high"),
    _q("deep concentration, no vocals", "heldout", instrumentalness="high", speechiness="low"),
    _q("lazy rainy afternoon", "heldout", energy="low", acousticness="high"),
    _q("songs that make me smile", "heldout", valence="high"),
    _q("mellow unplugged tunes", "heldout", acousticness="high", energy="low"),
    _q("high energy cardio", "heldout", energy="high", tempo="high"),
    _q("moody and dark", "heldout", valence="low"),
    _q("wedding dance floor", "heldout", danceability="high", valence="high"),
    _q("calm meditation", "heldout", energy="low", instrumentalness="high", loudness="low"),
    _q("euphoric festival bangers", "heldout", energy="high", danceability="high"),
    _q("gloomy depressing tracks", "heldout", valence="low", energy="low"),
    _q("cheerful road trip singalong", "heldout", valence="high", energy="high"),
    _q(
        "soft background music for dinner",
        "heldout",
        energy="low",
        loudness="low",
        speechiness="low",
    ),
    _q("rage and frustration", "heldout", valence="low", energy="high"),
    _q("groovy songs to move to", "heldout", danceability="high"),
    _q("peaceful acoustic guitar", "heldout", acousticness="high", energy="low"),
    _q("slow romantic love songs", "heldout", tempo="low", energy="low"),
    _q("intense adrenaline rush", "heldout", energy="high", loudness="high"),
    _q("crowd cheering live performance", "heldout", liveness="high"),
    # Written on 2026-11-22, before the intent mapping was changed and without running them.
    _q("songs that put me in a good mood", "heldout2", valence="high"),
    _q("breakup songs for a lonely night", "heldout2", valence="low", energy="low"),
    _q("motivation for a morning run", "heldout2", energy="high", tempo="high"),
    _q("lullabies for a baby", "heldout2", energy="low", loudness="low", acousticness="high"),
    _q("mosh pit energy", "heldout2", energy="high", loudness="high"),
    _q("tracks to vibe to at a house party", "heldout2", danceability="high", energy="high"),
    _q("quiet piano for reading", "heldout2", acousticness="high", energy="low"),
    _q("joyful songs for a sunny day", "heldout2", valence="high"),
    _q("furious metal for venting", "heldout2", energy="high", valence="low", loudness="high"),
    _q("wind down after a long day", "heldout2", energy="low"),
    _q("dreamy ambient soundscapes", "heldout2", energy="low", instrumentalness="high"),
    _q("bouncy songs for the dance floor", "heldout2", danceability="high"),
    _q("tearful goodbye songs", "heldout2", valence="low"),
    _q("blast it loud in the car", "heldout2", loudness="high", energy="high"),
    _q("unplugged coffeehouse set", "heldout2", acousticness="high", energy="low"),
    _q("gentle songs to calm my nerves", "heldout2", energy="low", loudness="low"),
    _q("rapid-fire rap flows", "heldout2", speechiness="high"),
    _q("recorded live in front of a crowd", "heldout2", liveness="high"),
    _q("study session with no singing", "heldout2", instrumentalness="high", speechiness="low"),
    _q("depressing songs about loss", "heldout2", valence="low", energy="low"),
    _q("high tempo sprint workout", "heldout2", tempo="high", energy="high"),
    _q("sleepy sunday evening", "heldout2", energy="low"),
    _q("carefree beach party", "heldout2", valence="high", danceability="high"),
    _g("some classic rock", "rock", "dev"),
    _g("latin party music", "latin", "dev"),
    _g("edm bangers", "edm", "dev"),
    _g("rap songs", "rap", "dev"),
    _g("smooth r&b", "r&b", "dev"),
    _g("pop hits", "pop", "dev"),
    _g("hip hop for the car", "rap", "heldout"),
    _g("reggaeton para bailar", "latin", "heldout"),
    _g("electronic dance tracks", "edm", "heldout"),
    _g("guitar rock anthems", "rock", "heldout"),
    _g("soulful rnb slow jams", "r&b", "heldout"),
    _g("mainstream pop songs", "pop", "heldout"),
    _g("old school hip hop", "rap", "heldout2"),
    _g("latin hits to dance salsa", "latin", "heldout2"),
    _g("house and techno", "edm", "heldout2"),
    _g("hard rock guitar riffs", "rock", "heldout2"),
    _g("slow r&b love songs", "r&b", "heldout2"),
    _g("top 40 pop", "pop", "heldout2"),
    # Written by a second annotator blind to the lexicon and code (2026-11-22).
    _q("chill vibes for a lazy afternoon", "heldout3", energy="low"),
    _q("heartbroken and can't stop thinking about them", "heldout3", valence="low"),
    _q("songs to dance to at a wedding", "heldout3", danceability="high", valence="high"),
    _q("late night study session no lyrics", "heldout3", instrumentalness="high", energy="low"),
    _q("feel good summer road trip", "heldout3", valence="high", energy="high"),
    _q("calm acoustic guitar to unwind", "heldout3", acousticness="high", energy="low"),
    _q("hype tracks before the big game", "heldout3", energy="high"),
    _q("gloomy melancholy tunes for grey days", "heldout3", valence="low"),
    _q("falling asleep after a long day", "heldout3", energy="low", loudness="low"),
    _q("running playlist to keep my pace up", "heldout3", energy="high", tempo="high"),
    _q("live concert recordings with crowd noise", "heldout3", liveness="high"),
    _q("spoken word and poetry vibes", "heldout3", speechiness="high"),
    _q("unplugged stripped back love songs", "heldout3", acousticness="high"),
    _q("pure euphoria and good vibes only", "heldout3", valence="high", energy="high"),
    _q("rage tracks to scream along to", "heldout3", energy="high", loudness="high"),
    _q(
        "soft piano for reading",
        "heldout3",
        instrumentalness="high",
        acousticness="high",
        energy="low",
    ),
    _q("club bangers to get the crowd moving", "heldout3", danceability="high", energy="high"),
    _q("meditation and deep relaxation", "heldout3", energy="low", loudness="low"),
    _q("cheerful songs for cleaning the house", "heldout3", valence="high", energy="high"),
    _q("lonely 3am thoughts", "heldout3", valence="low", energy="low"),
    _q("slow dance with my partner", "heldout3", tempo="low", energy="low"),
    _q("quiet background music for dinner", "heldout3", energy="low", loudness="low"),
    _q("sunny morning wake up songs", "heldout3", valence="high"),
    _q("grooves that make you wanna move", "heldout3", danceability="high"),
    _g("trap bangers from atlanta", "rap", "heldout3"),
    _g("reggaeton perreo hits", "latin", "heldout3"),
    _g("90s grunge and alt guitar rock", "rock", "heldout3"),
    _g("smooth neo soul slow jams", "r&b", "heldout3"),
    _g("festival drops and big room house", "edm", "heldout3"),
    _g("catchy top 40 radio pop", "pop", "heldout3"),
)


def catalog_percentiles(tracks: pd.DataFrame) -> pd.DataFrame:
    """Each track's percentile in the catalog per audio feature, indexed by ``track_id``.

    Percentiles are mid-ranks, ``(average rank - 0.5) / n``, so ties share one value and the
    catalog mean of every column is exactly 0.5: the expected score of random results.
    """
    n = len(tracks)
    columns = {
        f: (rankdata(tracks[f].to_numpy(dtype=np.float64), method="average") - 0.5) / n
        for f in AUDIO_FEATURES
    }
    return pd.DataFrame(columns, index=pd.Index(tracks["track_id"].to_numpy(dtype=str)))


def _rows(result_track_ids: Iterable[str], percentiles: pd.DataFrame) -> np.ndarray:
    ids = [str(i) for i in result_track_ids]
    rows = percentiles.index.get_indexer(ids)
    if (rows < 0).any():
        unknown = [i for i, r in zip(ids, rows, strict=True) if r < 0][:5]
        raise UnknownIdError(f"results hold ids the catalog lacks: {unknown}")
    return rows


def _feature_score(ids: Iterable[str], query: MoodQuery, percentiles: pd.DataFrame) -> float:
    rows = _rows(ids, percentiles)
    if len(rows) == 0:
        return float("nan")
    per_feature = []
    for feature, direction in query.implies.items():
        pct = percentiles[feature].to_numpy()[rows]
        per_feature.append(float(np.mean(pct if direction == "high" else 1.0 - pct)))
    return float(np.mean(per_feature))


def feature_score(result_track_ids: Iterable[str], query: MoodQuery, tracks: pd.DataFrame) -> float:
    """Mean catalog percentile of the features ``query`` implies, over the results.

    Per implied feature, the mean over results of the track's percentile ("high") or
    ``1 - percentile`` ("low"); then the mean over the implied features. Random results score 0.5.

    Args:
        result_track_ids: Result ids, e.g. the top 20.
        query: An annotated mood query.
        tracks: The catalog tracks table the percentiles are taken in.

    Returns:
        The score in 0..1; NaN for no results.

    Raises:
        UnknownIdError: When a result id is not in ``tracks``.
    """
    return _feature_score(result_track_ids, query, catalog_percentiles(tracks))


def _genre_sets(tracks: pd.DataFrame) -> pd.Series:
    genres = tracks["genres"].map(lambda g: {x.casefold() for x in as_list(g) if x})
    return pd.Series(genres.to_numpy(), index=pd.Index(tracks["track_id"].to_numpy(dtype=str)))


def _genre_share(ids: Sequence[str], genre: str, genre_sets: pd.Series, k: int) -> float:
    rows = _rows(ids, genre_sets.to_frame())
    hits = sum(genre.casefold() in genre_sets.iloc[r] for r in rows)
    return hits / k


def genre_share(
    result_track_ids: Sequence[str], genre: str, tracks: pd.DataFrame, k: int | None = None
) -> float:
    """Share of the top ``k`` slots filled by tracks labelled ``genre`` (case-insensitive).

    Args:
        result_track_ids: Result ids, best first.
        genre: A catalog genre, e.g. ``"rock"``.
        tracks: The catalog tracks table (``track_id``, ``genres``).
        k: Slots counted; missing results count as misses. Defaults to the number of results.

    Returns:
        The share in 0..1 (about 0.17 for random results over the six TidyTuesday genres).
    """
    ids = list(result_track_ids)[: k or None]
    slots = k or len(ids)
    if slots == 0:
        return float("nan")
    return _genre_share(ids, genre, _genre_sets(tracks), slots)


def _summary(frame: pd.DataFrame) -> dict[str, float]:
    out = {}
    for kind in ("features", "genre"):
        scores = frame.loc[frame["kind"] == kind, "score"]
        out[f"{kind}_mean"] = float(scores.mean()) if len(scores) else float("nan")
        out[f"{kind}_min"] = float(scores.min()) if len(scores) else float("nan")
    return out


def evaluate_mood(
    search_fn: Callable[[str], Iterable[str]],
    tracks: pd.DataFrame,
    queries: Sequence[MoodQuery] = QUERIES,
    k: int = 20,
) -> dict:
    """Run every query through ``search_fn`` and score its top ``k``.

    Args:
        search_fn: Query text to result track ids, best first (at least ``k`` of them).
        tracks: The catalog tracks table the search runs over.
        queries: Annotated queries; :data:`QUERIES` by default.
        k: Results scored per query.

    Returns:
        ``{"per_query": DataFrame(text, split, kind, score, n, ms), "all": {...},
        "dev": {...}, "heldout": {...}, "latency_ms": median}`` where each summary holds
        ``features_mean``, ``features_min``, ``genre_mean`` and ``genre_min``.

    Example:
        >>> evaluate_mood(lambda q: ms.search(q, 20)["track_id"], tracks)["all"]  # doctest: +SKIP
    """
    percentiles = catalog_percentiles(tracks)
    genre_sets = _genre_sets(tracks)
    rows = []
    for query in queries:
        start = time.perf_counter()
        ids = [str(i) for i in search_fn(query.text)][:k]
        ms = (time.perf_counter() - start) * 1000
        if query.kind == "genre":
            score = _genre_share(ids, query.genre, genre_sets, k)
        else:
            score = _feature_score(ids, query, percentiles)
        rows.append(
            {
                "text": query.text,
                "split": query.split,
                "kind": query.kind,
                "score": score,
                "n": len(ids),
                "ms": ms,
            }
        )
    frame = pd.DataFrame(rows)
    result: dict = {"per_query": frame, "all": _summary(frame)}
    for split in SPLITS:
        result[split] = _summary(frame[frame["split"] == split])
    result["latency_ms"] = float(frame["ms"].median())
    return result


def semantic_baseline(semantic: object, k: int = 20) -> Callable[[str], np.ndarray]:
    """A ``search_fn`` for :func:`evaluate_mood` that ranks by plain semantic similarity.

    Args:
        semantic: A :class:`~tunescout.indexes.semantic.SemanticIndex`.
        k: Results per query.
    """
    return lambda text: semantic.search_text(text, k)[0]
