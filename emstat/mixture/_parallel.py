"""Fitting many (k, model) pairs of one data set, or the restarts of one fit, on processes.

The fitter, with the centred data and the cached starting partitions, is the
tasks' shared object of :func:`emstat.execution.map_tasks`: forked workers
inherit it instead of receiving it; each task is one fit, sent back without
the data, which the parent reattaches.  The restarts of one fit share the
fit's own closure (forked workers only: it is not sent), one start per task.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from emstat.engine import fit_em_restarts
from emstat.execution import can_fork, map_tasks

if TYPE_CHECKING:
    from emstat.mixture.fit import MixtureFitter
    from emstat.mixture.result import MixtureResult

__all__ = ["can_fork", "fit_grid", "fit_restarts", "restart_workers"]

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


def restart_workers(fitter: MixtureFitter, n_starts: int) -> int:
    """Processes for ``n_starts`` restarts of one fit: the fitter's ``workers``, or 1 when
    they cannot give the serial result (or there is one start).

    SEM's draws and ``init="cem"``'s notes live in the parent's state; the
    missing-cells E-step always runs threads, which a forked child cannot start.
    """
    serial_only = (
        n_starts < 2
        or not can_fork()  # the run is a closure: only a forked worker has it
        or fitter.algorithm == "sem"
        or fitter._cem_init
        or fitter.data.missing is not None
    )
    return 1 if serial_only else min(fitter.workers, n_starts)


def _run_start(run: Callable[[Any], Any], start: Any) -> Any:
    return run(start)


def fit_restarts(
    run: Callable[[Any], Any], starts: Sequence[Any], workers: int
) -> tuple[Any, list[Any]]:
    """:func:`emstat.engine.fit_em_restarts` with the runs on ``workers`` forked processes."""
    if workers <= 1:
        return fit_em_restarts(run, starts)
    runs = iter(map_tasks(_run_start, list(starts), workers=workers, shared=run))
    return fit_em_restarts(lambda _: next(runs), starts)
