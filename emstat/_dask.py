"""A Dask ``distributed`` client from a scheduler address or an existing client.

Kept for callers of its names; the rules live in :mod:`emstat.execution`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from emstat.execution import check_scheduler_argument, dask_client, map_tasks

__all__ = ["check_scheduler_argument", "dask_client", "map_on_dask"]


def _star(function_and_shared: tuple[Callable[..., Any], Any], item: Sequence[Any]) -> Any:
    function, shared = function_and_shared
    return function(shared, *item)


def map_on_dask(
    scheduler: Any, function: Callable[..., Any], shared: Any, items: Sequence[Any]
) -> list[Any]:
    """``[function(shared, *item) for item in items]`` on the cluster, in order.

    ``shared`` is sent to the workers once (scattered), not with every item;
    the futures are cancelled if collecting them fails.
    """
    return map_tasks(_star, list(items), scheduler=scheduler, shared=(function, shared), chunk=1)
