"""Rate artists: a survey of well-known artists across styles (1–5 stars or "don't know"), search for
more, and manage the saved ratings (export, import, delete). Progress counts every saved rating, so
"Show me other artists" and a reload keep it (see :mod:`tunescout.ui.survey`)."""

import pandas as pd
import streamlit as st

from tunescout.serving.explain import genre_line
from tunescout.ui import calls, routing, state, survey
from tunescout.ui.text import escape, one_line_errors

routing.ensure_routed(__file__)

with one_line_errors("Showing Rate artists"):
    engine = state.require_engine()
    profile, store = state.profile(), state.store()
    saved = store.ratings(profile)
    flash = st.session_state.pop("ratings_flash", None)
    version = st.session_state.setdefault(
        "ratings_version", 0
    )  # bumped when ratings change in bulk
    seed = st.session_state.setdefault("survey_seed", 0)

    @one_line_errors("Saving your rating")
    def save(artist_id: str, key: str) -> None:
        """Store the stars just clicked (clicking the same star again clears the rating)."""
        value = st.session_state[key]
        if value is None:
            store.forget(profile, artist_id)
        else:
            store.rate(profile, artist_id, value + 1)

    def stars(row, where: str) -> None:
        key = f"stars_{where}_{version}_{profile}_{row['artist_id']}"
        with st.container(border=True):
            st.markdown(f"**{escape(row['name'])}**")
            # genres, else listeners' top tags (HetRec artists have tags but no genres)
            lookup = engine.context.lookup
            why = row["why"] if "why" in row else genre_line(lookup, row["artist_id"])
            st.caption(escape(why))
            current = saved.get(row["artist_id"])
            st.feedback(
                "stars",
                key=key,
                default=None if current is None else current - 1,
                on_change=save,
                args=(row["artist_id"], key),
            )

    st.title("⭐ Rate artists")
    if flash:
        st.success(flash)
    cards = survey.Cards(profile)
    known = engine.artists.index

    def fresh(n: int) -> list[str]:
        """``n`` artists to rate that are neither rated nor shown before in this session."""
        found = calls.survey_artists(n, exclude=sorted(set(saved) | cards.seen), seed=seed)
        return cards.take(found)

    if not [a for a in cards.ids if a in known]:  # a new session (or a reload): the next unrated
        cards.set(fresh(survey.GOAL))
    fraction, text = survey.progress_text(len(saved), escape(profile))
    st.progress(fraction, text=text)
    if len(saved) >= survey.FOR_YOU_FROM:
        st.page_link(routing.FOR_YOU, label="See your recommendations", icon="🎁")
    shown = cards.frame(known)
    cols = st.columns(2)
    for i, row in enumerate(shown.to_dict("records")):
        with cols[i % 2]:
            stars(pd.Series(row), "survey")
    if st.button(
        "Show me other artists",
        help="The artists you have not rated are swapped for new ones; your ratings stay",
    ):
        st.session_state["survey_seed"] = seed + 1
        cards.set(survey.refreshed(cards.ids, set(saved), fresh, survey.GOAL))
        st.rerun()

    with st.expander("Find an artist to rate"):
        needle = st.text_input("Artist name", key="find_artist", max_chars=100)
        hits = calls.find_artists(needle, 5) if needle.strip() else None
        for _, row in hits.iterrows() if hits is not None else []:
            stars(row, "find")
        if hits is not None and hits.empty:
            st.caption("No artist by that name in the catalog.")

    st.subheader("Your ratings")
    if saved:
        table = store.table(profile)
        table["name"] = (
            table["artist_id"].map(engine.artists["name"]).fillna("(not in this catalog)")
        )
        st.dataframe(table[["name", "stars", "updated_at", "artist_id"]], hide_index=True)
        st.download_button(
            "Export CSV",
            store.export_csv(profile, names=engine.artists["name"]),
            f"ratings-{profile}.csv",
            "text/csv",
            help="artist_id, artist_name, stars, updated_at; opens safely in a spreadsheet",
        )
    else:
        st.info("No ratings yet: click the stars above.")
    upload = st.file_uploader("Import a ratings CSV (columns artist_id, stars)", type=["csv"])
    if upload is not None and st.button("Import", key="import"):
        with one_line_errors("Importing the ratings"):
            count = store.import_csv(profile, upload.getvalue(), known=set(engine.artists.index))
            st.session_state["ratings_version"] = version + 1
            st.session_state["ratings_flash"] = f"Imported {count} ratings."
            st.rerun()
    confirm = bool(saved) and st.toggle("Delete ratings…", key="delete_toggle")
    label = f"Delete all {len(saved)} ratings of “{escape(profile)}”"
    if confirm and st.button(label, type="primary"):
        with one_line_errors("Deleting the ratings"):
            store.delete_profile(profile)
            st.session_state["ratings_version"] = version + 1
            st.rerun()
