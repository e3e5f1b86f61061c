"""The distribution is installed and its entry point registers the analyzer."""

from tradewind.loader import PluginRequest, load_host

from tradewind_analyzer_regime import RegimeAnalyzer


def test_plugin_is_installed():
    host = load_host(
        [PluginRequest(kind="analyzers", name="regime", config_key="[analyzers.regime]")]
    )
    assert host.plugin_class("analyzers", "regime") is RegimeAnalyzer
