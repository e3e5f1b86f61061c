"""A paper run of the orderflow-scalper preset on the local chain's Uniswap V3 pool.

Everything is real: the host (``load_config`` + ``Engine.run``) streams the pool's Swap events
from anvil through this venue, builds 1m/5m/15m candles from them, runs the preset's
analyzers, signals, swaps through SwapRouter02 from the wallet, and exits on the trailing stop
with a second swap. A scripted trader account makes the market: each of its swaps is mined in
a block whose timestamp the script sets, so the candles follow the script's minutes.

**An AMM's trades carry its fee as a spread.** A taker's buy on a 0.3 % pool realises the pool
price x ~1.003, a sell x ~0.997. The script uses that bounce the way the CEX run uses bid and
ask: 30 warm-up minutes of balanced buying and selling (imbalance ~1), each closing alternately
on a buy and on a sell (lag-1 autocorrelation of returns -1); then the signal minute opens on a
buy, dips on one small sell (the 0.6 % lower wick), and closes on heavy buying at the top (buy
volume 15x sell volume). Trades are small (0.01 WETH scale) against the 1,000 WETH pool, so
their price impact is negligible next to the spread, and the rejection wick is many times the
body. The trailing stop is 1 % (a 0.5 % trail is inside the pool's own 0.6 % spread), and the
entry is sized to at most 90 % of the cash (``max_leverage = 0.9``): the swap pays the fee and
its price impact on top of the quote.

The run ends when the venue has streamed ``until_block``; the script mines up to it.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anyio
import duckdb
from evm_scenario import MINUTE, Script, write_config
from tradewind.config import load_config
from tradewind.trading.engine import Engine
from tradewind_venue_evm.schemas import transfers

D = Decimal


def rows(con: duckdb.DuckDBPyConnection, sql: str, *args: Any) -> list[dict[str, Any]]:
    cur = con.execute(sql, list(args))
    names = [c[0] for c in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_paper_run_of_the_orderflow_scalper_on_a_v3_pool(evm, tmp_path):
    import json

    evm.fund(evm.wallet, D(0), D(10_000))
    evm.fund(evm.trader, D(60), D(200_000))
    for token in (evm.d.weth, evm.d.usd):
        evm.send(evm.erc20(token).functions.approve(evm.d.swap_router, 2**256 - 1), evm.trader)
    latest = evm.w3.eth.get_block("latest")["timestamp"]
    t0 = (latest // (15 * MINUTE) + 1) * 15 * MINUTE
    start_block = evm.w3.eth.block_number
    until_block = start_block + 400
    engine = Engine(load_config(write_config(tmp_path, evm, until_block)))
    script = Script(evm, engine, t0, until_block)

    async def run() -> None:
        script.start()
        try:
            await engine.run()
        finally:
            with anyio.CancelScope(shield=True):
                for venue in engine.venues.values():
                    await venue.close()

    anyio.run(run)
    script.join(30)
    assert script.error is None, repr(script.error)

    con = duckdb.connect(str(tmp_path / "journal.duckdb"), read_only=True)
    try:
        (signal,) = rows(con, "SELECT * FROM signals")
        assert (signal["side"], signal["intent"]) == ("buy", "open")
        assert signal["ts_ns"] == (t0 + 31 * MINUTE) * 10**9  # the close of the signal minute
        orders = rows(con, "SELECT * FROM orders ORDER BY id_seq")
        assert [(o["side"], o["status"]) for o in orders] == [("buy", "filled"), ("sell", "filled")]
        assert orders[1]["tag"].startswith("trailing")
        fills = rows(con, "SELECT * FROM fills ORDER BY seq")
        assert len(fills) == 2
        settled = {
            json.loads(r["payload"])["tx_hash"]: json.loads(r["payload"])
            for r in rows(con, "SELECT payload FROM events WHERE type = 'SwapSettled'")
        }
        # Every fill equals the on-chain Transfer amounts of its receipt, gas included.
        for f in fills:
            receipt = evm.w3.eth.get_transaction_receipt(f["trade_id"])
            moved = {
                (t, src == evm.wallet): a
                for t, src, dst, a in transfers(receipt)
                if evm.wallet in (src, dst)
            }
            buy = f["side"] == "buy"
            base_wei = moved[(evm.d.weth, not buy)]
            quote_wei = moved[(evm.d.usd, buy)]
            qty, price = D(f["quantity"]), D(f["price"])
            assert int(qty.scaleb(18)) == base_wei
            assert int((qty * price).quantize(D(1).scaleb(-18)).scaleb(18)) == quote_wei
            s = settled[f["trade_id"]]
            assert int(D(s["gas"]["amount"]).scaleb(18)) == (
                receipt["gasUsed"] * receipt["effectiveGasPrice"]
            )
            assert s["gas"]["currency"] == "ETH"
            assert int(s["amount_in_wei"]) == (quote_wei if buy else base_wei)
        # Spot: the exit sold exactly what the entry bought.
        assert D(fills[1]["quantity"]) == D(fills[0]["quantity"])
        positions = rows(con, "SELECT * FROM positions WHERE reason = 'fill' ORDER BY seq")
        assert D(positions[-1]["quantity"]) == 0
        # The account: seeded from the wallet at start, moved by the two fills (tokens by their
        # Transfer amounts, ether by the gas of the approval and both swaps), it ends equal to
        # the chain in every currency, to the wei.
        final = {
            r["asset"]: D(r["amount"])
            for r in rows(
                con,
                "SELECT asset, amount FROM account_balances WHERE venue = 'dex' "
                "AND reason = 'final'",
            )
        }
        chain = {
            "WETH": D(evm.erc20(evm.d.weth).functions.balanceOf(evm.wallet).call()).scaleb(-18),
            "USD": D(evm.erc20(evm.d.usd).functions.balanceOf(evm.wallet).call()).scaleb(-18),
            "ETH": D(evm.w3.eth.get_balance(evm.wallet)).scaleb(-18),
        }
        assert final == chain
        # ... by booking, not by adopting the chain's figures after a drift.
        assert not rows(con, "SELECT * FROM account_balances WHERE reason = 'correction'")
        assert all(f["fee_currency"] == "ETH" and f["fee_asset"] == "other" for f in fills)
    finally:
        con.close()
    # The candles came from the pool's Swap events: 31 one-minute candles closed before the
    # signal (plus the 5m and 15m ones), one per scripted minute.
    assert engine.candles >= 31 and engine.signals == 1
