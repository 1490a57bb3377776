"""Who is calling, decided before a request's body is read.

Every ``/api/`` request passes this ASGI middleware (behind :mod:`cxloop.api.guard`, which
refuses control characters and bodies over the size limit first). It takes the caller from
the headers alone: an API key (``Authorization: Bearer`` or ``X-API-Key``) or, for the
dashboard's own pages, the session cookie. A missing, unknown or revoked key, or an ended
session, is a 401 at once: the body is never read, so nobody without a key can make the
server read and parse 30 MiB of JSON (the route's own parsing came before the key check,
and two such bodies held every other request for seconds).

Where the route alone says what it needs (:data:`REQUIRES`: every write route), a key
whose role is too low is a 403 here too, before the body: a viewer's malformed body gets
403, not a 422 that tells what a valid one would look like. The routes still check (the
dependency :func:`cxloop.api.deps.principal` reuses the caller found here; it also keeps
the cookie's same-origin and CSRF rules).
"""

from __future__ import annotations

import re

from fastapi.security.utils import get_authorization_scheme_param
from starlette.concurrency import run_in_threadpool
from starlette.requests import cookie_parser
from starlette.routing import compile_path

from cxloop.api.guard import App, Guard, Receive, Scope, Send, _error
from cxloop.api.runtime import Runtime
from cxloop.library.edges import Forbidden, Principal, authenticate, session_principal

PREFIX = "/api/"
COOKIE = "cxloop_session"
#: the scope state key under which the caller travels to the route's dependency
PRINCIPAL = "principal"
#: What each write route needs (method, route path): decided before its body is read.
#: tests/test_api_gate.py checks that every write route under /api/ is listed.
REQUIRES: dict[tuple[str, str], str] = {
    ("POST", "/api/v1/events"): "ingest",
    ("POST", "/api/v1/ledger/build"): "build_ledger",
    ("POST", "/api/v1/cases/sync"): "sync_cases",
    ("POST", "/api/v1/cases/{case_id}/start"): "work_cases",
    ("POST", "/api/v1/cases/{case_id}/assign"): "work_cases",
    ("POST", "/api/v1/cases/{case_id}/resolve"): "work_cases",
    ("POST", "/api/v1/cases/{case_id}/follow-up"): "work_cases",
    ("POST", "/api/v1/cases/{case_id}/grants"): "grant",
    ("POST", "/api/v1/cases/{case_id}/approvals"): "grant",
    ("POST", "/api/v1/approvals/{approval_id}/decision"): "decide_approvals",
    ("POST", "/api/v1/incidents/detect"): "detect_incidents",
    ("POST", "/api/v1/incidents/{incident_id}/send"): "send_outreach",
    ("POST", "/api/v1/brief/actions"): "act_on_brief",
    ("POST", "/api/v1/outcomes/health"): "score_health",
}
NO_KEY = "an API key is needed: Authorization: Bearer <key> (or X-API-Key)"


def _headers(scope: Scope) -> dict[str, str]:
    """The request's headers (the first of each name), lower-cased names."""
    found: dict[str, str] = {}
    for name, value in scope.get("headers", []):
        found.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))
    return found


def credentials(scope: Scope) -> tuple[str | None, str | None]:
    """(API key, session cookie) as the route's security dependencies read them."""
    headers = _headers(scope)
    scheme, token = get_authorization_scheme_param(headers.get("authorization"))
    key = token if scheme.lower() == "bearer" and token else None
    key = key or headers.get("x-api-key") or None
    cookie = cookie_parser(headers["cookie"]).get(COOKIE) if "cookie" in headers else None
    return key, cookie or None


class KeyGate:
    """ASGI middleware: see the module docstring."""

    def __init__(self, app: App, runtime: Runtime) -> None:
        self.app = app
        self.runtime = runtime

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope.get("path", "").startswith(PREFIX):
            await self.app(scope, receive, send)
            return
        key, cookie = credentials(scope)
        who = await run_in_threadpool(self._caller, key, cookie)
        refused = self._refusal(scope, key, cookie, who)
        if refused is not None:
            status, payload = refused
            await Guard._answer(send, status, payload, www_auth=status == 401)
            return
        scope.setdefault("state", {})[PRINCIPAL] = (key, who)
        await self.app(scope, receive, send)

    def _caller(self, key: str | None, cookie: str | None) -> Principal | None:
        if not key and not cookie:
            return None
        with self.runtime.checkout() as ws:
            if key:
                found: Principal | None = authenticate(ws, key)
                return found
            session = session_principal(ws, cookie or "")
            return None if session is None else session[1]

    def _refusal(
        self, scope: Scope, key: str | None, cookie: str | None, who: Principal | None
    ) -> tuple[int, bytes] | None:
        if who is None:
            if key:
                return _error(401, "unauthorized", "unknown or revoked API key")
            if cookie:
                return _error(401, "unauthorized", "the session has ended: sign in again")
            return _error(401, "unauthorized", NO_KEY)
        action = self._action(scope)
        if action is not None:
            try:
                who.require(action)
            except Forbidden as exc:
                return _error(403, "forbidden", str(exc))
        return None

    @staticmethod
    def _action(scope: Scope) -> str | None:
        """What the write route this request is for needs (None: a read, or no such route)."""
        method, path = scope.get("method", ""), scope.get("path", "")
        for (verb, _), (pattern, action) in _COMPILED.items():
            if verb == method and pattern.match(path):
                return action
        return None


#: the route paths of :data:`REQUIRES` as the router matches them
_COMPILED: dict[tuple[str, str], tuple[re.Pattern[str], str]] = {
    key: (compile_path(key[1])[0], action) for key, action in REQUIRES.items()
}
