"""The core's built-in plugins pass the same conformance suites as third-party plugins."""

from importlib import resources
from pathlib import Path

from tradewind.builtins.kill_switch import KillSwitch
from tradewind.builtins.log_notifier import LogNotifier
from tradewind.builtins.replay import ReplayConfig, ReplayVenue
from tradewind.builtins.sim_venue import SimulatedVenue
from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import (
    FilterConformance,
    NotifierConformance,
    VenueConformance,
)

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
