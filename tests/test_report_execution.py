"""The report's execution quality section from a journal's ``quotes`` table: per aggregator,
quotes won, failures (errors and failed sends), refusals and the mean shortfall between the
quoted and the realised output, in the text summary's table and the HTML section."""

from __future__ import annotations

from decimal import Decimal

from rich.console import Console
from tradewind.execution import Considered, SwapQuote, SwapRequest
from tradewind.journal.store import Journal
from tradewind.report.execution import quality_html, quality_of, quality_table

WETH, USD, WALLET = "0x" + "44" * 20, "0x" + "55" * 20, "0x" + "11" * 20


def _request(cid: str) -> SwapRequest:
    return SwapRequest(
        client_order_id=cid,
        chain_id=1,
        sell_token=WETH,
        buy_token=USD,
        sell_amount=10**18,
        wallet=WALLET,
    )


def _quote(name: str, out: int) -> SwapQuote:
    return SwapQuote(
        aggregator=name,
        chain_id=1,
        sell_token=WETH,
        buy_token=USD,
        sell_amount=10**18,
        buy_amount=out,
        min_buy_amount=out * 99 // 100,
        gas=100_000,
    )


def _journal(tmp_path) -> str:
    path = tmp_path / "journal.duckdb"
    j = Journal(path, "run-q", durable=True)
    rows = [
        # order 1: a wins 2000 quoted, realises 1999 (5 bps short); b quoted less; c failed.
        ("o1", Considered("a", _quote("a", 2000), status="filled", realised_out=1999)),
        ("o1", Considered("b", _quote("b", 1990), status="not_tried")),
        ("o1", Considered("c", error="HTTP 500", status="failed")),
        # order 2: a is refused (unsafe), b wins 1000 quoted and realises 1000; c's send fails.
        ("o2", Considered("a", _quote("a", 1010), status="refused", error="pays 0xdead")),
        ("o2", Considered("c", _quote("c", 1005), status="send_failed", error="nonce")),
        ("o2", Considered("b", _quote("b", 1000), status="filled", realised_out=1000)),
        # order 3: a wins 4000 quoted, realises 3996 (10 bps short).
        ("o3", Considered("a", _quote("a", 4000), status="filled", realised_out=3996)),
    ]
    for cid, c in rows:
        j.record_quote(_request(cid), c, ts_ns=1)
    j.close()
    return str(path)


def test_each_aggregators_wins_failures_refusals_and_mean_shortfall(tmp_path):
    path = _journal(tmp_path)
    rows = {r.aggregator: r for r in quality_of(path, "run-q")}
    assert (rows["a"].quotes, rows["a"].won, rows["a"].failed, rows["a"].refused) == (3, 2, 0, 1)
    assert rows["a"].mean_shortfall_bps == Decimal("7.5")  # (5 + 10) / 2
    assert (rows["b"].quotes, rows["b"].won, rows["b"].failed) == (2, 1, 0)
    assert rows["b"].mean_shortfall_bps == 0
    assert (rows["c"].quotes, rows["c"].won, rows["c"].failed) == (1, 0, 2)
    assert rows["c"].mean_shortfall_bps is None
    assert quality_of(path, "another-run") == []


def test_the_text_and_html_sections_show_the_figures(tmp_path):
    rows = quality_of(_journal(tmp_path), "run-q")
    console = Console(record=True, width=140)
    console.print(quality_table(rows))
    cells = [ln.replace("│", " ").split() for ln in console.export_text().splitlines()]
    by_name = {c[0]: c[1:] for c in cells if c and c[0] in ("a", "b", "c")}
    assert by_name == {
        "a": ["3", "2", "0", "1", "7.50"],
        "b": ["2", "1", "0", "0", "0.00"],
        "c": ["1", "0", "2", "0", "-"],
    }
    page = quality_html(rows)
    assert page.startswith("<section id='execution-quality'><h2>Execution quality</h2>")
    assert (
        "<tr data-aggregator='a'><td>a</td><td class='num'>3</td><td class='num'>2</td>"
        "<td class='num'>0</td><td class='num'>1</td><td class='num'>7.50</td></tr>"
    ) in page


def test_no_section_without_routed_orders(tmp_path):
    assert quality_of(None, "r") == [] and quality_of(tmp_path / "missing.duckdb", "r") == []
    assert quality_html([]) == ""
