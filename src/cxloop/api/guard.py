"""The one gate every request and response passes, whatever the route.

- **Input hygiene**: a NUL byte or another control character in the path or the query
  string is refused with 400 before any route sees it (PostgreSQL cannot even store one);
  a body larger than ``max_body_mb`` is refused with 413, by its ``Content-Length`` or,
  when it streams without one, as soon as it passes the limit.
- **Masking, in one place**: the caller's key decides, in the authentication dependency,
  whether it may see personal data (``scope["state"]["sees_personal"]``). Every JSON
  response under ``/api/`` to a caller who may not (or who never authenticated) is masked here by
  :func:`cxloop.library.edges.mask`, so a new route cannot forget it. The dashboard's
  pages are masked where they are rendered (``pages.render``).
- **Headers**: ``X-Content-Type-Options: nosniff``, ``Referrer-Policy``,
  ``X-Frame-Options: DENY`` on every response, and ``Cache-Control: no-store`` unless the
  route chose its own.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.exceptions import HTTPException

from cxloop.api.errors import body
from cxloop.library.edges import mask

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

SEES_PERSONAL = "sees_personal"
#: the answers that carry data (the spec at /openapi.json and /health carry none)
MASKED_PREFIX = "/api/"
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
)


class TooLarge(HTTPException):
    """The request body passed the limit while it was being read (the app's error handler
    answers it as 413 ``too_large``)."""


def _bad_bytes(raw: bytes) -> bool:
    return any(b < 32 or b == 127 for b in raw)


def _error(status: int, code: str, message: str) -> tuple[int, bytes]:
    return status, json.dumps(body(code, message)).encode()


class Guard:
    """ASGI middleware: see the module docstring."""

    def __init__(
        self, app: App, max_body_bytes: int, personal_words: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.max_body = max_body_bytes
        self.personal_words = personal_words

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = self._refuse(scope)
        if refused is not None:
            await self._answer(send, *refused)
            return
        state = scope.setdefault("state", {})
        state[SEES_PERSONAL] = False
        masked = _Masking(
            send, state, scope.get("path", "").startswith(MASKED_PREFIX), self.personal_words
        )
        try:
            await self.app(scope, self._limited(receive), masked.send)
        except TooLarge:
            if not masked.started:
                await self._answer(send, *self._too_large())
            return
        await masked.flush()

    def _refuse(self, scope: Scope) -> tuple[int, bytes] | None:
        path = scope.get("raw_path") or scope.get("path", "").encode()
        if _bad_bytes(unquote_to_bytes(path)) or _bad_bytes(
            unquote_to_bytes(scope.get("query_string", b""))
        ):
            return _error(400, "bad_input", "the path or query holds a control character")
        for name, value in scope.get("headers", []):
            if name == b"content-length":
                try:
                    size = int(value)
                except ValueError:
                    return _error(400, "bad_input", "Content-Length is not a number")
                if size > self.max_body:
                    return self._too_large()
        return None

    def _too_large(self) -> tuple[int, bytes]:
        return _error(413, "too_large", self._too_large_message())

    def _too_large_message(self) -> str:
        mib = self.max_body / 1024 / 1024
        return f"the request body is over {mib:g} MiB (setting max_body_mb)"

    def _limited(self, receive: Receive) -> Receive:
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.max_body:
                raise TooLarge(413, self._too_large_message())
            return message

        return counted

    @staticmethod
    async def _answer(send: Send, status: int, payload: bytes, www_auth: bool = False) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(payload)).encode()),
            (b"cache-control", b"no-store"),
            *SECURITY_HEADERS,
        ]
        if www_auth:  # a 401 says how to authenticate (as the app's own 401s do)
            headers.append((b"www-authenticate", b"Bearer"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})


class _Masking:
    """Adds the security headers; buffers a JSON answer to a caller who may not see
    personal data and sends it masked."""

    def __init__(
        self, send: Send, state: MutableMapping[str, Any], data: bool, words: frozenset[str]
    ) -> None:
        self._words = words
        self._send = send
        self._state = state
        self._data = data
        self._start: Message | None = None
        self._chunks: list[bytes] = []
        self.started = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
            message["headers"] = _with_security(list(message.get("headers", [])))
            if self._must_mask(message["headers"]):
                self._start = message
                return
            await self._send(message)
            return
        if self._start is None or message["type"] != "http.response.body":
            await self._send(message)
            return
        self._chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            await self.flush()

    def _must_mask(self, headers: list[tuple[bytes, bytes]]) -> bool:
        if not self._data or self._state.get(SEES_PERSONAL):
            return False
        kind = dict(headers).get(b"content-type", b"")
        return kind.split(b";")[0].strip() == b"application/json"

    async def flush(self) -> None:
        if self._start is None:
            return
        start, self._start = self._start, None
        raw = b"".join(self._chunks)
        try:
            payload = json.dumps(
                mask(json.loads(raw), extra=self._words), ensure_ascii=False
            ).encode()
        except ValueError:
            payload = raw
        start["headers"] = [(k, v) for k, v in start["headers"] if k != b"content-length"] + [
            (b"content-length", str(len(payload)).encode())
        ]
        await self._send(start)
        await self._send({"type": "http.response.body", "body": payload})


def _with_security(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    names = {k.lower() for k, _ in headers}
    extra = [(k, v) for k, v in SECURITY_HEADERS if k not in names]
    if b"cache-control" not in names:
        extra.append((b"cache-control", b"no-store"))
    return headers + extra
