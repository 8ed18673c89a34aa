"""Security headers (SPEC §15) on the API, the console, blobs and the docs."""

import hashlib

from backend.app import create_app


def test_api_answers_cannot_run_or_be_framed(make, client):
    w = make.world()
    for response in (client.get("/api/v1/tasks", headers=w.h["clerk1"]),
                     client.get("/api/v1/tasks"),  # an error answer too
                     client.get("/healthz")):
        assert response.headers["Content-Security-Policy"].startswith("default-src 'none'")
        assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
        assert "Strict-Transport-Security" not in response.headers  # development: plain HTTP


def test_console_pages_allow_only_own_scripts_and_no_framing(plain_client):
    page = plain_client.get("/console/login")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert " on" + "change=" not in page.get_data(as_text=True)  # no inline handlers to break


def test_a_polyglot_photo_is_served_with_its_checked_type_and_nosniff(make, client):
    w = make.world()
    body = b"\x89PNG\r\n\x1a\n" + b"<html><script>alert(1)</script></html>"
    sha = hashlib.sha256(body).hexdigest()
    put = client.put(f"/api/v1/blobs/{sha}", data=body, content_type="image/png", headers=w.h["clerk1"])
    assert put.status_code == 201, put.json
    got = client.get(f"/api/v1/blobs/{sha}", headers=w.h["clerk1"])
    assert got.status_code == 200 and got.mimetype == "image/png"
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert got.headers["Content-Security-Policy"].startswith("default-src 'none'")


def test_production_sends_hsts(database_url):
    app = create_app({"DATABASE_URL": database_url, "ENV_NAME": "production",
                      "SECRET_KEY": "a-production-key-that-is-long-enough-000"})
    response = app.test_client().get("/healthz")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    app.extensions["zhida.engine"].dispose()
