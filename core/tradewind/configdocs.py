"""Generate the configuration reference (docs/configuration.md) from the config classes.

``python -m tradewind.configdocs > docs/configuration.md``; a test fails when the file is
stale, so the reference cannot omit a key. Each key's meaning is the ``#:`` comment above its
field (a field right below another without a comment of its own shares that one).
"""

from __future__ import annotations

import enum
import inspect
import re
import sys
import typing
from decimal import Decimal
from typing import Any

import attrs

_FIELD = re.compile(r"^\s+(\w+)\s*:")


def field_comments(cls: type) -> dict[str, str]:
    """The ``#:`` comment of each field of ``cls``, from its source."""
    out: dict[str, str] = {}
    pending: list[str] = []
    previous: str | None = None
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#:"):
            pending.append(stripped[2:].strip())
            continue
        m = _FIELD.match(line)
        if m and not stripped.startswith(("def ", "return", "if ", "for ")):
            name = m.group(1)
            if pending:
                out[name] = " ".join(pending)
            elif previous is not None and previous in out:
                out[name] = out[previous]
            previous = name
        else:
            previous = None
        pending = []
    return out


def _type_text(tp: Any) -> str:
    if isinstance(tp, str):
        return tp
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        parts = [_type_text(a) for a in args if a is not type(None)]
        return " or ".join(parts) + (" (optional)" if type(None) in args else "")
    if origin is list:
        return f"array of {_type_text(args[0])}"
    if origin is dict:
        return f"table of {_type_text(args[1])}"
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return " \\| ".join(f'`"{m.value}"`' for m in tp)
    names = {Decimal: "decimal", float: "number", int: "integer", str: "string", bool: "bool"}
    if tp in names:
        return names[tp]
    return getattr(tp, "__name__", str(tp))


def _default_text(field: attrs.Attribute[Any]) -> str:
    default = field.default
    if default is attrs.NOTHING:
        return "required"
    if isinstance(default, attrs.Factory):  # type: ignore[arg-type]
        default = default.factory()  # type: ignore[attr-defined,union-attr]
    if default is None:
        return "none"
    if isinstance(default, enum.Enum):
        return f'`"{default.value}"`'
    if isinstance(default, Decimal | str):
        return f'`"{default}"`'
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    if isinstance(default, list):
        if not default:
            return "`[]`"
        return "`[" + ", ".join(f'"{v}"' if isinstance(v, str) else str(v) for v in default) + "]`"
    if isinstance(default, dict):
        return "`{}`" if not default else f"`{default}`"
    if attrs.has(type(default)):
        return "see below"
    if isinstance(default, int) and abs(default) >= 10_000:
        return f"`{default:_}`"
    return f"`{default}`"


def table(cls: type, *, skip: tuple[str, ...] = ()) -> list[str]:
    """A Markdown table of every key of ``cls``: key, type, default, meaning."""
    hints = typing.get_type_hints(cls)
    comments = field_comments(cls)
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for field in attrs.fields(cls):
        if field.name in skip:
            continue
        meaning = comments.get(field.name, "(undocumented)").replace("|", "\\|")
        meaning = meaning.replace("``", "`")
        kind = _type_text(hints.get(field.name, field.type))
        rows.append(f"| `{field.name}` | {kind} | {_default_text(field)} | {meaning} |")
    return rows


def documented_classes() -> list[tuple[str, type, tuple[str, ...]]]:
    """(section title, class, keys left out) of every config class the reference covers."""
    from tradewind.builtins.kill_switch import KillSwitchConfig
    from tradewind.builtins.log_notifier import LogNotifierConfig
    from tradewind.cluster.config import ClusterSection
    from tradewind.config import (
        ApiSection,
        Gate,
        InstrumentSection,
        JournalSection,
        Rule,
        RunSection,
        Scorer,
        StrategySection,
        Tier,
        WatchlistSection,
        _CoreSection,
    )
    from tradewind.execution.config import ChainRouting, RoutingConfig
    from tradewind.venues.replay import ReplayConfig
    from tradewind.venues.sim import SimVenueConfig

    return [
        ("Top level", _CoreSection, ()),
        ("`[run]`", RunSection, ()),
        ("`[[instruments]]`", InstrumentSection, ()),
        ("`[strategy]`", StrategySection, ()),
        ("A rule: `{ value, op, threshold | ref, factor }`", Rule, ()),
        ("A gate: `{ name, long, short }`", Gate, ()),
        ("A scorer: `{ name, long, short }`", Scorer, ()),
        ("A scorer's tier: `{ points, when }`", Tier, ()),
        ("`[api]`: the HTTP API (docs/api.md)", ApiSection, ()),
        ("`[watchlist]`: the watchlist (docs/api.md)", WatchlistSection, ()),
        ("`[routing]`: best execution on chain (docs/aggregators.md)", RoutingConfig, ()),
        ("`[routing.chains.<chain id>]`: one chain's choice", ChainRouting, ()),
        (
            "`[journal]`: the journal on PostgreSQL (docs/deployment.md), the step log's loads",
            JournalSection,
            (),
        ),
        ("`[cluster]`: hosts over NATS JetStream (docs/deployment.md)", ClusterSection, ()),
        ('`[venues.<key>] plugin = "sim"`: the simulated venue', SimVenueConfig, ()),
        ('`[venues.<key>] plugin = "replay"`: the replay source', ReplayConfig, ()),
        ("`[filters.killswitch]`: the kill switch (essential)", KillSwitchConfig, ()),
        ('`[notifiers.<key>] plugin = "log"`: the log notifier', LogNotifierConfig, ()),
    ]


_INTRO = """# Configuration reference

Generated from the config classes by `python -m tradewind.configdocs`; do not edit (a test
fails when this file is stale, so no key can be missing).

One TOML file (UTF-8) describes a run. `tradewind config check FILE` makes every check the run
makes before it reads market data or contacts a venue — types and ranges, paths, the `[run]`
window against the data, the mode against the venues, every strategy rule against the outputs
its analyzer declares — and exits with the code the run would (see [index.md](index.md)).
Unknown keys are errors, and every error names its path and the fix, e.g.

```
error: venue 'sim' ([venues.sim] in tradewind.toml): unknown key
  @ $.venues.sim.starting_balanse (did you mean 'starting_balance'?)
error: lot_size must be positive, got 0 @ $.instruments[0].lot_size
error: rule reads 'orderflow.imbalanse_1m' but analyzer 'orderflow' (plugin orderflow) has
  no output 'imbalanse_1m' (did you mean 'imbalance_1m'?); its outputs: ...
  @ $.strategy.long[0].value
```

Relative paths — `[run]` `journal` and `report_dir`, and every path option of a plugin
(`path`, `store`, `funding_file`, `trip_file`, ...) — resolve against the config file's folder,
not the working directory. (The embedded default config writes its journal and report into the
working directory.)

Write decimals (money, sizes, fees) as strings: `"0.001"`.
"""

_PLUGINS = """## Plugin instances: `[<kind>.<key>]`

Kinds: `venues`, `aggregators`, `analyzers`, `filters`, `exits`, `notifiers`.

The table key names the *instance*; `plugin` names the entry point and defaults to the key, so
one plugin can serve several instances:

```toml
[notifiers.ops]
plugin = "log"
min_severity = "warning"

[notifiers.audit]
plugin = "log"
min_severity = "debug"
```

Every other key of the table is the plugin's own option, checked against its `config_class`
(the plugin's page documents them: [analyzers](analyzers/), [filters.md](filters.md),
[exits.md](exits.md), [venues](venues/)). `enabled = false` (a bool; `"no"` is an error)
keeps a table in the file without loading it (refused for essential plugins). Filters run in
the order their tables appear, after the kill switch; exit monitors are consulted in table
order.

Secrets are written as `env:NAME`, the name of the environment variable that holds them. A
literal secret is refused; a reference to an unset variable is refused at load time; the value
is read only when the plugin calls `Secret.reveal()`, and a `Secret` prints as
`Secret('env:NAME')`, so it never reaches a log, an error message or the journal.

`TRADEWIND_BLOCK_PLUGINS=kind:name,...` (or a bare `name`) refuses to load the named plugins;
an entry that names no installed plugin is an error, so a typo cannot disable the switch.
"""

_STRATEGY = """The strategy turns analyzer values into signals on the close of each `timeframe`
candle; [strategy.md](strategy.md) explains the compositions and the preset. A rule over a
value that is NaN (not yet defined) does not hold. Every `value`/`ref` must name an output its
analyzer declares (`Analyzer.outputs(config)`), checked by `config check`. While an instrument
has a position or a pending entry, no new entry signal is evaluated.
"""

_MARKET_TYPE_ROWS = (
    (
        '| `"spot"` | a plain sell (no reduce-only: spot has none) of what is held, never more than'
        " the account's balance of the base asset, rounded down to the lot | the base asset is the "
        "position: at start the venue's balance of it *is* the position; its entry price comes "
        "from the account's trades (first in, first out) when the venue declares "
        "`trades:account`, else from the first price seen after adoption (journaled as a "
        "position with reason `entry_priced`). A buy whose fee is charged in the bought coin "
        "leaves `quantity - fee`; what cannot be sold (below one lot, or worth less than "
        "`min_notional` at the last price) is dust: not an open position, no block on entries, "
        "not counted by `existing` or `maxpositions`. No short selling: a sell entry (nothing "
        "held) is refused with a `position` veto unless the execution venue declares `margin`; "
        "the simulated venue keeps no account, so its spot shorts are simulated as on margin. |"
    ),
    (
        '| `"perp"` | a reduce-only market order for the whole position | funding is booked as cash'
        " (journaled, restored on resume); the execution venue must declare `reduce_only`, or the "
        "run stops at start with an error naming the instrument |"
    ),
)
_MARKET_TYPES = "\n".join(_MARKET_TYPE_ROWS)

_ACCOUNTS = """## Market types

`kind` decides the order the engine sends to close a position:

| `kind` | close | notes |
|---|---|---|
{_MARKET_TYPES}

## Accounts and the reporting currency

An execution venue with the `account` capability (ccxt, Hyperliquid) has an account: its
balance of every currency, **seeded from the venue when the run starts** (no starting balance
is configured for a real venue), moved by every fill and funding payment this host books, and
compared with the venue's again every `reconcile_interval_s`. The simulated venue has no
account: it keeps its `starting_balance` (summed over simulated venues).

Equity is the sum over every account of each balance converted to `reporting_currency` at the
last trade of a configured instrument between the two currencies (either way round: a
`BTC/USDT` instrument converts BTC to USDT and USDT to BTC), plus perpetual positions'
unrealised P&L. Two venues' balances are added, never one overwriting the other. A balance
that cannot be converted is an error — `ConversionError: venue 'spot' holds 0.1 BTC: cannot
convert BTC to the reporting currency EUR ...` — never a 0: the engine refuses the signal it
was sizing (a veto from `account`, journaled) and tries again at the next decision. Balances
in currencies no configured instrument of that venue trades (dust, other coins) are reported
once at start (`untracked_balance`) and left out of equity.

```toml
[run]
reporting_currency = "USDT"
reconcile_interval_s = 30.0
```
"""

_OUTRO = """## The embedded default

`tradewind backtest` without a file runs `core/tradewind/defaults/backtest.toml`: copy it to
start your own.
"""


def render() -> str:
    """The configuration reference as Markdown."""
    out = [_INTRO]
    for title, cls, skip in documented_classes():
        out.append(f"## {title}")
        out.append("")
        doc = inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0].replace("\n", " ")
        doc = doc.replace("``", "`")
        if doc and not doc.startswith(cls.__name__ + "("):
            out.append(doc)
            out.append("")
        if cls.__name__ == "StrategySection":
            out.append(_STRATEGY)
        out.extend(table(cls, skip=skip))
        out.append("")
        if cls.__name__ == "InstrumentSection":
            out.append(_ACCOUNTS.replace("{_MARKET_TYPES}", _MARKET_TYPES))
        if cls.__name__ == "Tier":
            out.append(_PLUGINS)
    out.append(_OUTRO)
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    sys.stdout.write(render())
