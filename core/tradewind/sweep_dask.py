"""Sweep runs on a Dask distributed cluster: ``tradewind backtest --sweep S --cluster ADDR``.

``ADDR`` is a scheduler (``tcp://HOST:8786``) or ``local`` for a cluster of worker processes
on this machine (``--jobs`` of them, one thread each). Every task is the same
:class:`~tradewind.sweep.VariantTask` the in-process sweep runs, executed by the same
:func:`~tradewind.sweep.run_variant` on a worker, so a variant's summary equals a single run
of its config and the ranked table equals the in-process sweep's. Workers read the replayed
data from the paths in the config, resolved against the config's folder: the market store
must be at the same path on every worker (a shared file system). Workers need tradewind and
the config's plugins installed (``pip install 'tradewind[dask]'`` and the plugins).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from tradewind.errors import ConfigError

#: ``--cluster`` value for a cluster of worker processes on this machine.
LOCAL = "local"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise ConfigError(
            "--cluster needs Dask distributed: pip install 'tradewind[dask]'"
        ) from None
    return distributed


def run_on_cluster(
    tasks: Sequence[Any],
    address: str,
    *,
    jobs: int | None,
    run: Callable[[Any], Any],
    on_done: Callable[[Any, Any], None],
    on_error: Callable[[Any, BaseException], BaseException],
) -> None:
    """Run ``run(task)`` for every task on the cluster at ``address`` (or a local one), calling
    ``on_done(task, result)`` as each finishes; the first failure cancels the rest and is
    raised as ``on_error(task, exc)``."""
    distributed = _distributed()
    cluster = None
    if address == LOCAL:
        cluster = distributed.LocalCluster(
            n_workers=max(1, jobs or 1),
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        target: Any = cluster
    elif "://" in address:
        target = address
    else:
        raise ConfigError(
            f"--cluster must be a scheduler address (tcp://HOST:8786) or 'local', got {address!r}"
        )
    try:
        try:
            client = distributed.Client(target, timeout="30s")
        except OSError as exc:
            raise ConfigError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        with client:
            futures = {client.submit(run, t, pure=False): t for t in tasks}
            try:
                for fut in distributed.as_completed(list(futures)):
                    task = futures[fut]
                    if fut.status == "error":
                        err = fut.exception()
                        raise on_error(task, err) from err
                    on_done(task, fut.result())
            finally:
                client.cancel([f for f in futures if not f.done()])
    finally:
        if cluster is not None:
            cluster.close()
