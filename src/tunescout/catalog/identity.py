"""Artist identity: name normalisation and the map from every source's artist ids to canonical ids.

Names alone are weak evidence: HetRec lists one band under case variants (``Король И Шут`` /
``Король и Шут``) while different artists share a name. Records merge on an equal normalised name
when each source has one candidate, or when their genres and tags agree; a source's own records
merge only with genre/tag agreement. Every decision is recorded with a method and a confidence.
"""

from __future__ import annotations

import functools
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from tunescout.catalog import as_list
from tunescout.domain.genres import BROAD_GENRES, broad_genre

# Sources whose record names the canonical artist when several sources know it.
SOURCE_PRIORITY = (
    "spotify",
    "tidytuesday",
    "kaggle",
    "spotify1921",
    "lastfm",
    "hetrec",
    "synthetic",
)
# Their genres are playlist labels, not facts about the artist: they rank candidates but veto nothing.
WEAK_GENRE_SOURCES = frozenset({"tidytuesday", "kaggle"})
_CONFIDENCE = {"exact": 0.9, "normalized": 0.85, "loose": 0.75, "featured": 0.6}
_FEATURED = re.compile(r"\s*[\(\[]?\s*\b(?:feat\.?|ft\.?|featuring)\s+", re.IGNORECASE)
_LEADING_THE = re.compile(r"^(?:the )+")  # applied to the key, whose words are single-spaced
_TRAILING_THE = re.compile(r",\s*the$")


def _strip_accents(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


@functools.lru_cache(maxsize=262144)
def normalize_name(name: str) -> str:
    """A matching key: NFKC, casefold, accents, ``&``/``+``→``and``, no leading "the", no punctuation.

    >>> normalize_name("The Beatles"), normalize_name("Beyoncé"), normalize_name("Simon & Garfunkel")
    ('beatles', 'beyonce', 'simon and garfunkel')
    >>> normalize_name("Король И Шут") == normalize_name("Король и Шут")
    True
    """
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", str(name)).casefold())
    text = _TRAILING_THE.sub("", re.sub(r"\s*[&+]\s*", " and ", _strip_accents(folded).strip()))
    key = " ".join(re.sub(r"[^\w\s]|_", " ", text).split())
    if key != "the the":  # a band named "The The" keeps its article
        # after punctuation is gone, so that a key is its own key ("(the) x", "the the x")
        key = _LEADING_THE.sub("", key)
    return key or " ".join(folded.split())  # a name of only symbols keeps them


def loose_key(name: str) -> str:
    """A looser key that also ignores spaces and the word "and" ("Guns N' Roses" = "Guns N Roses")."""
    return "".join(t for t in normalize_name(name).split() if t != "and")


def split_featured(name: str) -> tuple[str, list[str]]:
    """Split "A feat. B" / "A ft. B" / "A (featuring B)" into the primary and featured names.

    >>> split_featured("Eminem feat. Rihanna")
    ('Eminem', ['Rihanna'])
    """
    parts = _FEATURED.split(str(name), maxsplit=1)
    if len(parts) == 1 or not parts[0].strip():  # "Ft. Lauderdale" credits nobody
        return str(name).strip(), []
    names = (p.strip().strip(")]").strip() for p in re.split(r",|&| and ", parts[1]))
    featured = [n for n in names if n]  # "A feat. & \t" credits nobody after the "&"
    return parts[0].strip(), featured


_GENERIC_WORDS = frozenset(
    {"music", "and", "the", "of", "n", "s", "seen", "live", "favorite", "favourite"}
)


def evidence(genres: object, tags: object, top_tags: int = 8) -> frozenset[str]:
    """What an artist's genres and top tags say: their broad genres and their words.

    Words make "easy listening" meet "easy listening" and "dark wave" meet "darkwave"; broad
    genres make "album rock" meet "classic rock".
    """
    labels = [str(g) for g in as_list(genres)] + [str(t["tag"]) for t in as_list(tags)[:top_tags]]
    found = {b for b in (broad_genre(w) for w in labels) if b}
    for label in labels:
        words = [w for w in normalize_name(label).split() if w not in _GENERIC_WORDS]
        found.update(words)
        if len(words) > 1:
            found.add("".join(words))
    return frozenset(found)


def canonical_id(source: str, source_id: str) -> str:
    """A stable canonical artist id derived from the representative record."""
    return "ar" + hashlib.blake2b(f"{source}\x1f{source_id}".encode(), digest_size=6).hexdigest()


@dataclass
class _Cluster:
    members: list[int]
    sources: set[str]
    evidence: set[str]
    strong: set[str]
    broad: set[str]
    labels: set[tuple[str, str]]
    methods: dict[int, tuple[str, float]] = field(default_factory=dict)

    def absorb(self, other: _Cluster, method: str, overlap: int) -> None:
        for m in other.members:
            self.methods[m] = (method, _confidence(method, overlap, bool(other.evidence)))
        self.members += other.members
        self.sources |= other.sources
        self.evidence |= other.evidence
        self.strong |= other.strong
        self.broad |= other.broad
        self.labels |= other.labels


def _confidence(method: str, overlap: int, has_evidence: bool) -> float:
    base = _CONFIDENCE[method]
    if overlap:
        return min(1.0, base + 0.08)
    return base if has_evidence else base - 0.15


def _fits(cluster: _Cluster, rec: _Cluster, method: str, ambiguous: bool) -> int | None:
    """Overlap score if ``rec`` may join ``cluster``, else None."""
    if cluster.labels & rec.labels:
        return None  # a source listing one exact name under two ids means two artists
    overlap = len(cluster.evidence & rec.evidence)
    contradicts = bool(cluster.strong and rec.strong and not cluster.strong & rec.strong)
    if rec.sources & cluster.sources:
        # One source listing a name twice: case variants are one artist unless tags disagree;
        # any other variant needs shared genres or tags.
        return overlap if overlap or (method == "exact" and not contradicts) else None
    if contradicts and (ambiguous or min(len(cluster.broad), len(rec.broad)) >= 2):
        return None  # both well described, nothing in common: different artists
    return overlap


def _merge_group(clusters: list[_Cluster], method_of) -> list[_Cluster]:
    """Greedily merge clusters that share a key, best-described and highest-priority first."""
    listed = [s for c in clusters for s in c.sources]
    ambiguous = len(listed) != len(set(listed))
    merged: list[_Cluster] = []
    for rec in clusters:
        scored = [
            (s, c) for c in merged if (s := _fits(c, rec, method_of(c, rec), ambiguous)) is not None
        ]
        if not scored:
            merged.append(rec)
            continue
        overlap, target = max(scored, key=lambda sc: sc[0])
        target.absorb(rec, method_of(target, rec), overlap)
    return merged


def resolve(records: pd.DataFrame) -> pd.DataFrame:
    """Map every (source, source_id) to a canonical artist id.

    Args:
        records: One row per artist as a source names it, with columns ``source``, ``source_id``,
            ``name``, ``genres``, ``tags`` and ``popularity``/``listeners`` (tie-breakers).

    Returns:
        ``artist_map`` rows: source, source_id, source_name, artist_id, method, confidence.
    """
    recs = records.reset_index(drop=True)
    prio = (
        recs["source"]
        .map({s: i for i, s in enumerate(SOURCE_PRIORITY)})
        .fillna(len(SOURCE_PRIORITY))
    )
    size = recs["popularity"].fillna(0).astype(float) + recs["listeners"].fillna(0).astype(
        float
    ).pow(0.25)
    ranking = pd.DataFrame({"prio": prio, "size": -size, "id": recs["source_id"].astype(str)})
    order = ranking.sort_values(["prio", "size", "id"], kind="stable").index
    recs = recs.loc[order].reset_index(drop=True)
    names = recs["name"].astype(str).tolist()
    keys = [normalize_name(n) for n in names]
    loose = ["".join(t for t in k.split() if t != "and") for k in keys]
    primary = [normalize_name(split_featured(n)[0]) for n in names]
    folded = [unicodedata.normalize("NFKC", n).casefold().strip() for n in names]
    # Evidence matters only where a key is shared; most records stand alone.
    shared = np.zeros(len(recs), dtype=bool)
    for column in (keys, loose, primary):
        shared |= pd.Series(column).duplicated(keep=False).to_numpy()
    ev = [
        evidence(g, t) if s else frozenset()
        for g, t, s in zip(recs["genres"], recs["tags"], shared, strict=True)
    ]
    clusters = []
    for i, (source, found) in enumerate(zip(recs["source"], ev, strict=True)):
        strong = set() if source in WEAK_GENRE_SOURCES else set(found)
        broad = strong & set(BROAD_GENRES)
        clusters.append(_Cluster([i], {source}, set(found), strong, broad, {(source, names[i])}))

    def by_name(target: _Cluster, rec: _Cluster) -> str:
        return "exact" if folded[target.members[0]] == folded[rec.members[0]] else "normalized"

    clusters = _regroup(clusters, lambda c: keys[c.members[0]], by_name)
    clusters = _regroup(clusters, lambda c: loose[c.members[0]], lambda *_: "loose")
    clusters = _regroup(clusters, lambda c: primary[c.members[0]], lambda *_: "featured")
    return _to_map(recs, clusters)


def _regroup(clusters: list[_Cluster], key_of, method_of) -> list[_Cluster]:
    groups: dict[str, list[_Cluster]] = {}
    for c in clusters:
        groups.setdefault(key_of(c), []).append(c)
    out: list[_Cluster] = []
    for group in groups.values():
        out += group if len(group) == 1 else _merge_group(group, method_of)
    return out


def _to_map(recs: pd.DataFrame, clusters: list[_Cluster]) -> pd.DataFrame:
    artist_id = [""] * len(recs)
    method = ["canonical"] * len(recs)
    confidence = [1.0] * len(recs)
    sources = recs["source"].tolist()
    source_ids = recs["source_id"].astype(str).tolist()
    for c in clusters:
        rep = c.members[0]
        cid = canonical_id(sources[rep], source_ids[rep])
        for m in c.members:
            artist_id[m] = cid
            if m in c.methods:
                method[m], confidence[m] = c.methods[m]
    return pd.DataFrame(
        {
            "source": recs["source"],
            "source_id": recs["source_id"].astype(str),
            "source_name": recs["name"],
            "artist_id": artist_id,
            "method": method,
            "confidence": confidence,
        }
    )
