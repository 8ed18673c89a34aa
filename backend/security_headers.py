"""Security headers on every answer (SPEC §15): a Content-Security-Policy per area, nosniff,
a referrer policy, and HSTS in production."""

from __future__ import annotations

from flask import Flask, request

_FRAME = "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
# JSON and images: nothing in them may run or load anything.
API_POLICY = "default-src 'none'; " + _FRAME
# Server-rendered pages with scripts from our own origin only (no inline scripts or handlers);
# inline styles stay allowed for the libraries' own (htmx's indicator, Chart.js).
CONSOLE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                  "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; " + _FRAME)
# The clerk app: its service worker, IndexedDB, the camera and a WebAssembly QR decoder.
APP_POLICY = ("default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; "
              "style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
              "media-src 'self' blob: mediastream:; connect-src 'self'; manifest-src 'self'; "
              "object-src 'none'; " + _FRAME)
# Swagger UI starts itself with an inline script.
DOCS_POLICY = ("default-src 'self'; script-src 'self' 'unsafe-inline'; "
               "style-src 'self' 'unsafe-inline'; img-src 'self' data:; " + _FRAME)
HSTS = "max-age=31536000; includeSubDomains"


def policy_for(path: str) -> str:
    """The Content-Security-Policy of the area a path belongs to."""
    if path.startswith("/console"):
        return CONSOLE_POLICY
    if path == "/app" or path.startswith("/app/"):
        return APP_POLICY
    if path.startswith(("/api/docs", "/api/swagger-ui")):
        return DOCS_POLICY
    return API_POLICY


def install(app: Flask) -> None:
    """Add the headers to every response of the app."""
    production = app.config["ENV_NAME"] == "production"

    @app.after_request
    def _secure(response):
        headers = response.headers
        headers.setdefault("Content-Security-Policy", policy_for(request.path))
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("Referrer-Policy", "same-origin")
        headers.setdefault("X-Frame-Options", "DENY")
        if production:
            headers.setdefault("Strict-Transport-Security", HSTS)
        return response
