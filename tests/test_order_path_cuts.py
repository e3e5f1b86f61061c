"""The order path's cuts of the fourteenth session (issues 17 and 19, docs/performance.md) change
nothing: the clock is read only for an open circuit breaker (a closed one allows every call
and has nothing half-open to announce), and the fill booking asks the portfolio to price a
fee only when it is in a third currency (any other fill comes back as it went in). Each is
checked against the code before it, kept verbatim here, over random sessions."""

from __future__ import annotations

import math
import random
from decimal import Decimal
from pathlib import Path
from typing import Any

import anyio
import pytest
from tradewind.errors import VenueError
from tradewind.journal.store import TABLES
from tradewind.model import CircuitBreaker, Fill, OrderReport, OrderType, Side, TimeInForce
from tradewind.trading import order_retry
from tradewind.trading.order_retry import (
    BreakerPolicy,
    CircuitOpenError,
    T,
    VenueTimeoutError,
    _Breaker,
)
from tradewind.trading.orders import OrderManager
from tradewind.trading.portfolio import Portfolio

from tests.faulty_venue import INST, Stack, settings
from tests.test_determinism import _rows


# -- the code before, verbatim ------------------------------------------------------------------
async def _call_before(
    self: Any,
    venue: Any,
    key: str,
    fn: Any,
    *,
    create: bool = False,
    trial: bool = False,
) -> T:
    """``VenueCalls._call`` as it was (the clock read for every create)."""
    br = self._breaker(key)
    if create:
        now = self._clock()
        if not br.allows(now) and not trial:
            raise CircuitOpenError(
                f"circuit breaker of venue '{key}' is open ({br.failures} consecutive "
                f"failed creates)"
            )
        if br.opened_at is not None and not br.half_open_announced and br.allows(now):
            br.half_open_announced = True
            self.pending.append(
                CircuitBreaker(
                    ts_ns=self._ts,
                    name=br.name,
                    tripped=True,
                    reason="half-open: the cooldown is over, one trial create decides",
                )
            )
    timeout = self.settings.call_timeout_s
    if type(venue).__dict__.get("answers_at_once") and key not in self.submitters:
        timeout = None
    try:
        if timeout is None:
            result = await fn()
        else:
            with anyio.fail_after(timeout):
                result = await fn()
    except TimeoutError as exc:
        err = VenueTimeoutError(f"venue '{key}' did not answer within {timeout} s")
        if create:
            self._failure(br, err)
        raise err from exc
    except order_retry.OrderRejectedError:
        if create:
            self._success(br)  # the venue answered
        raise
    except Exception as exc:
        if create:
            self._failure(br, exc)
        raise
    if create:
        self._success(br)
    return result  # type: ignore[no-any-return]


async def _send_before(self: Any, venue: object, order: Any, exit_reason: str = "") -> OrderReport:
    """``OrderManager.send`` as it was (the clock read for every entry)."""
    cid = order.client_order_id
    key = order_retry.venue_key(venue)
    if self.journal_error is not None:
        exc: VenueError = VenueError(
            f"order {cid} not sent: the journal cannot record it ({self.journal_error})"
        )
        self._fail_locally(cid, str(exc))
        raise exc
    breaker = self._breaker(key)
    is_exit = order.reduce_only or bool(exit_reason) or order.intent == "close"
    if not is_exit and not breaker.allows(self._clock()):
        exc = CircuitOpenError(
            f"order {cid} not sent: the circuit breaker of venue '{key}' is open after "
            f"{breaker.failures} consecutive failures"
        )
        self._fail_locally(cid, str(exc))
        raise exc
    return await self._place(venue, key, cid, is_exit)  # type: ignore[no-any-return]


# -- the breaker ----------------------------------------------------------------------------------
def test_a_closed_breaker_allows_every_call_whatever_the_clock_says():
    rng = random.Random(5)
    for cooldown in (0.0, 1e-9, 30.0, math.inf):
        br = _Breaker(
            name="venue:x", policy=BreakerPolicy(failure_threshold=3, cooldown_s=cooldown)
        )
        for now in (
            math.nan,
            -math.inf,
            math.inf,
            0.0,
            *(rng.uniform(-1e9, 1e9) for _ in range(200)),
        ):
            assert br.allows(now)


_FAULTS = ["unavailable", "timeout_before", "timeout_after", "reject", "bug", "unavailable_after"]


def _session(path: Path, seed: int) -> tuple[list[str], list[str]]:
    """Random orders through a faulty venue with a breaker of a small threshold: faults on the
    creates, the cooldown passing or not, exits sent while it is open, disconnects. Returns
    what each create ended in and every event, as text; the journal is left at ``path``."""
    rng = random.Random(seed)
    stack = Stack(
        path,
        order_settings=settings(
            attempts=rng.choice([1, 2]), threshold=rng.choice([1, 2, 3]), cooldown=10.0
        ),
    )
    outcomes: list[str] = []
    try:
        ms = 0
        for _ in range(40):
            ms += rng.randrange(1, 40)
            stack.time.now += rng.choice([0.0, 0.5, 4.0, 10.0, 25.0])
            if rng.random() < 0.45:
                stack.venue.fail("submit_order", rng.choice(_FAULTS))
            if rng.random() < 0.05:
                stack.venue.disconnect()
            elif rng.random() < 0.2:
                stack.venue.reconnect()
            pos = stack.portfolio.position(INST.key)
            exit_ = not pos.is_flat and rng.random() < 0.4
            order = stack.order(
                side=(pos.side.opposite if exit_ and pos.side else rng.choice(list(Side))),
                qty=str(abs(pos.quantity)) if exit_ else rng.choice(["0.010", "0.020"]),
                tif=rng.choice([TimeInForce.IOC, TimeInForce.GTC]),
                reduce_only=exit_,
                type_=OrderType.MARKET,
            )
            try:
                outcomes.append(f"{stack.submit(order, at_ms=ms)!r}")
            except Exception as exc:
                outcomes.append(f"{type(exc).__name__}: {exc}")
            anyio.run(stack.orders.poll)
            ms += 1
            stack.trades([(ms, 50_000.0 + rng.randrange(-20, 20), 1.0, s) for s in (1, -1)])
            stack.publish()
            stack.journal.commit()
            br = stack.orders._breakers.get("sim")
            outcomes.append(
                "breaker "
                + ("-" if br is None else f"{br.failures} {br.opened_at} {br.half_open_announced}")
            )
        return outcomes, [repr(e) for e in stack.events]
    finally:
        stack.journal.close()


@pytest.mark.parametrize("seed", range(6))
def test_sending_through_faults_and_the_breaker_is_what_the_code_before_did(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
):
    now_outcomes, now_events = _session(tmp_path / "now.duckdb", seed)
    monkeypatch.setattr(order_retry.VenueCalls, "_call", _call_before)
    monkeypatch.setattr(OrderManager, "send", _send_before)
    before_outcomes, before_events = _session(tmp_path / "before.duckdb", seed)
    assert now_outcomes == before_outcomes
    assert now_events == before_events
    a, b = _rows(tmp_path / "now.duckdb"), _rows(tmp_path / "before.duckdb")
    assert a["orders"] and a["order_events"]
    for table in TABLES:
        assert a[table] == b[table], table
    # The sessions met the breaker's every state (the cuts' branches ran).
    texts = " ".join(now_events)
    if seed < 3:
        assert "half-open" in texts and "consecutive" in texts


def test_the_sessions_open_close_and_half_open_the_breaker(tmp_path: Path):
    """Across the seeds above, the breaker opened, half-opened, closed again, and refused
    entries while open: the comparisons cover its every branch."""
    texts = ""
    for seed in range(6):
        outcomes, events = _session(tmp_path / f"s{seed}.duckdb", seed)
        texts += " ".join(outcomes) + " ".join(events)
    for part in ("half-open", "circuit closed", "CircuitOpenError", "consecutive failures"):
        assert part in texts, part


# -- pricing a fee ------------------------------------------------------------------------------
@pytest.mark.parametrize("accounts", [False, True])
def test_a_fill_without_a_third_currency_fee_is_priced_as_itself(accounts: bool):
    """``Portfolio.price_fee`` hands back every fill whose fee is not in a third currency as
    the very object it was given, whatever its fields, marks and accounts: the fill booking
    asks it only for a fee in a third currency."""
    rng = random.Random(7)
    portfolio = Portfolio({INST.key: INST}, Decimal("1000"))
    if accounts:
        portfolio.seed_account(INST.venue, {"USDT": Decimal("1000"), "BNB": Decimal("2")})
    for n in range(2_000):
        if rng.random() < 0.3:
            portfolio.mark(INST.key, rng.uniform(1, 1e5), n)
        asset = rng.choice(["quote", "base", "other", "", "QUOTE"])
        fill = Fill(
            client_order_id=f"c{n}",
            instrument=rng.choice([INST.key, "other:XYZ"]),
            side=rng.choice(list(Side)),
            quantity=Decimal(rng.choice(["0.001", "1", "2.50"])),
            price=Decimal(rng.choice(["100.1", "5E+4"])),
            fee=Decimal(rng.choice(["0", "0.04", "-0.01"])),
            ts_ns=n,
            fee_asset=asset,
            fee_currency=rng.choice(["", "BNB", "USDT"]),
            fee_rate=rng.choice([None, Decimal("612.5")]),
        )
        priced = portfolio.price_fee(fill)
        if asset != "other":
            assert priced is fill


def _id_seq_before(self: Any, client_order_id: str) -> int | None:
    """``OrderManager._id_seq`` as it was (every id parsed)."""
    head, _, tail = client_order_id.rpartition("-")
    if head == self.id_prefix and tail.isdigit():
        return int(tail)
    return None


def test_the_number_of_the_id_just_made_is_the_parsed_one():
    """``_id_seq`` of the id :meth:`next_client_order_id` just made is taken as made, without
    the parse: over random ids made, prefixes changed between making and asking (a restore),
    equal copies of an id, ids of other hosts and malformed ones, the same answer as the parse."""
    rng = random.Random(17)
    om = OrderManager(Portfolio({INST.key: INST}, Decimal(1000)), "run-a")
    assert om._id_seq("") is None  # nothing made yet
    for _ in range(3000):
        roll = rng.random()
        if roll < 0.05:
            om.id_prefix = rng.choice(["tw-run-a", "tw-b", f"tw-{rng.randrange(9)}-x"])
        elif roll < 0.1:
            om._seq = max(om._seq, rng.randrange(10**6))  # a restore's journal sequence
        cid = om.next_client_order_id()
        if rng.random() < 0.2:
            om.id_prefix = rng.choice([om.id_prefix, "tw-other", "".join(om.id_prefix)])
        asked = rng.choice(
            [
                cid,
                "".join(cid),  # an equal string, not the same object
                cid + "0",
                cid.replace("-", "_"),
                f"{om.id_prefix}--{rng.randrange(5)}",
                f"x-{rng.randrange(100)}",
                "tw-run-a-",
            ]
        )
        assert om._id_seq(asked) == _id_seq_before(om, asked), (asked, om.id_prefix)
    # And a made id after the prefix changed: no longer this host's numbering.
    cid = om.next_client_order_id()
    om.id_prefix = "tw-elsewhere"
    assert om._id_seq(cid) is None
