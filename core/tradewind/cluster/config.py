"""``[cluster]``: how the hosts of a split deployment reach each other over NATS JetStream."""

from __future__ import annotations

import re

import attrs

#: A stream, durable or shard name: what NATS accepts in a subject token and a stream name.
_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


@attrs.frozen(kw_only=True)
class ClusterSection:
    """``[cluster]``: the NATS JetStream transport of ``tradewind serve`` (docs/deployment.md)."""

    #: The NATS server the hosts connect to; a password, if any, comes from ``password_env``.
    url: str = "nats://127.0.0.1:4222"
    #: The environment variable holding the NATS password (empty: no password).
    password_env: str = ""
    #: First token of every subject and of the stream and durable names: several
    #: deployments can share one server under different prefixes.
    prefix: str = "tw"
    #: Shards of instruments, each served by one strategy host: ``{name = ["venue:SYMBOL",
    #: ...]}``. Empty: one shard named ``main`` with every instrument.
    shards: dict[str, list[str]] = attrs.Factory(dict)
    #: Retention of the ticks stream: bytes it may hold. A full stream refuses new batches
    #: (the data host reports it and waits); nothing is dropped silently.
    ticks_max_bytes: int = 1 << 30
    #: Retention of the ticks stream: seconds a batch is kept (it must cover ``warmup``).
    ticks_max_age_s: float = 86_400.0
    #: Retention of the signals stream: bytes.
    signals_max_bytes: int = 64 << 20
    #: Retention of the signals stream: seconds.
    signals_max_age_s: float = 86_400.0
    #: Retention of the events stream (fills, orders, vetoes, system events): bytes.
    events_max_bytes: int = 256 << 20
    #: Retention of the events stream: seconds.
    events_max_age_s: float = 7 * 86_400.0
    #: Seconds within which a message published twice (a restarted publisher) is stored once.
    duplicate_window_s: float = 600.0
    #: Prefix of the durable consumer names (``<durable>-strategy-<shard>``,
    #: ``<durable>-execution-ticks``, ``<durable>-execution-signals``).
    durable: str = "tradewind"
    #: Seconds a delivered message may stay unacknowledged before the server redelivers it.
    ack_wait_s: float = 30.0
    #: Messages a consumer may hold unacknowledged; the server pauses delivery beyond it.
    max_ack_pending: int = 1024
    #: Messages fetched per pull request.
    fetch_batch: int = 64
    #: Market time a restarted strategy host replays from the ticks stream before its resume
    #: point, to rebuild candles and analyzer state (publishing nothing it already published).
    warmup: str = "6h"
    #: Seconds the execution host waits for a strategy host's decision at a candle close
    #: before it reports the shard late (a SystemError event) and trades without it.
    signal_wait_s: float = 120.0

    def __attrs_post_init__(self) -> None:
        for name in ("prefix", "durable"):
            if not _NAME.match(getattr(self, name)):
                raise ValueError(
                    f"{name} may hold letters, digits, '_' and '-' only, got "
                    f"{getattr(self, name)!r} @ $.{name}"
                )
        for shard, members in self.shards.items():
            if not _NAME.match(shard) or shard == "end":
                raise ValueError(
                    f"shard name may hold letters, digits, '_' and '-' only (and is not 'end'), "
                    f"got {shard!r} @ $.shards"
                )
            if not members:
                raise ValueError(f"shard {shard!r} has no instruments @ $.shards.{shard}")
        for name in (
            "ticks_max_bytes",
            "signals_max_bytes",
            "events_max_bytes",
            "max_ack_pending",
            "fetch_batch",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)} @ $.{name}")
        for name in (
            "ticks_max_age_s",
            "signals_max_age_s",
            "events_max_age_s",
            "duplicate_window_s",
            "ack_wait_s",
            "signal_wait_s",
        ):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)} @ $.{name}")
        from tradewind.market.gaps import parse_duration

        try:
            warm = parse_duration(self.warmup)
        except ValueError as exc:
            raise ValueError(f"{exc} @ $.warmup") from None
        if warm * 1e-9 > self.ticks_max_age_s:
            raise ValueError(
                f"warmup ({self.warmup}) is longer than the ticks stream keeps batches "
                f"(ticks_max_age_s = {self.ticks_max_age_s}) @ $.warmup"
            )

    def shard_map(self, instruments: list[str]) -> dict[str, list[str]]:
        """Shard name to instrument keys; every instrument in exactly one shard.

        Raises ValueError naming the instrument or shard that is wrong.
        """
        if not self.shards:
            return {"main": list(instruments)}
        seen: dict[str, str] = {}
        for shard, members in self.shards.items():
            for key in members:
                if key not in instruments:
                    raise ValueError(
                        f"shard {shard!r} names instrument {key!r}, which is not configured "
                        f"(instruments: {', '.join(instruments)}) @ $.cluster.shards.{shard}"
                    )
                if key in seen:
                    raise ValueError(
                        f"instrument {key!r} is in shards {seen[key]!r} and {shard!r}: each "
                        f"instrument belongs to one shard @ $.cluster.shards.{shard}"
                    )
                seen[key] = shard
        missing = [k for k in instruments if k not in seen]
        if missing:
            raise ValueError(
                f"instruments {', '.join(missing)} are in no shard: add them to one of "
                f"{', '.join(self.shards)} @ $.cluster.shards"
            )
        return {shard: list(members) for shard, members in self.shards.items()}
