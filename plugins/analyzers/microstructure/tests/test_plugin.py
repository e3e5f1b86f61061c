"""The distribution is installed and its entry point registers the analyzer."""

from __future__ import annotations

from tradewind.loader import PluginRequest, load_host

from tradewind_analyzer_microstructure import MicrostructureAnalyzer


def test_plugin_is_installed() -> None:
    host = load_host(
        [
            PluginRequest(
                kind="analyzers", name="microstructure", config_key="[analyzers.microstructure]"
            )
        ]
    )
    assert host.plugin_class("analyzers", "microstructure") is MicrostructureAnalyzer
    loaded = host.loaded[("analyzers", "microstructure")]
    assert loaded.distribution == "tradewind-analyzer-microstructure"
