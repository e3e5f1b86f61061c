"""Tick validation: every reason counted, nothing crashes, splits do not change the outcome."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tradewind.market.validation import REASONS, RecentIds, TickValidator, validate
from tradewind.model.ticks import TickBatch

NAN, INF = float("nan"), float("inf")


def ticks(rows: list[tuple[int, float, float, int]], inst: str = "BTCUSDT") -> TickBatch:
    """A batch from (ts_ns, price, size, trade_id) rows, all buys."""
    ts, price, size, ids = zip(*rows, strict=True)
    return TickBatch.from_arrays(inst, ts, price, size, [1] * len(rows), ids)


def test_each_reason_is_counted_once_per_tick() -> None:
    b = ticks(
        [
            (10, 100.0, 1.0, 1),  # ok
            (11, NAN, 1.0, 2),  # nan_price
            (12, INF, NAN, 3),  # nan_price (first reason wins)
            (13, -INF, 1.0, 4),  # nan_price
            (14, 0.0, 1.0, 5),  # nonpositive_price
            (15, -1.0, 1.0, 6),  # nonpositive_price
            (16, 100.0, INF, 7),  # nan_size
            (17, 100.0, 0.0, 8),  # nonpositive_size
            (18, 100.0, -2.0, 9),  # nonpositive_size
            (19, 100.0, 1.0, 1),  # duplicate_id
            (9, 100.0, 1.0, 10),  # out_of_order (earlier than ts 10)
            (20, 101.0, 2.0, 11),  # ok
            (20, 101.0, 2.0, 12),  # ok: equal timestamps are in order
        ]
    )
    r = validate(b)
    assert r.rejected == {
        "nan_price": 3,
        "nonpositive_price": 2,
        "nan_size": 1,
        "nonpositive_size": 2,
        "duplicate_id": 1,
        "out_of_order": 1,
    }
    assert r.n_rejected == 10
    assert r.clean.trade_id.tolist() == [1, 11, 12]
    assert r.codes.tolist() == [0, 1, 1, 1, 2, 2, 3, 4, 4, 5, 6, 0, 0]
    assert list(REASONS) == [
        "nan_price",
        "nonpositive_price",
        "nan_size",
        "nonpositive_size",
        "duplicate_id",
        "out_of_order",
    ]


def test_out_of_order_is_relative_to_the_last_accepted_tick() -> None:
    # The NaN tick at ts 50 is rejected, so it does not raise the bar: ts 30 is fine.
    r = validate(
        ticks(
            [
                (10, 1.0, 1.0, 1),
                (50, NAN, 1.0, 2),
                (30, 1.0, 1.0, 3),
                (20, 1.0, 1.0, 4),
                (40, 1.0, 1.0, 5),
            ]
        )
    )
    assert r.clean.ts_ns.tolist() == [10, 30, 40]
    assert r.rejected == {"nan_price": 1, "out_of_order": 1}
    assert validate(ticks([(5, 1.0, 1.0, 1)]), last_ts_ns=6).rejected == {"out_of_order": 1}
    assert validate(ticks([(6, 1.0, 1.0, 1)]), last_ts_ns=6).rejected == {}


def test_a_clean_batch_is_returned_without_a_copy() -> None:
    b = ticks([(1, 1.0, 1.0, 1), (2, 1.0, 1.0, 2)])
    r = validate(b)
    assert r.clean is b and r.rejected == {} and r.n_rejected == 0
    assert len(validate(TickBatch.empty("BTCUSDT")).clean) == 0


def test_all_bad_gives_an_empty_clean_batch_never_an_error() -> None:
    b = ticks([(1, NAN, NAN, 1), (2, INF, -INF, 2), (3, -0.0, 0.0, 3)])
    r = validate(b)
    assert len(r.clean) == 0 and r.rejected == {"nan_price": 2, "nonpositive_price": 1}


def test_validator_keeps_state_across_batches() -> None:
    v = TickValidator("BTCUSDT")
    assert v.validate(ticks([(10, 1.0, 1.0, 1), (20, 1.0, 1.0, 2)])).rejected == {}
    r = v.validate(
        ticks([(15, 1.0, 1.0, 3), (20, 1.0, 1.0, 2), (21, NAN, 1.0, 4), (22, 1.0, 1.0, 4)])
    )
    assert r.rejected == {"out_of_order": 1, "duplicate_id": 1, "nan_price": 1}
    # id 4 failed a value check first, so its corrected resend was accepted.
    assert r.clean.trade_id.tolist() == [4]
    assert v.last_ts_ns == 22 and v.accepted == 3
    assert v.rejected == {
        "nan_price": 1,
        "nonpositive_price": 0,
        "nan_size": 0,
        "nonpositive_size": 0,
        "duplicate_id": 1,
        "out_of_order": 1,
    }
    # A resend of the out-of-order tick is a duplicate: its id was seen.
    assert v.validate(ticks([(30, 1.0, 1.0, 3)])).rejected == {"duplicate_id": 1}
    with pytest.raises(ValueError, match="ETHUSDT"):
        v.validate(ticks([(40, 1.0, 1.0, 9)], inst="ETHUSDT"))
    assert "duplicate_id" in repr(v)


def test_recent_ids_forget_beyond_capacity() -> None:
    ids = RecentIds(3)
    ids.add(np.array([1, 2, 3, 4], dtype=np.int64))
    assert len(ids) == 3 and ids.max_id == 4
    assert ids.contains(np.array([1, 2, 4, 5], dtype=np.int64)).tolist() == [
        False,
        True,
        True,
        False,
    ]
    ids.add(np.array([0, 9], dtype=np.int64))  # not increasing: the sorted copy is rebuilt
    assert ids.contains(np.array([0, 3, 4, 9], dtype=np.int64)).tolist() == [
        True,
        False,
        True,
        True,
    ]
    with pytest.raises(ValueError):
        RecentIds(0)


def test_real_sample_is_clean(tardis_batch: TickBatch) -> None:
    v = TickValidator("BTCUSDT")
    assert v.validate(tardis_batch).clean is tardis_batch
    # Replaying it is all duplicates... of the last 10,000 ids, i.e. every one.
    assert v.validate(tardis_batch).rejected == {"duplicate_id": len(tardis_batch)}


values = st.one_of(st.floats(), st.sampled_from([0.0, -1.0, 1.0, 2.5]))


@settings(max_examples=200, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 50), values, values, st.integers(0, 40)), min_size=1, max_size=80
    ),
    cuts=st.lists(st.integers(0, 80), max_size=8),
)
def test_splitting_the_stream_changes_nothing(
    rows: list[tuple[int, float, float, int]], cuts: list[int]
) -> None:
    b = ticks(rows)
    whole = TickValidator("BTCUSDT")
    want = whole.validate(b)
    parts = TickValidator("BTCUSDT")
    bounds = [0, *sorted(c for c in cuts if c <= len(b)), len(b)]
    codes = np.concatenate(
        [parts.validate(b.slice(lo, hi)).codes for lo, hi in itertools.pairwise(bounds)]
    )
    assert codes.tolist() == want.codes.tolist()
    assert parts.rejected == whole.rejected and parts.accepted == whole.accepted
    clean = want.clean
    assert bool(np.all(np.isfinite(clean.price)) and np.all(clean.price > 0))
    assert bool(np.all(np.isfinite(clean.size)) and np.all(clean.size > 0))
    assert bool(np.all(np.diff(clean.ts_ns) >= 0))
    assert len(set(clean.trade_id.tolist())) == len(clean)
    assert sum(want.rejected.values()) + len(clean) == len(b)


def reference_codes(rows: list[tuple[int, float, float, int]], cuts: list[int]) -> list[int]:
    """The definition, one tick at a time: value reasons in order, then ids already seen
    (a tick that passed the value checks, earlier in the stream), then time order."""
    seen: set[int] = set()
    last: int | None = None
    codes = []
    for ts, price, size, tid in rows:
        if not np.isfinite(price):
            code = 1
        elif price <= 0:
            code = 2
        elif not np.isfinite(size):
            code = 3
        elif size <= 0:
            code = 4
        elif tid in seen:
            code = 5
        else:
            seen.add(tid)
            code = 6 if last is not None and ts < last else 0
            if code == 0:
                last = ts
        codes.append(code)
    return codes


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 50), values, values, st.integers(0, 40)), min_size=1, max_size=80
    ),
    cuts=st.lists(st.integers(0, 80), max_size=20),
    clean_ids=st.booleans(),
)
def test_validator_matches_the_per_tick_definition(
    rows: list[tuple[int, float, float, int]], cuts: list[int], clean_ids: bool
) -> None:
    if clean_ids:  # increasing ids and times, mostly clean: the fast path
        rows = sorted((t, p, s, i) for i, (t, p, s, _) in enumerate(rows))
        rows = [(t, p, s, i) for i, (t, p, s, _) in enumerate(rows)]
    b = ticks(rows)
    v = TickValidator("BTCUSDT")
    bounds = [0, *sorted(c for c in cuts if c <= len(b)), len(b)]
    got: list[int] = []
    for lo, hi in itertools.pairwise(bounds):
        part = b.slice(lo, hi)
        r = v.validate(part)
        got += r.codes.tolist()
        assert r.clean.trade_id.tolist() == part.trade_id[r.codes == 0].tolist()
        if not r.rejected and bool(np.all(part.trade_id[1:] > part.trade_id[:-1])):
            assert r.clean is part  # clean batches are not copied
    assert got == reference_codes(rows, cuts)


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 12),
    adds=st.lists(st.lists(st.integers(0, 60), max_size=15), max_size=30),
    probe=st.lists(st.integers(-1, 61), min_size=1, max_size=20),
)
def test_recent_ids_is_a_window_of_the_last_capacity_ids(
    capacity: int, adds: list[list[int]], probe: list[int]
) -> None:
    from collections import deque

    ids = RecentIds(capacity)
    window: deque[int] = deque(maxlen=capacity)
    for add in adds:
        ids.add(np.array(add, dtype=np.int64))
        window.extend(add)
        assert len(ids) == len(window)
        assert ids.max_id == (max(window) if window else None)
        p = np.array(probe, dtype=np.int64)
        assert ids.contains(p).tolist() == [x in window for x in probe]


def _state(v: TickValidator) -> tuple:
    ids = v.seen_ids
    return (
        v.accepted,
        v.last_ts_ns,
        dict(v.rejected),
        ids._fifo.tolist(),  # first: adds the ids held by add_later
        ids._increasing,
        ids._bound,
        ids._newest,
    )


@pytest.mark.parametrize("increasing", [True, False])
def test_accept_checked_leaves_the_state_validate_leaves(increasing: bool) -> None:
    """A stretch validated whole, then taken batch by batch with ``accept_checked`` (the
    backtest's read-ahead blocks), leaves the validator as validating each batch does: the
    same counts, last time, remembered ids, and the same verdicts on what follows (a resend
    of an id taken that way is still a duplicate)."""
    ids = list(range(100, 160)) if increasing else [*range(100, 130), *range(200, 170, -1)]
    rows = [(1_000 + i, 100.0 + i % 7, 1.0, tid) for i, tid in enumerate(ids)]
    head, stretch = ticks(rows[:10]), ticks(rows[10:])
    checked, validated = (
        TickValidator("BTCUSDT", id_window=40),
        TickValidator("BTCUSDT", id_window=40),
    )
    for v in (checked, validated):
        v.validate(head)
    ahead = validate(stretch, last_ts_ns=checked.last_ts_ns, seen_ids=checked.seen_ids)
    assert not ahead.rejected
    for lo, hi in [(0, 1), (1, 17), (17, 50)]:
        piece = stretch.slice(lo, hi)
        got = checked.accept_checked(piece, increasing=increasing)
        want = validated.validate(piece)
        assert got.clean is piece and not got.rejected and not want.rejected
        assert got.codes.tolist() == want.codes.tolist()
        assert got.codes.dtype == want.codes.dtype and not got.codes.flags.writeable
        assert _state(checked) == _state(validated)
    resend = ticks([(2_000, 100.0, 1.0, ids[-3]), (2_001, 100.0, 1.0, 10_000)])
    got_resend, want_resend = checked.validate(resend), validated.validate(resend)
    assert got_resend.rejected == want_resend.rejected == {"duplicate_id": 1}
    assert _state(checked) == _state(validated)


def test_accept_checked_codes_of_batches_longer_than_the_shared_zeros() -> None:
    """The zero codes ``accept_checked`` hands out are views of one read-only array, grown
    when a batch is longer: every batch gets its own length of zeros, the short ones too."""
    v = TickValidator("BTCUSDT")
    for lo, hi in [(0, 3), (3, 10_003), (10_003, 10_010), (10_010, 30_010)]:
        piece = ticks([(1_000 + i, 100.0, 1.0, 5 + i) for i in range(lo, hi)])
        codes = v.accept_checked(piece, increasing=True).codes
        assert codes.shape == (hi - lo,) and codes.dtype == np.int8
        assert not codes.any() and not codes.flags.writeable


@settings(max_examples=200, deadline=None)
@given(
    capacity=st.integers(1, 6),
    ids=st.lists(st.integers(0, 40), max_size=60),
)
def test_add_one_leaves_the_window_add_leaves(capacity: int, ids: list[int]) -> None:
    """RecentIds.add_one (a one-tick batch's id, no numpy call) against add of the same id as
    a one-element array, increasing or not, through compactions of the buffer."""
    one, many = RecentIds(capacity), RecentIds(capacity)
    for i in ids:
        increasing = len(many) == 0 or i > many._newest
        one.add_one(i)
        many.add(np.array([i], dtype=np.int64), increasing=True if increasing else None)
        for ids_ in (one, many):
            assert ids_._sorted() is not None
        assert one._buf[one._start : one._end].tolist() == many._fifo.tolist()
        assert (one._increasing, one._bound, one._newest) == (
            many._increasing,
            many._bound,
            many._newest,
        )


@settings(max_examples=300, deadline=None)
@given(
    capacity=st.integers(1, 12),
    pending_max=st.integers(1, 5),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["later", "later", "later", "add", "one", "read", "probe"]),
            st.lists(st.integers(0, 80), max_size=9),
            st.booleans(),
        ),
        max_size=40,
    ),
)
def test_ids_added_later_leave_the_window_adding_them_leaves(
    capacity: int, pending_max: int, steps: list[tuple[str, list[int], bool]]
) -> None:
    """RecentIds.add_later (accept_checked's batches, added at the next read in one add)
    against add of each piece in turn: increasing pieces told so or not, pieces that do not
    continue the last, empty ones, reads (len, max_id, contains, the bound's check) and adds
    between them, the flush after ``pending_max`` pieces; the window in order, whether it
    increases, its bound and newest id are the same after every read."""
    from unittest import mock

    later, each = RecentIds(capacity), RecentIds(capacity)

    def state(r: RecentIds) -> tuple:
        return (r._fifo.tolist(), r._increasing, r._bound, r._newest, r._sorted().tolist())

    with mock.patch("tradewind.market.validation._PENDING_MAX", pending_max):
        for kind, values, tell in steps:
            ids = np.array(values, dtype=np.int64)
            rising = len(values) < 2 or all(a < b for a, b in itertools.pairwise(values))
            increasing = True if (tell and rising) else None
            if kind == "later":
                later.add_later(ids, increasing=increasing)
                each.add(ids, increasing=increasing)
                continue
            if kind == "add":
                later.add(ids, increasing=increasing)
                each.add(ids, increasing=increasing)
            elif kind == "one" and values:
                later.add_one(values[0])
                each.add_one(values[0])
            elif kind == "probe":
                first = values[0] if values else 0
                assert later._may_contain_from(first) == each._may_contain_from(first)
                assert later.contains(ids).tolist() == each.contains(ids).tolist()
            assert len(later) == len(each) and later.max_id == each.max_id
            assert state(later) == state(each)
    assert state(later) == state(each)


@pytest.mark.parametrize(
    "pieces",
    [
        [[1, 2, 3], [3, 4]],  # each increasing, the junction repeats an id
        [[1, 2, 3], [2, 5]],  # the junction goes back
        [[1, 2], [3, 4], [5, 9]],  # one increasing run
        [[5, 6, 7, 8], [1]],  # a lower bound after a higher one
    ],
)
def test_pieces_told_increasing_added_later_check_their_junctions(pieces) -> None:
    """Pieces each told strictly increasing, added later in one add: the run increases only
    when every junction does (a repeated or lower first id breaks it), as adding each does."""
    later, each = RecentIds(20), RecentIds(20)
    for piece in pieces:
        later.add_later(np.array(piece, dtype=np.int64), increasing=True)
        each.add(np.array(piece, dtype=np.int64), increasing=True)
    assert later._fifo.tolist() == each._fifo.tolist()
    assert (later._increasing, later._bound, later._newest) == (
        each._increasing,
        each._bound,
        each._newest,
    )
    probe = np.array([1, 3, 5, 9], dtype=np.int64)
    assert later.contains(probe).tolist() == each.contains(probe).tolist()


def test_a_clean_one_tick_batch_shares_read_only_codes() -> None:
    v = TickValidator("BTCUSDT")
    batch = TickBatch.from_arrays("BTCUSDT", [5], [100.0], [1.0], [1], [7])
    result = v.validate(batch)
    assert result.clean is batch and result.rejected == {}
    assert result.codes.tolist() == [0] and not result.codes.flags.writeable
    again = v.validate(TickBatch.from_arrays("BTCUSDT", [6], [100.0], [1.0], [1], [7]))
    assert again.rejected == {"duplicate_id": 1} and again.codes.tolist() == [5]


class _GeneralPath(TickValidator):
    """The validator without its one-trade path: every batch through ``_validate``."""

    def _one(self, batch: TickBatch) -> None:  # type: ignore[override]
        return None


def _same_state(a: TickValidator, b: TickValidator) -> None:
    assert a.last_ts_ns == b.last_ts_ns and a.accepted == b.accepted
    assert a.rejected == b.rejected
    sa, sb = a.seen_ids, b.seen_ids
    assert sa._fifo.tolist() == sb._fifo.tolist()
    assert (sa._increasing, sa._bound, sa._newest) == (sb._increasing, sb._bound, sb._newest)


def _one_at_a_time(batches: list[TickBatch], capacity: int = 10_000) -> None:
    """Each batch through the validator and through the general path: the same results
    (codes, counts, the clean batch itself when taken whole) and the same state after."""
    fast, slow = (
        TickValidator("BTCUSDT", id_window=capacity),
        _GeneralPath("BTCUSDT", id_window=capacity),
    )
    for b in batches:
        got, want = fast.validate(b), slow.validate(b)
        assert got.codes.tolist() == want.codes.tolist()
        assert got.rejected == want.rejected
        assert (got.clean is b) == (want.clean is b)
        assert got.clean.trade_id.tolist() == want.clean.trade_id.tolist()
        _same_state(fast, slow)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 50), values, values, st.integers(0, 40)), min_size=1, max_size=80
    ),
    ones=st.lists(st.integers(0, 80), max_size=40),
    capacity=st.sampled_from([1, 3, 10_000]),
)
def test_the_one_trade_path_gives_what_the_general_path_gives(
    rows: list[tuple[int, float, float, int]], ones: list[int], capacity: int
) -> None:
    # Stretches of the stream cut into one-trade batches (bad values, duplicates, late
    # trades, ids going backwards) between longer batches.
    b = ticks(rows)
    cuts = sorted({c for c in ones if c < len(b)})
    batches: list[TickBatch] = []
    lo = 0
    for c in cuts:
        if c > lo:
            batches.append(b.slice(lo, c))
        batches.append(b.slice(c, c + 1))
        lo = c + 1
    if lo < len(b):
        batches.append(b.slice(lo, len(b)))
    _one_at_a_time(batches, capacity)


def test_the_one_trade_path_on_the_real_sample(tardis_batch: TickBatch) -> None:
    # The real trades one at a time, then replayed one at a time (all duplicates), with a
    # few longer batches between.
    n = len(tardis_batch)
    batches = [tardis_batch.slice(i, i + 1) for i in range(n)]
    batches[100:100] = [tardis_batch.slice(0, 50)]
    batches += [tardis_batch.slice(i, i + 1) for i in range(0, n, 7)]
    _one_at_a_time(batches)
    _one_at_a_time(batches, capacity=64)


def test_the_one_trade_result_is_the_one_attrs_builds() -> None:
    # The one-trade path writes the result's slots directly (tradewind.model.frozen.builder):
    # the same class, fields, repr and frozenness as ValidationResult(...), and a rejected
    # mapping of its own per result (nothing shared between two trades' results).
    import attrs
    from tradewind.market.validation import ValidationResult

    v = TickValidator("BTCUSDT")
    first = TickBatch.from_arrays("BTCUSDT", [5], [100.0], [1.0], [1], [7])
    second = TickBatch.from_arrays("BTCUSDT", [6], [101.0], [2.0], [-1], [8])
    a, b = v.validate(first), v.validate(second)
    for got, batch in ((a, first), (b, second)):
        want = ValidationResult(clean=batch, rejected={}, codes=got.codes)
        assert type(got) is ValidationResult
        assert [
            getattr(got, f.name) is getattr(want, f.name) for f in attrs.fields(ValidationResult)
        ] == [True, False, True]
        assert got.rejected == want.rejected == {} and repr(got) == repr(want)
        assert got.n_rejected == 0
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            got.clean = second  # type: ignore[misc]
    assert a.rejected is not b.rejected
    assert a.codes is b.codes and not a.codes.flags.writeable


def test_results_of_batches_taken_whole_are_those_the_constructor_makes() -> None:
    """``accept_checked`` and ``validate``'s clean-batch paths build their result through
    the slots (``_result``): the class, every field and its frozenness are the constructor's,
    and each result has a ``rejected`` dict of its own."""
    import attrs
    from tradewind.market.validation import ValidationResult

    one = ticks([(1_000, 100.0, 1.0, 7)])
    many = ticks([(1_001 + i, 100.0, 1.0, 8 + i) for i in range(5)])
    v = TickValidator("BTCUSDT")
    got = [
        v.validate(one),
        v.validate(many),
        v.accept_checked(ticks([(2_000, 1.0, 1.0, 99)]), increasing=True),
    ]
    got.append(validate(one.slice(0, 0), last_ts_ns=None, seen_ids=None))
    for r in got:
        assert type(r) is ValidationResult
        want = ValidationResult(clean=r.clean, rejected={}, codes=r.codes)
        assert attrs.astuple(r, recurse=False) == attrs.astuple(want, recurse=False)
        assert r.rejected == {} and type(r.rejected) is dict and not r.codes.any()
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            r.clean = one  # type: ignore[misc]
    assert len({id(r.rejected) for r in got}) == len(got)
