"""The HTML report: one offline file with interactive plotly charts.

plotly.js comes from the ``plotly`` Python distribution (its bundled ``plotly.min.js``) and is
embedded in the page, so the file loads nothing and links nowhere. The page reads a run's
results: the :class:`~tradewind.trading.engine.RunResult` and the journal the run wrote (signals,
vetoes, data-gap and data-quality events), never the engine.

Each chart's figure is a JSON block (``<script type="application/json" id="fig-...">``) that
one small script hands to ``Plotly.newPlot``; tests read the same JSON.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from tradewind.report import _arrays
from tradewind.report.analysis import MIN_RETURNS, Analysis, analyse
from tradewind.report.execution import quality_html, quality_of
from tradewind.report.metrics import (
    Metrics,
    bar_returns,
    drawdown_series,
    metrics_of,
)
from tradewind.report.summary import (
    fmt_duration,
    fmt_money,
    fmt_pct,
    fmt_profit_factor,
    fmt_time,
    fmt_times,
    headline_rows,
    unvalued_note,
)
from tradewind.timeframes import format_timeframe
from tradewind.trading.curves import Curve, columns_of
from tradewind.trading.pnl import fees_by_currency

if TYPE_CHECKING:
    from tradewind.secrets import Secret
    from tradewind.trading.engine import RunResult

NS = 1_000_000_000
#: Candles drawn per instrument at most; longer runs are merged into coarser candles (first
#: open, highest high, lowest low, last close, summed volume). A chart's plot area is at most
#: ~1,150 CSS pixels wide (``main``'s 1,240 less its padding and the plot's margins), ~2,300
#: device pixels on a 2x display: 5,000 candles are already two or more to a pixel. (20,000
#: until the twelfth session; the metrics, tables and ``report.json`` use every candle.)
MAX_CANDLES = 5_000
#: Signals or vetoes drawn per instrument at most (every one is in the journal).
MAX_MARKERS = 5_000
#: Bars in the rolling Sharpe window.
ROLLING_WINDOW = 60

_UP, _DOWN = "#1a7f37", "#cf222e"
_OVERLAY_COLORS = ("#8250df", "#bc4c00", "#0969da", "#bf3989")
_PANE_COLORS = ("#1b7c83", "#9a6700", "#57606a", "#6639ba")


#: A character :func:`html.escape` replaces (quote=True).
_SPECIAL = re.compile("[&<>\"']").search


def _esc(text: str) -> str:
    """``html.escape(text)``: ``text`` itself when it holds none of the characters that
    replaces (one search instead of five replaces: the trades table's cells, the markers'
    hover texts)."""
    return text if _SPECIAL(text) is None else html.escape(text)


def _t(ts_ns: int) -> str:
    """A plotly date: ISO, UTC, millisecond precision."""
    d = dt.datetime.fromtimestamp(ts_ns // NS, dt.UTC) + dt.timedelta(
        microseconds=(ts_ns % NS) // 1000
    )
    return d.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def _ts(values: Sequence[int] | np.ndarray) -> list[str]:
    """:func:`_t` of many timestamps at once (vectorised)."""
    return _Clean(_arrays.plotly_dates(values))


class _Clean(list):  # type: ignore[type-arg]
    """A list of a chart known to hold no NaN or infinity (dates, values already cleaned):
    :func:`_clean` keeps it as it is instead of visiting each item."""

    __slots__ = ()


#: Points of a line drawn at most (longer curves keep each bucket's first, lowest, highest
#: and last point, so spikes survive). 10,000 points are 2,500 buckets: at least one per
#: device pixel of the widest plot area on a 2x display (see :data:`MAX_CANDLES`), where a
#: bucket's first, lowest, highest and last point draw the pixel column the whole bucket
#: would. (20,000 until the twelfth session; ``report.json`` holds the whole equity curve.)
MAX_LINE_POINTS = 10_000


def _thin(points: Sequence[tuple[int, Any]], limit: int | None = None) -> list[Any]:
    """At most about ``limit`` (:data:`MAX_LINE_POINTS`) points of a time series, for
    drawing only."""
    if limit is None:
        limit = MAX_LINE_POINTS
    if len(points) <= limit:
        return list(points)
    k = math.ceil(len(points) / (limit / 4))
    out: list[Any] = []
    for i in range(0, len(points), k):
        g = points[i : i + k]
        vals = [v for _, v in g if v is not None]
        if not vals:
            out.append(g[0])
            continue
        lo = min(range(len(g)), key=lambda j: g[j][1] if g[j][1] is not None else math.inf)
        hi = max(range(len(g)), key=lambda j: g[j][1] if g[j][1] is not None else -math.inf)
        for j in sorted({0, lo, hi, len(g) - 1}):
            out.append(g[j])
    return out


def _thin_arrays(
    ts: np.ndarray, values: np.ndarray, missing: np.ndarray | None = None
) -> tuple[list[str], list[Any]]:
    """The dates and values (None where missing or not finite) :func:`_thin` keeps of the
    series ``(ts[i], values[i])``, from the arrays (:func:`tradewind.report._arrays.thin_index`)."""
    idx = _arrays.thin_index(values, missing, MAX_LINE_POINTS)
    if idx is not None:
        ts, values = ts[idx], values[idx]
        missing = None if missing is None else missing[idx]
    return _ts(ts), _Clean(_arrays.finite_list(values, missing))


def _series_arrays(
    points: Sequence[tuple[int, Any]],
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None] | None:
    """``(ts, values, missing)`` of a charted series, or None when a value is not a number
    or None (then the per-point path draws it)."""
    if not points:
        return None
    # An array chunk holds no missing value: its mask is a view of one array of False.
    none_missing = np.zeros(len(points), bool)
    got = columns_of(points, _series_list, lambda cols: (*cols, none_missing[: len(cols[0])]))
    if got is None:
        return None
    ts, values, missing = got
    return ts, values, missing if bool(missing.any()) else None


def _series_list(points: Sequence[tuple[int, Any]]) -> tuple[np.ndarray, ...] | None:
    """``(ts, values, missing)`` of points held as tuples (see :func:`_series_arrays`)."""
    if not points:
        return np.zeros(0, np.int64), np.zeros(0), np.zeros(0, bool)
    t, v = zip(*points, strict=True)
    kinds = set(map(type, v))
    if not kinds <= {float, int, type(None)} or bool in kinds:
        return None
    missing = np.zeros(len(v), dtype=bool)
    if type(None) in kinds:
        missing = np.fromiter((x is None for x in v), dtype=bool, count=len(v))
    return np.array(t, dtype=np.int64), np.array(v, dtype=np.float64), missing


def _line(points: Sequence[tuple[int, Any]]) -> tuple[list[str], list[Any]]:
    """The dates and values (:func:`_num` of each) of a thinned analyzer series."""
    arrays = _series_arrays(points)
    if arrays is not None:
        return _thin_arrays(*arrays)
    pts = _thin(points)
    return _ts([t for t, _ in pts]), [_num(v) for _, v in pts]


def _num(v: float) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


# -- the journal --------------------------------------------------------------------------
def journal_markers(
    journal_path: str | None, run_id: str, password: Secret | None = None
) -> dict[str, list[dict[str, Any]]]:
    """Signals, vetoes and data events of ``run_id`` from its journal (empty without one).

    ``{"signals": [...], "vetoes": [...], "gaps": [...], "quality": [...]}``; a gap is any
    system event whose type names a gap and whose payload has a start and an end time.
    """
    out: dict[str, list[dict[str, Any]]] = {"signals": [], "vetoes": [], "gaps": [], "quality": []}
    from tradewind.journal.postgres import is_url
    from tradewind.report.journal_reader import reading

    if not journal_path or (not is_url(journal_path) and not Path(journal_path).exists()):
        return out
    # Through the journal (a DuckDB file or ``[journal] url``'s PostgreSQL): a file left by a
    # killed host is read with the rows still only in its step log, and is not changed.
    with reading(journal_path, None if password is None else password.reveal()) as con:
        for ts, inst, side, intent, entry, stop, score, reasons in con.query(
            "SELECT ts_ns, instrument, side, intent, entry, stop, score, reasons FROM signals "
            "WHERE run_id = ? ORDER BY seq",
            [run_id],
        ):
            out["signals"].append(
                {
                    "ts_ns": ts, "instrument": inst, "side": side, "intent": intent,
                    "entry": entry, "stop": stop, "score": score,
                    "reasons": json.loads(reasons) if reasons else {},
                }
            )  # fmt: skip
        for ts, flt, reason, inst, side in con.query(
            "SELECT ts_ns, filter, reason, instrument, side FROM vetoes WHERE run_id = ? "
            "ORDER BY seq",
            [run_id],
        ):
            out["vetoes"].append(
                {"ts_ns": ts, "filter": flt, "reason": reason, "instrument": inst, "side": side}
            )
        for ts, typ, message, payload in con.query(
            "SELECT ts_ns, type, message, payload FROM system_events WHERE run_id = ? ORDER BY seq",
            [run_id],
        ):
            data = json.loads(payload) if payload else {}
            if "gap" in typ.lower():
                start = _first(data, ("start_ns", "start_ts_ns", "from_ts_ns", "start"))
                end = _first(data, ("end_ns", "end_ts_ns", "to_ts_ns", "end"))
                if isinstance(start, int) and isinstance(end, int):
                    out["gaps"].append(
                        {
                            "instrument": data.get("instrument"),
                            "start_ts_ns": start,
                            "end_ts_ns": end,
                            "message": message or typ,
                            "action": str(data.get("action") or ""),
                        }
                    )
            elif typ in ("DataQuality", "BadRows"):
                out["quality"].append(
                    {"ts_ns": ts, "instrument": data.get("instrument"), "message": message}
                )
    return out


def _first(data: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for k in keys:
        if k in data:
            return data[k]
    return None


# -- figures ------------------------------------------------------------------------------
def _resample(candles: Sequence[Sequence[float]], limit: int) -> list[Sequence[float]]:
    """At most ``limit`` candles: consecutive groups merged (first open, max high, min low,
    last close, summed volume)."""
    if len(candles) <= limit:
        return list(candles)
    k = math.ceil(len(candles) / limit)
    out: list[Sequence[float]] = []
    for i in range(0, len(candles), k):
        g = candles[i : i + k]
        out.append(
            (g[0][0], g[0][1], max(c[2] for c in g), min(c[3] for c in g), g[-1][4],
             sum(c[5] for c in g))
        )  # fmt: skip
    return out


def _candle_lists(
    candles: Sequence[Sequence[float]],
) -> tuple[list[str], list[Any], list[Any], list[Any], list[Any], list[Any], list[str]]:
    """The price chart's candle and volume lists of :func:`_resample` ``(candles,
    MAX_CANDLES)``: dates, open, high, low, close, volume (None where not finite) and each
    volume bar's colour. From arrays when every value is a float and no high or low is NaN
    or zero (``max``/``min``'s first-of-equals and NaN rules then agree with numpy's)."""
    arrays = _candle_arrays(candles)
    if arrays is None:
        cs = _resample(candles, MAX_CANDLES)
        return (
            _ts([int(c[0]) for c in cs]),
            [c[1] for c in cs], [c[2] for c in cs], [c[3] for c in cs], [c[4] for c in cs],
            [c[5] for c in cs], [_UP if c[4] >= c[1] else _DOWN for c in cs],
        )  # fmt: skip
    ts, o, h, lo, c, v = arrays
    n = len(ts)
    if n > MAX_CANDLES:
        k = math.ceil(n / MAX_CANDLES)
        starts = np.arange(0, n, k)
        ends = np.minimum(starts + k, n) - 1
        ts, o, c = ts[starts], o[starts], c[ends]
        h = np.maximum.reduceat(h, starts)
        lo = np.minimum.reduceat(lo, starts)
        # sum(...) of each group: 0 + v0 + v1 + ... in order.
        full = n // k
        vol = np.zeros(len(starts))
        head = v[: full * k].reshape(full, k)
        acc = 0.0 + head[:, 0]
        for j in range(1, k):
            acc = acc + head[:, j]
        vol[:full] = acc
        if full < len(starts):
            vol[full] = sum(v[full * k :].tolist())
        v = vol
    colors = np.where(c >= o, _UP, _DOWN).tolist()

    def fl(values: np.ndarray) -> list[Any]:  # NaN and infinities already None
        return _Clean(_arrays.finite_list(values))

    return _ts(ts), fl(o), fl(h), fl(lo), fl(c), fl(v), _Clean(colors)


def _candle_columns(candles: Sequence[Sequence[float]]) -> tuple[np.ndarray, ...] | None:
    """The six columns of candles held as tuples: None unless each is an int open time
    and five floats."""
    if not candles:
        return np.zeros(0, np.int64), *(np.zeros(0) for _ in range(5))
    cols = list(zip(*candles, strict=True))
    if len(cols) != 6 or any(set(map(type, col)) != {float} for col in cols[1:]):
        return None
    if not all(type(t) is int for t in cols[0]):
        return None
    ts = np.array(cols[0], dtype=np.int64)
    return ts, *(np.array(col, dtype=np.float64) for col in cols[1:])


def _candle_arrays(candles: Sequence[Sequence[float]]) -> tuple[np.ndarray, ...] | None:
    if not candles:
        return None
    got = columns_of(candles, _candle_columns)
    if got is None:
        return None
    ts, o, h, lo, c, v = got
    if len(ts) > MAX_CANDLES and not (
        np.isfinite(h).all() and np.isfinite(lo).all() and (h != 0).all() and (lo != 0).all()
    ):
        return None
    return ts, o, h, lo, c, v


def _fill_markers(
    result: RunResult, instrument: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Entry and exit markers: one per order, at its volume-weighted price, with its reason.

    An order is an entry when its first fill opens or adds to the position, an exit when it
    reduces, closes or flips it; the reason is the order's tag (the exit monitor or filter
    and what it saw).
    """
    qty = Decimal(0)
    groups: dict[str, list[Any]] = {}
    is_entry: dict[str, bool] = {}
    pnl_cur = str(
        (result.summary.get("pnl_currencies") or {}).get(instrument)
        or result.summary.get("currency")
        or ""
    )
    for f in sorted(result.fills, key=lambda f: f.ts_ns):
        if f.instrument != instrument:
            continue
        cid = f.client_order_id or f"fill@{f.ts_ns}"
        if cid not in groups:
            groups[cid] = []
            is_entry[cid] = qty == 0 or (qty > 0) == (f.side.sign > 0)
        groups[cid].append(f)
        qty += f.quantity * f.side.sign
    entries: list[dict[str, Any]] = []
    exits: list[dict[str, Any]] = []
    times = fmt_times([fs[0].ts_ns for fs in groups.values()])
    for (cid, fs), when in zip(groups.items(), times, strict=True):
        q = sum((f.quantity for f in fs), Decimal(0))
        vwap = sum((f.quantity * f.price for f in fs), Decimal(0)) / q if q else fs[0].price
        kind = "entry" if is_entry[cid] else "exit"
        reason = result.order_tags.get(cid) or kind
        side = fs[0].side.value
        # Fees per currency: the quote's (a fee in the bought asset valued at the fill
        # price), a third currency's own; never added across currencies.
        fees = fees_by_currency(fs, {}, pnl_cur)
        fee = ", ".join(f"{v:.8g} {c}".rstrip() for c, v in sorted(fees.items())) or "0"
        text = (
            f"<b>{kind} {side} {q}</b> @ {vwap:.8g}<br>"
            f"reason: {_esc(reason)}<br>order {_esc(cid)}, {len(fs)} fill"
            f"{'s' if len(fs) > 1 else ''}, fees {_esc(fee)}<br>{when}"
        )
        (entries if is_entry[cid] else exits).append(
            {"ts": fs[0].ts_ns, "price": float(vwap), "side": side, "text": text,
             "reason": reason}
        )  # fmt: skip
    return entries, exits


def _marker_trace(name: str, ms: Sequence[Mapping[str, Any]], **style: Any) -> dict[str, Any]:
    ts = [m["ts"] for m in ms]
    # _t of each time, at once (the same text from 1970 on; _t's own below).
    plain = all(type(t) is int and t >= 0 for t in ts)
    return {
        "type": "scatter",
        "mode": "markers",
        "name": name,
        "x": _ts(ts) if plain else [_t(t) for t in ts],
        "y": [m["price"] for m in ms],
        "hovertext": _Clean([m["text"] for m in ms]),  # text: nothing to clean
        "hoverinfo": "text",
        "customdata": [m.get("reason", "") for m in ms],
        "marker": style,
    }


class _Closes:
    """``{int(open time): close}`` of candles, looked up by binary search on the open times
    (a dict of every candle cost more than the few signals and vetoes that read it); an open
    time recorded twice gives its last candle's close, as the dict would."""

    def __init__(self, candles: Sequence[Sequence[float]]) -> None:
        self.candles = candles
        self.ts: np.ndarray | None = None
        if isinstance(candles, Curve):
            # The open times from the curve's columns (its points as tuples are not made);
            # a lookup reads its one point.
            got = columns_of(candles, _open_times, lambda cols: cols[:1])
            self.ts = None if got is None else got[0]
        else:
            t = [c[0] for c in candles]
            self.ts = np.array(t, dtype=np.int64) if all(type(x) is int for x in t) else None
        if self.ts is not None and len(self.ts) > 1 and bool((self.ts[1:] < self.ts[:-1]).any()):
            self.ts = None
        self.table = {int(c[0]): c[4] for c in candles} if self.ts is None else None

    def get(self, ts: int, default: Any = None) -> Any:
        if self.table is not None:
            return self.table.get(ts, default)
        assert self.ts is not None
        if type(ts) is not int or not -(2**63) <= ts < 2**63:
            return default
        i = int(np.searchsorted(self.ts, ts, side="right")) - 1
        return self.candles[i][4] if i >= 0 and int(self.ts[i]) == ts else default


def _open_times(candles: Sequence[Sequence[float]]) -> tuple[np.ndarray] | None:
    t = [c[0] for c in candles]
    return (np.array(t, dtype=np.int64),) if all(type(x) is int for x in t) else None


def price_figure(
    a: Analysis, result: RunResult, instrument: str, journal: Mapping[str, list[Any]]
) -> dict[str, Any]:
    """Candles with volume, the analyzer values picked in ``[run]``, entries and exits,
    signals, vetoes and data gaps of one instrument."""
    candles = result.candles.get(instrument, [])
    series = result.series.get(instrument, {})
    overlays = [k for k in result.summary.get("overlays", ()) if k in series]
    panes = [k for k in result.summary.get("panes", ()) if k in series]
    # Vertical layout: price on top, then volume, then one pane per analyzer value.
    n_pane = len(panes)
    vol_h, pane_h = 0.14, 0.14
    price_bottom = vol_h + n_pane * pane_h + 0.02 * (n_pane + 1)
    layout: dict[str, Any] = {
        "height": 520 + 110 * n_pane,
        "margin": {"l": 70, "r": 20, "t": 30, "b": 40},
        "hovermode": "closest",
        "dragmode": "zoom",
        "showlegend": True,
        "legend": {"orientation": "h", "y": 1.06, "x": 0},
        # The time axis sits under the bottom pane (volume), shared by every pane.
        "xaxis": {"type": "date", "rangeslider": {"visible": False}, "anchor": "y2"},
        "yaxis": {"domain": [price_bottom, 1], "title": {"text": "price"}, "fixedrange": False},
        "yaxis2": {"domain": [0, vol_h], "title": {"text": "volume"}, "anchor": "x"},
        "shapes": [],
        "annotations": [],
    }
    xs, opens, highs, lows, closes_, volumes, colors = _candle_lists(candles)
    traces: list[dict[str, Any]] = [
        {
            "type": "candlestick",
            "name": instrument,
            "x": xs,
            "open": opens,
            "high": highs,
            "low": lows,
            "close": closes_,
            "increasing": {"line": {"color": _UP}},
            "decreasing": {"line": {"color": _DOWN}},
            "hoverinfo": "x+y",
        },
        {
            "type": "bar",
            "name": "volume",
            "x": xs,
            "y": volumes,
            "yaxis": "y2",
            "marker": {"color": colors},
            "opacity": 0.6,
            "hovertemplate": "volume %{y}<extra></extra>",
        },
    ]
    for i, name in enumerate(overlays):
        x, y = _line(series[name])
        traces.append(
            {
                "type": "scatter", "mode": "lines", "name": name,
                "x": x, "y": y,
                "line": {"width": 1.3, "color": _OVERLAY_COLORS[i % len(_OVERLAY_COLORS)]},
                "hovertemplate": f"{html.escape(name)} %{{y}}<extra></extra>",
            }
        )  # fmt: skip
    for i, name in enumerate(panes):
        axis = f"yaxis{i + 3}"
        lo = vol_h + 0.02 * (i + 1) + pane_h * i
        layout[axis] = {
            "domain": [lo, lo + pane_h],
            "title": {"text": name, "font": {"size": 10}},
            "anchor": "x",
        }
        x, y = _line(series[name])
        traces.append(
            {
                "type": "scatter", "mode": "lines", "name": name, "yaxis": f"y{i + 3}",
                "x": x, "y": y,
                "line": {"width": 1.2, "color": _PANE_COLORS[i % len(_PANE_COLORS)]},
                "hovertemplate": f"{html.escape(name)} %{{y}}<extra></extra>",
            }
        )  # fmt: skip
    # Signals and vetoes sit at the close of their decision candle.
    bar = _bar_ns(result)
    sig = [s for s in journal.get("signals", []) if s["instrument"] == instrument][:MAX_MARKERS]
    vet = [v for v in journal.get("vetoes", []) if v["instrument"] == instrument][:MAX_MARKERS]
    closes = _Closes(candles if sig or vet else [])
    sig_times = fmt_times([s["ts_ns"] for s in sig])
    vet_times = fmt_times([v["ts_ns"] for v in vet])
    if sig:
        traces.append(
            _marker_trace(
                "signals",
                [
                    {
                        "ts": s["ts_ns"],
                        "price": _signal_price(s, closes, bar),
                        "text": f"<b>signal {s['side']}</b> ({s['intent']}) score "
                        f"{s['score']:.2f}<br>entry {s['entry']}, stop {s['stop']}<br>"
                        + "<br>".join(
                            f"{_esc(str(k))}: {_esc(_short(v))}"
                            for k, v in list(s["reasons"].items())[:12]
                        )
                        + f"<br>{when}",
                        "reason": "signal",
                    }
                    for s, when in zip(sig, sig_times, strict=True)
                ],
                symbol="circle-open", size=11, color="#0969da", line={"width": 2},
            )
        )  # fmt: skip
    if vet:
        traces.append(
            _marker_trace(
                "vetoes",
                [
                    {
                        "ts": v["ts_ns"],
                        "price": closes.get(v["ts_ns"] - bar, closes.get(v["ts_ns"], math.nan)),
                        "text": f"<b>veto by {html.escape(v['filter'])}</b> ({v['side']})<br>"
                        f"{html.escape(v['reason'] or '')}<br>{when}",
                        "reason": v["reason"],
                    }
                    for v, when in zip(vet, vet_times, strict=True)
                ],
                symbol="x", size=9, color="#9a6700",
            )
        )  # fmt: skip
    entries, exits = _fill_markers(result, instrument)
    for label, ms, filled in (("entries", entries, True), ("exits", exits, False)):
        for side, sym in (("buy", "triangle-up"), ("sell", "triangle-down")):
            mine = [m for m in ms if m["side"] == side]
            if not mine:
                continue
            color = _UP if side == "buy" else _DOWN
            traces.append(
                _marker_trace(
                    f"{label}: {side}",
                    mine,
                    symbol=sym if filled else f"{sym}-open",
                    size=13,
                    color=color,
                    line={"width": 2, "color": color},
                )
            )
    for g in _gaps(result, journal):
        if g.get("instrument") not in (None, instrument):
            continue
        layout["shapes"].append(
            {
                "type": "rect", "xref": "x", "yref": "paper",
                "x0": _t(g["start_ts_ns"]), "x1": _t(g["end_ts_ns"]), "y0": 0, "y1": 1,
                "fillcolor": "#d4a72c", "opacity": 0.25, "line": {"width": 0},
            }
        )  # fmt: skip
        layout["annotations"].append(
            {
                "x": _t(g["start_ts_ns"]), "y": 1, "xref": "x", "yref": "paper",
                "text": "gap", "showarrow": False, "hovertext": html.escape(g["message"]),
                "font": {"size": 10, "color": "#9a6700"},
            }
        )  # fmt: skip
    return {"data": traces, "layout": layout}


def _gaps(result: RunResult, journal: Mapping[str, list[Any]]) -> list[dict[str, Any]]:
    """Data gaps of the run: those in the result and those in its journal, once each."""
    out: dict[tuple[Any, int, int], dict[str, Any]] = {}
    for g in getattr(result, "data_gaps", ()) or ():
        key = (g.instrument, int(g.start_ns), int(g.end_ns))
        out[key] = {
            "instrument": g.instrument,
            "start_ts_ns": int(g.start_ns),
            "end_ts_ns": int(g.end_ns),
            "message": f"data gap {fmt_duration(int(g.end_ns) - int(g.start_ns))} "
            f"({g.policy}: {g.action})",
            "action": f"{g.policy}: {g.action}",
        }
    for g in journal.get("gaps", []):
        out.setdefault((g.get("instrument"), g["start_ts_ns"], g["end_ts_ns"]), g)
    return sorted(out.values(), key=lambda g: (g["start_ts_ns"], str(g.get("instrument"))))


def _length(gap: Mapping[str, Any]) -> int:
    return int(gap["end_ts_ns"]) - int(gap["start_ts_ns"])


def _data_quality(result: RunResult, journal: Mapping[str, list[Any]], limit: int = 500) -> str:
    """The data gaps (shaded on the price charts) and the rows the data files lost."""
    gaps = _gaps(result, journal)
    rows = [str(r) for r in (getattr(result, "bad_rows", ()) or ())]
    if not gaps and not rows:
        return "<p>No data gaps and no bad rows.</p>"
    out = []
    if gaps:
        body = "".join(
            "<tr>"
            + _cell(str(g.get("instrument") or "all"))
            + _cell(fmt_time(g["start_ts_ns"]), g["start_ts_ns"])
            + _cell(fmt_time(g["end_ts_ns"]), g["end_ts_ns"])
            + _cell(fmt_duration(_length(g)), _length(g), True)
            + _cell(str(g.get("action") or ""))
            + "</tr>"
            for g in gaps[:limit]
        )
        out.append(
            f"<h3>Data gaps ({len(gaps):,})</h3><table class='sortable' id='gaps-table'><thead>"
            "<tr><th>instrument</th><th>from</th><th>to</th><th class=n>length</th>"
            f"<th>policy: action</th></tr></thead><tbody>{body}</tbody></table>"
        )
    if rows:
        listed = "".join(f"<li><code>{html.escape(r)}</code></li>" for r in rows[:limit])
        extra = len(rows) - limit
        more = f"<p class='legend'>… and {extra:,} more.</p>" if extra > 0 else ""
        out.append(f"<h3>Bad data rows ({len(rows):,})</h3><ul>{listed}</ul>{more}")
    return "".join(out)


def _short(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    text = str(v)
    return text if len(text) < 80 else text[:77] + "..."


def _bar_ns(result: RunResult) -> int:
    tf = result.summary.get("timeframe")
    if tf:
        from tradewind.timeframes import parse_timeframe

        return parse_timeframe(str(tf))
    return 0


def _signal_price(s: Mapping[str, Any], closes: _Closes, bar: int) -> float:
    try:
        return float(s["entry"])
    except (TypeError, ValueError):
        return closes.get(int(s["ts_ns"]) - bar, math.nan)


def equity_figure(
    a: Analysis, result: RunResult, curve: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, Any]:
    """Equity beside equal-weight buy and hold of the same instruments, and drawdown.
    ``curve``: ``_arrays.curve_arrays(result.equity_curve)`` when the caller has it."""
    ts, eq = curve if curve is not None else _arrays.curve_arrays(result.equity_curve)
    depth = _arrays.drawdown(eq)
    if depth is not None:
        dd_x, dd_y = _thin_arrays(ts, -depth * 100)
    else:  # a NaN in the curve: drawdown_series's own rule
        dd = _thin(drawdown_series(list(zip(ts.tolist(), eq.tolist(), strict=True))))
        dd_x, dd_y = _ts([t for t, _ in dd]), [-d * 100 for _, d in dd]
    eq_x, eq_y = _thin_arrays(ts, eq)
    traces: list[dict[str, Any]] = [
        {
            "type": "scatter", "mode": "lines", "name": "equity",
            "x": eq_x, "y": eq_y,
            "line": {"color": "#0969da", "width": 1.6},
        },
    ]  # fmt: skip
    bh = a.buy_and_hold_curve
    if bh:
        bh_x, bh_y = _thin_arrays(*_arrays.curve_arrays(bh)) if _sorted_once(bh) else (
            _ts([t for t, _ in _thin(bh)]), [v for _, v in _thin(bh)]
        )  # fmt: skip
        traces.append(
            {
                "type": "scatter", "mode": "lines", "name": "buy and hold",
                "x": bh_x,
                "y": bh_y,
                "line": {"color": "#8c959f", "width": 1.3, "dash": "dot"},
            }
        )  # fmt: skip
    traces.append(
        {
            "type": "scatter", "mode": "lines", "name": "drawdown %", "yaxis": "y2",
            "x": dd_x, "y": dd_y,
            "fill": "tozeroy", "line": {"color": _DOWN, "width": 1},
        }
    )  # fmt: skip
    layout = {
        "height": 460,
        "margin": {"l": 70, "r": 20, "t": 30, "b": 40},
        "hovermode": "x unified",
        "legend": {"orientation": "h", "y": 1.08, "x": 0},
        "xaxis": {"type": "date", "anchor": "y2"},
        "yaxis": {"domain": [0.34, 1], "title": {"text": f"equity ({a.currency})"}},
        "yaxis2": {"domain": [0, 0.28], "title": {"text": "drawdown %"}, "anchor": "x"},
    }
    return {"data": traces, "layout": layout}


def _sorted_once(points: Sequence[tuple[int, Any]]) -> bool:
    """Whether ``points`` are floats at strictly increasing integer times (then their arrays
    are the points themselves)."""
    if not points or type(points[0][0]) is not int:
        return False
    t = np.array([p[0] for p in points], dtype=np.int64)
    return bool((t[1:] > t[:-1]).all()) and all(type(p[1]) is float for p in points)


def funnel_figure(m: Metrics) -> dict[str, Any]:
    """Candidates, rejections per gate, signals, vetoes per filter, orders."""
    bars = m.funnel.bars()
    colors = {"pass": "#0969da", "reject": "#bc4c00", "veto": _DOWN}
    return {
        "data": [
            {
                "type": "bar", "orientation": "h",
                "y": [b[0] for b in bars], "x": [b[1] for b in bars],
                "marker": {"color": [colors[b[2]] for b in bars]},
                "text": [f"{b[1]:,}" for b in bars], "textposition": "outside",
                "hovertemplate": "%{y}: %{x:,}<extra></extra>",
            }
        ],
        "layout": {
            "height": 120 + 28 * len(bars),
            "margin": {"l": 190, "r": 40, "t": 10, "b": 30},
            "yaxis": {"autorange": "reversed"},
        },
    }  # fmt: skip


def returns_figure(
    result: RunResult, a: Analysis, curve: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, Any]:
    """The distribution of bar returns and of trades' net returns, in percent."""
    _, eq = curve if curve is not None else _arrays.curve_arrays(result.equity_curve)
    rets = _Clean(_arrays.finite_list(_arrays.returns(eq) * 100))
    trade_rets = [
        float(t.pnl / (t.entry_price * t.quantity)) * 100
        for t in a.trades
        if t.entry_price * t.quantity and t.pnl is not None
    ]
    return {
        "data": [
            {"type": "histogram", "name": "bar returns %", "x": rets,
             "opacity": 0.75, "marker": {"color": "#0969da"}},
            {"type": "histogram", "name": "trade net returns %", "x": trade_rets,
             "opacity": 0.75, "marker": {"color": "#bc4c00"}, "xaxis": "x2", "yaxis": "y2"},
        ],
        "layout": {
            "height": 320, "margin": {"l": 60, "r": 20, "t": 30, "b": 40},
            "grid": {"rows": 1, "columns": 2, "pattern": "independent"},
            "xaxis": {"title": {"text": "bar return %"}},
            "xaxis2": {"title": {"text": "trade net return %"}},
            "legend": {"orientation": "h", "y": 1.12},
        },
    }  # fmt: skip


def rolling_sharpe(
    points: Sequence[tuple[int, float]], window: int, ppy: float
) -> list[tuple[int, float | None]]:
    """Sharpe of the last ``window`` bar returns at each point, annualised ×√ppy (sample
    standard deviation; None where it is 0)."""
    rets = bar_returns(points)
    if len(rets) < window or window < 2:
        return []
    c1 = np.concatenate(([0.0], np.cumsum(rets)))
    c2 = np.concatenate(([0.0], np.cumsum(rets * rets)))
    s1 = c1[window:] - c1[:-window]
    s2 = c2[window:] - c2[:-window]
    mean = s1 / window
    var = np.maximum((s2 - window * mean * mean) / (window - 1), 0.0)
    sd = np.sqrt(var)
    out: list[tuple[int, float | None]] = []
    for i, (mu, d) in enumerate(zip(mean.tolist(), sd.tolist(), strict=True)):
        # Window i holds returns i .. i+window-1, the last ending at point i+window.
        ok = d > 1e-12 * max(abs(mu), 1e-300)
        out.append((points[i + window][0], mu / d * math.sqrt(ppy) if ok and d > 0 else None))
    return out


def _rolling_arrays(
    ts: np.ndarray, eq: np.ndarray, window: int, ppy: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`rolling_sharpe` as arrays: times, values, where the value is None."""
    rets = _arrays.returns(eq)
    if len(rets) < window or window < 2:
        return ts[:0], eq[:0], np.zeros(0, dtype=bool)
    c1 = np.concatenate(([0.0], np.cumsum(rets)))
    c2 = np.concatenate(([0.0], np.cumsum(rets * rets)))
    s1 = c1[window:] - c1[:-window]
    s2 = c2[window:] - c2[:-window]
    mean = s1 / window
    var = np.maximum((s2 - window * mean * mean) / (window - 1), 0.0)
    sd = np.sqrt(var)
    ok = (sd > 1e-12 * np.maximum(np.abs(mean), 1e-300)) & (sd > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(ok, mean / sd * math.sqrt(ppy), np.nan)
    return ts[window : window + len(mean)], value, ~ok


def rolling_figure(
    result: RunResult, m: Metrics, curve: tuple[np.ndarray, np.ndarray] | None = None
) -> dict[str, Any] | None:
    """Rolling Sharpe over :data:`ROLLING_WINDOW` bars; None with too few returns."""
    ts, eq = curve if curve is not None else _arrays.curve_arrays(result.equity_curve)
    if not m.periods_per_year or len(ts) <= ROLLING_WINDOW:
        return None
    x, y = _thin_arrays(*_rolling_arrays(ts, eq, ROLLING_WINDOW, m.periods_per_year))
    return {
        "data": [
            {"type": "scatter", "mode": "lines", "name": "rolling Sharpe",
             "x": x, "y": y,
             "line": {"color": "#8250df", "width": 1.4}}
        ],
        "layout": {"height": 280, "margin": {"l": 60, "r": 20, "t": 20, "b": 40},
                   "xaxis": {"type": "date"}, "yaxis": {"zeroline": True}},
    }  # fmt: skip


# -- the page -----------------------------------------------------------------------------
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;color:#1f2328;
background:#f6f8fa}
main{max-width:1240px;margin:0 auto;padding:20px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 8px}
.sub{color:#57606a;margin:0 0 14px;font-size:13px}
.cards{display:grid;grid-template-columns:repeat(5,1fr);gap:10px;margin-bottom:14px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:8px 12px}
.card .k{font-size:12px;color:#57606a}.card .v{font-size:18px;font-weight:600}
section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:12px;
margin-bottom:14px}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #eaeef2;vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
table.sortable th{cursor:pointer;user-select:none;background:#f6f8fa}
table.sortable th[aria-sort=ascending]::after{content:" ▲"}
table.sortable th[aria-sort=descending]::after{content:" ▼"}
.legend{font-size:12px;color:#57606a;margin:4px 0 0}.neg{color:#cf222e}.pos{color:#1a7f37}
.scroll{max-height:520px;overflow:auto}
"""

# Renders every figure block, and sorts a table by the clicked column (numbers by data-v).
_SCRIPT = """
document.querySelectorAll('script[type="application/json"][data-figure]').forEach(function(s){
  var fig = JSON.parse(s.textContent);
  Plotly.newPlot(s.dataset.figure, fig.data, fig.layout,
    {displaylogo: false, responsive: true, scrollZoom: true, showLink: false,
     modeBarButtonsToRemove: ['sendDataToCloud']});
});
document.querySelectorAll('table.sortable').forEach(function(t){
  t.querySelectorAll('th').forEach(function(th, i){
    th.addEventListener('click', function(){
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      t.querySelectorAll('th').forEach(function(h){ h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = t.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function(a, b){
        var x = a.cells[i].dataset.v, y = b.cells[i].dataset.v;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : String(x).localeCompare(String(y));
        return asc ? c : -c;
      });
      rows.forEach(function(r){ body.appendChild(r); });
    });
  });
});
document.body.dataset.ready = '1';
"""


def plotly_js() -> str:
    """plotly.js as bundled in the ``plotly`` distribution."""
    return plotly_js_bytes().decode("utf-8")


def plotly_js_bytes() -> bytes:
    """The bytes of the ``plotly`` distribution's ``package_data/plotly.min.js`` (what
    ``plotly.offline.get_plotlyjs`` decodes), read without importing plotly's modules."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    for folder in (spec and spec.submodule_search_locations) or ():
        path = Path(folder) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path.read_bytes()
    import pkgutil  # not a plain folder (a zip, say): through plotly's loader

    data = pkgutil.get_data("plotly", "package_data/plotly.min.js")
    if data is None:
        raise FileNotFoundError("plotly's package_data/plotly.min.js is not installed")
    return data


def _figure_block(div_id: str, fig: Mapping[str, Any]) -> str:
    data = json.dumps(fig, allow_nan=False, default=str, separators=(",", ":"))
    data = data.replace("</", "<\\/")
    return (
        f"<div id='{div_id}' class='chart'></div>"
        f"<script type='application/json' data-figure='{div_id}' id='fig-{div_id}'>{data}</script>"
    )


def _clean(obj: Any) -> Any:
    """NaN and infinities become null (JSON has neither)."""
    if type(obj) is _Clean:
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def _cell(text: str, sort: Any = None, num: bool = False, cls: str = "") -> str:
    v = text if sort is None else sort
    klass = " ".join(x for x in ("n" if num else "", cls) if x)
    return (
        f"<td{f' class={chr(39)}{klass}{chr(39)}' if klass else ''} "
        f"data-v='{_esc(str(v))}'>{_esc(text)}</td>"
    )


def _fees_cell(fees: Decimal, not_converted: str, cur: str) -> str:
    """A trade's fees, or n/a with the reason when a third-currency fee had no price."""
    if not_converted:
        return _cell(f"n/a ({not_converted})", "", True)
    return _cell(fmt_money(fees, cur), fees, True)


def _tone(v: Decimal) -> str:
    return "pos" if v > 0 else "neg" if v < 0 else ""


def _trades_table(a: Analysis) -> str:
    cur = a.currency
    if not a.trades:
        return "<p>No closed trades.</p>"
    head = (
        "instrument", "side", "entry (UTC)", "entry price", "exit (UTC)", "exit price",
        "quantity", "duration", "fees", "funding", "P&L (net)", "exit reason",
    )  # fmt: skip
    nums = {3, 5, 6, 7, 8, 9, 10}
    rows = []
    entered = fmt_times([t.entry_ts_ns for t in a.trades])
    exited = fmt_times([t.exit_ts_ns for t in a.trades])
    for t, entry, exit_ in zip(a.trades, entered, exited, strict=True):
        pnl = t.pnl
        cur = a.currency_of(t.instrument)  # each trade in its own P&L currency
        rows.append(
            "<tr>"
            + _cell(t.instrument)
            + _cell("long" if t.side.value == "buy" else "short")
            + _cell(entry, t.entry_ts_ns)
            + _cell(f"{t.entry_price:,.8g}", t.entry_price, True)
            + _cell(exit_, t.exit_ts_ns)
            + _cell(f"{t.exit_price:,.8g}", t.exit_price, True)
            + _cell(f"{t.quantity:,}", t.quantity, True)
            + _cell(fmt_duration(t.duration_ns), t.duration_ns, True)
            + _fees_cell(t.fees, t.fees_not_converted, cur)
            + _cell(fmt_money(t.funding, cur), t.funding, True)
            + (
                _cell(f"n/a ({t.fees_not_converted})", "", True)
                if pnl is None
                else _cell(fmt_money(pnl, cur, sign=True), pnl, True, _tone(pnl))
            )
            + _cell(t.exit_reason or "–")
            + "</tr>"
        )
    ths = "".join(
        f"<th{' class=n' if i in nums else ''}>{html.escape(h)}</th>" for i, h in enumerate(head)
    )
    return (
        f"<div class='scroll'><table class='sortable' id='trades-table'><thead><tr>{ths}</tr>"
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
        "<p class='legend'>Click a column to sort. P&amp;L is net of fees and funding.</p>"
    )


def _open_table(a: Analysis, result: RunResult) -> str:
    if not a.open_positions:
        return "<p>No position was open at the end.</p>"
    cur = a.currency
    last = {k: v[-1][4] for k, v in result.candles.items() if v}
    rows = []
    for p in a.open_positions:
        mark = last.get(p.instrument)
        unreal = (
            (Decimal(str(mark)) - p.entry_price) * p.quantity * (1 if p.side.value == "buy" else -1)
            if mark is not None
            else None
        )
        rows.append(
            "<tr>"
            + _cell(p.instrument)
            + _cell("long" if p.side.value == "buy" else "short")
            + _cell(f"{p.quantity:,}", p.quantity, True)
            + _cell(f"{p.entry_price:,.8g}", p.entry_price, True)
            + _cell(fmt_time(p.entry_ts_ns), p.entry_ts_ns)
            + _cell("n/a" if mark is None else f"{mark:,.8g}", mark, True)
            + _cell(fmt_money(unreal, cur, sign=True), unreal, True)
            + _fees_cell(p.fees, p.fees_not_converted, cur)
            + "</tr>"
        )
    head = ("instrument", "side", "quantity", "entry price", "since (UTC)", "last close",
            "unrealised P&L", "fees")  # fmt: skip
    ths = "".join(f"<th>{h}</th>" for h in head)
    return (
        f"<table class='sortable' id='open-table'><thead><tr>{ths}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _kv_table(rows: Sequence[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table id='metrics-table'>{body}</table>"


def _breakdown(a: Analysis) -> str:
    cur = a.currency
    out = []
    # Per instrument: each row in its instrument's P&L currency. Per exit reason and per
    # period: valued in the reporting currency, or left out when a currency has no price.
    tables: list[tuple[str, Sequence[Any], Callable[[str], str]]] = [
        ("Per instrument", a.by_instrument, a.currency_of)
    ]
    if not a.unsummable:
        tables.append(("Per exit reason", a.by_exit, lambda _k: cur))
    for title, rows, cur_of in tables:
        body = "".join(
            "<tr>"
            + _cell(b.key)
            + _cell(f"{b.trades:,}", b.trades, True)
            + _cell(fmt_pct(b.win_rate), b.win_rate, True)
            + _cell(fmt_money(b.net_pnl, cur_of(b.key), sign=True), b.net_pnl, True)
            + _cell(fmt_money(b.avg_pnl, cur_of(b.key), sign=True), b.avg_pnl, True)
            + _cell(fmt_duration(b.avg_duration_ns), b.avg_duration_ns, True)
            + "</tr>"
            for b in rows
        )
        out.append(
            f"<h3>{title}</h3><table class='sortable'><thead><tr><th>{title[4:]}</th>"
            "<th class=n>trades</th><th class=n>win %</th><th class=n>net P&amp;L</th>"
            "<th class=n>avg P&amp;L</th><th class=n>avg duration</th></tr></thead>"
            f"<tbody>{body}</tbody></table>"
        )
    if a.unsummable:
        out.append(f"<p>Per exit reason and per period: {html.escape(unvalued_note(a))}</p>")
        return "".join(out)
    for title, periods in (("Daily", a.daily), ("Weekly", a.weekly), ("Monthly", a.monthly)):
        body = "".join(
            "<tr>"
            + _cell(p.label, p.start_ts_ns)
            + _cell(f"{p.trades:,}", p.trades, True)
            + _cell(f"{p.wins:,} / {p.losses:,}", p.wins, True)
            + _cell(fmt_money(p.net_pnl, cur, sign=True), p.net_pnl, True)
            + _cell(fmt_pct(p.equity_return, sign=True), p.equity_return, True)
            + "</tr>"
            for p in periods
        )
        out.append(
            f"<h3>{title}</h3><table class='sortable'><thead><tr><th>period</th>"
            "<th class=n>trades</th><th class=n>wins / losses</th><th class=n>net P&amp;L</th>"
            f"<th class=n>equity return</th></tr></thead><tbody>{body}</tbody></table>"
        )
    return "".join(out)


def render_html(
    result: RunResult, metrics: Metrics | None = None, analysis: Analysis | None = None
) -> str:
    """The report page."""
    head, tail = page_around_plotly(result, metrics, analysis)
    return head + plotly_js() + tail


def write_html(
    path: Path, result: RunResult, metrics: Metrics | None = None, analysis: Analysis | None = None
) -> None:
    """Write :func:`render_html`'s page to ``path`` as UTF-8: the page around plotly.js
    encoded, plotly.js's own bytes as they are installed (its ~4.6 MB are neither decoded
    nor joined into the page's text and encoded again)."""
    write_page(path, *_page_parts(result, metrics, analysis))


def page_parts(
    result: RunResult, metrics: Metrics | None = None, analysis: Analysis | None = None
) -> tuple[list[str], list[str]]:
    """The report page's texts before and after plotly.js, as the parts they are joined from
    (:func:`write_page` writes them)."""
    return _page_parts(result, metrics, analysis)


def write_page(path: Path, head: list[str], tail: list[str]) -> None:
    """Write the page of :func:`page_parts`'s ``head`` and ``tail`` to ``path`` (as
    :func:`write_html` does)."""
    if os.linesep != "\n":  # text mode would translate the page's newlines
        path.write_text("".join(head) + plotly_js() + "".join(tail), encoding="utf-8")
        return
    js = plotly_js_bytes()
    js.decode("utf-8")  # what render_html would decode: the same error if it is not UTF-8
    # Each part encoded alone (UTF-8 of the parts joined is the parts' UTF-8 joined): the
    # charts' JSON is ASCII and encodes as a copy, where the page's text joined (wide: the
    # legends have non-ASCII characters) went through the encoder character by character.
    with path.open("wb") as f:
        f.writelines([part.encode("utf-8") for part in head])
        f.write(js)
        f.writelines([part.encode("utf-8") for part in tail])


def page_around_plotly(
    result: RunResult, metrics: Metrics | None = None, analysis: Analysis | None = None
) -> tuple[str, str]:
    """The report page before and after the text of plotly.js (:func:`render_html`)."""
    head, tail = _page_parts(result, metrics, analysis)
    return "".join(head), "".join(tail)


def _page_parts(
    result: RunResult, metrics: Metrics | None = None, analysis: Analysis | None = None
) -> tuple[list[str], list[str]]:
    """:func:`page_around_plotly`'s texts as the parts they are joined from."""
    m = metrics or metrics_of(result)
    a = analysis or analyse(result, m)
    s = dict(result.summary)
    esc = html.escape
    instruments = list(
        dict.fromkeys([*(s.get("instruments") or []), *result.candles, *result.price_curve])
    )
    period = f"{fmt_time(m.start_ts_ns)} → {fmt_time(m.end_ts_ns)} ({fmt_duration(m.duration_ns)})"
    sub = " · ".join(
        x
        for x in (
            f"run {s.get('run_id', result.run_id)}",
            f"mode {s.get('mode', '?')}",
            ", ".join(instruments),
            f"timeframe {format_timeframe(m.bar_ns)}" if m.bar_ns else "",
            period,
        )
        if x
    )
    few = f"n/a ({m.returns} returns < {MIN_RETURNS})"
    basis = f" ({m.returns:,} {format_timeframe(m.bar_ns)} returns)" if m.bar_ns else ""
    cards = [
        ("P&L", f"{fmt_money(a.net_pnl, a.currency, sign=True)}"),
        ("Total return", fmt_pct(m.total_return, sign=True)),
        ("Buy and hold", fmt_pct(a.buy_and_hold, sign=True)),
        ("Max drawdown", fmt_pct(m.drawdown.depth)),
        ("Closed trades", f"{len(a.trades):,}"),
        (
            f"Sharpe{basis}",
            f"{m.sharpe:,.2f}" if a.ratios_shown and m.sharpe is not None else few,
        ),
        (
            f"Sortino{basis}",
            f"{m.sortino:,.2f}" if a.ratios_shown and m.sortino is not None else few,
        ),
        ("Profit factor", fmt_profit_factor(a)),
        ("Win rate", fmt_pct(a.wins / len(a.trades)) if a.trades else "n/a"),
        ("Exposure", fmt_pct(m.exposure)),
    ]
    card_html = "".join(
        f"<div class='card'><div class='k'>{esc(k)}</div><div class='v'>{esc(v)}</div></div>"
        for k, v in cards
    )
    # What reads only the run's result first, then what reads its journal: a backtest's
    # journal may still be writing its last rows meanwhile (report.journal_reader.shared).
    curve = _arrays.curve_arrays(result.equity_curve)
    rolling = rolling_figure(result, m, curve)
    equity = _figure_block("chart-equity-plot", _clean(equity_figure(a, result, curve)))
    funnel = _figure_block("chart-funnel-plot", _clean(funnel_figure(m)))
    returns = _figure_block("chart-returns-plot", _clean(returns_figure(result, a, curve)))
    rolling_block = _figure_block("chart-rolling-plot", _clean(rolling)) if rolling else ""
    headline = _kv_table(headline_rows(a, s))
    trades = _trades_table(a)
    still_open = _open_table(a, result)
    breakdown = _breakdown(a)
    journal = journal_markers(result.journal_path, result.run_id, result.journal_password)
    price = []
    for i, inst in enumerate(instruments):
        fig = _clean(price_figure(a, result, inst, journal))
        price.append(f"<h3 data-instrument='{esc(inst)}'>{esc(inst)}</h3>")
        price.append(_figure_block(f"chart-price-{i}", fig))
    gaps = len(_gaps(result, journal))
    quality = len(journal["quality"])
    parts: list[str | None] = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>tradewind report {esc(str(s.get('run_id', '')))}</title>",
        f"<style>{_CSS}</style><script>",
        None,  # plotly.js
        "</script></head><body><main>",
        f"<h1>tradewind run report</h1><p class='sub'>{esc(sub)}</p>",
        f"<div class='cards'>{card_html}</div>",
        "<section id='chart-price'><h2>Price, signals and fills</h2>",
        "".join(price) or "<p>No candles.</p>",
        "<p class='legend'>Candles and volume of the strategy timeframe; analyzer values from "
        "<code>[run] overlays</code> on the price and <code>[run] panes</code> below it. "
        "▲ buy, ▼ sell: filled = entry, hollow = exit, one per order at its volume-weighted "
        "price; ○ signals; × vetoes; shaded bands are data gaps"
        f" ({gaps} in this run; {quality} data-quality reports). Hover a marker for its "
        "reason; drag to zoom, shift-drag or the toolbar to pan, double-click to reset.</p>"
        "</section>",
        "<section id='chart-equity'><h2>Equity, buy and hold, drawdown</h2>",
        equity,
        "<p class='legend'>Equity at each strategy-timeframe close; buy and hold: the starting "
        "equity split evenly over the instruments, bought at the first open, no costs.</p>"
        "</section>",
        "<section id='chart-funnel'><h2>Gate funnel</h2>",
        funnel,
        "</section>",
        "<section id='chart-returns'><h2>Returns distribution</h2>",
        returns,
        "</section>",
        "<section id='chart-rolling'><h2>Rolling Sharpe</h2>",
        rolling_block
        + f"<p class='legend'>Sharpe of the last {ROLLING_WINDOW} bar returns, annualised "
        f"×√{m.periods_per_year or 0:,.0f}.</p>"
        if rolling
        else f"<p>Needs more than {ROLLING_WINDOW} equity points; this run has "
        f"{len(curve[0])}.</p>",
        "</section>",
        "<section id='metrics'><h2>Summary</h2>",
        headline,
        "<p class='legend'>Definitions: docs/report.md.</p></section>",
        f"<section id='trades'><h2>Closed trades ({len(a.trades):,})</h2>{trades}</section>",
        f"<section id='open'><h2>Open at the end ({len(a.open_positions):,})</h2>"
        f"{still_open}</section>",
        f"<section id='breakdowns'><h2>Breakdowns</h2>{breakdown}</section>",
        f"<section id='data-quality'><h2>Data quality</h2>{_data_quality(result, journal)}"
        "</section>",
        quality_html(quality_of(result.journal_path, result.run_id)),
        f"<script>{_SCRIPT}</script></main></body></html>",
    ]
    cut = parts.index(None)
    return [p for p in parts[:cut] if p], [p for p in parts[cut + 1 :] if p]
