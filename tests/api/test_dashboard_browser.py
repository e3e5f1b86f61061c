"""The dashboard in a real headless Chromium (Debian's, driven by Playwright): log in with the
token, see a position appear after a fill, press pause, see entries stop. Takes the page's
screenshot into the test's own folder; with TRADEWIND_UPDATE_DOCS_IMG=1 it becomes the docs'
screenshot, docs/img/dashboard.png (a test run leaves the checkout as it found it)."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.api.conftest import PaperHost
from tests.host_config import INSTRUMENT

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DOCS_IMG = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"


@pytest.fixture
def browser():
    assert Path(CHROMIUM).exists(), "install Debian's chromium (.ci/run does)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


def test_log_in_see_a_position_after_a_fill_pause_and_see_entries_stop(browser, tmp_path):
    host = PaperHost(tmp_path, speed=20.0)
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        external: list[str] = []
        page.on(
            "request",
            lambda r: (
                None
                if r.url.startswith(host.url) or r.url.startswith(f"ws://127.0.0.1:{host.port}")
                else external.append(r.url)
            ),
        )
        page.goto(host.url + "/")
        # Without the token the page is its login form (and the answer was a 401).
        expect(page.locator("#login-form")).to_be_visible()
        page.fill("#token", "not-the-token-at-all")
        page.click("#login-form button")
        expect(page.locator("#login-error")).to_have_text("The token was refused.")
        page.fill("#token", host.token)
        page.click("#login-form button")
        expect(page.locator("#main")).to_be_visible()

        # A fill opens a position: it appears with its unrealised P&L, and in the fills.
        row = page.locator("#positions tbody tr").first
        expect(row).to_contain_text(INSTRUMENT, timeout=30_000)
        expect(row.locator("td.pnl")).not_to_have_text("")
        expect(page.locator("#fills tbody tr").first).to_contain_text(INSTRUMENT)
        expect(page.locator("#state")).to_have_text("running")

        # Pause: the badge says so, the open position is closed by its exit monitor, and no
        # new entry comes while the replay runs on.
        page.click("#pause")
        expect(page.locator("#state")).to_have_text("paused")
        paused_at = host.get("/api/v1/health")["last_process_ts"] * 1000
        expect(page.locator("#positions tbody tr")).to_have_count(0, timeout=40_000)
        orders_after_pause = page.locator("#funnel tbody").inner_text()
        time.sleep(6)  # three more 1m decision points at speed 20
        expect(page.locator("#positions tbody tr")).to_have_count(0)
        assert page.locator("#funnel tbody").inner_text() == orders_after_pause
        trades = host.get("/api/v1/trades")["trades"]
        assert all(t["open_timestamp"] <= paused_at for t in trades)
        assert host.get("/api/v1/health")["last_process_ts"] * 1000 - paused_at >= 3 * 60_000

        # Resume, watch the instrument for a day, let a position open, take the screenshot.
        status, _ = host.request(
            "POST",
            "/api/v1/watchlist/add",
            {"exchange": "sim", "market_type": "perp", "symbol": "BTCUSDT", "priority": 1},
        )
        assert status == 200
        page.click("#resume")
        expect(page.locator("#state")).to_have_text("running")
        expect(page.locator("#positions tbody tr").first).to_contain_text(
            INSTRUMENT, timeout=30_000
        )
        expect(page.locator("#signals tbody tr").first).to_be_visible()
        expect(page.locator("#vetoes tbody tr").first).to_be_visible()
        expect(page.locator("#watchlist tbody tr").first).to_contain_text("23 h")
        shot = tmp_path / "dashboard.png"
        page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 20_000
        if os.environ.get("TRADEWIND_UPDATE_DOCS_IMG") == "1":
            shutil.copyfile(shot, DOCS_IMG)
        assert external == []  # nothing loaded from anywhere but the host
    finally:
        host.stop()
