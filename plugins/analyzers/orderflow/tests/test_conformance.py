"""The core's analyzer conformance suite, run against this plugin."""

from tradewind.testing.conformance import AnalyzerConformance

from tradewind_analyzer_orderflow import OrderFlowAnalyzer

pytest_plugins = "tradewind.testing"


class TestConformance(AnalyzerConformance):
    plugin_class = OrderFlowAnalyzer
