"""The ``values`` venue capability: a data venue's own measurements, read like analyzer outputs.

The end-to-end run (a DEX pool's liquidity read by the ``liquidity`` exit, on a local chain) is
plugins/venues/evm/tests/test_evm_liquidity_exit.py; these are the core's two parts of it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import ClassVar

import pytest
from tradewind.protocols import check_capabilities
from tradewind.trading.engine import AnalyzerValues, _VenueValues


class _Pools:
    """A data venue that measured one pool's liquidity and not yet the other's."""

    capabilities: ClassVar[frozenset[str]] = frozenset({"values"})

    def __init__(self) -> None:
        self.measured: dict[str, dict[str, float]] = {"dex:A/B": {"liquidity": 1500.0}}

    def venue_values(self, instrument: str) -> Mapping[str, float]:
        return self.measured.get(instrument, {"liquidity": math.nan})


class _Analyzer:
    def __init__(self, value: float) -> None:
        self.value = value

    def values(self) -> Mapping[str, float]:
        return {"x": self.value}


def test_venue_values_read_as_instance_dot_name_and_refresh_with_the_analyzers() -> None:
    venue = _Pools()
    values = AnalyzerValues([("flow", _Analyzer(2.0))])
    values.add_source("dex", _VenueValues(venue, "dex:A/B"))
    assert values["dex.liquidity"] == 1500.0 and values["flow.x"] == 2.0
    assert set(values) == {"dex.liquidity", "flow.x"}
    venue.measured["dex:A/B"] = {"liquidity": 900.0}
    assert values["dex.liquidity"] == 1500.0  # read once per decision point
    values.refresh()
    assert values["dex.liquidity"] == 900.0
    other = AnalyzerValues([])
    other.add_source("dex", _VenueValues(venue, "dex:C/D"))
    assert math.isnan(other["dex.liquidity"])
    with pytest.raises(KeyError):
        other["dex.depth"]


def test_a_venue_declaring_values_without_venue_values_is_refused() -> None:
    class NoValues:
        capabilities: ClassVar[frozenset[str]] = frozenset({"values"})

    with pytest.raises(TypeError, match=r"values \(VenueValuesCapability\) @ \$\.venues\.dex"):
        check_capabilities(NoValues(), "$.venues.dex")
    check_capabilities(_Pools(), "$.venues.dex")
