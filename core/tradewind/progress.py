"""The backtest progress bar: ticks done, ticks/s and ETA, on stderr when it is a terminal."""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console


def _rate_column() -> Any:
    """A column of ticks per second (its rich base class is imported with the bar)."""
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class _RateColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            speed = task.finished_speed or task.speed
            return Text("" if speed is None else f"{speed:,.0f} ticks/s")

    return _RateColumn()


class TickProgress:
    """A context manager whose :meth:`advance` the engine calls after every batch.

    The bar (``rich.progress``, with its live display) is built only when stderr is a
    terminal; otherwise only the ticks are counted (issue 17: the import is part of every
    ``tradewind backtest`` process's start)."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True)
        self._progress: Any = None
        if self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("replaying"),
                BarColumn(),
                MofNCompleteColumn(),
                _rate_column(),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
        self._task: Any = None
        self.ticks = 0
        self.started = time.perf_counter()

    def __enter__(self) -> TickProgress:
        if self._progress is not None:
            self._progress.__enter__()
            self._task = self._progress.add_task("replay", total=None)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)

    def advance(self, ticks: int, total: int | None) -> None:
        """Count ``ticks`` more; set the total once it is known."""
        self.ticks += ticks
        if self._progress is None:
            return
        if total is not None and self._progress.tasks[0].total != total:
            self._progress.update(self._task, total=total)
        self._progress.update(self._task, advance=ticks)

    @property
    def rate(self) -> float:
        """Ticks per second so far."""
        elapsed = time.perf_counter() - self.started
        return self.ticks / elapsed if elapsed > 0 else 0.0
