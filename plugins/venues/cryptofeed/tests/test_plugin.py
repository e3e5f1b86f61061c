"""The distribution is installed and its entry point registers the venue."""

from tradewind.loader import PluginRequest, load_host

from tradewind_venue_cryptofeed import CryptofeedVenue


def test_plugin_is_installed():
    host = load_host(
        [PluginRequest(kind="venues", name="cryptofeed", config_key="[venues.cryptofeed]")]
    )
    assert host.plugin_class("venues", "cryptofeed") is CryptofeedVenue
