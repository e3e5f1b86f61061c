"""``Journal.follow``: the API process's copies of the newest signals, vetoes and fills are fed
by it, so a follower must get every row of the session exactly once, in sequence order, only
once it is durable, after a seed that is exactly what the journal held before."""

from decimal import Decimal as D

from tradewind.journal.store import Journal, column_names
from tradewind.model import Side, Signal, Veto
from tradewind.model.events import SignalEvent, VetoEvent

TS = column_names("signals").index("ts_ns")
SEQ = column_names("signals").index("seq")


def signal(n: int) -> SignalEvent:
    s = Signal(
        instrument="sim:BTCUSDT",
        side=Side.BUY,
        entry=D(100 + n),
        stop=D(99),
        score=0.5,
        ts_ns=n,
        reasons={"close": float(n)},
    )
    return SignalEvent(ts_ns=n, signal=s)


def test_a_follower_gets_each_row_once_it_is_durable_after_a_seed_of_what_was_held(tmp_path):
    # A paper host's journal: group commit with the step log, loads into DuckDB only when asked.
    j = Journal(tmp_path / "j.duckdb", "run-1", load_rows=10**9, load_every_s=1e9)
    j.start("paper", "paper.toml", 1)
    j.group_commit = True
    j.record(signal(1))
    j.record(signal(2))
    j.commit()
    j.load()  # 1 and 2 in DuckDB
    j.record(signal(3))
    j.commit()  # 3 durable in the step log only
    j.record(signal(4))  # 4 staged, not durable
    got: list[tuple[str, list[int]]] = []

    def sink(table: str, rows: list[tuple]) -> None:
        got.append((table, [r[TS] for r in rows]))

    seed = j.follow(["signals", "vetoes"], sink, newest=2)
    assert {t: (n, [r[TS] for r in rows]) for t, (n, rows) in seed.items()} == {
        "signals": (3, [2, 3]),
        "vetoes": (0, []),
    }
    assert got == []
    j.commit()  # the step that staged 4 ends: durable now
    assert got == [("signals", [4])]
    # A veto is a warning: durable (and followed) at once, without waiting for the step.
    j.record(
        VetoEvent(ts_ns=5, veto=Veto(filter="f", reason="r", signal=signal(5).signal, ts_ns=5))
    )
    assert got[-1] == ("vetoes", [5])
    j.record(signal(6))
    j.load()  # a load writes the staged row: durable, followed
    assert got[-1] == ("signals", [6])
    j.record(signal(7))
    j.unfollow(sink)
    j.commit()
    assert got[-1] == ("signals", [6])
    # A bound method is a new object at each access: unfollow takes an equal one.
    seen: list[str] = []

    class Follower:
        def on_rows(self, table: str, rows: list[tuple]) -> None:
            seen.append(table)

    f = Follower()
    j.follow(["signals"], f.on_rows, newest=0)
    j.record(signal(8))
    j.commit()
    j.unfollow(f.on_rows)
    j.record(signal(9))
    j.commit()
    assert seen == ["signals"]
    # Seed and follower together are the session's rows, each once, in sequence order.
    seqs = [r[0] for r in j.query("SELECT seq FROM signals WHERE ts_ns <= 6 ORDER BY seq")]
    followed = [r[SEQ] for r in seed["signals"][1]]
    assert seqs[-4:-2] == followed and len(seqs) == 5
    assert [ts for t, tss in got if t == "signals" for ts in tss] == [4, 6]
    j.close()
