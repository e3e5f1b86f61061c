"""tradewind's pytest plugin for plugin authors.

It is a ``pytest11`` plugin, active in every pytest run where tradewind is installed (naming
it in ``pytest_plugins = "tradewind.testing"`` as well is harmless). It gives:

- :func:`make_registry` / the ``tw_registry_factory`` fixture: a registry filled from plugin
  modules directly, without entry points (for unit tests of a plugin under development);
- :func:`assert_plugin_installed`: goes through the real entry-point loader;
- fixtures ``tw_instrument``, ``tw_candles`` (a deterministic candle path on 1m/5m/15m),
  ``tw_risk_context`` (a real :class:`~tradewind.trading.portfolio.Portfolio`);
- conformance suites per kind in :mod:`tradewind.testing.conformance`;
- with ``TRADEWIND_FAIL_ALL_SKIPPED=1`` (set by the project's tox envs), a run whose every test
  skipped fails: a part missing from an environment must not pass for a test run.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from decimal import Decimal
from types import ModuleType

import pluggy
import pytest

# The suites assert inside library code: have pytest rewrite them for readable failures. This
# must run before they are imported below.
pytest.register_assert_rewrite(
    "tradewind.testing.conformance",
    "tradewind.testing.data",
    "tradewind.testing.portfolios",
    "tradewind.testing.scenarios",
)

from tradewind import hookspecs  # noqa: E402
from tradewind.loader import PluginRequest, load_host  # noqa: E402
from tradewind.model import Instrument  # noqa: E402
from tradewind.protocols import KINDS  # noqa: E402
from tradewind.registry import Registry  # noqa: E402
from tradewind.testing.data import candle_path  # noqa: E402
from tradewind.testing.portfolios import book_fill, make_order, make_signal, portfolio_with  # noqa: E402
from tradewind.trading.portfolio import Portfolio  # noqa: E402


def make_registry(*modules: ModuleType | object) -> Registry:
    """A registry filled by calling the registration hooks of ``modules`` (no entry points)."""
    pm = pluggy.PluginManager("tradewind")
    pm.add_hookspecs(hookspecs)
    for i, module in enumerate(modules):
        pm.register(module, name=f"test:{getattr(module, '__name__', i)}")
    pm.check_pending()
    registry = Registry()
    for kind in KINDS:
        getattr(pm.hook, f"tradewind_register_{kind}")(registry=registry[kind])
    return registry


def assert_plugin_installed(kind: str, name: str, cls: type) -> None:
    """Load ``kind:name`` through the real entry-point loader and check it registers ``cls``."""
    host = load_host([PluginRequest(kind=kind, name=name, config_key=f"[{kind}.{name}]")])
    found = host.plugin_class(kind, name)
    assert found is cls, f"{kind}:{name} registered {found!r}, expected {cls!r}"


def default_instrument() -> Instrument:
    """A BTCUSDT perp on a venue called 'sim' with Binance futures' fees."""
    from tradewind.venues.sim import default_instrument as sim_default

    return sim_default()


@pytest.fixture
def tw_registry_factory() -> Callable[..., Registry]:
    """``make_registry`` as a fixture."""
    return make_registry


@pytest.fixture
def tw_instrument() -> Instrument:
    """The default test instrument."""
    return default_instrument()


@pytest.fixture
def tw_candles(tw_instrument: Instrument) -> list:
    """Two hours of 1m/5m/15m candles in close order from a seeded random walk."""
    return candle_path(tw_instrument.key, minutes=120, seed=7)


@pytest.fixture
def tw_risk_context(tw_instrument: Instrument) -> Portfolio:
    """A portfolio with 10,000 quote currency and a mark at 50,000."""
    pf = Portfolio({tw_instrument.key: tw_instrument}, Decimal(10_000))
    pf.mark(tw_instrument.key, 50_000.0, 1_600_000_000_000_000_000)
    return pf


__all__ = [
    "assert_plugin_installed",
    "book_fill",
    "default_instrument",
    "make_order",
    "make_registry",
    "make_signal",
    "portfolio_with",
]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """With ``TRADEWIND_FAIL_ALL_SKIPPED=1``: a run that skipped tests and passed none fails
    (exit 1) instead of passing green."""
    if os.environ.get("TRADEWIND_FAIL_ALL_SKIPPED") != "1" or exitstatus != 0:
        return
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return
    passed = [r for r in reporter.stats.get("passed", []) if r.when == "call"]
    skipped = reporter.stats.get("skipped", [])
    if skipped and not passed:
        reporter.write_line(
            f"tradewind: every test of this run skipped ({len(skipped)}): failing the run "
            "(TRADEWIND_FAIL_ALL_SKIPPED=1)",
            red=True,
        )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
