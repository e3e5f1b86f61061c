"""A pass of quiet closes of several instruments without a coroutine per close.

``Engine._reach`` brings every instrument to a grid time: with a hundred instruments that is
a hundred closes a pass, nearly all of them quiet (:mod:`tradewind.trading.quiet_closes`)
and nearly all of one kind: one row of the instrument's block, every analyzer's row in a
table of arrays, the strategy's candle rejected by the compiled gates (or no candle of the
strategy's timeframe, or an order of the instrument in flight), nothing to publish after.
:meth:`QuietCloses.close` took each of them as a coroutine of its own and a chain of calls
(``close``, ``_from_arrays``, ``_defer``, ``_decide``). :func:`quick_close` takes such a
close as one plain function: it checks everything the close's path depends on before it
changes anything, then does what that path does, in the same order. Any other close (a
row the strategy must decide, a first close of a block, a row not aligned with its tables,
a position) goes on through :meth:`QuietCloses.close_checked` (the engine's quiet check
already made) or the engine's step, unchanged. :func:`reach_pass` is ``_reach``'s loop over
the pass's closes with it: one coroutine a pass. The result is the same bit for bit
(tests/test_quiet_pass.py).
"""

from __future__ import annotations

import heapq
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tradewind.trading.engine import Engine, _InstrumentState
    from tradewind.trading.quiet_closes import QuietCloses

#: :func:`quick_close`'s answers: the close taken whole; taken, with the step's end to
#: publish; the engine's quiet check made and nothing else (``close_checked`` goes on);
#: the engine's full step.
QUICK_DONE = 1
QUICK_PUBLISH = 2
QUICK_REST = 0
QUICK_STEP = -1


def quick_close(q: QuietCloses, st: _InstrumentState, t_close: int) -> int:
    """:meth:`QuietCloses.close` of ``st`` at ``t_close`` when it is a pass's usual close
    (module docstring); the answer says what is left for the caller."""
    block = st.block
    known = q._known_quiet
    q._known_quiet = False
    if block is None:
        return QUICK_STEP
    if known:
        q.known_quiet += 1
    elif not q._engine_quiet():
        return QUICK_STEP
    # Checked. From here either the whole close or nothing but the check (QUICK_REST).
    e = q.engine
    key = st.key
    portfolio = e.portfolio
    pos = portfolio._positions.get(key)
    if pos is not None and pos.quantity:
        return QUICK_REST  # a position (held or dust): ``close_checked`` asks
    if not q.from_arrays or e.candle_sinks:
        return QUICK_REST
    kept = q._rows.get(key)
    if kept is None or kept[0] is not block:
        return QUICK_REST  # the block's first close makes its lists
    lists = kept[1]
    tables = lists.tables
    if tables is None:
        return QUICK_REST
    rows = block.rows
    r = rows.head
    k = -1
    gate = None
    closes = lists.closes
    n = len(closes)
    if r < n and closes[r] <= t_close:
        if r + 1 != n and closes[r + 1] <= t_close:
            return QUICK_REST  # several rows due
        judged = q._judged.get(key)
        if judged is None or judged[0] is not block:
            return QUICK_REST
        for _, table in tables:
            if table._next != r or r >= table.rows:
                return QUICK_REST
        k = lists.at[r]
        # An order of the instrument in flight: no decision (``has_open_order`` asked only
        # when some order is).
        if k >= 0 and not (portfolio._orders and portfolio.has_open_order(key)):
            _, first, failing, names = judged
            if failing is None or failing[r - first] < 0:
                return QUICK_REST  # the strategy decides
            gate = names[failing[r - first]]
    else:
        r = -1  # nothing closes here (the step would return before deciding)
    # What ``close_checked``, ``_from_arrays``, ``_defer`` and ``_decide`` do with it.
    clock = e.clock
    if clock is not q._clock:
        q._clock, q._advance = clock, getattr(clock, "advance_to", None)
    advance = q._advance
    if advance is not None:
        advance(t_close)
    if r < 0:
        q._known_quiet = q.reuse_quiet
        return QUICK_DONE
    rows.head = r + 1
    for _, table in tables:
        table._next = r + 1
    q.closes += 1
    q.array_closes += 1
    q.quick_closes += 1
    e.candles += lists.counts[r]
    values = st.values
    if values._unfed:
        values.use_table_rows(tables, r)
    else:  # ``use_table_rows`` with nothing to settle
        values._cache.clear()
        values._lazy = tables
        values._lazy_row = r
    q.lazy_rows += 1
    if k >= 0:
        e.decision_points += 1
        equity = e._equity
        if not portfolio._open and not portfolio.accounts and portfolio.cash is equity._cash:
            # ``EquityCurve.record`` of a flat portfolio whose ledger has not moved.
            equity.points.append((t_close, equity._cash_float))
        else:
            equity.record(t_close)
        deferred = q._deferred.get(key)
        if deferred is not None and deferred.block is block:
            deferred.times.append(t_close)
            deferred.rows.append(r)
            q.deferred_points += 1
        else:
            q._defer(st, block, lists, r, t_close)
        if gate is not None:
            e.strategy.rejected_at(gate)
            q.rejected_by_arrays += 1
            q.rejected_by_gate[gate] = q.rejected_by_gate.get(gate, 0) + 1
    if e._nothing_to_publish():
        q.idle_steps += 1  # nothing for the step's end to journal or publish
        q._known_quiet = q.reuse_quiet
        return QUICK_DONE
    return QUICK_PUBLISH


async def reach_pass(
    e: Engine,
    q: QuietCloses,
    heap: list[tuple[int, int, _InstrumentState]],
    due: list[_InstrumentState],
    t: int,
) -> None:
    """``Engine._reach``'s closes of one pass: those on the way (``heap``, in time order),
    then each due instrument's at grid time ``t``, each moved to its next boundary after."""
    quick = quick_close if q.quick else None
    step = e.step
    while heap:
        close, _, st = heapq.heappop(heap)
        code = QUICK_REST if quick is None else quick(q, st, close)
        if code != QUICK_DONE:
            await _rest(e, q, quick, st, close, code)
    for st in due:
        code = QUICK_REST if quick is None else quick(q, st, t)
        if code != QUICK_DONE:
            await _rest(e, q, quick, st, t, code)
        st.next_boundary = t + step


async def _rest(
    e: Engine, q: QuietCloses, quick: object, st: _InstrumentState, t: int, code: int
) -> None:
    """What :func:`quick_close` left of a close (``quick`` None: the whole close)."""
    if quick is None:
        if not await q.close(st, t):
            await e._on_boundary(st, t)
        return
    if code == QUICK_REST:
        code = QUICK_DONE if await q.close_checked(st, t) else QUICK_STEP
    if code == QUICK_PUBLISH:
        await e._publish_pending()
    elif code == QUICK_STEP:
        await e._on_boundary(st, t)
