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
from tradewind.journal.store import Journal, OrderRecord, fill_key
from tradewind.model import Fill, Instrument, InstrumentKind, OrderReport, OrderStatus, Position
from tradewind.model.events import ReconciliationDiscrepancy, ReconciliationFailed
from tradewind.trading.accounts import Account
from tradewind.trading.adoption import lots_from_trades
from tradewind.trading.orders import OrderManager, venue_key
from tradewind.trading.portfolio import Portfolio

log = logging.getLogger("tradewind.trading.reconcile")

T = TypeVar("T")

#: What to do with an order open at the venue that the journal does not know.
UNKNOWN_ORDER_POLICIES = ("refuse", "adopt", "cancel")
#: What a start does with a venue position the journal cannot explain (``[run]
#: unknown_positions``).
UNKNOWN_POSITION_POLICIES = ("refuse", "adopt")


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
    if a == b or a == 0:
        return True  # 0: the venue does not know an entry price (a spot holding)
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
    price = venue_pos.avg_price
    if (
        price == 0
        and not journal_pos.is_flat
        and (journal_pos.quantity > 0) == (venue_pos.quantity > 0)
    ):
        price = journal_pos.avg_price  # a spot holding has no entry price at the venue
    if sum((q for q, _ in lots), Decimal(0)) != venue_pos.quantity:
        lots = ((venue_pos.quantity, price),)
    return Position(
        instrument=journal_pos.instrument,
        quantity=venue_pos.quantity,
        avg_price=price,
        realized_pnl=journal_pos.realized_pnl,
        fees=journal_pos.fees,
        opened_ts_ns=venue_pos.opened_ts_ns or ts_ns,
        lots=lots,
    )


async def _priced_holding(venue: Any, held: Position, ask: Any) -> Position:
    """``held`` (a spot holding, no entry price) with the lots the account's trades give it
    (capability ``"trades:account"``); unchanged when the venue has no trade history or it
    does not cover the holding (then the first mark prices it)."""
    if "trades:account" not in venue.capabilities:
        return held
    trades = await ask(
        f"fetch_account_trades({held.instrument})",
        partial(venue.fetch_account_trades, held.instrument, 0),
    )
    lots = lots_from_trades(held.instrument, held.quantity, trades)
    if lots is None:
        return held
    cost = sum((q * p for q, p in lots), Decimal(0))
    return attrs.evolve(held, avg_price=cost / held.quantity, lots=lots)


def _state(rec: OrderRecord | OrderReport) -> str:
    return f"{rec.status.value} (filled {rec.filled_quantity})"


async def reconcile(
    venue: Any,
    journal: Journal,
    instruments: Sequence[Instrument],
    portfolio: Portfolio,
    *,
    unknown_orders: str = "adopt",
    unknown_positions: str = "adopt",
    orders: OrderManager | None = None,
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
      (origin ``foreign``) through ``orders``' settled cancel
      (:meth:`~tradewind.trading.orders.OrderManager.cancel_foreign`: lookups, backoff, the
      cancel deadline); an order that cannot be cancelled raises ReconciliationError.
      ``"refuse"`` raises ReconciliationError naming it (the host does not start).
    - The account's trades since the last journaled fill (venues with
      ``"trades:account"``): those the journal lacks are booked as fills, once each, with
      their fees; a trade of an order the journal never knew (placed by hand) follows
      ``unknown_orders``: ``"refuse"`` raises, otherwise the order is journaled (origin
      ``adopted``, or ``foreign`` for ``"cancel"``: it executed, nothing is left to cancel)
      and its trades booked.
    - A position that differs: the venue's is adopted and a correction is journaled. A
      position the journal cannot explain at all (the journal is flat in that instrument)
      follows ``unknown_positions``: ``"adopt"`` (a correction) or ``"refuse"``
      (ReconciliationError).
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
    if unknown_orders == "cancel" and orders is None:
        raise ValueError(
            'unknown_orders = "cancel" needs the order manager (orders=) whose settled cancel '
            "cancels them"
        )
    if unknown_positions not in UNKNOWN_POSITION_POLICIES:
        raise ValueError(
            f"unknown_positions must be one of {', '.join(UNKNOWN_POSITION_POLICIES)}, "
            f"got {unknown_positions!r}"
        )
    vkey = venue_key(venue)
    keys = {i.key for i in instruments}
    found: list[ReconciliationDiscrepancy] = []

    def refuse(what: str, key: str) -> None:
        reason = f'{what} (set [run] {key} = "adopt" to take it over)'
        try:
            journal.record(ReconciliationFailed(ts_ns=ts_ns, venue=vkey, reason=reason))
            journal.flush()
        except Exception:  # the error below says what matters
            log.exception("could not journal the refusal")
        raise ReconciliationError(f"venue '{vkey}': {reason}; the host does not start")

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

    def failed(reason: str) -> None:
        try:
            journal.record(ReconciliationFailed(ts_ns=ts_ns, venue=vkey, reason=reason))
            journal.flush()
        except Exception:  # the error raised after this says what matters
            log.exception("could not journal the reconciliation failure")

    async def ask(what: str, fn: Callable[[], Awaitable[T]]) -> T:
        try:
            if timeout_s is None:
                return await fn()
            with anyio.fail_after(timeout_s):
                return await fn()
        except Exception as exc:
            reason = f"{what} failed: {type(exc).__name__}: {exc}"
            failed(reason)
            raise ReconciliationError(
                f"reconciliation with venue '{vkey}' failed: {reason}; the host will not trade "
                f"until the venue's orders and positions are known (check the venue's "
                f"connection and credentials, then start again)"
            ) from exc

    async def cancel_unknown(vr: OrderReport) -> OrderReport:
        # Bounded by the order manager's cancel deadline, not by ``timeout_s``: a cancel in
        # doubt is looked up and retried until it is settled or the deadline passes.
        assert orders is not None
        cid = vr.client_order_id
        try:
            return await orders.cancel_foreign(venue, vr.instrument, cid, ts_ns)
        except Exception as exc:
            reason = (
                f"order {cid} ({vr.instrument}, {_state(vr)}) is open at the venue but unknown "
                f"to the journal and could not be cancelled: {type(exc).__name__}: {exc}"
            )
            failed(reason)
            raise ReconciliationError(
                f"venue '{vkey}': {reason}; the host does not start (cancel it at the "
                f'exchange, or set [run] unknown_orders = "adopt" to take it over)'
            ) from exc

    # 1. Orders the journal has open.
    venue_open = [
        r for r in await ask("fetch_open_orders()", venue.fetch_open_orders) if r.instrument in keys
    ]
    at_venue = {r.client_order_id: r for r in venue_open}
    journaled = {r.client_order_id: r for r in journal.orders() if r.instrument in keys}
    fetch_fills = venue.fetch_fills if "fills:history" in venue.capabilities else None
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
        if unknown_orders == "refuse":
            refuse(
                f"order {cid} ({vr.instrument}, {_state(vr)}) is open at the venue but unknown "
                f"to the journal",
                "unknown_orders",
            )
        if unknown_orders == "cancel":
            cr = await cancel_unknown(vr)
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

    # 2b. The account's trades since the last journaled fill: booked once, with their fees,
    # whoever placed the order (an order the journal never knew follows unknown_orders).
    if "trades:account" in venue.capabilities:
        fills_recovered += await _book_account_trades(
            venue, journal, sorted(keys), ts_ns, unknown_orders, ask, refuse, note
        )

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
        if unknown_positions == "refuse" and jp.is_flat and vp is not None:
            refuse(
                f"position {inst} of {vq} @ {vp.avg_price} at the venue is unknown to the "
                f"journal (flat there)",
                "unknown_positions",
            )
        if vp is not None and vp.avg_price == 0 and vp.quantity > 0 and jp.is_flat:
            # A spot holding unknown to the journal: its entry from the account's trades.
            vp = await _priced_holding(venue, vp, ask)
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


def _trades_since(journal: Journal, instrument: str) -> int:
    """Where the account's trades of ``instrument`` are read from: the last journaled fill
    (inclusive: a trade of the same instant may be new; known ones are skipped by key), else
    the start of the session's first run (the venue's history before it is not this
    session's; a position it left is reconciled by ``unknown_positions``)."""
    row = journal.query(
        "SELECT max(ts_ns) FROM fills WHERE session_id = ? AND instrument = ?",
        [journal.session_id, instrument],
    )
    if row and row[0][0] is not None:
        return int(row[0][0])
    row = journal.query(
        "SELECT min(started_ts_ns) FROM runs WHERE coalesce(session_id, run_id) = ?",
        [journal.session_id],
    )
    return int(row[0][0]) if row and row[0][0] is not None else 0


async def _book_account_trades(
    venue: Any,
    journal: Journal,
    instruments: Sequence[str],
    ts_ns: int,
    unknown_orders: str,
    ask: Callable[[str, Callable[[], Awaitable[Any]]], Awaitable[Any]],
    refuse: Callable[[str, str], None],
    note: Callable[[str, str, str, str, str], None],
) -> int:
    """Book the account's trades the journal lacks (see :func:`reconcile`, step 2b)."""
    vkey = venue_key(venue)
    known_orders = {r.client_order_id: r for r in journal.orders()}
    booked = journal.fill_keys()
    n = 0
    for inst in instruments:
        since = _trades_since(journal, inst)
        trades: Sequence[Fill] = await ask(
            f"fetch_account_trades({inst})", partial(venue.fetch_account_trades, inst, since)
        )
        new = [f for f in trades if (f.client_order_id, fill_key(f)) not in booked]
        strangers: dict[str, list[Fill]] = {}
        for fill in new:
            if fill.client_order_id not in known_orders:
                strangers.setdefault(fill.client_order_id, []).append(fill)
        for cid, fills in strangers.items():
            qty = sum((f.quantity for f in fills), Decimal(0))
            what = (
                f"order {cid} ({inst}, {fills[0].side.value} {qty} in {len(fills)} trade(s)) "
                f"executed at the venue but is unknown to the journal"
            )
            if unknown_orders == "refuse":
                refuse(what, "unknown_orders")
            # Executed: nothing left to cancel. Its trades moved the account, so they are
            # booked either way ("adopt": tracked as ours; "cancel": booked as foreign).
            rec = OrderRecord(
                client_order_id=cid,
                instrument=inst,
                venue=vkey,
                status=OrderStatus.FILLED,
                filled_quantity=qty,
                reason="unknown to the journal; its trades booked at reconciliation",
                origin="adopted" if unknown_orders == "adopt" else "foreign",
                updated_ts_ns=ts_ns,
                run_id=journal.run_id,
            )
            journal.record_order(rec, ts_ns=ts_ns, kind="adopted")
            known_orders[cid] = rec
            note("order_unknown_to_journal", cid, "unknown", f"filled {qty}", "fills booked")
        got = _recover_fills(journal, new)
        if got:
            note(
                "fills_missing",
                inst,
                f"fills up to {since} ns",
                f"{got} more trade(s) since",
                "booked as fills",
            )
        n += got
        booked |= {(f.client_order_id, fill_key(f)) for f in new}
    return n


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
        if "simulated" not in venue.capabilities:
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
            start = Decimal(venue.starting_cash())
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
    policy = str(unknown_orders or getattr(cfg.run, "unknown_orders", "refuse"))
    position_policy = str(getattr(cfg.run, "unknown_positions", "refuse"))
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
        if len(venues) == 1 and "simulated" in venue.capabilities:
            cash_asset = venue.config.quote_currency
        reports.append(
            await reconcile(
                venue,
                journal,
                insts,
                engine.portfolio,
                unknown_orders=policy,
                unknown_positions=position_policy,
                orders=orders,
                ts_ns=ts,
                cash_asset=cash_asset,
            )
        )
    orders.restore(journal)
    for key, (venue, _insts) in venues.items():
        if "account" in venue.capabilities:
            found = await seed_account(engine, key, venue, ts)
            orders.pending.extend(found)
    booked = journal.fills()
    for rec in journal.open_orders():
        found_venue = venues.get(rec.venue)
        if found_venue is None or rec.order is None:
            continue
        venue = found_venue[0]
        if "orders:resume" in venue.capabilities:
            # Sent before the restart and still open: the venue delivers its further fills.
            cid = rec.client_order_id
            venue.resume_order(rec.order, [f for f in booked if f.client_order_id == cid])
    for report in reports:
        orders.pending.extend(report.discrepancies)
    return reports


def _drift(
    vkey: str,
    ts_ns: int,
    booked: Mapping[str, Decimal],
    actual: Mapping[str, Decimal],
    action: str,
) -> list[ReconciliationDiscrepancy]:
    out = []
    for asset in sorted(set(booked) | set(actual)):
        b, a = booked.get(asset, Decimal(0)), actual.get(asset, Decimal(0))
        if b != a:
            out.append(
                ReconciliationDiscrepancy(
                    ts_ns=ts_ns,
                    venue=vkey,
                    kind="balance",
                    subject=asset,
                    journal_state=str(b),
                    venue_state=str(a),
                    action=action,
                )
            )
    return out


async def seed_account(
    engine: Any, vkey: str, venue: Any, ts_ns: int
) -> list[ReconciliationDiscrepancy]:
    """Seed ``venue``'s account from its balances at start.

    The venue's balances become the account (journaled ``start``); what this host had booked
    for it in an earlier run of the session is compared first, each difference a ``balance``
    discrepancy. Balances in currencies no configured instrument trades are reported once
    (``untracked_balance``) and left out of equity. A running host re-checks the account
    through :func:`read_venues` and :func:`apply_reads`."""
    journal: Journal = engine.journal
    try:
        with anyio.fail_after(30.0):
            balances = {k: Decimal(v) for k, v in (await venue.fetch_balances()).items()}
    except Exception as exc:
        reason = f"fetch_balances() failed: {type(exc).__name__}: {exc}"
        journal.record(ReconciliationFailed(ts_ns=ts_ns, venue=vkey, reason=reason))
        journal.flush()
        raise ReconciliationError(
            f"reconciliation with venue '{vkey}' failed: {reason}; the host will not trade "
            f"until the venue's balances are known"
        ) from exc
    portfolio: Portfolio = engine.portfolio
    found: list[ReconciliationDiscrepancy] = []
    booked = journal.account_balances().get(vkey)
    if booked is not None:
        booked = _with_later_fills(engine, vkey, booked)
        booked = await _book_missed_funding(engine, vkey, venue, booked, ts_ns)
        found += _drift(vkey, ts_ns, booked, balances, "adopted")
    portfolio.seed_account(vkey, balances)
    journal.record_balances(vkey, balances, ts_ns=ts_ns, reason="start")
    for asset, amount in portfolio.accounts.untracked(vkey).items():
        found.append(
            ReconciliationDiscrepancy(
                ts_ns=ts_ns,
                venue=vkey,
                kind="untracked_balance",
                subject=asset,
                journal_state="not traded by any configured instrument",
                venue_state=str(amount),
                action="left out of equity",
            )
        )
    return found


def _with_later_fills(engine: Any, vkey: str, booked: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """``booked`` (the venue's last journaled balances) moved by the fills journaled after
    them, e.g. an order in flight that executed while the host was down, booked from the
    venue at this reconciliation."""
    account = Account(venue=vkey, balances=dict(booked), tracked=frozenset())
    journal: Journal = engine.journal
    mine = {k: i for k, i in engine.instruments.items() if i.venue == vkey}
    for fill, realized in journal.fills_after_balances(vkey, mine):
        account.apply_fill(fill, mine[fill.instrument], realized)
    return dict(account.balances)


async def _book_missed_funding(
    engine: Any, vkey: str, venue: Any, booked: Mapping[str, Decimal], ts_ns: int
) -> dict[str, Decimal]:
    """A resumed session: journal the funding ``venue`` settled on this session's instruments
    since their first fill that the journal does not hold yet (e.g. charged while the host
    was down); returns ``booked`` moved by it. The venue's balances, seeded next, include it
    already, so it is journaled and counted in ``funding_paid`` but not applied again."""
    out = dict(booked)
    if "funding:history" not in venue.capabilities:
        return out
    journal: Journal = engine.journal
    first_fill: dict[str, int] = {}
    for fill in journal.fills():
        first_fill.setdefault(fill.instrument, fill.ts_ns)
    seen = journal.funding_flows(vkey)
    portfolio: Portfolio = engine.portfolio
    for inst in engine.instruments.values():
        if inst.venue != vkey or inst.key not in first_fill or not inst.quote:
            continue
        try:
            with anyio.fail_after(30.0):
                payments = await venue.fetch_funding_payments(inst.key)
        except Exception as exc:
            reason = f"fetch_funding_payments({inst.key}) failed: {type(exc).__name__}: {exc}"
            journal.record(ReconciliationFailed(ts_ns=ts_ns, venue=vkey, reason=reason))
            journal.flush()
            raise ReconciliationError(
                f"reconciliation with venue '{vkey}' failed: {reason}; the host will not trade "
                f"until the funding settled while it was down is known"
            ) from exc
        for pay in payments:
            key = (pay.ts_ns, pay.instrument, pay.amount)
            if pay.ts_ns < first_fill[inst.key] or key in seen:
                continue
            journal.record_cash_flow(
                vkey, inst.key, inst.quote, pay.amount, ts_ns=pay.ts_ns, kind="funding"
            )
            seen.add(key)
            out[inst.quote] = out.get(inst.quote, Decimal(0)) - pay.amount
            portfolio.funding_paid += pay.amount
            engine.funding_payments.append((pay.ts_ns, pay.instrument, pay.amount))
    return out


@attrs.define
class VenueReads:
    """What one re-reconciliation round read from the venues (off the engine loop), to be
    applied on the loop by :func:`apply_reads`."""

    #: The reports of the orders the host had open when the round started.
    reports: list[OrderReport] = attrs.field(factory=list)
    #: Per account venue: its balances, or why they could not be read.
    balances: dict[str, Mapping[str, Decimal] | str] = attrs.field(factory=dict)
    #: Per account venue: the balances this host had booked when the read started.
    booked: dict[str, dict[str, Decimal]] = attrs.field(factory=dict)
    #: Per execution venue with no order in flight: its non-flat positions in the
    #: instruments this host trades there, or why they could not be read.
    positions: dict[str, dict[str, Position] | str] = attrs.field(factory=dict)
    #: Per execution venue: this host's positions there when the read started.
    held: dict[str, dict[str, Position]] = attrs.field(factory=dict)


def _busy_venues(engine: Any) -> set[str]:
    orders = engine.orders
    return {
        orders.records[o.client_order_id].venue
        for o in engine.portfolio.open_orders()
        if o.client_order_id in orders.records
    }


async def read_venues(engine: Any) -> VenueReads:
    """The venue reads of a re-reconciliation round: the host's open orders looked up at
    their venue, then the balances of every account venue with no order in flight. Touches
    neither the journal nor the portfolio, so it may run off the engine loop."""
    orders = engine.orders
    reads = VenueReads()
    seen: dict[str, Any] = {}
    for st in engine.state.values():
        seen.setdefault(venue_key(st.exec_venue), st.exec_venue)
    for order in list(engine.portfolio.open_orders()):
        rec = orders.records.get(order.client_order_id)
        if rec is None or rec.venue not in seen:
            continue
        try:
            report = await seen[rec.venue].fetch_order(order.instrument, order.client_order_id)
        except Exception as exc:  # the next round tries again
            log.warning("reconciliation: lookup of %s failed: %s", order.client_order_id, exc)
            continue
        if report is not None:
            reads.reports.append(report)
    busy = _busy_venues(engine)
    for key, venue in seen.items():
        # With an order in flight the venue may have executed what this host has not booked
        # yet: positions and balances are compared only when the venue's orders are all
        # settled.
        if key in busy:
            continue
        held = _held(engine, key)
        if held:
            reads.held[key] = held
            try:
                with anyio.fail_after(30.0):
                    got_pos = await venue.fetch_positions()
                reads.positions[key] = {
                    p.instrument: p for p in got_pos if not p.is_flat and p.instrument in held
                }
            except Exception as exc:
                reads.positions[key] = f"fetch_positions() failed: {type(exc).__name__}: {exc}"
        account = engine.portfolio.accounts.get(key)
        if "account" not in venue.capabilities or key in busy or account is None:
            continue
        reads.booked[key] = dict(account.balances)
        try:
            with anyio.fail_after(30.0):
                got = await venue.fetch_balances()
            reads.balances[key] = {k: Decimal(v) for k, v in got.items()}
        except Exception as exc:
            reads.balances[key] = f"fetch_balances() failed: {type(exc).__name__}: {exc}"
    return reads


def _held(engine: Any, vkey: str) -> dict[str, Position]:
    """This host's positions (flat ones too) in the perpetuals it trades on ``vkey``. A spot
    holding is the account's balance of the base asset: it is compared (and a withdrawal
    adopted) with the balances, and stays a position as this host booked it."""
    pf: Portfolio = engine.portfolio
    return {
        k: pf.position(k)
        for k, st in engine.state.items()
        if venue_key(st.exec_venue) == vkey and st.instrument.kind is InstrumentKind.PERP
    }


def _position_drift(
    engine: Any, reads: VenueReads, busy: set[str], ts_ns: int
) -> list[ReconciliationDiscrepancy]:
    """Compare each venue's positions (quantities) with this host's; a drift is reported,
    and the venue's quantity adopted and journaled (``correction``) as at start."""
    journal: Journal = engine.journal
    found: list[ReconciliationDiscrepancy] = []
    unbooked = engine.orders.unbooked() if reads.positions else {}
    for vkey, got in reads.positions.items():
        if isinstance(got, str):
            journal.record(ReconciliationFailed(ts_ns=ts_ns, venue=vkey, reason=got))
            journal.flush()
            log.warning("reconciliation: venue '%s': %s", vkey, got)
            continue
        held = reads.held[vkey]
        if vkey in unbooked:
            # Fills reported and not delivered yet: the venue's positions include them, this
            # host's not. Said each round, as a fill that never arrives keeps it from comparing.
            log.warning(
                "reconciliation: venue '%s': positions not compared: order(s) %s reported "
                "filled beyond the fills booked for them",
                vkey,
                ", ".join(unbooked[vkey][:5]),
            )
            continue
        if vkey in busy or _held(engine, vkey) != held:
            continue  # it moved (or has an order in flight) since the read: the next round
        for inst in sorted(held):
            mine, theirs = held[inst], got.get(inst)
            qty = theirs.quantity if theirs is not None else Decimal(0)
            if qty == mine.quantity:
                continue
            fixed = _corrected(mine, theirs, ts_ns)
            journal.record_position(fixed, ts_ns=ts_ns, reason="correction")
            engine.portfolio.restore_position(fixed)
            log.warning(
                "reconciliation: venue '%s' holds %s of %s, this host had %s: corrected",
                vkey,
                qty,
                inst,
                mine.quantity,
            )
            found.append(
                ReconciliationDiscrepancy(
                    ts_ns=ts_ns,
                    venue=vkey,
                    kind="position",
                    subject=inst,
                    journal_state=f"{mine.quantity} @ {mine.avg_price}",
                    venue_state=f"{qty} @ {theirs.avg_price if theirs is not None else 0}",
                    action="corrected",
                )
            )
    return found


def apply_reads(engine: Any, reads: VenueReads, ts_ns: int) -> list[ReconciliationDiscrepancy]:
    """Apply a round's reads on the engine loop: the order reports go to the order manager
    (fills found are booked once, through its sink), then each venue's positions are compared
    with this host's and each account's booked balances are journaled (``booked``) and
    compared with the venue's; a drift is reported and the venue's position or balance
    adopted (``correction``). A venue whose positions or account moved while they were being
    read (a fill, funding) or that has an order in flight now is left to the next round: the
    venue's answer may or may not include that move."""
    orders = engine.orders
    journal: Journal = engine.journal
    for report in reads.reports:
        orders.on_report(report)
    busy = _busy_venues(engine)
    found: list[ReconciliationDiscrepancy] = _position_drift(engine, reads, busy, ts_ns)
    for vkey, got in reads.balances.items():
        if isinstance(got, str):
            journal.record(ReconciliationFailed(ts_ns=ts_ns, venue=vkey, reason=got))
            journal.flush()
            log.warning("reconciliation: venue '%s': %s", vkey, got)
            continue
        account = engine.portfolio.accounts.get(vkey)
        if account is None or vkey in busy or dict(account.balances) != reads.booked[vkey]:
            continue
        booked = dict(account.balances)
        journal.record_balances(vkey, booked, ts_ns=ts_ns, reason="booked")
        drift = _drift(vkey, ts_ns, booked, got, "corrected")
        if drift:
            account.balances = dict(got)
            journal.record_balances(vkey, got, ts_ns=ts_ns, reason="correction")
        found += drift
    return found


async def rereconcile(engine: Any) -> None:
    """Reconcile while running, in one go (:func:`read_venues` then :func:`apply_reads`).
    Found drift is published as ReconciliationDiscrepancy events. A paper or live engine runs
    the reads off its loop instead (:meth:`VenueCalls.read`)."""
    reads = await read_venues(engine)
    engine.orders.pending.extend(apply_reads(engine, reads, engine.clock.now_ns()))


def record_final_balances(engine: Any) -> None:
    """Journal every account's balances as this host booked them, at the end of a run."""
    journal: Journal | None = engine.journal
    if journal is None:
        return
    ts = engine.clock.now_ns()
    for key, account in engine.portfolio.accounts.by_venue.items():
        journal.record_balances(key, dict(account.balances), ts_ns=ts, reason="final")
