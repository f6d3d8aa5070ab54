"""Reasons: the short texts that say why each recommended item is there."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from tunescout.catalog import as_list
from tunescout.domain.moods import FEATURE_WORDS, mood_words
from tunescout.serving.lookup import Lookup

SIMILAR_ENOUGH = 0.3  # cosine of two artists' descriptions above which one explains the other


def sentence(
    liked_names: Sequence[str],
    mood: str | None = None,
    genres: Sequence[str] = (),
    popular: bool = False,
) -> str:
    """A sentence like "because you liked Radiohead and Portishead; matches 'rainy'"."""
    parts = []
    if liked_names:
        names = list(liked_names)
        joined = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
        parts.append(f"because you liked {joined}")
    if mood:
        parts.append(f"matches '{mood}'")
    if genres and not parts:
        parts.append(
            "popular in " + ", ".join(genres[:2]) if popular else "in " + ", ".join(genres[:2])
        )
    elif popular and not parts:
        parts.append("popular with listeners")
    return "; ".join(parts) or "close to your taste"


def genre_line(lookup: Lookup, artist_id: str, n: int = 3) -> str:
    """What an artist sounds like in a few words: its genres, else its listeners' top tags (most
    applied first), else a note that nothing is listed."""
    genres = as_list(lookup.artists.at[artist_id, "genres"])[:n]
    if genres:
        return ", ".join(genres)
    tags = [t for t in as_list(lookup.artists.at[artist_id, "tags"]) if t and t.get("tag")]
    tags.sort(key=lambda t: -(t.get("weight") or 0.0))
    names = list(dict.fromkeys(str(t["tag"]).casefold() for t in tags))[:n]
    return ("tagged " + ", ".join(names)) if names else "no genre or tag listed"


# ---- recommendation reasons: evidence per row, following the weights actually used -------------

_CO_LISTENING = ("coplay", "als", "walk")
_SOUND = ("energy", "valence", "danceability", "acousticness", "tempo")
_SCALE = {"tempo": 30.0}  # a feature's difference that counts as large (others: 0.15 on 0–1)


def _possessive(name: str) -> str:
    return f"{name}'" if name.endswith("s") else f"{name}'s"


class _Evidence:
    """What the reasons of one list draw on, computed once for every chosen item."""

    def __init__(self, ctx, chosen: Sequence[str], basis: Sequence[str]) -> None:
        self.ctx, self.chosen, self.basis = ctx, list(chosen), list(basis)
        self.lookup = ctx.lookup
        coplay, tags = ctx.indexes.get("coplay"), ctx.indexes.get("tags")
        n, m = len(self.chosen), len(self.basis)
        self.shared = (
            coplay.shared_matrix(self.chosen, self.basis) if coplay and m else np.zeros((n, m))
        )
        # each rated artist's listeners, so a row names the one whose listeners lean its way most
        self.audience = coplay.listeners(self.basis) if coplay and m else np.zeros(m)
        self.tag_sims = tags.similarities(self.chosen, self.basis) if tags and m else None
        self.tag_vector = tags.profile(dict.fromkeys(self.basis, 1.0)) if tags and m else None
        self.tags = tags

    def _name(self, artist: str) -> str:
        names = self.__dict__.setdefault("_names", {})
        if artist not in names:
            names[artist] = self.lookup.name(artist)
        return names[artist]

    def co_listening(self, row: int) -> str | None:
        if not self.basis or self.shared[row].max() <= 0:
            return None
        share = self.shared[row] / np.sqrt(np.maximum(self.audience, 1))
        best = int(np.argmax(share))
        count, total = int(self.shared[row, best]), int(self.audience[best])
        other = self._name(self.chosen[row])
        return f"{count} of {_possessive(self._name(self.basis[best]))} {total} listeners also play {other}"

    def tagged(self, row: int) -> str | None:
        if self.tags is None:
            return None
        item = self.chosen[row]
        if self.tag_vector is not None and self.tag_sims is not None:
            terms = self.tags.shared_terms(self.tag_vector, item, n=2)
            if terms and self.tag_sims[row].max() > 0:
                like = self._name(self.basis[int(np.argmax(self.tag_sims[row]))])
                return "tagged " + ", ".join(terms) + f" like {like}"
        terms = self.tags.top_terms(item, 2)
        return ("tagged " + ", ".join(terms)) if terms else None

    @property
    def _sound(self) -> pd.DataFrame:
        """Artists' sound: their own features, else the mean of their tracks'."""
        cached = getattr(self, "_sound_table", None)
        if cached is None:
            wanted = list(dict.fromkeys([*self.chosen, *self.basis]))
            own = self.lookup.artists.loc[wanted, list(_SOUND)].astype(float)
            tracks = self.lookup.tracks
            mine = tracks[tracks["artist_id"].isin(wanted)]
            means = mine.groupby("artist_id", observed=True)[list(_SOUND)].mean()
            cached = own.fillna(means.reindex(own.index))
            self._sound_table = cached
        return cached

    def sounds(self, row: int) -> str | None:
        artists = self._sound
        item = artists.loc[self.chosen[row], list(_SOUND)].astype(float)
        if item.isna().all():
            return None
        best, gaps = None, None
        for other in self.basis:
            mine = artists.loc[other, list(_SOUND)].astype(float)
            gap = (item - mine).abs() / pd.Series({f: _SCALE.get(f, 0.15) for f in _SOUND})
            if gap.notna().any() and (best is None or gap.mean() < gaps.mean()):
                best, gaps = other, gap
        if best is None:
            words = mood_words(self.lookup.artists.loc[[self.chosen[row]]]).iloc[0]
            return f"sounds {words}" if words else None
        close = [f for f in gaps.sort_values().index[:2] if gaps[f] < 1.0]
        if not close:
            return f"of what is left, sounds closest to {self._name(best)}"
        return f"sounds like {self._name(best)} (similar {' and '.join(close)})"

    def described(self, row: int) -> str | None:
        space = self.ctx.indexes.get("semantic")
        if space is None or not self.basis:
            return None
        vectors = space.vectors("artists")
        held = [a for a in self.basis if a in vectors]
        item = self.chosen[row]
        if not held or item not in vectors:
            return None
        sims = vectors.vectors_of([item]) @ vectors.vectors_of(held).T
        return f"described like {self._name(held[int(np.argmax(sims[0]))])}"

    def popular(self, row: int) -> str:
        from tunescout.serving.recommend import familiarity  # the reach percentile

        pct = float(familiarity(self.ctx, "artists").get(self.chosen[row], 0.0))
        return f"widely played: top {max(1, round(100 - pct))}% of artists by listeners"


def _mood_fit(ctx, artist_or_track: pd.Series, mood: str) -> str:
    """How one item meets a mood: its audio features against the mood's targets, else its tags."""
    intent = _intent(ctx, mood)
    strongest = sorted(intent.weights, key=lambda f: -intent.weights[f])[:2] if intent else []
    shown = []
    for feature in strongest:
        value = artist_or_track.get(feature)
        if value is None or pd.isna(value):
            continue
        target = intent.targets[feature]
        word = FEATURE_WORDS.get((feature, "high" if value >= target else "low"), feature)
        number = f"{value:.0f} BPM" if feature == "tempo" else f"{feature} {value:.2f}"
        shown.append(f"{word} ({number})")
    if shown:
        return f"fits '{mood}': " + ", ".join(shown)
    return f"fits '{mood}' by its description"


def _intent(ctx, mood: str):
    moods = getattr(ctx, "moods", None)
    moods = getattr(ctx, "mood_search", None) if moods is None else moods
    try:
        return moods.intent(mood) if moods is not None else None
    except Exception:  # noqa: BLE001 - a reason never fails a recommendation
        return None


def _reason(evidence: _Evidence, row: int, order: Sequence[str], mood: str | None) -> str:
    """The row's reason: the evidence of its strongest models, in the order they weighed."""
    parts: list[str] = []
    said: set[str] = set()
    for model in order:
        if model in _CO_LISTENING:
            key, text = "co", evidence.co_listening(row)
        elif model == "tags":
            key, text = "tags", evidence.tagged(row)
        elif model == "audio":
            key, text = "audio", None if mood else evidence.sounds(row)
        elif model == "semantic":
            key, text = "semantic", None if mood else evidence.described(row)
        elif model == "popularity":
            key, text = "pop", evidence.popular(row)
        else:
            continue
        if text and key not in said:
            parts.append(text)
            said.add(key)
        if len(parts) == 2:
            break
    if mood:
        item = evidence._sound.loc[evidence.chosen[row]]
        parts.insert(
            0 if set(order[:1]) & {"audio", "semantic"} else len(parts),
            _mood_fit(evidence.ctx, item, mood),
        )
    if not parts:
        parts.append(evidence.tagged(row) or "close to the artists you rated")
    return "; ".join(parts[:3])


def _order(parts: pd.DataFrame, row: int) -> list[str]:
    """The models of one row by their weighted contribution, those that added to it first."""
    values = parts.to_numpy()[row]
    order = np.argsort(-values, kind="stable")
    names = parts.columns.to_numpy()
    positive = [str(names[i]) for i in order if values[i] > 0]
    return positive or [str(names[i]) for i in order]


def for_survey(ctx, chosen: Sequence[str], parts: pd.DataFrame, taste) -> list[str]:
    """Why each chosen artist is there, from the models that weighed most for it: shared
    listeners with an artist you rated highly ("214 of Radiohead's listeners also play Muse"),
    tags it shares with them, how it sounds or is described next to the nearest one, how it meets
    the mood; popularity when nothing was rated.

    Args:
        ctx: The serving context.
        chosen: The chosen artists, best first.
        parts: Each chosen artist's weighted contribution per model (rows aligned with ``chosen``).
        taste: The listener (:class:`~tunescout.serving.recommend.Taste`).
    """
    evidence = _Evidence(ctx, chosen, taste.liked)
    return [_reason(evidence, row, _order(parts, row), taste.mood) for row in range(len(chosen))]


def for_tracks_of_artists(ctx, tracks: pd.DataFrame, reasons: pd.Series, taste) -> list[str]:
    """A track's reason: its artist's, with the mood's fit read off the track itself."""
    out = []
    for _, track in tracks.iterrows():
        base = reasons.get(track["artist_id"], "")
        if taste.mood:
            base = "; ".join(p for p in base.split("; ") if not p.startswith("fits '"))
            fit = _mood_fit(ctx, track, taste.mood)
            base = f"{fit}; {base}" if base else fit
        out.append(base or "popular and close to your taste")
    return out


def for_listener(
    ctx, chosen: Sequence[str], parts: pd.DataFrame, history: Sequence[str]
) -> list[str]:
    """Why each artist suits a listener with a history: shared listeners with the artists they
    play most, shared tags, as the weights of the "listener" row ordered them."""
    evidence = _Evidence(ctx, chosen, history)
    out = []
    for row in range(len(chosen)):
        text = _reason(evidence, row, _order(parts, row), None)
        out.append(text if text else "listeners like you play it")
    return out


def for_session(lookup: Lookup, last_track: str) -> str:
    """Why a track follows a session."""
    return f"follows on from '{lookup.tracks.at[last_track, 'name']}'"


# ---- mood search: what in each track matched ---------------------------------------------------


def _share(percentile: float) -> str:
    """ "top 8%" / "bottom 12%" of the catalog for a mid-rank percentile."""
    if percentile >= 0.5:
        return f"top {max(1, round(100 * (1 - percentile)))}%"
    return f"bottom {max(1, round(100 * percentile))}%"


def for_tracks(ctx, rows, understood, near) -> list[str]:
    """Why each mood-search result is there, from evidence about that track: its year and genre
    when asked for, listeners' tags it shares with the request, how it relates to a reference
    (shared listeners, the relative change), and where its features sit in the catalog.

    Args:
        ctx: The serving context.
        rows: Result rows of the tracks table.
        understood: The request as read (:class:`~tunescout.serving.search.Understood`).
        near: Artist id → closeness to the reference (empty without one).
    """
    query, intent = understood.query, understood.intent
    tracks = ctx.lookup.tracks
    reference = query.reference
    artists = ctx.track_artists[rows]
    shared = (
        pd.Series(ctx.shared_listeners(reference.artist_id, artists), index=artists)
        if reference is not None
        else None
    )
    ref_means = ctx.artist_means(reference) if reference is not None else {}
    ref_name = reference.name.split(" — ")[-1] if reference is not None else ""
    asked = set(query.genres)
    strongest = sorted(intent.weights, key=lambda f: -intent.weights[f])[:2]
    out = []
    for position, row in enumerate(rows):
        track = tracks.iloc[row]
        parts: list[str] = []
        if query.years and pd.notna(track["release_year"]):
            parts.append(str(int(track["release_year"])))
        if asked:
            artist_genres = as_list(ctx.lookup.artists.at[track["artist_id"], "genres"])
            matched = [g for g in [*as_list(track["genres"]), *artist_genres] if g in asked]
            if matched:
                parts.append(matched[0])
        tags = ctx.matched_tags(row, query.rest.split()) if query.rest else []
        if tags:
            parts.append("tagged " + ", ".join(f"‘{t}’" for t in tags[:2]) + " by listeners")
        if reference is not None:
            count = int(shared.iloc[position]) if shared is not None else 0
            if count:
                parts.append(f"{count} {ref_name} listeners also play {track['artist_name']}")
            elif track["artist_id"] in near.index:
                parts.append(f"close to {ref_name} ({near.name or 'similarity'})")
            for feature, sign in query.relative.items():
                if feature in ref_means and pd.notna(track[feature]):
                    word = "more" if sign > 0 else "less"
                    parts.append(
                        f"{word} {feature} than {ref_name} "
                        f"({track[feature]:.2f} vs {ref_means[feature]:.2f})"
                    )
        for feature in strongest:
            if feature in query.relative:
                continue
            pct = float(ctx.moods.percentile(feature, np.array([row]))[0])
            target_high = intent.targets[feature] >= ctx.moods.median(feature)
            if (pct >= 0.5) == target_high:
                label = FEATURE_WORDS.get((feature, "high" if target_high else "low"), feature)
                parts.append(f"{label}: {feature} in the {_share(pct)}")
        if not parts:
            words = mood_words(tracks.iloc[[row]]).iloc[0]
            parts.append(f"sounds {words}" if words else "close to the words of the request")
        out.append(" · ".join(parts))
    return out
