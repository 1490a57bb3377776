"""The dashboard: server-rendered pages (Jinja2, autoescaped) with inline SVG charts.

No JavaScript and no build step: plain HTML forms and links, one stylesheet served by the
app. Signing in with an API key opens a server-side session (``store/sessions.py``): the
HttpOnly, SameSite=Strict cookie holds a random session token, never the key, and the
session ends at logout (a POST with the session's CSRF token), after ``session_hours``, or
when its key is revoked. Every form carries a CSRF token (the sign-in form a token
double-submitted in a short-lived cookie) and a POST from another origin is refused. Every
page needs a session, and a page reached without one redirects to
``/login?next=<the page>``. The key's role decides what a page shows: whatever a page
renders for a viewer is masked in :func:`render`, the one place pages are made.

Errors on a page are pages too (a 404 for an unknown customer, not JSON).
"""

from __future__ import annotations

import hmac
import logging
import secrets
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime
from functools import cache
from importlib import resources
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup
from starlette.exceptions import HTTPException as StarletteHTTPException

from cxloop.api import dashboard
from cxloop.api.deps import COOKIE, Rt, Ws, refuse_personal_query, same_origin
from cxloop.api.errors import ApiError, from_cxloop
from cxloop.api.markup import mask_markup
from cxloop.errors import CxloopError
from cxloop.library.edges import Principal, mask, session_principal, sign_in, sign_out

log = logging.getLogger("cxloop.api")

HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
        "frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
TITLES = {401: "Sign-in needed", 403: "Not allowed", 404: "Not found", 422: "Bad request"}


# ---------------------------------------------------------------- templates
def _missing(v: Any) -> bool:
    return v is None or v == "" or (isinstance(v, float) and v != v)


def _num(v: Any, digits: int = 0) -> str:
    if _missing(v):
        return "–"
    try:
        return f"{float(v):,.{digits}f}"
    except (TypeError, ValueError):
        return str(v)


def _pct(v: Any) -> str:
    return "–" if _missing(v) else f"{100 * float(v):.0f}%"


def _when(v: Any) -> str:
    if _missing(v):
        return "–"
    text = str(v).replace("T", " ")
    return text[:16]


def _seg(v: Any) -> str:
    """A value as one path segment of a link."""
    return quote(str(v), safe="")


@cache
def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("cxloop.api", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters |= {
        "num": _num,
        "money": lambda v: _num(v, 2),
        "pct": _pct,
        "when": _when,
        "seg": _seg,
        "attrs": dashboard.key_attrs,
        "slug": dashboard.slug,
    }
    return env


def render(
    request: Request,
    name: str,
    who: Principal | None,
    status: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page. For anyone who may not see personal data, everything it shows is masked
    here, so no page can forget it."""
    if who is None or not who.can("personal_data"):
        words = frozenset(request.app.state.runtime.settings.personal_words)
        context = {k: _masked(v, words) for k, v in context.items()}
    session = getattr(request.state, "session", None)
    with request.app.state.runtime.checkout() as ws:
        as_of = ws.clock.describe()  # the store's now: what every figure on the page is as of
    made = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")  # wall clock: when it was made
    page = (
        templates()
        .get_template(name)
        .render(
            who=who,
            path=request.url.path,
            now=made,
            as_of=as_of,
            csrf=session.csrf if session is not None else "",
            **context,
        )
    )
    return HTMLResponse(page, status, headers=HEADERS)


def _masked(value: Any, words: frozenset[str]) -> Any:
    """``mask`` over a page's context; its prepared markup (charts) is masked as markup."""
    if isinstance(value, dict):
        return {k: _masked_one(v, str(k), words) for k, v in value.items()}
    return _masked_one(value, "", words)


def _masked_one(value: Any, key: str, words: frozenset[str]) -> Any:
    if isinstance(value, Markup):
        return mask_markup(value)
    return mask(value, key, extra=words)


def _safe(svgs: dict[str, str]) -> dict[str, Markup]:
    """The charts (escaped when built) as markup for the templates."""
    return {k: Markup(v) for k, v in svgs.items()}


# ---------------------------------------------------------------- sign-in and errors
class SignIn(Exception):
    """The page needs a signed-in key; ``target`` is where to go back afterwards."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.target = target


def safe_next(target: str | None) -> str:
    """Only a path on this site (never another host) is followed after signing in."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 32 or ord(c) == 127 for c in target)
    ):
        return "/"
    return target


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    title = TITLES.get(status, "Something went wrong")
    return render(request, "error.html", None, status, title=title, code=status, message=message)


class PageRoute(APIRoute):
    """A route whose failures answer as pages: sign-in redirects and HTML errors."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def page_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except SignIn as exc:
                where = "/login?" + urlencode({"next": safe_next(exc.target)})
                return RedirectResponse(where, 303, headers={"Cache-Control": "no-store"})
            except ApiError as exc:
                return error_page(request, exc.status, exc.message)
            except CxloopError as exc:
                err = from_cxloop(exc)
                return error_page(request, err.status, err.message)
            except RequestValidationError as exc:
                where = ", ".join(".".join(map(str, e.get("loc", ()))) for e in exc.errors())
                return error_page(request, 422, f"invalid request: {where}")
            except StarletteHTTPException as exc:
                return error_page(request, exc.status_code, str(exc.detail))
            except Exception as exc:
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                return error_page(
                    request,
                    500,
                    f"internal error ({type(exc).__name__}); the server log has the traceback",
                )

        return page_handler


router = APIRouter(include_in_schema=False, route_class=PageRoute)


def signed_in(request: Request, ws: Ws) -> Principal:
    token = request.cookies.get(COOKIE)
    found = session_principal(ws, token) if token else None
    if found is None:
        query = request.url.query
        raise SignIn(request.url.path + (f"?{query}" if query else ""))
    session, who = found
    request.state.session = session
    request.state.sees_personal = who.can("personal_data")
    refuse_personal_query(request, who)
    return who


Me = Annotated[Principal, Depends(signed_in)]


@cache
def _css() -> str:
    return resources.files("cxloop.api").joinpath("static/style.css").read_text("utf-8")


@router.get("/static/style.css")
def stylesheet() -> Response:
    """The one stylesheet (public: the sign-in page needs it too)."""
    headers = {"Cache-Control": "max-age=3600", "X-Content-Type-Options": "nosniff"}
    return Response(_css(), media_type="text/css", headers=headers)


LOGIN_CSRF = "cxloop_login_csrf"


def _login_page(request: Request, target: str, error: str = "", status: int = 200) -> Response:
    """The sign-in form with a fresh CSRF token, double-submitted in a short-lived cookie."""
    token = secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        None,
        status,
        title="Sign in",
        next=target,
        error=error,
        login_csrf=token,
    )
    response.set_cookie(
        LOGIN_CSRF,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        path="/login",
        secure=request.url.scheme == "https",
    )
    return response


@router.get("/login")
def login_form(
    request: Request, next_: Annotated[str, Query(alias="next", max_length=2000)] = "/"
) -> Response:
    return _login_page(request, safe_next(next_))


@router.post("/login")
def login(
    request: Request,
    rt: Rt,
    ws: Ws,
    key: Annotated[str, Form(max_length=500)] = "",
    next_: Annotated[str, Form(alias="next", max_length=2000)] = "/",
    csrf: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    target = safe_next(next_)
    expected = request.cookies.get(LOGIN_CSRF, "")
    if not same_origin(request) or not expected or not hmac.compare_digest(expected, csrf):
        return _login_page(
            request, target, "The sign-in form expired or came from another site: try again.", 403
        )
    opened = sign_in(ws, key.strip(), rt.settings.session_hours) if key.strip() else None
    if opened is None:
        return _login_page(
            request,
            target,
            "That key is unknown or revoked. Paste a key from `cxloop keys create`.",
            401,
        )
    cookie, _, _ = opened
    response = RedirectResponse(target, 303)
    response.set_cookie(
        COOKIE,
        cookie,
        max_age=int(rt.settings.session_hours * 3600),
        httponly=True,
        samesite="strict",
        path="/",
        secure=request.url.scheme == "https",
    )
    response.delete_cookie(LOGIN_CSRF, path="/login")
    return response


@router.post("/logout")
def logout(request: Request, ws: Ws, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    """End the session (server-side: the cookie is worthless afterwards, even if kept)."""
    token = request.cookies.get(COOKIE, "")
    found = session_principal(ws, token) if token else None
    if found is not None:
        if not same_origin(request) or not found[0].csrf_ok(csrf):
            return error_page(request, 403, "Sign out from this site's own pages.")
        sign_out(ws, token)
    response = RedirectResponse("/login", 303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
    return response


# ---------------------------------------------------------------- pages
@router.get("/")
def overview(request: Request, who: Me, rt: Rt, ws: Ws) -> HTMLResponse:
    data = dashboard.overview(rt, ws, who)
    data["charts"] = _safe(data["charts"])
    return render(request, "overview.html", who, title="Overview", **data)


@router.get("/brief")
def brief(request: Request, who: Me, rt: Rt, ws: Ws) -> HTMLResponse:
    data = dashboard.brief_page(rt, ws, who)
    data["charts"] = _safe(data["charts"])
    return render(request, "brief.html", who, title="Daily brief", **data)


@router.get("/cases")
def cases(
    request: Request,
    who: Me,
    rt: Rt,
    ws: Ws,
    state: Annotated[str, Query(max_length=50)] = "",
    department: Annotated[str, Query(max_length=100)] = "",
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
) -> HTMLResponse:
    data = dashboard.case_queue(rt, ws, who, state, department, page)
    filters = {k: v for k, v in (("state", state), ("department", department)) if v}

    def link(n: int) -> str:
        return "/cases?" + urlencode(filters | {"page": n})

    return render(
        request,
        "cases.html",
        who,
        title="Cases",
        state=state,
        department=department,
        prev_url=link(data["page"] - 1) if data["page"] > 1 else "",
        next_url=link(data["page"] + 1) if data["page"] < data["pages"] else "",
        page_size=dashboard.PAGE_SIZE,
        **data,
    )


@router.get("/cases/{case_id}")
def case(request: Request, case_id: str, who: Me, rt: Rt, ws: Ws) -> HTMLResponse:
    data = dashboard.case_page(rt, ws, who, case_id)
    return render(request, "case.html", who, title=f"Case {case_id}", **data)


@router.get("/customers", response_model=None)
def customers(
    request: Request,
    who: Me,
    rt: Rt,
    ws: Ws,
    q: Annotated[str, Query(max_length=200)] = "",
) -> Response:
    if q.strip():
        return RedirectResponse(f"/customers/{_seg(q.strip())}", 303)
    top = dashboard.most_broken(rt, ws)
    return render(request, "customers.html", who, title="Customers", top=top)


@router.get("/customers/{customer_id}")
def customer(request: Request, customer_id: str, who: Me, rt: Rt, ws: Ws) -> HTMLResponse:
    data = dashboard.customer_page(rt, ws, who, customer_id)
    data["chart"] = Markup(data["chart"])
    return render(request, "customer.html", who, title=f"Customer {customer_id}", **data)
