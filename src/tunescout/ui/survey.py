"""The Rate artists survey's cards across clicks, "Show me other artists" and reloads.

Progress counts every saved rating (toward :data:`GOAL`), never only the cards on screen, so
neither a refresh nor a reload takes it back. The cards are kept per profile in the session: rated
cards stay where they are, "Show me other artists" swaps only the unrated ones for artists not
rated and not shown before (a whole new set once every card is rated), and a new session (a
reload) starts from the best artists the profile has not rated yet.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence

import pandas as pd
import streamlit as st

GOAL = 10  # ratings that make good recommendations; also the number of cards shown
FOR_YOU_FROM = 3  # ratings after which the page links to For You


def refreshed(
    cards: Sequence[str], rated: Collection[str], fresh: Callable[[int], list[str]], size: int
) -> list[str]:
    """The cards after "Show me other artists": the rated cards in their places, each unrated
    one replaced by one of ``fresh(n)`` (new artists, best first); all new when every card is
    rated. Fewer cards come back when ``fresh`` runs out."""
    if all(card in rated for card in cards):
        return list(fresh(size))[:size]
    gaps = [i for i, card in enumerate(cards) if card not in rated]
    new = iter(fresh(len(gaps)))
    out = [card if card in rated else next(new, None) for card in cards]
    return [card for card in out if card is not None]


def progress_text(count: int, profile_label: str) -> tuple[float, str]:
    """The bar's fraction and text for ``count`` saved ratings."""
    if count >= GOAL:
        return (
            1.0,
            f"{count} rated — enough for good recommendations; more refine them · saved as “{profile_label}”",
        )
    return count / GOAL, f"{count} of {GOAL} rated · saved as “{profile_label}”"


class Cards:
    """The survey cards of one profile in this session (artist ids, and each card's row)."""

    def __init__(self, profile: str) -> None:
        self.key = f"survey_cards::{profile}"
        held = st.session_state.setdefault(self.key, {"ids": [], "rows": {}, "seen": set()})
        self.ids: list[str] = held["ids"]
        self.rows: dict[str, dict] = held["rows"]
        self.seen: set[str] = held["seen"]

    def take(self, frame: pd.DataFrame | None) -> list[str]:
        """Remember the rows of newly found artists; their ids, best first."""
        if frame is None:
            return []
        for row in frame.to_dict("records"):
            self.rows[str(row["artist_id"])] = row
            self.seen.add(str(row["artist_id"]))
        return [str(a) for a in frame["artist_id"]]

    def set(self, ids: list[str]) -> None:
        self.ids[:] = ids

    def frame(self, known: Collection[str]) -> pd.DataFrame:
        """The cards in order (artists missing from the loaded catalog left out)."""
        rows = [self.rows[a] for a in self.ids if a in known and a in self.rows]
        return pd.DataFrame(rows)
