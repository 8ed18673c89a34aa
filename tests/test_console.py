"""The web console: role and region scope on every page, CSRF on every form, the flows, i18n."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from sqlalchemy import select

from backend.campaigns.models import Campaign
from backend.config import load_config
from backend.console.i18n import CATALOGS
from backend.db import Base
from backend.tasks.models import StoreTask
from seed.demo import tiny_png
from tests.factories import PASSWORD

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
]
PUBLIC_ENDPOINTS = {"console.static", "console.asset", "console.switch_language", "console.login",
                    "console.logout"}

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


def row_counts(make) -> dict:
    return {table.name: make.count(table) for table in Base.metadata.sorted_tables}


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
    return w


def concrete(path: str, w) -> str:
    return (path.replace("{campaign}", str(w.campaign.id)).replace("{draft}", str(w.draft.id))
            .replace("{task}", str(w.task_id)).replace("{sha}", w.sha))


def task_status(make, task_id: int) -> str:
    return make.scalar(select(StoreTask.status).where(StoreTask.id == task_id))


# ---- the route table ----------------------------------------------------------------------

def test_every_console_route_is_listed(app):
    listed = {(method, re.sub(r"\{\w+\}", "*", path.split("?")[0])) for method, path, _ in PAGES}
    found = set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console") or rule.endpoint in PUBLIC_ENDPOINTS:
            continue
        path = re.sub(r"<[^>]+>", "*", rule.rule).replace("qr-sheet.*", "qr-sheet.pdf")
        found |= {(method, path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    assert found == listed, f"unlisted: {found - listed}; gone: {listed - found}"


def test_console_is_not_in_the_openapi_spec(client):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert not [path for path in paths if "console" in path]


# ---- who may open what --------------------------------------------------------------------

def test_anonymous_visitors_are_sent_to_sign_in_and_write_nothing(make, client, world):
    token = csrf_token(client)
    before = row_counts(make)
    for method, path, _roles in PAGES:
        url = concrete(path, world)
        response = client.open(url, method=method, data={"csrf_token": token, "decision": "approve",
                                                         "title": "x"})
        assert response.status_code == 302, (method, url, response.status_code)
        assert response.location.startswith("/console/login"), (method, url, response.location)
    assert row_counts(make) == before
    assert task_status(make, world.task_id) == "submitted"


def test_clerks_get_the_not_for_clerks_page(make, client, world):
    token = sign_in(client, "clerk1")
    before = row_counts(make)
    for method, path, _roles in PAGES:
        url = concrete(path, world)
        response = client.open(url, method=method,
                               data={"csrf_token": token, "decision": "approve"})
        assert response.status_code == 403, (method, url, response.status_code)
        assert "手机应用" in response.get_data(as_text=True), (method, url)
    assert row_counts(make) == before


def test_supervisors_cannot_open_hq_pages(make, client, world):
    token = sign_in(client, "sup_east")
    before = row_counts(make)
    for method, path, roles in PAGES:
        if "supervisor" in roles:
            continue
        url = concrete(path, world)
        response = client.open(url, method=method, data={"csrf_token": token, "title": "x"})
        assert response.status_code == 403, (method, url, response.status_code)
    assert row_counts(make) == before


def test_each_manager_opens_their_pages(make, client, world):
    for username in ("admin", "sup_east"):
        client.post("/console/logout", data={"csrf_token": csrf_token(client)})
        sign_in(client, username)
        role = "hq_admin" if username == "admin" else "supervisor"
        for method, path, roles in PAGES:
            if method == "GET" and role in roles:
                response = client.get(concrete(path, world))
                assert response.status_code in (200, 302), (username, path, response.status_code)


def test_a_supervisor_of_another_region_cannot_see_or_review(make, client, world):
    """sup_north tampers with URLs to reach an EAST task, photo, region and store."""
    token = sign_in(client, "sup_north")
    east_only = make.campaign(world.admin, "EASTONLY", targeting={"regions": ["EAST"]})
    before = row_counts(make)
    for url in (f"/console/tasks/{world.task_id}", f"/console/photos/{world.sha}",
                "/console/dashboard?region=EAST", "/console/dashboard.csv?region=EAST",
                f"/console/dashboard?campaign={east_only.id}",
                f"/console/campaigns/{world.campaign.id}/qr-sheet.png?store=S001"):
        response = client.get(url)
        assert response.status_code in (403, 404), (url, response.status_code)
    response = client.post(f"/console/tasks/{world.task_id}/review",
                           data={"csrf_token": token, "decision": "approve"})
    assert response.status_code == 403
    assert row_counts(make) == before
    assert task_status(make, world.task_id) == "submitted"
    queue = client.get("/console/reviews").get_data(as_text=True)
    assert f'data-task="{world.task_id}"' not in queue
    dashboard = client.get("/console/dashboard").get_data(as_text=True)
    assert 'data-group="S002"' in dashboard and 'data-group="S001"' not in dashboard


# ---- CSRF -----------------------------------------------------------------------------------

@pytest.mark.parametrize("token", [None, "forged-token"])
def test_form_posts_without_a_valid_csrf_token_are_refused(make, client, world, token):
    sign_in(client, "admin")
    before = row_counts(make)
    extra = {"csrf_token": token} if token else {}
    posts = [("/console/campaigns/new", {"code": "NOCSRF", "title": "x",
                                         "starts_at": "2030-01-01T09:00",
                                         "ends_at": "2030-01-05T09:00", "tasks-0-title": "x"}),
             (f"/console/campaigns/{world.draft.id}/edit", {"title": "changed"}),
             (f"/console/campaigns/{world.draft.id}/publish", {}),
             (f"/console/tasks/{world.task_id}/review", {"decision": "approve"}),
             ("/console/logout", {})]
    for url, data in posts:
        response = client.post(url, data={**data, **extra})
        assert response.status_code == 400, (url, response.status_code)
    assert row_counts(make) == before
    assert task_status(make, world.task_id) == "submitted"
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
    assert "title" in page and "promo_prices" in page and "tasks.0.checklist" in page
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
    root = Path(__file__).resolve().parent.parent
    method_map = [("**.py", "python"), ("**/templates/**.html", "jinja2")]
    wanted = {message for _file, _line, message, _comments, _context in extract_from_dir(
        str(root / "backend" / "console"), method_map)}
    with (CATALOGS / "zh_CN" / "LC_MESSAGES" / "messages.po").open("rb") as po_file:
        catalog = read_po(po_file)
    untranslated = sorted(message for message in wanted
                          if not (catalog.get(message) and catalog.get(message).string))
    assert not untranslated, f"add to messages.po (make translations): {untranslated}"


def test_browser_libraries_are_served_from_the_npm_install(client):
    for url in ("/console/assets/htmx/htmx.min.js", "/console/assets/chart/chart.umd.min.js",
                "/console/assets/pico/pico.min.css"):
        response = client.get(url)
        assert response.status_code == 200, f"{url}: run `npm ci` (make test does)"
    assert client.get("/console/assets/htmx/../../package.json").status_code == 404
    assert client.get("/console/assets/left-pad/index.js").status_code == 404


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
