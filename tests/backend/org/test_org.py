"""Regions, stores and users over HTTP."""

from backend.org.models import User
from tests.factories import PASSWORD


def test_hq_builds_the_org(make, client):
    w = make.world()
    h = w.h["admin"]
    assert client.post("/api/v1/regions", json={"code": "WEST", "name": "West"}, headers=h).status_code == 201
    store = client.post("/api/v1/stores", headers=h, json={
        "code": "S100", "name": "成都太古里店", "region": "WEST", "tags": ["mall", "flagship", "mall"],
        "timezone": "Asia/Shanghai", "lat": 30.65, "lng": 104.08})
    assert store.status_code == 201, store.json
    assert store.json["tags"] == ["flagship", "mall"] and store.json["region"] == "WEST"
    moved = client.patch("/api/v1/stores/S100", json={"region": "EAST", "tags": ["street"]}, headers=h)
    assert moved.json["region"] == "EAST" and moved.json["tags"] == ["street"]
    clerk = client.post("/api/v1/users", headers=h, json={
        "username": "li.na", "password": "long-password", "display_name": "李娜", "role": "clerk",
        "store": "S100", "locale": "zh-CN"})
    assert clerk.status_code == 201 and clerk.json["store"] == "S100"
    sup = client.post("/api/v1/users", headers=h, json={
        "username": "wang", "password": "long-password", "display_name": "王", "role": "supervisor",
        "regions": ["EAST", "WEST"]})
    assert sup.json["regions"] == ["EAST", "WEST"]
    login = client.post("/api/v1/auth/login", json={"username": "li.na", "password": "long-password"})
    assert login.status_code == 200
    assert "password" not in str(clerk.json) and "hash" not in str(clerk.json)


def test_user_binding_rules(make, client):
    w = make.world()
    h = w.h["admin"]
    base = {"password": "long-password", "display_name": "X"}
    cases = [({"username": "cl1", "role": "clerk"}, "store"),
             ({"username": "cl2", "role": "clerk", "store": "S001", "regions": ["EAST"]}, "regions"),
             ({"username": "su1", "role": "supervisor"}, "regions"),
             ({"username": "su2", "role": "supervisor", "regions": ["MARS"]}, "regions"),
             ({"username": "hq1", "role": "hq_admin", "store": "S001"}, "role"),
             ({"username": "short", "role": "hq_admin", "password": "short"}, "password")]
    users = make.count(User)
    for body, field in cases:
        response = client.post("/api/v1/users", json={**base, **body}, headers=h)
        assert response.status_code == 422 and field in response.json["errors"], (body, response.json)
    assert make.count(User) == users


def test_deactivating_a_user_cuts_access(make, client):
    w = make.world()
    token = client.post("/api/v1/auth/login", json={"username": "clerk1", "password": PASSWORD}).json
    response = client.patch("/api/v1/users/clerk1", json={"active": False}, headers=w.h["admin"])
    assert response.status_code == 200 and response.json["active"] is False
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 401
    assert client.post("/api/v1/auth/refresh", json={"refresh_token": token["refresh_token"]}).status_code == 401


def test_a_role_change_needs_the_new_roles_binding_and_signs_the_person_out(make, client):
    w = make.world()
    token = client.post("/api/v1/auth/login", json={"username": "clerk1", "password": PASSWORD}).json
    alone = client.patch("/api/v1/users/clerk1", json={"role": "supervisor"}, headers=w.h["admin"])
    assert alone.status_code == 422 and "store" in alone.json["errors"]
    assert client.get("/api/v1/users/clerk1", headers=w.h["admin"]).json["role"] == "clerk"
    moved = client.patch("/api/v1/users/clerk1", headers=w.h["admin"], json={
        "role": "supervisor", "store": None, "regions": ["NORTH"]})
    assert moved.status_code == 200, moved.json
    assert (moved.json["role"], moved.json["store"], moved.json["regions"]) == ("supervisor", None, ["NORTH"])
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"})
    assert me.status_code == 401


def test_clerk_sees_own_store_and_region_only(make, client):
    w = make.world()
    regions = client.get("/api/v1/regions", headers=w.h["clerk1"]).json
    assert [r["code"] for r in regions] == ["EAST"]
    stores = client.get("/api/v1/stores", headers=w.h["clerk1"]).json
    assert [s["code"] for s in stores["items"]] == ["S001"]
    assert client.get("/api/v1/users/clerk1", headers=w.h["clerk1"]).status_code == 200
    assert client.get("/api/v1/users/clerk1b", headers=w.h["clerk1"]).status_code == 403
    assert client.get("/api/v1/stores?tag=flagship", headers=w.h["admin"]).json["total"] == 1
