"""The clerk app (/app/) in a real browser: Debian's Chromium driven by Playwright against the real
app on a loopback port, on SQLite and PostgreSQL.

- the fake camera shows a task's real QR code (a y4m video made here from the server's QR PNG)
  and the app claims that task;
- offline work (checklist, sales, a note, a photo, submit) survives a reload of the page (the
  service worker serves the shell, IndexedDB keeps the queue) and reaches the server once online;
- two phones claim one single-claimant task offline: one wins, the other is told who;
- HQ publishes while the phone is open: the task and its notification appear without a reload.

Screenshots (a 360 px wide phone) land in test-artifacts/screenshots/app-<database>/.
"""

from __future__ import annotations

import hashlib
import io
import os
import re

import pytest
import requests
from sqlalchemy import select

from tests.browser import CHROMIUM, CHROMIUM_ARGS, SCREENSHOTS, chromium, playwright_or_skip  # noqa: F401
from tests.factories import PASSWORD
from tests.live_server import live_server  # noqa: F401  (the fixture)
from tests.backend.console.test_console_browser import sign_in as console_sign_in
from tests.paths import ROOT

APP_BUILD = ROOT / "clients" / "app" / "dist" / "index.html"
PHONE = {"width": 360, "height": 740}
SYNCED = "[data-testid=netbar][data-pending='0'][data-syncing='false']"


@pytest.fixture
def playwright():
    """The browser, and the clerk app built (`make app`; make test builds it)."""
    also = {APP_BUILD: "The clerk app is NOT built: run `make app` (make test builds it)"}
    with playwright_or_skip(also=also).sync_playwright() as session:
        yield session


@pytest.fixture
def shots(database_url):
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    folder = SCREENSHOTS / f"app-{backend}"
    folder.mkdir(parents=True, exist_ok=True)

    def shoot(page, name: str) -> None:
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    return shoot


def api(base: str, method: str, path: str, headers: dict | None = None, **kwargs):
    return requests.request(method, f"{base}/api/v1{path}", headers=headers or {}, timeout=30, **kwargs)


def qr_token(base: str, w, task_id: int) -> str:
    answer = api(base, "GET", f"/tasks/{task_id}/qr", w.h["admin"])
    assert answer.status_code == 200, answer.text
    return answer.json()["token"]


def server_task(base: str, w, task_id: int) -> dict:
    answer = api(base, "GET", f"/tasks/{task_id}", w.h["admin"])
    assert answer.status_code == 200, answer.text
    return answer.json()


def phone(browser, base: str, username: str, locale: str = "en-US"):
    """A phone-sized browser context signed in to the app, its first sync done, the shell cached."""
    context = browser.new_context(viewport=PHONE, locale=locale, permissions=["camera"],
                                  is_mobile=True, has_touch=True)
    page = context.new_page()
    page.csp_violations = []  # the app runs under the /app/ Content-Security-Policy
    page.on("console", lambda message: "Content Security Policy" in message.text
            and page.csp_violations.append(message.text))
    page.goto(f"{base}/app/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("form.login button[type=submit]")
    page.wait_for_selector("[data-testid=task-card]")
    page.wait_for_selector(SYNCED)
    # the service worker controls the page once it has cached the shell: offline reloads work
    page.wait_for_function("navigator.serviceWorker.controller !== null", timeout=15_000)
    return context, page


def open_task(page, task_id: int) -> None:
    page.evaluate(f"location.hash = '#/task/{task_id}'")
    page.wait_for_selector(f"[data-testid=task-detail][data-task-id='{task_id}']")


def type_code(page, code: str) -> None:
    page.evaluate("location.hash = '#/scan'")
    page.fill("[data-testid=code-input]", code)
    page.click("[data-testid=claim-code]")


def waiting(page) -> int:
    return int(page.get_attribute("[data-testid=netbar]", "data-pending"))


def y4m_of(png: bytes, width: int = 640, height: int = 480, frames: int = 3) -> bytes:
    """A YUV4MPEG2 (4:2:0) video showing the QR image centred on white: Chromium's fake camera."""
    from PIL import Image

    code = Image.open(io.BytesIO(png)).convert("L")
    side = min(width, height) - 80
    code = code.resize((side, side), Image.NEAREST)
    canvas = Image.new("L", (width, height), 255)
    canvas.paste(code, ((width - side) // 2, (height - side) // 2))
    luma = canvas.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    frame = b"FRAME\n" + luma + chroma + chroma
    return f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode() + frame * frames


def test_app_is_served_with_its_shell(live_server):  # noqa: F811
    base = live_server
    if not APP_BUILD.exists():
        pytest.skip("The clerk app is NOT built: run `make app`")
    page = requests.get(f"{base}/app/", timeout=10)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-cache"
    scripts = re.findall(r'src="\./(assets/main-[^"]+\.js)"', page.text)
    assert scripts, page.text
    script = requests.get(f"{base}/app/{scripts[0]}", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    assert "immutable" in script.headers["Cache-Control"]
    worker = requests.get(f"{base}/app/sw.js", timeout=10)
    assert worker.headers["Service-Worker-Allowed"] == "/app/"
    assert "/api/" not in re.sub(r"//.*", "", worker.text)  # the worker never caches API answers
    manifest = requests.get(f"{base}/app/manifest.webmanifest", timeout=10)
    assert manifest.headers["Content-Type"].startswith("application/manifest+json")
    icons = {icon["sizes"] for icon in manifest.json()["icons"]}
    assert {"192x192", "512x512"} <= icons
    icon = requests.get(f"{base}/app/icon-192.png", timeout=10)
    assert icon.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert requests.get(f"{base}/app", timeout=10, allow_redirects=False).status_code == 308
    assert requests.get(f"{base}/app/nope.js", timeout=10).status_code == 404


def test_fake_camera_shows_a_task_code_and_the_app_claims_it(make, live_server, playwright, shots):  # noqa: F811
    base = live_server
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Display")
    png = api(base, "GET", f"/tasks/{task_id}/qr.png", w.h["admin"])
    assert png.status_code == 200
    video = SCREENSHOTS.parent / f"fake-camera-{os.getpid()}-{task_id}.y4m"
    video.parent.mkdir(parents=True, exist_ok=True)
    video.write_bytes(y4m_of(png.content))
    browser = playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True,
        args=CHROMIUM_ARGS + ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                              f"--use-file-for-fake-video-capture={video}"])
    try:
        context, page = phone(browser, base, "clerk1")
        shots(page, "01-tasks")
        # installable: Chromium finds the manifest, icons and service worker it needs
        installability = context.new_cdp_session(page).send("Page.getInstallabilityErrors")
        print("installability:", installability)
        assert [e["errorId"] for e in installability["installabilityErrors"]
                if e["errorId"] != "in-incognito"] == []
        page.click("nav.bottom a[href='#/scan']")
        page.wait_for_selector("[data-testid=camera][data-scanning=true]")
        # the decoder reads the code from the camera, the claim is pushed, the task opens
        page.wait_for_selector(f"[data-testid=task-detail][data-task-id='{task_id}']", timeout=20_000)
        page.wait_for_selector(SYNCED)
        shots(page, "02-claimed-by-camera")
        held = server_task(base, w, task_id)
        assert held["status"] == "claimed"
        assert [c["username"] for c in held["claimants"]] == ["clerk1"]
        assert page.inner_text("[data-testid=task-detail] [data-testid=status]") == "claimed"
        assert page.csp_violations == []
        context.close()
    finally:
        browser.close()
        video.unlink(missing_ok=True)


def test_offline_work_survives_a_reload_and_reaches_the_server(make, live_server, chromium, shots):  # noqa: F811
    base = live_server
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Display")
    context, page = phone(chromium, base, "clerk1")
    type_code(page, qr_token(base, w, task_id))  # a code typed in full works like a scan
    page.wait_for_selector(f"[data-testid=task-detail][data-task-id='{task_id}']")
    page.wait_for_selector(SYNCED)
    assert server_task(base, w, task_id)["status"] == "claimed"

    context.set_offline(True)
    page.wait_for_selector("[data-testid=netbar][data-online=false]")
    page.click("[data-testid=start]")
    page.check("input[data-item=shelf]")
    page.check("input[data-item=poster]")
    page.fill("[data-testid=sale-form] input[type=number]", "3")
    page.click("[data-testid=sale-form] button[type=submit]")
    page.fill("textarea[name=note]", "End-cap built, 货架已摆好")
    page.click("text=Add note")
    photo = _test_photo()
    page.set_input_files("[data-testid=photo-input]",
                         files=[{"name": "shelf.png", "mimeType": "image/png", "buffer": photo}])
    page.wait_for_selector("[data-testid=photo]")
    page.click("[data-testid=submit]")
    page.wait_for_selector("[data-testid=task-detail] [data-testid=status]:has-text('submitted')")
    page.wait_for_selector("[data-testid=netbar][data-pending='7']")  # the queue stored them all
    queued = waiting(page)
    assert queued == 7  # start, 2 ticks, sale, note, photo, submit
    shots(page, "03-offline-work")

    # A busy phone paints late: with animation frames held back, Preact runs its effects only after
    # its 100 ms fallback, and IndexedDB answers first. The app must still boot (it once stayed on
    # its boot line: the screen subscribed to the data layer after the boot had already finished).
    context.add_init_script("window.requestAnimationFrame = () => 0;")
    page.reload()  # offline: the service worker serves the shell, IndexedDB the queue
    page.wait_for_selector(f"[data-testid=task-detail][data-task-id='{task_id}']")
    assert waiting(page) == queued
    assert page.inner_text("[data-testid=task-detail] [data-testid=status]") == "submitted"
    assert page.locator("[data-testid=note]").filter(has_text="货架已摆好").count() == 1
    shots(page, "04-offline-after-reload")
    assert server_task(base, w, task_id)["status"] == "claimed"  # nothing reached the server yet

    context.set_offline(False)
    page.wait_for_selector(SYNCED, timeout=20_000)
    held = server_task(base, w, task_id)
    assert held["status"] == "submitted"
    assert {item: state["done"] for item, state in held["checklist"].items()} == {"shelf": True, "poster": True}
    assert held["sales"] == {"LIP-01": 3}
    assert [note["text"] for note in held["notes"]] == ["End-cap built, 货架已摆好"]
    assert [p["sha256"] for p in held["photos"]] == [hashlib.sha256(photo).hexdigest()]
    stored = api(base, "GET", f"/blobs/{held['photos'][0]['sha256']}", w.h["clerk1"])
    assert stored.status_code == 200 and stored.content == photo
    # the app shows the server's state: nothing waiting, the server's note with its time
    assert page.locator("[data-testid=task-detail] [data-testid=waiting]").count() == 0
    assert page.inner_text("[data-testid=task-detail] [data-testid=status]") == "submitted"
    assert page.locator("[data-testid=sale-count]").inner_text() == "3"
    page.wait_for_selector("[data-testid=photo] >> nth=0")
    shots(page, "05-synced")
    context.close()

    # ... and the store's supervisor finds the submission in the console's review queue
    console = chromium.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = console.new_page()
    console_sign_in(page, base, "sup_east")
    page.click("nav a[href$='/console/reviews']")
    row = page.locator(f"tr[data-task='{task_id}']")
    assert "Display" in row.inner_text()
    row.locator("a[role=button]").click()
    page.wait_for_load_state("networkidle")
    assert "货架已摆好" in page.locator("main").inner_text()
    assert page.locator(".photos img").count() == 1
    shots(page, "06-supervisor-review")
    console.close()


def test_two_phones_claim_one_task_offline_and_the_loser_is_told_who_won(make, live_server, chromium, shots):  # noqa: F811
    base = live_server
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Display")  # max_claimants 1
    printed = api(base, "GET", f"/tasks/{task_id}/qr", w.h["admin"]).json()
    (first, first_page), (second, second_page) = phone(chromium, base, "clerk1"), phone(chromium, base, "clerk1b", "zh-CN")
    # the first phone scans (types the token), the second types the short code printed under the QR
    for context, page, code in ((first, first_page, printed["token"]),
                                (second, second_page, printed["short_code"].lower())):
        context.set_offline(True)
        page.wait_for_selector("[data-testid=netbar][data-online=false]")
        type_code(page, code)
        page.wait_for_selector(f"[data-testid=task-detail][data-task-id='{task_id}']")
        assert waiting(page) == 1
    shots(second_page, "06-second-phone-claims-offline")
    first.set_offline(False)
    first_page.wait_for_selector(SYNCED, timeout=20_000)
    second.set_offline(False)
    second_page.wait_for_selector(SYNCED, timeout=20_000)

    held = server_task(base, w, task_id)
    assert [c["username"] for c in held["claimants"]] == ["clerk1"]
    rejection = second_page.locator("[data-testid=rejection][data-error=task_already_claimed]")
    rejection.first.wait_for()
    assert "Clerk1" in rejection.first.inner_text()
    assert "clerk1b" not in second_page.inner_text("[data-testid=claimants]").lower()
    assert "已被他人领取" in rejection.first.inner_text()  # zh-CN: the browser's language
    shots(second_page, "07-loser-told-who-won")
    assert first_page.locator("[data-testid=rejection]").count() == 0
    first.close()
    second.close()


# The core flows above run on both databases; these run on PostgreSQL only (the production
# database) to keep the module quick: what they add is browser behaviour, not storage.
ONE_DATABASE = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@ONE_DATABASE
def test_a_rejected_submit_shows_the_servers_reasons_and_state(make, live_server, chromium, shots):  # noqa: F811
    base = live_server
    w = make.world()
    task_id = make.task_id(w.campaign.id, w.s1, "Display")  # needs both items ticked and a photo
    context, page = phone(chromium, base, "clerk1")
    type_code(page, qr_token(base, w, task_id))
    page.wait_for_selector(f"[data-testid=task-detail][data-task-id='{task_id}']")
    page.check("input[data-item=shelf]")
    page.click("[data-testid=submit]")
    rejection = page.locator("[data-testid=rejection][data-error=proof_missing]")
    rejection.wait_for(timeout=20_000)
    page.wait_for_selector(SYNCED)
    lines = rejection.locator("[data-testid=problems] li").all_inner_texts()
    assert any("poster" in line for line in lines) and any("photo" in line for line in lines), lines
    assert not any("shelf" in line for line in lines), lines
    # the optimistic "submitted" gave way to the server's state: claimed, shelf ticked
    assert page.inner_text("[data-testid=task-detail] [data-testid=status]") == "claimed"
    assert page.is_checked("input[data-item=shelf]") and not page.is_checked("input[data-item=poster]")
    held = server_task(base, w, task_id)
    assert held["status"] == "claimed" and held["checklist"]["shelf"]["done"] is True
    shots(page, "11-rejected-submit")
    context.close()


@ONE_DATABASE
def test_hq_publishes_and_the_phone_shows_it_without_a_reload(make, live_server, chromium, shots):  # noqa: F811
    from backend.tasks.models import StoreTask

    base = live_server
    w = make.world()
    context, page = phone(chromium, base, "clerk1")
    before = page.locator("[data-testid=task-card]").count()
    unread_before = page.locator("[data-testid=unread]").count() and int(page.inner_text("[data-testid=unread]"))
    campaign = make.campaign(w.admin, "LIVE1", tasks=[{"title": "Flash window display"}],
                             targeting={"regions": [], "stores": ["S001"], "tags": []})
    new_id = make.scalar(select(StoreTask.id).where(StoreTask.campaign_id == campaign.id))
    # the periodic pull (every 12 s while the app is open) brings it: no reload, no tap
    page.wait_for_selector(f"[data-testid=task-card][data-task-id='{new_id}']", timeout=30_000)
    assert page.locator("[data-testid=task-card]").count() == before + 1
    page.wait_for_function(f"Number(document.querySelector('[data-testid=unread]')?.textContent || 0) > {unread_before}",
                           timeout=30_000)
    shots(page, "08-hq-published-live")
    page.click("nav.bottom a[href='#/inbox']")
    page.wait_for_selector(f"[data-testid=notification][data-task-id='{new_id}']")
    shots(page, "09-inbox")
    context.close()


@ONE_DATABASE
def test_tips_show_the_pairings_and_script_and_count_feedback_once(make, live_server, chromium, shots):  # noqa: F811
    base = live_server
    w = make.world()
    text = "这款口红是我们的人气款，活动价 159 元，搭配 LIP-02 效果更好。"
    written = api(base, "POST", "/scripts", w.h["admin"],
                  json={"sku": "LIP-01", "locale": "zh-CN", "text": text, "campaign": w.campaign.id})
    assert written.status_code == 201, written.text
    script_id = written.json()["id"]
    context, page = phone(chromium, base, "clerk1", "zh-CN")
    page.click("nav.bottom a[href='#/tips']")
    tip = page.locator("[data-testid=recommendation][data-sku='LIP-01']")
    tip.wait_for()
    assert text in tip.inner_text()
    context.set_offline(True)  # feedback goes through the queue like every change
    tip.locator("button[data-outcome=used]").click()
    page.wait_for_selector("[data-testid=feedback-given]")
    # the bar counts the queue once the client has stored the mutation (after the optimistic mark)
    page.wait_for_selector("[data-testid=netbar][data-pending='1']")
    assert waiting(page) == 1
    context.set_offline(False)
    page.wait_for_selector(SYNCED, timeout=20_000)
    shots(page, "10-tips-feedback")
    ranked = api(base, "GET", "/scripts?sku=LIP-01&locale=zh-CN", w.h["clerk1"]).json()
    assert [(s["id"], s["uses"]) for s in ranked if s["id"] == script_id] == [(script_id, 1)]
    assert page.locator("[data-testid=rejection]").count() == 0
    context.close()


def _test_photo() -> bytes:
    """A small real PNG (a shelf-coloured gradient), as a phone camera would hand over."""
    from PIL import Image

    image = Image.new("RGB", (64, 48))
    image.putdata([(x * 4, y * 5, 120) for y in range(48) for x in range(64)])
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
