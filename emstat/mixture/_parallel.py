"""Fitting many (k, model) pairs of one data set on several processes.

The fitter, with the centred data and the cached starting partitions, is
inherited by forked workers instead of being sent to them; each task is one
fit, sent back without the data, which the parent reattaches.  Workers use
the serial E-step kernel: the parallelism is across fits, and OpenMP threads
must not be started in a forked child whose parent already ran them.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from typing import TYPE_CHECKING

from emstat.mixture import fused

if TYPE_CHECKING:
    from emstat.mixture.fit import MixtureFitter
    from emstat.mixture.result import MixtureResult

_FITTER: MixtureFitter | None = None  # the fitter a forked worker inherits


def can_fork() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


def _serial_kernels_only() -> None:
    fused.PARALLEL_MIN_ROWS = 2**62


# Models whose M-steps iterate cost most: they go first, so the pool ends together.
_ITERATIVE = ("EVE", "VVE", "VEE", "VEV", "VEI", "EVV")


def _fit_one(k: int, model: str) -> MixtureResult:
    assert _FITTER is not None  # set by the parent before the pool forks
    return replace(_FITTER.fit(k, model), data_=None)


def fit_grid(
    fitter: MixtureFitter, ks: list[int], models: list[str], workers: int
) -> dict[tuple[int, str], MixtureResult]:
    """Every (k, model) fit, on ``workers`` forked processes, one fit per task."""
    global _FITTER
    for k in ks:  # compute the shared starts once, before forking
        fitter.prime(k)
    _FITTER = fitter
    try:
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=multiprocessing.get_context("fork"),
            initializer=_serial_kernels_only,
        ) as pool:
            order = sorted(models, key=lambda m: m not in _ITERATIVE)
            futures = {(k, m): pool.submit(_fit_one, k, m) for m in order for k in reversed(ks)}
            fits = {key: future.result() for key, future in futures.items()}
    finally:
        _FITTER = None
    rows = fitter.fitted_rows()
    return {
        (k, m): replace(fits[(k, m)], data_=rows if fits[(k, m)].ok else None)
        for k in ks
        for m in models
    }
