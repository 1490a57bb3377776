"""What every endpoint gets: the runtime, the caller, paging; and the way results go out
(JSON-safe, personal data masked for viewers)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import pandas as pd
from fastapi import Depends, Query, Request, Response, Security
from fastapi.security import APIKeyCookie, APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from cxloop.api.errors import ApiError
from cxloop.api.models import PageOut
from cxloop.api.runtime import Runtime
from cxloop.client import Cxloop
from cxloop.library.data import records
from cxloop.library.edges import (
    Principal,
    Workspace,
    authenticate,
    query_refusal,
    session_principal,
)
from cxloop.serialize import clean

__all__ = ["Cx", "Page", "PageOut", "Rt", "Who", "Ws", "out", "page", "rows", "sent_page"]

COOKIE = "cxloop_session"
bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer cxk_…`")
header_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key")
cookie_key = APIKeyCookie(
    name=COOKIE,
    auto_error=False,
    description="The dashboard's sign-in session (from this site only; changes need X-CSRF-Token)",
)


# The cheap dependencies are ``async def``: FastAPI runs a plain ``def`` dependency in a
# worker thread, and each hop to a thread and back cost more than what it ran.


async def runtime(request: Request) -> Runtime:
    rt: Runtime = request.app.state.runtime
    return rt


async def workspace(rt: Annotated[Runtime, Depends(runtime)]) -> AsyncIterator[Workspace]:
    """The request's own workspace (see :class:`Runtime`): an idle one of the pool, or a
    new one opened in a worker thread."""
    ws = rt.idle()
    if ws is None:
        ws = await run_in_threadpool(rt.open)
    try:
        yield ws
    finally:
        rt.give_back(ws)


def principal(
    request: Request,
    ws: Annotated[Workspace, Depends(workspace)],
    cred: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    key: Annotated[str | None, Security(header_key)],
    cookie: Annotated[str | None, Security(cookie_key)],
) -> Principal:
    token = (cred.credentials if cred else None) or key
    gate = getattr(request.state, "principal", None)  # (key, caller): the key gate's check
    if token:
        found = gate[1] if gate and gate[0] == token else authenticate(ws, token)
        if found is None:
            raise ApiError(401, "unauthorized", "unknown or revoked API key")
    elif cookie:
        found = _from_session(request, ws, cookie)
    else:
        raise ApiError(
            401, "unauthorized", "an API key is needed: Authorization: Bearer <key> (or X-API-Key)"
        )
    request.state.sees_personal = found.can("personal_data")
    refuse_personal_query(request, found)
    return found


def refuse_personal_query(request: Request, who: Principal) -> None:
    """A caller who may not see personal data may not group by it or filter on it (every
    route's query, checked once here: see ``cxloop.services.access.queries``)."""
    if who.can("personal_data"):
        return
    words = frozenset(request.app.state.runtime.settings.personal_words)
    why = query_refusal(request.query_params.multi_items(), words)
    if why is not None:
        raise ApiError(403, "forbidden", why)


UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def same_origin(request: Request) -> bool:
    """Whether the browser says the request comes from this site (a request without the
    headers, from a program rather than a page, counts as such)."""
    site = request.headers.get("sec-fetch-site")
    if site is not None and site not in ("same-origin", "none"):
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return origin == f"{request.url.scheme}://{request.url.netloc}"


def _from_session(request: Request, ws: Workspace, cookie: str) -> Principal:
    """The dashboard's session cookie, accepted by the API only from this site's own
    pages, and for a change only with the session's CSRF token in ``X-CSRF-Token``."""
    if not same_origin(request):
        raise ApiError(
            403, "forbidden", "a signed-in browser session is not accepted from another site"
        )
    found = session_principal(ws, cookie)
    if found is None:
        raise ApiError(401, "unauthorized", "the session has ended: sign in again")
    session, who = found
    if request.method in UNSAFE and not session.csrf_ok(request.headers.get("x-csrf-token")):
        raise ApiError(
            403, "forbidden", "a change through a browser session needs its X-CSRF-Token"
        )
    return who


Rt = Annotated[Runtime, Depends(runtime)]
Ws = Annotated[Workspace, Depends(workspace)]
Who = Annotated[Principal, Depends(principal)]


async def library(rt: Rt, ws: Ws) -> Cxloop:
    """The library over the request's workspace, with the server's policy."""
    return rt.library(ws)


Cx = Annotated[Cxloop, Depends(library)]


class Paging(BaseModel):
    limit: int
    offset: int


async def paging(
    limit: Annotated[int, Query(ge=1, le=1000, description="Items per page (1-1000)")] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Items to skip")] = 0,
) -> Paging:
    return Paging(limit=limit, offset=offset)


Page = Annotated[Paging, Depends(paging)]


def out(who: Principal, value: Any) -> Any:
    """JSON-safe. (Personal data is masked for callers who may not see it by the one
    masking layer every response passes: :mod:`cxloop.api.guard`.)"""
    return clean(value)


def rows(df: pd.DataFrame, json_columns: tuple[str, ...] = ("attrs",)) -> list[dict[str, Any]]:
    """A DataFrame as records, with JSON text columns (attrs) parsed."""
    return records(df, json_columns)


def page(who: Principal, items: list[Any], p: Paging) -> dict[str, Any]:
    chunk = items[p.offset : p.offset + p.limit]
    end = p.offset + len(chunk)
    return {
        "items": out(who, chunk),
        "total": len(items),
        "limit": p.limit,
        "offset": p.offset,
        "next_offset": end if end < len(items) else None,
    }


def sent_page(items: list[dict[str, Any]], total: int, p: Paging) -> dict[str, Any] | Response:
    """A page of JSON-ready records (of the route's declared item type, as the library
    made them) sent as they are: serialised once here, not validated against the response
    model again (the spec still documents the model). A value JSON cannot carry (NaN in an
    event's own attributes) goes the validated way instead."""
    end = p.offset + len(items)
    answer = {
        "items": items,
        "total": total,
        "limit": p.limit,
        "offset": p.offset,
        "next_offset": end if end < total else None,
    }
    try:
        text = json.dumps(answer, ensure_ascii=False, allow_nan=False, separators=(",", ":"))
    except ValueError:
        return answer
    return Response(text.encode(), media_type="application/json")
