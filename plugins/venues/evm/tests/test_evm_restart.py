"""SIGKILL between sending a swap and its receipt, then restart: booked once, never re-sent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import anyio
import pytest
from evm_testkit import Sink, config_table, make_config, pool
from tradewind.model import Order, OrderStatus, OrderType, Side
from tradewind_venue_evm import EvmVenue
from tradewind_venue_evm.schemas import transfers

HERE = Path(__file__).parent


def _pending(evm) -> int:
    content = evm.rpc("txpool_content")["result"]
    return sum(len(v) for v in content.get("pending", {}).values())


def _signed_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


@pytest.mark.parametrize("mined_before_restart", [True, False], ids=["mined", "still-pending"])
def test_sigkill_between_send_and_receipt_books_the_swap_once(evm, mined_before_restart):
    evm.fund(evm.wallet, Decimal(3), Decimal(0))
    # Approve beforehand so the killed process's only transaction is the swap.
    evm.send(
        evm.contract("WETH9", evm.d.weth).functions.approve(evm.d.v2_router, 2**256 - 1), evm.wallet
    )
    table = config_table(evm, [pool(evm, "uniswap-v2")], receipt_timeout_s=60.0)
    journal = Path("evm-transactions.jsonl")
    nonce_before = evm.w3.eth.get_transaction_count(evm.wallet)
    weth_before = evm.erc20(evm.d.weth).functions.balanceOf(evm.wallet).call()

    evm.set_automine(False)
    child = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "evm_restart_child.py"),
            json.dumps(table),
            "kill-me",
            "sell",
            "1",
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (_pending(evm) == 1 and any(x["op"] == "signed" for x in _signed_lines(journal))):
            assert child.poll() is None, child.stdout.read() if child.stdout else ""
            assert time.monotonic() < deadline, "the child never sent its swap"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == -signal.SIGKILL
    (signed,) = [x for x in _signed_lines(journal) if x["op"] == "signed"]
    assert not [x for x in _signed_lines(journal) if x["op"] == "outcome"]
    if mined_before_restart:
        evm.mine()
        evm.set_automine(True)
    else:
        # The node loses its pool (a restart of the node too): only the journal has the bytes.
        evm.rpc("anvil_dropAllTransactions")
        assert _pending(evm) == 0
        evm.set_automine(True)

    async def restart():
        venue = EvmVenue(config=make_config(evm, [pool(evm, "uniswap-v2")]), instance="dex")
        sink = Sink()
        venue.set_sink(sink)
        try:
            await venue.connect()
            found = await venue.fetch_order("dex:WETH/USD", "kill-me")
            fills = await venue.fetch_fills("dex:WETH/USD", "kill-me")
            # The engine resubmitting the same client order id gets the known state back.
            again = await venue.submit_order(
                Order(
                    client_order_id="kill-me",
                    instrument="dex:WETH/USD",
                    side=Side.SELL,
                    type=OrderType.MARKET,
                    quantity=Decimal(1),
                )
            )
        finally:
            await venue.close()
        # A later start: the settled swap is known from the journal and its receipt.
        later = EvmVenue(config=make_config(evm, [pool(evm, "uniswap-v2")]), instance="dex")
        await later.connect()
        try:
            assert await later.fetch_order("dex:WETH/USD", "kill-me") == found
            assert await later.fetch_fills("dex:WETH/USD", "kill-me") == fills
            assert (
                await later.submit_order(
                    Order(
                        client_order_id="kill-me",
                        instrument="dex:WETH/USD",
                        side=Side.SELL,
                        type=OrderType.MARKET,
                        quantity=Decimal(1),
                    )
                )
                == found
            )
        finally:
            await later.close()
        return found, fills, again, sink

    found, fills, again, sink = anyio.run(restart)
    assert found is not None and found.status is OrderStatus.FILLED
    assert found.venue_order_id == signed["hash"] and again == found
    (fill,) = fills
    assert fill.trade_id == signed["hash"] and fill.quantity == Decimal(1)
    # Recovered fills go to reconciliation (fetch_fills), not to the sink a second time.
    assert not sink.fills
    # One swap on chain: exactly one more nonce, exactly one WETH gone, and the fill's quote
    # amount is the receipt's Transfer to the wallet.
    assert evm.w3.eth.get_transaction_count(evm.wallet) == nonce_before + 1
    assert evm.erc20(evm.d.weth).functions.balanceOf(evm.wallet).call() == weth_before - 10**18
    receipt = evm.w3.eth.get_transaction_receipt(signed["hash"])
    (usd_in,) = [a for t, _s, dst, a in transfers(receipt) if t == evm.d.usd and dst == evm.wallet]
    notional = (fill.quantity * fill.price).quantize(Decimal(1).scaleb(-18))
    assert notional == Decimal(usd_in).scaleb(-18)
    outcomes = [x for x in _signed_lines(journal) if x["op"] == "outcome"]
    assert [(x["cid"], x["status"], x["hash"]) for x in outcomes] == [
        ("kill-me", "filled", signed["hash"])
    ]


def test_a_host_killed_mid_swap_reconciles_it_once_on_restart(evm, tmp_path):
    """The whole host (DuckDB journal, order manager, venue) is SIGKILLed after a buy swap is
    broadcast; the restarted host's reconciliation records the fill once, sends nothing, and
    keeps the position the fill opened (the wallet's WETH is the spot position)."""
    from tradewind.journal.store import Journal
    from tradewind.trading.portfolio import Portfolio
    from tradewind.trading.reconcile import reconcile

    evm.fund(evm.wallet, Decimal(0), Decimal(10_000))
    evm.send(evm.erc20(evm.d.usd).functions.approve(evm.d.v2_router, 2**256 - 1), evm.wallet)
    table = config_table(evm, [pool(evm, "uniswap-v2")])
    journal_path = tmp_path / "host.duckdb"
    nonce_before = evm.w3.eth.get_transaction_count(evm.wallet)
    evm.set_automine(False)
    child = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "evm_restart_host_child.py"),
            json.dumps(table),
            str(journal_path),
            "buy",
        ],
        env=dict(os.environ),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while _pending(evm) != 1:
            assert child.poll() is None, child.stdout.read() if child.stdout else ""
            assert time.monotonic() < deadline, "the host never sent its swap"
            time.sleep(0.05)
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    evm.mine()
    evm.set_automine(True)
    (signed,) = [x for x in _signed_lines(Path("evm-transactions.jsonl")) if x["op"] == "signed"]

    async def restart():
        venue = EvmVenue(config=make_config(evm, [pool(evm, "uniswap-v2")]), instance="dex")
        await venue.connect()
        try:
            (inst,) = await venue.instruments()
            journal = Journal(journal_path, "run2")
            journal.start("live", "live.toml", 0)
            pf = Portfolio({inst.key: inst}, Decimal(0))
            report = await reconcile(venue, journal, [inst], pf, ts_ns=1)
            again = await reconcile(venue, journal, [inst], pf, ts_ns=2)
            held = (await venue.fetch_balances())["WETH"]
            out = (report, again, journal.order("host-1"), journal.fills(), pf, held)
            journal.close()
            return out
        finally:
            await venue.close()

    report, again, rec, fills, pf, held = anyio.run(restart)
    # The venue reports the wallet's WETH as the spot position (fetch_positions), and it is
    # what the recovered fill opened: reconciliation records the swap's outcome and keeps the
    # position; a second reconciliation finds nothing to do.
    assert [(d.kind, d.action) for d in report.discrepancies] == [
        ("order_closed_at_venue", "recorded")
    ]
    assert report.fills_recovered == 1 and again.fills_recovered == 0 and again.ok
    assert rec is not None and rec.status is OrderStatus.FILLED
    (fill,) = fills
    assert fill.client_order_id == "host-1" and fill.trade_id == signed["hash"]
    assert fill.quantity >= Decimal(1) and fill.quantity == held
    assert (fill.fee_currency, fill.fee_asset) == ("ETH", "other")
    receipt = evm.w3.eth.get_transaction_receipt(signed["hash"])
    assert int(fill.fee.scaleb(18)) == receipt["gasUsed"] * receipt["effectiveGasPrice"]
    position = pf.position("dex:WETH/USD")
    assert position.quantity == held and position.avg_price == fill.price
    assert evm.w3.eth.get_transaction_count(evm.wallet) == nonce_before + 1
