"""The API's endpoints, one module per area."""

from tunescout.api.models import ErrorOut

ERRORS: dict[int | str, dict] = {
    400: {"model": ErrorOut, "description": "bad input (the engine's one-line message)"},
    401: {"model": ErrorOut, "description": "a key is set and the request lacks it"},
    404: {"model": ErrorOut, "description": "unknown id, or no data for it in that model"},
    429: {"model": ErrorOut, "description": "rate limited (see Retry-After)"},
    503: {"model": ErrorOut, "description": "loading, building or the ratings database is busy"},
}
