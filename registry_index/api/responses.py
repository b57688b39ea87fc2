"""The one table at the edge that turns exceptions into HTTP responses."""

from __future__ import annotations

import json
import logging

from starlette.requests import Request
from starlette.responses import Response

from ..errors import RegistryError
from ..server.phrase import HEADER, phrase_of
from ..storage import StorageError

REASON_HEADER = HEADER.decode("ascii")

log = logging.getLogger("registry_index")


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
