"""The published OpenAPI is valid and honest (SPEC §9, §15; issue 14 item 12).

Every API answer of the whole suite is also checked against it (tests/openapi_contract.py, the
autouse fixture of tests/conftest.py); these tests check the spec itself and that the check bites.
"""

from __future__ import annotations

import ast
import json

import pytest
from openapi_spec_validator import validate

from tests import openapi_contract
from tests.paths import ROOT

SOURCE_PACKAGES = ("backend", "sync", "qr", "notifications", "recommend", "integrations", "rules")
ENVELOPE = {"code", "status", "error", "message", "errors", "details"}


@pytest.fixture(scope="module")
def spec(plain_app):
    """The spec as served (building it needs no database: these tests run once)."""
    return plain_app.test_client().get("/api/v1/openapi.json").json


def _detail_names_raised() -> dict[str, str]:
    """Every keyword a raised error carries besides error/errors, with one place raising it."""
    names = {}
    for package in SOURCE_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                    for keyword in node.exc.keywords:
                        if keyword.arg not in (None, "error", "errors", "param_hint"):
                            names.setdefault(keyword.arg, f"{path.relative_to(ROOT)}:{node.lineno}")
    return names


def test_the_spec_is_a_valid_openapi_document(spec):
    validate(spec)


def test_the_error_component_declares_the_whole_shape(spec):
    error = spec["components"]["schemas"]["Error"]
    assert ENVELOPE <= set(error["required"])
    assert error["additionalProperties"] is False  # so an undeclared field is a violation
    undeclared = {name: where for name, where in _detail_names_raised().items()
                  if name not in error["properties"]}
    assert not undeclared, f"declare in backend/common/schemas.py ErrorSchema: {undeclared}"
    assert not ENVELOPE & set(_detail_names_raised()), "a detail would hide the envelope's field"


def test_declared_bounds_nullables_and_request_bodies(spec):
    schemas, paths = spec["components"]["schemas"], spec["paths"]
    for name in ("ProductCreate", "ProductUpdate"):
        price = schemas[name]["properties"]["price"]
        assert (price["minimum"], price["maximum"]) == (0, 10_000_000)
    pairing = schemas["Pairing"]["properties"]
    assert pairing["score"]["nullable"] and pairing["support"]["nullable"]
    assert set(paths["/api/v1/blobs/{sha256}"]["put"]["requestBody"]["content"]) == {
        "image/jpeg", "image/png", "image/webp"}
    for path in ("/api/v1/products/import", "/api/v1/sales/import",
                 "/api/v1/campaigns/{campaign_id}/tasks/import"):
        body = paths[path]["post"]["requestBody"]
        assert body["required"] and set(body["content"]) == {"text/csv", "multipart/form-data"}


def test_error_answers_always_carry_errors_and_details(make, client):
    w = make.world()
    missing = client.get("/api/v1/products/NOPE", headers=w.h["admin"])
    assert missing.status_code == 404
    assert missing.json == {"code": 404, "status": "Not Found", "error": "not_found",
                            "message": "No product 'NOPE'.", "errors": {}, "details": {}}
    task_id = make.task_id(w.campaign.id, w.s1)
    refused = client.post(f"/api/v1/tasks/{task_id}/review", headers=w.h["admin"],
                          json={"decision": "approve"})
    assert refused.status_code == 409
    assert (refused.json["status"], refused.json["current_status"]) == ("Conflict", "open")
    assert refused.json["details"] == {"current_status": "open"}


def test_the_contract_check_catches_an_answer_that_differs(make, app, client):
    w = make.world()
    answer = client.get("/api/v1/products/NOPE", headers=w.h["admin"])
    assert openapi_contract.check(app, answer) == []
    body = answer.json
    del body["error"]
    body["surprise"] = 1
    answer.set_data(json.dumps(body))
    found = openapi_contract.check(app, answer)
    assert len(found) == 1 and "surprise" in found[0] and "error" in found[0], found
