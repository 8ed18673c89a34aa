"""The campaign impact page in a real browser (Debian's Chromium through Playwright), on the
simulated Double-11, on SQLite and PostgreSQL: HQ in Chinese, a supervisor in English.
Screenshots land in test-artifacts/screenshots/<database>-impact/."""

from __future__ import annotations

from pathlib import Path

from backend import db
from backend.analytics.impact import campaign_impact
from backend.org.models import User
from seed.demo import ADMIN_PASSWORD, DEMO_PASSWORD
from seed.double11 import seed_double11
from sqlalchemy import select
from tests.backend.console.test_console_browser import LAPTOP, TABLET, Camera
from tests.browser import SCREENSHOTS, chromium, playwright  # noqa: F401  (fixtures)
from tests.live_server import live_server  # noqa: F401  (the fixture)

STORES = 40  # 8 a region: 20 targeted, 20 control


def _sign_in(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/console/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("form[action$='/console/login'] button[type=submit]")
    page.wait_for_load_state("networkidle")


def _watch_csp(page) -> list[str]:
    blocked: list[str] = []
    page.on("console", lambda message: blocked.append(message.text)
            if "Content Security Policy" in message.text else None)
    return blocked


def test_impact_page_shows_the_report_with_charts_in_both_languages(app, live_server, chromium, database_url):
    base = live_server
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    camera = Camera(SCREENSHOTS / f"{backend}-impact")
    with app.app_context():
        session = db.new_session()
        _report, campaign_id, _truth = seed_double11(session, stores=STORES, progress=False)
        admin = session.scalar(select(User).where(User.username == "admin"))
        expected = campaign_impact(session=session, actor=admin, campaign_id=campaign_id)
        session.close()
    days = len(expected["timeline"])

    hq = chromium.new_context(locale="zh-CN", viewport=LAPTOP)
    page = hq.new_page()
    blocked = _watch_csp(page)
    _sign_in(page, base, "admin", ADMIN_PASSWORD)
    page.goto(f"{base}/console/campaigns/{campaign_id}/impact")
    assert "活动成效" in page.locator("h1").inner_text()
    uplift = expected["attach"]["uplift_did"] * 100
    assert page.locator("[data-figure=attach-uplift]").inner_text() == f"{uplift:+.1f}"
    low, high = (value * 100 for value in expected["attach"]["ci95"])
    assert page.locator("[data-figure=attach-ci]").inner_text() == f"[{low:+.1f}, {high:+.1f}]"
    assert "季节" in page.locator("[data-figure=naive]").inner_text()
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-attach') && Chart.getChart('chart-units')")
    series = page.evaluate("Chart.getChart('chart-attach').data.datasets.map(d => d.data.length)")
    assert series == [days, days]
    assert page.evaluate("Chart.getChart('chart-attach').data.datasets.map(d => d.label)") == ["活动门店", "对照门店"]
    assert page.locator("#impact-stores tbody tr").count() == STORES
    assert page.locator("[data-rule=same_regions]").count() == 1
    camera.shoot(page, "01-impact-hq-zh")
    with page.expect_download() as download:
        page.click(f"a[href*='/console/campaigns/{campaign_id}/impact?format=csv']")
    lines = Path(download.value.path()).read_text().splitlines()
    assert lines[0].startswith("store,region,group") and len(lines) == STORES + 1
    assert blocked == []

    supervisor = chromium.new_context(locale="en-US", viewport=LAPTOP)
    page = supervisor.new_page()
    blocked = _watch_csp(page)
    _sign_in(page, base, "sup_east", DEMO_PASSWORD)
    page.goto(f"{base}/console/campaigns/{campaign_id}/impact")
    assert "Campaign impact" in page.locator("h1").inner_text()
    regions = set(page.locator("#impact-stores tbody tr td:nth-child(2)").all_inner_texts())
    assert regions == {"EAST"}
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-units')")
    assert "Targeted stores" in page.evaluate("Chart.getChart('chart-units').data.datasets[0].label")
    camera.shoot(page, "02-impact-supervisor-en")
    assert blocked == []

    tablet = chromium.new_context(locale="zh-CN", viewport=TABLET, is_mobile=True, has_touch=True,
                                  storage_state=hq.storage_state())
    page = tablet.new_page()
    page.goto(f"{base}/console/campaigns/{campaign_id}/impact")
    page.wait_for_function("() => window.Chart && Chart.getChart('chart-attach')")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    camera.shoot(page, "03-impact-tablet-zh")
    for context in (hq, supervisor, tablet):
        context.close()
    print(f"\nimpact screenshots ({backend}): {camera.folder}")
