"""The wallet: key from the environment, a private send-only endpoint, balances as the account."""

from __future__ import annotations

import json
import threading
import urllib.request
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import anyio
from evm_chain import WALLET_KEY
from evm_testkit import connected, pool
from tradewind.model import Order, OrderStatus, OrderType, Side


class RecordingRelay:
    """A JSON-RPC relay on 127.0.0.1 (port 0) that forwards to the node and logs each method:
    what a private submission endpoint (a MEV-protected RPC) sees."""

    def __init__(self, upstream: str) -> None:
        self.methods: list[str] = []
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                msg = json.loads(body)
                relay.methods.extend(m["method"] for m in (msg if isinstance(msg, list) else [msg]))
                req = urllib.request.Request(
                    upstream, data=body, headers={"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(req, timeout=30) as resp:
                    out = resp.read()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_transactions_go_to_the_private_endpoint_and_nothing_else_does(evm, monkeypatch):
    evm.fund(evm.wallet, Decimal(2), Decimal(0))
    relay = RecordingRelay(evm.anvil.url)
    monkeypatch.setenv("TW_TEST_EVM_PRIVATE_RPC", relay.url)

    async def go():
        venue = await connected(
            evm, [pool(evm, "uniswap-v2")], private_rpc_url="env:TW_TEST_EVM_PRIVATE_RPC"
        )
        try:
            return await venue.submit_order(
                Order(
                    client_order_id="p1",
                    instrument="dex:WETH/USD",
                    side=Side.SELL,
                    type=OrderType.MARKET,
                    quantity=Decimal(1),
                )
            )
        finally:
            await venue.close()

    try:
        report = anyio.run(go)
    finally:
        relay.stop()
    assert report.status is OrderStatus.FILLED
    # The approval and the swap were sent privately; every read went to the public RPC.
    assert relay.methods == ["eth_sendRawTransaction", "eth_sendRawTransaction"]


def test_the_key_never_reaches_the_journal_or_the_config_repr(evm):
    evm.fund(evm.wallet, Decimal(2), Decimal(0))

    async def go():
        venue = await connected(evm, [pool(evm, "uniswap-v3")])
        try:
            await venue.submit_order(
                Order(
                    client_order_id="k1",
                    instrument="dex:WETH/USD",
                    side=Side.SELL,
                    type=OrderType.MARKET,
                    quantity=Decimal(1),
                )
            )
            return repr(venue.config), await venue.fetch_balances(), venue.wallet
        finally:
            await venue.close()

    text, balances, wallet = anyio.run(go)
    journal = Path("evm-transactions.jsonl").read_text()
    assert WALLET_KEY[2:] not in journal and WALLET_KEY[2:] not in text
    assert "env:TW_TEST_EVM_PRIVATE_KEY" in text
    assert wallet == evm.wallet
    # The account: every pool token and the native token, exact, read from the chain.
    weth = evm.erc20(evm.d.weth).functions.balanceOf(evm.wallet).call()
    usd = evm.erc20(evm.d.usd).functions.balanceOf(evm.wallet).call()
    assert balances["WETH"] == Decimal(weth).scaleb(-18) == Decimal(1)
    assert balances["USD"] == Decimal(usd).scaleb(-18) > 0
    assert balances["ETH"] == Decimal(evm.w3.eth.get_balance(evm.wallet)).scaleb(-18)
