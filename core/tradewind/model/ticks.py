"""Columnar batches of trade ticks: the unit market data travels in."""

from __future__ import annotations

from collections.abc import Callable

import attrs
import numpy as np
import numpy.typing as npt

from tradewind.model.frozen import _slots

#: Aggressor side codes in :attr:`TickBatch.side`.
BUY: int = 1
SELL: int = -1

TICK_DTYPE = np.dtype(
    [
        ("ts_ns", np.int64),
        ("price", np.float64),
        ("size", np.float64),
        ("side", np.int8),
        ("trade_id", np.int64),
    ]
)


@attrs.frozen(kw_only=True, eq=False)
class TickBatch:
    """Trades of one instrument, as parallel numpy arrays sorted by ``ts_ns``.

    ``side`` is the aggressor: +1 a buyer lifted the offer, -1 a seller hit the bid.
    Batches are values: the arrays are made read-only on construction.
    """

    instrument: str
    ts_ns: npt.NDArray[np.int64]
    price: npt.NDArray[np.float64]
    size: npt.NDArray[np.float64]
    side: npt.NDArray[np.int8]
    trade_id: npt.NDArray[np.int64]

    def __attrs_post_init__(self) -> None:
        n = len(self.ts_ns)
        for name in ("price", "size", "side", "trade_id"):
            if len(getattr(self, name)) != n:
                raise ValueError(
                    f"TickBatch({self.instrument}): column {name} has "
                    f"{len(getattr(self, name))} rows, ts_ns has {n}"
                )
        for name in ("ts_ns", "price", "size", "side", "trade_id"):
            getattr(self, name).flags.writeable = False

    @classmethod
    def from_arrays(
        cls,
        instrument: str,
        ts_ns: npt.ArrayLike,
        price: npt.ArrayLike,
        size: npt.ArrayLike,
        side: npt.ArrayLike,
        trade_id: npt.ArrayLike | None = None,
    ) -> TickBatch:
        """Build a batch, converting each column to its canonical dtype (copying only if needed)."""
        ts = np.ascontiguousarray(ts_ns, dtype=np.int64)
        ids = (
            np.arange(len(ts), dtype=np.int64)
            if trade_id is None
            else np.ascontiguousarray(trade_id, dtype=np.int64)
        )
        return cls(
            instrument=instrument,
            ts_ns=ts,
            price=np.ascontiguousarray(price, dtype=np.float64),
            size=np.ascontiguousarray(size, dtype=np.float64),
            side=np.ascontiguousarray(side, dtype=np.int8),
            trade_id=ids,
        )

    @classmethod
    def empty(cls, instrument: str) -> TickBatch:
        """A batch with no trades."""
        return cls.from_arrays(instrument, [], [], [], [], [])

    def __len__(self) -> int:
        return len(self.ts_ns)

    def slice(self, start: int, stop: int) -> TickBatch:
        """Rows ``start:stop`` as a new batch (views, no copy).

        The engine slices the tape several times per decision interval, so this skips the
        constructor's checks: views of equal-length read-only columns are equal in length and
        read-only already. Each field is written through its slot's descriptor
        (:data:`_SLICE_SLOTS`) rather than ``object.__setattr__``'s generic look-up by name:
        the same object, ~0.3 µs less a slice; with the core's compiled builder
        (``tradewind._slots``, :data:`_build_batch`) all six in C.
        """
        build = _build_batch
        if build is not None:  # the compiled builder: the same object, its slots set in C
            return build(  # type: ignore[no-any-return]
                self.instrument,
                self.ts_ns[start:stop],
                self.price[start:stop],
                self.size[start:stop],
                self.side[start:stop],
                self.trade_id[start:stop],
            )
        new = _new_batch(TickBatch)
        put_instrument, put_ts, put_price, put_size, put_side, put_trade_id = _SLICE_SLOTS
        put_instrument(new, self.instrument)
        put_ts(new, self.ts_ns[start:stop])
        put_price(new, self.price[start:stop])
        put_size(new, self.size[start:stop])
        put_side(new, self.side[start:stop])
        put_trade_id(new, self.trade_id[start:stop])
        return new

    def split_at_ts(self, ts_ns: int) -> tuple[TickBatch, TickBatch]:
        """Split into trades strictly before ``ts_ns`` and trades at or after it."""
        i = int(np.searchsorted(self.ts_ns, ts_ns, side="left"))
        return self.slice(0, i), self.slice(i, len(self))

    @property
    def first_ts(self) -> int:
        """Timestamp of the first trade (ns)."""
        return self.ts_ns.item(0)  # a Python int

    @property
    def last_ts(self) -> int:
        """Timestamp of the last trade (ns)."""
        return self.ts_ns.item(-1)  # a Python int

    @property
    def last_price(self) -> float:
        """Price of the last trade."""
        return self.price.item(-1)  # a Python float

    @staticmethod
    def concat(batches: list[TickBatch]) -> TickBatch:
        """Concatenate batches of one instrument, in order."""
        if not batches:
            raise ValueError("TickBatch.concat needs at least one batch")
        inst = batches[0].instrument
        return TickBatch(
            instrument=inst,
            ts_ns=np.concatenate([b.ts_ns for b in batches]),
            price=np.concatenate([b.price for b in batches]),
            size=np.concatenate([b.size for b in batches]),
            side=np.concatenate([b.side for b in batches]),
            trade_id=np.concatenate([b.trade_id for b in batches]),
        )


#: :meth:`TickBatch.slice`'s writers: each field's slot descriptor's ``__set__``, in the order
#: it writes them (a frozen class refuses ``setattr``; its slots take a direct write).
_SLICE_SLOTS = tuple(
    TickBatch.__dict__[name].__set__
    for name in ("instrument", "ts_ns", "price", "size", "side", "trade_id")
)
_new_batch = object.__new__
#: :meth:`TickBatch.slice`'s compiled builder (tradewind.model.frozen), None without the build.
_build_batch: Callable[..., TickBatch] | None = (
    None
    if _slots is None
    else _slots.builder(
        TickBatch,
        tuple(
            TickBatch.__dict__[name]
            for name in ("instrument", "ts_ns", "price", "size", "side", "trade_id")
        ),
    )
)
