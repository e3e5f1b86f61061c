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
            "markets": [
                {
                    "symbol": "MEME/USDC",
                    "base": "MEME",
                    "quote": "USDC",
                    "lot_size": "0.000000001",
                    "tick_size": "0.000001",
                }
            ],
            # the market maker's token accounts hold the RFQ's reserves: its "pool vaults"
            "pools": [
                {
                    "symbol": "MEME/USDC",
                    "base_vault": str(m.ata(m.maker.pubkey(), m.meme)),
                    "quote_vault": str(m.ata(m.maker.pubkey(), m.usdc)),
                }
            ],
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
        return {
            "SOL": self.rpc.lamports(w),
            "USDC": self.rpc.token_amount(w, m.usdc.address),
            "MEME": self.rpc.token_amount(w, m.meme.address),
            "WSOL": self.rpc.token_amount(w, m.sol.address),
        }

    def trader_swap(self, trader: Any, side: str, meme_units: int) -> str:
        """A third party's swap through the Jupiter API (buy: ExactOut of MEME, sell: ExactIn),
        signed by ``trader`` and sent to the RPC server; its signature."""
        import base64

        from solders.message import to_bytes_versioned
        from solders.transaction import VersionedTransaction

        m = self.market
        usdc, meme = str(m.usdc.address), str(m.meme.address)
        q = self.jupiter.quote(
            {
                "inputMint": usdc if side == "buy" else meme,
                "outputMint": meme if side == "buy" else usdc,
                "amount": str(meme_units),
                "swapMode": "ExactOut" if side == "buy" else "ExactIn",
                "slippageBps": "50",
            }
        )
        built = self.jupiter.swap(
            {
                "quoteResponse": q,
                "userPublicKey": str(trader.pubkey()),
                "computeUnitPriceMicroLamports": 0,
            }
        )
        tx = VersionedTransaction.from_bytes(base64.b64decode(built["swapTransaction"]))
        sig = trader.sign_message(to_bytes_versioned(tx.message))
        signed = VersionedTransaction.populate(tx.message, [sig, *tx.signatures[1:]])
        status, answer = self.rpc.handle(
            {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "sendTransaction",
                "params": [base64.b64encode(bytes(signed)).decode()],
            }
        )
        assert status == 200 and "result" in answer, answer
        return str(answer["result"])

    def new_trader(self, usdc_units: int = 1_000 * 10**6) -> Any:
        """A funded third party (SOL and USDC)."""
        from solders.keypair import Keypair

        trader = Keypair()
        self.rpc.airdrop(trader.pubkey(), 10**9)
        self.market.mint_to(trader.pubkey(), self.market.usdc, usdc_units)
        return trader

    def stop(self) -> None:
        """Stop both servers."""
        self.jupiter.stop()
        self.rpc.stop()


def start_solana(price: Decimal = Decimal("0.02")) -> Solana:
    """A market with both servers started."""
    market = make_market()
    return Solana(market, JupiterServer(market, price=price).start())
