"""The core's analyzer conformance suite, run against this plugin."""

from tradewind.testing.conformance import AnalyzerConformance

from tradewind_analyzer_regime import RegimeAnalyzer, RegimeConfig

pytest_plugins = "tradewind.testing"


class TestConformance(AnalyzerConformance):
    plugin_class = RegimeAnalyzer


class TestConformanceOnOneMinute(AnalyzerConformance):
    """The suite's four-hour session gives 16 candles of 15m, short of the 101-candle warm-up;
    on 1m every output is defined by the end of it."""

    plugin_class = RegimeAnalyzer

    def make_config(self) -> RegimeConfig:
        return RegimeConfig(timeframe="1m")

    def test_every_output_is_defined_after_the_session(self) -> None:
        values = self.feed(self.build())
        assert all(v == v for v in values.values()), values
