"""Fitting many (k, model) pairs of one data set on several processes.

The fitter, with the centred data and the cached starting partitions, is the
tasks' shared object of :func:`emstat.execution.map_tasks`: forked workers
inherit it instead of receiving it; each task is one fit, sent back without
the data, which the parent reattaches.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from emstat.execution import can_fork, map_tasks

if TYPE_CHECKING:
    from emstat.mixture.fit import MixtureFitter
    from emstat.mixture.result import MixtureResult

__all__ = ["can_fork", "fit_grid"]

# Models whose M-steps iterate cost most: they go first, so the pool ends together.
_ITERATIVE = ("EVE", "VVE", "VEE", "VEV", "VEI", "EVV")


def _fit_one(fitter: MixtureFitter, cell: tuple[int, str]) -> MixtureResult:
    return replace(fitter.fit(*cell), data_=None)


def fit_grid(
    fitter: MixtureFitter, ks: list[int], models: list[str], workers: int
) -> dict[tuple[int, str], MixtureResult]:
    """Every (k, model) fit, on ``workers`` processes, one fit per task."""
    for k in ks:  # compute the shared starts once, before the workers start
        fitter.prime(k)
    order = sorted(models, key=lambda m: m not in _ITERATIVE)
    cells = [(k, m) for m in order for k in reversed(ks)]
    done = map_tasks(_fit_one, cells, workers=workers, shared=fitter, chunk=1)
    fits = dict(zip(cells, done, strict=True))
    rows = fitter.fitted_rows()
    return {
        (k, m): replace(fits[(k, m)], data_=rows if fits[(k, m)].ok else None)
        for k in ks
        for m in models
    }
