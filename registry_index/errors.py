"""The domain's exceptions, each with the HTTP status the edge answers it with (``responses.py``)."""

from __future__ import annotations


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


class BadGateway(RegistryError):
    """An upstream answered with something this index will not relay (altered bytes, a
    malformed page)."""

    status = 502


class UpstreamUnavailable(RegistryError):
    """An upstream could not be reached and nothing cached can stand in: retry shortly."""

    status = 503

    def __init__(self, message: str, retry_after: int = 5) -> None:
        super().__init__(message)
        self.retry_after = retry_after
