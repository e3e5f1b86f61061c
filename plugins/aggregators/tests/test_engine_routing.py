"""The engine routes a paper run's DEX orders through the best-execution router.

The paper run of the EVM venue (test_evm_paper_run.py: the orderflow-scalper preset on the
local chain's Uniswap V3 pool, a scripted trader making the market) with ``[aggregators.*]``
configured: its entry and its exit are market orders on a venue declaring ``swap:evm``, so
the order manager sends them through the router. Two local aggregator servers answer: 0x,
whose transaction calls the real V3 SwapRouter on the same pool and declares the least gas
(so its net quote wins), and 1inch, which answers HTTP 500 (a failure, journaled). The
venue's own pool quotes too (``direct``, through SwapRouter02). The journal's ``quotes``
table shows what each offered for both orders and what the winner realised on chain.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from typing import Any

import anyio
import duckdb
from agg_servers import AggServer, Backend, Behaviour, serve
from agg_setup import KEY_ENV, TEST_KEY
from evm_chain import CHAIN_ID
from evm_scenario import MINUTE, Script, write_config
from tradewind.config import load_config
from tradewind.trading.engine import Engine

D = Decimal


def _rows(con: duckdb.DuckDBPyConnection, sql: str, *args: Any) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(args))
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _aggregator_tables(servers: dict[str, AggServer], backend: Backend) -> str:
    out = []
    for key, server in servers.items():
        venue = server.b.venue
        out.append(
            f'[aggregators.{key}]\nplugin = "{key}"\napi_key = "env:{KEY_ENV}"\n'
            f'base_url = "{server.url}"\nchains = [{CHAIN_ID}]\ntimeout_s = 3.0\n'
            f"max_retries = 0\n"
            f'routers = {{ "{CHAIN_ID}" = [{{ address = "{backend.router(venue)}", '
            f'family = "{backend.family(venue)}" }}] }}\n'
        )
    out.append(f'[routing]\ndeadline_s = 3.0\n[routing.chains.{CHAIN_ID}]\nmode = "best"\n')
    return "\n".join(out)


def test_a_paper_runs_entry_and_exit_are_routed_and_every_quote_journaled(
    agg_chain, tmp_path, monkeypatch
):
    evm = agg_chain
    monkeypatch.setenv(KEY_ENV, TEST_KEY)
    evm.fund(evm.wallet, D(0), D(10_000))
    evm.fund(evm.trader, D(60), D(200_000))
    for token in (evm.d.weth, evm.d.usd):
        evm.send(evm.erc20(token).functions.approve(evm.d.swap_router, 2**256 - 1), evm.trader)
    latest = evm.w3.eth.get_block("latest")["timestamp"]
    t0 = (latest // (15 * MINUTE) + 1) * 15 * MINUTE
    until_block = evm.w3.eth.block_number + 400
    backend = Backend(evm)
    servers = {
        "zeroex": AggServer("zeroex", backend, Behaviour(venue="v3", gas=100_000)),
        "oneinch": AggServer("oneinch", backend, Behaviour(venue="v3", fail="500")),
    }
    state: dict[str, Any] = {}

    async def run() -> None:
        async with contextlib.AsyncExitStack() as stack:
            for s in servers.values():
                await stack.enter_async_context(serve(s))
            path = write_config(tmp_path, evm, until_block)
            with path.open("a", encoding="utf-8") as f:
                f.write("\n" + _aggregator_tables(servers, backend))
            engine = state["engine"] = Engine(load_config(path))
            script = state["script"] = Script(evm, engine, t0, until_block)
            script.start()
            try:
                state["result"] = await engine.run()
            finally:
                with anyio.CancelScope(shield=True):
                    for venue in engine.venues.values():
                        await venue.close()

    anyio.run(run)
    script = state["script"]
    script.join(30)
    assert script.error is None, repr(script.error)

    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        orders = _rows(con, "SELECT * FROM orders ORDER BY id_seq")
        assert [(o["side"], o["status"]) for o in orders] == [("buy", "filled"), ("sell", "filled")]
        fills = {f["client_order_id"]: f for f in _rows(con, "SELECT * FROM fills")}
        quotes = _rows(con, "SELECT * FROM quotes ORDER BY client_order_id, rank")
        for order in orders:
            cid = order["client_order_id"]
            mine = {q["aggregator"]: q for q in quotes if q["client_order_id"] == cid}
            # Every source was asked: the two aggregators and the venue's own pool.
            assert set(mine) == {"zeroex", "oneinch", "direct"}
            assert mine["oneinch"]["status"] == "failed"
            assert "500" in mine["oneinch"]["error"]
            assert mine["oneinch"]["buy_amount"] is None
            # Both quoted the same pool; 0x declared less gas, so its net output is higher.
            assert int(mine["zeroex"]["gas"]) < int(mine["direct"]["gas"])
            assert int(mine["zeroex"]["net_out"]) > int(mine["direct"]["net_out"])
            assert mine["zeroex"]["rank"] == 1 and mine["zeroex"]["status"] == "filled"
            assert mine["direct"]["status"] == "not_tried"
            # What was realised is the fill, and the transaction called 0x's router.
            receipt = evm.w3.eth.get_transaction_receipt(mine["zeroex"]["tx_hash"])
            assert receipt["status"] == 1
            assert receipt["to"].lower() == evm.d.swap_router.lower()
            fill = fills[cid]
            assert fill["trade_id"] == mine["zeroex"]["tx_hash"]
            realised = int(mine["zeroex"]["realised_out"])
            qty, price = D(fill["quantity"]), D(fill["price"])
            if order["side"] == "buy":
                assert realised == int(qty.scaleb(18))
            else:
                assert realised == int((qty * price).quantize(D(1).scaleb(-18)).scaleb(18))
            assert realised >= int(mine["zeroex"]["min_buy_amount"])
        # Spot: the exit sold exactly what the routed entry bought.
        (buy_cid, sell_cid) = (o["client_order_id"] for o in orders)
        assert D(fills[sell_cid]["quantity"]) == D(fills[buy_cid]["quantity"])
        won = [q for q in quotes if q["aggregator"] == "zeroex"]
        shortfall = sum(
            (D(q["buy_amount"]) - D(q["realised_out"])) / D(q["buy_amount"]) * 10_000 for q in won
        ) / len(won)
    finally:
        con.close()

    # The report's execution quality section, in the text summary and the HTML page.
    from rich.console import Console
    from tradewind.report.html import render_html
    from tradewind.report.summary import print_summary

    result = state["result"]
    console = Console(record=True, width=140)
    print_summary(result, console)
    text = console.export_text()
    assert "Execution quality (per aggregator)" in text
    cells = [ln.replace("│", " ").split() for ln in text.splitlines()]
    lines = {c[0]: c[1:] for c in cells if c and c[0] in ("zeroex", "oneinch", "direct")}
    assert lines["zeroex"] == ["2", "2", "0", "0", f"{shortfall:.2f}"]
    assert lines["oneinch"] == ["0", "0", "2", "0", "-"]
    assert lines["direct"] == ["2", "0", "0", "0", "-"]
    page = render_html(result)
    assert "<section id='execution-quality'>" in page
    assert (
        "<tr data-aggregator='zeroex'><td>zeroex</td><td class='num'>2</td>"
        f"<td class='num'>2</td><td class='num'>0</td><td class='num'>0</td>"
        f"<td class='num'>{shortfall:.2f}</td></tr>"
    ) in page
