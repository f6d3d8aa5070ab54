"""Model report: the latest offline evaluation and mood-search scores on two screens (means with
each metric explained, one chart, the full tables behind expanders), a one-line glossary of every
metric and model, and where the data came from."""

from __future__ import annotations

import streamlit as st

from tunescout.ui import report, routing, state
from tunescout.ui.text import one_line_errors

routing.ensure_routed(__file__)

with one_line_errors("Showing the model report"):
    st.title("📊 Model report")
    status = state.require_engine().status()
    metrics, models = [], []

    st.subheader("Recommendation models")
    evaluation = report.load("evaluation.json", status["index_build"])
    if evaluation is not None:
        shown = report.recommendations(evaluation)
        metrics, models = metrics + shown[0], models + shown[1]

    st.subheader("Mood search")
    mood = report.load("mood.json", status["index_build"])
    if mood is not None:
        shown = report.mood(mood)
        metrics, models = metrics + shown[0], models + shown[1]

    if metrics or models:
        with st.expander("Glossary: every metric and model above in one line"):
            st.dataframe(
                report.glossary(metrics, models),
                hide_index=True,
                column_config={"meaning": st.column_config.TextColumn(width="large")},
            )

    st.subheader("Data provenance")
    report.provenance(status)
