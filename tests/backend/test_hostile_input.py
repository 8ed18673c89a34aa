"""Inputs a hostile or buggy client can send: each gets a clear 4xx, never a 500, and writes nothing."""

import base64
import json

import pytest

from sync.models import SyncClient

BASE_PUSH = {"client_id": "phone-hostile-1", "schema_version": 1}


def test_push_with_malformed_task_ids_is_answered_and_retry_works(make, client):
    w = make.world()
    mutations = [{"id": i + 1, "name": "record_sale", "args": {"task_id": bad, "sku": "LIP-01", "quantity": 1}}
                 for i, bad in enumerate([[1], {"a": 1}, 2**70, True, "seven", None])]
    for attempt in range(2):  # the retry is answered from storage, identically
        response = client.post("/api/v1/sync/push", json={**BASE_PUSH, "mutations": mutations},
                               headers=w.h["clerk1"])
        assert response.status_code == 200, response.get_data(as_text=True)[:300]
        assert [r["error"] for r in response.json["results"]] == ["invalid_args"] * 6
        assert response.json["last_mutation_id"] == 6


def test_out_of_range_dates_are_422_or_a_stored_rejection(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    before = make.row_counts()
    for moment in ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-12:00", "1969-07-20T20:17:00+00:00"]:
        claim = client.post("/api/v1/claims", json={"qr_token": "ZD1:AAAA", "scanned_at": moment},
                            headers=w.h["clerk1"])
        assert claim.status_code == 422
        campaign = client.post("/api/v1/campaigns", headers=w.h["admin"], json={
            "code": "X1", "title": "x", "starts_at": "2026-01-01T00:00:00+00:00", "ends_at": moment})
        assert campaign.status_code == 422
    assert make.row_counts() == before
    # In a push, a bad client time is that mutation's stored rejection: the queue moves on.
    moments = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-12:00", "1969-07-20T20:17:00+00:00"]
    push = client.post("/api/v1/sync/push", headers=w.h["clerk1"], json={**BASE_PUSH, "mutations": [
        {"id": i + 1, "name": "add_note", "args": {"task_id": task_id, "text": "x"}, "client_time": moment}
        for i, moment in enumerate(moments)]})
    assert push.status_code == 200, push.json
    assert [(r["status"], r["error"]) for r in push.json["results"]] == [("rejected", "invalid_args")] * 3
    assert all("client_time" in r["details"]["errors"] for r in push.json["results"])
    after = make.row_counts()
    assert after["task_notes"] == before["task_notes"] and after["events"] == before["events"]
    assert after["sync_mutations"] == 3


def test_lone_surrogates_in_a_mutation_get_a_stored_rejection(make, client):
    """JSON may carry "\\ud800", which is not UTF-8: in a name, an argument, a key or a client
    time it must become a stored rejection (retries answered the same), never a 500 that
    blocks the phone's queue."""
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    before = make.row_counts()
    raw = ('{"client_id": "phone-hostile-1", "schema_version": 1, "mutations": ['
           '{"id": 1, "name": "add_\\ud800note", "args": {"task_id": %(t)d, "text": "x"}},'
           '{"id": 2, "name": "\\udfff", "args": {}},'
           '{"id": 3, "name": "add_note", "args": {"task_id": %(t)d, "text": "a\\ud800b"}},'
           '{"id": 4, "name": "add_note", "args": {"task_id": %(t)d, "text": "x", "\\ud83d": 1}},'
           '{"id": 5, "name": "add_note", "args": {"task_id": %(t)d, "text": "x"}, "client_time": "\\ud800"},'
           '{"id": 6, "name": "add_note", "args": {"task_id": %(t)d, "text": "x"}, "\\ud800": 1},'
           '{"id": 7, "name": ["add_note"], "args": "x"},'
           '{"id": 8, "name": "set_checklist_item", "args": {"task_id": %(t)d, "item_id": "\\udc00", "done": true}},'
           '{"id": 9, "name": "add_note", "args": {"task_id": %(t)d, "text": "fine \\ud83d\\ude00"}}'
           ']}') % {"t": task_id}
    for attempt in range(2):
        response = client.post("/api/v1/sync/push", data=raw, content_type="application/json",
                               headers=w.h["clerk1"])
        assert response.status_code == 200, response.get_data(as_text=True)[:500]
        results = response.json["results"]
        assert [r["status"] for r in results] == ["rejected"] * 8 + ["applied"], results
        assert [r["error"] for r in results[:8]] == ["unknown_mutation", "unknown_mutation",
                                                     "invalid_args", "invalid_args", "invalid_args",
                                                     "invalid_args", "unknown_mutation", "invalid_args"]
        assert response.json["last_mutation_id"] == 9
    after = make.row_counts()
    assert after["sync_mutations"] == 9 and after["task_notes"] == before["task_notes"] + 1
    note = client.get(f"/api/v1/tasks/{task_id}", headers=w.h["clerk1"]).json["notes"][-1]
    assert note["text"] == "fine \U0001F600"


def test_forged_cursors_and_failed_pushes_write_nothing(make, client):
    w = make.world()
    forged = "c1." + base64.urlsafe_b64encode(json.dumps({"s": 2**70, "k": "x"}).encode()).decode()
    response = client.post("/api/v1/sync/pull", headers=w.h["clerk1"],
                           json={"client_id": "phone-hostile-2", "cursor": forged, "schema_version": 1})
    assert response.status_code == 400 and response.json["error"] == "invalid_cursor"
    before = make.row_counts()
    gap = client.post("/api/v1/sync/push", headers=w.h["clerk1"], json={**BASE_PUSH, "mutations": [
        {"id": 5, "name": "add_note", "args": {"task_id": 1, "text": "x"}}]})
    assert gap.status_code == 409
    many = client.post("/api/v1/sync/push", headers=w.h["clerk1"], json={**BASE_PUSH, "mutations": [
        {"id": "x"}] * 501})
    assert many.status_code == 413
    assert make.row_counts() == before and make.count(SyncClient) == 0


def test_csv_and_json_edge_cases(make, client):
    w = make.world()
    before = make.row_counts()
    cases = [
        "sku,name,category,brand,price\nA1," + "x" * 140_000 + ",c,b,1\n",
        "sku,name,category,brand,price\nA1,na\rme,c,b,1\n",
        "sku,name,category,brand,price,attributes\nA1,n,c,b,1," + "[" * 5000 + "\n",
        'sku,name,category,brand,price,attributes\nA1,n,c,b,1,"{""x"": NaN}"\n',
    ]
    for text in cases:
        response = client.post("/api/v1/products/import", data=text.encode(), content_type="text/csv",
                               headers=w.h["admin"])
        assert response.status_code == 422, (text[:60], response.get_data(as_text=True)[:200])
    nan = client.post("/api/v1/products", headers=w.h["admin"], data='{"sku": "N1", "name": "n", '
                      '"category": "c", "price": 1, "attributes": {"x": NaN}}', content_type="application/json")
    assert nan.status_code == 422
    assert make.row_counts() == before


def test_claim_checks_store_before_revocation_and_holders_rescan(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    old = client.get(f"/api/v1/tasks/{task_id}/qr", headers=w.h["admin"]).json["token"]
    client.post(f"/api/v1/tasks/{task_id}/qr/rotate", headers=w.h["admin"])
    other = client.post("/api/v1/claims", json={"qr_token": old}, headers=w.h["clerk2"])
    assert other.status_code == 403 and other.json["error"] == "wrong_store"
    price = make.task_id(w.campaign.id, w.s1, "Price check")
    token = client.get(f"/api/v1/tasks/{price}/qr", headers=w.h["admin"]).json["token"]
    assert client.post("/api/v1/claims", json={"qr_token": token}, headers=w.h["clerk1"]).status_code == 201
    client.post(f"/api/v1/tasks/{price}/submit", headers=w.h["clerk1"],
                json={"observed_prices": {"LIP-01": 159.0}, "quantity": 1})
    rescan = client.post("/api/v1/claims", json={"qr_token": token}, headers=w.h["clerk1"])
    assert rescan.status_code == 200 and rescan.json["created"] is False
    late = client.post("/api/v1/claims", json={"qr_token": token}, headers=w.h["clerk1b"])
    assert late.status_code == 409 and late.json["error"] == "task_not_claimable"


def test_notification_and_device_endpoints_refuse_hostile_input(make, client):
    from notifications.models import Device, Notification
    w = make.world()
    before = (make.count(Device), make.count(Notification))
    for url in ("/api/v1/notifications/100000000000000000000000/read", "/api/v1/notifications/-1/read",
                "/api/v1/notifications/abc/read"):
        assert client.post(url, headers=w.h["clerk1"]).status_code == 404
    for query in ({"page": 10**9}, {"page_size": 10**6}, {"unread": "maybe"}, {"locale": "fr"}):
        response = client.get("/api/v1/notifications", headers=w.h["clerk1"], query_string=query)
        assert response.status_code == 422 and response.json["error"], query
    for body in ({"client_id": "c" * 65, "platform": "android"}, {"client_id": ["a"] * 9, "platform": "ios"},
                 {"client_id": "phone-clerk1-x", "platform": "android", "push_token": "t" * 5000},
                 {"client_id": "phone-clerk1-x", "platform": "android", "token_kind": "apns"},
                 {"client_id": "phone-clerk1-x", "platform": None}, [], "text"):
        response = client.post("/api/v1/devices", headers=w.h["clerk1"], json=body)
        assert response.status_code == 422 and response.json["error"], body
    assert client.delete("/api/v1/devices/" + "x" * 5000, headers=w.h["clerk1"]).status_code == 404
    assert (make.count(Device), make.count(Notification)) == before


def test_store_timezones_must_be_zone_names(make, client):
    from backend.org.models import Store
    w = make.world()
    before = make.count(Store)
    for timezone in ("America", "Etc", "Asia/" + "x" * 300, "../../etc/passwd", "/usr/share/zoneinfo/UTC",
                     "Asia/Shanghai\x00"):
        created = client.post("/api/v1/stores", headers=w.h["admin"], json={
            "code": "S099", "name": "New", "region": "EAST", "timezone": timezone})
        assert (created.status_code, created.json["error"]) == (422, "validation_error"), timezone
        changed = client.patch("/api/v1/stores/S001", headers=w.h["admin"], json={"timezone": timezone})
        assert changed.status_code == 422, (timezone, changed.json)
    assert make.count(Store) == before
    good = client.post("/api/v1/stores", headers=w.h["admin"], json={
        "code": "S099", "name": "New", "region": "EAST", "timezone": "Europe/Paris"})
    assert good.status_code == 201, good.json


def test_access_tokens_with_odd_subjects_are_401(make, client, app):
    import datetime as dt

    import jwt
    w = make.world()
    now = int(dt.datetime.now(dt.timezone.utc).timestamp())
    for subject in ("²", "٣", "1" * 30, "0", "-1", " 1", "1.0"):
        token = jwt.encode({"sub": subject, "typ": "access", "role": "hq_admin", "iat": now,
                            "exp": now + 60}, app.config["SECRET_KEY"], algorithm="HS256")
        response = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"})
        assert (response.status_code, response.json["error"]) == (401, "invalid_token"), subject
    assert client.get("/api/v1/tasks", headers=w.h["admin"]).status_code == 200


@pytest.mark.parametrize("path", ["/api/v1/auth/login", "/api/v1/regions", "/api/v1/campaigns",
                                  "/api/v1/scripts", "/api/v1/devices", "/api/v1/sync/pull"])
def test_lone_surrogates_and_deep_nesting_are_refused_without_writing(make, client, path):
    w = make.world()
    before = make.row_counts()
    headers = {**w.h["admin" if "regions" in path or "campaigns" in path else "clerk1"],
               "Content-Type": "application/json"}
    bodies = {
        "/api/v1/auth/login": '{"username": "adm\\ud800", "password": "x"}',
        "/api/v1/regions": '{"code": "R1", "name": "\\udfff"}',
        "/api/v1/campaigns": '{"code": "C\\ud800", "title": "t"}',
        "/api/v1/scripts": '{"sku": "LIP-01", "locale": "zh-CN", "text": "\\ud83d"}',
        "/api/v1/devices": '{"client_id": "phone-\\ud800-0001", "platform": "android"}',
        "/api/v1/sync/pull": '{"client_id": "phone-clerk1-01", "cursor": "c1.\\ud800", "schema_version": 1}',
    }
    surrogate = client.post(path, data=bodies[path], headers=headers)
    assert surrogate.status_code == 422, surrogate.json
    deep = client.post(path, data="[" * 5000 + "]" * 5000, headers=headers)
    assert deep.status_code == 400 and deep.json["error"] == "bad_request", deep.json
    deep_object = client.post(path, data='{"a":' * 100 + "1" + "}" * 100, headers=headers)
    assert deep_object.status_code == 400, deep_object.json
    assert make.row_counts() == before


def test_unknown_query_parameters_are_refused(make, client):
    w = make.world()
    typo = client.get("/api/v1/tasks?stauts=open", headers=w.h["clerk1"])
    assert typo.status_code == 422 and "stauts" in str(typo.json["errors"]), typo.json
    assert client.get("/api/v1/tasks?status=open", headers=w.h["clerk1"]).status_code == 200
