"""The distribution is installed and its entry point registers the analyzer."""

from tradewind.loader import PluginRequest, load_host

from tradewind_analyzer_orderflow import OrderFlowAnalyzer


def test_plugin_is_installed():
    host = load_host(
        [PluginRequest(kind="analyzers", name="orderflow", config_key="[analyzers.orderflow]")]
    )
    assert host.plugin_class("analyzers", "orderflow") is OrderFlowAnalyzer
