"""A local server speaking Jupiter's Swap API v1 (``GET /quote``, ``POST /swap``) for tests.

Its answers follow the documented v1 shapes (docs/aggregators/jupiter.md names the pages) and
its transactions are real: ``/swap`` returns a base64 VersionedTransaction doing an atomic
two-party exchange on the LiteSVM market of :mod:`svm_market` (the shape of an RFQ fill):

1. Compute Budget: the unit limit (``dynamicComputeUnitLimit``: the transaction simulated
   on the VM without signature checks, as the RPC's simulateTransaction does, plus 20 %) and
   the unit price asked for;
2. create the wallet's associated token account of the output mint if it has none (idempotent;
   the wallet pays the rent);
3. TransferChecked of the input from the wallet to the market maker;
4. TransferChecked of the output from the market maker to the wallet,

signed by the market maker already; the wallet's signature slot is left empty. The SPL Token
and Token-2022 programs in LiteSVM execute it when the wallet signs and sends it.

With ``wrapAndUnwrapSol`` (Jupiter's parameter) and native SOL on a side, the transaction also
wraps the SOL the wallet spends (create its wrapped-SOL account, System transfer, SyncNative)
before the exchange and closes the wrapped-SOL account after it (unwrapping what it holds), as
Jupiter's transactions do.

The market maker quotes ``price`` (quote token per base token) of MEME/USDC, and of any pair
added with :meth:`JupiterServer.add_pair` (e.g. SOL/USDC), with ``spread_bps`` each side.
``tamper`` makes the transaction unsafe the ways a compromised API could: ``recipient`` (the
bought tokens go to another owner's account), ``program`` (an extra instruction of a program
outside the expected set), ``overpay`` (the wallet pays more than quoted).
"""

from __future__ import annotations

import base64
import json
import math
import threading
import time
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from solders.compute_budget import set_compute_unit_limit, set_compute_unit_price
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.signature import Signature
from solders.system_program import TransferParams, transfer
from solders.transaction import VersionedTransaction
from spl.token.instructions import (
    close_account,
    create_idempotent_associated_token_account,
    get_associated_token_address,
    sync_native,
    transfer_checked,
)
from spl.token.models import CloseAccountParams, SyncNativeParams, TransferCheckedParams
from svm_market import NATIVE_MINT, Market, Mint
from svm_rpc import VALIDITY

MEMO_PROGRAM = Pubkey.from_string("MemoSq4gqABAXKb96qnH8TYDcAMbqxE2v4uD9RL3PZ4")


class JupiterServer:
    """The API over one market (start with :meth:`start`, stop with :meth:`stop`)."""

    def __init__(
        self, market: Market, price: Decimal = Decimal("0.02"), spread_bps: int = 10
    ) -> None:
        self.market = market
        self.price = price
        self.spread_bps = spread_bps
        self.tamper: str | None = None
        #: None or an HTTP status to answer every request with ("error" body) or "malformed".
        self.fail: str | None = None
        #: Seconds every answer is held back (an API too slow for the venue's deadline).
        self.delay_s = 0.0
        self.requests: list[tuple[str, Any]] = []
        self.url = ""
        self._server: ThreadingHTTPServer | None = None
        #: (base, quote) -> price in quote per base.
        self.pairs: dict[tuple[str, str], tuple[Mint, Mint, Decimal]] = {}
        self.add_pair(market.meme, market.usdc, price)

    def add_pair(self, base: Mint, quote: Mint, price: Decimal) -> None:
        """Quote ``base`` against ``quote`` at ``price`` (quote per base)."""
        self.pairs[(base.symbol, quote.symbol)] = (base, quote, price)

    def _mint(self, address: str) -> Mint:
        for m in (self.market.usdc, self.market.meme, self.market.sol):
            if str(m.address) == address:
                return m
        raise KeyError(address)

    def _pair(self, src: Mint, dst: Mint) -> tuple[Mint, Mint, Decimal]:
        for base, quote, price in self.pairs.values():
            if {base.symbol, quote.symbol} == {src.symbol, dst.symbol}:
                # MEME/USDC follows ``price`` (tests move it)
                return (
                    base,
                    quote,
                    self.price if (base, quote) == (self.market.meme, self.market.usdc) else price,
                )
        raise KeyError(f"{src.symbol}/{dst.symbol}")

    # -- quoting -----------------------------------------------------------------------------
    def quote(self, q: dict[str, str]) -> dict[str, Any]:
        """A ``/quote`` answer."""
        src, dst = self._mint(q["inputMint"]), self._mint(q["outputMint"])
        amount, mode = int(q["amount"]), q.get("swapMode", "ExactIn")
        bps = int(q.get("slippageBps", "50"))
        spread = Decimal(self.spread_bps) / 10_000
        base, quote, price = self._pair(src, dst)
        base_is_input = src is base
        # quote units per base unit, at the maker's bid (wallet sells) or ask (wallet buys)
        px = price * (1 - spread if base_is_input else 1 + spread)
        unit = px * Decimal(10) ** (quote.decimals - base.decimals)
        if mode == "ExactIn":
            out = amount * unit if base_is_input else amount / unit
            in_amt, out_amt = amount, int(out.to_integral_value(ROUND_FLOOR))
            threshold = int((out_amt * (1 - Decimal(bps) / 10_000)).to_integral_value(ROUND_FLOOR))
        else:
            need = amount / unit if base_is_input else amount * unit
            in_amt, out_amt = int(need.to_integral_value(ROUND_CEILING)), amount
            threshold = int((in_amt * (1 + Decimal(bps) / 10_000)).to_integral_value(ROUND_CEILING))
        return {
            "inputMint": str(src.address),
            "inAmount": str(in_amt),
            "outputMint": str(dst.address),
            "outAmount": str(out_amt),
            "otherAmountThreshold": str(threshold),
            "swapMode": mode,
            "slippageBps": bps,
            "platformFee": None,
            "priceImpactPct": "0",
            "routePlan": [
                {
                    "swapInfo": {
                        "ammKey": str(self.market.maker.pubkey()),
                        "label": "RFQ",
                        "inputMint": str(src.address),
                        "outputMint": str(dst.address),
                        "inAmount": str(in_amt),
                        "outAmount": str(out_amt),
                        "feeAmount": "0",
                        "feeMint": str(dst.address),
                    },
                    "percent": 100,
                }
            ],
            "contextSlot": self.market.rpc.slot,
            "timeTaken": 0.001,
        }

    def swap(self, body: dict[str, Any]) -> dict[str, Any]:
        """A ``/swap`` answer: the transaction of the quote, signed by the market maker."""
        q = body["quoteResponse"]
        user = Pubkey.from_string(body["userPublicKey"])
        maker: Keypair = self.market.maker
        src, dst = self._mint(q["inputMint"]), self._mint(q["outputMint"])
        in_amt, out_amt = int(q["inAmount"]), int(q["outAmount"])
        if self.tamper == "overpay":
            in_amt += 10**src.decimals
        receiver = user
        if self.tamper == "recipient":
            receiver = Keypair().pubkey()
        swap_ixs = [
            create_idempotent_associated_token_account(
                maker.pubkey() if receiver != user else user, receiver, dst.address, dst.program
            ),
            transfer_checked(
                TransferCheckedParams(
                    program_id=src.program,
                    source=get_associated_token_address(user, src.address, src.program),
                    mint=src.address,
                    dest=get_associated_token_address(maker.pubkey(), src.address, src.program),
                    owner=user,
                    amount=in_amt,
                    decimals=src.decimals,
                )
            ),
            transfer_checked(
                TransferCheckedParams(
                    program_id=dst.program,
                    source=get_associated_token_address(maker.pubkey(), dst.address, dst.program),
                    mint=dst.address,
                    dest=get_associated_token_address(receiver, dst.address, dst.program),
                    owner=maker.pubkey(),
                    amount=out_amt,
                    decimals=dst.decimals,
                )
            ),
        ]
        if body.get("wrapAndUnwrapSol") and NATIVE_MINT in (src.address, dst.address):
            wsol = get_associated_token_address(
                user, NATIVE_MINT, src.program if src.address == NATIVE_MINT else dst.program
            )
            if src.address == NATIVE_MINT:
                # ExactOut wraps the most the wallet may pay; closing returns what is left.
                wrap = in_amt if q["swapMode"] == "ExactIn" else int(q["otherAmountThreshold"])
                swap_ixs[:0] = [
                    create_idempotent_associated_token_account(
                        user, user, NATIVE_MINT, src.program
                    ),
                    transfer(TransferParams(from_pubkey=user, to_pubkey=wsol, lamports=wrap)),
                    sync_native(SyncNativeParams(program_id=src.program, account=wsol)),
                ]
            swap_ixs.append(
                close_account(
                    CloseAccountParams(
                        program_id=src.program if src.address == NATIVE_MINT else dst.program,
                        account=wsol,
                        dest=Keypair().pubkey() if self.tamper == "unwrap" else user,
                        owner=user,
                    )
                )
            )
        if self.tamper == "program":
            swap_ixs.append(
                Instruction(
                    MEMO_PROGRAM, b"route", [AccountMeta(user, is_signer=True, is_writable=False)]
                )
            )
        price = int(body.get("computeUnitPriceMicroLamports") or 0)
        blockhash = self.market.rpc.blockhash()
        if body.get("dynamicComputeUnitLimit"):
            sim = self.market.rpc.simulate(self._tx(user, swap_ixs, 1_400_000, price, blockhash))
            limit = math.ceil(sim.meta().compute_units_consumed() * 1.2)
        else:
            limit = int(body.get("computeUnitLimit") or 1_400_000)
        tx = self._tx(user, swap_ixs, limit, price, blockhash)
        with self.market.rpc.lock:
            last_valid = self.market.rpc.valid_until.get(
                str(blockhash), self.market.rpc.height + VALIDITY
            )
        return {
            "swapTransaction": base64.b64encode(bytes(tx)).decode(),
            "lastValidBlockHeight": last_valid,
            "prioritizationFeeLamports": math.ceil(limit * price / 1_000_000),
            "computeUnitLimit": limit,
            "prioritizationType": {
                "computeBudget": {"microLamports": price, "estimatedMicroLamports": price}
            },
            "dynamicSlippageReport": None,
            "simulationError": None,
        }

    def _tx(
        self, user: Pubkey, ixs: list[Instruction], limit: int, price: int, blockhash: Any
    ) -> VersionedTransaction:
        msg = MessageV0.try_compile(
            user,
            [set_compute_unit_limit(limit), set_compute_unit_price(price), *ixs],
            [],
            blockhash,
        )
        maker_sig = self.market.maker.sign_message(to_bytes_versioned(msg))
        keys = list(msg.account_keys)
        sigs = [Signature.default()] * msg.header.num_required_signatures
        sigs[keys.index(self.market.maker.pubkey())] = maker_sig
        return VersionedTransaction.populate(msg, sigs)

    # -- server ------------------------------------------------------------------------------
    def start(self) -> JupiterServer:
        """Serve on 127.0.0.1, a free port."""
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, status: int, payload: Any) -> None:
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (its deadline passed)

            def _serve(self, path: str, payload: Any) -> None:
                api.requests.append((path, payload))
                if api.delay_s:
                    time.sleep(api.delay_s)
                if api.fail == "malformed":
                    return self._answer(200, b"<html>bad gateway</html>")
                if api.fail is not None:
                    return self._answer(
                        int(api.fail),
                        {
                            "error": "Could not find any route",
                            "errorCode": "COULD_NOT_FIND_ANY_ROUTE",
                        },
                    )
                try:
                    answer = api.quote(payload) if path == "/quote" else api.swap(payload)
                except KeyError as exc:
                    return self._answer(
                        400, {"error": f"unknown mint {exc}", "errorCode": "TOKEN_NOT_TRADABLE"}
                    )
                self._answer(200, answer)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path != "/quote":
                    return self._answer(404, {"error": "not found"})
                self._serve("/quote", {k: v[0] for k, v in parse_qs(url.query).items()})

            def do_POST(self) -> None:
                if urlparse(self.path).path != "/swap":
                    return self._answer(404, {"error": "not found"})
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                self._serve("/swap", body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
