"""Headless Chromium for the browser tests: Debian's /usr/bin/chromium driven by Playwright (no
browser download). A missing piece is a loud skip on a developer's machine and a failure in CI.

A test module opts in with `from tests.browser import chromium, playwright  # noqa: F401`; a module
that needs more than the browser (the clerk app's build) overrides `playwright` with
`playwright_or_skip(also=...)`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.paths import ROOT

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"


def playwright_or_skip(also: dict[Path, str] | None = None):
    """Playwright's sync API, or a skip (a failure under CI=true) naming what is missing:
    Playwright, Chromium, or a file of ``also`` (path → what to do about it)."""
    message = None
    try:
        from playwright import sync_api
    except ImportError:  # pragma: no cover - requirements-dev.txt installs it
        message = "playwright is not installed (pip install -r requirements-dev.txt)"
    if message is None and not CHROMIUM.exists():
        message = "Chromium is NOT installed: the browser tests are skipped (apt-get install chromium)"
    for path, advice in (also or {}).items():
        if message is None and not path.exists():
            message = advice
    if message:
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return sync_api


@pytest.fixture
def playwright():
    with playwright_or_skip().sync_playwright() as session:
        yield session


@pytest.fixture
def chromium(playwright) -> Iterator:
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
