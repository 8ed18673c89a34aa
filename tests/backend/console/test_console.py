"""The web console: role and region scope on every page, CSRF on every form, the flows, i18n."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import io
import re

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir, extract_python
from babel.messages.pofile import read_po
from sqlalchemy import select

from backend.campaigns.models import Campaign
from backend.config import load_config
from backend.console.i18n import CATALOGS
from backend.catalog.models import Product, ProductPairing
from backend.db import utcnow
from backend.org.models import Region, Store, User
from backend.sales import jobs as sales_jobs
from backend.sales.models import SalesLine
from backend.tasks.models import StoreTask
from notifications.models import Notification
from integrations import outbox as webhook_outbox
from integrations.models import WebhookDelivery, WebhookEndpoint
from rules.models import Rule
from seed.demo import tiny_png
from tests.factories import PASSWORD
from tests.paths import ROOT

PUBLIC = "public"
MANAGERS = ("hq_admin", "supervisor")
HQ = ("hq_admin",)

# Every console page: (method, path with placeholders, roles admitted). A console route
# missing here fails test_every_console_route_is_listed.
PAGES = [
    ("GET", "/console/", MANAGERS),
    ("GET", "/console/campaigns", HQ),
    ("GET", "/console/campaigns/new", HQ),
    ("POST", "/console/campaigns/new", HQ),
    ("GET", "/console/campaigns/{campaign}", HQ),
    ("GET", "/console/campaigns/{draft}/edit", HQ),
    ("POST", "/console/campaigns/{draft}/edit", HQ),
    ("GET", "/console/campaigns/targeting-count?regions=EAST", HQ),
    ("GET", "/console/campaigns/task-fields", HQ),
    ("GET", "/console/campaigns/{draft}/publish", HQ),
    ("POST", "/console/campaigns/{draft}/publish", HQ),
    ("GET", "/console/campaigns/{campaign}/qr-sheet.pdf?store=S001", MANAGERS),
    ("GET", "/console/dashboard", MANAGERS),
    ("GET", "/console/dashboard.csv", MANAGERS),
    ("GET", "/console/reviews", MANAGERS),
    ("GET", "/console/tasks/{task}", MANAGERS),
    ("POST", "/console/tasks/{task}/review", MANAGERS),
    ("GET", "/console/photos/{sha}", MANAGERS),
    ("GET", "/console/campaigns/{campaign}/templates/{template}/edit", HQ),
    ("POST", "/console/campaigns/{campaign}/templates/{template}/edit", HQ),
    ("GET", "/console/campaigns/{campaign}/targeting", HQ),
    ("POST", "/console/campaigns/{campaign}/targeting", HQ),
    ("POST", "/console/campaigns/{campaign}/cancel", HQ),
    ("POST", "/console/campaigns/{campaign}/close", HQ),
    ("GET", "/console/stores/{store}/tasks", MANAGERS),
    ("POST", "/console/tasks/{task}/cancel", HQ),
    ("POST", "/console/tasks/{task}/assign", MANAGERS),
    ("POST", "/console/tasks/{task}/rotate-qr", MANAGERS),
    ("POST", "/console/tasks/{task}/{nudge}", MANAGERS),
    ("GET", "/console/regions", HQ),
    ("POST", "/console/regions", HQ),
    ("GET", "/console/stores", MANAGERS),
    ("POST", "/console/stores", HQ),
    ("GET", "/console/stores/{store}/edit", HQ),
    ("POST", "/console/stores/{store}/edit", HQ),
    ("GET", "/console/users", HQ),
    ("POST", "/console/users", HQ),
    ("POST", "/console/users/import", HQ),
    ("GET", "/console/users/{user}/edit", HQ),
    ("POST", "/console/users/{user}/edit", HQ),
    ("GET", "/console/products", HQ),
    ("POST", "/console/products/import", HQ),
    ("GET", "/console/sales", HQ),
    ("POST", "/console/sales", HQ),
    ("GET", "/console/sales/imports/{import}", HQ),
    ("GET", "/console/sales/imports/{import}/progress", HQ),
    ("GET", "/console/products/{sku}", HQ),
    ("POST", "/console/products/{sku}/pairings/{action}", HQ),
    ("GET", "/console/scripts", MANAGERS),
    ("POST", "/console/scripts/{script}/moderate", MANAGERS),
    ("GET", "/console/campaigns/{campaign}/impact", MANAGERS),
    ("GET", "/console/rules", MANAGERS),
    ("POST", "/console/rules", MANAGERS),
    ("GET", "/console/rules/{rule}", MANAGERS),
    ("POST", "/console/rules/{rule}/dry-run", MANAGERS),
    ("POST", "/console/rules/{rule}/active", MANAGERS),
    ("GET", "/console/webhooks", HQ),
    ("POST", "/console/webhooks", HQ),
    ("GET", "/console/webhooks/{endpoint}", HQ),
    ("POST", "/console/webhooks/{endpoint}/active", HQ),
    ("POST", "/console/webhooks/{endpoint}/deliveries/{delivery}/redeliver", HQ),
]
PUBLIC_ENDPOINTS = {"console.static", "console.asset", "console.switch_language", "console.login",
                    "console.logout", "console_root.site_root"}

PRODUCTS_CSV = b"sku,name,category,brand,price\nNEW-1,New serum,serum,Acme,99.00\n"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token(client, path: str = "/console/login") -> str:
    """The form token of the client's current session, read from a page like a browser would."""
    return CSRF.search(client.get(path).get_data(as_text=True)).group(1)


def sign_in(client, username: str) -> str:
    """Sign in through the login form; returns the session's CSRF token."""
    response = client.post("/console/login", data={
        "csrf_token": csrf_token(client), "username": username, "password": PASSWORD})
    assert response.status_code == 302, response.get_data(as_text=True)
    return csrf_token(client)


def submitted_task(make, client, w, store) -> tuple[int, str]:
    """A Display task of the store, assigned, photographed and submitted through the API."""
    task_id = make.task_id(w.campaign.id, store)
    clerk = {"S001": "clerk1", "S002": "clerk2", "S003": "clerk3"}[store.code]
    supervisor = "sup_north" if store.code == "S002" else "sup_east"
    assert client.post(f"/api/v1/tasks/{task_id}/assign", json={"username": clerk},
                       headers=w.h[supervisor]).status_code == 200
    png = tiny_png(task_id)
    sha = hashlib.sha256(png).hexdigest()
    assert client.put(f"/api/v1/blobs/{sha}", data=png, content_type="image/png",
                      headers=w.h[clerk]).status_code == 201
    response = client.post(f"/api/v1/tasks/{task_id}/submit", headers=w.h[clerk],
                           json={"checklist": {"shelf": True, "poster": True}, "photos": [sha]})
    assert response.status_code == 200, response.json
    return task_id, sha


@pytest.fixture
def world(make, client):
    """Factory.world() plus a draft campaign and a submitted task with a photo in S001 (EAST)."""
    w = make.world()
    w.draft = make.campaign(w.admin, "DRAFT1", publish=False, targeting={"regions": ["EAST"]})
    w.task_id, w.sha = submitted_task(make, client, w, w.s1)
    contributed = client.post("/api/v1/scripts", headers=w.h["clerk1"], json={
        "sku": "LIP-01", "locale": "zh-CN", "text": "这支口红显白，搭配 LIP-02 更持久。"})
    assert contributed.status_code == 201 and contributed.json["status"] == "pending"
    w.script_id = contributed.json["id"]
    w.import_id = sales_jobs.queue_import(session=make.session, actor=w.admin, filename="w.csv",
                                          data=b"transaction_id,store_code,sku,quantity,sold_at\n").id
    w.rule_id, w.endpoint_id, w.delivery_id = rule_and_webhook(make, client, w)
    return w


def rule_and_webhook(make, client, w) -> tuple[int, int, int]:
    """sup_east's rule for EAST (HQ sees it too), and an endpoint with one delivery."""
    rule = client.post("/api/v1/rules", headers=w.h["sup_east"], json={
        "name": "overdue EAST", "trigger": {"type": "task.overdue", "after_hours": 2},
        "condition": {"regions": ["EAST"]}, "action": {"type": "notify", "to": "supervisor"}})
    assert rule.status_code == 201, rule.json
    endpoint = WebhookEndpoint(url="https://erp.example.com/hooks", events=["task.approved"], description="ERP",
                               secret="whsec_test", active=True, created_by_id=w.admin.id)
    make.session.add(endpoint)
    make.session.flush()
    webhook_outbox.publish(make.session, "task.approved", {"task_id": w.task_id}, now=utcnow())
    make.session.commit()
    delivery_id = make.scalar(select(WebhookDelivery.id).where(WebhookDelivery.endpoint_id == endpoint.id))
    return rule.json["id"], endpoint.id, delivery_id


def concrete(path: str, w) -> str:
    return (path.replace("{campaign}", str(w.campaign.id)).replace("{draft}", str(w.draft.id))
            .replace("{task}", str(w.task_id)).replace("{sha}", w.sha)
            .replace("{template}", str(w.campaign.templates[0].id)).replace("{store}", "S001")
            .replace("{user}", "clerk1").replace("{sku}", "LIP-01").replace("{action}", "pin")
            .replace("{script}", str(w.script_id)).replace("{nudge}", "remind")
            .replace("{import}", str(w.import_id)).replace("{rule}", str(w.rule_id))
            .replace("{endpoint}", str(w.endpoint_id)).replace("{delivery}", str(w.delivery_id)))


def task_versions(make) -> list:
    """Every task's (id, version, status, QR nonce): any write to a task changes one of them."""
    rows = sorted(make.session.execute(select(StoreTask.id, StoreTask.version, StoreTask.status,
                                              StoreTask.qr_nonce)).all())
    make.session.commit()
    return rows


def task_status(make, task_id: int) -> str:
    return make.scalar(select(StoreTask.status).where(StoreTask.id == task_id))


# ---- the route table ----------------------------------------------------------------------

def test_every_console_route_is_listed(plain_app):
    listed = {(method, re.sub(r"\{\w+\}", "*", path.split("?")[0])) for method, path, _ in PAGES}
    found = set()
    for rule in plain_app.url_map.iter_rules():
        if not rule.endpoint.startswith("console") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        path = re.sub(r"<[^>]+>", "*", rule.rule).replace("qr-sheet.*", "qr-sheet.pdf")
        found |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert found == listed, f"unlisted: {found - listed}; gone: {listed - found}"


def test_console_is_not_in_the_openapi_spec(plain_client):
    paths = plain_client.get("/api/v1/openapi.json").json["paths"]
    assert not [path for path in paths if "console" in path]


# ---- who may open what --------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_sign_in_and_write_nothing(make, client, world):
    token = csrf_token(client)
    before = make.row_counts()
    for method, path, _roles in PAGES:
        url = concrete(path, world)
        response = client.open(url, method=method, data={"csrf_token": token, "decision": "approve",
                                                         "title": "x"})
        assert response.status_code == 302, (method, url, response.status_code)
        assert response.location.startswith("/console/login"), (method, url, response.location)
    assert make.row_counts() == before
    assert task_status(make, world.task_id) == "submitted"


def test_clerks_get_the_not_for_clerks_page(make, client, world):
    token = sign_in(client, "clerk1")
    before = make.row_counts()
    for method, path, _roles in PAGES:
        url = concrete(path, world)
        response = client.open(url, method=method,
                               data={"csrf_token": token, "decision": "approve"})
        assert response.status_code == 403, (method, url, response.status_code)
        assert "手机应用" in response.get_data(as_text=True), (method, url)
    assert make.row_counts() == before


def test_supervisors_cannot_open_hq_pages(make, client, world):
    token = sign_in(client, "sup_east")
    before = make.row_counts()
    for method, path, roles in PAGES:
        if "supervisor" in roles:
            continue
        url = concrete(path, world)
        response = client.open(url, method=method, data={"csrf_token": token, "title": "x"})
        assert response.status_code == 403, (method, url, response.status_code)
    assert make.row_counts() == before


def test_each_manager_opens_their_pages(make, client, world):
    for username in ("admin", "sup_east"):
        client.post("/console/logout", data={"csrf_token": csrf_token(client)})
        sign_in(client, username)
        role = "hq_admin" if username == "admin" else "supervisor"
        for method, path, roles in PAGES:
            if method == "GET" and role in roles:
                response = client.get(concrete(path, world))
                expected = 302 if path == "/console/" else 200  # home sends on to the role's start
                assert response.status_code == expected, (username, path, response.status_code)


def test_a_supervisor_of_another_region_cannot_see_or_review(make, client, world):
    """sup_north tampers with URLs to reach an EAST task, photo, region and store."""
    token = sign_in(client, "sup_north")
    east_only = make.campaign(world.admin, "EASTONLY", targeting={"regions": ["EAST"]})
    before = make.row_counts()
    for url in (f"/console/tasks/{world.task_id}", f"/console/photos/{world.sha}",
                "/console/dashboard?region=EAST", "/console/dashboard.csv?region=EAST",
                f"/console/dashboard?campaign={east_only.id}",
                f"/console/campaigns/{world.campaign.id}/qr-sheet.png?store=S001"):
        response = client.get(url)
        assert_console_error(response, 403)  # outside the region: the page says so
    response = client.post(f"/console/tasks/{world.task_id}/review",
                           data={"csrf_token": token, "decision": "approve"})
    assert response.status_code == 403
    assert make.row_counts() == before
    assert task_status(make, world.task_id) == "submitted"
    queue = client.get("/console/reviews").get_data(as_text=True)
    assert f'data-task="{world.task_id}"' not in queue
    dashboard = client.get("/console/dashboard").get_data(as_text=True)
    assert 'data-group="S002"' in dashboard and 'data-group="S001"' not in dashboard


# ---- CSRF -----------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "forged-token"])
def test_form_posts_without_a_valid_csrf_token_are_refused(make, client, world, token):
    sign_in(client, "admin")
    template = world.campaign.templates[0].id
    open_task = make.task_id(world.campaign.id, world.s1, "Price check")
    overdue_task = make.task_id(world.campaign.id, world.s3, "Price check")
    overdue(make, overdue_task)
    before = make.row_counts()
    versions = task_versions(make)
    delivery_due = make.scalar(select(WebhookDelivery.next_attempt_at).where(WebhookDelivery.id == world.delivery_id))
    extra = {"csrf_token": token} if token else {}
    posts = [("/console/campaigns/new", {"code": "NOCSRF", "title": "x",
                                         "starts_at": "2030-01-01T09:00",
                                         "ends_at": "2030-01-05T09:00", "tasks-0-title": "x"}),
             (f"/console/campaigns/{world.draft.id}/edit", {"title": "changed"}),
             (f"/console/campaigns/{world.draft.id}/publish", {}),
             (f"/console/tasks/{world.task_id}/review", {"decision": "approve"}),
             (f"/console/campaigns/{world.campaign.id}/templates/{template}/edit",
              {"tasks-0-title": "changed", "version": "1"}),
             (f"/console/campaigns/{world.campaign.id}/targeting",
              {"regions": "EAST", "version": str(world.campaign.version)}),
             (f"/console/campaigns/{world.campaign.id}/cancel", {}),
             (f"/console/campaigns/{world.campaign.id}/close", {}),
             (f"/console/tasks/{open_task}/cancel", {}),
             (f"/console/tasks/{open_task}/assign", {"username": "clerk1"}),
             (f"/console/tasks/{open_task}/rotate-qr", {}),
             ("/console/regions", {"code": "SOUTH", "name": "South"}),
             ("/console/stores", {"code": "S900", "name": "x", "region": "EAST"}),
             ("/console/stores/S001/edit", {"name": "renamed", "region": "NORTH"}),
             ("/console/users", {"username": "nocsrf", "display_name": "x", "role": "hq_admin",
                                 "password": "long-enough-1"}),
             ("/console/users/clerk1/edit", {"display_name": "x", "locale": "en"}),
             ("/console/users/clerk1/edit", {"display_name": "Clerk1", "locale": "zh-CN",
                                             "role": "supervisor", "regions": "EAST"}),
             ("/console/users/import", {"file": (io.BytesIO(PEOPLE_CSV), "u.csv")}),
             (f"/console/tasks/{overdue_task}/remind", {}),
             (f"/console/tasks/{overdue_task}/escalate", {}),
             ("/console/products/import", {"file": (io.BytesIO(PRODUCTS_CSV), "p.csv")}),
             ("/console/sales", {"file": (io.BytesIO(b"transaction_id,store_code,sku,quantity,"
                                                     b"sold_at\nT1,S001,LIP-01,1,"
                                                     b"2026-11-11T10:00:00+08:00\n"), "s.csv")}),
             ("/console/products/LIP-01/pairings/pin", {"other": "LIP-02"}),
             (f"/console/scripts/{world.script_id}/moderate", {"decision": "approve"}),
             ("/console/rules", {"name": "nocsrf", "trigger_type": "task.overdue", "after_hours": "1",
                                 "action_type": "webhook", "variant_share": "100"}),
             (f"/console/rules/{world.rule_id}/dry-run", {}),
             (f"/console/rules/{world.rule_id}/active", {"active": "0"}),
             ("/console/webhooks", {"url": "https://erp.example.com/x", "events": "task.claimed"}),
             (f"/console/webhooks/{world.endpoint_id}/active", {"active": "0"}),
             (f"/console/webhooks/{world.endpoint_id}/deliveries/{world.delivery_id}/redeliver", {}),
             ("/console/logout", {})]
    for url, data in posts:
        response = client.post(url, data={**data, **extra})
        assert response.status_code == 400, (url, response.status_code)
    assert make.row_counts() == before
    assert task_versions(make) == versions
    assert make.scalar(select(Store.name).where(Store.code == "S001")) == "Store S001"
    assert make.scalar(select(User.display_name).where(User.username == "clerk1")) == "Clerk1"
    assert task_status(make, world.task_id) == "submitted"
    assert make.scalar(select(Rule.active).where(Rule.id == world.rule_id)) is True
    assert make.scalar(select(WebhookEndpoint.active).where(WebhookEndpoint.id == world.endpoint_id)) is True
    assert make.scalar(select(WebhookDelivery.next_attempt_at).where(WebhookDelivery.id == world.delivery_id)) \
        == delivery_due
    assert client.get("/console/campaigns").status_code == 200  # still signed in


def test_sign_in_itself_needs_the_csrf_token(client, world):
    response = client.post("/console/login", data={"username": "admin", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/console/campaigns").status_code == 302


def test_the_json_api_needs_no_csrf_token_and_ignores_the_console_cookie(make, client, world):
    sign_in(client, "admin")
    assert client.get("/api/v1/campaigns").status_code == 401  # the cookie is not an API credential
    response = client.post(f"/api/v1/campaigns/{world.draft.id}/publish", headers=world.h["admin"])
    assert response.status_code == 200, response.json


def test_sign_in_failures_and_sign_out(make, client, world):
    response = client.post("/console/login", data={"csrf_token": csrf_token(client),
                                                    "username": "admin", "password": "wrong"})
    assert response.status_code == 401
    assert client.get("/console/campaigns").status_code == 302
    token = sign_in(client, "admin")
    assert client.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/console/campaigns").status_code == 302


def test_a_deactivated_user_is_signed_out(make, client, world):
    sign_in(client, "sup_east")
    assert client.get("/console/dashboard").status_code == 200
    world.sup_east.active = False
    make.session.commit()
    assert client.get("/console/dashboard").status_code == 302


def test_redirect_after_sign_in_stays_on_this_site(client, world):
    for target, expected in [("/console/reviews", "/console/reviews"),
                             ("https://evil.example/x", "/console/"),
                             ("//evil.example", "/console/")]:
        response = client.post("/console/login", data={
            "csrf_token": csrf_token(client), "next": target, "username": "sup_east",
            "password": PASSWORD})
        assert response.location == expected


def test_session_cookie_flags(client, world):
    response = client.post("/console/login", data={"csrf_token": csrf_token(client),
                                                    "username": "admin", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    production = load_config({"ENV_NAME": "production", "SECRET_KEY": "s" * 40})
    assert production["SESSION_COOKIE_SECURE"] is True


# ---- HQ flows -----------------------------------------------------------------------------

def campaign_form(**overrides) -> dict:
    form = {"code": "FORM1", "title": "双十一陈列", "description": "",
            "starts_at": "2030-11-01T09:00", "ends_at": "2030-11-12T09:00",
            "featured_skus": "LIP-01", "promo_prices": "LIP-01=159", "regions": ["EAST"],
            "stores": "", "tags": "",
            "tasks-0-title": "End-cap display", "tasks-0-kind": "display_setup",
            "tasks-0-instructions": "Follow the planogram",
            "tasks-0-checklist": "shelf: Shelf set\nPoster up", "tasks-0-photos": "1",
            "tasks-0-due_in_hours": "48", "tasks-0-max_claimants": "1",
            "tasks-0-observed_price": "on",
            "tasks-1-title": "", "tasks-1-kind": "other"}
    form.update(overrides)
    return form


def test_hq_creates_edits_and_publishes_a_campaign_through_the_forms(make, client, world):
    token = sign_in(client, "admin")
    before = make.count(Campaign)
    bad = client.post("/console/campaigns/new", data={
        **campaign_form(title="", featured_skus="NOPE-1", promo_prices="NOPE-1=abc",
                        **{"tasks-0-checklist": "a: x\na: y"}), "csrf_token": token})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    # Every field's error at once, beside its field, named and worded in the page's language.
    for field in ("title", "promo_prices", "tasks-0-checklist"):
        assert f'id="{field}-error"' in page, field
    summary = re.search(r'<div class="flash flash-error" role="alert" id="form-errors">.*?</div>',
                        page, re.S).group(0)
    assert "标题" in summary and "促销价" in summary and "任务 1 · 检查项" in summary
    assert "tasks.0" not in summary and "Missing data" not in page and "Shorter than" not in page
    assert "检查项 id 不能重复：a。" in page
    assert make.count(Campaign) == before

    response = client.post("/console/campaigns/new", data={**campaign_form(), "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    campaign = make.scalar(select(Campaign).where(Campaign.code == "FORM1"))
    assert campaign.status == "draft" and campaign.targeting["regions"] == ["EAST"]
    assert campaign.promo_prices == {"LIP-01": 159.0}
    template = campaign.templates[0]
    assert [item["id"] for item in template.checklist] == ["shelf", "item2"]
    assert template.proof == {"photos": 1, "quantity": False, "observed_price": True}
    assert template.due_offset_hours == 48 and len(campaign.templates) == 1
    assert campaign.starts_at.isoformat() == "2030-11-01T01:00:00+00:00"  # 09:00 Asia/Shanghai

    again = client.post("/console/campaigns/new", data={**campaign_form(), "csrf_token": token})
    assert again.status_code == 409 and make.count(Campaign) == before + 1

    count = client.get("/console/campaigns/targeting-count?regions=EAST&tags=mall"
                       "&tasks-0-title=a&tasks-1-title=b").get_data(as_text=True)
    assert 'data-stores="1"' in count and "EAST 1" in count
    assert 'data-stores="3"' in client.get(
        "/console/campaigns/targeting-count?regions=EAST&stores=S002").get_data(as_text=True)
    empty = client.get("/console/campaigns/targeting-count").get_data(as_text=True)
    assert 'data-stores="0"' in empty
    unknown = client.get("/console/campaigns/targeting-count?regions=MARS").get_data(as_text=True)
    assert "MARS" in unknown

    edit = client.get(f"/console/campaigns/{campaign.id}/edit").get_data(as_text=True)
    assert "shelf: Shelf set" in edit and 'value="2030-11-01T09:00"' in edit
    response = client.post(f"/console/campaigns/{campaign.id}/edit", data={
        **campaign_form(title="Double 11 display", stores="S002"), "version": str(campaign.version),
        "csrf_token": token})
    assert response.status_code == 302, response.get_data(as_text=True)
    stale = client.post(f"/console/campaigns/{campaign.id}/edit", data={
        **campaign_form(title="stale"), "version": str(campaign.version), "csrf_token": token})
    assert stale.status_code == 409
    make.session.expire_all()
    campaign = make.scalar(select(Campaign).where(Campaign.code == "FORM1"))
    assert campaign.title == "Double 11 display" and campaign.targeting["stores"] == ["S002"]

    confirm = client.get(f"/console/campaigns/{campaign.id}/publish").get_data(as_text=True)
    assert "3" in confirm and "csrf_token" in confirm
    tasks_before = make.count(StoreTask)
    response = client.post(f"/console/campaigns/{campaign.id}/publish", data={"csrf_token": token})
    assert response.status_code == 302
    assert make.count(StoreTask) == tasks_before + 3
    detail = client.get(f"/console/campaigns/{campaign.id}").get_data(as_text=True)
    assert 'data-group="S002"' in detail and "qr-sheet.pdf" in detail
    assert client.get(f"/console/campaigns/{campaign.id}/edit").status_code == 409
    sheet = client.get(f"/console/campaigns/{campaign.id}/qr-sheet.png?store=S001")
    assert sheet.status_code == 200 and sheet.mimetype == "image/png"
    listing = client.get("/console/campaigns").get_data(as_text=True)
    assert 'data-campaign="FORM1"' in listing


# ---- supervisor flows ---------------------------------------------------------------------

def test_supervisor_reviews_from_the_queue_and_sees_the_rate(make, client, world):
    token = sign_in(client, "sup_east")
    queue = client.get("/console/reviews").get_data(as_text=True)
    assert f'data-task="{world.task_id}"' in queue
    page = client.get(f"/console/tasks/{world.task_id}").get_data(as_text=True)
    assert f"/console/photos/{world.sha}" in page and "Shelf" in page
    photo = client.get(f"/console/photos/{world.sha}")
    assert photo.status_code == 200 and photo.data == tiny_png(world.task_id)

    rejected = client.post(f"/console/tasks/{world.task_id}/review",
                           data={"csrf_token": token, "decision": "reject", "comment": ""})
    assert rejected.status_code == 302 and task_status(make, world.task_id) == "submitted"
    approved = client.post(f"/console/tasks/{world.task_id}/review",
                           data={"csrf_token": token, "decision": "approve"})
    assert approved.status_code == 302 and task_status(make, world.task_id) == "approved"

    campaign = world.campaign.id
    dashboard = client.get(f"/console/dashboard?campaign={campaign}").get_data(as_text=True)
    # S001 has two tasks (Display approved, Price check open): 50 %.
    row = re.search(r'<tr data-group="S001">.*?</tr>', dashboard, re.S).group(0)
    assert '<td class="completion">50.0%</td>' in row
    assert 'data-group="S002"' not in dashboard
    csv_text = client.get(f"/console/dashboard.csv?campaign={campaign}").get_data(as_text=True)
    lines = csv_text.splitlines()
    assert lines[0].startswith("group,tasks,claimed,submitted,approved")
    assert [line.split(",")[0] for line in lines[1:]] == ["S001", "S003"]
    assert lines[1].split(",")[6] == "0.5"
    chinese = client.get(f"/console/dashboard.csv?campaign={campaign}&lang=zh_CN").get_data(
        as_text=True).splitlines()
    assert chinese[0].startswith("分组,任务") and chinese[1:] == lines[1:]
    english = client.get(f"/console/dashboard.csv?campaign={campaign}&lang=en").get_data(
        as_text=True).splitlines()
    assert english[0].startswith("Group,Tasks,Claimed") and english[1:] == lines[1:]


# ---- languages ----------------------------------------------------------------------------

def test_language_follows_the_browser_then_the_switch(client, world):
    assert "Sign in" in client.get("/console/login", headers={
        "Accept-Language": "en-US,en;q=0.9"}).get_data(as_text=True)
    assert "登录" in client.get("/console/login", headers={
        "Accept-Language": "zh-CN,zh;q=0.9"}).get_data(as_text=True)
    assert "登录" in client.get("/console/login").get_data(as_text=True)  # zh-CN by default
    response = client.get("/console/lang/en?next=/console/login")
    assert response.location == "/console/login"
    assert "Sign in" in client.get("/console/login", headers={
        "Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert client.get("/console/lang/en?next=https://evil.example/").location == "/console/"


def test_every_console_text_has_a_chinese_translation():
    root = ROOT
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    wanted = {message for _file, _line, message, _comments, _context in extract_from_dir(
        str(root / "backend" / "console"), method_map)}
    for module in ("qr/console.py", "recommend/console.py", "rules/console.py", "integrations/console.py",
                   "notifications/console.py"):  # console pages of other packages
        with (root / module).open("rb") as source:
            wanted |= {message for _line, _function, message, _comments in extract_python(
                source, DEFAULT_KEYWORDS, [], {})}
    wanted = {message if isinstance(message, str) else message[0] for message in wanted}
    with (CATALOGS / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        catalog = read_po(po_file)
    untranslated = sorted(message for message in wanted
                          if not (catalog.get(message) and catalog.get(message).string))
    assert not untranslated, f"add to messages.po (make translations): {untranslated}"


def test_browser_libraries_are_served_from_the_npm_install(plain_client):
    for url in ("/console/assets/htmx/htmx.min.js", "/console/assets/chart/chart.umd.min.js",
                "/console/assets/pico/pico.min.css"):
        response = plain_client.get(url)
        assert response.status_code == 200, f"{url}: run `npm ci` (make test does)"
    assert plain_client.get("/console/assets/htmx/../../package.json").status_code == 404
    assert plain_client.get("/console/assets/left-pad/index.js").status_code == 404


def test_a_copied_session_cookie_dies_with_sign_out_and_password_change(make, app, world):
    browser, thief = app.test_client(), app.test_client()
    token = sign_in(browser, "admin")
    cookie = browser.get_cookie("zhida_console").value
    thief.set_cookie("zhida_console", cookie)
    assert thief.get("/console/campaigns").status_code == 200  # a copy works while signed in
    assert browser.post("/console/logout", data={"csrf_token": token}).status_code == 302
    assert thief.get("/console/campaigns").status_code == 302  # replayed after sign-out: no
    sign_in(browser, "sup_east")
    copied = app.test_client()
    copied.set_cookie("zhida_console", browser.get_cookie("zhida_console").value)
    admin = app.test_client()
    sign_in(admin, "admin")
    changed = admin.patch("/api/v1/users/sup_east", json={"password": "a-new-password-2026"},
                          headers=make.headers(world.admin))
    assert changed.status_code == 200, changed.json
    assert copied.get("/console/dashboard").status_code == 302
    assert browser.get("/console/dashboard").status_code == 302


def test_console_sign_in_is_throttled_like_the_api(client, world):
    codes = [client.post("/console/login", data={"csrf_token": csrf_token(client), "username": "admin",
                                                  "password": f"wrong-{i}"}).status_code for i in range(10)]
    assert codes == [401] * 10
    right = client.post("/console/login", data={"csrf_token": csrf_token(client), "username": "admin",
                                                 "password": PASSWORD})
    assert right.status_code == 429
    assert client.get("/console/campaigns").status_code == 302  # not signed in


# ---- a campaign's life after publish --------------------------------------------------------

def template_form(template, **overrides) -> dict:
    form = {"version": str(template.version), "tasks-0-title": template.title,
            "tasks-0-kind": template.kind, "tasks-0-instructions": template.instructions,
            "tasks-0-checklist": "\n".join(f"{item['id']}: {item['label']}"
                                           for item in template.checklist),
            "tasks-0-photos": str(template.proof.get("photos", 0)),
            "tasks-0-max_claimants": str(template.max_claimants)}
    form.update(overrides)
    return form


def test_hq_edits_a_published_template_seeing_how_many_tasks_it_flags(make, client, world):
    token = sign_in(client, "admin")
    campaign_id = world.campaign.id
    s3_display = make.task_id(world.campaign.id, world.s3)
    s2_display = make.task_id(world.campaign.id, world.s2)
    assigned = client.post(f"/console/tasks/{s3_display}/assign",
                           data={"csrf_token": token, "username": "clerk3",
                                 "next": "/console/stores/S003/tasks"})
    assert assigned.status_code == 302 and assigned.location == "/console/stores/S003/tasks"
    assert task_status(make, s3_display) == "claimed"
    template = world.campaign.templates[0]
    url = f"/console/campaigns/{world.campaign.id}/templates/{template.id}/edit"
    page = client.get(url).get_data(as_text=True)
    # Display: S001 submitted (keeps its text, not active), S002 open, S003 claimed.
    assert 'data-open="1" data-flagged="1"' in page and "1 个已领取的任务" in page

    bad = client.post(url, data={**template_form(template, **{"tasks-0-title": "",
                                                                 "tasks-0-photos": "11"}),
                                 "csrf_token": token})
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert 'id="tasks-0-title-error"' in text and 'id="tasks-0-photos-error"' in text
    assert "必填" in text and "Missing data" not in text

    saved = client.post(url, data={**template_form(template, **{
        "tasks-0-instructions": "New planogram, poster left."}), "csrf_token": token})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    make.session.expire_all()
    flags = dict(make.session.execute(select(StoreTask.id, StoreTask.instructions_changed)
                                      .where(StoreTask.id.in_([s2_display, s3_display]))).all())
    make.session.commit()
    assert flags == {s2_display: False, s3_display: True}
    stale_form = template_form(template, version="1")
    make.session.commit()  # the lazy load above began a transaction: SQLite's write lock
    stale = client.post(url, data={**stale_form, "csrf_token": token})
    assert stale.status_code == 409 and "刷新页面" in stale.get_data(as_text=True)

    store_page = client.get(f"/console/stores/S003/tasks?campaign={campaign_id}")
    listing = store_page.get_data(as_text=True)
    assert f'data-task="{s3_display}"' in listing and "说明已更改" in listing
    assert "Store S003" in listing and "qr-sheet.pdf?store=S003" in listing


def test_hq_cancels_rotates_republishes_and_closes(make, client, world):
    token = sign_in(client, "admin")
    campaign_id, version = world.campaign.id, world.campaign.version
    template = world.campaign.templates[0].id
    price_check = make.task_id(world.campaign.id, world.s1, "Price check")
    nonce = make.scalar(select(StoreTask.qr_nonce).where(StoreTask.id == price_check))
    rotated = client.post(f"/console/tasks/{price_check}/rotate-qr", data={"csrf_token": token})
    assert rotated.status_code == 302
    assert make.scalar(select(StoreTask.qr_nonce).where(StoreTask.id == price_check)) != nonce
    assert client.post(f"/console/tasks/{price_check}/cancel",
                       data={"csrf_token": token}).status_code == 302
    assert task_status(make, price_check) == "cancelled"
    again = client.post(f"/console/tasks/{price_check}/cancel", data={"csrf_token": token})
    assert again.status_code == 302  # refused with a message, nothing written
    assert "当前状态" in client.get(again.location).get_data(as_text=True)

    # A store added to a targeted region gets its tasks when the campaign is published again.
    make.store("S004", world.east)
    targeting = client.post(f"/console/campaigns/{campaign_id}/targeting", data={
        "csrf_token": token, "regions": ["EAST"], "stores": "S002, MARS",
        "version": str(version)})
    assert targeting.status_code == 422 and "未知的门店：MARS" in targeting.get_data(as_text=True)
    tasks_before = make.count(StoreTask)
    published = client.post(f"/console/campaigns/{campaign_id}/publish",
                            data={"csrf_token": token})
    assert published.status_code == 302
    assert make.count(StoreTask) == tasks_before + 2  # S004's two tasks, nothing doubled

    closed = client.post(f"/console/campaigns/{campaign_id}/close", data={"csrf_token": token})
    assert closed.status_code == 302
    assert make.scalar(select(Campaign.status).where(Campaign.id == campaign_id)) == "closed"
    assert client.get(f"/console/campaigns/{campaign_id}/templates/{template}/edit"
                      ).status_code == 409

    other = make.campaign(world.admin, "OTHER", targeting={"regions": ["NORTH"]}).id
    make.session.commit()
    cancelled = client.post(f"/console/campaigns/{other}/cancel",
                            data={"csrf_token": token, "reason": "budget"})
    assert cancelled.status_code == 302
    statuses = set(make.session.scalars(select(StoreTask.status)
                                        .where(StoreTask.campaign_id == other)))
    make.session.commit()
    assert statuses == {"cancelled"}


def test_supervisor_drills_from_the_dashboard_to_a_task_history_in_chinese(make, client, world):
    token = sign_in(client, "sup_east")
    dashboard = client.get(f"/console/dashboard?campaign={world.campaign.id}").get_data(as_text=True)
    link = f"/console/stores/S001/tasks?campaign={world.campaign.id}"
    assert f'href="{link}"' in dashboard and "Store S001" in dashboard
    for q in ("s003", "Store S003"):  # by code or by name, any case
        found = client.get(f"/console/dashboard?q={q}").get_data(as_text=True)
        assert 'data-group="S003"' in found and 'data-group="S001"' not in found, q
    store_page = client.get(link).get_data(as_text=True)
    assert f'href="/console/tasks/{world.task_id}"' in store_page
    assert "/cancel" not in store_page  # cancelling is HQ's
    assert client.post(f"/console/tasks/{world.task_id}/cancel",
                       data={"csrf_token": token}).status_code == 403
    page = client.get(f"/console/tasks/{world.task_id}").get_data(as_text=True)
    history = re.search(r'<table class="striped" id="history">.*?</table>', page, re.S).group(0)
    assert 'data-action="assigned"' in history and 'data-action="submitted"' in history
    assert "已指派" in history and "Sup_East" in history and "督导" in history
    assert "待领取 → <strong>已领取</strong>" in history  # from → to, in Chinese
    assert "assigned" not in re.sub(r'data-action="\w+"', "", history)
    client.get("/console/lang/en")
    english = client.get(f"/console/tasks/{world.task_id}").get_data(as_text=True)
    assert "open → <strong>claimed</strong>" in english


def test_the_site_root_leads_to_the_console_or_the_clerk_app(client, world):
    assert client.get("/").location == "/console/"
    sign_in(client, "clerk1")
    assert client.get("/").location == "/app/"


def test_a_supervisor_of_another_region_cannot_act_on_its_tasks(make, client, world):
    token = sign_in(client, "sup_north")
    price_check = make.task_id(world.campaign.id, world.s1, "Price check")
    versions = task_versions(make)
    assert client.get("/console/stores/S001/tasks").status_code == 403
    for action, data in (("assign", {"username": "clerk1"}), ("rotate-qr", {}), ("cancel", {})):
        response = client.post(f"/console/tasks/{price_check}/{action}",
                               data={"csrf_token": token, **data})
        assert response.status_code == 403, action
    assert task_versions(make) == versions


# ---- master data ----------------------------------------------------------------------------

def test_hq_adds_regions_and_stores_with_every_error_at_once(make, client, world):
    token = sign_in(client, "admin")
    bad = client.post("/console/regions", data={"csrf_token": token, "code": "a b", "name": ""})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert 'id="code-error"' in page and 'id="name-error"' in page and "必填" in page
    taken = client.post("/console/regions", data={"csrf_token": token, "code": "EAST", "name": "x"})
    assert taken.status_code == 409 and "已被使用" in taken.get_data(as_text=True)
    assert client.post("/console/regions", data={"csrf_token": token, "code": "SOUTH",
                                                 "name": "华南"}).status_code == 302
    assert make.scalar(select(Region.name).where(Region.code == "SOUTH")) == "华南"

    regions_before = make.count(Store)
    bad = client.post("/console/stores", data={"csrf_token": token, "code": "S101", "name": "",
                                               "region": "SOUTH", "tags": "Mall!",
                                               "timezone": "Mars/Olympus"})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    for field in ("name", "tags", "timezone"):
        assert f'id="{field}-error"' in page, field
    assert "不是时区名称" in page and make.count(Store) == regions_before
    created = client.post("/console/stores", data={"csrf_token": token, "code": "S101",
                                                   "name": "深圳万象城店", "region": "SOUTH",
                                                   "tags": "mall, flagship",
                                                   "timezone": "Asia/Shanghai"})
    assert created.status_code == 302
    listing = client.get("/console/stores?q=万象").get_data(as_text=True)
    assert 'data-store="S101"' in listing and 'data-store="S001"' not in listing
    moved = client.post("/console/stores/S003/edit", data={"csrf_token": token, "name": "Store S003",
                                                           "region": "NORTH", "tags": "street",
                                                           "timezone": "Asia/Shanghai"})
    assert moved.status_code == 302
    assert make.scalar(select(Region.code).join(Store, Store.region_id == Region.id)
                       .where(Store.code == "S003")) == "NORTH"


def test_supervisors_see_and_search_their_regions_stores_only(client, world):
    sign_in(client, "sup_east")
    page = client.get("/console/stores").get_data(as_text=True)
    assert 'data-store="S001"' in page and 'data-store="S003"' in page
    assert 'data-store="S002"' not in page and 'id="store-form"' not in page
    assert 'data-store="S001"' not in client.get("/console/stores?q=S003").get_data(as_text=True)


def test_hq_adds_a_clerk_then_deactivates_and_resets_them(make, client, world):
    token = sign_in(client, "admin")
    bad = client.post("/console/users", data={"csrf_token": token, "username": "x",
                                              "display_name": "", "password": "short",
                                              "role": "clerk", "locale": "zh-CN", "store": ""})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    for field in ("username", "display_name", "password"):
        assert f'id="{field}-error"' in page, field
    no_store = client.post("/console/users", data={
        "csrf_token": token, "username": "clerk_s001_9", "display_name": "王芳",
        "password": "first-password-1", "role": "clerk", "locale": "zh-CN", "store": ""})
    assert no_store.status_code == 422 and "店员必须属于一个门店" in no_store.get_data(as_text=True)
    created = client.post("/console/users", data={
        "csrf_token": token, "username": "clerk_s001_9", "display_name": "王芳",
        "password": "first-password-1", "role": "clerk", "locale": "zh-CN", "store": "S001"})
    assert created.status_code == 302
    assert client.post("/api/v1/auth/login", json={"username": "clerk_s001_9",
                                                   "password": "first-password-1"}).status_code == 200
    people = client.get("/console/users?role=clerk").get_data(as_text=True)
    assert 'data-user="clerk_s001_9"' in people and "王芳" in people and "Store S001" in people

    edited = client.post("/console/users/clerk_s001_9/edit", data={
        "csrf_token": token, "display_name": "王芳", "locale": "zh-CN", "store": "S001",
        "password": "a-new-password-2"})  # "active" unticked: deactivated
    assert edited.status_code == 302
    assert make.scalar(select(User.active).where(User.username == "clerk_s001_9")) is False
    assert client.post("/api/v1/auth/login", json={"username": "clerk_s001_9",
                                                   "password": "a-new-password-2"}).status_code == 403


def test_hq_imports_products_seeing_every_bad_line(make, client, world):
    token = sign_in(client, "admin")
    before = make.count(Product)
    csv_text = ("sku,name,category,brand,price\n"
                "SER-1,Serum,serum,Acme,99.00\n"
                "SER-2,,serum,Acme,abc\n"
                "SER-1,Serum again,serum,Acme,98.00\n").encode()
    bad = client.post("/console/products/import", data={"csrf_token": token,
                                                         "file": (io.BytesIO(csv_text), "p.csv")})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    assert "第 3 行" in page and "第 4 行" in page and "与第 2 行相同" in page
    assert make.count(Product) == before
    good = client.post("/console/products/import", data={
        "csrf_token": token, "file": (io.BytesIO(PRODUCTS_CSV), "p.csv")})
    assert good.status_code == 302 and make.count(Product) == before + 1
    listing = client.get("/console/products?q=serum").get_data(as_text=True)
    assert 'data-sku="NEW-1"' in listing and "New serum" in listing


def run_imports(app) -> int:
    """What the worker's imports job does (notifications.worker.Worker.run_imports)."""
    return sales_jobs.run_waiting(app.extensions["zhida.sessionmaker"], worker_id="test")


def test_hq_uploads_a_sales_file_the_worker_imports_it_and_the_page_shows_the_report(
        app, make, client, world):
    token = sign_in(client, "admin")
    run_imports(app)  # the fixture's own file first
    lines_before = make.count(SalesLine)
    csv_text = (b"transaction_id,store_code,sku,quantity,sold_at\n"
                b"T1,S001,LIP-01,1,2026-11-11T10:00:00+08:00\n"
                b"T1,S001,LIP-02,2,2026-11-11T10:00:00+08:00\n"
                b"T2,S999,LIP-01,1,2026-11-11T11:00:00+08:00\n")
    response = client.post("/console/sales", data={"csrf_token": token,
                                                   "file": (io.BytesIO(csv_text), "pos.csv")})
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    progress_url = re.search(r'hx-get="([^"]+/progress)"', page).group(1)
    assert 'data-status="queued"' in page and "已处理 0 / 3 行" in page and "等待" in page
    assert make.count(SalesLine) == lines_before  # the worker imports it, not the request
    assert run_imports(app) == 1
    fragment = client.get(progress_url).get_data(as_text=True)
    assert 'data-status="done"' in fragment and "hx-get" not in fragment  # polling stops
    assert 'data-figure="imported">2<' in fragment and 'data-figure="rejected">1<' in fragment
    assert "S999" in fragment and "第 4 行: 门店: 未知门店。" in fragment
    assert make.count(SalesLine) == lines_before + 2
    again = client.post("/console/sales", data={"csrf_token": token,
                                                "file": (io.BytesIO(csv_text), "pos.csv")})
    run_imports(app)
    page = client.get(again.location).get_data(as_text=True)
    assert 'data-figure="imported">0<' in page and 'data-figure="duplicates">2<' in page
    listing = client.get("/console/sales").get_data(as_text=True)
    assert listing.count("pos.csv") == 2 and "已导入" in listing

    missing = client.post("/console/sales", data={"csrf_token": token,
                                                  "file": (io.BytesIO(b"a,b\n1,2\n"), "s.csv")})
    run_imports(app)
    failed = client.get(missing.location).get_data(as_text=True)
    assert 'data-status="failed"' in failed and "应包含以下列" in failed
    assert make.count(SalesLine) == lines_before + 2
    empty = client.post("/console/sales", data={"csrf_token": token,
                                                "file": (io.BytesIO(b""), "e.csv")})
    assert empty.status_code == 422


def test_sales_progress_counts_lines_as_the_worker_goes(app, make, world):
    """Progress during an import: the page reads what the import reported so far."""
    run_imports(app)  # the fixture's own file first
    seen = []
    admin = make.scalar(select(User).where(User.username == "admin"))
    rows = "".join(f"T{n},S001,LIP-01,1,2026-11-11T10:00:00+08:00\n" for n in range(45_000))
    job = sales_jobs.queue_import(session=make.session, actor=admin, filename="big.csv",
                                  data=("transaction_id,store_code,sku,quantity,sold_at\n"
                                        + rows).encode())
    job_id = job.id
    original = sales_jobs._reporter

    def watching(sessions, import_id, dialect):
        report = original(sessions, import_id, dialect)

        def progress(lines):
            report(lines)
            with app.extensions["zhida.read_sessionmaker"]() as reader:  # as the page reads
                view = sales_jobs.get_import(session=reader, actor=reader.get(User, admin.id),
                                             import_id=import_id)
                seen.append((view["lines_done"], view["total_lines"], view["job"].status))
        return progress

    sales_jobs._reporter = watching
    try:
        assert run_imports(app) == 1
    finally:
        sales_jobs._reporter = original
    assert seen == [(20_000, 45_000, "running"), (40_000, 45_000, "running")]
    make.session.expire_all()
    view = sales_jobs.get_import(session=make.session, actor=admin, import_id=job_id)
    assert (view["lines_done"], view["job"].status, view["job"].data) == (45_000, "done", None)
    make.session.commit()


# ---- recommendations ------------------------------------------------------------------------

def test_hq_pins_and_bans_pairings_from_the_product_page(make, client, world):
    token = sign_in(client, "admin")
    make.product("SER-1", category="serum")
    pin = client.post("/console/products/LIP-01/pairings/pin", data={"csrf_token": token,
                                                                    "other": "SER-1"})
    assert pin.status_code == 302
    page = client.get("/console/products/LIP-01").get_data(as_text=True)
    assert 'data-pairing="SER-1" data-source="pinned"' in page and "总部置顶" in page
    api_pairings = client.get("/api/v1/products/LIP-01/pairings", headers=world.h["admin"]).json
    assert api_pairings["pairings"][0] == {**api_pairings["pairings"][0], "sku": "SER-1",
                                           "source": "pinned"}
    assert client.post("/console/products/LIP-01/pairings/ban", data={
        "csrf_token": token, "other": "SER-1"}).status_code == 302
    page = client.get("/console/products/LIP-01").get_data(as_text=True)
    assert 'data-pairing="SER-1"' not in page
    unknown = client.post("/console/products/LIP-01/pairings/pin", data={"csrf_token": token,
                                                                        "other": "NOPE"})
    assert unknown.status_code == 302
    assert "未找到" in client.get(unknown.location).get_data(as_text=True)
    assert client.post("/console/products/LIP-01/pairings/unban", data={
        "csrf_token": token, "other": "SER-1"}).status_code == 302
    assert client.get("/api/v1/products/LIP-01/pairings", headers=world.h["admin"]).status_code == 200


def test_a_supervisor_approves_a_clerks_script_from_the_queue(make, client, world):
    token = sign_in(client, "sup_north")
    assert f'data-script="{world.script_id}"' not in client.get("/console/scripts").get_data(
        as_text=True)
    refused = client.post(f"/console/scripts/{world.script_id}/moderate",
                          data={"csrf_token": token, "decision": "approve"})
    assert refused.status_code == 403
    client.post("/console/logout", data={"csrf_token": token})
    token = sign_in(client, "sup_east")
    queue = client.get("/console/scripts").get_data(as_text=True)
    assert f'data-script="{world.script_id}"' in queue and "这支口红显白" in queue
    no_reason = client.post(f"/console/scripts/{world.script_id}/moderate",
                            data={"csrf_token": token, "decision": "reject", "comment": ""})
    assert "必填" in client.get(no_reason.location).get_data(as_text=True)
    approved = client.post(f"/console/scripts/{world.script_id}/moderate",
                           data={"csrf_token": token, "decision": "approve"})
    assert approved.status_code == 302
    ranked = client.get("/api/v1/scripts?sku=LIP-01&locale=zh-CN", headers=world.h["clerk1"]).json
    assert [script["id"] for script in ranked] == [world.script_id]


# ---- hostile addresses (issue 14 item 4) ---------------------------------------------------

# Pages reading `?page=` and `?campaign=`; every other page ignores them.
PAGED = ("/console/campaigns", "/console/reviews", "/console/stores/S001/tasks", "/console/stores",
         "/console/users", "/console/products", "/console/webhooks/{endpoint}")
CAMPAIGN_FILTERED = ("/console/dashboard", "/console/dashboard.csv", "/console/reviews",
                     "/console/stores/S001/tasks")
BAD_PAGES = ("99999999999999999999", "9223372036854775808", "1000001", "-5", "0", "abc", "1e3",
             "٣", "1" * 5000)
BAD_CAMPAIGNS = {"99999999999999999999": 404, "9223372036854775808": 404, "-5": 404, "0": 404,
                 "abc": 400, "1e3": 400, "٣": 400, "1" * 5000: 400}


def _with(url: str, name: str, value: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}{name}={value}"


def assert_console_error(response, status: int, *, english: bool = False):
    """An HTML console page with the status, in the page's language; never JSON, never a 500."""
    assert response.status_code == status, (response.request.url[:120], response.status_code)
    assert response.mimetype == "text/html", response.request.url[:120]
    text = response.get_data(as_text=True)
    assert text.lstrip().startswith("<!doctype html>")
    assert ("Back to the console" in text) if english else ("返回管理台" in text)


def test_console_integer_parameters_are_bounded_in_html(make, client, world):
    sign_in(client, "admin")
    before = make.row_counts()
    for url in map(lambda path: concrete(path, world), PAGED):
        for value in BAD_PAGES:
            assert_console_error(client.get(_with(url, "page", value)), 400)
        assert client.get(_with(url, "page", "1000000")).status_code == 200
    for url in CAMPAIGN_FILTERED:
        for value, status in BAD_CAMPAIGNS.items():
            assert_console_error(client.get(_with(url, "campaign", value)), status)
        assert client.get(_with(url, "campaign", str(world.campaign.id))).status_code == 200
    # every other GET page ignores them, and none answers 5xx or JSON whatever it is sent
    for method, path, _roles in PAGES:
        if method != "GET":
            continue
        url = concrete(path, world)
        for query in ("page=99999999999999999999&campaign=-5&region=%00&store=-1",
                      "campaign=99999999999999999999&status=%00&group_by=-5&q=-5"):
            response = client.get(f"{url}{'&' if '?' in url else '?'}{query}")
            assert response.status_code < 500, (path, query)
            assert response.mimetype != "application/json", (path, query)
    assert make.row_counts() == before


def test_console_path_ids_beyond_64_bits_are_html_404s_in_the_pages_language(make, client, world):
    token = sign_in(client, "admin")
    huge = "99999999999999999999"
    for method, path, _roles in PAGES:
        if "{" not in path or any(key in path for key in ("{store}", "{user}", "{sku}", "{sha}")):
            continue
        url = re.sub(r"\{(campaign|draft|task|template|script|rule|endpoint|delivery|import)\}", huge, path)
        url = concrete(url, world)
        response = client.open(url, method=method, data={"csrf_token": token})
        assert_console_error(response, 404)
    client.get("/console/lang/en")
    assert_console_error(client.get(f"/console/tasks/{huge}"), 404, english=True)
    assert_console_error(client.get("/console/reviews?page=-5"), 400, english=True)
    assert "The address carries a value this page cannot use." in client.get(
        "/console/reviews?page=-5").get_data(as_text=True)
    assert_console_error(client.get("/console/no-such-page"), 404, english=True)
    # outside the console an unknown address stays a JSON error
    assert client.get(f"/api/v1/tasks/{huge}").json["error"] == "not_found"


# ---- people from CSV, role changes ------------------------------------------------------------

PEOPLE_CSV = ("username,display_name,role,store,regions,locale,password\n"
              "clerk_s003_7,李雷,clerk,S003,,zh-CN,first-password-1\n"
              "sup_south,Han Meimei,supervisor,,EAST;NORTH,en,first-password-2\n"
              "clerk1,Clerk One,clerk,S001,,en,\n").encode()


def test_hq_imports_people_seeing_every_bad_line_then_imports_twice_to_the_same_state(
        make, client, world):
    token = sign_in(client, "admin")
    before = make.count(User)
    bad_csv = ("username,display_name,role,store,regions,locale,password\n"
               "clerk_x1,,clerk,S001,,zh-CN,first-password-1\n"        # no name
               "clerk_x2,X2,clerk,S999,,zh-CN,first-password-1\n"      # unknown store
               "sup_x3,X3,supervisor,,,zh-CN,first-password-1\n"       # no region
               "clerk_x4,X4,clerk,S001,,zh-CN,\n"                      # new: no password
               "clerk_x2,X2 again,clerk,S001,,zh-CN,first-password-1\n"
               "clerk_ok,OK,clerk,S001,,zh-CN,first-password-1\n").encode()
    bad = client.post("/console/users/import", data={"csrf_token": token,
                                                      "file": (io.BytesIO(bad_csv), "u.csv")})
    assert bad.status_code == 422
    page = bad.get_data(as_text=True)
    for line in (2, 3, 4, 5):
        assert f"第 {line} 行" in page, line
    assert "未知的门店 S999" in page and "必填" in page, page
    assert make.count(User) == before  # nothing imported, not even the good line

    for attempt in (1, 2):
        response = client.post("/console/users/import", data={
            "csrf_token": token, "file": (io.BytesIO(PEOPLE_CSV), "u.csv")})
        assert response.status_code == 302, response.get_data(as_text=True)
        flashed = client.get(response.location).get_data(as_text=True)
        if attempt == 1:
            assert "3 人已导入：2 人新增，1 人更新，0 人未变" in flashed
        else:
            assert "3 人已导入：0 人新增，0 人更新，3 人未变" in flashed
        assert make.count(User) == before + 2
    sup = make.scalar(select(User).where(User.username == "sup_south"))
    assert sup.role == "supervisor" and sorted(r.code for r in sup.regions) == ["EAST", "NORTH"]
    assert make.scalar(select(User.display_name).where(User.username == "clerk1")) == "Clerk One"
    assert client.post("/api/v1/auth/login", json={"username": "clerk1",
                                                   "password": PASSWORD}).status_code == 200
    assert client.post("/api/v1/auth/login", json={"username": "clerk_s003_7",
                                                   "password": "first-password-1"}).status_code == 200


def test_hq_changes_a_persons_role_and_binding(make, client, world):
    token = sign_in(client, "admin")
    old_token = world.h["clerk1b"]
    wrong = client.post("/console/users/clerk1b/edit", data={
        "csrf_token": token, "display_name": "Clerk1b", "locale": "zh-CN", "role": "supervisor",
        "store": "S001", "active": "on"})
    assert wrong.status_code == 422 and "督导至少需要负责一个大区" in wrong.get_data(as_text=True)
    assert make.scalar(select(User.role).where(User.username == "clerk1b")) == "clerk"
    promoted = client.post("/console/users/clerk1b/edit", data={
        "csrf_token": token, "display_name": "Clerk1b", "locale": "zh-CN", "role": "supervisor",
        "store": "", "regions": ["EAST"], "active": "on"})
    assert promoted.status_code == 302, promoted.get_data(as_text=True)
    user = make.scalar(select(User).where(User.username == "clerk1b")
                       .execution_options(populate_existing=True))
    assert user.role == "supervisor" and user.store is None
    assert [region.code for region in user.regions] == ["EAST"]
    assert client.get("/api/v1/auth/me", headers=old_token).status_code == 401  # signs in anew
    page = client.get("/console/users/clerk1b/edit").get_data(as_text=True)
    assert '<option value="supervisor" selected>' in page


# ---- overdue follow-up ------------------------------------------------------------------------

def overdue(make, task_id: int) -> None:
    make.session.execute(StoreTask.__table__.update().where(StoreTask.id == task_id)
                         .values(due_at=utcnow() - dt.timedelta(hours=3)))
    make.session.commit()


def test_a_supervisor_reminds_and_escalates_an_overdue_task_from_the_dashboard(make, client, world):
    price_check = make.task_id(world.campaign.id, world.s1, "Price check")
    overdue(make, price_check)
    token = sign_in(client, "sup_east")
    dashboard = client.get("/console/dashboard").get_data(as_text=True)
    row = re.search(rf'<tr data-task="{price_check}">.*?</tr>', dashboard, re.S).group(0)
    assert "提醒店员" in row and "上报" in row
    before = make.count(Notification)
    reminded = client.post(f"/console/tasks/{price_check}/remind",
                           data={"csrf_token": token, "next": "/console/dashboard"})
    assert reminded.status_code == 302 and reminded.location == "/console/dashboard"
    assert "已提醒 Clerk1 (clerk1), Clerk1B (clerk1b)" in client.get("/console/dashboard").get_data(as_text=True)
    sent = make.session.execute(select(User.username, Notification.kind)
                                .join(User, User.id == Notification.user_id)
                                .where(Notification.id > 0).order_by(Notification.id)).all()[before:]
    make.session.commit()
    assert sorted(sent) == [("clerk1", "overdue"), ("clerk1b", "overdue")]
    again = client.post(f"/console/tasks/{price_check}/remind", data={"csrf_token": token})
    assert "本小时内已发送" in client.get(again.location).get_data(as_text=True)
    assert make.count(Notification) == before + 2  # a double click sends nothing new
    escalated = client.post(f"/console/tasks/{price_check}/escalate", data={"csrf_token": token})
    assert "已上报给 Admin (admin)" in client.get(escalated.location).get_data(as_text=True)
    inbox = client.get("/api/v1/notifications", headers=world.h["admin"]).json
    assert inbox["items"][0]["kind"] == "overdue" and inbox["items"][0]["task_id"] == price_check
    history = client.get(f"/console/tasks/{price_check}").get_data(as_text=True)
    assert 'data-action="reminded"' in history and 'data-action="escalated"' in history
    assert "已发送提醒" in history and "Clerk1 (clerk1), Clerk1B (clerk1b)" in history


def test_overdue_follow_up_is_refused_out_of_scope_and_for_tasks_not_overdue(make, client, world):
    price_check = make.task_id(world.campaign.id, world.s1, "Price check")
    token = sign_in(client, "sup_east")
    before = make.row_counts()
    not_yet = client.post(f"/console/tasks/{price_check}/remind", data={"csrf_token": token})
    assert "任务已不再逾期" in client.get(not_yet.location).get_data(as_text=True)
    assert make.row_counts() == before
    overdue(make, price_check)  # moves the due day: the analytics rollups move with it
    before = make.row_counts()
    client.post("/console/logout", data={"csrf_token": token})
    token = sign_in(client, "sup_north")
    for nudge in ("remind", "escalate"):
        response = client.post(f"/console/tasks/{price_check}/{nudge}", data={"csrf_token": token})
        assert response.status_code == 403, nudge
    assert make.row_counts() == before


# ---- the numbers that matter ------------------------------------------------------------------

def test_the_campaign_page_shows_rates_attach_uplift_charts_and_named_timezones(make, client, world):
    """A day into the campaign S001 sold LIP-01 with its pairing LIP-02 in 1 of 2 receipts; the
    day before, in 1 of 4: attach rate 50.0%, before 25.0%, uplift +100.0%."""
    make.session.add(ProductPairing(product_id=world.lip.id, paired_product_id=world.gloss.id,
                                    rank=1, score=0.4, support=12, source="learned"))
    start = world.campaign.starts_at
    receipts = {"D1": (1, True), "D2": (1, False), "B1": (-1, True), "B2": (-1, False),
                "B3": (-1, False), "B4": (-1, False)}
    for receipt, (day, attached) in receipts.items():
        sold_at = start + dt.timedelta(hours=3 if day > 0 else -3)
        skus = [world.lip, world.gloss] if attached else [world.lip]
        make.session.add_all(SalesLine(transaction_id=receipt, store_id=world.s1.id,
                                       product_id=product.id, quantity=1, sold_at=sold_at)
                             for product in skus)
    make.session.commit()
    sign_in(client, "admin")
    page = client.get(f"/console/campaigns/{world.campaign.id}").get_data(as_text=True)
    assert 'data-figure="attach-rate">50.0%<' in page
    assert 'data-figure="attach-before">25.0%<' in page
    assert 'data-figure="attach-uplift">+100.0%<' in page
    assert 'data-figure="completion">' in page and 'data-figure="on-time">' in page
    assert 'data-figure="deviation">' in page
    charts = json.loads(re.search(r'<script type="application/json" id="chart-data">(.*?)</script>',
                                  page, re.S).group(1))
    s001 = charts["stores"]["labels"].index("Store S001 (S001)")
    assert charts["stores"]["attach"][s001] == 0.5 and charts["stores"]["attach_before"][s001] == 0.25
    assert {"chart-days", "chart-stores", "chart-attach"} <= set(re.findall(r'<canvas id="([\w-]+)"', page))
    assert "chart.umd.min.js" in page
    assert f'href="/console/campaigns/{world.campaign.id}/impact"' in page
    assert re.search(r"\d{2}:\d{2} Asia/Shanghai", page)  # dates name their timezone
