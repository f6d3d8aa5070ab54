"""The one mood table: what a mood asks of the audio features, and what the features say of a track.

- :data:`MOODS`: a request's mood words (and MiniLM paraphrases of them) → feature targets;
- :data:`DESCRIPTORS`: feature rules → the mood and style words a track's features earn (written
  into semantic documents and into synthetic artists' tags);
- :data:`FEATURE_WORDS`: one word for a feature that is high or low (for "why" texts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from tunescout.domain.features import AUDIO_FEATURES


@dataclass(frozen=True)
class Mood:
    """A named mood: feature targets (feature units) with weights, and phrases that evoke it."""

    name: str
    targets: dict[str, tuple[float, float]]
    phrases: tuple[str, ...]


# Targets are (value, weight); values are in feature units (tempo in BPM, loudness in dB) so they
# mean the same on any catalog. The phrases are the lexicon; MiniLM extends it to paraphrases.
MOODS: tuple[Mood, ...] = (
    Mood(
        "sad",
        {"valence": (0.1, 1.0), "energy": (0.35, 0.7), "danceability": (0.45, 0.2)},
        (
            "sad",
            "triste",
            "sadness",
            "heartbreak",
            "crying",
            "tears",
            "cry",
            "melancholic",
            "melancholy",
            "sorrow",
            "grief",
            "depressed",
            "blue",
            "breakup",
            "songs to cry to",
            "tearjerker",
        ),
    ),
    Mood(
        "happy",
        {"valence": (0.9, 1.0), "energy": (0.88, 0.5), "danceability": (0.75, 0.3)},
        (
            "happy",
            "feliz",
            "alegre",
            "joyful",
            "cheerful",
            "feel-good",
            "feel good",
            "fun",
            "positive",
            "uplifting",
            "good mood",
            "sunny",
            "upbeat",
            "joy",
            "smile",
            "smiling",
            "laugh",
            "glad",
            "delighted",
            "blissful",
            "cheery",
            "elated",
            "euphoric",
        ),
    ),
    Mood(
        "energetic",
        {"energy": (0.95, 1.0), "loudness": (-3.5, 0.6), "tempo": (135.0, 0.3)},
        (
            "energetic",
            "energy",
            "pump me up",
            "pumped",
            "hype",
            "power",
            "workout",
            "work out",
            "working out",
            "exercise",
            "gym",
            "training",
            "lifting",
            "motivation",
            "intense",
            "high energy",
        ),
    ),
    Mood(
        "angry",
        {"valence": (0.15, 1.0), "energy": (0.93, 1.0), "loudness": (-3.5, 0.5)},
        (
            "angry",
            "anger",
            "aggressive",
            "furious",
            "fierce",
            "heavy",
            "mad",
            "hate",
            "violent",
            "angry workout",
        ),
    ),
    Mood(
        "calm",
        {
            "energy": (0.3, 1.0),
            "loudness": (-11.0, 0.6),
            "acousticness": (0.6, 0.5),
            "valence": (0.5, 0.3),
        },
        (
            "calm",
            "relaxing",
            "relax",
            "chill",
            "chilled",
            "soft",
            "quiet",
            "easy listening",
            "laid back",
            "unwind",
        ),
    ),
    # The calm corner listeners call peaceful or tender is low in energy but not sad: it keeps
    # its valence up (Deezer's valence/arousal labels put it at high valence, low arousal).
    Mood(
        "content",
        {
            "valence": (0.65, 0.9),
            "energy": (0.3, 0.9),
            "acousticness": (0.6, 0.5),
            "loudness": (-11.0, 0.4),
        },
        (
            "peaceful",
            "tender",
            "serene",
            "cosy",
            "cozy",
            "content",
            "contented",
            "warm",
            "comforting",
            "soothing",
            "gentle",
            "tranquil",
            "heartwarming",
            "sweet",
            "lovely",
            "blissful",
            "at peace",
        ),
    ),
    Mood(
        "sleep",
        {
            "energy": (0.15, 1.0),
            "loudness": (-16.0, 0.8),
            "acousticness": (0.85, 0.7),
            "tempo": (80.0, 0.3),
        },
        ("sleep", "sleeping", "fall asleep", "lullaby", "bedtime", "nap", "insomnia"),
    ),
    Mood(
        "party",
        {"danceability": (0.88, 1.0), "energy": (0.9, 0.8), "valence": (0.75, 0.4)},
        (
            "party",
            "fiesta",
            "anthems",
            "club",
            "clubbing",
            "celebration",
            "dance floor",
            "night out",
            "party anthems",
            "turn up",
        ),
    ),
    Mood(
        "dance",
        {"danceability": (0.9, 1.0), "energy": (0.88, 0.5)},
        (
            "dance",
            "dancing",
            "danceable",
            "groove",
            "dance all night",
            "move",
            "shake",
            "bailar",
            "baile",
            "danser",
            "tanzen",
        ),
    ),
    Mood(
        "focus",
        {"instrumentalness": (0.9, 1.0), "speechiness": (0.03, 0.8), "energy": (0.45, 0.3)},
        (
            "focus",
            "study",
            "studying",
            "concentrate",
            "coding",
            "programming",
            "work",
            "reading",
            "instrumental",
            "no lyrics",
            "background music",
            "beats to study to",
        ),
    ),
    Mood(
        "acoustic",
        {"acousticness": (0.9, 1.0), "energy": (0.35, 0.5), "loudness": (-10.0, 0.3)},
        (
            "acoustic",
            "piano",
            "folk",
            "strings",
            "ballad",
            "ballads",
            "singer-songwriter",
            "stripped down",
        ),
    ),
    Mood(
        "slow",
        {"tempo": (75.0, 1.0), "energy": (0.4, 0.4)},
        ("slow", "slowly", "downtempo", "slow songs", "slow dance", "slow dancing"),
    ),
    Mood(
        "fast",
        {"tempo": (170.0, 1.0), "energy": (0.85, 0.6)},
        ("fast", "running", "run", "sprint", "quick", "speed", "fast-paced", "jogging"),
    ),
    Mood(
        "live",
        {"liveness": (0.9, 1.0)},
        ("live", "concert", "live recording", "live concert", "audience", "on stage"),
    ),
    Mood(
        "spoken",
        {"speechiness": (0.45, 1.0)},
        ("spoken word", "rap verses", "rapping", "bars", "lyrics-heavy", "verses", "spitting"),
    ),
    Mood(
        "loud",
        {"loudness": (-2.5, 1.0), "energy": (0.9, 0.6)},
        ("loud", "heavy music", "noisy", "blasting", "headbanging"),
    ),
    Mood(
        "dark",
        {"valence": (0.15, 1.0), "energy": (0.5, 0.2)},
        ("dark", "sinister", "haunting", "brooding", "ominous"),
    ),
    Mood(
        "morning",
        {"energy": (0.35, 1.0), "acousticness": (0.75, 0.8), "valence": (0.6, 0.3)},
        ("morning", "sunday morning", "coffee", "breakfast", "brunch", "wake up slowly"),
    ),
    Mood(
        "rain",
        {"valence": (0.2, 0.8), "energy": (0.3, 0.8), "acousticness": (0.6, 0.5)},
        ("rain", "rainy", "rainy day", "grey day", "storm"),
    ),
    Mood(
        "night drive",
        {"energy": (0.4, 1.0), "valence": (0.35, 0.3)},
        ("late night", "night drive", "late-night drive", "midnight", "after hours"),
    ),
    Mood(
        "summer",
        {"valence": (0.88, 1.0), "danceability": (0.82, 0.8), "energy": (0.75, 0.3)},
        ("summer", "summer vibes", "beach", "vacation", "sunshine", "tropical vibes"),
    ),
)


FEATURE_WORDS: dict[tuple[str, str], str] = {
    ("valence", "low"): "sad",
    ("valence", "high"): "happy",
    ("energy", "low"): "calm",
    ("energy", "high"): "energetic",
    ("tempo", "low"): "slow",
    ("tempo", "high"): "fast",
    ("acousticness", "high"): "acoustic",
    ("instrumentalness", "high"): "instrumental",
    ("speechiness", "high"): "wordy",
    ("speechiness", "low"): "few words",
    ("danceability", "high"): "danceable",
    ("liveness", "high"): "live",
    ("loudness", "high"): "loud",
    ("loudness", "low"): "quiet",
}


# Every phrase of the mood table: words that describe a mood, never a genre or a name.
LEXICON = frozenset(p for mood in MOODS for p in mood.phrases)


@dataclass(frozen=True)
class Descriptor:
    """Words a track (or artist) earns when every condition on its features holds.

    Attributes:
        words: The words, strongest first (``("sad", "melancholic", "gloomy")``).
        when: Feature → ``(op, threshold)`` with ``op`` one of ``>=``, ``>``, ``<=``, ``<``.
    """

    words: tuple[str, ...]
    when: dict[str, tuple[str, float]]


# Quadrants of the valence × energy plane, with a dead zone around the middle (0.45–0.55) so
# that middling tracks get no mood words instead of arbitrary ones.
_HIGH, _LOW = 0.55, 0.45
DESCRIPTORS: tuple[Descriptor, ...] = (
    Descriptor(
        ("happy", "euphoric", "upbeat"), {"valence": (">=", _HIGH), "energy": (">=", _HIGH)}
    ),
    Descriptor(("sad", "melancholic", "gloomy"), {"valence": ("<=", _LOW), "energy": ("<=", _LOW)}),
    Descriptor(("calm", "peaceful", "relaxed"), {"valence": (">", _LOW), "energy": ("<=", _LOW)}),
    Descriptor(
        ("angry", "intense", "aggressive"), {"valence": ("<=", _LOW), "energy": (">=", _HIGH)}
    ),
    Descriptor(("energetic",), {"energy": (">=", 0.8)}),
    Descriptor(("soft", "quiet"), {"energy": ("<=", 0.3)}),
    Descriptor(("acoustic",), {"acousticness": (">=", 0.6)}),
    Descriptor(("instrumental",), {"instrumentalness": (">=", 0.5)}),
    Descriptor(("spoken word",), {"speechiness": (">=", 0.66)}),
    Descriptor(
        ("rap-heavy", "spoken vocals"), {"speechiness": (">=", 0.33), "speechiness<": ("<", 0.66)}
    ),
    Descriptor(("live recording",), {"liveness": (">=", 0.8)}),
    Descriptor(("danceable",), {"danceability": (">=", 0.7)}),
    Descriptor(("slow tempo",), {"tempo": ("<", 90.0)}),
    Descriptor(("fast tempo",), {"tempo": (">=", 130.0)}),
)


def margins(rule: Descriptor, features: dict[str, np.ndarray]) -> np.ndarray:
    """How far each row clears ``rule``'s tightest condition (> 0 where it holds; NaN fails).

    Args:
        rule: A descriptor.
        features: Feature name → values (``speechiness<``-style keys name the same feature).
    """
    out = None
    for key, (op, threshold) in rule.when.items():
        values = features[key.rstrip("<>=")]
        side = values - threshold if op.startswith(">") else threshold - values
        strict = op in (">", "<")
        with np.errstate(invalid="ignore"):
            # a non-strict condition holds at the threshold itself: count equality as a tiny margin
            side = np.where(strict | (side != 0), side, np.finfo(np.float32).tiny)
        side = np.where(np.isnan(side), -np.inf, side)
        out = side if out is None else np.minimum(out, side)
    return out


def mood_words(frame: pd.DataFrame) -> pd.Series:
    """Mood and style words (e.g. "sad, melancholic, gloomy, acoustic") per row of a table with
    :data:`~tunescout.domain.features.AUDIO_FEATURES`; missing features add no words.

    Returns:
        Comma-separated words per row (empty string when nothing stands out), same index.
    """
    features = {c: frame[c].to_numpy(dtype=np.float64, na_value=np.nan) for c in AUDIO_FEATURES}
    holds = [(margins(rule, features) > 0, ", ".join(rule.words)) for rule in DESCRIPTORS]
    words = [", ".join(text for mask, text in holds if mask[row]) for row in range(len(frame))]
    return pd.Series(words, index=frame.index, dtype=object)


# Relative words: feature, direction (+1 more / -1 less), and the mood word they mean on their
# own ("something happier" without a reference is just happy).
COMPARATIVES: dict[str, tuple[str, int, str]] = {
    "happier": ("valence", 1, "happy"),
    "more cheerful": ("valence", 1, "happy"),
    "more positive": ("valence", 1, "happy"),
    "brighter": ("valence", 1, "happy"),
    "sadder": ("valence", -1, "sad"),
    "darker": ("valence", -1, "dark"),
    "more melancholic": ("valence", -1, "sad"),
    "calmer": ("energy", -1, "calm"),
    "more chill": ("energy", -1, "chill"),
    "chiller": ("energy", -1, "chill"),
    "mellower": ("energy", -1, "calm"),
    "more relaxed": ("energy", -1, "relaxed"),
    "more relaxing": ("energy", -1, "relaxing"),
    "less intense": ("energy", -1, "calm"),
    "more energetic": ("energy", 1, "energetic"),
    "more upbeat": ("energy", 1, "upbeat"),
    "more intense": ("energy", 1, "intense"),
    "heavier": ("energy", 1, "heavy"),
    "harder": ("energy", 1, "energetic"),
    "slower": ("tempo", -1, "slow"),
    "faster": ("tempo", 1, "fast"),
    "quicker": ("tempo", 1, "fast"),
    "softer": ("loudness", -1, "soft"),
    "quieter": ("loudness", -1, "quiet"),
    "gentler": ("loudness", -1, "gentle"),
    "louder": ("loudness", 1, "loud"),
    "more danceable": ("danceability", 1, "danceable"),
    "danceier": ("danceability", 1, "danceable"),
    "more acoustic": ("acousticness", 1, "acoustic"),
    "less electronic": ("acousticness", 1, "acoustic"),
    "more electronic": ("acousticness", -1, "electronic"),
    "more instrumental": ("instrumentalness", 1, "instrumental"),
}

# What "no X" / "without X" leaves out when X is a sound rather than a genre or an artist:
# the feature and which side of it to avoid.
EXCLUDABLE: dict[str, tuple[str, str]] = {
    "vocals": ("instrumentalness", "low"),
    "vocal": ("instrumentalness", "low"),
    "singing": ("instrumentalness", "low"),
    "lyrics": ("instrumentalness", "low"),
    "words": ("instrumentalness", "low"),
    "voice": ("instrumentalness", "low"),
    "slow": ("tempo", "low"),
    "slow songs": ("tempo", "low"),
    "ballads": ("energy", "low"),
    "fast": ("tempo", "high"),
    "loud": ("loudness", "high"),
    "screaming": ("loudness", "high"),
    "sad": ("valence", "low"),
    "sad songs": ("valence", "low"),
    "depressing": ("valence", "low"),
    "acoustic": ("acousticness", "high"),
    "live": ("liveness", "high"),
    "live recordings": ("liveness", "high"),
    "talking": ("speechiness", "high"),
}


# Words that ask for well-known songs (+1) or for the long tail (-1).
FAME: dict[str, int] = {
    "hits": 1,
    "classics": 1,
    "singalong": 1,
    "sing along": 1,
    "sing-along": 1,
    "anthems": 1,
    "popular": 1,
    "famous": 1,
    "well known": 1,
    "everyone knows": 1,
    "deep cuts": -1,
    "obscure": -1,
    "underground": -1,
    "lesser known": -1,
    "hidden gems": -1,
    "unknown": -1,
    "underrated": -1,
}
