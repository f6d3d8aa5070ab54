"""Every failure as one JSON body with the one-line message of the error hierarchy and its status.

``{"error": "<one line>", "kind": "<what went wrong>", "status": 404}`` (plus ``problems`` for a
rejected ratings file). Nothing else ever reaches a client: unexpected exceptions are logged with
their traceback and answered with a reference to the log line.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from tunescout.errors import (
    ArtifactError,
    CatalogError,
    DataMissingError,
    InputError,
    StorageError,
    TunescoutError,
    UnknownIdError,
)
from tunescout.jobs import LockBusy
from tunescout.serving.checks import shown
from tunescout.serving.ratings import ImportRejected

log = logging.getLogger("tunescout.api")
MAX_MESSAGE = 500  # characters of one error line
ERROR_KEY = "tunescout.error"  # the kind of a failure, left in the request scope for metrics
_HTTP_KINDS = {
    401: "unauthorized",
    404: "not_found",
    405: "method_not_allowed",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


_HTTP_MESSAGES = {
    404: "no such endpoint: see /docs for the API's paths",
    405: "this endpoint does not take that method: see /docs",
}


class ApiError(TunescoutError):
    """A refusal made by the API itself (auth, limits, a service not ready)."""

    def __init__(
        self, status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.kind, self.headers = status, kind, dict(headers or {})


def one_line(message: object) -> str:
    """``message`` on one line, at most :data:`MAX_MESSAGE` characters."""
    text = " ".join(str(message).split())
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 1] + "…"


def _never() -> bool:
    return False


def classify(
    exc: BaseException, building: Callable[[], bool] = _never
) -> tuple[int, str, dict[str, str]]:
    """``(status, kind, headers)`` of an exception; ``building()``: whether a build is running now
    (asked only about missing data)."""
    if isinstance(exc, ApiError):
        return exc.status, exc.kind, exc.headers
    if isinstance(exc, UnknownIdError):
        return 404, "unknown_id", {}
    if isinstance(exc, InputError):
        return 400, "input", {}
    if isinstance(exc, StorageError):
        busy = "busy" in str(exc)
        return 503, "storage_busy" if busy else "storage", {"Retry-After": "1"} if busy else {}
    if isinstance(exc, LockBusy):
        return 409, "busy", {"Retry-After": "5"}
    if isinstance(exc, DataMissingError):
        if building():
            return 503, "building", {"Retry-After": "10"}
        return 404, "data_missing", {}
    if isinstance(exc, ArtifactError | CatalogError):
        return 503, "unavailable", {}
    return 500, "error", {}


def body(status: int, kind: str, message: str, problems: Sequence[str] = ()) -> bytes:
    payload: dict[str, object] = {"error": one_line(message), "kind": kind, "status": status}
    if problems:
        payload["problems"] = [one_line(p) for p in list(problems)[:100]]
    return json.dumps(payload, ensure_ascii=False).encode()


def for_exception(
    exc: BaseException, building: Callable[[], bool] = _never
) -> tuple[int, str, dict, bytes]:
    """``(status, kind, headers, JSON body)`` answering ``exc``; an unexpected exception is logged
    with its traceback and answered with a reference, never its text."""
    if isinstance(exc, TunescoutError):
        status, kind, headers = classify(exc, building)
        message = str(exc)
        if kind == "building":
            message += " (a build is running: try again when it finishes)"
        problems = exc.problems if isinstance(exc, ImportRejected) else ()
        return status, kind, headers, body(status, kind, message, problems)
    if isinstance(exc, RequestValidationError | ValidationError):
        return 400, "input", {}, body(400, "input", validation_message(exc.errors()))
    if isinstance(exc, HTTPException):
        kind = _HTTP_KINDS.get(exc.status_code, "http")
        headers = dict(exc.headers or {})
        message = _HTTP_MESSAGES.get(exc.status_code, str(exc.detail))
        return exc.status_code, kind, headers, body(exc.status_code, kind, message)
    ref = uuid.uuid4().hex[:12]
    log.error("unexpected error %s", ref, exc_info=exc)
    message = f"an internal error ({ref} in the server's log); try again or report it"
    return 500, "internal", {}, body(500, "internal", message)


_BRANCHES = {"int", "float", "str", "bool", "list", "dict", "tuple", "none", "function-after"}


def validation_message(errors: Sequence[Mapping]) -> str:
    """One line for a request that did not match its model: where, what, and what came."""
    if not errors:
        return "the request does not match its model"
    first = errors[0]
    loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
    loc = [p for p in loc if p.split("[")[0] not in _BRANCHES] or ["request"]
    what, message = ".".join(loc), str(first.get("msg", "is not valid"))
    if first.get("type") == "extra_forbidden":
        message = "is not a field of this request (see /docs)"
    elif first.get("type") == "missing":
        message = "is required"
    elif first.get("type") == "json_invalid":
        what, message = "the body", "is not valid JSON"
    elif tuple(first.get("loc", ())) == ("body",):
        what, message = "the body", "must be a JSON object sent as application/json"
    got = first.get("input")
    if (
        what != "the body"
        and first.get("type") not in ("missing", "extra_forbidden")
        and (got is None or isinstance(got, str | int | float | bool))
    ):
        message += f", got {shown(got)}"
    places = {tuple(e.get("loc", ())[:3]) for e in errors}
    more = f" (and {len(places) - 1} more)" if len(places) > 1 else ""
    return one_line(f"{what}: {message}{more}")
