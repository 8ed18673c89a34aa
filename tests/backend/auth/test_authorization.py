"""The authorization matrix: every route in the OpenAPI spec, every role, and store scope."""

import hashlib

import pytest

from seed.demo import tiny_png

PUBLIC = "public"
ALL = ("hq_admin", "supervisor", "clerk")
HQ = ("hq_admin",)
MANAGERS = ("hq_admin", "supervisor")
CLERK = ("clerk",)

# Every (method, path) of the API and the roles it admits. A route missing here fails the
# test, so no endpoint can ship without a decision about who may call it.
EXPECTED = {
    ("post", "/api/v1/auth/login"): PUBLIC,
    ("post", "/api/v1/auth/refresh"): PUBLIC,
    ("post", "/api/v1/auth/logout"): ALL,
    ("get", "/api/v1/auth/me"): ALL,
    ("get", "/api/v1/regions"): ALL,
    ("post", "/api/v1/regions"): HQ,
    ("get", "/api/v1/stores"): ALL,
    ("post", "/api/v1/stores"): HQ,
    ("get", "/api/v1/stores/{code}"): ALL,
    ("patch", "/api/v1/stores/{code}"): HQ,
    ("get", "/api/v1/users"): MANAGERS,
    ("post", "/api/v1/users"): HQ,
    ("get", "/api/v1/users/{username}"): ALL,
    ("patch", "/api/v1/users/{username}"): HQ,
    ("get", "/api/v1/products"): ALL,
    ("post", "/api/v1/products"): HQ,
    ("post", "/api/v1/products/import"): HQ,
    ("get", "/api/v1/products/{sku}"): ALL,
    ("patch", "/api/v1/products/{sku}"): HQ,
    ("get", "/api/v1/products/{sku}/pairings"): ALL,
    ("post", "/api/v1/products/{sku}/pairings/pins"): HQ,
    ("delete", "/api/v1/products/{sku}/pairings/pins"): HQ,
    ("post", "/api/v1/products/{sku}/pairings/bans"): HQ,
    ("delete", "/api/v1/products/{sku}/pairings/bans"): HQ,
    ("get", "/api/v1/scripts"): ALL,
    ("post", "/api/v1/scripts"): ("hq_admin", "clerk"),
    ("post", "/api/v1/scripts/{script_id}/moderate"): MANAGERS,
    ("post", "/api/v1/scripts/{script_id}/feedback"): ALL,
    ("post", "/api/v1/devices"): ALL,
    ("delete", "/api/v1/devices/{client_id}"): ALL,
    ("get", "/api/v1/notifications"): ALL,
    ("post", "/api/v1/notifications/{notification_id}/read"): ALL,
    ("post", "/api/v1/sales/import"): HQ,
    ("get", "/api/v1/campaigns"): ALL,
    ("post", "/api/v1/campaigns"): HQ,
    ("post", "/api/v1/campaigns/targeting-preview"): HQ,
    ("get", "/api/v1/campaigns/{campaign_id}"): ALL,
    ("patch", "/api/v1/campaigns/{campaign_id}"): HQ,
    ("patch", "/api/v1/campaigns/{campaign_id}/templates/{template_id}"): HQ,
    ("get", "/api/v1/campaigns/{campaign_id}/preview"): HQ,
    ("post", "/api/v1/campaigns/{campaign_id}/publish"): HQ,
    ("post", "/api/v1/campaigns/{campaign_id}/cancel"): HQ,
    ("post", "/api/v1/campaigns/{campaign_id}/close"): HQ,
    ("post", "/api/v1/campaigns/{campaign_id}/tasks/import"): HQ,
    ("get", "/api/v1/tasks"): ALL,
    ("get", "/api/v1/tasks/{task_id}"): ALL,
    ("post", "/api/v1/tasks/{task_id}/assign"): MANAGERS,
    ("post", "/api/v1/tasks/{task_id}/start"): CLERK,
    ("post", "/api/v1/tasks/{task_id}/unclaim"): ALL,
    ("post", "/api/v1/tasks/{task_id}/submit"): CLERK,
    ("post", "/api/v1/tasks/{task_id}/review"): MANAGERS,
    ("post", "/api/v1/tasks/{task_id}/cancel"): HQ,
    ("post", "/api/v1/claims"): CLERK,
    ("get", "/api/v1/tasks/{task_id}/qr"): MANAGERS,
    ("get", "/api/v1/tasks/{task_id}/qr.png"): MANAGERS,
    ("get", "/api/v1/tasks/{task_id}/qr.svg"): MANAGERS,
    ("post", "/api/v1/tasks/{task_id}/qr/rotate"): MANAGERS,
    ("get", "/api/v1/campaigns/{campaign_id}/qr-sheet"): MANAGERS,
    ("get", "/api/v1/analytics/execution"): MANAGERS,
    ("get", "/api/v1/analytics/leaderboard"): MANAGERS,
    ("get", "/api/v1/analytics/overdue"): MANAGERS,
    ("get", "/api/v1/analytics/impact"): MANAGERS,
    ("post", "/api/v1/sync/push"): ALL,
    ("post", "/api/v1/sync/pull"): ALL,
    ("put", "/api/v1/blobs/{sha256}"): ALL,
    ("get", "/api/v1/webhooks"): HQ,
    ("post", "/api/v1/webhooks"): HQ,
    ("delete", "/api/v1/webhooks/{endpoint_id}"): HQ,
    ("patch", "/api/v1/webhooks/{endpoint_id}"): HQ,
    ("get", "/api/v1/webhooks/{endpoint_id}/deliveries"): HQ,
    ("post", "/api/v1/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver"): HQ,
    ("get", "/api/v1/rules"): MANAGERS,
    ("post", "/api/v1/rules"): MANAGERS,
    ("get", "/api/v1/rules/{rule_id}"): MANAGERS,
    ("patch", "/api/v1/rules/{rule_id}"): MANAGERS,
    ("post", "/api/v1/rules/{rule_id}/dry-run"): MANAGERS,
    ("get", "/api/v1/rules/{rule_id}/effect"): MANAGERS,
    ("get", "/api/v1/api-keys"): HQ,
    ("post", "/api/v1/api-keys"): HQ,
    ("delete", "/api/v1/api-keys/{key_id}"): HQ,
    ("get", "/api/v1/blobs/{sha256}"): ALL,
}


def _routes(client):
    spec = client.get("/api/v1/openapi.json").json
    return [(method, path) for path, item in spec["paths"].items() for method in item
            if method in ("get", "post", "put", "patch", "delete")]


def _concrete(path, w, task_id, sha):
    return (path.replace("{code}", "S001").replace("{username}", "clerk1")
            .replace("{sku}", "LIP-01").replace("{campaign_id}", str(w.campaign.id))
            .replace("{template_id}", str(w.campaign.templates[0].id))
            .replace("{task_id}", str(task_id)).replace("{sha256}", sha)
            .replace("{script_id}", "1").replace("{notification_id}", "1")
            .replace("{client_id}", "phone-of-nobody").replace("{endpoint_id}", "1")
            .replace("{key_id}", "1").replace("{rule_id}", "1")
            .replace("{delivery_id}", "1"))


def test_every_route_is_in_the_matrix(plain_client):
    routes = set(_routes(plain_client))
    assert routes == set(EXPECTED), (
        f"unlisted: {sorted(routes - set(EXPECTED))}; gone: {sorted(set(EXPECTED) - routes)}")


def test_each_role_gets_401_403_or_through(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    png = tiny_png(1)
    sha = hashlib.sha256(png).hexdigest()
    assert client.put(f"/api/v1/blobs/{sha}", data=png, content_type="image/png",
                      headers=w.h["clerk1"]).status_code == 201
    role_headers = {"hq_admin": w.h["admin"], "supervisor": w.h["sup_east"], "clerk": w.h["clerk1"]}
    checked = 0
    for method, path in _routes(client):
        url = _concrete(path, w, task_id, sha)
        allowed = EXPECTED[(method, path)]
        anonymous = client.open(url, method=method.upper(), json={})
        if allowed == PUBLIC:
            assert anonymous.status_code != 401 or path.endswith("/login"), (method, path)
            continue
        assert anonymous.status_code == 401, (method, path, anonymous.json)
        assert anonymous.json["error"] == "missing_token"
        for role, headers in role_headers.items():
            before = make.row_counts() if role not in allowed else None
            response = client.open(url, method=method.upper(), json={}, headers=headers)
            body = response.get_json(silent=True)
            body = body if isinstance(body, dict) else {}
            if role in allowed:
                assert response.status_code not in (401, 500) and body.get("error") != "forbidden_role", (
                    method, path, role, response.status_code, body)
            else:
                assert response.status_code == 403, (method, path, role, body)
                assert body["error"] == "forbidden_role"
                assert make.row_counts() == before, (method, path, role)
            checked += 1
    assert checked >= 3 * (len(EXPECTED) - 2)


def test_clerk_of_another_store_gets_403_and_writes_nothing(make, client):
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    assert client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": "clerk1"},
                       headers=w.h["sup_east"]).status_code == 200
    png = tiny_png(2)
    sha = hashlib.sha256(png).hexdigest()
    client.put(f"/api/v1/blobs/{sha}", data=png, content_type="image/png", headers=w.h["clerk1"])
    client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h["clerk1"],
                json={"checklist": {"shelf": True, "poster": True}, "photos": [sha]})
    before = make.row_counts()
    other = w.h["clerk2"]
    attempts = [
        ("get", f"/api/v1/tasks/{task_id}", None),
        ("get", f"/api/v1/tasks/{task_id}?include=history", None),
        ("post", f"/api/v1/tasks/{task_id}/start", None),
        ("post", f"/api/v1/tasks/{task_id}/unclaim", {}),
        ("post", f"/api/v1/tasks/{task_id}/submit", {"checklist": {"shelf": True}}),
        ("get", "/api/v1/stores/S001", None),
        ("get", "/api/v1/users/clerk1", None),
        ("get", f"/api/v1/blobs/{sha}", None),
    ]
    for method, url, body in attempts:
        response = client.open(url, method=method.upper(), json=body, headers=other)
        assert response.status_code == 403, (url, response.json)
        assert response.json["error"] in ("out_of_scope", "forbidden_role"), (url, response.json)
    listed = client.get("/api/v1/tasks?store=S001", headers=other).json
    assert listed["total"] == 0
    assert make.row_counts() == before


@pytest.mark.parametrize("supervisor,visible_stores", [("sup_east", {"S001", "S003"}),
                                                       ("sup_north", {"S002"})])
def test_supervisor_sees_only_their_regions(make, client, supervisor, visible_stores):
    w = make.world()
    headers = w.h[supervisor]
    tasks = client.get("/api/v1/tasks?page_size=200", headers=headers).json
    assert {task["store"] for task in tasks["items"]} == visible_stores
    stores = client.get("/api/v1/stores", headers=headers).json
    assert {store["code"] for store in stores["items"]} == visible_stores
    users = client.get("/api/v1/users?page_size=200", headers=headers).json
    clerk_stores = {user["store"] for user in users["items"] if user["role"] == "clerk"}
    assert clerk_stores == visible_stores
    outside = "S002" if "S002" not in visible_stores else "S001"
    task_id = make.task_id(w.campaign.id, w.s2 if outside == "S002" else w.s1)
    before = make.row_counts()
    for method, url, body in [
        ("get", f"/api/v1/tasks/{task_id}", None),
        ("post", f"/api/v1/tasks/{task_id}/review", {"decision": "approve"}),
        ("post", f"/api/v1/tasks/{task_id}/assign", {"username": "clerk2"}),
        ("get", f"/api/v1/stores/{outside}", None),
    ]:
        response = client.open(url, method=method.upper(), json=body, headers=headers)
        assert response.status_code == 403, (url, response.json)
        assert response.json["error"] == "out_of_scope"
    assert make.row_counts() == before


def test_clerk_sees_campaigns_only_with_tasks_in_their_store(make, client):
    w = make.world()
    only_north = make.campaign(w.admin, "NORTHONLY", targeting={"regions": ["NORTH"]})
    draft = make.campaign(w.admin, "DRAFT", publish=False)
    codes = {c["code"] for c in client.get("/api/v1/campaigns", headers=w.h["clerk1"]).json["items"]}
    assert codes == {"D11"}
    assert client.get(f"/api/v1/campaigns/{only_north.id}", headers=w.h["clerk1"]).status_code == 403
    assert client.get(f"/api/v1/campaigns/{draft.id}", headers=w.h["sup_east"]).status_code == 403
    assert client.get(f"/api/v1/campaigns/{only_north.id}", headers=w.h["clerk2"]).status_code == 200


# API keys (SPEC §13): a key is a principal with exactly its scopes. Every (method, path) a scope
# opens; every other route answers 403 forbidden_scope to a key, whatever its scopes.
KEY_ROUTES = {
    ("post", "/api/v1/sales/import"): "sales:import",
    ("post", "/api/v1/products/import"): "products:import",
    ("get", "/api/v1/tasks"): "tasks:read",
    ("get", "/api/v1/tasks/{task_id}"): "tasks:read",
    ("get", "/api/v1/campaigns"): "campaigns:read",
    ("get", "/api/v1/campaigns/{campaign_id}"): "campaigns:read",
}


def _key_scope(method, path):
    if method == "get" and path.startswith("/api/v1/analytics/"):
        return "analytics:read"
    return KEY_ROUTES.get((method, path))


def _issue_key(client, w, scopes):
    response = client.post("/api/v1/api-keys", headers=w.h["admin"], json={"name": "bi", "scopes": scopes})
    assert response.status_code == 201, response.json
    return {"Authorization": f"Bearer {response.json['key']}"}, response.json["id"]


def test_an_api_key_reaches_exactly_the_routes_of_its_scopes(make, client):
    from backend.auth.api_keys import SCOPES
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1)
    every_scope, _ = _issue_key(client, w, list(SCOPES))
    tasks_only, _ = _issue_key(client, w, ["tasks:read"])
    checked = 0
    for method, path in _routes(client):
        if EXPECTED[(method, path)] == PUBLIC:
            continue
        url = _concrete(path, w, task_id, "0" * 64)
        scope = _key_scope(method, path)
        for headers, scopes in ((every_scope, set(SCOPES)), (tasks_only, {"tasks:read"})):
            before = make.row_counts()
            response = client.open(url, method=method.upper(), json={}, headers=headers)
            body = response.get_json(silent=True)
            body = body if isinstance(body, dict) else {}
            if scope in scopes:
                assert response.status_code not in (401, 403, 500), (method, path, response.status_code, body)
            else:
                assert response.status_code == 403 and body["error"] == "forbidden_scope", (method, path, body)
                assert make.row_counts() == before, (method, path)
            checked += 1
    assert checked >= 2 * (len(EXPECTED) - 2)


def test_revoked_keys_and_keys_of_former_admins_are_refused(make, client):
    w = make.world()
    headers, key_id = _issue_key(client, w, ["tasks:read"])
    assert client.get("/api/v1/tasks", headers=headers).status_code == 200
    assert client.delete(f"/api/v1/api-keys/{key_id}", headers=w.h["admin"]).status_code == 204
    refused = client.get("/api/v1/tasks", headers=headers)
    assert refused.status_code == 401 and refused.json["error"] == "invalid_token"
    headers, _ = _issue_key(client, w, ["tasks:read"])
    w.admin.active = False
    make.session.commit()
    assert client.get("/api/v1/tasks", headers=headers).status_code == 401
    assert client.get("/api/v1/tasks", headers={"Authorization": "Bearer zk_made-up"}).status_code == 401
