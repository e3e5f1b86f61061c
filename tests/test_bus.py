"""The event bus: ordered delivery, back-pressure without loss, failing subscribers reported."""

import anyio
import pytest
from tradewind.bus import EventBus
from tradewind.model import Event, RunStarted, SystemError


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


def test_a_slow_subscriber_applies_back_pressure_and_loses_nothing():
    seen = []

    async def slow(e: Event) -> None:
        await anyio.sleep(0.001)
        seen.append(e.ts_ns)

    async def main() -> None:
        async with EventBus(capacity=2) as bus:
            bus.subscribe("slow", slow)
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
