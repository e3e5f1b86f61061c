"""The API process (``[api] serve = "process"``): ``python -m tradewind.api.process FD PID``.

Started by its host (tradewind.api.procserver) with one end of a socket pair as file
descriptor ``FD``; ``PID`` is the host's. It dies with the host (PR_SET_PDEATHSIG on Linux,
and it exits when the socket reaches EOF), lowers its own priority by ``[api] nice`` (and
enters ``SCHED_BATCH``) and places itself on ``[api] cpus``, reads its
token and settings from the host's ``init`` message (no secret is in its environment), serves
the host's FastAPI app on uvicorn from a mirror of the host's state (tradewind.api.mirror),
and hands every control call and every read that needs the engine or the journal to the host
as a named operation (tradewind.api.ops). It never opens the journal.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import itertools
import logging
import os
import signal
import socket
import sys
import time
from typing import Any

from tradewind.api.wire import HEADER, MAX_FRAME, WireError, decode, encode

log = logging.getLogger("tradewind.api")

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Ask Linux to send SIGTERM when the host dies; exit now if it already has."""
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl: the socket's EOF still ends it
            pass
    if os.getppid() != parent_pid:
        os._exit(0)  # the host died before prctl took effect


class HostLink:
    """The API process's end of the socket: updates in, calls out, replies matched by id."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[tuple[Any, ...]]] = {}
        self.closed = False

    async def read(self) -> tuple[Any, ...] | None:
        """The next message from the host (None at EOF)."""
        try:
            head = await self.reader.readexactly(HEADER.size)
            (n,) = HEADER.unpack(head)
            if n > MAX_FRAME:
                raise WireError(f"a frame of {n} bytes from the host")
            body = await self.reader.readexactly(n)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        return decode(body)

    def send(self, message: tuple[Any, ...]) -> None:
        """Write one message (buffered by the transport; never blocks)."""
        if not self.closed:
            self.writer.write(encode(message))

    async def call(self, name: str, *args: Any) -> Any:
        """Run the host's operation ``name`` and return its result (raises what it raised)."""
        from fastapi import HTTPException

        from tradewind.trading.control import ControlError

        if self.closed:
            raise HTTPException(503, detail="the host is gone")
        cid = next(self._ids)
        fut: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()
        self._waiting[cid] = fut
        self.send(("call", cid, name, args))
        _, _, status, value = await fut
        if status == "ok":
            return value
        if status == "control":
            raise ControlError(value)
        if status == "http":
            raise HTTPException(value[0], detail=value[1])
        raise HTTPException(500, detail=value)

    def answered(self, cid: int, message: tuple[Any, ...]) -> None:
        """A reply arrived."""
        fut = self._waiting.pop(cid, None)
        if fut is not None and not fut.done():
            fut.set_result(message)

    def close(self) -> None:
        """The host is gone: calls still waiting answer 503."""
        self.closed = True
        for cid, fut in list(self._waiting.items()):
            if not fut.done():
                fut.set_result(("reply", cid, "http", (503, "the host is gone")))
        self._waiting.clear()


class Listeners(list[Any]):
    """The websocket clients' senders; tells the host how many there are, so it keeps bus
    events only while someone listens."""

    def __init__(self, link: HostLink) -> None:
        super().__init__()
        self.link = link

    def append(self, item: Any) -> None:
        super().append(item)
        self.link.send(("listeners", len(self)))

    def remove(self, item: Any) -> None:
        super().remove(item)
        self.link.send(("listeners", len(self)))


async def serve(fd: int) -> int:
    """Serve until the host says bye or goes away; the exit code."""
    import uvicorn

    from tradewind.api.app import create_app
    from tradewind.api.budget import CpuBudget
    from tradewind.api.mirror import Mirror, MirrorView
    from tradewind.api.server import listen, uvicorn_config
    from tradewind.api.views import ViewSettings
    from tradewind.config import ApiSection
    from tradewind.errors import ConfigError

    sock = socket.socket(fileno=fd)
    reader, writer = await asyncio.open_connection(sock=sock)
    link = HostLink(reader, writer)
    msg = await link.read()
    if msg is None:
        return 0
    if msg[0] != "init":
        raise WireError(f"the host's first message is {msg[0]!r}, not init")
    init = msg[1]
    if init["api"].get("cpus"):
        from tradewind.affinity import pin_process

        # Before uvicorn starts any thread; threads started later inherit the placement.
        try:
            pin_process(init["api"]["cpus"], "$.api.cpus")
        except ValueError as exc:
            link.send(("failed", str(exc)))
            await writer.drain()
            return 1
    if init["nice"]:
        os.nice(int(init["nice"]))
        if hasattr(os, "SCHED_BATCH"):
            # A batch task does not preempt the running task when it wakes (a request came):
            # the engine finishes its slice; the API still gets its share of the CPU.
            with contextlib.suppress(OSError):
                os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    settings = ApiSection(**init["api"])
    view = MirrorView(ViewSettings(**init["view"]), init["started_ts_ns"])
    view.listeners = Listeners(link)
    mirror = Mirror(view)
    # The process's CPU, every thread of it: HTTP, encoding and the mirror's intake.
    budget = CpuBudget(settings.cpu_share, cpu=time.process_time)
    app = create_app(view, None, settings, init["token"], host_call=link.call, budget=budget)
    server = uvicorn.Server(uvicorn_config(app, settings, init.get("http", "auto")))
    try:
        port = await listen(server)
    except ConfigError as exc:
        link.send(("failed", str(exc)))
        await writer.drain()
        return 1
    link.send(("ready", port))
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, lambda: setattr(server, "should_exit", True))

    async def from_host() -> None:
        try:
            while True:
                m = await link.read()
                if m is None or m[0] == "bye":
                    break
                kind = m[0]
                if kind == "update":
                    mirror.apply(m[1])
                    link.send(("ack", mirror.version))
                elif kind == "reply":
                    link.answered(m[1], m)
                else:
                    raise WireError(f"unexpected message {kind!r} from the host")
        finally:
            link.close()
            server.should_exit = True

    task = asyncio.create_task(from_host())
    try:
        await server.main_loop()
    finally:
        await server.shutdown()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        for send in list(view.listeners):
            send.close()
        writer.close()
    if task.done() and not task.cancelled() and task.exception() is not None:
        raise task.exception()  # type: ignore[misc]
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point: ``FD PID``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m tradewind.api.process FD HOST_PID", file=sys.stderr)
        return 2
    fd, parent = int(args[0]), int(args[1])
    die_with_parent(parent)
    # ctrl-C in a terminal reaches the whole process group: the host stops this process
    # itself (``bye``), after the requests it is answering.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s api %(levelname)s %(message)s")
    return asyncio.run(serve(fd))


if __name__ == "__main__":
    sys.exit(main())
