"""API keys (SPEC §13): shown once, hashed at rest, listed without the key, last use, revocation."""

from sqlalchemy import select

from backend.auth.api_keys import ApiKey, hash_key


def test_a_key_is_shown_once_stored_hashed_and_notes_its_last_use(make, client):
    w = make.world()
    created = client.post("/api/v1/api-keys", headers=w.h["admin"],
                          json={"name": "POS Shanghai", "scopes": ["sales:import", "tasks:read"]})
    assert created.status_code == 201
    key = created.json["key"]
    assert key.startswith("zk_") and created.json["prefix"] == key[:11]
    assert created.json["scopes"] == ["sales:import", "tasks:read"] and created.json["last_used_at"] is None
    row = make.scalar(select(ApiKey))
    assert row.key_hash == hash_key(key) and key not in repr(row.__dict__)
    listed = client.get("/api/v1/api-keys", headers=w.h["admin"]).json
    assert "key" not in listed[0] and listed[0]["active"] is True
    assert client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    make.session.expire_all()
    assert make.scalar(select(ApiKey)).last_used_at is not None
    assert client.get("/api/v1/api-keys", headers=w.h["admin"]).json[0]["last_used_at"] is not None
    # a key acts for its HQ creator but may not manage keys
    assert client.get("/api/v1/api-keys", headers={"Authorization": f"Bearer {key}"}).status_code == 403


def test_bad_key_requests_are_refused_and_write_nothing(make, client):
    w = make.world()
    for body in ({"name": "x", "scopes": ["root"]}, {"name": "x", "scopes": []}, {"name": "", "scopes": ["tasks:read"]},
                 {"scopes": ["tasks:read"]}, {"name": "x", "scopes": ["tasks:read"], "extra": True}):
        assert client.post("/api/v1/api-keys", headers=w.h["admin"], json=body).status_code == 422, body
    assert make.count(ApiKey) == 0
    assert client.delete("/api/v1/api-keys/999", headers=w.h["admin"]).status_code == 404
