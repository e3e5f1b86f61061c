"""The core's analyzer conformance suite, run against the profile analyzer."""

from __future__ import annotations

from tradewind.testing.conformance import AnalyzerConformance

from tradewind_analyzer_profile import ProfileAnalyzer

pytest_plugins = "tradewind.testing"


class TestConformance(AnalyzerConformance):
    """Streams candles and ticks, reports floats with stable keys, deterministically."""

    plugin_class = ProfileAnalyzer
