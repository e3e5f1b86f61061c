"""What every importer shares: reading (compressed) files, vectorised column parsing with
per-line error reporting, and assembling sorted :class:`TickBatch` es by symbol."""

from __future__ import annotations

import io
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, overload

import attrs
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from tradewind._arrow import lazy, to_numpy
from tradewind.errors import DataError
from tradewind.market.validation import implausible, int64_overflow, scale_to_ns
from tradewind.model.ticks import TickBatch

# Imported at first use: the backtest of a ticks parquet file never reads them.
pc = lazy("pyarrow.compute")
pacsv = lazy("pyarrow.csv")

#: The markets an import can belong to (the ``market=`` level of the store's partitions).
MARKETS: tuple[str, ...] = ("spot", "perp")

#: At most this many characters of an offending value are quoted in a bad-row reason.
_QUOTE_MAX = 40

_NS_PER_MS = 1_000_000
_NS_PER_US = 1_000


def _madvise_switch() -> Callable[[bool], bool] | None:
    """numpy's switch of the huge-page advice on its large allocations (it returns the
    previous setting), or None where this numpy has none."""
    for module in ("numpy._core.multiarray", "numpy.core.multiarray"):
        try:
            switch = getattr(__import__(module, fromlist=["_"]), "_set_madvise_hugepage", None)
        except ImportError:
            continue
        if switch is not None:
            return switch  # type: ignore[no-any-return]
    return None


#: Loads inside :func:`small_pages` now (any thread), numpy's setting before the first of
#: them, and the lock over both: the first in turns the advice off, the last out restores it
#: (two loads overlapping in two threads would otherwise leave it off, or turn it back on
#: under the other's feet).
_small_pages_lock = threading.Lock()
_small_pages_inside = 0
_small_pages_before = True


@contextmanager
def small_pages() -> Iterator[None]:
    """numpy's arrays allocated inside without its transparent-huge-page advice (what
    ``NUMPY_MADVISE_HUGEPAGE=0`` does for a whole process), the previous setting restored
    once the last such block (of any thread) ends.

    numpy asks the kernel for 2 MB pages on every allocation of 4 MB or more. A file's load
    fills a few such arrays per column (hundreds of MB for 10 M trades), each once, straight
    after allocating them; with the kernel's usual ``defrag = madvise`` every huge-page fault
    may compact memory first, which cost a 100-instrument load more system CPU (1.0-1.9 s)
    than the load's own work (0.5-0.7 s user). With 4 KB pages the same load faulted more often
    but spent 0.3-0.4 s of system CPU. It changes where the bytes live, never their values."""
    global _small_pages_inside, _small_pages_before
    switch = _madvise_switch()
    if switch is None:
        yield
        return
    with _small_pages_lock:
        if not _small_pages_inside:
            _small_pages_before = switch(False)
        _small_pages_inside += 1
    try:
        yield
    finally:
        with _small_pages_lock:
            _small_pages_inside -= 1
            if not _small_pages_inside:
                switch(_small_pages_before)


@attrs.frozen
class BadRow:
    """A row that was not imported: the file, its 1-based line number, and why.

    For line-oriented files (CSV, websocket captures) ``line`` is the physical line in the
    (decompressed) file. For record-oriented files (a freqtrade JSON array, feather, parquet)
    it is the 1-based record number, and the reason says so.
    """

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@attrs.frozen(kw_only=True)
class ImportResult:
    """The trades of one file, split by symbol, plus the rows that could not be imported.

    ``batches`` maps symbol to a :class:`TickBatch` sorted by ``ts_ns`` (ties by trade id);
    ``ignored`` counts input lines that are valid but are not trades (order-book updates,
    snapshots, liquidation-engine fills) and so are skipped without being bad rows.
    """

    path: Path
    format: str
    exchange: str
    market: str
    batches: dict[str, TickBatch]
    bad_rows: list[BadRow]
    ignored: int = 0

    @property
    def rows(self) -> int:
        """Number of trades imported, over all symbols."""
        return sum(len(b) for b in self.batches.values())

    @property
    def symbols(self) -> list[str]:
        """The symbols imported, sorted."""
        return sorted(self.batches)


@attrs.frozen
class Source:
    """A file's decompressed bytes and the name of the data inside it.

    ``name`` is the file name without ``.gz`` or, for a zip archive, the member's name;
    importers use it to find the symbol (``BTCUSDT-trades-2024-08-08.csv``).
    ``truncated`` is set when a gzip stream ended early: ``data`` then holds what was readable.
    """

    path: Path
    name: str
    data: bytes
    truncated: bool = False


def refuse_special_file(path: Path) -> None:
    """DataError for a path that exists but is not a regular file: reading a FIFO would block
    forever, a directory cannot be read. (A missing file is reported when it is read.)"""
    from tradewind.config_check import check_readable_file

    if path.exists():
        check_readable_file(path, what="data file", error=DataError)


def read_source(path: Path) -> Source:
    """Read a file, transparently decompressing gzip (``.gz``) and single-member zip files."""
    refuse_special_file(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if raw[:2] == b"\x1f\x8b":
        data, truncated = _gunzip(raw, path)
        name = path.name[:-3] if path.name.endswith(".gz") else path.name
        return Source(path, name, data, truncated)
    if raw[:4] == b"PK\x03\x04":
        try:
            with zipfile.ZipFile(io.BytesIO(raw)) as zf:
                members = [i for i in zf.infolist() if not i.is_dir()]
                if len(members) != 1:
                    names = ", ".join(i.filename for i in members) or "nothing"
                    raise DataError(
                        f"{path}: a zip archive must hold exactly one data file "
                        f"(as data.binance.vision ships them); it holds {names}"
                    )
                return Source(path, Path(members[0].filename).name, zf.read(members[0]))
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise DataError(f"{path}: corrupt zip archive ({exc})") from exc
    return Source(path, path.name, raw)


def _gunzip(raw: bytes, path: Path) -> tuple[bytes, bool]:
    """Decompress all gzip members; a stream that ends early keeps what was decompressed."""
    out: list[bytes] = []
    rest = raw
    while rest:
        d = zlib.decompressobj(wbits=31)
        try:
            out.append(d.decompress(rest))
        except zlib.error as exc:
            if not out:
                raise DataError(f"{path}: corrupt gzip data ({exc})") from exc
            return b"".join(out), True
        if not d.eof:
            out.append(d.flush())
            return b"".join(out), True
        rest = d.unused_data.lstrip(b"\x00")
    return b"".join(out), False


def truncation_row(src: Source, data: bytes) -> BadRow | None:
    """The bad row that reports a truncated gzip file, if it was.

    ``data`` ends at the last complete line (see :func:`whole_lines`); the row reported is the
    line that was cut off.
    """
    if not src.truncated:
        return None
    return BadRow(
        str(src.path),
        data.count(b"\n") + 1,
        "gzip stream ends early (truncated file): this line is cut off and was not imported; "
        "the lines before it were",
    )


def whole_lines(src: Source) -> Source:
    """``src`` without a partial last line when its gzip stream was cut (a cut number would
    otherwise import as a wrong value)."""
    if not src.truncated or src.data.endswith(b"\n"):
        return src
    return attrs.evolve(src, data=src.data[: src.data.rfind(b"\n") + 1])


def first_lines(data: bytes, n: int = 5, limit: int = 65536) -> list[str]:
    """The first ``n`` non-blank lines of ``data`` (decoded leniently), for sniffing formats."""
    head = data[:limit].decode("utf-8", errors="replace")
    lines = [ln.strip() for ln in head.splitlines()]
    return [ln for ln in lines if ln][:n]


def quote(value: object) -> str:
    """``repr`` of an offending value, shortened for a bad-row reason."""
    text = repr(value)
    return text if len(text) <= _QUOTE_MAX else text[: _QUOTE_MAX - 3] + "..."


class LineNumbers:
    """The line numbers ``first, first + 1, ...`` of ``n`` rows, read like the int64 array
    ``np.arange(first, first + n)`` by the code that reads an importer's ``lines``: an int
    index gives an int, a slice (step 1) another run, an index or boolean array an int64
    array. A file read whole, whose line numbers are its row numbers (a parquet file of 10 M
    trades), then holds no 80 MB array of them."""

    __slots__ = ("first", "n")

    def __init__(self, first: int, n: int) -> None:
        self.first = first
        self.n = n

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int | np.integer[Any]) -> int: ...

    @overload
    def __getitem__(self, i: slice) -> LineNumbers | npt.NDArray[np.int64]: ...

    @overload
    def __getitem__(self, i: npt.NDArray[Any]) -> npt.NDArray[np.int64]: ...

    def __getitem__(
        self, i: int | np.integer[Any] | slice | npt.NDArray[Any]
    ) -> int | LineNumbers | npt.NDArray[np.int64]:
        n = self.n
        if isinstance(i, slice):
            start, stop, step = i.indices(n)
            if step != 1:
                return np.arange(self.first, self.first + n, dtype=np.int64)[i]
            return LineNumbers(self.first + start, max(0, stop - start))
        if isinstance(i, np.ndarray):
            if i.dtype == np.bool_:
                if len(i) != n:
                    raise IndexError(f"boolean index of {len(i)} rows for {n} lines")
                i = np.flatnonzero(i)
            idx = np.asarray(i, dtype=np.int64)
            if len(idx) and (int(idx.min()) < -n or int(idx.max()) >= n):
                raise IndexError("line index out of range")
            return np.where(idx < 0, idx + n, idx) + self.first
        k = int(i)
        if k < 0:
            k += n
        if not 0 <= k < n:
            raise IndexError("line index out of range")
        return self.first + k


class Rejects:
    """Collects bad rows of one file."""

    def __init__(self, file: Path) -> None:
        self.file = str(file)
        self.rows: list[BadRow] = []

    def add(self, line: int, reason: str) -> None:
        """Record one bad row."""
        self.rows.append(BadRow(self.file, int(line), reason))

    def add_mask(
        self,
        mask: npt.NDArray[np.bool_],
        lines: npt.NDArray[np.int64] | LineNumbers,
        reason: str | Callable[[int], str],
    ) -> None:
        """Record every row where ``mask`` is set; ``reason`` may be a function of the row index."""
        for i in np.flatnonzero(mask):
            self.add(int(lines[i]), reason(int(i)) if callable(reason) else reason)


# --------------------------------------------------------------------------------------------
# Delimited text


@attrs.frozen
class Col:
    """A column of a delimited file: its name and kind (``int``, ``float``, ``bool``, ``str``,
    or ``cat``: text with few distinct values)."""

    name: str
    kind: str


_ARROW_TYPES = {
    "int": pa.int64(),
    "float": pa.float64(),
    "bool": pa.bool_(),
    "str": pa.string(),
    # Few distinct values (exchange, symbol, side): dictionary-encoded while parsing.
    "cat": pa.dictionary(pa.int32(), pa.string()),
}
_TYPED = ("int", "float", "bool")
_TRUE = ["true", "True", "TRUE"]
_FALSE = ["false", "False", "FALSE"]
_PATTERNS = {
    "int": r"^[+-]?[0-9]+$",
    "float": r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$|^[+-]?(?i:nan|inf|infinity)$",
    "bool": r"^(true|True|TRUE|false|False|FALSE)$",
}
_EXPECTED = {"int": "an integer", "float": "a number", "bool": "true or false"}


def text_lines(data: bytes) -> pa.StringArray:
    """Every physical line of ``data`` as a string array (line ``i + 1`` at index ``i``).

    Line ends (``\\n`` or ``\\r\\n``) are removed; a final newline does not start a line.
    """
    try:
        table = pacsv.read_csv(
            io.BytesIO(data),
            read_options=pacsv.ReadOptions(column_names=["line"]),
            parse_options=pacsv.ParseOptions(
                delimiter="\x1f",
                quote_char=False,
                escape_char=False,
                ignore_empty_lines=False,
            ),
            convert_options=pacsv.ConvertOptions(
                column_types={"line": pa.string()},
                strings_can_be_null=False,
            ),
        )
        return table.column("line").combine_chunks()
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        # A unit separator or invalid UTF-8 inside a line: split in Python instead.
        text = data.decode("utf-8", errors="replace")
        parts = text.split("\n")
        if parts and parts[-1] == "":
            parts.pop()
        return pa.array([p[:-1] if p.endswith("\r") else p for p in parts], pa.string())


def _count_lines(data: bytes) -> int:
    """Number of physical lines (a final newline does not start a line)."""
    return data.count(b"\n") + (0 if data.endswith(b"\n") or not data else 1)


def parse_delimited(
    src: Source,
    cols: Sequence[Col],
    *,
    header_lines: int,
    rejects: Rejects,
) -> tuple[pa.Table, npt.NDArray[np.int64]]:
    """Parse comma-separated ``src`` into typed columns, reporting bad lines to ``rejects``.

    Returns the table of good rows (numeric and bool columns without nulls) and the 1-based
    line number of each. A clean file is parsed in one multi-threaded pass by Arrow; only a
    file with problems takes the slower line-by-line path that says which line is wrong and why.
    """
    names = [c.name for c in cols]
    n_lines = _count_lines(src.data)
    try:
        table = pacsv.read_csv(
            io.BytesIO(src.data),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=header_lines),
            parse_options=pacsv.ParseOptions(quote_char=False, escape_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={c.name: _ARROW_TYPES[c.kind] for c in cols},
                null_values=[""],
                strings_can_be_null=False,
                true_values=_TRUE,
                false_values=_FALSE,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        table = None
    # Without quoting, every non-blank line is one row, so a row count equal to the line count
    # also proves there was no blank line (Arrow skips those, which would shift line numbers).
    if (
        table is not None
        and table.num_rows == n_lines - header_lines
        and all(table.column(c.name).null_count == 0 for c in cols if c.kind in _TYPED)
    ):
        return table, np.arange(header_lines + 1, n_lines + 1, dtype=np.int64)
    return _parse_lines(src, cols, header_lines=header_lines, rejects=rejects)


def _parse_lines(
    src: Source,
    cols: Sequence[Col],
    *,
    header_lines: int,
    rejects: Rejects,
) -> tuple[pa.Table, npt.NDArray[np.int64]]:
    """The careful path of :func:`parse_delimited`: validate every field of every line."""
    lines = text_lines(src.data)
    n = len(lines)
    lineno = np.arange(1, n + 1, dtype=np.int64)
    keep = np.ones(n, dtype=bool)
    keep[:header_lines] = False
    blank = pc.equal(pc.utf8_trim_whitespace(lines), "").to_numpy(zero_copy_only=False)
    keep &= ~blank
    parts = pc.split_pattern(lines, ",")
    n_fields = pc.list_value_length(parts).to_numpy(zero_copy_only=False)
    wrong = keep & (n_fields != len(cols))
    rejects.add_mask(
        wrong,
        lineno,
        lambda i: (
            f"expected {len(cols)} comma-separated fields "
            f"({','.join(c.name for c in cols)}), got {n_fields[i]}"
        ),
    )
    keep &= ~wrong
    idx = np.flatnonzero(keep)
    sub = parts.take(pa.array(idx, pa.int64()))
    sub_lines = lineno[idx]
    ok = np.ones(len(idx), dtype=bool)
    values: dict[str, pa.Array] = {}
    for k, col in enumerate(cols):
        raw = pc.utf8_trim_whitespace(pc.list_element(sub, k))
        values[col.name] = raw
        if col.kind not in _TYPED:
            continue
        valid = pc.match_substring_regex(raw, _PATTERNS[col.kind]).to_numpy(zero_copy_only=False)
        if col.kind == "int":
            big = valid & int64_overflow(raw.to_pylist())
            for i in np.flatnonzero(ok & big):
                rejects.add(
                    int(sub_lines[i]),
                    f"{col.name} {quote(raw[i].as_py())} is out of range (larger than a "
                    f"64-bit integer)",
                )
            ok &= ~big
        failed = ok & ~valid
        if failed.any():
            texts = raw.to_pylist()
            for i in np.flatnonzero(failed):
                text = texts[i]
                rejects.add(
                    int(sub_lines[i]),
                    f"{col.name} is empty"
                    if text == ""
                    else f"{col.name} {quote(text)} is not {_EXPECTED[col.kind]}",
                )
        ok &= valid
    good = pa.array(np.flatnonzero(ok), pa.int64())
    arrays = []
    for col in cols:
        arr = values[col.name].take(good)
        if col.kind == "bool":
            arr = pc.is_in(arr, value_set=pa.array(_TRUE))
        elif col.kind == "cat":
            arr = pc.dictionary_encode(arr)
        elif col.kind != "str":
            arr = pc.cast(arr, _ARROW_TYPES[col.kind])
        arrays.append(arr)
    return pa.table(arrays, names=[c.name for c in cols]), sub_lines[ok]


def parse_ids(ids: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.int64] | None:
    """Trade ids as int64 if every one is an integer, else ``None`` (the caller numbers rows)."""
    if ids.null_count:
        return None
    if pa.types.is_integer(ids.type):
        return to_numpy(ids).astype(np.int64, copy=False)
    if len(ids) == 0:
        return np.empty(0, dtype=np.int64)
    texts = pc.utf8_trim_whitespace(pc.cast(ids, pa.string()))
    if not pc.all(pc.match_substring_regex(texts, _PATTERNS["int"])).as_py():
        return None
    return to_numpy(pc.cast(texts, pa.int64()))


def to_ns(ts: npt.NDArray[np.int64], unit: str) -> npt.NDArray[np.int64]:
    """Convert integer epoch timestamps in ``ms`` or ``us`` to nanoseconds."""
    factor = {"ms": _NS_PER_MS, "us": _NS_PER_US, "ns": 1}[unit]
    return scale_to_ns(ts, factor)


def epoch_unit(ts: npt.NDArray[np.int64]) -> str:
    """Guess whether epoch timestamps are in ms, us or ns from their magnitude.

    Any date between 1973 and 2286 has 13 digits in ms, 16 in us and 19 in ns.
    """
    if len(ts) == 0:
        return "ms"
    typical = float(np.median(ts))
    if typical >= 1e17:
        return "ns"
    if typical >= 1e14:
        return "us"
    return "ms"


# --------------------------------------------------------------------------------------------
# Assembly


def _categories(
    values: npt.NDArray[np.object_] | pa.Array | pa.ChunkedArray,
) -> tuple[npt.NDArray[np.int32], list[str]]:
    """Integer codes and the distinct values of a text column (vectorised, via Arrow).

    A dictionary-coded column (a parquet file's symbols, 100 instruments in 10 M rows) keeps
    its codes: only its few dictionary values are trimmed and merged, never one string per row.
    """
    arr = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    coded = _dictionary_codes(arr)
    if coded is not None:
        return coded
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks() if arr.num_chunks else pa.array([], pa.string())
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(pa.string())
    enc = pc.dictionary_encode(pc.utf8_trim_whitespace(arr))
    codes = np.asarray(enc.indices.to_numpy(zero_copy_only=False), dtype=np.int32)
    return codes, [str(v) for v in enc.dictionary.to_pylist()]


def _single_name(values: npt.NDArray[np.object_] | pa.Array | pa.ChunkedArray) -> str | None:
    """The one name of a dictionary-coded string column (no nulls) whose dictionaries all
    trim to the same single name (a file of one instrument): every row is that symbol, and
    :func:`_categories` would give all-zero codes and ``[name]``. None otherwise."""
    if not isinstance(values, pa.Array | pa.ChunkedArray):
        return None
    typ = values.type
    if not (pa.types.is_dictionary(typ) and pa.types.is_string(typ.value_type)):
        return None
    if values.null_count:
        return None
    chunks = values.chunks if isinstance(values, pa.ChunkedArray) else [values]
    names: set[str] = set()
    for c in chunks:
        if c.dictionary.null_count:
            return None
        names.update(str(v) for v in _trimmed(c.dictionary))
        if len(names) > 1:
            return None
    return names.pop() if len(names) == 1 else None


def _trimmed(values: pa.Array) -> list[str | None]:
    """``pc.utf8_trim_whitespace(values).to_pylist()``. Values that are ASCII with a visible
    first and last character (every symbol seen in practice) are their own trimmed values
    under any definition of whitespace: they are returned as they are, without importing
    pyarrow.compute for the few values of a dictionary."""
    raw = values.to_pylist()
    if all(
        isinstance(v, str) and v.isascii() and "!" <= v[:1] <= "~" and "!" <= v[-1:] <= "~"
        for v in raw
    ):
        return raw
    return list(pc.utf8_trim_whitespace(values).to_pylist())


def _dictionary_codes(
    arr: pa.Array | pa.ChunkedArray,
) -> tuple[npt.NDArray[np.int32], list[str]] | None:
    """:func:`_categories` of a dictionary-coded string column without decoding its rows;
    None when the column is not dictionary-coded strings or has nulls."""
    typ = arr.type
    if not (pa.types.is_dictionary(typ) and pa.types.is_string(typ.value_type)):
        return None
    if arr.null_count:
        return None
    chunks = arr.chunks if isinstance(arr, pa.ChunkedArray) else [arr]
    if any(c.dictionary.null_count for c in chunks):
        return None
    # Each chunk's own (small) dictionary is mapped to the codes of the trimmed values, in
    # order of first appearance over the chunks' dictionaries — the codes unifying the
    # dictionaries and encoding the trimmed result would give — and its indices are written
    # straight into the one output array (no unified copy, no concatenation: 80 MB less at
    # the peak of a 10 M-row load). Trimmed values that coincide ("BTC" and "BTC ") merge.
    codes: dict[str, int] = {}
    out = np.empty(len(arr), dtype=np.int32)
    pos = 0
    for c in chunks:
        trimmed = _trimmed(c.dictionary)
        remap = np.array([codes.setdefault(str(v), len(codes)) for v in trimmed], dtype=np.int32)
        m = len(c)
        if m and np.array_equal(remap, np.arange(len(remap))):  # codes as they are
            out[pos : pos + m] = to_numpy(c.indices)
        elif m:
            out[pos : pos + m] = remap[to_numpy(c.indices)]
        pos += m
    return out, list(codes)


def _runs(codes: npt.NDArray[np.int32], names: list[str]) -> dict[str, slice] | None:
    """Each symbol's rows as one slice when every symbol is a single contiguous run (a file
    written symbol by symbol, as ``ticks_parquet.write`` does): its batch is then a view of
    the columns, not a copy (100 instruments × 100,000 ticks load in one copy of the data).
    None when some symbol's rows are interleaved with another's."""
    bounds = np.concatenate(([0], np.flatnonzero(np.diff(codes)) + 1, [len(codes)]))
    run_codes = codes[bounds[:-1]]
    # A set of the runs' few codes, not np.unique: that imports numpy.ma (~70 ms) to ask
    # whether its argument is masked.
    if len(set(run_codes.tolist())) != len(run_codes):
        return None
    return {
        names[int(c)]: slice(int(a), int(b))
        for c, a, b in zip(run_codes, bounds[:-1], bounds[1:], strict=True)
    }


def _backwards(
    ts: npt.NDArray[np.int64],
    lines: npt.NDArray[np.int64] | LineNumbers,
    tolerance_ns: int,
    rejects: Rejects,
) -> npt.NDArray[np.bool_] | None:
    """Rows of one symbol (in file order) to keep, rejecting those that go backwards by more
    than ``tolerance_ns``; None when every row is kept (the common, ordered case)."""
    n = len(ts)
    if n < 2 or bool(np.all(ts[1:] >= ts[:-1])):
        return None
    peak = np.maximum.accumulate(ts)
    before = np.empty(n, dtype=np.int64)
    before[0] = ts[0]
    before[1:] = peak[:-1]
    bad = ts < before - tolerance_ns
    if not bad.any():
        return None
    # Which earlier line holds the running maximum, for the message.
    at_peak = np.maximum.accumulate(np.where(ts == peak, np.arange(n), 0))
    for i in np.flatnonzero(bad):
        j = int(at_peak[i - 1])
        rejects.add(
            int(lines[i]),
            f"timestamp goes backwards: {_fmt_ns(int(before[i]) - int(ts[i]))} before the "
            f"trade on line {int(lines[j])} (tolerance {_fmt_ns(tolerance_ns)})",
        )
    keep: npt.NDArray[np.bool_] = ~bad
    return keep


def _fmt_ns(ns: int) -> str:
    """A short duration for messages: ``1.5 ms``, ``3 s``, ``0 ns``."""
    for unit, size in (("s", 10**9), ("ms", 10**6), ("us", 10**3)):
        if ns >= size:
            return f"{ns / size:g} {unit}"
    return f"{ns} ns"


def assemble(
    *,
    src_path: Path,
    fmt: str,
    exchange: str,
    market: str,
    symbol: str | npt.NDArray[np.object_] | pa.Array | pa.ChunkedArray,
    ts_ns: npt.NDArray[np.int64],
    price: npt.NDArray[np.float64],
    size: npt.NDArray[np.float64],
    side: npt.NDArray[np.int8],
    trade_id: npt.NDArray[np.int64] | None,
    lines: npt.NDArray[np.int64] | LineNumbers,
    rejects: Rejects,
    only_symbol: str | None = None,
    ignored: int = 0,
    labels: tuple[str, str] = ("price", "size"),
    max_backwards_ns: int = 0,
) -> ImportResult:
    """Check values, drop bad rows (recording why), split by symbol and sort each by time.

    A trade whose timestamp is more than ``max_backwards_ns`` earlier than a trade of the same
    symbol on an earlier line goes backwards: it is a bad row (sorting it into place would
    invent a gap or a date partition). Trades within the tolerance are sorted into place.

    ``side`` must already be +1/-1 (importers reject unknown sides themselves); ``trade_id``
    ``None`` numbers the rows of each symbol 0, 1, 2... in file order. ``labels`` are the
    file's own names of the price and size fields, used in bad-row reasons.
    """
    if market not in MARKETS:
        raise DataError(f"{src_path}: market must be one of {', '.join(MARKETS)}, got {market!r}")
    ts_ns = np.asarray(ts_ns, dtype=np.int64)
    price = np.asarray(price, dtype=np.float64)
    size = np.asarray(size, dtype=np.float64)
    ok = np.ones(len(ts_ns), dtype=bool)
    for name, values in ((labels[0], price), (labels[1], size)):
        if bool(np.all(values > 0)) and bool(np.all(values < np.inf)):
            continue  # no NaN, infinite or non-positive value: the masks below are empty
        for mask, why in (
            (np.isnan(values), f"{name} is NaN"),
            (np.isinf(values), f"{name} is infinite"),
        ):
            rejects.add_mask(ok & mask, lines, why)
            ok &= ~mask
        nonpos = ok & (values <= 0)
        for i in np.flatnonzero(nonpos):
            rejects.add(int(lines[i]), f"{name} {values[i]:g} is not positive")
        ok &= ~nonpos
    if len(ts_ns) and ts_ns.min() <= 0:
        bad_ts = ok & (ts_ns <= 0)
        rejects.add_mask(bad_ts, lines, lambda i: f"timestamp {ts_ns[i]} is not positive")
        ok &= ~bad_ts
    for mask, reason in implausible(ts_ns, price, labels[0]):
        rejects.add_mask(ok & mask, lines, reason)
        ok &= ~mask

    # Every row kept (the usual case): the columns are used as they are, not copied.
    keep: npt.NDArray[np.intp] | slice = slice(None) if ok.all() else np.flatnonzero(ok)
    if trade_id is None:
        ids = None
    else:
        ids = np.asarray(trade_id, dtype=np.int64)[keep]
    ts_ns, price, size = ts_ns[keep], price[keep], size[keep]
    side = np.asarray(side, dtype=np.int8)[keep]

    groups: dict[str, npt.NDArray[np.intp] | slice | None]
    if len(ts_ns) == 0:
        groups = {}
    elif isinstance(symbol, str):
        groups = {symbol: None}
    elif (single := _single_name(symbol)) is not None:
        groups = {single: None}  # one symbol in every row: no codes to read
    else:
        codes, names = _categories(symbol)
        codes = codes[keep]
        # The codes used, ascending (np.unique's result): a count per code is one pass over
        # the rows where np.unique hashes them (~50 ms for 2 M rows).
        used = np.flatnonzero(np.bincount(codes, minlength=len(names)))
        if len(used) == 1:
            groups = {names[int(used[0])]: None}
        else:
            runs = _runs(codes, names)
            if runs is None:
                groups = {names[int(c)]: np.flatnonzero(codes == c) for c in used}
            else:
                groups = dict(runs)
            groups = dict(sorted(groups.items()))
    if only_symbol is not None and groups:
        if only_symbol not in groups:
            have = ", ".join(sorted(groups)) or "no trades"
            raise DataError(f"{src_path}: no trades of symbol {only_symbol!r}; it has {have}")
        groups = {only_symbol: groups[only_symbol]}

    kept_lines = lines[keep]
    batches: dict[str, TickBatch] = {}
    for name, idx in groups.items():
        sel = slice(None) if idx is None else idx
        g_ts, g_px, g_sz, g_sd = ts_ns[sel], price[sel], size[sel], side[sel]
        g_id = np.arange(len(g_ts), dtype=np.int64) if ids is None else ids[sel]
        back = _backwards(g_ts, kept_lines[sel], max_backwards_ns, rejects)
        if back is not None:
            g_ts, g_px, g_sz, g_sd, g_id = (
                g_ts[back],
                g_px[back],
                g_sz[back],
                g_sd[back],
                g_id[back],
            )
        if len(g_ts) > 1 and not (
            np.all(g_ts[1:] >= g_ts[:-1])
            and np.all((g_ts[1:] > g_ts[:-1]) | (g_id[1:] >= g_id[:-1]))
        ):
            order = np.lexsort((g_id, g_ts))
            g_ts, g_px, g_sz, g_sd, g_id = (
                g_ts[order],
                g_px[order],
                g_sz[order],
                g_sd[order],
                g_id[order],
            )
        batches[name] = TickBatch.from_arrays(name, g_ts, g_px, g_sz, g_sd, g_id)
    return ImportResult(
        path=src_path,
        format=fmt,
        exchange=exchange,
        market=market,
        batches=batches,
        bad_rows=sorted(rejects.rows, key=lambda r: r.line),
        ignored=ignored,
    )
