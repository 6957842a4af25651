"""A Dask ``distributed`` client from a scheduler address or an existing client.

The connection rules are the simulation executor's
(:func:`emstat.simulation.executors.check_scheduler`, its
``CONNECT_TIMEOUT``); the bootstrap of a fit submits its chunks of refits
through :func:`map_on_dask`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from emstat._optional import require
from emstat.errors import InputError

__all__ = ["check_scheduler_argument", "dask_client", "map_on_dask"]


def check_scheduler_argument(scheduler: Any) -> None:
    """Refuse, before any work, a scheduler that is neither an address nor a Client."""
    if scheduler is None:
        return
    if isinstance(scheduler, str):
        from emstat.simulation.executors import check_scheduler

        check_scheduler(scheduler)
        return
    distributed = require("distributed", "dask")
    if not isinstance(scheduler, distributed.Client):
        raise InputError(
            "scheduler must be a Dask scheduler address such as 'tcp://host:8786' or a "
            f"distributed.Client, got {type(scheduler).__name__}"
        )


@contextmanager
def dask_client(scheduler: Any) -> Iterator[Any]:
    """The client of ``scheduler``: the one given, or one connected to the address (and
    closed on leaving)."""
    check_scheduler_argument(scheduler)
    distributed = require("distributed", "dask")
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    from emstat.simulation.executors import CONNECT_TIMEOUT

    try:
        client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot reach the Dask scheduler at {scheduler!r}: {exc}") from None
    try:
        yield client
    finally:
        client.close()


def map_on_dask(
    scheduler: Any, function: Callable[..., Any], shared: Any, items: Sequence[Any]
) -> list[Any]:
    """``[function(shared, *item) for item in items]`` on the cluster, in order.

    ``shared`` is sent to the workers once (scattered), not with every item;
    the futures are cancelled if collecting them fails.
    """
    with dask_client(scheduler) as client:
        remote = client.scatter(shared, broadcast=True, hash=False)
        futures = [client.submit(function, remote, *item, pure=False) for item in items]
        try:
            return list(client.gather(futures))
        finally:
            client.cancel(futures)
