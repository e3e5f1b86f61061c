"""CPU placement: which CPUs a process of the host may run on (``[run] cpus``, ``[api] cpus``).

On a machine with few cores the engine, the API process and whatever else runs there share
them; pinning the API process to cores the engine does not use keeps the engine's core for the
engine (docs/deployment.md). Linux only (``os.sched_setaffinity``); elsewhere a configured
placement is a config error rather than silently ignored.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

ONLINE = Path("/sys/devices/system/cpu/online")


def parse_cpu_list(text: str) -> frozenset[int]:
    """Linux's CPU list format (``0-3,6``) as a set of ids."""
    ids: set[int] = set()
    for part in text.strip().split(","):
        if not part:
            continue
        lo, _, hi = part.partition("-")
        ids.update(range(int(lo), int(hi or lo) + 1))
    return frozenset(ids)


def machine_cpus() -> frozenset[int]:
    """The ids of this machine's online CPUs (not this process's current affinity, which a
    ``[run] cpus`` may have narrowed: the API process may be placed beyond it)."""
    try:
        return parse_cpu_list(ONLINE.read_text(encoding="ascii"))
    except (OSError, ValueError):
        return frozenset(range(os.cpu_count() or 1))


def check_cpus(cpus: Sequence[int], key: str) -> None:
    """Raise ValueError naming ``key`` unless ``cpus`` are distinct ids of this machine's CPUs
    and the platform can place a process (an empty list: no placement, always fine)."""
    if not cpus:
        return
    if not hasattr(os, "sched_setaffinity"):
        raise ValueError(f"cpus needs Linux (os.sched_setaffinity); leave it empty @ {key}")
    if len(set(cpus)) != len(cpus):
        raise ValueError(f"cpus lists a CPU twice: {list(cpus)} @ {key}")
    have = machine_cpus()
    missing = sorted(set(cpus) - have)
    if missing:
        raise ValueError(
            f"cpus {missing} do not exist on this machine (its CPUs: {_fmt(have)}) @ {key}"
        )


def pin_process(cpus: Iterable[int], key: str) -> None:
    """Place every thread of this process (and the threads and children it starts later) on
    ``cpus``. Linux's affinity is per thread: each of ``/proc/self/task`` is set. An OSError
    (a CPU outside this container's cpuset) becomes a ValueError naming ``key``."""
    want = set(cpus)
    tasks = Path("/proc/self/task")
    try:
        tids = [int(p.name) for p in tasks.iterdir()] if tasks.is_dir() else [0]
    except OSError:
        tids = [0]
    try:
        for tid in tids:
            try:
                os.sched_setaffinity(tid, want)
            except ProcessLookupError:  # a thread that ended meanwhile
                continue
    except OSError as exc:
        raise ValueError(
            f"cannot place this process on CPUs {sorted(want)}: {exc.strerror or exc} "
            f"(this process may use {_fmt(frozenset(os.sched_getaffinity(0)))}) @ {key}"
        ) from exc


def _fmt(ids: frozenset[int]) -> str:
    return ", ".join(str(i) for i in sorted(ids))


def check_share(share: float, where: str = "[api] cpu_share") -> float:
    """``share`` as a float in (0, 1], else a ValueError naming ``where`` and the value."""
    if isinstance(share, bool) or not isinstance(share, int | float):
        raise ValueError(f"{where} must be a number in (0, 1], got {share!r}")
    if not 0.0 < float(share) <= 1.0:  # also refuses NaN
        raise ValueError(
            f"{where} must be in (0, 1] (a fraction of one CPU; 1.0 = no budget), got {share!r}"
        )
    return float(share)
