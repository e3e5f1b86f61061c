"""Where a filter runs when the engine is split into hosts (``tradewind serve``).

A filter class declares ``reads_account: ClassVar[bool]``. ``False`` promises that its
``check`` is a function of the signal's instrument, side, entry, stop and intent, the market
(``ctx.last_price``, ``ctx.instrument``, ``ctx.ts_ns``) and the analyzer values
(``ctx.analyzer_values``) only: no position, equity, open order or the signal's quantity
(sized from equity), and no state kept between checks. Such a filter runs on the strategy
host of the signal's shard, which holds no account. A filter that does not declare it is
taken to read the account (the safe default) and runs on the execution host.

The strategy host runs the account-free filters of the chain, in chain order up to the first
veto, and sends their verdicts with its decision (:class:`Verdict`); the execution host runs
the chain as one process does, taking each account-free filter's verdict from the strategy
host instead of calling it. So the chain's order and its first veto are those of the
one-process run, and so are the signals, orders and fills; the veto, journaled by the
execution host, carries the strategy host's role in ``Veto.host``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, NoReturn

import attrs

from tradewind.errors import TradewindError
from tradewind.model import Instrument, Order, Position, Signal, Veto


def reads_account(flt: Any) -> bool:
    """Whether the filter ``flt`` reads the account (True unless its class says False)."""
    return bool(getattr(type(flt), "reads_account", True))


class AccountReadError(TradewindError):
    """A filter declared ``reads_account = False`` and read the account."""


class MarketContext:
    """The :class:`~tradewind.protocols.RiskContext` an account-free filter gets on a strategy
    host: the market and the analyzer values; reading the account raises
    :class:`AccountReadError` naming the filter (its declaration is wrong)."""

    def __init__(self, ctx: Any, filter_name: str) -> None:
        self._ctx = ctx
        self._name = filter_name

    @property
    def ts_ns(self) -> int:
        """The time of the decision being checked."""
        return int(self._ctx.ts_ns)

    def last_price(self, instrument: str) -> float:
        """The last traded price of ``instrument``."""
        return float(self._ctx.last_price(instrument))

    def instrument(self, key: str) -> Instrument:
        """The instrument with ``key``."""
        inst: Instrument = self._ctx.instrument(key)
        return inst

    def analyzer_values(self, instrument: str) -> Mapping[str, float]:
        """The analyzer outputs of ``instrument`` at this decision."""
        values: Mapping[str, float] = self._ctx.analyzer_values(instrument)
        return values

    def _account(self, what: str) -> NoReturn:
        raise AccountReadError(
            f"filter '{self._name}' declares reads_account = False but read ctx.{what}() on a "
            f"strategy host, which holds no account: declare reads_account = True (or drop "
            f"the declaration) so it runs on the execution host"
        )

    def position(self, instrument: str) -> Position:
        """Not available: a position is account state."""
        self._account("position")

    def positions(self) -> Sequence[Position]:
        """Not available: positions are account state."""
        self._account("positions")

    def equity(self) -> Decimal:
        """Not available: equity is account state."""
        self._account("equity")

    def starting_equity(self) -> Decimal:
        """Not available: equity is account state."""
        self._account("starting_equity")

    def day_start_equity(self) -> Decimal:
        """Not available: equity is account state."""
        self._account("day_start_equity")

    def open_orders(self) -> Sequence[Order]:
        """Not available: orders are account state."""
        self._account("open_orders")


@attrs.frozen(kw_only=True)
class Verdict:
    """The account-free filters' verdicts on one decision's signal, from a strategy host.

    ``passed``: chain positions of the filters that let the signal pass; ``veto``: the first
    that refused it (its chain position and the veto), if any. Filters after that one were
    not run (the chain stops at the first veto)."""

    passed: tuple[int, ...] = ()
    veto_index: int | None = None
    veto: Veto | None = None

    def of(self, index: int, signal: Signal) -> tuple[bool, Veto | None]:
        """``(known, veto)`` for the chain's ``index``-th filter on ``signal`` (the sized
        signal the execution host checks: the veto is given it)."""
        if index in self.passed:
            return True, None
        if self.veto is not None and index == self.veto_index:
            return True, attrs.evolve(self.veto, signal=signal)
        return False, None

    def to_json(self) -> dict[str, Any]:
        """The verdict as JSON-ready values (the signal travels with the decision)."""
        veto = None
        if self.veto is not None:
            v = self.veto
            veto = {
                "index": self.veto_index, "filter": v.filter, "reason": v.reason,
                "ts_ns": v.ts_ns, "action": v.action, "host": v.host,
            }  # fmt: skip
        return {"passed": list(self.passed), "veto": veto}

    @classmethod
    def from_json(cls, body: Mapping[str, Any], signal: Signal) -> Verdict:
        """The verdict of :meth:`to_json` for ``signal``."""
        raw = body.get("veto")
        if raw is None:
            return cls(passed=tuple(int(i) for i in body.get("passed", ())))
        veto = Veto(
            filter=str(raw["filter"]), reason=str(raw["reason"]), signal=signal,
            ts_ns=int(raw["ts_ns"]), action=str(raw.get("action", "")),
            host=str(raw.get("host", "")),
        )  # fmt: skip
        return cls(
            passed=tuple(int(i) for i in body.get("passed", ())),
            veto_index=int(raw["index"]),
            veto=veto,
        )


def account_free_verdict(filters: Sequence[Any], signal: Signal, ctx: Any, host: str) -> Verdict:
    """Run the account-free filters of the chain ``filters`` on ``signal`` in chain order, up
    to the first veto (which gets ``host``)."""
    passed: list[int] = []
    for index, flt in enumerate(filters):
        if reads_account(flt):
            continue
        veto = flt.check(signal, MarketContext(ctx, str(getattr(flt, "name", type(flt).__name__))))
        if veto is not None:
            return Verdict(
                passed=tuple(passed), veto_index=index, veto=attrs.evolve(veto, host=host)
            )
        passed.append(index)
    return Verdict(passed=tuple(passed))
