"""The core's analyzer conformance suite, run against the microstructure analyzer."""

from __future__ import annotations

from tradewind.testing.conformance import AnalyzerConformance

from tradewind_analyzer_microstructure import MicrostructureAnalyzer

pytest_plugins = "tradewind.testing"


class TestConformance(AnalyzerConformance):
    """Streams candles, reports floats with stable keys, deterministically."""

    plugin_class = MicrostructureAnalyzer
