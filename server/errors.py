"""The one table from domain errors to HTTP: status codes and the error body of PROTOCOL.md.

Every failure a caller can cause becomes ``{"error": code, "detail": text}`` with a 4xx status;
a database that is down or busy becomes 503 so clients retry. Nothing else knows HTTP statuses.
"""

from __future__ import annotations

import logging

from litestar import Request, Response
from litestar.exceptions import HTTPException
from sqlalchemy.exc import DBAPIError, OperationalError

from shared.errors import Conflict, DomainError, Forbidden, InvalidInput, NotAuthenticated, NotFound
from sync.codec import DecodeError, encode, media_type_for

__all__ = ["STATUS", "error_response", "exception_handlers"]

log = logging.getLogger("fieldsync")

STATUS: dict[type[DomainError], int] = {
    InvalidInput: 400,
    NotAuthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
}


def error_response(request: Request, status: int, code: str, detail: str) -> Response[bytes]:
    media = media_type_for(request.headers.get("accept"))
    return Response(encode({"error": code, "detail": detail}, media), status_code=status, media_type=media)


def _domain(request: Request, exc: DomainError) -> Response[bytes]:
    status = next((s for cls, s in STATUS.items() if isinstance(exc, cls)), 400)
    return error_response(request, status, exc.code, exc.detail)


def _decode(request: Request, exc: DecodeError) -> Response[bytes]:
    return error_response(request, 400, "malformed", f"the body is not a valid message: {exc}")


def _http(request: Request, exc: HTTPException) -> Response[bytes]:
    code = {404: "not_found", 405: "method_not_allowed", 413: "too_large", 400: "malformed"}.get(
        exc.status_code, "http_error")
    status = exc.status_code if exc.status_code < 500 else 503
    return error_response(request, status, code, str(exc.detail))


def _database(request: Request, exc: Exception) -> Response[bytes]:
    log.exception("database error on %s %s", request.method, request.url.path)
    return error_response(request, 503, "unavailable", "the database is unavailable or busy; retry shortly")


def _unexpected(request: Request, exc: Exception) -> Response[bytes]:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(request, 500, "internal", "an unexpected error occurred; it has been logged")


exception_handlers = {
    DomainError: _domain,
    DecodeError: _decode,
    HTTPException: _http,
    OperationalError: _database,
    DBAPIError: _database,
    Exception: _unexpected,
}
