"""``[routing]`` in the host config: read into ``Config.routing`` and validated by
``tradewind config check`` (names that are not aggregator instances, an ordered chain without
a primary, a non-numeric chain key, an out-of-range slippage), each error with its path."""

from __future__ import annotations

import pytest
from tradewind.config import load_config
from tradewind.errors import ConfigError

from tests.conftest import run_cli
from tests.test_cli_errors import assert_one_error_line
from tests.test_config import BASE, write


def test_routing_is_read_into_the_config(tmp_path):
    cfg = load_config(
        write(
            tmp_path,
            BASE
            + """
[routing]
deadline_s = 1.5
slippage = "0.002"
direct = true
[routing.chains.8453]
primary = "direct"
""",
        )
    )
    assert cfg.routing.deadline_s == 1.5 and cfg.routing.slippage == "0.002"
    assert cfg.routing.order_for(8453) == ["direct"]
    assert cfg.routing.order_for(1) is None


def test_a_config_without_routing_has_the_defaults(tmp_path):
    cfg = load_config(write(tmp_path, BASE))
    assert (cfg.routing.deadline_s, cfg.routing.slippage, cfg.routing.direct) == (
        2.0,
        "0.005",
        True,
    )


@pytest.mark.parametrize(
    ("table", "fragments"),
    [
        (
            '[routing.chains.1]\nprimary = "zeroex"\n',
            [
                "routing names 'zeroex', which is not an [aggregators.<key>] instance",
                "@ $.routing.chains.1",
            ],
        ),
        (
            '[routing.chains.1]\nmode = "ordered"\n',
            ['an ordered chain needs primary = "<aggregator>" @ $.routing.chains.1'],
        ),
        (
            '[routing.chains.base]\nmode = "best"\n',
            ["a chain is named by its numeric chain id, got 'base' @ $.routing.chains.base"],
        ),
        ('[routing]\nslippage = "2"\n', ["slippage must be a decimal fraction in [0, 1)"]),
        ('[routing.chains.1]\nprimery = "direct"\n', ["primery"]),
    ],
)
def test_config_check_refuses_a_bad_routing_table(tmp_path, table, fragments):
    cfg = write(tmp_path, BASE + "\n" + table)
    with pytest.raises(ConfigError):
        load_config(cfg)
    proc = run_cli("config", "check", str(cfg))
    assert_one_error_line(proc, *fragments, code=2)
