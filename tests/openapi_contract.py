"""Every API answer the suite receives is checked against the published OpenAPI (SPEC §15).

The `app` fixture gives its test client the `RecordingClient` class: each answer under /api/v1
is validated with openapi-core against the spec the app itself serves at /api/v1/openapi.json,
and violations are collected; an autouse fixture (tests/conftest.py) fails the test that got them.
Requests the spec does not describe (an unknown path or method) are the router's 404/405 and are
not checked here; tests/backend/test_errors.py covers their JSON shape.
"""

from __future__ import annotations

from flask.testing import FlaskClient
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound

API_PREFIX = "/api/v1/"
SPEC_PATH = "/api/v1/openapi.json"

_spec: OpenAPI | None = None
violations: list[str] = []


def published_spec(app) -> OpenAPI:
    """The spec as the app publishes it, read once per test process (it does not vary)."""
    global _spec
    if _spec is None:
        with app.test_client() as plain:
            document = FlaskClient.open(plain, SPEC_PATH).json
        document["servers"] = [{"url": "/"}]
        _spec = OpenAPI.from_dict(document)
    return _spec


class _AnsweredRequest(WerkzeugOpenAPIRequest):
    """The request of an answer: its body was read by the app, and checking the answer needs
    only its method, path and parameters."""

    @property
    def body(self) -> bytes:
        return b""


class _Answer(WerkzeugOpenAPIResponse):
    """An answer whose text bodies (CSV) are read as the strings the spec declares."""

    @property
    def data(self):
        raw = super().data
        return raw.decode("utf-8") if self.response.mimetype.startswith("text/") else raw


def check(app, response) -> list[str]:
    """The ways one answer differs from the published spec (empty when it matches)."""
    request = response.request
    if not request.path.startswith(API_PREFIX) or request.path == SPEC_PATH:
        return []
    spec = published_spec(app)
    found = []
    for error in spec.iter_response_errors(_AnsweredRequest(request),
                                           _Answer(response)):
        if isinstance(error, (PathNotFound, OperationNotFound)):
            return []
        detail = getattr(error, "__cause__", None)
        inner = "; ".join(str(e.message) for e in getattr(detail, "schema_errors", []) or [])
        found.append(f"{request.method} {request.full_path.rstrip('?')} → {response.status_code}: "
                     f"{type(error).__name__} {error} {inner}".strip())
    return found


class RecordingClient(FlaskClient):
    """A test client whose API answers are checked against the published spec."""

    def open(self, *args, **kwargs):
        response = super().open(*args, **kwargs)
        violations.extend(check(self.application, response))
        return response
