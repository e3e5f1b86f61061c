"""Startup reconciliation: the journal and the venue agree before any order is sent.

:func:`reconcile` compares one execution venue's open orders, positions and balance with the
journal's session and makes the journal (and the portfolio) agree with the venue, which is the
truth about money. Every discrepancy becomes a
:class:`~tradewind.model.events.ReconciliationDiscrepancy` event. If the venue cannot be
asked, :class:`~tradewind.errors.ReconciliationError` is raised and the host must not trade.

:func:`prepare_session` is the whole start-of-run sequence the engine calls once: attach the
journal to the order manager, restore the simulated venue of a resumed paper session from the
journal, reconcile every execution venue, then load the reconciled state into the order
manager and the portfolio.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from decimal import Decimal
from functools import partial
from typing import Any, TypeVar

import anyio
import attrs

from tradewind.errors import ReconciliationError
from tradewind.journal import Journal, OrderRecord, fill_key
from tradewind.model import Instrument, OrderReport, OrderStatus, Position
from tradewind.model.events import ReconciliationDiscrepancy, ReconciliationFailed
from tradewind.orders import venue_key
from tradewind.portfolio import Portfolio

log = logging.getLogger("tradewind.reconcile")

T = TypeVar("T")

#: What to do with an order open at the venue that the journal does not know.
UNKNOWN_ORDER_POLICIES = ("adopt", "cancel")


@attrs.frozen(kw_only=True)
class ReconciliationReport:
    """What reconciling one venue found and did."""

    venue: str
    discrepancies: tuple[ReconciliationDiscrepancy, ...] = ()
    orders_checked: int = 0
    positions_checked: int = 0
    fills_recovered: int = 0

    @property
    def ok(self) -> bool:
        """True when the venue and the journal agreed on everything."""
        return not self.discrepancies

    def describe(self) -> str:
        """One line per discrepancy (or that there were none)."""
        if self.ok:
            return (
                f"venue '{self.venue}': journal and venue agree ({self.orders_checked} orders, "
                f"{self.positions_checked} positions)"
            )
        return "\n".join(
            f"venue '{d.venue}': {d.kind} {d.subject}: journal {d.journal_state}, venue "
            f"{d.venue_state} -> {d.action}"
            for d in self.discrepancies
        )


def _same_price(a: Decimal, b: Decimal, tolerance: Decimal) -> bool:
    if a == b:
        return True
    scale = max(abs(a), abs(b))
    return abs(a - b) <= scale * tolerance


def _corrected(journal_pos: Position, venue_pos: Position | None, ts_ns: int) -> Position:
    """The venue's open quantity and price with the journal's realised P&L and fees (venues
    rarely report those per position, and they are history this host booked itself)."""
    if venue_pos is None or venue_pos.is_flat:
        return Position(
            instrument=journal_pos.instrument,
            realized_pnl=journal_pos.realized_pnl,
            fees=journal_pos.fees,
        )
    lots = tuple(venue_pos.lots)
    if sum((q for q, _ in lots), Decimal(0)) != venue_pos.quantity:
        lots = ((venue_pos.quantity, venue_pos.avg_price),)
    return Position(
        instrument=journal_pos.instrument,
        quantity=venue_pos.quantity,
        avg_price=venue_pos.avg_price,
        realized_pnl=journal_pos.realized_pnl,
        fees=journal_pos.fees,
        opened_ts_ns=venue_pos.opened_ts_ns or ts_ns,
        lots=lots,
    )


def _state(rec: OrderRecord | OrderReport) -> str:
    return f"{rec.status.value} (filled {rec.filled_quantity})"


async def reconcile(
    venue: Any,
    journal: Journal,
    instruments: Sequence[Instrument],
    portfolio: Portfolio,
    *,
    unknown_orders: str = "adopt",
    ts_ns: int = 0,
    cash_asset: str | None = None,
    timeout_s: float | None = 30.0,
    price_tolerance: Decimal = Decimal("1e-6"),
) -> ReconciliationReport:
    """Make the journal's session agree with ``venue`` for ``instruments``.

    - An order the journal has open but the venue does not: looked up by client order id;
      its final state is recorded (with its fills when the venue offers ``fetch_fills``), or
      it is recorded rejected when the venue never saw it.
    - An order open at the venue the journal does not know: ``unknown_orders = "adopt"``
      journals it (origin ``adopted``) so the host tracks it; ``"cancel"`` cancels it
      (origin ``foreign``).
    - A position that differs: the venue's is adopted and a correction is journaled.
    - With ``cash_asset``, the venue's balance of it is compared with the journal's cash (the
      first reconciliation of a session records it as the starting baseline).

    The portfolio's positions and cash are set to the reconciled values. Raises
    ReconciliationError (after journaling a ReconciliationFailed event) when a venue call fails.
    """
    if unknown_orders not in UNKNOWN_ORDER_POLICIES:
        raise ValueError(
            f"unknown_orders must be one of {', '.join(UNKNOWN_ORDER_POLICIES)}, "
            f"got {unknown_orders!r}"
        )
    vkey = venue_key(venue)
    keys = {i.key for i in instruments}
    found: list[ReconciliationDiscrepancy] = []

    def note(kind: str, subject: str, journal_state: str, venue_state: str, action: str) -> None:
        event = ReconciliationDiscrepancy(
            ts_ns=ts_ns,
            venue=vkey,
            kind=kind,
            subject=subject,
            journal_state=journal_state,
            venue_state=venue_state,
            action=action,
        )
        log.warning(
            "reconciliation: venue '%s' %s %s: journal %s, venue %s -> %s",
            vkey,
            kind,
            subject,
            journal_state,
            venue_state,
            action,
        )
        found.append(event)

    async def ask(what: str, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            if timeout_s is None:
                return await fn()
            with anyio.fail_after(timeout_s):
                return await fn()
        except Exception as exc:
            reason = f"{what} failed: {type(exc).__name__}: {exc}"
            try:
                journal.record(ReconciliationFailed(ts_ns=ts_ns, venue=vkey, reason=reason))
                journal.flush()
            except Exception:  # the error below says what matters
                log.exception("could not journal the reconciliation failure")
            raise ReconciliationError(
                f"reconciliation with venue '{vkey}' failed: {reason}; the host will not trade "
                f"until the venue's orders and positions are known (check the venue's "
                f"connection and credentials, then start again)"
            ) from exc

    # 1. Orders the journal has open.
    venue_open = [
        r for r in await ask("fetch_open_orders()", venue.fetch_open_orders) if r.instrument in keys
    ]
    at_venue = {r.client_order_id: r for r in venue_open}
    journaled = {r.client_order_id: r for r in journal.orders() if r.instrument in keys}
    fetch_fills = getattr(venue, "fetch_fills", None)
    fills_recovered = 0
    checked = 0
    for rec in [r for r in journaled.values() if r.is_open]:
        checked += 1
        cid = rec.client_order_id
        vr: OrderReport | None = at_venue.get(cid)
        if vr is None:
            vr = await ask(f"fetch_order({cid})", partial(venue.fetch_order, rec.instrument, cid))
        if vr is None:
            closed = attrs.evolve(
                rec,
                status=OrderStatus.REJECTED,
                reason="not found at the venue at reconciliation: it never reached the venue",
                updated_ts_ns=ts_ns,
            )
            journal.record_order(closed, ts_ns=ts_ns, kind="reconciled", from_status=rec.status)
            note("order_not_at_venue", cid, _state(rec), "unknown to the venue", "recorded")
            continue
        if fetch_fills is not None and vr.filled_quantity > rec.filled_quantity:
            venue_fills = await ask(
                f"fetch_fills({cid})", partial(fetch_fills, rec.instrument, cid)
            )
            fills_recovered += _recover_fills(journal, venue_fills)
        if vr.status is not rec.status or vr.filled_quantity != rec.filled_quantity:
            new = attrs.evolve(
                rec,
                status=vr.status,
                filled_quantity=vr.filled_quantity,
                venue_order_id=vr.venue_order_id or rec.venue_order_id,
                reason=vr.reason or rec.reason,
                updated_ts_ns=ts_ns,
            )
            journal.record_order(new, ts_ns=ts_ns, kind="reconciled", from_status=rec.status)
            kind = "order_closed_at_venue" if vr.status.is_terminal else "order_state"
            note(kind, cid, _state(rec), _state(vr), "recorded")

    # 2. Orders open at the venue that the journal does not have open.
    for vr in venue_open:
        cid = vr.client_order_id
        prev = journaled.get(cid)
        if prev is not None and prev.is_open:
            continue
        checked += 1
        if prev is not None:
            new = attrs.evolve(
                prev,
                status=vr.status,
                filled_quantity=vr.filled_quantity,
                venue_order_id=vr.venue_order_id or prev.venue_order_id,
                updated_ts_ns=ts_ns,
            )
            journal.record_order(new, ts_ns=ts_ns, kind="reconciled", from_status=prev.status)
            note("order_reopened", cid, _state(prev), _state(vr), "recorded")
            continue
        if unknown_orders == "cancel":
            cr: OrderReport = await ask(
                f"cancel_order({cid})", partial(venue.cancel_order, vr.instrument, cid)
            )
            journal.record_order(
                OrderRecord(
                    client_order_id=cid,
                    instrument=vr.instrument,
                    venue=vkey,
                    status=cr.status,
                    filled_quantity=max(vr.filled_quantity, cr.filled_quantity),
                    venue_order_id=vr.venue_order_id,
                    reason="unknown to the journal; cancelled at reconciliation",
                    origin="foreign",
                    updated_ts_ns=ts_ns,
                    run_id=journal.run_id,
                ),
                ts_ns=ts_ns,
                kind="cancelled",
            )
            note("order_unknown_to_journal", cid, "unknown", _state(vr), "cancelled")
        else:
            journal.record_order(
                OrderRecord(
                    client_order_id=cid,
                    instrument=vr.instrument,
                    venue=vkey,
                    status=vr.status,
                    filled_quantity=vr.filled_quantity,
                    venue_order_id=vr.venue_order_id,
                    reason="unknown to the journal; adopted at reconciliation",
                    origin="adopted",
                    updated_ts_ns=ts_ns,
                    run_id=journal.run_id,
                ),
                ts_ns=ts_ns,
                kind="adopted",
            )
            note("order_unknown_to_journal", cid, "unknown", _state(vr), "adopted")

    # 3. Positions, after any fills recovered above.
    venue_pos = {
        p.instrument: p
        for p in await ask("fetch_positions()", venue.fetch_positions)
        if not p.is_flat
    }
    positions = journal.positions()
    for inst in sorted(keys | set(venue_pos)):
        vp = venue_pos.get(inst)
        if inst not in keys:
            assert vp is not None
            note(
                "untracked_position",
                inst,
                "not configured",
                f"{vp.quantity} @ {vp.avg_price}",
                "ignored",
            )
            continue
        jp = positions.get(inst) or Position(instrument=inst)
        vq = vp.quantity if vp is not None else Decimal(0)
        if vq == jp.quantity and (
            vp is None or _same_price(vp.avg_price, jp.avg_price, price_tolerance)
        ):
            portfolio.restore_position(jp)
            continue
        fixed = _corrected(jp, vp, ts_ns)
        journal.record_position(fixed, ts_ns=ts_ns, reason="correction")
        portfolio.restore_position(fixed)
        note(
            "position",
            inst,
            f"{jp.quantity} @ {jp.avg_price}",
            f"{vq} @ {vp.avg_price if vp is not None else 0}",
            "corrected",
        )

    # 4. Cash.
    if cash_asset is not None:
        balances: Mapping[str, Decimal] = await ask("fetch_balances()", venue.fetch_balances)
        if cash_asset not in balances:
            note("balance", cash_asset, "tracked", "no such asset", "ignored")
        else:
            vb = Decimal(balances[cash_asset])
            jb = journal.cash()
            if jb is None:
                journal.record_cash(cash_asset, vb, ts_ns=ts_ns, reason="start")
            elif jb != vb:
                journal.record_cash(cash_asset, vb, ts_ns=ts_ns, reason="correction")
                note("balance", cash_asset, str(jb), str(vb), "corrected")
            portfolio.cash = vb
    journal.flush()
    return ReconciliationReport(
        venue=vkey,
        discrepancies=tuple(found),
        orders_checked=checked,
        positions_checked=len(keys),
        fills_recovered=fills_recovered,
    )


def _recover_fills(journal: Journal, fills: Iterable[Any]) -> int:
    """Journal the venue's fills the journal lacks (de-duplicated), in time order."""
    known = journal.fill_keys()
    positions = journal.positions()
    n = 0
    for fill in sorted(fills, key=lambda f: f.ts_ns):
        key = (fill.client_order_id, fill_key(fill))
        if key in known:
            continue
        before = positions.get(fill.instrument) or Position(instrument=fill.instrument)
        after = before.apply(fill)
        positions[fill.instrument] = after
        journal.record_fill(fill, after)
        known.add(key)
        n += 1
    return n


def restore_simulated(
    journal: Journal, venues: Mapping[str, tuple[Any, Sequence[Instrument]]]
) -> int:
    """Give each simulated execution venue the journal's positions, open orders and cash
    (a paper account lives in the journal). Returns how many venues were restored."""
    positions = journal.positions()
    open_orders = journal.open_orders()
    cash = journal.cash()
    floor = journal.count("fills") + journal.count("orders")
    n = 0
    for venue, insts in venues.values():
        if "simulated" not in getattr(venue, "capabilities", ()) or not hasattr(venue, "restore"):
            continue
        keys = {i.key for i in insts}
        mine = [p for k, p in positions.items() if k in keys]
        orders = [
            (r.order, r.report())
            for r in open_orders
            if r.instrument in keys and r.order is not None
        ]
        if len(venues) == 1 and cash is not None:
            vcash = cash
        else:
            start = Decimal(getattr(getattr(venue, "config", None), "starting_balance", 0))
            vcash = start + sum((p.realized_pnl - p.fees for p in mine), Decimal(0))
        venue.restore(mine, orders, vcash, id_floor=floor)
        n += 1
    return n


async def prepare_session(
    engine: Any, *, unknown_orders: str | None = None
) -> list[ReconciliationReport]:
    """Make a run ready to trade; call once inside ``Engine.run`` after the journal is started
    and the venues are connected, before the first batch.

    1. The order manager journals ahead (orders before sending, fills before booking).
    2. A resumed paper session restores its simulated venue from the journal.
    3. Every execution venue is reconciled with the journal (ReconciliationError stops the run).
    4. The order manager and portfolio take the reconciled state: open orders, positions,
       cash, booked fill keys, and the client order id sequence.
    The discrepancy events are queued on the order manager for the engine to publish.
    """
    journal: Journal | None = engine.journal
    if journal is None:
        raise RuntimeError(
            "prepare_session needs the run's journal: call it in Engine.run after Journal.start"
        )
    cfg = engine.config
    policy = str(unknown_orders or getattr(cfg.run, "unknown_orders", "adopt"))
    orders = engine.orders
    orders.attach_journal(journal)
    venues: dict[str, tuple[Any, list[Instrument]]] = {}
    for st in engine.state.values():
        entry = venues.setdefault(venue_key(st.exec_venue), (st.exec_venue, []))
        entry[1].append(st.instrument)
    for venue, _ in venues.values():
        orders.register_venue(venue)
    ts = engine.clock.now_ns()
    if cfg.mode.value == "paper" and journal.resumed:
        restore_simulated(journal, venues)
    reports = []
    for venue, insts in venues.values():
        cash_asset = None
        if len(venues) == 1:
            cash_asset = getattr(getattr(venue, "config", None), "quote_currency", None)
        reports.append(
            await reconcile(
                venue,
                journal,
                insts,
                engine.portfolio,
                unknown_orders=policy,
                ts_ns=ts,
                cash_asset=cash_asset,
            )
        )
    orders.restore(journal)
    for report in reports:
        orders.pending.extend(report.discrepancies)
    return reports
