"""Config loading: structure, plugin instances, secrets, and errors that name their path."""

from pathlib import Path

import pytest
from tradewind.config import Mode, load_config
from tradewind.errors import ConfigError, PluginNotInstalledError, SecretNotSetError
from tradewind.secrets import Secret

BASE = """
mode = "backtest"

[[instruments]]
symbol = "BTCUSDT"
venue = "sim"
data = "replay"

[venues.sim]
plugin = "sim"

[venues.replay]
plugin = "replay"
path = "trades.csv"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "tradewind.toml"
    p.write_text(text, encoding="utf-8")
    return p


def test_a_minimal_config_loads_with_the_essential_kill_switch(tmp_path):
    cfg = load_config(write(tmp_path, BASE))
    assert cfg.mode is Mode.BACKTEST
    assert list(cfg.instances("venues")) == ["sim", "replay"]
    assert "killswitch" in cfg.instances("filters")  # essential, though not in the file
    assert cfg.instruments[0].to_instrument().key == "sim:BTCUSDT"


def test_table_key_names_the_instance_and_plugin_the_entry_point(tmp_path):
    text = (
        BASE
        + '\n[notifiers.ops]\nplugin = "log"\n'
        + '[notifiers.audit]\nplugin = "log"\nmin_severity = "debug"\n'
    )
    cfg = load_config(write(tmp_path, text))
    ops, audit = cfg.instances("notifiers")["ops"], cfg.instances("notifiers")["audit"]
    assert ops.plugin == audit.plugin == "log"
    assert audit.config.min_severity == "debug" and ops.config.min_severity == "info"


def test_a_misspelled_plugin_option_names_its_path(tmp_path):
    text = BASE.replace('path = "trades.csv"', 'path = "trades.csv"\nchunk_tiks = 5')
    with pytest.raises(ConfigError, match=r"unknown key @ \$\.venues\.replay\.chunk_tiks"):
        load_config(write(tmp_path, text))


def test_a_misspelled_core_key_names_its_path(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key @ \$\.run\.jurnal"):
        load_config(write(tmp_path, BASE + '\n[run]\njurnal = "x.duckdb"\n'))


def test_a_wrong_type_names_its_path(tmp_path):
    text = BASE.replace(
        '[venues.sim]\nplugin = "sim"', '[venues.sim]\nplugin = "sim"\nlatency_ms = "fast"'
    )
    with pytest.raises(
        ConfigError, match=r"expected a number, got 'fast' @ \$\.venues\.sim\.latency_ms"
    ):
        load_config(write(tmp_path, text))


def test_invalid_toml_names_the_file_and_line(tmp_path):
    with pytest.raises(ConfigError, match=r"tradewind.toml is not valid TOML: .*line 2"):
        load_config(write(tmp_path, 'mode = "backtest"\n[venues\n'))


def test_an_uninstalled_plugin_lists_what_is_installed_and_the_fix(tmp_path):
    text = BASE + '\n[venues.binance]\nplugin = "binanse"\n'
    with pytest.raises(PluginNotInstalledError) as err:
        load_config(write(tmp_path, text))
    msg = str(err.value)
    assert "venue 'binanse' ([venues.binance] in tradewind.toml) is not installed" in msg
    installed = msg.split("installed venues: ")[1].split(".")[0].split(", ")
    assert {"replay", "sim"} <= set(installed) and installed == sorted(installed)
    # No pip command built from the config's spelling: anyone could register that name.
    assert "pip install" not in msg
    assert "Install the distribution that provides the venue entry point 'binanse'" in msg


def test_a_near_typo_of_an_installed_plugin_says_did_you_mean(tmp_path):
    text = BASE + '\n[notifiers.ops]\nplugin = "lgo"\n'
    with pytest.raises(PluginNotInstalledError, match=r"\(did you mean 'log'\?\)") as err:
        load_config(write(tmp_path, text))
    assert "pip install" not in str(err.value)


def test_a_shipped_plugin_that_is_not_installed_names_its_real_install_path(tmp_path):
    text = BASE + '\n[venues.hl]\nplugin = "hyperliquid"\n'
    with pytest.raises(PluginNotInstalledError) as err:
        load_config(write(tmp_path, text))
    assert "pip install -e plugins/venues/hyperliquid" in str(err.value)


def test_the_kill_switch_cannot_be_disabled(tmp_path):
    with pytest.raises(ConfigError, match="essential and cannot be disabled"):
        load_config(write(tmp_path, BASE + "\n[filters.killswitch]\nenabled = false\n"))


def test_an_instrument_naming_a_missing_venue_instance(tmp_path):
    with pytest.raises(
        ConfigError, match=r"no \[venues\.bybit\] table exists .* @ \$\.instruments\[0\]\.venue"
    ):
        load_config(write(tmp_path, BASE.replace('venue = "sim"', 'venue = "bybit"')))


def test_secret_literals_are_refused_and_unset_secrets_named(tmp_path, fake_dists, monkeypatch):
    fake_dists.add(
        "tradewind-notifier-keyed",
        "1.0",
        {"tradewind.notifiers": {"keyed": "keyed_notifier"}},
        {"keyed_notifier": KEYED_SRC},
    )
    text = BASE + '\n[notifiers.keyed]\napi_key = "sk-live-123"\n'
    with pytest.raises(ConfigError) as err:
        load_config(write(tmp_path, text))
    assert "env:NAME" in str(err.value) and "$.notifiers.keyed.api_key" in str(err.value)
    assert "sk-live-123" not in str(err.value)

    text = BASE + '\n[notifiers.keyed]\napi_key = "env:TW_TEST_KEY"\n'
    monkeypatch.delenv("TW_TEST_KEY", raising=False)
    with pytest.raises(
        SecretNotSetError, match=r"env:TW_TEST_KEY is not set.* @ \$\.notifiers\.keyed\.api_key"
    ):
        load_config(write(tmp_path, text))
    monkeypatch.setenv("TW_TEST_KEY", "sk-live-123")
    cfg = load_config(write(tmp_path, text))
    secret = cfg.instances("notifiers")["keyed"].config.api_key
    assert isinstance(secret, Secret) and secret.reveal() == "sk-live-123"
    assert "sk-live-123" not in repr(cfg.instances("notifiers")["keyed"])


KEYED_SRC = """
import attrs
from tradewind import hookimpl
from tradewind.secrets import Secret

@attrs.frozen(kw_only=True)
class Cfg:
    api_key: Secret

class Keyed:
    name = "keyed"
    config_class = Cfg
    capabilities = frozenset()
    def __init__(self, config): self.config = config
    async def start(self): pass
    async def notify(self, event): pass
    async def close(self): pass

@hookimpl
def tradewind_register_notifiers(registry):
    registry.add(Keyed)
"""


def test_plugin_path_options_resolve_against_the_config_folder(tmp_path, monkeypatch):
    """Not the working directory: a config run from elsewhere finds its files."""
    from tradewind.config_check import check_config

    folder = tmp_path / "strategy"
    folder.mkdir()
    (folder / "trades.csv").write_text("", encoding="utf-8")
    (folder / "funding.csv").write_text("ts_ms,rate\n", encoding="utf-8")
    text = BASE.replace('plugin = "sim"', 'plugin = "sim"\nfunding_file = "funding.csv"')
    text += '\n[filters.killswitch]\ntrip_file = "KILL"\n'
    cfg_path = folder / "tradewind.toml"
    cfg_path.write_text(text, encoding="utf-8")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = check_config(cfg_path)
    assert Path(cfg.instances("venues")["replay"].config.path) == folder / "trades.csv"
    assert Path(cfg.instances("venues")["sim"].config.funding_file) == folder / "funding.csv"
    assert Path(cfg.instances("filters")["killswitch"].config.trip_file) == folder / "KILL"
