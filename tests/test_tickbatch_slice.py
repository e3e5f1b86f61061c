"""``TickBatch.slice`` skips the constructor's checks: its result must still be a valid batch."""

from __future__ import annotations

import numpy as np
import pytest
from tradewind.model import TickBatch


def batch() -> TickBatch:
    n = 10
    return TickBatch.from_arrays(
        "sim:BTCUSDT",
        ts_ns=np.arange(n, dtype=np.int64) * 1000,
        price=np.linspace(100.0, 101.0, n),
        size=np.full(n, 0.5),
        side=np.where(np.arange(n) % 2, 1, -1).astype(np.int8),
        trade_id=np.arange(n, dtype=np.int64) + 7,
    )


@pytest.mark.parametrize(("start", "stop"), [(0, 10), (2, 7), (5, 5), (9, 10), (3, 100)])
def test_a_slice_is_the_batch_the_constructor_would_build(start: int, stop: int) -> None:
    b = batch()
    got = b.slice(start, stop)
    want = TickBatch(
        instrument=b.instrument,
        ts_ns=b.ts_ns[start:stop],
        price=b.price[start:stop],
        size=b.size[start:stop],
        side=b.side[start:stop],
        trade_id=b.trade_id[start:stop],
    )
    assert type(got) is TickBatch and got.instrument == want.instrument
    for name in ("ts_ns", "price", "size", "side", "trade_id"):
        col = getattr(got, name)
        assert col.dtype == getattr(want, name).dtype
        assert np.array_equal(col, getattr(want, name))
        assert not col.flags.writeable, name
        with pytest.raises(ValueError):
            col[:0] = 0  # an empty assignment still checks writeability
        if len(col):
            with pytest.raises(ValueError):
                col[0] = col[0]
    assert len(got) == len(want)
    with pytest.raises(attrs_frozen_error()):
        got.instrument = "x"  # type: ignore[misc]


def attrs_frozen_error() -> type[Exception]:
    import attrs

    return attrs.exceptions.FrozenInstanceError
