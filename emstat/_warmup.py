"""Compile and cache the numba kernels once, so that no later command waits for it.

``make`` runs ``python -m emstat._warmup`` after installing: the first call of
each kernel compiles it (a few seconds each); later processes load it from
numba's on-disk cache in a fraction of a second.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pandas as pd


def compile_kernels() -> float:
    """Run every compiled kernel once; return the seconds it took."""
    import emstat
    from emstat.mixture import fused

    started = time.perf_counter()
    rng = np.random.default_rng(0)
    small = rng.normal(size=(200, 2)) + np.repeat([[0.0, 0.0], [4.0, 4.0]], 100, axis=0)
    emstat.fit_mixture(small, k=2, model="VVV")  # hc agglomeration and the serial E-step
    for model in ("VVI", "VEI", "VEE", "EVE", "VVE"):  # the iterative M-steps' kernels
        emstat.fit_mixture(small, k=2, model=model)
    for model in ("VEE", "EVE", "VVE"):  # mclust's own versions, for the R cross-check
        emstat.fit_mixture(small, k=2, model=model, mclust_compatible=True)
    _compile_em_loops(small)
    emstat.fit_mixture(small, k=2, model="EEE", weights=rng.uniform(0.5, 2.0, len(small)))
    large = rng.normal(size=(fused.PARALLEL_MIN_ROWS + 1, 2))
    emstat.fit_mixture(large, k=2, model="VVV", init="kmeans++", max_iter=2)  # parallel E-step
    # The count families' compiled E-steps: serial and parallel, with and without weights.
    for n in (100, fused.PARALLEL_MIN_ROWS + 1):
        counts = pd.DataFrame({"x": rng.binomial(10, 0.3, size=n), "t": np.full(n, 10)})
        unweighted: dict[str, Any] = {}
        for options in (unweighted, {"weights": np.ones(n)}):
            emstat.fit_mixture(counts, k=2, family="poisson", columns=["x"], max_iter=2, **options)
            emstat.fit_mixture(
                counts,
                k=2,
                family=emstat.Binomial(trials="t"),
                columns=["x"],
                max_iter=2,
                **options,
            )
    _compile_hmm_kernels(rng)
    _compile_information_kernels(small)
    return time.perf_counter() - started


def _compile_information_kernels(rows: np.ndarray) -> None:
    """The observed information's kernels (derivatives, log-likelihood, Newton step) and the
    empirical information's row scores, with and without case weights: one call of each
    serves every model and dimension (the kernels take the same array types for all)."""
    import emstat
    from emstat.mixture import stderr

    fit = emstat.fit_mixture(rows, k=2, model="VVV", tol=1e-3).params_  # loose: polished
    for case_weights in (None, np.linspace(0.5, 2.0, len(rows))):
        stderr.wald_std_errors(rows, fit, "VVV", case_weights)
        stderr.empirical_std_errors(rows, fit, "VVV", case_weights)


def _compile_hmm_kernels(rng: np.random.Generator) -> None:
    """Baum-Welch's kernels for two and three states: many short sequences and one
    sequence long enough to be split between the threads."""
    import emstat

    for rows in (200, 60_000):
        frame = pd.DataFrame({"x": rng.normal(size=rows), "s": np.arange(rows) * 10 // rows})
        for k in (2, 3):
            emstat.fit_hmm(frame, k=k, columns=["x"], max_iter=2)
            emstat.fit_hmm(frame, k=k, columns=["x"], sequence="s", max_iter=2)


def _compile_em_loops(rows: np.ndarray) -> None:
    """The compiled EM loop of every model with a compiled M-step, as a fit reaches it."""
    import emstat
    from emstat.mixture.covariance import default_models, get_covariance_model
    from emstat.mixture.model import _compiled_kernel

    for d, x in ((1, rows[:, :1]), (2, rows)):
        for model in default_models(d, len(x)):
            for compatible in (False, True):  # the R cross-checks fit in mclust's mode
                covariance = get_covariance_model(model, d, mclust_compatible=compatible)
                if _compiled_kernel(covariance) is not None:
                    emstat.fit_mixture(
                        x, k=2, model=model, max_iter=3, mclust_compatible=compatible
                    )


if __name__ == "__main__":
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        print(f"emstat: compiled kernels in {compile_kernels():.1f} s")
