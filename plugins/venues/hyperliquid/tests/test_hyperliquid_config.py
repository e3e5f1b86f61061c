"""The venue's config: mainnet or testnet must be said, secrets are env references."""

from __future__ import annotations

from pathlib import Path

import pytest
from tradewind._serde import structure
from tradewind.config import load_config
from tradewind.errors import ConfigError
from tradewind_venue_hyperliquid import HyperliquidConfig
from tradewind_venue_hyperliquid.constants import MAINNET_API_URL, TESTNET_API_URL

HOST_CONFIG = """
mode = "paper"

[[instruments]]
symbol = "BTC"
venue = "hl"
lot_size = "0.00001"
tick_size = "1"

[venues.hl]
plugin = "hyperliquid"
{network}
private_key = "env:TW_TEST_HL_KEY"
"""


def write(tmp_path: Path, network_line: str) -> Path:
    path = tmp_path / "tradewind.toml"
    path.write_text(HOST_CONFIG.format(network=network_line), encoding="utf-8")
    return path


def test_a_host_config_without_network_fails_naming_the_key(tmp_path, hl_env):
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, ""))
    message = str(err.value)
    assert "network is required and has no default" in message
    assert 'network = "mainnet"' in message and 'network = "testnet"' in message
    assert "@ $.venues.hl" in message


def test_a_host_config_with_network_loads(tmp_path, hl_env):
    cfg = load_config(write(tmp_path, 'network = "testnet"'))
    venue_cfg = cfg.instances("venues")["hl"].config
    assert venue_cfg.network == "testnet" and venue_cfg.api_url == TESTNET_API_URL


def test_network_is_required_when_built_directly():
    with pytest.raises(ValueError, match="network is required"):
        HyperliquidConfig()


@pytest.mark.parametrize("network", ["Mainnet", "main", "devnet", ""])
def test_network_must_be_mainnet_or_testnet(network):
    with pytest.raises(ConfigError, match=r"network must be one of 'mainnet', 'testnet'"):
        structure({"network": network}, HyperliquidConfig, path="$.venues.hl")


def test_urls_and_signing_chain_follow_network():
    main = HyperliquidConfig(network="mainnet")
    test = HyperliquidConfig(network="testnet")
    assert main.api_url == MAINNET_API_URL and main.is_mainnet
    assert test.api_url == TESTNET_API_URL and not test.is_mainnet
    # An override changes where requests go, never which chain is signed for.
    proxy = HyperliquidConfig(network="mainnet", base_url="http://127.0.0.1:9/")
    assert proxy.api_url == "http://127.0.0.1:9" and proxy.is_mainnet
    assert proxy.ws_url == "ws://127.0.0.1:9/ws"
    assert main.ws_url == "wss://api.hyperliquid.xyz/ws"


def test_a_literal_private_key_is_refused():
    with pytest.raises(ConfigError, match=r"env:NAME.*@ \$\.venues\.hl\.private_key"):
        structure(
            {"network": "testnet", "private_key": "0x" + "11" * 32},
            HyperliquidConfig,
            path="$.venues.hl",
        )


def test_unknown_keys_and_bad_leverage_name_their_path():
    with pytest.raises(ConfigError, match=r"unknown key @ \$\.venues\.hl\.leverge"):
        structure({"network": "testnet", "leverge": {}}, HyperliquidConfig, path="$.venues.hl")
    with pytest.raises(ConfigError, match=r"leverage\.ETH: ETH is not in symbols"):
        structure(
            {"network": "testnet", "symbols": ["BTC"], "leverage": {"ETH": 3}},
            HyperliquidConfig,
            path="$.venues.hl",
        )
    with pytest.raises(ConfigError, match=r"leverage\.BTC must be at least 1"):
        structure({"network": "testnet", "leverage": {"BTC": 0}}, HyperliquidConfig)


def test_the_config_repr_shows_secret_references_only(hl_env):
    cfg = structure({"network": "testnet", "private_key": "env:TW_TEST_HL_KEY"}, HyperliquidConfig)
    assert "env:TW_TEST_HL_KEY" in repr(cfg)
    from hyperliquid_local_server import WALLET_KEY

    assert WALLET_KEY[2:] not in repr(cfg)
