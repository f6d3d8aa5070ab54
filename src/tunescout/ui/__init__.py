"""tunescout's Streamlit layer, shared by ``app.py`` and the pages in ``pages/``.

UI only: every decision about music is the engine's, every stored rating the ratings store's.

- :mod:`~tunescout.ui.routing`: page paths and the deep-link guard.
- :mod:`~tunescout.ui.state`: settings, the cached engine and ratings store, the active profile.
- :mod:`~tunescout.ui.calls`: typed, cached engine calls that show a refusal as a one-line error.
- :mod:`~tunescout.ui.widgets`: filter controls, familiarity bands and catalog facts.
- :mod:`~tunescout.ui.tables`: result tables, the detail of one item and its radar.
- :mod:`~tunescout.ui.actions`: like / skip / play next / more like this.
- :mod:`~tunescout.ui.text`: escaping of data text, error boxes and progress bars.
- :mod:`~tunescout.ui.plots`: the Plotly figures.
"""

__all__ = ["actions", "calls", "plots", "routing", "state", "tables", "text", "widgets"]
