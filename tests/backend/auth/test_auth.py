"""Sign-in, token rotation with reuse detection, sign-out."""

import datetime as dt

from backend.auth.models import RefreshToken
from backend.auth.throttle import SignInThrottle, ThrottleRules
from backend.auth.tokens import issue_access_token
from tests.factories import PASSWORD


def login(client, username, password=PASSWORD):
    return client.post("/api/v1/auth/login", json={"username": username, "password": password})


def test_login_returns_tokens_and_user(make, client):
    w = make.world()
    response = login(client, "clerk1")
    assert response.status_code == 200
    body = response.json
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    assert body["user"]["username"] == "clerk1" and body["user"]["store"] == "S001"
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json["role"] == "clerk"
    assert w.clerk1.id == me.json["id"]


def test_wrong_password_and_unknown_user_look_the_same(make, client):
    make.world()
    wrong, unknown = login(client, "clerk1", "nope-nope"), login(client, "ghost", "nope-nope")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json["error"] == unknown.json["error"] == "invalid_credentials"
    assert make.count(RefreshToken) == 0


def test_inactive_user_cannot_sign_in_or_use_old_tokens(make, client):
    region = make.region()
    store = make.store("S001", region)
    user = make.user("gone", store=store, active=False)
    assert login(client, "gone").json["error"] == "account_inactive"
    assert client.get("/api/v1/auth/me", headers=make.headers(user)).status_code == 401


def test_refresh_rotates_and_reuse_revokes_the_family(make, client):
    make.world()
    first = login(client, "clerk1").json
    second = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert second.status_code == 200
    assert second.json["refresh_token"] != first["refresh_token"]
    # The spent token comes back (stolen copy): the whole family dies, the fresh one too.
    reuse = client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401 and reuse.json["error"] == "refresh_token_reused"
    after = client.post("/api/v1/auth/refresh", json={"refresh_token": second.json["refresh_token"]})
    assert after.status_code == 401


def test_logout_revokes_refresh_token(make, client):
    make.world()
    tokens = login(client, "clerk1").json
    headers = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert client.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]},
                       headers=headers).status_code == 204
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    assert again.status_code == 401


def test_bad_and_expired_access_tokens(make, client, app):
    w = make.world()
    assert client.get("/api/v1/tasks").json["error"] == "missing_token"
    forged = issue_access_token(user_id=w.clerk1.id, role="hq_admin", secret="x" * 32,
                                ttl_seconds=900, now=dt.datetime.now(dt.timezone.utc))
    response = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401 and response.json["error"] == "invalid_token"
    expired = issue_access_token(user_id=w.clerk1.id, role="clerk", secret=app.config["SECRET_KEY"],
                                 ttl_seconds=60,
                                 now=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1))
    response = client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {expired}"})
    assert response.status_code == 401


def test_role_comes_from_the_database_not_the_token(make, client, app):
    """A token claiming hq_admin for a clerk grants nothing beyond the clerk's role."""
    w = make.world()
    token = issue_access_token(user_id=w.clerk1.id, role="hq_admin", secret=app.config["SECRET_KEY"],
                               ttl_seconds=900, now=dt.datetime.now(dt.timezone.utc))
    response = client.post("/api/v1/regions", json={"code": "WEST", "name": "West"},
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response.json["error"] == "forbidden_role"


def _refresh(client, token):
    return client.post("/api/v1/auth/refresh", json={"refresh_token": token})


def test_password_change_ends_every_token_of_before(make, client):
    w = make.world()
    phone, laptop = login(client, "clerk1").json, login(client, "clerk1").json
    changed = client.patch("/api/v1/users/clerk1", json={"password": "brand-new-pass-2026"},
                           headers=w.h["admin"])
    assert changed.status_code == 200, changed.json
    for tokens in (phone, laptop):
        refreshed = _refresh(client, tokens["refresh_token"])
        assert (refreshed.status_code, refreshed.json["error"]) == (401, "session_ended")
        me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tokens['access_token']}"})
        assert me.status_code == 401
    fresh = login(client, "clerk1", "brand-new-pass-2026")
    assert fresh.status_code == 200 and _refresh(client, fresh.json["refresh_token"]).status_code == 200


def test_deactivate_then_reactivate_does_not_revive_old_tokens(make, client):
    w = make.world()
    tokens = login(client, "clerk1").json
    for active in (False, True):
        response = client.patch("/api/v1/users/clerk1", json={"active": active}, headers=w.h["admin"])
        assert response.status_code == 200, response.json
    assert _refresh(client, tokens["refresh_token"]).status_code == 401
    assert client.get("/api/v1/auth/me", headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).status_code == 401
    assert login(client, "clerk1").status_code == 200


def test_sign_out_ends_the_users_other_sign_ins_too(make, client):
    make.world()
    phone, other = login(client, "clerk1").json, login(client, "clerk1").json
    headers = {"Authorization": f"Bearer {phone['access_token']}"}
    assert client.post("/api/v1/auth/logout", json={"refresh_token": phone["refresh_token"]},
                       headers=headers).status_code == 204
    assert client.get("/api/v1/auth/me", headers=headers).status_code == 401
    assert _refresh(client, other["refresh_token"]).status_code == 401


def test_guessing_is_throttled_per_username_without_telling_who_exists(make, client):
    make.world()
    answers = [login(client, "clerk1", f"wrong-{i}") for i in range(10)]
    assert [a.status_code for a in answers] == [401] * 10
    right = login(client, "clerk1")  # the right password, after ten wrong ones in a minute
    assert right.status_code == 429 and right.json["error"] == "rate_limited"
    assert 1 <= int(right.headers["Retry-After"]) <= 60
    ghost = [login(client, "no-such-user", "x").status_code for _ in range(11)]
    assert ghost == [401] * 10 + [429]  # an unknown name is throttled the same way
    assert login(client, "clerk1b").status_code == 200  # other users are unaffected
    assert make.count(RefreshToken) == 1


def test_one_address_is_throttled_across_usernames(make, app):
    make.world()
    app.extensions["zhida.throttle"] = SignInThrottle(
        "memory://", ThrottleRules(per_username="100/minute", per_address="5/minute"))
    here, elsewhere = app.test_client(), app.test_client()
    codes = [here.post("/api/v1/auth/login", json={"username": f"user{i}", "password": "x"}).status_code
             for i in range(6)]
    assert codes == [401] * 5 + [429]
    refreshes = [here.post("/api/v1/auth/refresh", json={"refresh_token": "nope"}).status_code
                 for _ in range(6)]  # refreshing has its own count
    assert refreshes == [401] * 5 + [429]
    other = elsewhere.post("/api/v1/auth/login", json={"username": "clerk1", "password": PASSWORD},
                           environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert other.status_code == 200
