"""The event bus: ordered delivery, back-pressure without loss, failing subscribers reported."""

import anyio
import anyio.lowlevel
import pytest
from tradewind.bus import EventBus, Subscription
from tradewind.model import Event, EventsDropped, RunStarted, SystemError


def ev(i: int) -> RunStarted:
    return RunStarted(ts_ns=i, run_id=f"r{i}", mode="backtest")


def test_a_raising_subscriber_does_not_stop_the_others_and_is_reported():
    got_a, got_c, errors = [], [], []

    def a(e: Event) -> None:
        got_a.append(e)

    def b(e: Event) -> None:
        if isinstance(e, RunStarted) and e.ts_ns == 2:
            raise ValueError("bad event 2")

    async def c(e: Event) -> None:
        if isinstance(e, SystemError):
            errors.append(e)
        else:
            got_c.append(e.ts_ns)

    async def main() -> EventBus:
        async with EventBus(capacity=4) as bus:
            bus.subscribe("a", a)
            sub_b = bus.subscribe("b", b)
            bus.subscribe("c", c)
            for i in range(1, 6):
                await bus.publish(ev(i))
        assert sub_b.failed == 1 and sub_b.delivered == 4
        return bus

    anyio.run(main)
    assert got_c == [1, 2, 3, 4, 5]  # c got every event, in order
    assert [e.ts_ns for e in got_a if isinstance(e, RunStarted)] == [1, 2, 3, 4, 5]
    assert len(errors) == 1
    assert errors[0].source == "bus:b" and "ValueError: bad event 2" in errors[0].error
    assert any(isinstance(e, SystemError) for e in got_a)  # a was told too


def test_a_slow_lossless_subscriber_applies_back_pressure_and_loses_nothing():
    seen = []

    async def slow(e: Event) -> None:
        await anyio.sleep(0.001)
        seen.append(e.ts_ns)

    async def main() -> None:
        async with EventBus(capacity=2) as bus:
            bus.subscribe("slow", slow, lossless=True)
            for i in range(200):
                await bus.publish(ev(i))

    anyio.run(main)
    assert seen == list(range(200))


def test_subscribers_receive_only_the_types_they_ask_for():
    got = []

    async def main() -> None:
        async with EventBus() as bus:
            bus.subscribe("errors", got.append, types=(SystemError,))
            await bus.publish(ev(1))
            await bus.publish(SystemError(ts_ns=2, source="x", error="y"))

    anyio.run(main)
    assert [type(e) for e in got] == [SystemError]


def test_publishing_after_close_is_an_error_not_a_silent_drop():
    async def main() -> None:
        bus = EventBus()
        async with bus:
            pass
        with pytest.raises(RuntimeError, match="closed"):
            await bus.publish(ev(1))

    anyio.run(main)


def test_a_subscriber_failing_on_system_errors_does_not_loop():
    calls = []

    def always_fails(e: Event) -> None:
        calls.append(type(e).__name__)
        raise RuntimeError("nope")

    async def main() -> None:
        async with EventBus() as bus:
            bus.subscribe("x", always_fails)
            bus.subscribe("y", always_fails)
            await bus.publish(ev(1))

    anyio.run(main)
    # Each saw the event and the other's failure report once; no ping-pong.
    assert sorted(calls) == ["RunStarted", "RunStarted", "SystemError", "SystemError"]


def test_two_raising_slow_subscribers_are_isolated_and_their_drops_counted():
    """Two notifiers failing slowly (the network is down) and 20,000 events: the publisher
    never waits for them, a healthy subscriber gets every event in order, and what the failing
    ones could not take is counted and reported. (Before issue 19 their failure reports
    blocked each other's tasks once the queues were full, and the publisher froze.)"""
    healthy: list[int] = []
    reports: list[Event] = []

    async def down(e: Event) -> None:
        await anyio.sleep(0.001)  # a connect attempt that fails
        raise ConnectionError("network is unreachable")

    def journal(e: Event) -> None:
        if isinstance(e, RunStarted):
            healthy.append(e.ts_ns)
        else:
            reports.append(e)

    async def main() -> tuple:
        with anyio.fail_after(60):
            async with EventBus(capacity=4096, drain_timeout_s=1.0) as bus:
                bus.subscribe("journal", journal, lossless=True)
                a = bus.subscribe("notifier:a", down)
                b = bus.subscribe("notifier:b", down)
                for i in range(20_000):
                    await bus.publish(ev(i))
        return bus, a, b

    bus, a, b = anyio.run(main)
    assert healthy == list(range(20_000))
    for sub in (a, b):
        assert sub.dropped > 0
        assert sub.delivered == 0
        assert sub.failed + sub.dropped >= 20_000  # every event failed or was dropped
    assert bus.dropped == {"notifier:a": a.dropped, "notifier:b": b.dropped}
    drops = [r for r in reports if isinstance(r, EventsDropped)]
    for sub in (a, b):
        assert sum(r.count for r in drops if r.subscriber == sub.name) == sub.dropped
    failures = [r for r in reports if isinstance(r, SystemError)]
    assert failures and all("ConnectionError" in r.error for r in failures)


def test_a_hung_subscriber_does_not_hang_the_close():
    got = []

    async def hung(e: Event) -> None:
        await anyio.sleep_forever()

    async def main() -> tuple:
        with anyio.fail_after(30):
            async with EventBus(capacity=8, drain_timeout_s=0.2) as bus:
                bus.subscribe("journal", got.append, lossless=True)
                h = bus.subscribe("hung", hung)
                for i in range(5):
                    await bus.publish(ev(i))
        return h

    h = anyio.run(main)
    assert h.dropped == 5 and h.delivered == 0  # one in its hands, four queued
    dropped = [e for e in got if isinstance(e, EventsDropped)]
    assert [(d.subscriber, d.count) for d in dropped] == [("hung", 5)]
    assert "hung at close" in dropped[0].reason


def test_a_subscriber_that_keeps_up_loses_nothing_even_over_a_small_queue():
    got = []

    async def main() -> None:
        async with EventBus(capacity=2) as bus:
            sub = bus.subscribe("fast", got.append)
            for i in range(1000):
                await bus.publish(ev(i))
        assert sub.dropped == 0

    anyio.run(main)
    assert [e.ts_ns for e in got] == list(range(1000))


def test_publish_many_hands_each_subscriber_every_event_it_wants_in_order():
    got_all: list[int] = []
    got_errors: list[Event] = []
    calls: list[int] = []

    async def slow(e: Event) -> None:
        await anyio.sleep(0)
        calls.append(e.ts_ns)

    async def main() -> EventBus:
        async with EventBus(capacity=8) as bus:
            bus.subscribe("all", lambda e: got_all.append(e.ts_ns))
            bus.subscribe("errors", got_errors.append, types=(SystemError,))
            bus.subscribe("slow", slow, lossless=True)
            for start in range(0, 40, 5):  # runs of 5 events, a SystemError in each
                events: list[Event] = [ev(i) for i in range(start, start + 4)]
                events.append(SystemError(ts_ns=start + 4, source="x", error="y"))
                await bus.publish_many(events)
            await bus.publish_many([])
        return bus

    bus = anyio.run(main)
    assert got_all == list(range(40))
    assert [e.ts_ns for e in got_errors] == list(range(4, 40, 5))
    assert calls == list(range(40))  # lossless: back-pressure, nothing lost
    assert bus.published == 40
    assert bus.dropped == {}


def test_publish_many_beyond_a_full_queue_drops_and_counts_per_event():
    """A run of events larger than a slow subscriber's free room: what fits is queued, the rest
    is dropped and counted event by event, and the drops are reported to the others."""
    journal: list[Event] = []
    release = anyio.Event()

    async def stuck(e: Event) -> None:
        await release.wait()

    async def main() -> Subscription:
        async with EventBus(capacity=4, drain_timeout_s=5.0) as bus:
            bus.subscribe("journal", journal.append, lossless=True)
            sub = bus.subscribe("stuck", stuck)
            await bus.publish_many([ev(i) for i in range(10)])
            # One event in its hands, four queued, five dropped (the queue was full).
            assert sub.dropped == 5 and sub.pending == 5
            release.set()
            await bus.publish(ev(10))  # it caught up: its drops are reported
        return sub

    sub = anyio.run(main)
    assert sub.dropped == 5 and sub.delivered == 6
    assert [e.ts_ns for e in journal if isinstance(e, RunStarted)] == list(range(11))
    reports = [e for e in journal if isinstance(e, EventsDropped)]
    assert [(r.subscriber, r.count) for r in reports] == [("stuck", 5)]
    assert (reports[0].first_ts_ns, reports[0].last_ts_ns) == (5, 9)


def test_a_hung_subscriber_holding_a_run_of_events_counts_them_all_at_close():
    got: list[Event] = []

    async def hung(e: Event) -> None:
        await anyio.sleep_forever()

    async def main() -> Subscription:
        with anyio.fail_after(30):
            async with EventBus(capacity=8, drain_timeout_s=0.2) as bus:
                bus.subscribe("journal", got.append, lossless=True)
                h = bus.subscribe("hung", hung)
                await bus.publish_many([ev(i) for i in range(3)])  # one item, in its hands
                await anyio.sleep(0.01)
                await bus.publish_many([ev(i) for i in range(3, 5)])  # queued
        return h

    h = anyio.run(main)
    assert h.dropped == 5 and h.delivered == 0
    dropped = [e for e in got if isinstance(e, EventsDropped)]
    assert [(d.subscriber, d.count, d.first_ts_ns, d.last_ts_ns) for d in dropped] == [
        ("hung", 5, 0, 4)
    ]


def test_two_tasks_waiting_for_room_in_a_lossless_queue_both_go_on():
    """The publisher and the bus's reporter can both wait for room in the journal's full
    queue: each is woken when the subscriber makes room, none waits for ever."""
    seen: list[int] = []

    async def slow(e: Event) -> None:
        await anyio.sleep(0.001)
        seen.append(e.ts_ns)

    async def main() -> None:
        with anyio.fail_after(30):
            async with EventBus(capacity=2) as bus:
                bus.subscribe("slow", slow, lossless=True)

                async def publish(start: int) -> None:
                    for i in range(start, start + 50):
                        await bus.publish(ev(i))

                async with anyio.create_task_group() as tg:
                    tg.start_soon(publish, 0)
                    tg.start_soon(publish, 1000)

    anyio.run(main)
    assert sorted(seen) == [*range(50), *range(1000, 1050)]
    assert [t for t in seen if t < 1000] == list(range(50))  # each publisher's order kept


def test_a_subscriber_accepting_some_classes_gets_exactly_those_as_its_handler_would_keep():
    """``accepts`` filters by class on the bus: the subscriber is handed, in order, exactly
    the events a handler filtering the same classes itself keeps (through ``publish`` and
    ``publish_many``, random mixes), each class is decided once, and refused events take no
    room in its queue (a small queue drops nothing for them)."""
    import random

    from tradewind.model import CandleClosed, OrderFailed

    refused = (RunStarted, CandleClosed)
    asked: list[type] = []
    kept: list[tuple[str, int]] = []
    filtered: list[tuple[str, int]] = []

    def accepts(cls: type) -> bool:
        asked.append(cls)
        return not issubclass(cls, refused)

    def keep(e: Event) -> None:  # the handler filtering by itself: the reference
        if not isinstance(e, refused):
            kept.append((type(e).__name__, e.ts_ns))

    def make(rng: random.Random, i: int) -> Event:
        k = rng.randrange(4)
        if k == 0:
            return ev(i)
        if k == 1:
            return SystemError(ts_ns=i, source="x", error="y")
        if k == 2:
            return OrderFailed(ts_ns=i, client_order_id=f"c{i}", reason="r")
        return RunStarted(ts_ns=i, run_id="x", mode="paper")

    async def main() -> tuple[Subscription, Subscription]:
        rng = random.Random(7)
        async with EventBus(capacity=2) as bus:
            ref = bus.subscribe("reference", keep, lossless=True)
            sub = bus.subscribe(
                "filtered",
                lambda e: filtered.append((type(e).__name__, e.ts_ns)),
                accepts=accepts,
            )
            i = 0
            for _ in range(300):
                if rng.random() < 0.5:
                    await bus.publish(make(rng, i))
                    i += 1
                else:
                    n = rng.randrange(0, 12)
                    await bus.publish_many([make(rng, i + j) for j in range(n)])
                    i += n
                if rng.random() < 0.3:
                    await anyio.lowlevel.checkpoint()
        return ref, sub

    ref, sub = anyio.run(main)
    assert filtered == kept and len(kept) > 100
    assert sorted(c.__name__ for c in asked) == ["OrderFailed", "RunStarted", "SystemError"]
    assert sub.taken == {RunStarted: False, SystemError: True, OrderFailed: True}
    assert sub.delivered == len(kept) and ref.delivered > len(kept)


def test_a_subscriber_refusing_a_class_is_not_dropped_for_it_when_its_queue_is_full():
    release = anyio.Event()
    got: list[int] = []

    async def stuck(e: Event) -> None:
        await release.wait()
        got.append(e.ts_ns)

    async def main() -> Subscription:
        async with EventBus(capacity=2, drain_timeout_s=5.0) as bus:
            sub = bus.subscribe("stuck", stuck, accepts=lambda cls: cls is not RunStarted)
            await bus.publish(SystemError(ts_ns=1, source="x", error="y"))
            for i in range(10):  # refused: never queued, never dropped
                await bus.publish(ev(100 + i))
            await bus.publish_many([ev(200 + i) for i in range(10)])
            assert sub.dropped == 0 and sub.pending == 1
            release.set()
            await bus.publish_many([ev(300), SystemError(ts_ns=2, source="x", error="y")])
        return sub

    sub = anyio.run(main)
    assert got == [1, 2] and sub.dropped == 0


def test_an_inline_subscriber_sees_each_event_inside_publish_in_order():
    """An inline subscriber (the journal) has its handler called as each event is published,
    before ``publish``/``publish_many`` return: what it does takes the event's place among what
    the publisher does between publishes, whatever the scheduling of the tasks."""
    staged: list[tuple[str, int]] = []
    queued: list[int] = []

    async def main() -> None:
        async with EventBus(capacity=4) as bus:
            sub = bus.subscribe("journal", lambda e: staged.append(("bus", e.ts_ns)), inline=True)
            bus.subscribe("other", lambda e: queued.append(e.ts_ns))
            staged.append(("own", 0))
            await bus.publish(ev(1))
            staged.append(("own", 1))
            await bus.publish_many([ev(2), ev(3)])
            staged.append(("own", 3))
            await bus.publish_many([ev(i) for i in range(4, 20)])  # more than the capacity
            assert sub.lossless and sub.pending == 0 and sub.delivered == 19
        assert bus.dropped == {}

    anyio.run(main)
    assert staged[:6] == [("own", 0), ("bus", 1), ("own", 1), ("bus", 2), ("bus", 3), ("own", 3)]
    assert [t for kind, t in staged if kind == "bus"] == list(range(1, 20))
    assert queued == list(range(1, 20))


def test_a_raising_inline_subscriber_is_reported_to_the_others_and_keeps_receiving():
    got, errors = [], []

    def journal(e: Event) -> None:
        if isinstance(e, RunStarted) and e.ts_ns == 2:
            raise OSError("disk gone")
        got.append(e)

    async def watcher(e: Event) -> None:
        if isinstance(e, SystemError):
            errors.append(e)

    async def main() -> Subscription:
        async with EventBus(capacity=4) as bus:
            sub = bus.subscribe("journal", journal, inline=True)
            bus.subscribe("watcher", watcher)
            for i in range(1, 4):
                await bus.publish(ev(i))
        return sub

    sub = anyio.run(main)
    assert sub.failed == 1 and sub.delivered == 2
    assert [e.ts_ns for e in got if isinstance(e, RunStarted)] == [1, 3]
    assert len(errors) == 1 and errors[0].source == "bus:journal"
    assert "OSError: disk gone" in errors[0].error


def test_an_inline_subscriber_must_be_a_plain_function():
    async def handler(e: Event) -> None:
        pass

    with pytest.raises(ValueError, match="inline subscriber 'journal' must be a plain function"):
        EventBus().subscribe("journal", handler, inline=True)

    errors = []

    async def main() -> Subscription:
        async with EventBus() as bus:
            sub = bus.subscribe("sneaky", lambda e: handler(e), inline=True)
            bus.subscribe(
                "watcher", lambda e: errors.append(e) if isinstance(e, SystemError) else None
            )
            await bus.publish(ev(1))
        return sub

    sub = anyio.run(main)
    assert sub.failed == 1 and "returned an awaitable" in errors[0].error
