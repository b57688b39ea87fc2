"""Answers to byte-identical requests, reused for a tenth of a second.

Clients of one kind send one request for one page byte for byte alike: every pip of one
version on one CI image asks for ``/simple/numpy/`` with the same headers, and a mirror or
a load test asks for the same page again and again. When a request that arrived as a whole
(one read, one request, no body) was answered with a prepared page, its bytes are kept here
with that answer. The same bytes arriving on a connection whose parser is between requests
parse to the same request, so the protocol writes the kept answer without parsing again
(``server/protocol.py``).

An answer is reused only while both hold:
- it is younger than ``REPEAT_SECONDS``: what another instance wrote shows at most that much
  later than a cached sidecar alone would let it (``--freshness``);
- the app's ``epoch`` is unchanged: it moves on every write this process makes, so an
  uploader reads its own upload at once, as without this cache.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

REPEAT_SECONDS = 0.1
MAX_REQUEST = 4096  # bytes: larger requests are not kept
MAX_ENTRIES = 1024
MAX_ANSWER = 256 * 1024  # bytes of body: a bigger answer (a root page at scale) costs its
# write, not its lookup, and is not worth holding


class Answer(Protocol):
    status: int

    @property
    def size(self) -> int: ...

    def fields(self) -> bytes | None: ...

    def body_chunks(self) -> tuple[bytes, ...]: ...


@dataclass(slots=True)
class Repeat:
    scope: dict[str, Any]  # the request's method, path, query and version (no client, no headers)
    answer: Answer
    expires: float
    epoch: int


class Repeats:
    """Request bytes to their answer: bounded in entries and in request size."""

    def __init__(self, max_entries: int = MAX_ENTRIES, lifetime: float = REPEAT_SECONDS) -> None:
        self._entries: OrderedDict[bytes, Repeat] = OrderedDict()
        self._max = max_entries
        self._lifetime = lifetime

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    def get(self, request: bytes, now: float, epoch: int) -> Repeat | None:
        self._expire(now)
        hit = self._entries.get(request)
        if hit is None:
            return None
        if hit.expires <= now or hit.epoch != epoch:
            del self._entries[request]
            return None
        return hit

    def put(self, request: bytes, scope: dict[str, Any], answer: Answer, now: float, epoch: int) -> None:
        if len(request) > MAX_REQUEST or answer.size > MAX_ANSWER:
            return
        self._expire(now)
        self._entries[request] = Repeat(scope, answer, now + self._lifetime, epoch)
        self._entries.move_to_end(request)
        while len(self._entries) > self._max:
            self._entries.popitem(last=False)

    def _expire(self, now: float) -> None:
        # Oldest first, all with one lifetime: what has expired is at the front. So nothing
        # keeps an answer (a page the page cache has let go, say) longer than its lifetime.
        entries = self._entries
        while entries:
            oldest = next(iter(entries.values()))
            if oldest.expires > now:
                return
            entries.popitem(last=False)
