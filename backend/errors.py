"""Domain exceptions and the single JSON error shape of SPEC §9."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from werkzeug.exceptions import HTTPException
from werkzeug.http import HTTP_STATUS_CODES

log = logging.getLogger(__name__)

# Stable machine codes for HTTP errors that do not come from a domain exception.
DEFAULT_ERROR_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class DomainError(Exception):
    """A rule of the domain said no; carries its HTTP status and stable error code."""

    status_code = 400
    error = "bad_request"

    def __init__(self, message: str, *, error: str | None = None, errors: dict | None = None,
                 **details):
        super().__init__(message)
        self.message = message
        if error:
            self.error = error
        self.errors = errors
        self.details = details


class Unauthorized(DomainError):
    status_code, error = 401, "unauthorized"


class Forbidden(DomainError):
    status_code, error = 403, "forbidden"


class NotFound(DomainError):
    status_code, error = 404, "not_found"


class Conflict(DomainError):
    status_code, error = 409, "conflict"


class Gone(DomainError):
    status_code, error = 410, "gone"


class PayloadTooLarge(DomainError):
    status_code, error = 413, "payload_too_large"


class UnsupportedMediaType(DomainError):
    status_code, error = 415, "unsupported_media_type"


class ValidationFailed(DomainError):
    status_code, error = 422, "validation_error"


class TooManyRequests(DomainError):
    """Throttled: try again after ``retry_after`` seconds (sent as Retry-After)."""

    status_code, error = 429, "rate_limited"

    def __init__(self, message: str, *, retry_after: int, **details):
        super().__init__(message, retry_after=retry_after, **details)
        self.headers = {"Retry-After": str(retry_after)}


def error_body(status_code: int, error: str, message: str, errors: dict | None = None,
               **details) -> dict:
    """The one error shape: code, status, error, message, errors and details, always present.

    An error's details (held_by, current_version, …) are also repeated at the top level, where
    clients read them; the envelope's own names are never overwritten.
    """
    body = {
        "code": status_code,
        "status": HTTP_STATUS_CODES.get(status_code, "Error"),
        "error": error,
        "message": message,
        "errors": errors or {},
        "details": details,
    }
    body.update({key: value for key, value in details.items() if key not in body})
    return body


def _flatten_locations(errors: dict) -> dict:
    """webargs nests field errors under their location ("json", "query"); clients want fields."""
    if len(errors) == 1:
        (location, inner), = errors.items()
        if location in ("json", "query", "form", "headers", "files", "path") and isinstance(inner, dict):
            return inner
    return errors


# SQLSTATE classes a retry can get past: connection (08), transaction rollback — serialization
# failures and deadlocks (40) —, lock not available (55P03), operator intervention (57: query
# cancelled, server shutting down). SQLite's equivalents are "database is locked" / busy.
_TRANSIENT_SQLSTATES = ("08", "40", "55P03", "57")
_TRANSIENT_SQLITE = ("locked", "busy")


def is_transient(exc: OperationalError) -> bool:
    """True for lock, serialization and connection errors: the same request may succeed later."""
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None)
    if sqlstate:
        return sqlstate.startswith(_TRANSIENT_SQLSTATES)
    message = str(exc.orig).lower()
    return any(word in message for word in _TRANSIENT_SQLITE) or "connection" in message


def _respond(body: dict, headers: dict | None = None):
    response = jsonify(body)
    response.status_code = body["code"]
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


def http_error_response(exc: HTTPException):
    """A werkzeug/webargs HTTP error (404, 405, 413, 422 …) in the SPEC §9 JSON shape."""
    data = getattr(exc, "data", None) or {}
    errors = data.get("errors") or data.get("messages")
    message = data.get("message") or exc.description or exc.name
    if exc.code == 422:
        message = "The request has invalid or unknown fields."
        errors = _flatten_locations(errors or {})
    elif exc.code == 413:
        message = "The request body is larger than this endpoint accepts."
    body = error_body(exc.code, DEFAULT_ERROR_CODES.get(exc.code, "http_error"), message, errors)
    return _respond(body, data.get("headers"))


def register_error_handlers(app: Flask) -> None:
    """Turn every exception into the SPEC §9 JSON shape; nothing escapes as HTML or a bare 500."""

    @app.errorhandler(DomainError)
    def _domain(exc: DomainError):
        return _respond(error_body(exc.status_code, exc.error, exc.message, exc.errors, **exc.details),
                       getattr(exc, "headers", None))

    app.register_error_handler(HTTPException, http_error_response)

    @app.errorhandler(IntegrityError)
    def _integrity(exc: IntegrityError):
        log.info("integrity error turned into 409: %s", exc.orig)
        return _respond(error_body(409, "conflict", "The change conflicts with existing data."))

    @app.errorhandler(DataError)
    def _data(exc: DataError):
        log.info("data error turned into 422: %s", exc.orig)
        return _respond(error_body(422, "invalid_value", "A value is out of the accepted range."))

    @app.errorhandler(OperationalError)
    def _operational(exc: OperationalError):
        if not is_transient(exc):  # a statement that can never succeed: a bug, not "retry"
            log.exception("database error that no retry can fix")
            return _respond(error_body(500, "internal_error", "An unexpected error occurred."))
        log.warning("transient database error: %s", exc.orig)
        return _respond(error_body(503, "unavailable", "The database is busy; retry shortly."),
                       {"Retry-After": "1"})

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        log.exception("unhandled error")
        return _respond(error_body(500, "internal_error", "An unexpected error occurred."))
