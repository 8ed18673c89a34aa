"""Serves the clerk app's build (clients/app/dist, made by `make`) at /app/.

The app is static: its data comes from the JSON API through the sync client. The page and the
service worker are revalidated on every load so a new build reaches phones at once; the hashed
scripts, styles and the decoder's WebAssembly are immutable.
"""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, current_app, redirect, send_from_directory
from werkzeug.exceptions import NotFound

bp = Blueprint("clerk_app", __name__, url_prefix="/app")

TYPES = {".webmanifest": "application/manifest+json", ".wasm": "application/wasm",
         ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
NOT_BUILT = ("The clerk app is not built. Run `make run` (or `npm ci && node clients/app/build.mjs`).\n")


def _build_dir() -> Path:
    return Path(current_app.config["CLERK_APP_DIR"])


def _send(filename: str, cache: str):
    folder = _build_dir()
    if not (folder / "index.html").is_file():
        return current_app.response_class(NOT_BUILT, status=503, mimetype="text/plain")
    response = send_from_directory(folder, filename, mimetype=TYPES.get(Path(filename).suffix),
                                   max_age=None)
    response.headers["Cache-Control"] = cache
    return response


@bp.get("")
def app_root():
    return redirect("/app/", code=308)


@bp.get("/")
def index():
    """The app's single page (every screen is a #/ route inside it)."""
    response = _send("index.html", "no-cache")
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/sw.js")
def service_worker():
    response = _send("sw.js", "no-cache")
    response.headers["Service-Worker-Allowed"] = "/app/"
    return response


@bp.get("/<path:filename>")
def asset(filename: str):
    """Hashed build files are immutable; the manifest and icons are revalidated."""
    if filename in ("build.json",):
        raise NotFound()
    immutable = filename.startswith("assets/")
    return _send(filename, "public, max-age=31536000, immutable" if immutable else "no-cache")
