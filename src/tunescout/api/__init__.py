"""tunescout's HTTP API: a FastAPI app over the same engine and ratings database as the app.

Serve it with ``python scripts/serve.py --data-dir data --port 8000``; the endpoints, errors,
limits and settings are described in ``docs/API.md`` and at ``/docs``.
"""

from tunescout.api.app import create_app, from_environment

__all__ = ["create_app", "from_environment"]
