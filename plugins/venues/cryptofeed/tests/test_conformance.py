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
        return CryptofeedConfig(
            exchange="BINANCE_FUTURES", symbols=["CTKUSDT"], batch_max=5, batch_ms=20.0
        )

    async def make_venue(self) -> Any:
        # Every connection the venue opens replays the recorded CTKUSDT trades.
        self.stub.script(
            *[("send", line) for line in ws_lines("binance_futures_ctkusdt_aggtrade.jsonl")]
        )
        venue = CryptofeedVenue(
            config=self.make_config(), instance="cryptofeed", feed_class=self.stub.feed_class()
        )
        await venue.connect()
        return venue
