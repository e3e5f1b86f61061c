"""The distribution is installed and its entry point registers the analyzer."""

from __future__ import annotations

from tradewind.loader import PluginRequest, load_host

from tradewind_analyzer_profile import ProfileAnalyzer


def test_plugin_is_installed() -> None:
    host = load_host(
        [PluginRequest(kind="analyzers", name="profile", config_key="[analyzers.profile]")]
    )
    assert host.plugin_class("analyzers", "profile") is ProfileAnalyzer
    assert host.loaded[("analyzers", "profile")].distribution == "tradewind-analyzer-profile"
