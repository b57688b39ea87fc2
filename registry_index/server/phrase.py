"""Custom HTTP reason phrases: the one line a client shows for a refusal.

twine (without ``--verbose``), hatch and pdm print only ``400 Bad Request``: the status code
and the reason phrase, never the body. PyPI puts its message in the phrase
(``400 File already exists ...``), and these clients rely on it. ASGI has no way to set a
phrase, so the app states it in the ``x-reason-phrase`` response header, and the server
layer (``server/protocol.py``) moves it into the status line and drops the header. Under
another ASGI server the header simply reaches the client, harmlessly.
"""

from __future__ import annotations

HEADER = b"x-reason-phrase"
MAX_PHRASE = 400
_MARK = b"\r\n" + HEADER + b": "


def phrase_of(message: str) -> bytes:
    """The first line of ``message`` as a valid reason phrase: printable ASCII, bounded."""
    line = message.strip().splitlines()[0] if message.strip() else ""
    text = "".join(c if " " <= c <= "~" else "?" for c in line)
    if len(text) > MAX_PHRASE:
        text = text[: MAX_PHRASE - 3] + "..."
    return text.encode("ascii")


def rewrite(head: bytes) -> bytes:
    """A response head with its ``x-reason-phrase`` header made the status line's phrase.

    ``head`` is what uvicorn writes first: the status line and the headers, CRLF-separated.
    A head without the header comes back unchanged.
    """
    at = head.find(_MARK)
    if at < 0:
        return head
    end = head.find(b"\r\n", at + len(_MARK))
    if end < 0:
        return head
    phrase = head[at + len(_MARK) : end]
    line_end = head.find(b"\r\n")
    version, _, rest = head[:line_end].partition(b" ")
    status = rest.split(b" ", 1)[0]
    if not phrase or not status.isdigit():
        return head
    return version + b" " + status + b" " + phrase + head[line_end:at] + head[end:]
