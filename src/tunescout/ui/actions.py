"""One-click actions on results, saved to the active profile: the marks a result table starts from
(liked, skipped, queued), what a changed mark does, and the buttons of a single item.

On a track, 👍 likes it (and its artist, 5 stars) and 👎 skips it: "not this track", remembered for
the track and left out of For You's tracks; two skipped tracks of an artist count as a weak no for
the artist (:meth:`~tunescout.serving.ratings.RatingsStore.effective_ratings`). On an artist, 👍 is
5 stars and 👎 2 stars ("not for me"). ▶ adds a track to the play-next queue (unticked: takes it
out); 🔎 opens Similar on the item.

A table's boxes are ``st.data_editor`` checkbox columns. A click runs :func:`edited` as the
editor's ``on_change`` callback, which saves the clicks made since the last one it took
(:func:`clicks`): one script run per click, and clicks faster than a run all land in the same
widget. :func:`board` draws the table afresh from what is saved whenever the two differ.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import pandas as pd
import streamlit as st

from tunescout.serving.ratings import LIKE_STARS, NOT_FOR_ME
from tunescout.ui import state
from tunescout.ui.routing import SIMILAR
from tunescout.ui.text import escape, one_line_errors

MARKS = {"track": ("like", "skip", "queue", "more"), "artist": ("like", "skip", "more")}
Edit = tuple[int, str, bool]  # (row, mark, new value)


def marks_of(
    frame: pd.DataFrame,
    kind: str,
    feedback: Mapping[str, str],
    queued: Collection[str],
    stars: Mapping[str, int],
) -> pd.DataFrame:
    """The saved state of each row as boolean columns :data:`MARKS` [kind] (``more`` always False).

    Args:
        frame: Results with ``track_id`` (tracks) or ``artist_id`` (artists).
        feedback: Track id → ``"like"`` or ``"skip"``.
        queued: The queued track ids.
        stars: Artist id → saved stars (4–5 show as 👍, 1–2 as 👎).
    """
    if kind == "track":
        ids = frame["track_id"].astype(str)
        out = pd.DataFrame(
            {
                "like": ids.map(lambda t: feedback.get(t) == "like"),
                "skip": ids.map(lambda t: feedback.get(t) == "skip"),
                "queue": ids.isin(set(queued)),
            }
        )
    else:
        given = frame["artist_id"].astype(str).map(lambda a: stars.get(a, 0))
        out = pd.DataFrame({"like": given >= 4, "skip": given.between(1, NOT_FOR_ME)})
    out["more"] = False
    return out.reset_index(drop=True).astype(bool)


def marks(frame: pd.DataFrame, kind: str) -> pd.DataFrame:
    """:func:`marks_of` from the active profile's saved likes, skips, queue and ratings."""
    store, profile = state.store(), state.profile()
    if kind == "track":
        feedback = {t: action for t, (_, action) in store.track_feedback(profile).items()}
        return marks_of(frame, kind, feedback, store.queue(profile), {})
    return marks_of(frame, kind, {}, (), store.ratings(profile))


def changes(before: pd.DataFrame, after: pd.DataFrame) -> list[Edit]:
    """``(row, mark, new value)`` for every mark that differs, in row order."""
    found = []
    for mark in before.columns:
        differs = before[mark].astype(bool).to_numpy() != after[mark].astype(bool).to_numpy()
        found += [(int(row), mark, bool(after[mark].iloc[row])) for row in differs.nonzero()[0]]
    return sorted(found)


def edits_of(widget: Mapping | None, before: pd.DataFrame) -> list[Edit]:
    """The marks an editor's state changed (``{"edited_rows": {row: {column: value}}}``)
    against ``before``, in row order; other columns and unknown rows are ignored."""
    found = []
    for row, cells in dict((widget or {}).get("edited_rows") or {}).items():
        row = int(row)
        for mark, value in dict(cells).items():
            known = mark in before.columns and 0 <= row < len(before)
            if known and bool(value) != bool(before[mark].iloc[row]):
                found.append((row, mark, bool(value)))
    return sorted(found)


@dataclass(frozen=True)
class Saved:
    """What :func:`apply` did: every mark saved, and the item to open when 🔎 was ticked."""

    similar: tuple[str, str] | None = None


@one_line_errors("Saving your choice")
def apply(frame: pd.DataFrame, edits: list[Edit], kind: str) -> Saved | None:
    """Save each changed mark and say so in a toast; ``None`` after a failure (shown in one
    line). A 🔎 ends the clicks read (the page then opens Similar on it)."""
    store, profile = state.store(), state.profile()
    for row, mark, value in edits:
        item = frame.iloc[row]
        name = escape(item["name"])
        if mark == "more":
            if value:
                return Saved((kind, str(item[f"{kind}_id"])))
            continue
        if kind == "track":
            track, artist = str(item["track_id"]), str(item["artist_id"])
            if mark == "queue":
                if value:
                    store.enqueue(profile, track)
                else:
                    store.remove_from_queue(profile, track)
                st.toast(f"{'Queued' if value else 'Took out of the queue'}: {name}")
            else:
                store.mark_track(profile, track, artist, mark if value else None)
                st.toast(_said(mark, value, name, escape(item.get("artist_name", ""))))
        else:
            stars = LIKE_STARS if mark == "like" else NOT_FOR_ME
            if value:
                store.rate(profile, str(item["artist_id"]), stars)
            else:
                store.forget(profile, str(item["artist_id"]))
            st.toast(f"{name}: {f'saved as {stars} stars' if value else 'rating taken back'}")
    return Saved()


def _said(mark: str, value: bool, name: str, artist: str) -> str:
    if mark == "like" and value:
        return f"Liked {name}: {LIKE_STARS} stars for {artist}"
    if mark == "skip" and value:
        return f"Skipped {name}: not this track (two skips of one artist are a weak no)"
    return f"Took back the {mark} of {name}"


def version_key(table: str) -> str:
    """The session-state key of a table's version (bumped when it is drawn afresh)."""
    return f"{table}_version"


def _cells(widget: Mapping | None) -> dict[tuple[int, str], bool]:
    """An editor state's edited cells as ``(row, column) → value``."""
    rows = dict((widget or {}).get("edited_rows") or {})
    return {(int(r), str(c)): bool(v) for r, cells in rows.items() for c, v in dict(cells).items()}


def clicks(now: Mapping | None, seen: Mapping | None, base: pd.DataFrame) -> list[Edit]:
    """The marks whose value differs between two states of one editor (a cell missing from a
    state has its value in ``base``), in row order: the clicks made since ``seen``."""
    now_cells, seen_cells = _cells(now), _cells(seen)
    found = []
    for row, mark in set(now_cells) | set(seen_cells):
        if mark not in base.columns or not 0 <= row < len(base):
            continue
        default = bool(base[mark].iloc[row])
        value = now_cells.get((row, mark), default)
        if value != seen_cells.get((row, mark), default):
            found.append((row, mark, value))
    return sorted(found)


def displayed(base: pd.DataFrame, widget: Mapping | None) -> pd.DataFrame:
    """The marks an editor shows: ``base`` with its edited cells."""
    out = base.copy()
    for (row, mark), value in _cells(widget).items():
        if mark in out.columns and 0 <= row < len(out):
            out.loc[out.index[row], mark] = value
    return out


def take(editor: str, frame: pd.DataFrame, kind: str) -> Saved | None:
    """Save the clicks an editor received since they were last taken (see :func:`clicks`)."""
    base = st.session_state[f"{editor}::base"]
    now = st.session_state.get(editor)
    edits = clicks(now, st.session_state.get(f"{editor}::seen"), base)
    st.session_state[f"{editor}::seen"] = {"edited_rows": dict(_rows(now))}
    return apply(frame, edits, kind) if edits else Saved()


def _rows(widget: Mapping | None) -> dict:
    return {r: dict(c) for r, c in dict((widget or {}).get("edited_rows") or {}).items()}


def pending(editor: str) -> bool:
    """Whether the editor holds clicks not taken yet (they reached the script without the
    callback: AppTest seeds an editor's state that way)."""
    seen = st.session_state.get(f"{editor}::seen")
    return _cells(st.session_state.get(editor)) != _cells(seen)


def edited(editor: str, frame: pd.DataFrame, kind: str) -> None:
    """``on_change`` of a result table: save the clicks, and remember a 🔎 for the page to
    follow (a callback cannot switch pages)."""
    done = take(editor, frame, kind)
    if done is not None and done.similar:
        st.session_state["open_similar"] = done.similar


def board(key: str, frame: pd.DataFrame, kind: str) -> tuple[str, pd.DataFrame]:
    """The editor key and the marks to draw a result table with.

    One editor (one key) serves a table while what it shows matches what is saved, so clicks in
    quick succession all land in the same widget; it is drawn afresh (a new key, from what is
    saved) when they differ: a mark changed elsewhere (another table, another tab), or a click the
    store resolved otherwise (👎 on a liked track takes the like away).
    """
    version = st.session_state.get(version_key(key), 0)
    editor = f"{key}_{version}"
    if f"{editor}::base" not in st.session_state:
        st.session_state[f"{editor}::base"] = marks(frame, kind)
    if pending(editor):  # clicks without the callback: saved, then the page runs as after one
        done = take(editor, frame, kind)
        if done is not None and done.similar:
            more_like_this(*done.similar)
        if done is not None:  # else its one-line error stays on the page
            st.rerun()
    saved = marks(frame, kind)
    shown = displayed(st.session_state[f"{editor}::base"], st.session_state.get(editor))
    if not shown.equals(saved):
        for suffix in ("::base", "::seen"):
            st.session_state.pop(f"{editor}{suffix}", None)
        st.session_state[version_key(key)] = version + 1
        editor = f"{key}_{version + 1}"
        st.session_state[f"{editor}::base"] = saved
    return editor, st.session_state[f"{editor}::base"]


def follow() -> None:
    """Open Similar when a 🔎 was ticked in a callback (a callback cannot switch pages)."""
    target = st.session_state.pop("open_similar", None)
    if target:
        more_like_this(*target)


@one_line_errors("Opening Similar")
def more_like_this(kind: str, item_id: str) -> None:
    """Open Similar on the item (``kind`` "track" or "artist")."""
    st.switch_page(SIMILAR, query_params={"profile": state.profile(), kind: item_id})


@one_line_errors("Saving your choice")
def _press(kind: str, row: Mapping, mark: str) -> None:
    frame = pd.DataFrame([dict(row)])
    before = marks(frame, kind)
    apply(frame, [(0, mark, not bool(before[mark].iloc[0]))], kind)


def buttons(row: pd.Series, key: str, kind: str) -> None:
    """One item's like / skip (and play next for tracks) as toggles showing their saved state
    (✓), and more like this."""
    now = marks(pd.DataFrame([row]), kind).iloc[0]
    labels = {"like": "👍 Like", "skip": "👎 Skip", "queue": "▶ Play next"}
    shown = [m for m in MARKS[kind] if m != "more"]
    cols = st.columns(len(shown) + 1)
    for col, mark in zip(cols, shown, strict=False):
        col.button(
            labels[mark] + (" ✓" if now[mark] else ""),
            key=f"{key}_{mark}",
            on_click=_press,
            args=(kind, row.to_dict(), mark),
            width="stretch",
        )
    if cols[-1].button("🔎 More like this", key=f"{key}_more", width="stretch"):
        more_like_this(kind, row[f"{kind}_id"])


# ---- the play-next queue ---------------------------------------------------------------------

QUEUE_MARKS = ("up", "down", "remove")


def queue_after(queue: list[str], edits: list[Edit]) -> list[str]:
    """The queue after the first ticked mark: ``up`` or ``down`` moves that track one place
    (nothing at either end), ``remove`` takes it out."""
    order = list(queue)
    for row, mark, value in edits:
        if not value or not 0 <= row < len(order):
            continue
        if mark == "remove":
            del order[row]
        elif mark in ("up", "down"):
            other = row - 1 if mark == "up" else row + 1
            if 0 <= other < len(order):
                order[row], order[other] = order[other], order[row]
        return order
    return order


@one_line_errors("Changing your queue")
def reorder(queue: list[str], edits: list[Edit], names: list[str]) -> Saved | None:
    """Save the queue after a click in its table and say what changed; ``None`` after a
    failure (shown in one line)."""
    after = queue_after(queue, edits)
    if after != queue:
        state.store().replace_queue(state.profile(), after)
        row, mark, _ = next(e for e in edits if e[2])
        what = {"up": "Moved up", "down": "Moved down", "remove": "Took out of the queue"}
        st.toast(f"{what[mark]}: {escape(names[row])}")
    return Saved()


def queue_edited(editor: str, table: str, queue: list[str], names: list[str]) -> None:
    """``on_change`` of the queue table: save the new order and draw the table afresh."""
    before = pd.DataFrame(False, index=range(len(queue)), columns=list(QUEUE_MARKS))
    st.session_state[version_key(table)] = st.session_state.get(version_key(table), 0) + 1
    reorder(queue, edits_of(st.session_state.get(editor), before), names)
