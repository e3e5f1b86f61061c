"""The report's array paths give the bits of its per-point definitions (issue 17, the report
at the end of a backtest): the indented JSON, the chart dates, the thinning of long lines,
the equity curve's points, drawdown and rolling Sharpe, the candles merged for drawing, buy
and hold, the period tables — on random series with ties, NaN, infinities, missing values and
times recorded twice — and a whole report of a long run with many trades byte for byte
against the report the per-point code wrote before (main at c735171)."""

from __future__ import annotations

import enum
import hashlib
import html
import itertools
import json
import math
import random
import re
from decimal import Decimal
from pathlib import Path

import attrs
import numpy as np
import pytest
from tradewind.model import Fill, Side
from tradewind.report import _arrays
from tradewind.report import html as report_html
from tradewind.report._json import dumps_indented
from tradewind.report.analysis import (
    _curve,
    _one_curve,
    analyse,
    buy_and_hold,
    curve_periods,
    periods,
)
from tradewind.report.metrics import (
    _drawdown,
    compute_metrics,
    drawdown_series,
    equity_points,
    max_drawdown,
    report_data,
    write_report,
)
from tradewind.trading.engine import RunResult

BASE = 1_700_006_400 * 1_000_000_000  # 2023-11-15 00:00 UTC
MIN = 60_000_000_000


def _same(a: object, b: object) -> bool:
    """Equal, NaN equal to NaN, floats bit for bit (0.0 is not -0.0)."""
    if isinstance(a, float) and isinstance(b, float):
        return (math.isnan(a) and math.isnan(b)) or (
            a == b and math.copysign(1, a) == math.copysign(1, b)
        )
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


class _Kind(enum.IntEnum):
    ONE = 1


class _Name(str):
    pass


def test_the_indented_json_is_json_dumps_text():
    rng = random.Random(17)
    specials = [
        math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-300, 1.7976931348623157e308, 0.1, -2.5,
        np.float64(1.25), Decimal("1.10"), Decimal("-0E-8"), True, False, None, 0, -7, 2**80,
        _Kind.ONE, _Name("named"), "", "é ünïcode ☃ \u2028 \x00 \"q\" \\ </script>", Side.BUY,
        [], {}, (), [[]], {"": {}},
    ]  # fmt: skip

    def value(depth: int) -> object:
        r = rng.random()
        if depth > 3 or r < 0.5:
            return specials[int(rng.random() * len(specials))]
        if r < 0.75:
            return [value(depth + 1) for _ in range(int(rng.random() * 5))]
        if r < 0.85:
            return tuple(value(depth + 1) for _ in range(int(rng.random() * 3)))
        keys = ["a", "é", 1, 2.5, True, False, None, math.nan, "z" * 3]
        return {keys[int(rng.random() * len(keys))]: value(depth + 1) for _ in range(4)}

    for _ in range(400):
        v = value(0)
        assert dumps_indented(v) == json.dumps(v, indent=2, default=str)
    curve = [[BASE + i * MIN, 100_000.0 + rng.random()] for i in range(5_000)]
    doc = {
        "equity_curve": curve,
        "fills": [{"price": "1.5", "fee": None}] * 3,
        "mixed": [{"a": 1, 2: 3}, {"x": [1]}, {"é": math.nan, "b": True}, {}, [1, [2]], (1.5,)],
    }
    assert dumps_indented(doc) == json.dumps(doc, indent=2, default=str)
    with pytest.raises(TypeError):
        dumps_indented({(1, 2): 3})


def test_long_lists_written_a_column_at_a_time_are_json_dumps_text():
    """The column path of long lists (scalars, pairs, dicts of the same keys; floats
    formatted once per distinct bit pattern) against json.dumps, with every way out of it:
    mixed types, lengths and keys, subclasses, NaN, infinities, -0.0, repeated values."""
    rng = random.Random(1017)
    floats = [math.nan, math.inf, -math.inf, 0.0, -0.0, 1e-300, 1e16, 1e-5, 0.1, -2.5]
    scalars = [*floats, True, False, None, 0, -7, 2**70, "", 'é \u2028 "q" </', "BTCUSDT"]
    odd = [np.float64(1.25), Decimal("1.10"), _Kind.ONE, _Name("n"), Side.BUY, [], {}, [1, [2]]]

    def number(pool: list[float]) -> object:
        return pool[int(rng.random() * len(pool))]

    def column(n: int, kind: str) -> list[object]:
        pool = [rng.uniform(-1e6, 1e6) for _ in range(1 + int(rng.random() * n))]
        if kind == "float":
            return [number(pool) for _ in range(n)]
        if kind == "special":  # floats with NaN, infinities, -0.0
            return [number(pool) if rng.random() < 0.9 else number(floats) for _ in range(n)]
        if kind == "int":
            return [BASE + int(rng.random() * n) * MIN for _ in range(n)]
        return [number(pool) if rng.random() < 0.8 else number(scalars) for _ in range(n)]

    kinds = ["float", "special", "int", "mixed"]
    for _ in range(120):
        n = int(rng.choice([1, 31, 32, 33, 255, 256, 300, 2_000]) * rng.uniform(0.9, 1.1)) + 1
        width = 1 + int(rng.random() * 5)
        cols = [column(n, rng.choice(kinds)) for _ in range(width)]
        shape = rng.random()
        if shape < 0.25:
            v: list[object] = cols[0]
        elif shape < 0.6:
            make = list if rng.random() < 0.7 else tuple
            v = [make(row) for row in zip(*cols, strict=True)]
        else:
            keys = ["ts_ns", "price", "é", "side", "fee"][:width]
            v = [dict(zip(keys, row, strict=True)) for row in zip(*cols, strict=True)]
        if rng.random() < 0.3:  # something that leaves the column path
            i = int(rng.random() * n)
            r = rng.random()
            if r < 0.4:
                v[i] = number(odd)
            elif r < 0.6 and isinstance(v[i], dict):
                v[i] = dict(reversed(list(v[i].items())))
            elif r < 0.8 and isinstance(v[i], list | tuple):
                v[i] = [*v[i], 1.5]
            else:
                v[i] = [number(odd)] if not isinstance(v[i], dict) else {"ts_ns": number(odd)}
        doc = {"x": v} if rng.random() < 0.5 else [[v]]
        for indent in (2, 4):
            assert dumps_indented(doc, indent) == json.dumps(doc, indent=indent, default=str)


def _dates_by_numpy(ts: np.ndarray) -> list[str]:
    ms = np.asarray(ts, dtype=np.int64) // 1_000_000
    text = np.datetime_as_string(ms.astype("datetime64[ms]"), unit="ms")
    return [str(x).replace("T", " ") for x in text]


def test_the_chart_dates_are_numpys_text():
    rng = random.Random(3)
    many = np.array(
        sorted(int(rng.random() * (2**63 - 1)) for _ in range(20_000)),
        dtype=np.int64,
    )  # fmt: skip
    edges = np.array(
        [0, 999_999, 1_000_000, 86_399_999_999_999, 86_400_000_000_000, BASE, BASE + 1,
         951_782_400 * 10**9 - 1, 951_782_400 * 10**9,  # 2000-02-29
         2**63 - 1, -1, -86_400 * 10**9],
        dtype=np.int64,
    )  # fmt: skip
    for ts in (many, edges, edges[:-3], np.arange(BASE, BASE + 30_000 * MIN, MIN)):
        assert _arrays.plotly_dates(ts) == _dates_by_numpy(ts)
    assert _arrays.plotly_dates([]) == []


def _series(rng: random.Random, n: int, nan: float, none: float, ties: bool) -> list:
    out = []
    for i in range(n):
        r = rng.random()
        if r < nan:
            v: object = math.nan
        elif r < nan + none:
            v = None
        elif r < nan + none + 0.01:
            v = rng.choice([math.inf, -math.inf])
        else:
            v = float(int(rng.random() * 5)) if ties else rng.random() * 100 - 50
        out.append((BASE + i * MIN, v))
    return out


@pytest.mark.parametrize("limit", [8, 20, 37, 400])
def test_the_thinning_of_a_line_keeps_the_points_of_the_definition(limit):
    rng = random.Random(limit)
    for n in (0, 1, limit, limit + 1, 3 * limit + 5, 50 * limit + 3):
        for nan, none, ties in ((0, 0, False), (0, 0, True), (0.2, 0, True), (0.1, 0.3, False),
                                (0, 0.95, True), (0.5, 0.5, False)):  # fmt: skip
            points = _series(rng, n, nan, none, ties)
            if n and rng.random() < 0.5:  # a bucket's first value NaN
                points[0] = (points[0][0], math.nan)
            want = report_html._thin(points, limit)
            values = np.array([math.nan if v is None else v for _, v in points], dtype=float)
            missing = np.array([v is None for _, v in points], dtype=bool)
            idx = _arrays.thin_index(values, missing, limit)
            got = points if idx is None else [points[i] for i in idx.tolist()]
            assert _same(got, want), (n, nan, none, ties)


def test_a_charted_series_is_the_per_point_one():
    rng = random.Random(5)
    for n in (0, 5, 20_001, 45_000):
        points = _series(rng, n, 0.05, 0.05, False)
        want_pts = report_html._thin(points)
        x, y = report_html._line(points)
        assert x == report_html._ts([t for t, _ in want_pts])
        assert _same(y, [report_html._num(v) for _, v in want_pts])


def _curve_points(rng: random.Random, n: int, *, shuffle: bool, nan: bool) -> list:
    eq = 1000.0
    pts = []
    for i in range(n):
        eq = max(0.0, eq * (1 + (rng.random() - 0.5) / 50)) if rng.random() > 0.2 else eq
        pts.append((BASE + i * MIN, eq))
        if rng.random() < 0.05:  # recorded twice (another instrument's close)
            pts.append((BASE + i * MIN, eq + 1))
    if nan and pts:
        pts[len(pts) // 2] = (pts[len(pts) // 2][0], math.nan)
    if shuffle:
        rng.shuffle(pts)
    return pts


def test_the_equity_curves_points_drawdown_and_ratios_are_the_definitions():
    rng = random.Random(11)
    for n in (0, 1, 2, 61, 5_000):
        for shuffle in (False, True):
            for nan in (False, True):
                raw = _curve_points(rng, n, shuffle=shuffle, nan=nan)
                points = equity_points(raw)
                ts, eq = _arrays.curve_arrays(raw)
                assert _same(list(zip(ts.tolist(), eq.tolist(), strict=True)), points)
                assert _drawdown(ts, eq) == max_drawdown(points)
                depth = _arrays.drawdown(eq)
                if depth is not None:
                    assert _same(
                        list(zip(ts.tolist(), depth.tolist(), strict=True)),
                        drawdown_series(points),
                    )
                else:
                    assert nan
                want = report_html.rolling_sharpe(points, 60, 525_600.0)
                t2, v2, miss = report_html._rolling_arrays(ts, eq, 60, 525_600.0)
                got = [(t, None if m else v) for t, v, m in
                       zip(t2.tolist(), v2.tolist(), miss.tolist(), strict=True)]  # fmt: skip
                assert _same(got, want)
    # Plateaus, new highs equal to the old peak, a fall to 0, infinities.
    for eq_values in (
        [5.0, 5.0, 4.0, 5.0, 3.0, 5.0, 5.0, 2.0],
        [1.0, 0.0, 0.0, 2.0, -1.0, 2.0],
        [1.0, math.inf, 3.0, math.inf, -math.inf, 1.0],
        [0.0, -1.0, -2.0],
        [-math.inf, 1.0, 0.5],
    ):
        pts = [(BASE + i * MIN, v) for i, v in enumerate(eq_values)]
        ts, eq = _arrays.curve_arrays(pts)
        assert _drawdown(ts, eq) == max_drawdown(pts), eq_values


def test_metrics_of_a_long_curve_are_the_per_point_ones():
    rng = random.Random(2)
    raw = _curve_points(rng, 3_000, shuffle=True, nan=False)
    m = compute_metrics(
        equity_curve=raw, closed_trades=[], fills=[], starting_equity=Decimal(1000),
        final_equity=Decimal(1100),
    )  # fmt: skip
    points = equity_points(raw)
    assert m.bar_ns == min(b[0] - a[0] for a, b in itertools.pairwise(points))
    assert m.drawdown == max_drawdown(points)
    rets = [b[1] / a[1] - 1.0 for a, b in itertools.pairwise(points)]
    assert m.returns == len(rets)
    assert m.start_ts_ns == points[0][0] - m.bar_ns and m.end_ts_ns == points[-1][0]


def _candles(rng: random.Random, n: int, *, nan: bool = False) -> list:
    out = []
    price = 100.0
    for i in range(n):
        o = price
        c = max(1.0, o + float(int((rng.random() - 0.5) * 20)) / 10)
        h = max(o, c) + float(int(rng.random() * 3)) / 10
        lo = min(o, c) - float(int(rng.random() * 3)) / 10
        v = rng.random() * 10 if rng.random() > 0.1 else 0.0
        out.append((BASE + i * MIN, o, h, lo, c, v))
        price = c
    if nan:
        i = n // 3
        out[i] = (*out[i][:2], math.nan, *out[i][3:])
    return out


@pytest.mark.parametrize("limit", [7, 50, 1_000])
def test_the_drawn_candles_are_the_merged_ones(monkeypatch, limit):
    rng = random.Random(limit)
    monkeypatch.setattr(report_html, "MAX_CANDLES", limit)
    for n in (1, limit, limit + 1, 7 * limit + 3, 20 * limit):
        for nan in (False, True):
            candles = _candles(rng, n, nan=nan)
            merged = report_html._resample(candles, limit)
            want = (
                report_html._ts([int(c[0]) for c in merged]),
                *([report_html._num(c[j]) for c in merged] for j in range(1, 6)),
                ["#1a7f37" if c[4] >= c[1] else "#cf222e" for c in merged],
            )
            # As the page has them: NaN and infinities null (_clean).
            got = report_html._clean(list(report_html._candle_lists(candles)))
            assert _same(got, list(want)), (n, nan)


def test_buy_and_hold_of_one_instrument_is_the_close_by_close_sum():
    rng = random.Random(8)
    for n in (1, 2, 500, 30_000):
        candles = _candles(rng, n)
        first = float(candles[0][1])
        assert _same(
            _one_curve(candles, first, 10_000.0), _curve({"A": candles}, {"A": first}, 10_000.0)
        )
    two = {"A": _candles(rng, 300), "B": _candles(rng, 200)}
    _, curve = buy_and_hold(two, 1000.0)
    assert curve == _curve(two, {k: float(v[0][1]) for k, v in two.items()}, 1000.0)


def test_the_period_tables_of_the_curve_are_the_per_point_ones():
    rng = random.Random(4)
    result = _long_run()
    a = analyse(result)
    for n in (0, 1, 40_000):
        pts = equity_points(_curve_points(rng, n, shuffle=False, nan=False))
        ts, eq = _arrays.curve_arrays(pts)
        for unit in ("day", "week", "month"):
            assert curve_periods(a.valued, ts, eq, Decimal(1000), unit) == periods(
                a.valued, pts, Decimal(1000), unit
            )


def _long_run() -> RunResult:
    """A run of 30,000 one-minute closes on two instruments with 600 fills: curves longer
    than the charts draw (thinned) and candles merged two by two; warm-up NaN and missing
    values in the charted analyzer outputs; a NaN high in B's candles (drawn per point)."""
    rng = random.Random(20200222)
    n = 30_000
    equity, fills, tags = [], [], {}
    eq = 100_000.0
    for i in range(n):
        eq = eq * (1 + (rng.random() - 0.5) / 500)
        equity.append((BASE + (i + 1) * MIN, eq))
    for j in range(300):
        inst = "sim:A" if j % 3 else "sim:B"
        t0 = BASE + (j * 100 + 1) * MIN
        side = Side.BUY if j % 2 else Side.SELL
        back = Side.SELL if side is Side.BUY else Side.BUY
        p0 = Decimal(str(round(100 + rng.random() * 10, 1)))
        p1 = Decimal(str(round(100 + rng.random() * 10, 1)))
        qty = Decimal(str(round(0.001 + rng.random(), 3)))
        for k, (s, p, t) in enumerate(((side, p0, t0), (back, p1, t0 + 37 * MIN))):
            cid = f"o{j}-{k}"
            fills.append(Fill(client_order_id=cid, instrument=inst, side=s, quantity=qty,
                              price=p, fee=Decimal("0.01"), ts_ns=t))  # fmt: skip
            tags[cid] = "entry" if k == 0 else rng.choice(["trailing: stop 0.5%", "maxhold: 30m"])
    candles = {"sim:A": _candles(rng, n), "sim:B": _candles(rng, n, nan=True)}
    series: dict[str, dict[str, list]] = {}
    for inst in candles:
        ema = [(BASE + (i + 1) * MIN, math.nan if i < 50 else 100 + rng.random()) for i in range(n)]
        adx = [
            (BASE + (i + 1) * MIN, None if i % 997 == 0 else rng.random() * 60) for i in range(n)
        ]
        series[inst] = {"regime.ema_fast": ema, "regime.adx": adx}
    closed = []
    return RunResult(
        run_id="long",
        summary={
            "run_id": "long", "mode": "backtest", "instruments": ["sim:A", "sim:B"],
            "timeframe": "1m", "currency": "USDT", "starting_equity": "100000",
            "final_equity": repr(eq), "last_ts_ns": BASE + n * MIN,
            "funnel": {"candidates": n, "rejected:regime": n - 500, "signals": 500,
                       "vetoed:killswitch": 200, "orders": 300},
            "overlays": ["regime.ema_fast"], "panes": ["regime.adx"],
            "ticks": 2_000_000, "candles": 2 * n,
        },
        equity_curve=equity,
        closed_trades=closed,
        fills=fills,
        candles=candles,
        series=series,
        order_tags=tags,
    )  # fmt: skip


def _digests(folder: Path) -> tuple[str, str]:
    page = (folder / "report.html").read_bytes()
    js = report_html.plotly_js().encode("utf-8")
    assert page.count(js) == 1
    return (
        hashlib.sha256((folder / "report.json").read_bytes()).hexdigest(),
        hashlib.sha256(page.replace(js, b"")).hexdigest(),
    )


#: SHA-256 of report.json and of report.html without plotly.js, written for ``_long_run()``
#: by the per-point report of main at c735171 (``write_report(_long_run(), folder)`` with that
#: commit's core first on ``PYTHONPATH``), which drew at most 20,000 candles and 20,000 points
#: of a line (:func:`_old_limits`).
BEFORE = (
    "633d76acbdb515a64a8b4135d61b22e2ca9892f4e179a82f7bdb113b9cda55aa",
    "fecd26828f4ded4826032aa089b05d35947f1788ba588b4e07cf2ea6916bbc2d",
)

#: The same with the drawn series' limits of the twelfth session (5,000 candles, 10,000 points
#: of a line): ``report.json`` is BEFORE's; the page differs only in its charted series
#: (``test_the_drawn_series_limits_change_only_the_charted_points``).
AFTER = (
    BEFORE[0],
    "50524274cfb021c889704d0e3064da0d44be4d986b61b5e75c2bc883c11aed19",
)


def _old_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(report_html, "MAX_CANDLES", 20_000)
    monkeypatch.setattr(report_html, "MAX_LINE_POINTS", 20_000)


@pytest.mark.slow
def test_a_long_runs_report_is_the_per_point_reports_bytes(tmp_path, monkeypatch):
    result = _long_run()
    write_report(result, tmp_path)
    assert _digests(tmp_path) == AFTER
    # The page's text is render_html's, the same bytes as written.
    page = (tmp_path / "report.html").read_bytes()
    assert page == report_html.render_html(result).encode("utf-8")
    # With the limits it had, the page is main c735171's to the byte: only the limits moved.
    _old_limits(monkeypatch)
    write_report(result, tmp_path / "old")
    assert _digests(tmp_path / "old") == BEFORE


_FIGURE = re.compile(
    rb"(<script type='application/json' data-figure='[^']*' id='[^']*'>)(.*?)(</script>)", re.S
)


def _figures(page: bytes) -> tuple[bytes, list[dict]]:
    """The page with its figures' JSON taken out, and the figures."""
    figs = [json.loads(m.group(2)) for m in _FIGURE.finditer(page)]
    return _FIGURE.sub(rb"\1\3", page), figs


#: The keys of a trace that hold its drawn points.
_POINTS = {"x", "y", "open", "high", "low", "close"}


@pytest.mark.slow
def test_the_drawn_series_limits_change_only_the_charted_points(tmp_path, monkeypatch):
    """The page at the new limits against the page at the old ones: the same text around the
    figures, the same figures, layouts and traces but for the points of the thinned lines
    and merged candles (and the volume bars' colours, one per candle), each now the
    definitions' (``_thin`` and ``_resample``) at the new limits; ``report.json`` the same."""
    result = _long_run()
    write_report(result, tmp_path / "new")
    _old_limits(monkeypatch)
    write_report(result, tmp_path / "old")
    monkeypatch.undo()
    assert (tmp_path / "new" / "report.json").read_bytes() == (
        tmp_path / "old" / "report.json"
    ).read_bytes()
    new_rest, new_figs = _figures((tmp_path / "new" / "report.html").read_bytes())
    old_rest, old_figs = _figures((tmp_path / "old" / "report.html").read_bytes())
    assert new_rest == old_rest
    assert len(new_figs) == len(old_figs) == 6
    drawn = 0
    for new, old in zip(new_figs, old_figs, strict=True):
        assert new["layout"] == old["layout"]
        assert len(new["data"]) == len(old["data"])
        for nt, ot in zip(new["data"], old["data"], strict=True):
            keys = set(nt) - _POINTS - {"marker"}
            assert set(nt) == set(ot) and {k: nt[k] for k in keys} == {k: ot[k] for k in keys}
            if nt.get("type") == "bar" and nt.get("name") == "volume":
                assert len(nt["marker"]["color"]) == len(nt["x"])
            else:
                assert nt.get("marker") == ot.get("marker")
            if nt.get("mode") == "lines":
                assert len(nt["x"]) <= report_html.MAX_LINE_POINTS < len(ot["x"])
                drawn += 1
            elif nt.get("type") == "candlestick" or nt.get("name") == "volume":
                assert len(nt["x"]) <= report_html.MAX_CANDLES < len(ot["x"])
                drawn += nt["type"] == "candlestick"
            else:  # markers, the funnel, the returns' histogram: every point as before
                assert {k: nt.get(k) for k in _POINTS} == {k: ot.get(k) for k in _POINTS}
    # Two instruments' candles and two lines each; equity, buy and hold, drawdown, Sharpe.
    assert drawn == 2 * 3 + 4
    # The lines and candles drawn are the definitions' at the new limits.
    a = analyse(result)
    for i, inst in enumerate(("sim:A", "sim:B")):
        fig = new_figs[i]
        cs = report_html._resample(result.candles[inst], report_html.MAX_CANDLES)
        candle = fig["data"][0]
        assert candle["x"] == report_html._ts([int(c[0]) for c in cs])
        for j, key in enumerate(("open", "high", "low", "close"), start=1):
            assert _same(candle[key], [report_html._num(c[j]) for c in cs])
        assert _same(fig["data"][1]["y"], [report_html._num(c[5]) for c in cs])
        for trace in fig["data"][2:4]:
            pts = report_html._thin(result.series[inst][trace["name"]])
            assert trace["x"] == report_html._ts([t for t, _ in pts])
            assert _same(trace["y"], [report_html._num(v) for _, v in pts])
    eq = report_html._thin(equity_points(result.equity_curve))
    assert new_figs[2]["data"][0]["x"] == report_html._ts([t for t, _ in eq])
    assert _same(new_figs[2]["data"][0]["y"], [v for _, v in eq])
    bh = report_html._thin(a.buy_and_hold_curve)
    assert _same(new_figs[2]["data"][1]["y"], [v for _, v in bh])


def test_marker_dates_and_candle_closes_are_the_per_item_ones():
    rng = random.Random(9)
    ts = [int(rng.random() * (2**63 - 1)) for _ in range(3_000)] + [0, 1, 999_999, BASE]
    assert report_html._ts(ts) == [report_html._t(t) for t in ts]
    for shuffle in (False, True):
        candles = _candles(rng, 2_000)
        candles += [(candles[-1][0], 1.0, 2.0, 0.5, 1.5, 3.0)]  # an open time twice
        if shuffle:
            rng.shuffle(candles)
        table = {int(c[0]): c[4] for c in candles}
        closes = report_html._Closes(candles)
        for t in [c[0] for c in candles] + [BASE - MIN, BASE + 10**9, BASE + 5_000 * MIN, 2**70]:
            assert _same(closes.get(t, math.nan), table.get(t, math.nan))


def test_a_curve_converted_again_is_its_arrays_and_only_its_own():
    """The metrics, the analysis and the report's figures each convert the run's curve:
    the second time the very same tuples give the first conversion's arrays; a curve that
    merely equals it (0.0 and -0.0, a copy of a tuple), one changed in place, or one of
    lists (mutable) is converted again."""
    convert = _arrays.curve_arrays.__wrapped__
    rng = random.Random(5)

    def check(curve: list) -> tuple[np.ndarray, np.ndarray]:
        ts, eq = _arrays.curve_arrays(curve)
        want_ts, want_eq = convert(curve)
        assert ts.dtype == want_ts.dtype and eq.dtype == want_eq.dtype
        assert ts.tobytes() == want_ts.tobytes() and eq.tobytes() == want_eq.tobytes()
        return ts, eq

    for n in (1, 2, 61, 5_000):
        for shuffle in (False, True):
            curve = _curve_points(rng, n, shuffle=shuffle, nan=n > 2)
            first = check(curve)
            again = check(curve)
            assert again[0] is first[0] and again[1] is first[1]  # not converted again
            assert not first[0].flags.writeable and not first[1].flags.writeable
            check(list(curve))  # another list of the same tuples: the same arrays
            # An equal tuple that is another object is converted again.
            copy = [tuple(list(p)) for p in curve]
            assert check(copy)[0] is not first[0]
            # Changed in place: one point replaced, one appended, one removed.
            i = n // 2
            curve[i] = (curve[i][0], curve[i][1] + 1.0)
            check(curve)
            curve.append((curve[-1][0] + MIN, 3.0))
            check(curve)
            curve.pop(0)
            check(curve)
    zero = [(BASE, 0.0), (BASE + MIN, 1.0)]
    minus = [(BASE, -0.0), (BASE + MIN, 1.0)]
    assert zero == minus
    check(zero)
    assert math.copysign(1.0, float(check(minus)[1][0])) == -1.0
    # Lists as points: never remembered (a point could change in place).
    pts = [[BASE + i * MIN, float(i)] for i in range(10)]
    check(pts)
    pts[3][1] = 99.0
    assert check(pts)[1][3] == 99.0
    assert check([])[0].size == 0


def test_the_reports_html_escape_is_html_escape():
    rng = random.Random(3)
    alphabet = "ab <>&\"'é\u2603;#x270"
    texts = ["", "plain", "a&b", "<b>", "it's", 'say "x"', "&amp;", "é", "\x00"]
    texts += [
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))) for _ in range(2_000)
    ]
    for text in texts:
        assert report_html._esc(text) == html.escape(text)
        assert report_html._esc(text) == html.escape(text, quote=True)


def test_the_page_written_a_part_at_a_time_is_render_htmls_text_encoded(tmp_path):
    """``write_html`` encodes the page's parts one by one: the file is the UTF-8 of
    ``render_html``'s text, with non-ASCII (and astral) characters in the reasons and the
    run id, parts that are ASCII and parts that are not."""
    base = _long_run()
    tags = {cid: f"{reason} — ü ✓ 𝄞 <&>" for cid, reason in base.order_tags.items()}
    result = attrs.evolve(base, order_tags=tags, summary={**base.summary, "run_id": "run-é-𝄞"})
    write_report(result, tmp_path)
    page = (tmp_path / "report.html").read_bytes()
    text = report_html.render_html(result)
    assert not text.isascii() and "𝄞" in text
    assert page == text.encode("utf-8")
    head, tail = report_html.page_around_plotly(result)
    assert page == head.encode("utf-8") + report_html.plotly_js_bytes() + tail.encode("utf-8")


def test_the_reports_round_trips_from_the_analysis_are_the_ones_made_again(tmp_path):
    """``write_report`` with the CLI's analysis takes its round trips instead of making
    them again: the same report.json and report.html as without one, for a run that ends
    flat and the same run with positions left open (its last fills dropped)."""
    base = _long_run()
    for cut in (0, 1, 7):
        result = attrs.evolve(base, fills=base.fills[: len(base.fills) - cut])
        a = analyse(result)
        assert cut == 0 or a.open_positions
        write_report(result, tmp_path / f"own-{cut}")
        write_report(result, tmp_path / f"shared-{cut}", analysis=a)
        for name in ("report.json", "report.html"):
            own = (tmp_path / f"own-{cut}" / name).read_bytes()
            assert own == (tmp_path / f"shared-{cut}" / name).read_bytes()
        assert report_data(result, trips=(a.trades, a.open_positions)) == report_data(result)


def test_long_lists_items_placed_between_their_columns_are_json_dumps_text():
    """The column path's items built in one list (brackets, separators and keys placed by
    slice assignment, joined once) at the smallest long length and beyond, for every width
    of pairs and dict rows, one-key dicts, keys that need escaping, at several indents and
    depths; against json.dumps."""
    from tradewind.report._json import _LONG

    rng = random.Random(2026)
    for n in (_LONG, _LONG + 1, 1_000):
        for width in (1, 2, 3, 4):
            cols = [
                [rng.choice([BASE + i * MIN, rng.uniform(-1e9, 1e9), "t\u00e9\n", None, True])
                 for i in range(n)]
                for _ in range(width)
            ]  # fmt: skip
            rows = list(zip(*cols, strict=True))
            keys = ['k"0', "\u00e9", "</x>", "ts_ns"][:width]
            for v in (
                [list(r) for r in rows],
                rows,
                [dict(zip(keys, r, strict=True)) for r in rows],
                [r[0] for r in rows],
            ):
                for doc in (v, {"a": v}, [[{"b": v}]]):
                    for indent in (1, 2, 4):
                        assert dumps_indented(doc, indent) == json.dumps(
                            doc, indent=indent, default=str
                        )
