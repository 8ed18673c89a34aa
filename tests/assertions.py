"""Assertions shared by the suite."""

from __future__ import annotations

# SPEC §9: every error answer carries all of these (errors and details {} when empty).
ERROR_ENVELOPE = {"code", "status", "error", "message", "errors", "details"}


def assert_error(response, status: int, error: str | None = None) -> dict:
    """The answer is the SPEC §9 error shape with this status (and stable code); its body."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    body = response.json
    assert ERROR_ENVELOPE <= set(body), body
    assert body["code"] == status and isinstance(body["message"], str), body
    if error:
        assert body["error"] == error, body
    return body
