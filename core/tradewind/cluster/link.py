"""The NATS JetStream connection of a host: streams from ``[cluster]``, publishing that
survives a full stream or a server restart, and connection trouble reported, never hidden."""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio

from tradewind.cluster.config import ClusterSection
from tradewind.cluster.wire import Subjects
from tradewind.errors import ConfigError, SecretNotSetError

log = logging.getLogger("tradewind.cluster")

#: Called with a one-line description of a transport problem and whether the connection is
#: lost (the host turns it into a ConnectionLost or a SystemError event).
Reporter = Callable[[str, bool], Awaitable[None]]

#: JetStream error codes of a stream that is full (DiscardPolicy.NEW refuses the message).
_FULL_CODES = frozenset({10077, 10078, 10047})
#: JetStream's 'insufficient storage resources available': the server cannot reserve a
#: stream's max_bytes.
_NO_STORAGE = 10047


def safe_url(url: str) -> str:
    """``url`` without its user info (for logs and errors)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


class Link:
    """One host's connection to NATS and its JetStream context."""

    def __init__(self, section: ClusterSection, name: str, report: Reporter) -> None:
        self.section = section
        self.subjects = Subjects(section.prefix)
        self.name = name
        self.report = report
        self.nc: Any = None
        self.js: Any = None
        #: Counters of what went wrong (also reported as events).
        self.disconnects = 0
        self.reconnects = 0
        self.full_waits = 0
        self.closing = False
        #: Called after a reconnect (consumers are re-created where their host stands).
        self.on_reconnect: Callable[[], Awaitable[None]] | None = None

    async def connect(self) -> None:
        """Connect (reconnecting forever afterwards) and create or update the streams."""
        import nats

        section = self.section
        options: dict[str, Any] = {}
        if section.password_env:
            password = os.environ.get(section.password_env)
            if password is None:
                raise SecretNotSetError(
                    f"secret env:{section.password_env} is not set: export "
                    f"{section.password_env} before starting the host @ $.cluster.password_env"
                )
            options["user"] = urlsplit(section.url).username or ""
            options["password"] = password
        where = safe_url(section.url)

        async def disconnected() -> None:
            if self.closing:
                return  # our own drain
            self.disconnects += 1
            await self.report(f"{self.name}: disconnected from NATS at {where}; reconnecting", True)

        async def reconnected() -> None:
            self.reconnects += 1
            if self.on_reconnect is not None:
                await self.on_reconnect()
            await self.report(f"{self.name}: reconnected to NATS at {where}", False)

        async def error(exc: Exception) -> None:
            # A slow consumer (the client's pending buffer overflowed) arrives here too.
            await self.report(f"{self.name}: NATS error: {type(exc).__name__}: {exc}", False)

        try:
            self.nc = await nats.connect(
                servers=[section.url],
                name=self.name,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=0.25,
                connect_timeout=5,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=error,
                **options,
            )
        except Exception as exc:
            raise ConfigError(
                f"cannot reach the NATS server at {where} ({type(exc).__name__}: {exc}); start "
                f"`nats-server -js` there or fix @ $.cluster.url"
            ) from None
        self.js = self.nc.jetstream(timeout=5)
        await self._streams()

    async def _streams(self) -> None:
        from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
        from nats.js.errors import APIError, BadRequestError

        s, sub = self.section, self.subjects
        name_key = {
            sub.ticks_stream: "ticks_max_bytes",
            sub.signals_stream: "signals_max_bytes",
            sub.events_stream: "events_max_bytes",
        }
        for name, subject, max_bytes, max_age in (
            (sub.ticks_stream, sub.ticks_of(), s.ticks_max_bytes, s.ticks_max_age_s),
            (sub.signals_stream, sub.signals_all(), s.signals_max_bytes, s.signals_max_age_s),
            (sub.events_stream, sub.events_all(), s.events_max_bytes, s.events_max_age_s),
        ):
            cfg = StreamConfig(
                name=name,
                subjects=[subject],
                retention=RetentionPolicy.LIMITS,
                storage=StorageType.FILE,
                max_bytes=max_bytes,
                max_age=max_age,
                # A full stream refuses new messages (the publisher reports and waits) rather
                # than dropping the oldest a consumer may not have read.
                discard=DiscardPolicy.NEW,
                duplicate_window=min(s.duplicate_window_s, max_age),
            )
            try:
                try:
                    await self.js.add_stream(cfg)
                except BadRequestError:
                    await self.js.update_stream(cfg)  # retention changed in the config
            except APIError as exc:
                if exc.err_code != _NO_STORAGE:
                    raise
                key = name_key[name]
                raise ConfigError(
                    f"the NATS server at {self.section.url} cannot reserve {max_bytes:,} bytes "
                    f"for stream {name} ({exc.description}); lower @ $.cluster.{key} (the "
                    f"three streams reserve their max_bytes together) or give nats-server a "
                    f"larger jetstream max_file_store"
                ) from None

    async def publish(
        self, subject: str, payload: bytes, headers: Mapping[str, str], *, what: str
    ) -> Any:
        """Publish to JetStream until the server stores it (a full stream or a lost
        connection is reported once per episode, then retried: nothing is dropped). The
        ``Nats-Msg-Id`` header makes the retries store the message once."""
        from nats.errors import Error as NatsError
        from nats.js.errors import APIError

        delay = 0.05
        reported = ""
        while True:
            try:
                return await self.js.publish(subject, payload, headers=dict(headers))
            except APIError as exc:
                if exc.err_code not in _FULL_CODES:
                    raise
                self.full_waits += 1
                problem = (
                    f"{self.name}: stream of {subject} is full ({exc.description}); waiting "
                    f"for retention to free space before publishing {what}"
                )
            except (NatsError, TimeoutError) as exc:
                problem = (
                    f"{self.name}: publishing {what} to NATS failed ({type(exc).__name__}); "
                    f"retrying"
                )
            if problem != reported:
                reported = problem
                await self.report(problem, False)
            await anyio.sleep(delay)
            delay = min(delay * 2, 1.0)

    async def close(self) -> None:
        """Flush what is buffered and close the connection."""
        self.closing = True
        if self.nc is not None and not self.nc.is_closed:
            try:
                # Acknowledgements are plain publishes: flushed before the connection goes.
                await self.nc.flush(timeout=5)
                await self.nc.close()
            except Exception as exc:  # closing: the connection may already be gone
                log.warning("%s: closing the NATS connection: %s", self.name, exc)
