"""Local HTTP servers speaking the four aggregators' APIs (127.0.0.1, port 0).

Their answers follow the real APIs' documented shapes (docs/aggregators/*.md name the pages)
and their numbers are real: each server quotes with a real Uniswap contract on the local anvil
chain (Router02.getAmountsOut, or QuoterV2 for V3) and builds its ``tx`` as a call of that real
router (``swapExactTokensForTokens`` / ``exactInputSingle``), so the transaction executes on
chain. A server can be told to fail (``fail``: 500, 429, timeout, malformed) or to tamper
with its transaction (``tamper``: target, value, recipient), and to declare a gas figure.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

import anyio
import attrs
from aiohttp import web

if TYPE_CHECKING:
    from evm_chain import LocalChain

DEADLINE = 2**40
ATTACKER = "0x000000000000000000000000000000000000dEaD"


@attrs.define
class Behaviour:
    """How a server answers."""

    #: "v2" (Uniswap V2 Router02), "fork" (the second V2 deployment) or "v3" (SwapRouter).
    venue: str = "v2"
    #: None, "500", "429", "timeout", "malformed", "error-body".
    fail: str | None = None
    #: None, "target", "value", "recipient".
    tamper: str | None = None
    gas: int = 0
    #: Seconds a "timeout" server sleeps; Retry-After of a "429" server.
    sleep_s: float = 5.0
    retry_after: str = "30"
    #: 429s to answer before answering normally (Retry-After honoured by the client).
    rate_limit_first: int = 0


class Backend:
    """Quotes and calldata from the real contracts of ``chain``."""

    def __init__(self, chain: LocalChain) -> None:
        self.chain = chain

    def router(self, venue: str) -> str:
        d = self.chain.d
        return {"v2": d.v2_router, "fork": d.fork_router, "v3": d.swap_router}[venue]

    def family(self, venue: str) -> str:
        return "uniswap-v3" if venue == "v3" else "uniswap-v2"

    def quote(self, venue: str, sell: str, buy: str, amount: int) -> int:
        c = self.chain
        if venue == "v3":
            q = c.contract("QuoterV2", c.d.quoter_v2)
            out = q.functions.quoteExactInputSingle(
                (c.w3.to_checksum_address(sell), c.w3.to_checksum_address(buy), amount, 3000, 0)
            ).call()
            return int(out[0])
        r = c.contract("UniswapV2Router02", self.router(venue))
        path = [c.w3.to_checksum_address(sell), c.w3.to_checksum_address(buy)]
        return int(r.functions.getAmountsOut(amount, path).call()[-1])

    def calldata(
        self, venue: str, sell: str, buy: str, amount: int, min_out: int, recipient: str
    ) -> str:
        c = self.chain
        cs = c.w3.to_checksum_address
        if venue == "v3":
            r = c.contract("SwapRouter", c.d.swap_router)
            return str(
                r.encode_abi(
                    "exactInputSingle",
                    args=[(cs(sell), cs(buy), 3000, cs(recipient), DEADLINE, amount, min_out, 0)],
                )
            )
        r = c.contract("UniswapV2Router02", self.router(venue))
        return str(
            r.encode_abi(
                "swapExactTokensForTokens",
                args=[amount, min_out, [cs(sell), cs(buy)], cs(recipient), DEADLINE],
            )
        )


class AggServer:
    """One aggregator API; ``requests`` records what it was asked (path, headers, time)."""

    def __init__(self, kind: str, backend: Backend, behaviour: Behaviour | None = None) -> None:
        self.kind = kind
        self.backend = backend
        self.b = behaviour or Behaviour()
        self.requests: list[dict[str, Any]] = []
        self.url = ""
        self._paths: dict[str, dict[str, Any]] = {}

    # -- common --------------------------------------------------------------------------------
    async def _gate(self, request: web.Request) -> web.Response | None:
        self.requests.append(
            {"path": request.path, "headers": dict(request.headers), "t": anyio.current_time()}
        )
        b = self.b
        if b.rate_limit_first > 0:
            b.rate_limit_first -= 1
            return web.json_response(
                {"error": "Too Many Requests", "description": "rate limit"},
                status=429,
                headers={"Retry-After": b.retry_after},
            )
        if b.fail == "500":
            return web.json_response(
                {"error": "Internal Server Error", "description": "upstream node unavailable"},
                status=500,
            )
        if b.fail == "429":
            return web.json_response(
                {"message": "Rate limit exceeded"},
                status=429,
                headers={"Retry-After": b.retry_after},
            )
        if b.fail == "timeout":
            await anyio.sleep(b.sleep_s)
        if b.fail == "malformed":
            return web.Response(
                text="<html>502 Bad Gateway</html>", status=200, content_type="text/html"
            )
        if b.fail == "error-body":
            return web.json_response(self.error_body(), status=400)
        return None

    def error_body(self) -> dict[str, Any]:
        """The API's documented error shape."""
        return {
            "oneinch": {
                "error": "Bad Request",
                "description": "insufficient liquidity",
                "statusCode": 400,
                "requestId": "local",
            },
            "zeroex": {
                "name": "INPUT_INVALID",
                "message": "Validation Failed",
                "data": {"details": []},
            },
            "paraswap": {"error": "No routes found with enough liquidity"},
            "odos": {"detail": "Invalid token address", "traceId": "local", "errorCode": 4001},
        }[self.kind]

    def swap(
        self, sell: str, buy: str, amount: int, wallet: str, slippage: Decimal
    ) -> tuple[int, int, dict[str, Any]]:
        """(out, min out, tx) through the chosen venue, with any tampering applied."""
        b = self.b
        out = self.backend.quote(b.venue, sell, buy, amount)
        min_out = int((Decimal(out) * (1 - slippage)).to_integral_value(ROUND_FLOOR))
        recipient = ATTACKER if b.tamper == "recipient" else wallet
        data = self.backend.calldata(b.venue, sell, buy, amount, min_out, recipient)
        to = ATTACKER if b.tamper == "target" else self.backend.router(b.venue)
        value = 10**18 if b.tamper == "value" else 0
        gas = b.gas or (150_000 if b.venue == "v3" else 120_000)
        return (
            out,
            min_out,
            {
                "from": wallet,
                "to": to,
                "data": data,
                "value": str(value),
                "gas": gas,
                "gasPrice": "1000000000",
            },
        )

    # -- 1inch Swap API v6 ---------------------------------------------------------------------
    async def oneinch_swap(self, request: web.Request) -> web.Response:
        if (r := await self._gate(request)) is not None:
            return r
        q = request.query
        out, _, tx = self.swap(
            q["src"], q["dst"], int(q["amount"]), q["from"], Decimal(q["slippage"]) / 100
        )
        name = "UNISWAP_V3" if self.b.venue == "v3" else "UNISWAP_V2"
        return web.json_response(
            {
                "dstAmount": str(out),
                "tx": tx,
                "protocols": [
                    [
                        [
                            {
                                "name": name,
                                "part": 100,
                                "fromTokenAddress": q["src"],
                                "toTokenAddress": q["dst"],
                            }
                        ]
                    ]
                ],
            }
        )

    # -- 0x Swap API v2 ------------------------------------------------------------------------
    async def zeroex_quote(self, request: web.Request) -> web.Response:
        if (r := await self._gate(request)) is not None:
            return r
        q = request.query
        out, min_out, tx = self.swap(
            q["sellToken"],
            q["buyToken"],
            int(q["sellAmount"]),
            q["taker"],
            Decimal(q["slippageBps"]) / 10_000,
        )
        source = "Uniswap_V3" if self.b.venue == "v3" else "Uniswap_V2"
        return web.json_response(
            {
                "blockNumber": str(self.backend.chain.w3.eth.block_number),
                "buyAmount": str(out),
                "buyToken": q["buyToken"].lower(),
                "fees": {"integratorFee": None, "zeroExFee": None, "gasFee": None},
                "issues": {
                    "allowance": {"actual": "0", "spender": tx["to"]},
                    "balance": None,
                    "simulationIncomplete": False,
                    "invalidSourcesPassed": [],
                },
                "liquidityAvailable": True,
                "minBuyAmount": str(min_out),
                "route": {
                    "fills": [
                        {
                            "from": q["sellToken"].lower(),
                            "to": q["buyToken"].lower(),
                            "source": source,
                            "proportionBps": "10000",
                        }
                    ],
                    "tokens": [],
                },
                "sellAmount": q["sellAmount"],
                "sellToken": q["sellToken"].lower(),
                "totalNetworkFee": None,
                "transaction": {
                    "to": tx["to"],
                    "data": tx["data"],
                    "gas": str(tx["gas"]),
                    "gasPrice": tx["gasPrice"],
                    "value": tx["value"],
                },
                "zid": "0xlocal",
            }
        )

    # -- ParaSwap v6.2 -------------------------------------------------------------------------
    async def paraswap_prices(self, request: web.Request) -> web.Response:
        if (r := await self._gate(request)) is not None:
            return r
        q = request.query
        amount = int(q["amount"])
        out = self.backend.quote(self.b.venue, q["srcToken"], q["destToken"], amount)
        router = self.backend.router(self.b.venue)
        gas = self.b.gas or (150_000 if self.b.venue == "v3" else 120_000)
        return web.json_response(
            {
                "priceRoute": {
                    "blockNumber": self.backend.chain.w3.eth.block_number,
                    "network": int(q["network"]),
                    "srcToken": q["srcToken"],
                    "srcDecimals": int(q["srcDecimals"]),
                    "srcAmount": str(amount),
                    "destToken": q["destToken"],
                    "destDecimals": int(q["destDecimals"]),
                    "destAmount": str(out),
                    "bestRoute": [
                        {
                            "percent": 100,
                            "swaps": [
                                {
                                    "srcToken": q["srcToken"],
                                    "destToken": q["destToken"],
                                    "swapExchanges": [
                                        {
                                            "exchange": "UniswapV3"
                                            if self.b.venue == "v3"
                                            else "UniswapV2",
                                            "percent": 100,
                                            "srcAmount": str(amount),
                                            "destAmount": str(out),
                                        }
                                    ],
                                }
                            ],
                        }
                    ],
                    "gasCostUSD": "1.0",
                    "gasCost": str(gas),
                    "side": "SELL",
                    "version": "6.2",
                    "contractAddress": router,
                    "tokenTransferProxy": router,
                    "contractMethod": "swapExactAmountIn",
                    "partnerFee": 0,
                    "srcUSD": "0",
                    "destUSD": "0",
                    "partner": q.get("partner", "anon"),
                    "maxImpactReached": False,
                    "hmac": "local",
                }
            }
        )

    async def paraswap_transactions(self, request: web.Request) -> web.Response:
        if (r := await self._gate(request)) is not None:
            return r
        body = await request.json()
        pr = body["priceRoute"]
        _, _, tx = self.swap(
            body["srcToken"],
            body["destToken"],
            int(body["srcAmount"]),
            body["userAddress"],
            Decimal(body["slippage"]) / 10_000,
        )
        return web.json_response(
            {
                **tx,
                "chainId": int(request.match_info["network"]),
                "gas": str(tx["gas"]),
                "_destAmount": pr["destAmount"],
            }
        )

    # -- Odos SOR ------------------------------------------------------------------------------
    async def odos_quote(self, request: web.Request) -> web.Response:
        if (r := await self._gate(request)) is not None:
            return r
        body = await request.json()
        tin = body["inputTokens"][0]
        tout = body["outputTokens"][0]["tokenAddress"]
        amount = int(tin["amount"])
        out, _, tx = self.swap(
            tin["tokenAddress"],
            tout,
            amount,
            body["userAddr"],
            Decimal(str(body["slippageLimitPercent"])) / 100,
        )
        path_id = f"path{len(self._paths) + 1}"
        self._paths[path_id] = {"tx": tx, "in": tin, "out": tout, "amount": out}
        return web.json_response(
            {
                "inTokens": [tin["tokenAddress"]],
                "outTokens": [tout],
                "inAmounts": [str(amount)],
                "outAmounts": [str(out)],
                "gasEstimate": float(tx["gas"]),
                "dataGasEstimate": 0,
                "gweiPerGas": 1.0,
                "gasEstimateValue": 0.5,
                "inValues": [0.0],
                "outValues": [0.0],
                "netOutValue": 0.0,
                "priceImpact": 0.0,
                "percentDiff": 0.0,
                "partnerFeePercent": 0.0,
                "pathId": path_id,
                "pathViz": None,
                "blockNumber": self.backend.chain.w3.eth.block_number,
            }
        )

    async def odos_assemble(self, request: web.Request) -> web.Response:
        if (r := await self._gate(request)) is not None:
            return r
        body = await request.json()
        path = self._paths.get(body["pathId"])
        if path is None:
            return web.json_response(
                {"detail": "Path not found", "traceId": "local", "errorCode": 4001}, status=400
            )
        tx = path["tx"]
        return web.json_response(
            {
                "deprecated": None,
                "blockNumber": self.backend.chain.w3.eth.block_number,
                "gasEstimate": tx["gas"],
                "gasEstimateValue": 0.5,
                "inputTokens": [path["in"]],
                "outputTokens": [{"tokenAddress": path["out"], "amount": str(path["amount"])}],
                "netOutValue": 0.0,
                "outValues": ["0"],
                "transaction": {
                    "gas": tx["gas"],
                    "gasPrice": int(tx["gasPrice"]),
                    "value": tx["value"],
                    "to": tx["to"],
                    "from": tx["from"],
                    "data": tx["data"],
                    "nonce": 0,
                    "chainId": 31337,
                },
                "simulation": None,
            }
        )

    def app(self) -> web.Application:
        app = web.Application()
        routes = {
            "oneinch": [web.get("/swap/v6.0/{chain}/swap", self.oneinch_swap)],
            "zeroex": [web.get("/swap/allowance-holder/quote", self.zeroex_quote)],
            "paraswap": [
                web.get("/prices", self.paraswap_prices),
                web.post("/transactions/{network}", self.paraswap_transactions),
            ],
            "odos": [
                web.post("/sor/quote/v2", self.odos_quote),
                web.post("/sor/assemble", self.odos_assemble),
            ],
        }[self.kind]
        app.add_routes(routes)
        return app


@contextlib.asynccontextmanager
async def serve(server: AggServer) -> AsyncIterator[AggServer]:
    """Run ``server`` on 127.0.0.1 with a port the OS chooses; ``server.url`` is its base."""
    runner = web.AppRunner(server.app())
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        await runner.cleanup()


def dumps(data: Any) -> str:
    return json.dumps(data)
