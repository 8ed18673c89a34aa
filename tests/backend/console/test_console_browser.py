"""The console in a real browser: HQ publishes through the forms, a clerk works the task
through the JSON API, the supervisor approves it in the review queue, the dashboard shows it.

Playwright drives Debian's headless Chromium (it cannot download a browser of its own) against
the real app served on a loopback port, on SQLite and on PostgreSQL. Screenshots of every page,
in both languages, land in test-artifacts/screenshots/<database>/.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from pathlib import Path

import requests

from backend.catalog.models import ProductPairing
from backend.sales import jobs as sales_jobs
from backend.sales.models import SalesLine
from backend.tasks.models import StoreTask
from seed.demo import tiny_png
from tests.browser import SCREENSHOTS, chromium, playwright  # noqa: F401  (fixtures)
from tests.factories import PASSWORD
from tests.live_server import live_server  # noqa: F401  (the fixture)

LAPTOP = {"width": 1280, "height": 860}
TABLET = {"width": 820, "height": 1180}


class Camera:
    """Saves a full-page screenshot of each page under a readable name."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        self.taken: list[Path] = []

    def shoot(self, page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        path = self.folder / f"{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.taken.append(path)


def api(base: str, method: str, path: str, token: str | None = None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, f"{base}/api/v1{path}", headers=headers, timeout=30, **kwargs)


def api_login(base: str, username: str) -> str:
    response = api(base, "POST", "/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/console/")
    assert "/console/login" in page.url
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form[action$='/console/login'] button[type=submit]")
    page.wait_for_load_state("networkidle")


def other_language(context, base: str, language: str) -> None:
    context.add_cookies([{"name": "zhida_lang", "value": language, "url": base}])


def test_publish_claim_submit_approve_in_a_real_browser(make, live_server, chromium, database_url):
    base = live_server
    w = make.world()
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    camera = Camera(SCREENSHOTS / backend)

    # ---- HQ, in Chinese (the browser asks for zh-CN) ---------------------------------------
    hq = chromium.new_context(locale="zh-CN", viewport=LAPTOP)
    page = hq.new_page()
    page.goto(f"{base}/console/")
    assert page.locator("h1").inner_text() == "登录"
    camera.shoot(page, "01-login-zh")
    sign_in(page, base, "admin")
    assert page.url.endswith("/console/campaigns")
    page.click("a[href$='/console/campaigns/new']")
    page.fill("input[name=code]", "BRW-1")
    page.fill("input[name=title]", "双十一端架 Double-11 end-caps")
    today = dt.date.today()  # a campaign running now, whenever the test runs
    page.fill("input[name=starts_at]", f"{today - dt.timedelta(days=2):%Y-%m-%d}T09:00")
    page.fill("input[name=ends_at]", f"{today + dt.timedelta(days=28):%Y-%m-%d}T22:00")
    page.fill("input[name=featured_skus]", "LIP-01")
    page.fill("textarea[name=promo_prices]", "LIP-01=159")
    count = page.locator("#targeting-count")
    count.locator("[data-stores='0']").wait_for()
    page.check("input[name=regions][value=EAST]")
    count.locator("[data-stores='2']").wait_for()  # S001 and S003, counted live by htmx
    page.fill("input[name=tags]", "mall")
    page.locator("#targeting-count [data-stores='1']").wait_for()
    assert "已选中 1 家门店" in page.locator("#targeting-count").inner_text()
    page.fill("input[name=tags]", "")
    page.locator("#targeting-count [data-stores='2']").wait_for()
    page.fill("input[name='tasks-0-title']", "端架陈列 End-cap display")
    page.fill("textarea[name='tasks-0-instructions']", "按陈列图摆放 Follow the planogram")
    page.fill("textarea[name='tasks-0-checklist']",
              "shelf: 货架到位 Shelf set\nposter: 海报 Poster up")
    page.fill("input[name='tasks-0-photos']", "1")
    page.fill("input[name='tasks-0-due_in_hours']", "48")
    page.check("input[name='tasks-0-observed_price']")
    page.click("#add-task")  # a second, empty fieldset arrives by htmx and is ignored when blank
    page.locator("fieldset.task[data-index='1']").wait_for()
    camera.shoot(page, "02-campaign-form-zh")
    page.click("#campaign-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert re.search(r"/console/campaigns/\d+$", page.url), page.url
    campaign_id = int(page.url.rsplit("/", 1)[1])
    assert "2 家门店" in page.locator("main").inner_text()
    camera.shoot(page, "03-campaign-draft-zh")
    page.click(f"a[href$='/console/campaigns/{campaign_id}/publish']")
    assert "确认发布 BRW-1" in page.locator("h1").inner_text()
    camera.shoot(page, "04-publish-confirm-zh")
    page.click("form[action$='/publish'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "已发布到 2 家门店：新建 2 个任务" in page.locator(".flash").inner_text()
    camera.shoot(page, "05-campaign-published-zh")
    sheet = page.request.get(f"{base}/console/campaigns/{campaign_id}/qr-sheet.pdf?store=S001")
    assert sheet.status == 200 and sheet.body().startswith(b"%PDF")
    page.goto(f"{base}/console/campaigns")
    assert page.locator("tr[data-campaign='BRW-1'] .status-scheduled, tr[data-campaign='BRW-1'] "
                        ".status-live").count() == 1
    camera.shoot(page, "06-campaigns-zh")

    # ---- the clerk, through the JSON API (the phone app's calls) ----------------------------
    hq_token = api_login(base, "admin")
    tasks = api(base, "GET", f"/tasks?campaign={campaign_id}&store=S001", hq_token).json()
    assert tasks["total"] == 1
    task_id = tasks["items"][0]["id"]
    qr_token = api(base, "GET", f"/tasks/{task_id}/qr", hq_token).json()["token"]
    clerk = api_login(base, "clerk1")
    claimed = api(base, "POST", "/claims", clerk, json={"qr_token": qr_token})
    assert claimed.status_code == 201, claimed.text
    png = tiny_png(7)
    sha = hashlib.sha256(png).hexdigest()
    assert api(base, "PUT", f"/blobs/{sha}", clerk, data=png,
               headers={"Content-Type": "image/png"}).status_code == 201
    submitted = api(base, "POST", f"/tasks/{task_id}/submit", clerk, json={
        "checklist": {"shelf": True, "poster": True}, "photos": [sha],
        "observed_prices": {"LIP-01": 159.0}, "note": "端架已完成 done"})
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["status"] == "submitted"

    # ---- the supervisor of EAST, in English ---------------------------------------------------
    supervisor = chromium.new_context(locale="en-US", viewport=LAPTOP)
    page = supervisor.new_page()
    blocked = []  # what the Content-Security-Policy stopped: nothing of ours may be
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    sign_in(page, base, "sup_east")
    assert page.url.endswith("/console/dashboard")
    page.click("nav a[href$='/console/reviews']")
    row = page.locator(f"tr[data-task='{task_id}']")
    assert "End-cap display" in row.inner_text()
    camera.shoot(page, "07-review-queue-en")
    row.locator("a[role=button]").click()
    page.wait_for_load_state("networkidle")
    photo = page.locator(".photos img")
    assert photo.evaluate("img => img.complete && img.naturalWidth") == 2  # the 2×2 proof photo
    assert "¥159.00" in page.locator("main").inner_text()
    camera.shoot(page, "08-task-proof-en")
    page.fill("textarea[name=comment]", "Looks good")
    page.click("button[name=decision][value=approve]")
    page.wait_for_load_state("networkidle")
    assert f"Task {task_id} approved." in page.locator(".flash").inner_text()
    assert page.locator(f"tr[data-task='{task_id}']").count() == 0

    page.goto(f"{base}/console/dashboard?campaign={campaign_id}")
    # Two tasks (S001 approved, S003 open): 50 % overall, S001 at 100 %, S003 at 0 %.
    assert page.locator("[data-figure=completion]").inner_text() == "50.0%"
    assert page.locator("#store-rates tr[data-group='S001'] .completion").inner_text() == "100.0%"
    assert page.locator("#store-rates tr[data-group='S003'] .completion").inner_text() == "0.0%"
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-stores') "
                           "&& Chart.getChart('chart-days')")
    assert page.evaluate("Chart.getChart('chart-stores').data.datasets[0].data") == [100, 0]
    camera.shoot(page, "09-dashboard-en")
    with page.expect_download() as download:
        page.click("a[href*='/console/dashboard.csv']")
    csv_text = Path(download.value.path()).read_text()
    assert csv_text.splitlines()[0].startswith("group,tasks,claimed,submitted,approved")
    with page.expect_navigation():  # the filter submits itself (a listener, not inline code)
        page.select_option("select[name=region]", "EAST")
    assert "region=EAST" in page.url
    assert blocked == []

    tablet = chromium.new_context(locale="zh-CN", viewport=TABLET, is_mobile=True, has_touch=True,
                                  storage_state=supervisor.storage_state())
    page = tablet.new_page()
    page.goto(f"{base}/console/dashboard?campaign={campaign_id}")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-stores')")
    assert page.locator("[data-figure=completion]").inner_text() == "50.0%"
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    camera.shoot(page, "10-dashboard-tablet-zh")

    # ---- a clerk in the console, and every page again in the other language ---------------
    clerk_context = chromium.new_context(locale="zh-CN", viewport=LAPTOP)
    page = clerk_context.new_page()
    sign_in(page, base, "clerk1")
    assert "管理台不对店员开放" in page.locator("h1").inner_text()
    camera.shoot(page, "11-not-for-clerks-zh")

    other_language(hq, base, "en")
    page = hq.new_page()
    for name, path in [("12-campaigns-en", "/console/campaigns"),
                       ("13-campaign-form-en", "/console/campaigns/new"),
                       ("14-campaign-en", f"/console/campaigns/{campaign_id}")]:
        page.goto(base + path)
        assert "Campaigns" in page.locator("header nav").inner_text()
        camera.shoot(page, name)
    other_language(supervisor, base, "zh_CN")
    page = supervisor.new_page()
    for name, path in [("15-dashboard-zh", f"/console/dashboard?campaign={campaign_id}"),
                       ("16-task-zh", f"/console/tasks/{task_id}")]:
        page.goto(base + path)
        assert "执行看板" in page.locator("header nav").inner_text()
        camera.shoot(page, name)
    for context in (hq, supervisor, tablet, clerk_context):
        context.close()
    print(f"\nconsole screenshots ({backend}): {camera.folder}")
    assert len(camera.taken) == 16


def test_hq_and_a_supervisor_run_the_operation_in_a_real_browser(app, make, live_server, chromium,
                                                                database_url):
    """Console v2: a published campaign changed, a task cancelled, master data added and
    imported, a supervisor's drill-down to a task's history, every new page in both languages."""
    base = live_server
    w = make.world()
    campaign_id = w.campaign.id
    make.session.add(ProductPairing(product_id=w.lip.id, paired_product_id=w.gloss.id, rank=1,
                                    score=0.4, support=12, source="learned"))
    for receipt, hours, attached in (("D1", 3, True), ("D2", 4, False), ("B1", -3, True),
                                     ("B2", -4, False), ("B3", -5, False)):
        for product in ([w.lip, w.gloss] if attached else [w.lip]):
            make.session.add(SalesLine(transaction_id=receipt, store_id=w.s1.id, quantity=1,
                                       product_id=product.id,
                                       sold_at=w.campaign.starts_at + dt.timedelta(hours=hours)))
    overdue_task = make.task_id(campaign_id, w.s3, "Price check")
    make.session.execute(StoreTask.__table__.update().where(StoreTask.id == overdue_task)
                         .values(due_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=5)))
    make.session.commit()
    script = api(base, "POST", "/scripts", api_login(base, "clerk1"), json={
        "sku": "LIP-01", "locale": "zh-CN", "text": "这支口红显白，搭配 LIP-02 更持久。"})
    assert script.status_code == 201, script.text
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    camera = Camera(SCREENSHOTS / backend / "v2")
    blocked = []

    def watch(page):
        page.on("console", lambda message: blocked.append(message.text)
                if "Content Security Policy" in message.text else None)
        page.on("dialog", lambda dialog: dialog.accept())  # the data-confirm questions
        return page

    # ---- a supervisor assigns a task first, so its history has a step ---------------------
    supervisor = chromium.new_context(locale="zh-CN", viewport=LAPTOP)
    page = watch(supervisor.new_page())
    sign_in(page, base, "sup_east")
    page.goto(f"{base}/console/dashboard?campaign={campaign_id}")
    page.click("#store-rates tr[data-group='S001'] th a")  # the row leads to the store's tasks
    page.wait_for_load_state("networkidle")
    assert "/console/stores/S001/tasks" in page.url
    assert "Store S001" in page.locator("h1").inner_text()
    display = page.locator("#store-tasks tr", has_text="Display")
    display.locator("select[name=username]").select_option("clerk1")
    display.locator("form[action$='/assign'] button").click()
    page.wait_for_load_state("networkidle")
    assert "已指派" in page.locator(".flash").inner_text()
    camera.shoot(page, "01-store-tasks-supervisor-zh")
    page.locator("#store-tasks tr", has_text="Display").locator("td a").first.click()
    page.wait_for_load_state("networkidle")
    history = page.locator("#history").inner_text()
    assert "已指派" in history and "待领取 → 已领取" in history and "Sup_East" in history
    camera.shoot(page, "02-task-history-zh")
    page.goto(f"{base}/console/dashboard")
    overdue_row = page.locator(f"#overdue tr[data-task='{overdue_task}']")
    overdue_row.locator("button[data-nudge=remind]").click()
    page.wait_for_load_state("networkidle")
    assert "已提醒 Clerk3 (clerk3)" in page.locator(".flash").inner_text()
    page.locator(f"#overdue tr[data-task='{overdue_task}'] button[data-nudge=escalate]").click()
    page.wait_for_load_state("networkidle")
    assert "已上报给 Admin (admin)" in page.locator(".flash").inner_text()
    camera.shoot(page, "02b-dashboard-overdue-followed-up-zh")
    page.goto(f"{base}/console/tasks/{overdue_task}")
    history = page.locator("#history").inner_text()
    assert "已发送提醒" in history and "已上报" in history and "clerk3" in history
    camera.shoot(page, "02c-overdue-task-history-zh")

    # ---- HQ, in Chinese: the published campaign's life ------------------------------------
    hq = chromium.new_context(locale="zh-CN", viewport=LAPTOP)
    page = watch(hq.new_page())
    sign_in(page, base, "admin")
    page.goto(f"{base}/console/campaigns/{campaign_id}")
    assert page.locator("[data-figure=attach-rate]").first.inner_text() == "50.0%"
    assert page.locator("[data-figure=attach-uplift]").first.inner_text() == "+50.0%"
    page.wait_for_function("() => ['chart-days', 'chart-stores', 'chart-attach'].every("
                           "id => Chart.getChart(document.getElementById(id)))")
    assert page.locator("#impact-link").count() == 1
    page.click("#campaign-actions summary")
    camera.shoot(page, "03-campaign-published-zh")
    page.locator("a.edit-template").first.click()
    page.wait_for_load_state("networkidle")
    impact = page.locator("#edit-impact")
    assert impact.get_attribute("data-flagged") == "1" and impact.get_attribute("data-open") == "2"
    camera.shoot(page, "04-template-edit-zh")
    page.fill("input[name='tasks-0-title']", "")
    page.click("main form[action$='/edit'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "必填" in page.locator("#tasks-0-title-error").inner_text()
    camera.shoot(page, "05-template-edit-errors-zh")
    page.fill("input[name='tasks-0-title']", "Display")
    page.fill("textarea[name='tasks-0-instructions']", "新陈列图：海报放左侧")
    page.click("main form[action$='/edit'] button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "1 个已领取的任务已标记" in page.locator(".flash").inner_text()

    page.goto(f"{base}/console/stores/S003/tasks?campaign={campaign_id}")
    row = page.locator("#store-tasks tr", has_text="Price check")
    row.locator("form[action$='/cancel'] button").click()  # confirmed in the dialog
    page.wait_for_load_state("networkidle")
    assert "已取消" in page.locator(".flash").inner_text()
    assert "已取消" in page.locator("#store-tasks tr", has_text="Price check").inner_text()
    camera.shoot(page, "06-store-tasks-hq-zh")

    # ---- HQ: a store, a clerk, products and sales ----------------------------------------
    page.click("nav a[href$='/console/stores']")
    page.fill("#store-form input[name=code]", "S101")
    page.fill("#store-form input[name=name]", "深圳万象城店")
    page.select_option("#store-form select[name=region]", "EAST")
    page.fill("#store-form input[name=tags]", "mall, flagship")
    page.click("#store-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("tr[data-store='S101']").count() == 1
    camera.shoot(page, "07-stores-zh")
    page.click("nav a[href$='/console/users']")
    page.fill("#user-form input[name=username]", "clerk_s101_1")
    page.fill("#user-form input[name=display_name]", "王芳")
    page.fill("#user-form input[name=password]", "short")
    page.click("#user-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("#password-error").count() == 1 and page.locator("#store-error").count() == 0
    page.fill("#user-form input[name=password]", "first-password-1")
    page.fill("#user-form input[name=store]", "S101")
    page.click("#user-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "王芳" in page.locator("tr[data-user='clerk_s101_1']").inner_text()
    camera.shoot(page, "08-users-zh")
    people = ("username,display_name,role,store,regions,locale,password\n"
              "clerk_s101_2,李雷,clerk,S101,,zh-CN,first-password-1\n"
              "sup_x,韩梅梅,supervisor,,,zh-CN,first-password-2\n")
    page.set_input_files("#user-import input[type=file]", files=[{
        "name": "people.csv", "mimeType": "text/csv", "buffer": people.encode()}])
    page.click("#user-import button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "第 3 行" in page.locator("#user-import #form-errors").inner_text()
    assert page.locator("tr[data-user='clerk_s101_2']").count() == 0
    camera.shoot(page, "08b-users-import-errors-zh")
    page.set_input_files("#user-import input[type=file]", files=[{
        "name": "people.csv", "mimeType": "text/csv",
        "buffer": people.replace(",,,zh-CN,first-password-2", ",,EAST,zh-CN,first-password-2").encode()}])
    page.click("#user-import button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "2 人新增" in page.locator(".flash").inner_text()
    assert page.locator("tr[data-user='sup_x']").count() == 1
    page.click("nav a[href$='/console/products']")
    page.set_input_files("#product-import input[type=file]", files=[{
        "name": "products.csv", "mimeType": "text/csv",
        "buffer": "sku,name,category,brand,price\nSER-1,精华,serum,Acme,99\nSER-2,,serum,Acme,x\n"
                  .encode()}])
    page.click("#product-import button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "第 3 行" in page.locator("#form-errors").inner_text()
    camera.shoot(page, "09-products-import-errors-zh")
    page.set_input_files("#product-import input[type=file]", files=[{
        "name": "products.csv", "mimeType": "text/csv",
        "buffer": "sku,name,category,brand,price\nSER-1,精华,serum,Acme,99\n".encode()}])
    page.click("#product-import button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("tr[data-sku='SER-1']").count() == 1
    page.click("nav a[href$='/console/sales']")
    page.set_input_files("#sales-form input[type=file]", files=[{
        "name": "pos.csv", "mimeType": "text/csv",
        "buffer": ("transaction_id,store_code,sku,quantity,sold_at\n"
                   "T1,S001,LIP-01,1,2026-11-11T10:00:00+08:00\n"
                   "T1,S001,SER-1,1,2026-11-11T10:00:00+08:00\n"
                   "T2,S999,LIP-01,1,2026-11-11T10:00:00+08:00\n").encode()}])
    page.click("#sales-form button[type=submit]")
    page.wait_for_selector("#sales-progress[data-status=queued]")
    assert "已处理 0 / 3 行" in page.locator("#sales-progress").inner_text()
    camera.shoot(page, "10a-sales-queued-zh")
    assert sales_jobs.run_waiting(app.extensions["zhida.sessionmaker"], worker_id="browser") == 1
    page.wait_for_selector("#sales-progress[data-status=done]", timeout=10_000)  # htmx polled
    assert page.locator("[data-figure=imported]").inner_text() == "2"
    assert page.locator("[data-figure=rejected]").inner_text() == "1"
    camera.shoot(page, "10-sales-report-zh")
    sales_page = page.url

    # ---- HQ: pins a pairing and approves a clerk's script --------------------------------
    page.goto(f"{base}/console/products/LIP-01")
    page.fill("#pin-form input[name=other]", "SER-1")
    page.click("#pin-form button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert page.locator("tr[data-pairing='SER-1'][data-source=pinned]").count() == 1
    assert "总部置顶" in page.locator("tr[data-pairing='SER-1']").inner_text()
    camera.shoot(page, "10b-product-pairing-pinned-zh")
    page.click("nav a[href$='/console/scripts']")
    card = page.locator(f"article.script[data-script='{script.json()['id']}']")
    assert "这支口红显白" in card.inner_text()
    camera.shoot(page, "10c-scripts-queue-zh")
    card.locator("button[value=approve]").click()
    page.wait_for_load_state("networkidle")
    assert "已通过" in page.locator(".flash").inner_text()
    ranked = api(base, "GET", "/scripts?sku=LIP-01&locale=zh-CN", api_login(base, "clerk1")).json()
    assert [item["id"] for item in ranked] == [script.json()["id"]]
    page.goto(f"{base}/console/regions")
    camera.shoot(page, "11-regions-zh")

    # ---- the same pages in English ----------------------------------------------------------
    other_language(hq, base, "en")
    page = watch(hq.new_page())
    template_id = w.campaign.templates[0].id
    make.session.commit()
    for name, path in [("12-campaign-en", f"/console/campaigns/{campaign_id}"),
                       ("13-template-edit-en",
                        f"/console/campaigns/{campaign_id}/templates/{template_id}/edit"),
                       ("14-targeting-en", f"/console/campaigns/{campaign_id}/targeting"),
                       ("15-store-tasks-en", f"/console/stores/S001/tasks?campaign={campaign_id}"),
                       ("16-stores-en", "/console/stores"), ("17-store-edit-en", "/console/stores/S101/edit"),
                       ("18-users-en", "/console/users"), ("19-user-edit-en", "/console/users/clerk_s101_1/edit"),
                       ("20-products-en", "/console/products"), ("21-sales-en", "/console/sales"),
                       ("22-regions-en", "/console/regions"),
                       ("22a-sales-import-en", sales_page.replace(base, "")),
                       ("22b-product-en", "/console/products/LIP-01"),
                       ("22c-scripts-en", "/console/scripts?status=approved"),
                       ("22d-dashboard-en", "/console/dashboard"),
                       ("22e-overdue-task-en", f"/console/tasks/{overdue_task}")]:
        page.goto(base + path)
        assert "Stores" in page.locator("header nav").inner_text(), path
        camera.shoot(page, name)
    task_id = make.task_id(campaign_id, w.s1)
    page.goto(f"{base}/console/tasks/{task_id}")
    assert "open → claimed" in page.locator("#history").inner_text()
    camera.shoot(page, "23-task-history-en")
    other_language(hq, base, "zh_CN")
    page = watch(hq.new_page())
    for name, path in [("24-targeting-zh", f"/console/campaigns/{campaign_id}/targeting"),
                       ("25-store-edit-zh", "/console/stores/S101/edit"),
                       ("26-user-edit-zh", "/console/users/clerk_s101_1/edit")]:
        page.goto(base + path)
        assert "门店" in page.locator("header nav").inner_text(), path
        camera.shoot(page, name)
    assert blocked == []
    for context in (hq, supervisor):
        context.close()
    print(f"\nconsole v2 screenshots ({backend}): {camera.folder}")
    assert len(camera.taken) == 37
