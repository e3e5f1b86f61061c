"""Fixtures of the profile analyzer's tests."""

from __future__ import annotations

import pytest
from tradewind.model import TickBatch

from profile_data import load_tardis_trades


@pytest.fixture(scope="session")
def tardis_trades() -> TickBatch:
    """The recorded Tardis/Binance tape in resources/trades.csv, loaded once."""
    return load_tardis_trades()
