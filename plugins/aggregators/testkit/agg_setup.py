"""Building the four aggregators against the local servers, and the conformance wiring."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from agg_servers import AggServer, Backend, Behaviour, serve
from evm_chain import CHAIN_ID, LocalChain
from tradewind.execution import SwapRequest
from tradewind.execution.aggregator import RouterEntry
from tradewind.secrets import Secret

#: The env var the tests' API keys are read from (a test value, never a real key).
KEY_ENV = "TW_TEST_AGGREGATOR_KEY"
TEST_KEY = "test-key-not-secret"


def plugin_classes() -> dict[str, Any]:
    from tradewind_aggregator_odos import OdosAggregator
    from tradewind_aggregator_oneinch import OneInchAggregator
    from tradewind_aggregator_paraswap import ParaSwapAggregator
    from tradewind_aggregator_zeroex import ZeroExAggregator

    return {
        "oneinch": OneInchAggregator,
        "zeroex": ZeroExAggregator,
        "paraswap": ParaSwapAggregator,
        "odos": OdosAggregator,
    }


def make_aggregator(
    kind: str,
    server: AggServer,
    *,
    timeout_s: float = 5.0,
    max_retry_after_s: float = 5.0,
    **extra: Any,
) -> Any:
    """The ``kind`` plugin pointed at ``server``, trusting the router it calls."""
    cls = plugin_classes()[kind]
    backend = server.backend
    venue = server.b.venue
    cfg = cls.config_class(
        api_key=Secret(KEY_ENV),
        base_url=server.url,
        chains=(CHAIN_ID,),
        routers={
            str(CHAIN_ID): (
                RouterEntry(address=backend.router(venue), family=backend.family(venue)),
            )
        },
        timeout_s=timeout_s,
        max_retry_after_s=max_retry_after_s,
        **extra,
    )
    return cls(config=cfg, instance=kind)


def sell_weth(chain: LocalChain, amount: Decimal = Decimal(1), cid: str = "c1") -> SwapRequest:
    """Sell ``amount`` WETH for USD from the venue's wallet."""
    return SwapRequest(
        client_order_id=cid,
        chain_id=CHAIN_ID,
        sell_token=chain.d.weth,
        buy_token=chain.d.usd,
        sell_amount=int(amount * 10**18),
        wallet=chain.wallet,
    )


class ServedConformance:
    """Mixin for the core's AggregatorConformance: ``kind`` served on the local chain."""

    kind: str = ""

    @pytest.fixture(autouse=True)
    def _chain(self, agg_chain: LocalChain, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(KEY_ENV, TEST_KEY)
        self.chain = agg_chain

    def make_config(self) -> Any:
        return plugin_classes()[self.kind].config_class()

    @contextlib.asynccontextmanager
    async def serving(self, mode: str) -> AsyncIterator[tuple[Any, SwapRequest]]:
        fail = {"ok": None, "error": "error-body", "malformed": "malformed"}[mode]
        server = AggServer(self.kind, Backend(self.chain), Behaviour(fail=fail))
        async with serve(server):
            yield make_aggregator(self.kind, server), sell_weth(self.chain)
