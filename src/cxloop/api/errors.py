"""One JSON error shape for every failure, with stable codes.

::

    {"error": {"code": "not_found", "message": "no case 'K-9'", "details": []}}

=====================  ======  ==================================================
code                   status  when
=====================  ======  ==================================================
``unauthorized``       401     no API key, or an unknown or revoked one
``forbidden``          403     the key's role may not do this
``policy_denied``      403     the empowerment policy does not let this key's role
                               grant it (``details`` says who may)
``not_found``          404     a customer, case, incident, approval … does not exist
``conflict``           409     the state does not allow it (a closed case, an
                               approval already decided, or decided by a
                               concurrent request just now, a case with a remedy
                               waiting for approval)
``invalid_request``    422     the request does not match the API (``details``
                               lists each bad field)
``bad_input``          400     the input is readable but wrong (a bad setting,
                               mapping or file; a control character in the path)
``method_not_allowed`` 405     the path exists, not with this method (``Allow``
                               lists the methods it has)
``too_large``          413     the body is over ``max_body_mb``
``busy``               503     another writer holds the store; retry
``internal``           500     a bug: the message says where to look
=====================  ======  ==================================================
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from cxloop.domain.money import AmountError
from cxloop.errors import (
    Busy,
    ConfigError,
    ConflictError,
    CxloopError,
    InputError,
    NotFoundError,
    PolicyError,
)
from cxloop.library.edges import Forbidden

log = logging.getLogger("cxloop.api")

HTTP_CODES = {
    400: "bad_input",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
    503: "busy",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[dict[str, Any]] = []


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    def __init__(
        self, status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details or []


def body(code: str, message: str, details: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "details": details or []}}


def from_cxloop(exc: CxloopError) -> ApiError:
    message = str(exc)
    if isinstance(exc, AmountError):
        return ApiError(
            422,
            "invalid_request",
            message,
            [{"field": "body.amount", "reason": message, "type": "amount"}],
        )
    if isinstance(exc, Forbidden):
        return ApiError(403, "forbidden", message)
    if isinstance(exc, NotFoundError):
        return ApiError(404, "not_found", message)
    if isinstance(exc, ConflictError | PolicyError):
        return ApiError(409, "conflict", message)
    if isinstance(exc, Busy):
        return ApiError(503, "busy", message)
    if isinstance(exc, ConfigError | InputError):
        return ApiError(400, "bad_input", message)
    return ApiError(500, "internal", message)


def _json(err: ApiError, headers: Mapping[str, str] | None = None) -> JSONResponse:
    headers = dict(headers or {})
    if err.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(body(err.code, err.message, err.details), err.status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api(_: Request, exc: ApiError) -> JSONResponse:
        return _json(exc)

    @app.exception_handler(CxloopError)
    async def _cx(_: Request, exc: CxloopError) -> JSONResponse:
        return _json(from_cxloop(exc))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {
                "field": ".".join(str(p) for p in e.get("loc", ())),
                "reason": e.get("msg", ""),
                "type": e.get("type", ""),
            }
            for e in exc.errors()
        ]
        where = "; ".join(f"{d['field']}: {d['reason']}" for d in details[:3])
        return _json(ApiError(422, "invalid_request", f"invalid request: {where}", details))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "http_error")
        # a 405 keeps the Allow header the router set (RFC 9110 requires it)
        return _json(ApiError(exc.status_code, code, str(exc.detail)), exc.headers)

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return _json(
            ApiError(
                500,
                "internal",
                f"internal error ({type(exc).__name__}); the server log has the traceback",
            )
        )


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": code}
    for status, code in (
        (400, "bad_input"),
        (401, "unauthorized"),
        (403, "forbidden or policy_denied"),
        (404, "not_found"),
        (409, "conflict"),
        (413, "too_large"),
        (422, "invalid_request"),
        (503, "busy"),
    )
}
