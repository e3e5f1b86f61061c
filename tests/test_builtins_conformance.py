"""The core's built-in plugins pass the same conformance suites as third-party plugins."""

from decimal import Decimal
from importlib import resources
from pathlib import Path

from tradewind.builtins.kill_switch import KillSwitch
from tradewind.builtins.log_notifier import LogNotifier
from tradewind.model import Side, TickBatch
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import (
    FilterConformance,
    NotifierConformance,
    VenueConformance,
)
from tradewind.testing.scenarios import VenueScenarios
from tradewind.venues.replay import ReplayConfig, ReplayVenue
from tradewind.venues.sim import SimulatedVenue, SimVenueConfig, default_instrument

pytest_plugins = "tradewind.testing"

SAMPLE = Path(
    str(
        resources.files("tradewind")
        / "defaults"
        / "data"
        / "tardis_binance-futures_BTCUSDT_trades.csv"
    )
)


def test_builtins_are_installed_through_the_core_entry_points():
    assert_plugin_installed("venues", "sim", SimulatedVenue)
    assert_plugin_installed("venues", "replay", ReplayVenue)
    assert_plugin_installed("notifiers", "log", LogNotifier)
    assert_plugin_installed("filters", "killswitch", KillSwitch)


class TestSimVenue(VenueConformance):
    plugin_class = SimulatedVenue


class TestReplayVenue(VenueConformance):
    plugin_class = ReplayVenue

    def make_config(self):
        return ReplayConfig(path=str(SAMPLE), chunk_ticks=1000)


class TestLogNotifier(NotifierConformance):
    plugin_class = LogNotifier


class TestKillSwitch(FilterConformance):
    plugin_class = KillSwitch


class TestSimVenueScenarios(VenueScenarios):
    """The venue scenarios on the simulated venue: the engine's role of feeding it the tape is
    played by :meth:`execute` (one trade through the order's price)."""

    plugin_class = SimulatedVenue
    market_type = "perp"
    instrument = "sim:BTCUSDT"
    quantity = Decimal("0.01")
    resting_buy_price = Decimal("20000")

    async def make_venue(self) -> SimulatedVenue:
        self.venue = SimulatedVenue(SimVenueConfig(latency_ms=0), instance="sim")
        self.venue.add_instruments([default_instrument()])  # as the engine does
        self.t_ns = 1_000_000_000
        await self.venue.connect()
        return self.venue

    def market_executes_itself(self) -> bool:
        return False  # a simulated venue fills against the tape it is fed

    def execute(
        self, client_order_id: str, price: Decimal | None = None, quantity: Decimal | None = None
    ) -> None:
        # A print one tick beyond a resting buy's price (the default queue rule is "through"),
        # or at 50,000 for a market order; as large as what is left unless a size is given.
        # A market order takes prints initiated on its own side (docs/venues/sim.md); a
        # resting limit fills on the other side's prints through its price.
        px = float(price - Decimal("0.1")) if price is not None else 50_000.0
        size = float(quantity) if quantity is not None else 10.0
        sim_order = self.venue._orders.get(client_order_id)  # the test plays the tape's role
        buy = sim_order is not None and sim_order.order.side is Side.BUY
        aggressor = (1 if buy else -1) if price is None else (-1 if buy else 1)
        self.t_ns += 1_000_000
        self.venue.on_trades(
            TickBatch.from_arrays(self.instrument, [self.t_ns], [px], [size], [aggressor])
        )
