"""SPEC §9: one JSON error shape, nothing written on failure, no 500 for client input."""

import hashlib

import pytest

from seed.demo import tiny_png
from tests.assertions import assert_error



def test_bad_inputs_get_the_shape_and_write_nothing(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    admin = w.h["admin"]
    before = make.row_counts()
    cases = [
        # missing fields
        ("post", "/api/v1/stores", {"code": "S9"}, 422, "validation_error"),
        ("post", "/api/v1/users", {"username": "x"}, 422, "validation_error"),
        # wrong types
        ("post", "/api/v1/products", {"sku": "A", "name": "A", "category": "c", "price": "cheap"}, 422, None),
        ("post", "/api/v1/stores", {"code": ["S9"], "name": 5, "region": "EAST"}, 422, None),
        ("get", "/api/v1/tasks?page=zero", None, 422, None),
        ("get", "/api/v1/tasks?campaign=99999999999999999999999", None, 422, None),
        # unknown fields
        ("post", "/api/v1/regions", {"code": "W", "name": "W", "color": "red"}, 422, None),
        ("post", f"/api/v1/tasks/{task_id}/review", {"decision": "approve", "grade": "A"}, 422, None),
        # bad references and values
        ("post", "/api/v1/stores", {"code": "S9", "name": "n", "region": "MARS"}, 422, None),
        ("post", "/api/v1/stores", {"code": "S9", "name": "n", "region": "EAST", "timezone": "Mars/Olympus"}, 422, None),
        ("post", "/api/v1/users", {"username": "newclerk", "password": "password1", "display_name": "N",
                                   "role": "clerk"}, 422, None),
        ("post", "/api/v1/regions", {"code": "W\u0000", "name": "W"}, 422, None),
        ("post", "/api/v1/regions", {"code": "WEST", "name": "nul\u0000name"}, 422, None),
        ("post", "/api/v1/products", {"sku": "Z", "name": "Z", "category": "c", "price": 1e300}, 422, None),
        # duplicates and invalid transitions
        ("post", "/api/v1/regions", {"code": "EAST", "name": "again"}, 409, "already_exists"),
        ("post", f"/api/v1/tasks/{task_id}/review", {"decision": "approve"}, 409, "invalid_transition"),
        # unknown objects and routes
        ("get", "/api/v1/tasks/999999", None, 404, "not_found"),
        ("get", "/api/v1/tasks/99999999999999999999999999", None, 404, None),
        ("get", "/api/v1/nowhere", None, 404, "not_found"),
        ("delete", "/api/v1/regions", None, 405, "method_not_allowed"),
    ]
    for method, url, body, status, error in cases:
        response = client.open(url, method=method.upper(), json=body, headers=admin)
        payload = assert_error(response, status, error)
        if status == 422 and error != "proof_missing":
            assert payload.get("errors"), (url, payload)
    assert make.row_counts() == before


def test_invalid_json_and_wrong_content_type(make, client):
    w = make.world()
    before = make.row_counts()
    broken = client.post("/api/v1/regions", data='{"code": "W",', content_type="application/json",
                         headers=w.h["admin"])
    assert_error(broken, 400, "bad_request")
    not_json = client.post("/api/v1/regions", data="code=W", content_type="text/plain",
                           headers=w.h["admin"])
    assert_error(not_json, 422, "validation_error")  # no JSON body: the fields are missing
    array = client.post("/api/v1/regions", json=[1, 2], headers=w.h["admin"])
    assert_error(array, 422, "validation_error")
    assert make.row_counts() == before


def test_oversized_json_body_is_413(make, client):
    w = make.world()
    before = make.row_counts()
    huge = {"code": "BIG", "name": "x" * (1024 * 1024 + 10)}
    response = client.post("/api/v1/regions", json=huge, headers=w.h["admin"])
    assert_error(response, 413, "payload_too_large")
    assert make.row_counts() == before


def test_blob_upload_checks_type_size_and_hash(make, client, app):
    w = make.world()
    headers = w.h["clerk1"]
    png = tiny_png(7)
    sha = hashlib.sha256(png).hexdigest()
    before = make.row_counts()
    assert_error(client.put(f"/api/v1/blobs/{'0' * 64}", data=png, content_type="image/png",
                            headers=headers), 422, "hash_mismatch")
    assert_error(client.put(f"/api/v1/blobs/{sha}", data=png, content_type="image/jpeg",
                            headers=headers), 422, "invalid_image")
    assert_error(client.put(f"/api/v1/blobs/{sha}", data=png, content_type="application/pdf",
                            headers=headers), 415, "unsupported_media_type")
    assert_error(client.put("/api/v1/blobs/not-a-hash", data=png, content_type="image/png",
                            headers=headers), 422)
    big = b"\x89PNG\r\n\x1a\n" + b"0" * (app.config["MAX_BLOB_BYTES"] + 100)
    assert_error(client.put(f"/api/v1/blobs/{hashlib.sha256(big).hexdigest()}", data=big,
                            content_type="image/png", headers=headers), 413, "payload_too_large")
    assert make.row_counts() == before
    first = client.put(f"/api/v1/blobs/{sha}", data=png, content_type="image/png", headers=headers)
    second = client.put(f"/api/v1/blobs/{sha}", data=png, content_type="image/png", headers=headers)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json == {"sha256": sha, "content_type": "image/png", "size": len(png)}
    download = client.get(f"/api/v1/blobs/{sha}", headers=headers)
    assert download.data == png and download.mimetype == "image/png"


@pytest.mark.parametrize("payload", [
    {"checklist": {"shelf": "maybe"}}, {"quantity": -1}, {"quantity": 10**12},
    {"observed_prices": {"LIP-01": "NaN"}}, {"observed_prices": {"LIP-01": -5}},
    {"photos": ["short"]}, {"photos": "a" * 64}, {"note": 12}, {"checklist": [1, 2]},
])
def test_submit_rejects_malformed_proof(make, client, payload):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1"}, headers=w.h["admin"])
    before = make.row_counts()
    response = client.post(f"/api/v1/tasks/{task_id}/submit", json=payload, headers=w.h["clerk1"])
    assert_error(response, 422)
    assert make.row_counts() == before
