"""The Solana test environment: market, RPC server, Jupiter server, and the venue's config."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import attrs
from jup_server import JupiterServer
from svm_market import Market, make_market

RPC_ENV = "TW_TEST_SOLANA_RPC_URL"
KEY_ENV = "TW_TEST_SOLANA_KEYPAIR"


@attrs.define
class Solana:
    """One test's chain and APIs."""

    market: Market
    jupiter: JupiterServer

    @property
    def rpc(self) -> Any:
        """The LiteSVM JSON-RPC server."""
        return self.market.rpc

    def environ(self) -> dict[str, str]:
        """The env vars the config's ``env:`` secrets name."""
        return {RPC_ENV: self.rpc.url, KEY_ENV: self.market.wallet_secret_json()}

    def config_table(self, **extra: Any) -> dict[str, Any]:
        """The venue's config table as a user writes it in TOML."""
        m = self.market
        table: dict[str, Any] = {
            "rpc_url": f"env:{RPC_ENV}",
            "keypair": f"env:{KEY_ENV}",
            "tokens": {
                "USDC": {"mint": str(m.usdc.address), "program": m.usdc.program_name},
                "MEME": {"mint": str(m.meme.address), "program": m.meme.program_name},
            },
            "markets": [{"symbol": "MEME/USDC", "base": "MEME", "quote": "USDC",
                         "lot_size": "0.000000001", "tick_size": "0.000001"}],
            "aggregator": "jupiter",
            "aggregator_config": {"base_url": self.jupiter.url},
            "slippage_bps": 50,
            "commitment": "confirmed",
            "priority_fee_micro_lamports": 10_000,
            "poll_interval_s": 0.01,
            "confirm_timeout_s": 20.0,
        }
        table.update(extra)
        return table

    def config(self, **extra: Any) -> Any:
        """The structured config (unknown keys are errors)."""
        from tradewind._serde import structure
        from tradewind_venue_solana import SolanaConfig

        return structure(self.config_table(**extra), SolanaConfig)

    async def venue(self, instance: str = "sol", **extra: Any) -> Any:
        """A connected venue."""
        from tradewind_venue_solana import SolanaVenue

        venue = SolanaVenue(config=self.config(**extra), instance=instance)
        await venue.connect()
        return venue

    def wallet_units(self) -> dict[str, int]:
        """The wallet's balances on the VM in base units (lamports for SOL)."""
        m = self.market
        w = m.wallet.pubkey()
        return {"SOL": self.rpc.lamports(w), "USDC": self.rpc.token_amount(w, m.usdc.address),
                "MEME": self.rpc.token_amount(w, m.meme.address)}

    def stop(self) -> None:
        """Stop both servers."""
        self.jupiter.stop()
        self.rpc.stop()


def start_solana(price: Decimal = Decimal("0.02")) -> Solana:
    """A market with both servers started."""
    market = make_market()
    return Solana(market, JupiterServer(market, price=price).start())
