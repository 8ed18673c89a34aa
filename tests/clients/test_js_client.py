"""The JavaScript sync client (clients/js) against the real server, on SQLite and PostgreSQL.

pytest seeds a store world, serves the app on a loopback port, writes what the node tests need
(base URL, logins, task ids and QR tokens) to a JSON file, and runs `node --test` on
clients/js/test/*.test.js
with ZHIDA_JS_FIXTURE pointing at it. Every scenario runs twice, over MemoryStorage and over
IndexedDBStorage (fake-indexeddb in Node), each on its own tasks. The files run one after
another: some compare a whole store's tasks with the server, which a parallel file would change.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess

import jsonschema
import pytest

from sqlalchemy import select

from backend.app import create_app
from backend.org.models import User
from seed.demo import tiny_png
from tests.factories import PASSWORD
from tests.live_server import serve
from tests.paths import ROOT

NODE_TESTS = ROOT / "clients" / "js" / "test"
SCHEMAS = ROOT / "clients" / "js" / "schema"
STORAGES = ("memory", "indexeddb")
# One task per scenario and storage; "converge" lets two clerks hold it at once.
SCENARIOS = ("auth", "queue", "retry", "gap", "reject", "converge", "photo", "bad-photo", "view",
             "claim")


@pytest.fixture
def app(database_url):
    """tests/conftest.py's app with sign-in throttling sized for this run: each scenario signs in
    fresh phones, some fifty sign-ins of one clerk within a minute (throttling has its own tests)."""
    app = create_app({"DATABASE_URL": database_url, "SECRET_KEY": "test-secret-key-that-is-long-enough-32b",
                      "TESTING": True, "NOTIFY_QUIET_HOURS": "off",
                      "THROTTLE_PER_USERNAME": "1000/minute", "THROTTLE_PER_ADDRESS": "5000/minute"})
    yield app
    app.extensions["zhida.engine"].dispose()


def _node_or_skip() -> str:
    node = shutil.which("node")
    message = None
    if node is None:
        message = "node is NOT installed: the JS client tests are skipped (apt-get install nodejs)"
    elif not (ROOT / "node_modules" / "idb").is_dir():
        message = "node_modules are missing: run `make` (npm ci) before the JS client tests"
    if message:
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return node


def _seed(make, client) -> dict:
    """The world of tests/factories.py plus one campaign of scenario tasks in store S001."""
    w = make.world()
    templates = [{"title": f"{scenario}/{storage}",
                  "checklist": [{"id": "shelf", "label": "Shelf"}, {"id": "poster", "label": "Poster"}],
                  "proof": {"photos": 1 if scenario == "photo" else 0, "quantity": False,
                            "observed_price": False},
                  "max_claimants": 2 if scenario == "converge" else 1}
                 for scenario in SCENARIOS for storage in STORAGES]
    campaign = make.campaign(w.admin, "JS", tasks=templates, featured_skus=["LIP-01"],
                             promo_prices={"LIP-01": 159.0},
                             targeting={"regions": [], "stores": ["S001"], "tags": []})
    tasks = {}
    for template in templates:
        task_id = make.task_id(campaign.id, w.s1, template["title"])
        qr = client.get(f"/api/v1/tasks/{task_id}/qr", headers=w.h["admin"])
        assert qr.status_code == 200, qr.json
        tasks[template["title"]] = {"id": task_id, "qr_token": qr.json["token"],
                                    "short_code": qr.json["short_code"]}
    script = client.post("/api/v1/scripts", headers=w.h["admin"], json={
        "sku": "LIP-01", "locale": "zh-CN", "text": "这款口红今天有活动价，试试看？"})
    assert script.status_code == 201 and script.json["status"] == "approved", script.json
    other = make.task_id(w.campaign.id, w.s2)
    other_qr = client.get(f"/api/v1/tasks/{other}/qr", headers=w.h["admin"]).json["token"]
    return {"password": PASSWORD, "tasks": tasks, "sku": "LIP-01", "script_id": script.json["id"],
            "other_store_task": {"id": other, "qr_token": other_qr},
            "png_base64": base64.b64encode(tiny_png(7)).decode(),
            "users": {"clerk": "clerk1", "clerk_same_store": "clerk1b", "clerk_other_store": "clerk2",
                      "admin": "admin", "supervisor": "sup_east"}}


def test_js_client_against_the_live_server(make, app, client, database_url, tmp_path):
    node = _node_or_skip()
    fixture = _seed(make, client)
    with serve(app) as base_url:
        fixture["base_url"] = base_url
        path = tmp_path / "js-fixture.json"
        path.write_text(json.dumps(fixture, indent=2))
        env = {**os.environ, "ZHIDA_JS_FIXTURE": str(path), "NODE_OPTIONS": ""}
        files = sorted(str(path) for path in NODE_TESTS.glob("*.test.js"))
        run = subprocess.run([node, "--test", "--test-concurrency=1", "--test-reporter=spec",
                              "--test-timeout=120000", *files], cwd=ROOT,
                             env=env, capture_output=True, text=True, timeout=600)
    if run.returncode != 0:
        print(run.stdout[-30000:])
        print(run.stderr[-5000:])
    assert run.returncode == 0, f"node --test failed on {database_url.split(':')[0]} (output above)"
    _assert_payloads_match_the_schemas(make, client, fixture)


def _validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())


def _assert_payloads_match_the_schemas(make, client, fixture) -> None:
    """docs/mobile.md publishes clients/js/schema/*.json: every task and notification the node
    tests left behind (claimed, submitted with photos, reviewed…) must match them, as GET and
    sync pull send them."""
    w_headers = {name: make.headers(make.scalar(select(User).where(User.username == name)))
                 for name in ("clerk1", "sup_east")}
    reviewed = fixture["tasks"]["photo/memory"]["id"]
    answer = client.post(f"/api/v1/tasks/{reviewed}/review", headers=w_headers["sup_east"],
                         json={"decision": "reject", "comment": "The poster is crooked."})
    assert answer.status_code == 200, answer.json
    task_schema, notification_schema = _validator("task.schema.json"), _validator("notification.schema.json")
    pulled = client.post("/api/v1/sync/pull", headers=w_headers["clerk1"], json={
        "client_id": "schema-check-1", "cursor": None, "schema_version": 1, "limit": 1000}).json
    assert pulled["has_more"] is False
    kinds = {change["entity"] for change in pulled["changes"]}
    assert kinds == {"task", "notification"}
    for change in pulled["changes"]:
        validator = task_schema if change["entity"] == "task" else notification_schema
        validator.validate(change["data"])
        if change["entity"] == "task":
            detail = client.get(f"/api/v1/tasks/{change['id']}", headers=w_headers["clerk1"]).json
            task_schema.validate(detail)
    statuses = {change["data"]["status"] for change in pulled["changes"] if change["entity"] == "task"}
    assert {"open", "claimed", "in_progress", "submitted"} <= statuses
    for item in client.get("/api/v1/notifications?page_size=200", headers=w_headers["clerk1"]).json["items"]:
        notification_schema.validate(item)


def test_docs_mobile_publishes_the_checked_task_schema():
    """docs/mobile.md shows clients/js/schema/task.schema.json verbatim (the file the run checks)."""
    guide = (ROOT / "docs" / "mobile.md").read_text()
    shown = guide.split("<!-- task.schema.json -->\n```json\n", 1)[1].split("\n```", 1)[0]
    assert json.loads(shown) == json.loads((SCHEMAS / "task.schema.json").read_text())
