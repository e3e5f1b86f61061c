"""The report in a real headless Chromium: it renders offline, the candlestick chart is there,
and hovering a fill marker shows the order's reason. Takes the screenshot into the run's own
folder; with TRADEWIND_UPDATE_DOCS_IMG=1 it becomes docs/img/report.png (a test run leaves the
checkout as it found it)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import anyio
import pytest
from playwright.sync_api import sync_playwright
from tradewind.config import load_config
from tradewind.report.metrics import write_report
from tradewind.trading.engine import Engine

from tests.test_engine import demo_config_text

REPO = Path(__file__).resolve().parents[2]
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

# Pixel position of the first point of the named trace, relative to the page.
POINT_JS = """([div, name]) => {
  const gd = document.getElementById(div);
  const t = gd.data.findIndex(d => d.name === name);
  if (t < 0) return null;
  const fl = gd._fullLayout, xa = fl.xaxis, ya = fl.yaxis;
  const x = gd.data[t].x[0], y = gd.data[t].y[0];
  const box = gd.getBoundingClientRect();
  return {
    x: box.left + xa._offset + xa.l2p(xa.d2l(x)),
    y: box.top + ya._offset + ya.l2p(ya.d2l(y)),
    reason: gd.data[t].customdata[0],
  };
}"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("report")
    path = tmp / "demo.toml"
    path.write_text(demo_config_text(tmp), encoding="utf-8")
    result = anyio.run(Engine(load_config(path), run_id="browser").run)
    _, html_path = write_report(result, tmp / "reports")
    return result, html_path


def test_the_report_opens_offline_and_a_fill_marker_tells_its_reason(report):
    result, html_path = report
    exits = {cid: tag for cid, tag in result.order_tags.items() if tag != "entry"}
    assert exits, "the sample run closes a trade"
    requested: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})

        def block(route):  # the page must need nothing but itself
            requested.append(route.request.url)
            route.abort()

        page.route("http*://**", block)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(html_path.as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        assert errors == [] and requested == []

        # The candlestick chart: a plotly chart whose first trace is the candles.
        chart = page.locator("#chart-price-0.js-plotly-plot")
        assert chart.count() == 1
        kinds = page.evaluate("document.getElementById('chart-price-0').data.map(d => d.type)")
        assert kinds[:2] == ["candlestick", "bar"]  # candles, then volume
        n_candles = page.evaluate("document.getElementById('chart-price-0').data[0].x.length")
        assert n_candles == len(result.candles["sim:BTCUSDT"])
        assert page.locator("#chart-price-0 .boxlayer path").count() > 0  # drawn

        # Hover the exit marker: the hover label shows the exit reason of its order.
        names = page.evaluate("document.getElementById('chart-price-0').data.map(d => d.name)")
        exit_trace = next(n for n in names if n.startswith("exits: "))
        point = page.evaluate(POINT_JS, ["chart-price-0", exit_trace])
        assert point["reason"] in exits.values()
        page.mouse.move(point["x"], point["y"])
        label = page.locator("#chart-price-0 .hoverlayer .hovertext")
        label.first.wait_for(timeout=10_000)
        text = label.first.text_content() or ""
        assert f"reason: {point['reason']}" in text

        # The trades table sorts by a column click.
        page.locator("#trades-table th", has_text="P&L (net)").click()
        assert page.locator("#trades-table th[aria-sort='ascending']").count() == 1

        shot = html_path.parent / "report.png"
        page.evaluate("window.scrollTo(0, 0)")
        page.mouse.move(point["x"], point["y"])
        label.first.wait_for(timeout=10_000)
        page.screenshot(path=str(shot), clip=_clip(page))
        browser.close()
    assert shot.stat().st_size > 20_000
    if os.environ.get("TRADEWIND_UPDATE_DOCS_IMG") == "1":
        shutil.copyfile(shot, REPO / "docs" / "img" / "report.png")


def _clip(page) -> dict[str, float]:
    """The header, the cards and the price chart, with the hover label showing."""
    box = page.locator("#chart-price").bounding_box()
    assert box is not None
    return {"x": 0, "y": 0, "width": 1280, "height": box["y"] + box["height"]}


def test_the_trades_table_sorts_by_the_clicked_column(tmp_path):
    from tests.test_report import HAND

    _, html_path = write_report(HAND, tmp_path)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page()
        page.route("http*://**", lambda route: route.abort())
        page.goto(html_path.as_uri())
        page.wait_for_selector("body[data-ready='1']", timeout=60_000)
        cells = "#trades-table tbody tr td:nth-child(6)"  # exit price
        assert page.locator(cells).all_text_contents() == ["101", "100.5", "51"]  # by exit time
        header = page.locator("#trades-table th", has_text="exit price")
        header.click()
        assert page.locator(cells).all_text_contents() == ["51", "100.5", "101"]
        header.click()
        assert page.locator(cells).all_text_contents() == ["101", "100.5", "51"]
        page.locator("#trades-table th", has_text="instrument").click()
        assert page.locator("#trades-table tbody tr td:nth-child(1)").all_text_contents() == [
            "sim:A", "sim:A", "sim:B",
        ]  # fmt: skip
        browser.close()
