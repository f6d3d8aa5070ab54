"""Query understanding: a listener's request as a structured query.

"90s road trip singalong, no rap" or "something like Radiohead but happier" is split into the parts
a search can act on — an era, genres (from the catalog's own labels and listeners' tags), a
reference artist or track resolved against catalog names (fuzzy, case- and accent-insensitive,
with a confidence), relative changes to the reference ("happier", "slower"), exclusions ("no rap",
"not Katy Perry", "without vocals") — and the words left over, which describe the mood or moment.
Everything here is pure text processing over a :class:`~tunescout.serving.names.Vocabulary`
built from the catalog.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tunescout.domain.moods import COMPARATIVES, EXCLUDABLE, FAME
from tunescout.serving.names import FILLER, Reference, Vocabulary

# Everyday words that are also genres: a genre only when used as one ("house music", not
# "cleaning the house"); and words that make them one.
AMBIGUOUS = frozenset({"house", "dance", "trap", "swing", "dub"})
QUALIFIERS = frozenset({"deep", "tech", "progressive", "acid", "electro", "future", "latin", "uk"})
# Nouns after an ambiguous word that make it a genre ("trap bangers", "house classics").
MUSIC_NOUNS = frozenset(
    f"{w}s" if plural else w
    for w in ("music", "track", "song", "hit", "banger", "beat", "anthem", "jam", "tune", "classic")
    for plural in (False, True)
) | {"playlist", "mix"}
MAX_SPAN = 6  # words in the longest name tried at one place
DECADE_WORDS = {
    "fifties": 1950,
    "sixties": 1960,
    "seventies": 1970,
    "eighties": 1980,
    "nineties": 1990,
    "noughties": 2000,
    "two thousands": 2000,
}
ERA_WORDS = {  # phrases that name a span of years
    "old school": (None, 1999),
    "oldschool": (None, 1999),
    "oldies": (None, 1979),
    "golden oldies": (None, 1979),
    "throwback": (None, 2009),
    "throwbacks": (None, 2009),
}
RECENT_WORDS = ("recent", "latest", "newest", "brand new", "current", "this year")
TRIGGERS = (
    "sounds like",
    "sound like",
    "similar to",
    "in the style of",
    "reminds me of",
    "reminiscent of",
    "along the lines of",
    "fans of",
    "fan of",
    "if i like",
    "the likes of",
    "a la",
    "like",
)
SUFFIX_TRIGGERS = ("vibes", "vibe", "type", "style", "esque", "sounding")
NOT_AFTER = ("feel", "feels", "feeling", "felt", "look", "looks", "i", "you", "we", "would")
NEGATIONS = (
    "that aren't",
    "that isn't",
    "that are not",
    "don't want",
    "dont want",
    "aren't",
    "arent",
    "isn't",
    "never",
    "anything but",
    "but not",
    "none of the",
    "no more",
    "without",
    "except",
    "excluding",
    "minus",
    "nothing",
    "avoid",
    "skip",
    "not",
    "no",
)
_DELIMITERS = re.compile(
    r"\s*(?:[,;.!?|]|\b(?:but|and|or|with|without|from|for|that|no|not|please|except)\b)\s*"
)
_WORD = re.compile(r"[\w&'+-]+")


@dataclass
class Query:
    """What a request asks for, part by part (every part optional)."""

    text: str
    years: tuple[int, int] | None = None
    era: str | None = None
    genres: tuple[str, ...] = ()
    named_genres: tuple[str, ...] = ()
    genre_words: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    not_genres: tuple[str, ...] = ()
    not_tags: tuple[str, ...] = ()
    not_words: tuple[str, ...] = ()
    not_artists: tuple[str, ...] = ()
    reference: Reference | None = None
    relative: dict[str, int] = field(default_factory=dict)
    relative_words: tuple[str, ...] = ()
    avoid: dict[str, str] = field(default_factory=dict)
    fame: int = 0
    rest: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def structured(self) -> bool:
        """Whether anything beyond free words was understood."""
        return bool(
            self.years or self.genres or self.tags or self.reference or self.not_genres
            or self.not_tags or self.not_artists or self.avoid
        )  # fmt: skip

    def label(self, moods: Sequence[str] = ()) -> str:
        """The request as understood, e.g. "90s · rock · happy — like Radiohead, happier · no rap"."""
        parts = [p for p in (self.era, *self.genre_words, *self.tags, *moods) if p]
        head = " · ".join(parts)
        if self.reference is not None:
            like = f"like {self.reference.name}"
            if self.relative_words:
                like += ", " + ", ".join(self.relative_words)
            head = f"{head} — {like}" if head else like
        negatives = [f"no {w}" for w in self.not_words]
        return " · ".join([p for p in (head, *negatives) if p]) or self.text.strip()


# ---- parsing ---------------------------------------------------------------------------------


def _fold(text: str) -> str:
    text = text.casefold().replace("’", "'").replace("‘", "'")
    return " ".join(text.split())


def _cut(text: str, start: int, end: int) -> str:
    """``text`` with ``[start, end)`` replaced by a delimiter, so nothing joins across it."""
    return text[:start] + " | " + text[end:]


def parse(text: str, vocab: Vocabulary) -> Query:
    """Split a request into its parts (see :class:`Query`).

    Args:
        text: The request as typed.
        vocab: The catalog's names.
    """
    query = Query(text=text)
    work = _fold(text)
    work = _references(work, vocab, query)
    work = _exclusions(work, vocab, query)
    work = _eras(work, query)
    work = _comparatives(work, query)
    for phrase, sign in sorted(FAME.items(), key=lambda kv: -len(kv[0])):
        if re.search(rf"\b{re.escape(phrase)}\b", work):
            query.fame = sign
            break
    work = _genres(work, vocab, query)
    words = [w for w in _WORD.findall(work.replace("|", " ")) if w not in FILLER]
    query.rest = " ".join(words)
    return query


def _references(work: str, vocab: Vocabulary, query: Query) -> str:
    """Find "like X", "similar to X", "X vibes", "X but happier"; resolve X against the catalog."""
    for trigger in TRIGGERS:
        for match in re.finditer(rf"(?:^|\s)({re.escape(trigger)})\s+", work):
            before = work[: match.start(1)].split()
            if trigger == "like" and before and before[-1] in NOT_AFTER:
                continue
            found = _name_after(work, match.end(), vocab)
            if found is not None:
                reference, end = found
                query.reference = reference
                return _cut(work, match.start(1), end)
    for suffix in SUFFIX_TRIGGERS:
        for match in re.finditer(rf"[\s-]+{re.escape(suffix)}\b", work):
            found = _name_before(work, match.start(), vocab)
            if found is not None:
                reference, start = found
                query.reference = reference
                return _cut(work, start, match.end())
    match = re.match(r"\s*([\w&' .-]+?)\s+but\s+", work)
    if match:
        reference = vocab.resolve(match.group(1), fuzzy=True)
        if reference is not None and reference.confidence >= 0.9:
            query.reference = reference
            return _cut(work, match.start(1), match.end(1))
    return work


def _name_after(work: str, start: int, vocab: Vocabulary) -> tuple[Reference, int] | None:
    """The catalog name starting at ``start``: the longest exact one, else the phrase up to the
    next delimiter matched fuzzily. Returns the reference and where its words end."""
    spans = [m for m in _WORD.finditer(work, start)][:MAX_SPAN]
    for n in range(len(spans), 0, -1):
        phrase = work[start : spans[n - 1].end()]
        if "|" in phrase:
            continue
        reference = vocab.resolve(phrase, fuzzy=False)
        if reference is not None:
            return reference, spans[n - 1].end()
    cut = _DELIMITERS.search(work, start)
    end = cut.start() if cut else len(work)
    phrase = re.sub(r"^(?:the (?:band|artist|song|singer) |songs? by )", "", work[start:end])
    phrase = re.sub(r"'s$", "", phrase.strip())
    reference = vocab.resolve(phrase) if phrase else None
    return (reference, end) if reference is not None else None


def _name_before(work: str, end: int, vocab: Vocabulary) -> tuple[Reference, int] | None:
    """The catalog name ending at ``end`` ("radiohead" in "radiohead vibes"): the longest exact
    one among the last words, else the last one to three words matched fuzzily."""
    words = [m for m in _WORD.finditer(work[:end])][-MAX_SPAN:]
    for fuzzy in (False, True):
        for i in range(len(words)) if not fuzzy else range(max(0, len(words) - 3), len(words)):
            phrase = work[words[i].start() : end]
            if "|" in phrase or "," in phrase:
                continue
            reference = vocab.resolve(phrase, fuzzy=fuzzy)
            if reference is not None:
                return reference, words[i].start()
    return None


def _exclusions(work: str, vocab: Vocabulary, query: Query) -> str:
    """ "no rap", "not Katy Perry", "without vocals", "nothing too slow"."""
    pattern = "|".join(re.escape(n) for n in NEGATIONS)
    while True:
        match = re.search(rf"(?:^|[\s|,])({pattern})\s+(?:any |more |too |the |so )*", work)
        if match is None:
            return work
        cut = _DELIMITERS.search(work, match.end())
        end = cut.start() if cut else len(work)
        phrase = work[match.end() : end].strip()
        _exclude(phrase, vocab, query)
        work = _cut(work, match.start(1), end)


def _exclude(phrase: str, vocab: Vocabulary, query: Query) -> None:
    words = [w for w in phrase.split() if w not in FILLER]
    if not words:
        return
    phrase = " ".join(words)
    base = _singular(phrase)
    for candidate in (phrase, base):
        if candidate in vocab.genre_words:
            query.not_genres += vocab.genre_labels(candidate, broad=True)
            query.not_words += (candidate,)
            return
        if candidate in vocab.tag_counts:
            query.not_tags += (candidate,)
            query.not_words += (candidate,)
            return
        if candidate in EXCLUDABLE:
            feature, side = EXCLUDABLE[candidate]
            query.avoid[feature] = side
            query.not_words += (candidate,)
            return
    reference = vocab.resolve(phrase)
    if reference is not None and reference.kind == "artists":
        query.not_artists += (reference.id,)
        query.not_words += (reference.name,)
        return
    query.notes.append(f"not sure what to leave out in “no {phrase}”")


def _singular(word: str) -> str:
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _decade(two: str) -> int:
    value = int(two)
    return 1900 + value if value >= 30 else 2000 + value


def _eras(work: str, query: Query) -> str:
    """Decades ("90s", "the eighties", "early 2000s"), years ("from 2005", "1990-1995"), ranges
    of decades ("60s and 70s") and era words ("old school")."""
    spans: list[tuple[int, int]] = []
    found: list[tuple[int, int]] = []
    named: list[str] = []

    def take(match: re.Match, lo: int, hi: int, label: str) -> None:
        spans.append(match.span())
        found.append((lo, hi))
        named.append(label)

    for m in re.finditer(r"\b((?:19|20)\d\d)\s*(?:-|–|to|and|until)\s*((?:19|20)\d\d)\b", work):
        take(m, int(m.group(1)), int(m.group(2)), f"{m.group(1)}–{m.group(2)}")
    for m in re.finditer(
        r"\b(early|mid|late)?[\s-]*'?(?:(19|20)(\d)0|(\d)0)'?s\b(?:\s*(?:and|&|or|to|-)\s*'?"
        r"(?:(19|20)(\d)0|(\d)0)'?s\b)?",
        work,
    ):
        if any(s <= m.start() < e for s, e in spans):
            continue
        first = int((m.group(2) or "") + (m.group(3) or "") + "0") if m.group(2) else None
        first = first or _decade(m.group(4) + "0")
        last = first
        if m.group(5) or m.group(7):
            last = int(m.group(5) + m.group(6) + "0") if m.group(5) else _decade(m.group(7) + "0")
        part = {"early": (0, 3), "mid": (3, 6), "late": (6, 9)}.get(m.group(1) or "", (0, 9))
        take(
            m,
            first + part[0],
            last + part[1],
            f"{first}s" if first == last else f"{first}s–{last}s",
        )
    for word, decade in DECADE_WORDS.items():
        for m in re.finditer(rf"\b{word}\b", work):
            take(m, decade, decade + 9, f"{decade}s")
    for m in re.finditer(
        r"\b(from|since|after|before|until|in|around|pre|post)[\s-]+((?:19|20)\d\d)\b", work
    ):
        if any(s <= m.start() < e for s, e in spans):
            continue
        year, how = int(m.group(2)), m.group(1)
        lo, hi = {
            "from": (year, 2100), "since": (year, 2100), "after": (year + 1, 2100),
            "post": (year + 1, 2100), "before": (1800, year - 1), "pre": (1800, year - 1),
            "until": (1800, year), "in": (year, year), "around": (year - 3, year + 3),
        }[how]  # fmt: skip
        take(m, lo, hi, f"{how} {year}")
    explicit = bool(found)
    for word, (lo, hi) in ERA_WORDS.items():
        for m in re.finditer(rf"\b{word}\b", work):
            if explicit:  # "oldies from the 60s" means the 60s
                spans.append(m.span())
            else:
                take(m, lo or 1800, hi, word)
    for word in RECENT_WORDS:
        for m in re.finditer(rf"\b{word}\b", work):
            take(m, 2016, 2100, "recent")
    if found:
        query.years = (min(lo for lo, _ in found), max(hi for _, hi in found))
        query.era = " or ".join(dict.fromkeys(named))
        for start, end in sorted(spans, reverse=True):
            work = _cut(work, start, end)
    return work


def _comparatives(work: str, query: Query) -> str:
    """ "happier", "slower", "more upbeat": feature directions relative to the reference; without
    a reference they stay as mood words ("happier" → "happy")."""
    for phrase, (feature, sign, base) in sorted(COMPARATIVES.items(), key=lambda kv: -len(kv[0])):
        for m in re.finditer(rf"\b{re.escape(phrase)}\b", work):
            if query.reference is not None:
                query.relative[feature] = sign
                query.relative_words += (phrase,)
                work = work[: m.start()] + " " * (m.end() - m.start()) + work[m.end() :]
            else:
                work = work[: m.start()] + base.ljust(m.end() - m.start()) + work[m.end() :]
    return work


def _genres(work: str, vocab: Vocabulary, query: Query) -> str:
    """Genre labels, their aliases and listeners' tags named in the request, longest first."""
    tokens = [(m.group(), m.start(), m.end()) for m in _WORD.finditer(work)]
    used: set[int] = set()
    cuts: list[tuple[int, int]] = []
    for n in range(3, 0, -1):
        for i in range(len(tokens) - n + 1):
            span = set(range(i, i + n))
            if span & used:
                continue
            phrase = " ".join(t for t, _, _ in tokens[i : i + n])
            if phrase in FILLER:
                continue
            if phrase in AMBIGUOUS and not _names_genre(tokens, i, n):
                continue
            labels = vocab.genre_labels(phrase) or vocab.genre_labels(_singular(phrase))
            if labels:
                query.genres += tuple(g for g in labels if g not in query.genres)
                query.named_genres += vocab.named_label(phrase) or vocab.named_label(
                    _singular(phrase)
                )
                query.genre_words += (phrase,)
            elif phrase in vocab.tag_counts:
                query.tags += (phrase,)
            else:
                continue
            used |= span
            cuts.append((tokens[i][1], tokens[i + n - 1][2]))
    for start, end in sorted(cuts, reverse=True):
        work = _cut(work, start, end)
    return work


def _names_genre(tokens: list[tuple[str, int, int]], i: int, n: int) -> bool:
    """Whether an everyday word that is also a genre ("house") is used as one: the whole
    request, before a word for music ("house music", "trap bangers") or after a genre qualifier
    ("deep house")."""
    before = tokens[i - 1][0] if i > 0 else ""
    after = tokens[i + n][0] if i + n < len(tokens) else ""
    return len(tokens) == n or after in MUSIC_NOUNS or before in QUALIFIERS


def describe(words: Iterable[str]) -> str:
    """Mood words joined for a label."""
    return " · ".join(dict.fromkeys(w for w in words if w))
