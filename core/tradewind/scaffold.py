"""``tradewind new-plugin KIND NAME``: a plugin distribution whose own tests pass out of the box.

The generated package is a working plugin, not a placeholder: the notifier appends each
message to a file through the outbox (routing, retries and crash recovery are the host's),
the analyzer reports the last close and the candle count per timeframe, the filter caps order
notional, the exit monitor closes after a maximum holding time, the venue trades spot on a
tiny JSON-over-HTTP exchange that its tests serve locally (:mod:`tradewind.scaffold_venue`,
with the venue scenario suite too). Each
comes with ``test_plugin_is_installed`` (through the real loader) and the core's conformance
suite for its kind.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path

from tradewind.errors import TradewindError
from tradewind.protocols import DIST_PREFIX

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

_PYPROJECT = """[build-system]
requires = ["setuptools>=68", "wheel"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "A tradewind {singular} plugin: {name}."
requires-python = ">=3.11"
dependencies = {deps}

[project.optional-dependencies]
test = ["pytest>=8"]

[project.entry-points."tradewind.{kind}"]
{name} = "{package}.plugin"

[tool.setuptools.packages.find]
where = ["src"]
"""

_COMMON_TEST = '''"""Tests of the {name} {singular} plugin."""

from {package}.plugin import {cls}

from tradewind.testing import assert_plugin_installed
from tradewind.testing.conformance import {suite}

pytest_plugins = "tradewind.testing"


def test_plugin_is_installed():
    assert_plugin_installed("{kind}", "{name}", {cls})


class TestConformance({suite}):
    plugin_class = {cls}
'''

_NOTIFIER = '''"""The {name} notifier: appends each message to a file, through the outbox.

The host routes events (min_severity, events, digests, daily summary, templates), writes each
message to the outbox in the journal, retries failures with backoff and sends what a crash
left pending at the next start; this class only delivers one rendered message.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

import attrs

from tradewind import hookimpl
from tradewind.notify import Message, NotifierOptions, OutboxNotifier, RetryLater


@attrs.frozen(kw_only=True)
class {cls}Config(NotifierOptions):
    """Options of the {name} notifier (plus the routing options of every notifier)."""

    #: File the messages are appended to.
    path: str = "{name}-events.log"


class {cls}(OutboxNotifier):
    """Appends one line per message to ``config.path``."""

    name: ClassVar[str] = "{name}"
    config_class: ClassVar[type] = {cls}Config
    capabilities: ClassVar[frozenset[str]] = frozenset({{"text", "outbox"}})

    def __init__(self, config: {cls}Config) -> None:
        super().__init__(config)
        self.config: {cls}Config = config

    async def deliver(self, message: Message) -> None:
        """Append ``kind: title | text`` (raise RetryLater for a transient failure,
        Undeliverable for a permanent one)."""
        line = f"{{message.kind}}: {{message.title}} | {{message.text}}".replace("\\n", " / ")
        try:
            with Path(self.config.path).open("a", encoding="utf-8") as f:
                f.write(line + "\\n")
        except OSError as exc:
            raise RetryLater(f"cannot append to {{self.config.path}}: {{exc}}") from exc


@hookimpl
def tradewind_register_notifiers(registry):
    """Register the {name} notifier."""
    registry.add({cls})
'''

_NOTIFIER_TEST = (
    _COMMON_TEST
    + """
    def make_config(self):
        import tempfile
        from pathlib import Path

        from {package}.plugin import {cls}Config

        return {cls}Config(path=str(Path(tempfile.mkdtemp()) / "events.log"))

    def receiver(self):
        \"\"\"The file the notifier appends to, and its lines as they are now.\"\"\"
        import contextlib
        from pathlib import Path

        config = self.make_config()

        class Lines:
            def __iter__(self):
                path = Path(config.path)
                text = path.read_text(encoding="utf-8") if path.exists() else ""
                return iter(text.splitlines())

            def __bool__(self):
                return any(True for _ in self)

        @contextlib.asynccontextmanager
        async def serve():
            yield config, Lines()

        return serve()
"""
)

_ANALYZER = '''"""The {name} analyzer: the last close and the candle count, per timeframe."""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

import attrs

from tradewind import hookimpl
from tradewind.model import Candle, Instrument
from tradewind.timeframes import format_timeframe, parse_timeframe


def _timeframes(_inst, attr, value):
    # Validated in the config class: a bad timeframe fails at `tradewind config check`.
    if not value:
        raise ValueError(f"{{attr.name}} must name at least one timeframe")
    for tf in value:
        parse_timeframe(tf)


def _labels(config):
    return [format_timeframe(parse_timeframe(tf)) for tf in config.timeframes]


@attrs.frozen(kw_only=True)
class {cls}Config:
    """Options of the {name} analyzer."""

    #: Timeframes reported (others are ignored).
    timeframes: list[str] = attrs.field(
        factory=lambda: ["1m", "5m", "15m"], validator=_timeframes
    )


class {cls}:
    """Reports ``close_<tf>`` and ``candles_<tf>``; O(1) per update."""

    name: ClassVar[str] = "{name}"
    config_class: ClassVar[type] = {cls}Config
    capabilities: ClassVar[frozenset[str]] = frozenset({{"candles"}})

    @classmethod
    def outputs(cls, config: {cls}Config) -> frozenset[str]:
        """Every key :meth:`values` reports (rules naming another one fail config check)."""
        return frozenset(f"{{kind}}_{{label}}" for label in _labels(config)
                         for kind in ("close", "candles"))

    def __init__(self, config: {cls}Config, instrument: Instrument) -> None:
        self.instrument = instrument
        self._tfs = {{parse_timeframe(tf): format_timeframe(parse_timeframe(tf))
                     for tf in config.timeframes}}
        self._values = {{}}
        for label in self._tfs.values():
            self._values[f"close_{{label}}"] = float("nan")
            self._values[f"candles_{{label}}"] = 0.0

    def on_candle(self, candle: Candle) -> None:
        """Take one closed candle."""
        label = self._tfs.get(candle.timeframe_ns)
        if label is None:
            return
        self._values[f"close_{{label}}"] = float(candle.close)
        self._values[f"candles_{{label}}"] += 1.0

    def values(self) -> Mapping[str, float]:
        """The current outputs."""
        return dict(self._values)


@hookimpl
def tradewind_register_analyzers(registry):
    """Register the {name} analyzer."""
    registry.add({cls})
'''

_FILTER = '''"""The {name} filter: vetoes opening signals whose notional exceeds max_notional."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

import attrs

from tradewind import hookimpl
from tradewind.model import Signal, Veto


def _positive(_inst, attr, value):
    # Validated in the config class: `tradewind config check` reports it with its path.
    if not value > 0:
        raise ValueError(f"{{attr.name}} must be positive, got {{value}}")


@attrs.frozen(kw_only=True)
class {cls}Config:
    """Options of the {name} filter."""

    #: Largest notional (entry × quantity) an opening signal may carry.
    max_notional: Decimal = attrs.field(default=Decimal("100000"), validator=_positive)


class {cls}:
    """Caps the notional of new positions."""

    name: ClassVar[str] = "{name}"
    config_class: ClassVar[type] = {cls}Config
    capabilities: ClassVar[frozenset[str]] = frozenset({{"pre-trade"}})
    essential: ClassVar[bool] = False

    def __init__(self, config: {cls}Config) -> None:
        self.config = config

    def check(self, signal: Signal, ctx) -> Veto | None:
        """Veto an opening signal above the cap."""
        if signal.intent != "open" or signal.quantity is None:
            return None
        notional = signal.entry * signal.quantity
        if notional > self.config.max_notional:
            return Veto(filter=self.name, signal=signal, ts_ns=signal.ts_ns,
                        reason=f"notional {{notional}} exceeds {{self.config.max_notional}}")
        return None


@hookimpl
def tradewind_register_filters(registry):
    """Register the {name} filter."""
    registry.add({cls})
'''

_EXIT = '''"""The {name} exit monitor: closes a position held longer than max_hold_minutes."""

from __future__ import annotations

from typing import ClassVar

import attrs

from tradewind import hookimpl
from tradewind.model import ExitDecision


def _positive(_inst, attr, value):
    # Validated in the config class: `tradewind config check` reports it with its path.
    if not value > 0:
        raise ValueError(f"{{attr.name}} must be positive, got {{value}}")


@attrs.frozen(kw_only=True)
class {cls}Config:
    """Options of the {name} exit monitor."""

    #: Longest time a position may stay open.
    max_hold_minutes: float = attrs.field(default=60.0, validator=_positive)


class {cls}:
    """Exits at the first trade after the holding time has run out."""

    name: ClassVar[str] = "{name}"
    config_class: ClassVar[type] = {cls}Config
    capabilities: ClassVar[frozenset[str]] = frozenset({{"ticks"}})

    def __init__(self, config: {cls}Config) -> None:
        self.limit_ns = int(config.max_hold_minutes * 60e9)

    def on_ticks(self, position, batch, ctx) -> ExitDecision | None:
        """The first trade at or after opened + max hold, if any."""
        due = position.opened_ts_ns + self.limit_ns
        i = int(batch.ts_ns.searchsorted(due))
        if i >= len(batch):
            return None
        return ExitDecision(monitor=self.name, reason="max hold time reached",
                            ts_ns=int(batch.ts_ns[i]), price=float(batch.price[i]))

    def on_candle(self, position, candle, values, ctx) -> ExitDecision | None:
        """Time is checked on ticks only."""
        return None

    def forget(self, instrument: str) -> None:
        """No per-position state."""


@hookimpl
def tradewind_register_exits(registry):
    """Register the {name} exit monitor."""
    registry.add({cls})
'''

_AGGREGATOR = '''"""The {name} aggregator: swap quotes from a JSON API and the transaction to sign.

The API it speaks (adapt ``fetch_quote`` and ``parse_quote`` to yours)::

    GET {{base_url}}/quote?chainId=&sellToken=&buyToken=&sellAmount=&taker=
    -> {{"buyAmount": "...", "minBuyAmount": "...", "gas": "...", "route": ["..."],
        "spender": "0x...", "tx": {{"to": "0x...", "data": "0x...", "value": "0"}}}}

Timeouts, 429 with Retry-After and the API's error bodies are handled by the core's
HttpAggregator; the router checks the transaction against ``routers`` before signing.
"""

from __future__ import annotations

from typing import Any, ClassVar

import attrs

from tradewind import hookimpl
from tradewind.execution import SwapQuote, SwapRequest, TxRequest
from tradewind.execution.aggregator import AggregatorConfig, HttpAggregator, hex_or_int
from tradewind.execution.http import field, integer


@attrs.frozen(kw_only=True)
class {cls}Config(AggregatorConfig):
    """Options of the {name} aggregator (api_key, base_url, chains, routers, timeouts)."""

    base_url: str = "http://127.0.0.1:8080"


def parse_quote(data: Any, request: SwapRequest) -> SwapQuote:
    """The core's quote from the API's answer (AggregatorError when a field is missing)."""
    tx = field(data, "tx", aggregator="{name}")
    return SwapQuote(
        aggregator="{name}", chain_id=request.chain_id, sell_token=request.sell_token,
        buy_token=request.buy_token, sell_amount=request.sell_amount,
        buy_amount=integer(data, "buyAmount", aggregator="{name}"),
        min_buy_amount=integer(data, "minBuyAmount", aggregator="{name}"),
        gas=integer(data, "gas", aggregator="{name}"),
        route=tuple(str(r) for r in data.get("route") or ()),
        tx=TxRequest(to=str(field(tx, "to", aggregator="{name}")),
                     data=str(field(tx, "data", aggregator="{name}")),
                     value=hex_or_int(tx.get("value") or 0), sender=request.wallet),
        spender=str(data.get("spender") or tx["to"]), raw=data,
    )


class {cls}(HttpAggregator):
    """Quotes from the {name} API."""

    name: ClassVar[str] = "{name}"
    config_class: ClassVar[type] = {cls}Config
    key_header: ClassVar[str] = "x-api-key"

    async def fetch_quote(self, request: SwapRequest) -> SwapQuote:
        """Ask the API for a quote with its transaction."""
        data = await self.api.request(
            "GET", "/quote",
            params={{"chainId": str(request.chain_id), "sellToken": request.sell_token,
                    "buyToken": request.buy_token, "sellAmount": str(request.sell_amount),
                    "taker": request.wallet}},
        )
        return parse_quote(data, request)


@hookimpl
def tradewind_register_aggregators(registry):
    """Register the {name} aggregator."""
    registry.add({cls})
'''

_AGGREGATOR_TEST = (
    _COMMON_TEST
    + """
    ROUTER = "0x" + "33" * 20

    def make_config(self):
        from {package}.plugin import {cls}Config

        return {cls}Config()

    def serving(self, mode):
        \"\"\"A local server speaking the API on 127.0.0.1 (port 0), in ``mode``.\"\"\"
        import contextlib

        from aiohttp import web
        from tradewind.execution import SwapRequest
        from tradewind.execution.aggregator import RouterEntry

        from {package}.plugin import {cls}, {cls}Config

        router = self.ROUTER
        wallet = "0x" + "11" * 20

        async def quote(request):
            if mode == "error":
                return web.json_response({{"message": "unknown token"}}, status=400)
            if mode == "malformed":
                return web.Response(text="<html>oops</html>", content_type="text/html")
            amount = int(request.query["sellAmount"])
            return web.json_response({{
                "buyAmount": str(amount * 2000), "minBuyAmount": str(amount * 1990),
                "gas": "150000", "route": ["pool A 100%"], "spender": router,
                "tx": {{"to": router, "data": "0x38ed1739", "value": "0"}},
            }})

        @contextlib.asynccontextmanager
        async def serve():
            app = web.Application()
            app.add_routes([web.get("/quote", quote)])
            runner = web.AppRunner(app)
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            port = site._server.sockets[0].getsockname()[1]
            try:
                cfg = {cls}Config(base_url=f"http://127.0.0.1:{{port}}", chains=(1,),
                                  routers={{"1": (RouterEntry(address=router),)}})
                req = SwapRequest(client_order_id="c1", chain_id=1, sell_token="0x" + "44" * 20,
                                  buy_token="0x" + "55" * 20, sell_amount=10**18, wallet=wallet)
                yield {cls}(config=cfg, instance="{name}"), req
            finally:
                await runner.cleanup()

        return serve()
"""
)

_TEMPLATES = {
    "notifiers": (_NOTIFIER, _NOTIFIER_TEST, "NotifierConformance", "Notifier"),
    "analyzers": (_ANALYZER, _COMMON_TEST, "AnalyzerConformance", "Analyzer"),
    "filters": (_FILTER, _COMMON_TEST, "FilterConformance", "Filter"),
    "exits": (_EXIT, _COMMON_TEST, "ExitConformance", "Exit"),
    "aggregators": (_AGGREGATOR, _AGGREGATOR_TEST, "AggregatorConformance", "Aggregator"),
    # The venue file set is written by tradewind.scaffold_venue (see scaffold()).
    "venues": ("", "", "VenueConformance", ""),
}

_README = """# {dist}

A tradewind {singular} plugin. Install it next to tradewind and enable it in a config:

```sh
pip install -e .
tradewind plugins            # lists {kind}:{name}
```

```toml
[{kind}.{name}]
plugin = "{name}"
```

Run its tests with `pytest tests`.
"""


def scaffold(kind: str, name: str, where: Path) -> Path:
    """Create ``<where>/<distribution>/`` for a plugin of ``kind`` called ``name``."""
    from tradewind.protocols import SINGULAR

    if kind not in _TEMPLATES:
        raise TradewindError(
            f"no plugin template for kind '{kind}'; templates exist for: {', '.join(_TEMPLATES)}"
        )
    if not _NAME.match(name) or keyword.iskeyword(name):
        raise TradewindError(
            f"plugin name '{name}' must be lowercase letters, digits and underscores, starting "
            f"with a letter"
        )
    dist = DIST_PREFIX[kind] + name.replace("_", "-")
    package = dist.replace("-", "_")
    module_src, test_src, suite, suffix = _TEMPLATES[kind]
    cls = "".join(part.capitalize() for part in name.split("_")) + suffix
    fields = {
        "dist": dist,
        "package": package,
        "name": name,
        "kind": kind,
        "cls": cls,
        "suite": suite,
        "singular": SINGULAR[kind],
        "deps": (
            '["tradewind", "aiohttp>=3.9"]'
            if kind in ("aggregators", "venues")
            else '["tradewind"]'
        ),
    }
    root = where / dist
    if root.exists():
        raise TradewindError(f"{root} already exists; choose another --dir or remove it")
    (root / "src" / package).mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pyproject.toml").write_text(_PYPROJECT.format(**fields), encoding="utf-8")
    (root / "README.md").write_text(_README.format(**fields), encoding="utf-8")
    (root / "src" / package / "__init__.py").write_text(
        f'"""{dist}: a tradewind {SINGULAR[kind]} plugin."""\n', encoding="utf-8"
    )
    if kind == "venues":
        from tradewind.scaffold_venue import write_venue

        write_venue(root, package, name, cls, dist)
        return root
    (root / "src" / package / "plugin.py").write_text(module_src.format(**fields), encoding="utf-8")
    (root / "tests" / "test_plugin.py").write_text(test_src.format(**fields), encoding="utf-8")
    return root
