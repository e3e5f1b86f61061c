"""A venue that cannot carry out the engine's close for a market type it declares fails the
scenario conformance suite (issue 9: "a conformance failure, not a log line").

The suite (:class:`tradewind.testing.scenarios.VenueScenarios`) is run by pytest itself, through
``pytester``, on the simulated venue as tests/test_builtins_conformance.py runs it, and on two
broken copies: one that refuses every reduce-only order (what the ccxt venue once did on spot,
here on the perpetual it declares), and one that does not declare ``reduce_only`` at all.
"""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest
from tradewind.config import load_config
from tradewind.errors import ConfigError
from tradewind.trading.engine import Engine
from tradewind.venues.sim import SimulatedVenue

from tests.conftest import REPO
from tests.test_engine import demo_config_text

pytest_plugins = "pytester"

_MODULE = """
from tradewind.errors import OrderRejectedError
import tests.test_builtins_conformance as base

pytest_plugins = "tradewind.testing"


class RefusesReduceOnly(base.SimulatedVenue):
    async def submit_order(self, order):
        if order.reduce_only:
            raise OrderRejectedError("reduce-only orders are not supported by this venue")
        return await super().submit_order(order)


class WithoutReduceOnly(base.SimulatedVenue):
    capabilities = base.SimulatedVenue.capabilities - {"reduce_only"}


class TestVenue(base.TestSimVenueScenarios):
    venue_class = {venue_class}

    async def make_venue(self):
        self.venue = self.venue_class(base.SimVenueConfig(latency_ms=0), instance="sim")
        self.venue.add_instruments([base.default_instrument()])
        self.t_ns = 1_000_000_000
        await self.venue.connect()
        return self.venue
"""


@pytest.mark.parametrize(
    ("venue_class", "failing"),
    [
        ("base.SimulatedVenue", set()),
        ("RefusesReduceOnly", {"test_open_and_close_a_position"}),
        ("WithoutReduceOnly", {"test_declares_the_capabilities_its_market_type_needs"}),
    ],
)
def test_the_scenarios_fail_a_venue_that_cannot_close_what_it_declares(
    pytester: pytest.Pytester,
    monkeypatch: pytest.MonkeyPatch,
    venue_class: str,
    failing: set[str],
) -> None:
    # The inner run imports the suite's set-up from this repository's tests package.
    monkeypatch.setenv(
        "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    )
    pytester.makepyfile(test_venue=_MODULE.replace("{venue_class}", venue_class))
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-rf")
    outcomes = result.parseoutcomes()
    failed = {
        line.split("::")[-1].split(" ")[0]
        for line in result.outlines
        if line.startswith("FAILED test_venue.py::")
    }
    assert failed == failing, result.stdout.str()
    assert outcomes.get("passed", 0) >= 3, result.stdout.str()
    if failing == {"test_open_and_close_a_position"}:
        result.stdout.fnmatch_lines(["*reduce-only orders are not supported by this venue*"])
    if failing == {"test_declares_the_capabilities_its_market_type_needs"}:
        result.stdout.fnmatch_lines(["*a perpetual close is reduce-only*"])


def test_the_engine_refuses_to_start_a_perpetual_on_a_venue_without_reduce_only(
    tmp_path: Path,
) -> None:
    """The demo backtest (a BTCUSDT perpetual on the simulated venue) with its venue replaced
    by a copy that does not declare ``reduce_only``: the run stops before trading, naming the
    instrument and the config key, instead of logging each refused close."""
    cfg = tmp_path / "demo.toml"
    cfg.write_text(demo_config_text(tmp_path))
    engine = Engine(load_config(cfg))
    sim = engine.venues["sim"]
    broken = _NoReduceOnly(sim.config, instance="sim")
    broken.add_instruments(list(engine.instruments.values()))
    engine.venues["sim"] = broken
    for st in engine.state.values():
        st.exec_venue = broken
    with pytest.raises(Exception) as caught:
        anyio.run(engine.run)
    err = find_exception(caught.value, ConfigError)
    assert err is not None, repr(caught.value)
    assert "sim:BTCUSDT is a perpetual" in str(err)
    assert "does not declare reduce_only" in str(err)
    assert "@ $.instruments[0].kind" in str(err)
    assert not engine.orders.fills


class _NoReduceOnly(SimulatedVenue):
    capabilities = SimulatedVenue.capabilities - {"reduce_only"}


def find_exception(exc: BaseException, kind: type[BaseException]) -> BaseException | None:
    """``exc`` or the first exception of type ``kind`` inside (nested) exception groups."""
    if isinstance(exc, kind):
        return exc
    for inner in getattr(exc, "exceptions", ()):
        hit = find_exception(inner, kind)
        if hit is not None:
            return hit
    return None
