"""The core's venue conformance suite (data), against the local Binance stub over TLS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptofeed_stub import BinanceStub, ws_lines
from tradewind.testing.conformance import VenueConformance

from tradewind_venue_cryptofeed import CryptofeedConfig, CryptofeedVenue

pytest_plugins = "tradewind.testing"


class TestConformance(VenueConformance):
    plugin_class = CryptofeedVenue
    stub: BinanceStub

    @pytest.fixture(autouse=True)
    def _stub(self, tmp_path: Path) -> Iterator[None]:
        with BinanceStub(tmp_path) as stub:
            type(self).stub = stub
            yield

    def make_config(self) -> CryptofeedConfig:
        # Pointed at the stub through config alone (ws_host, rest_host, ca_file), as a user
        # would point it at a proxy: no code injected.
        return CryptofeedConfig(
            exchange="BINANCE_FUTURES",
            symbols=["CTKUSDT"],
            batch_max=5,
            batch_ms=20.0,
            ws_host=self.stub.wss_url,
            rest_host=self.stub.http_url,
            ca_file=str(self.stub.cert),
        )

    async def make_venue(self) -> Any:
        # Every connection the venue opens replays the recorded CTKUSDT trades.
        self.stub.script(
            *[("send", line) for line in ws_lines("binance_futures_ctkusdt_aggtrade.jsonl")]
        )
        venue = CryptofeedVenue(config=self.make_config(), instance="cryptofeed")
        await venue.connect()
        return venue
