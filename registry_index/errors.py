"""Domain exceptions, and the one table at the edge that turns them into HTTP responses."""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import Response

from .server.phrase import HEADER, phrase_of
from .storage import StorageError

REASON_HEADER = HEADER.decode("ascii")

log = logging.getLogger("registry_index")


class RegistryError(Exception):
    status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(RegistryError):
    status = 404


class InvalidRequest(RegistryError):
    status = 400


class InvalidUpload(RegistryError):
    """Every problem found with an upload, reported together in one 400."""

    status = 400
    MAX_PROBLEMS = 20  # a refusal stays a few KiB however broken the upload is
    MAX_LINE = 1000

    def __init__(self, problems: list[str]) -> None:
        shown = [p if len(p) <= self.MAX_LINE else p[: self.MAX_LINE] + "..." for p in problems]
        if len(shown) > self.MAX_PROBLEMS:
            more = len(shown) - self.MAX_PROBLEMS
            shown = [*shown[: self.MAX_PROBLEMS], f"... and {more} more problems."]
        self.problems = shown
        super().__init__("\n".join(shown))


class FileAlreadyExists(RegistryError):
    # twine and poetry look for "already exist" in a 400; uv publish compares hashes itself.
    status = 400


class Unauthenticated(RegistryError):
    status = 401


class Forbidden(RegistryError):
    status = 403


class Conflict(RegistryError):
    status = 409


class TooManyRequests(RegistryError):
    status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def _wants_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    return "application/json" in accept and "text/plain" not in accept.split(",")[0]


def error_response(request: Request, status: int, message: str, retry_after: int | None = None) -> Response:
    headers: dict[str, str] = {}
    if status == 401:
        headers["WWW-Authenticate"] = 'Basic realm="registry_index"'
    if status == 503:
        headers["Retry-After"] = "5"
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    if 400 <= status < 500 and status not in (404, 405):
        # twine, hatch and pdm show only the status line: put the message there, as PyPI does.
        headers[REASON_HEADER] = phrase_of(message).decode("ascii")
    if _wants_json(request):
        body = json.dumps({"message": message, "code": f"{status} {message.splitlines()[0]}"})
        return Response(body, status, headers, media_type="application/json")
    return Response(message + "\n", status, headers, media_type="text/plain")


async def handle_registry_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RegistryError)
    return error_response(request, exc.status, exc.message, getattr(exc, "retry_after", None))


async def handle_storage_error(request: Request, exc: Exception) -> Response:
    log.warning("storage unavailable: %s", exc)
    return error_response(request, 503, "The package store is unavailable; retry shortly.")


EXCEPTION_HANDLERS = {
    RegistryError: handle_registry_error,
    StorageError: handle_storage_error,
}
