"""Run summaries and the report files (JSON, and a one-file HTML page that opens offline)."""

from __future__ import annotations

import html
import json
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tradewind.engine import Engine, RunResult


def _max_drawdown(curve: list[float]) -> float:
    peak = -float("inf")
    worst = 0.0
    for eq in curve:
        peak = max(peak, eq)
        if peak > 0:
            worst = max(worst, (peak - eq) / peak)
    return worst


def funnel(engine: Engine) -> dict[str, int]:
    """Candidates at each level: evaluated, rejected per gate, signals, vetoed, sent."""
    out = {"candidates": engine.strategy.evaluated}
    out.update({f"rejected:{k}": v for k, v in engine.strategy.rejected.items()})
    out["signals"] = engine.signals
    out.update({f"vetoed:{k}": v for k, v in engine.vetoes.items()})
    out["orders"] = engine.entries_sent
    return out


def summarize(engine: Engine) -> dict[str, Any]:
    """Headline metrics: equity, return, P&L, fees, trades, win rate, drawdown, the funnel."""
    pf = engine.portfolio
    start = pf.starting_equity()
    equity = pf.equity()
    pnls = [p for _, _, p in engine.orders.closed_trades]
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    curve = [e for _, e in engine.equity_curve] + [float(equity)]
    gross_loss = -sum(losses, Decimal(0))
    return {
        "run_id": engine.run_id,
        "mode": engine.config.mode.value,
        "instruments": list(engine.instruments),
        "ticks": engine.ticks,
        "candles": engine.candles,
        "starting_equity": str(start),
        "final_equity": str(equity),
        "total_return_pct": float((equity - start) / start * 100) if start else 0.0,
        "realized_pnl": str(
            sum((p.realized_pnl for p in (pf.position(k) for k in engine.instruments)), Decimal(0))
        ),
        "fees_paid": str(pf.fees_paid),
        "fills": len(engine.orders.fills),
        "trades": len(pnls),
        "win_rate_pct": len(wins) / len(pnls) * 100 if pnls else 0.0,
        "profit_factor": float(sum(wins, Decimal(0)) / gross_loss) if gross_loss else None,
        "max_drawdown_pct": _max_drawdown(curve) * 100,
        "open_positions": len(pf.positions()),
        "decisions": engine.decision_points,
        "signals": engine.signals,
        "funnel": funnel(engine),
        "vetoes": dict(engine.vetoes),
    }


def write_report(result: RunResult, out_dir: Path) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    data = {
        "summary": result.summary,
        "equity_curve": [[ts, eq] for ts, eq in result.equity_curve],
        "trades": [
            {"closed_ts_ns": ts, "instrument": i, "pnl": str(p)}
            for ts, i, p in result.closed_trades
        ],
        "fills": [
            {
                "ts_ns": f.ts_ns,
                "client_order_id": f.client_order_id,
                "side": f.side.value,
                "quantity": str(f.quantity),
                "price": str(f.price),
                "fee": str(f.fee),
                "liquidity": f.liquidity,
            }
            for f in result.fills
        ],
    }
    jpath = out_dir / "report.json"
    jpath.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    hpath = out_dir / "report.html"
    hpath.write_text(_html(data), encoding="utf-8")
    return jpath, hpath


def _svg_line(points: list[tuple[float, float]], width: int = 800, height: int = 240) -> str:
    if len(points) < 2:
        return "<p>Not enough points for a chart.</p>"
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if y1 == y0:
        y1 = y0 + 1
    if x1 == x0:
        x1 = x0 + 1
    pts = " ".join(
        f"{(x - x0) / (x1 - x0) * width:.1f},{height - (y - y0) / (y1 - y0) * height:.1f}"
        for x, y in points
    )
    return (
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img"><polyline fill="none" stroke="#1f6feb" stroke-width="1.5" '
        f'points="{pts}"/><text x="4" y="14" font-size="12">{y1:,.2f}</text>'
        f'<text x="4" y="{height - 4}" font-size="12">{y0:,.2f}</text></svg>'
    )


def _html(data: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(str(v))}</td></tr>"
        for k, v in data["summary"].items()
    )
    chart = _svg_line([(float(ts), float(eq)) for ts, eq in data["equity_curve"]])
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>tradewind report</title>"
        "<style>body{font-family:sans-serif;margin:2em}th{text-align:left;padding-right:1em}"
        "</style></head><body><h1>tradewind run report</h1>"
        f"<h2>Summary</h2><table>{rows}</table><h2>Equity</h2>{chart}"
        f"<p>{len(data['trades'])} closed trades, {len(data['fills'])} fills.</p></body></html>"
    )
