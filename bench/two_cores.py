"""What a second core buys on this machine: compute-bound and memory-bound loops.

The fused E-step runs on both cores for n >= 20,000.  How much faster two
threads can be depends on the machine, not only on the kernel, so this script
measures the machine's own ceiling with two loops compiled by numba and split
the same way (one half of the work per thread):

* ``compute``: the E-step's polynomial exponential over a block that stays in
  L1 cache, so that memory plays no part;
* ``stream``: a sum over 240 MB, so that only memory bandwidth counts;
* ``e_step``: the fused E-step itself (n = 1e6, d = 3, k = 3, full covariance).

    python bench/two_cores.py
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from functools import partial

import numba
import numpy as np

from emstat.mixture import gaussian
from emstat.mixture._fused_kernels import _FAST, exp_neg


@numba.njit(fastmath=_FAST)
def _exponentials(values: np.ndarray, out: np.ndarray, repeats: int) -> float:
    total = 0.0
    for r in range(repeats):
        for i in range(values.shape[0]):
            out[i] = exp_neg(values[i] - 1e-9 * r)
        total += out[r % values.shape[0]]
    return total


@numba.njit(fastmath=_FAST, parallel=True)
def compute(values: np.ndarray, out: np.ndarray, repeats: int, threads: int) -> float:
    parts = np.zeros(threads)
    for t in numba.prange(threads):
        parts[t] = _exponentials(values, out[t], repeats // threads)
    return float(parts.sum())


@numba.njit(fastmath=_FAST)
def _sum(values: np.ndarray) -> float:
    total = 0.0
    for i in range(values.shape[0]):
        total += values[i]
    return total


@numba.njit(fastmath=_FAST, parallel=True)
def stream(values: np.ndarray, threads: int) -> float:
    n = values.shape[0]
    parts = np.zeros(threads)
    for t in numba.prange(threads):
        parts[t] = _sum(values[t * n // threads : (t + 1) * n // threads])
    return float(parts.sum())


def best_seconds(run: Callable[[], object], repeats: int = 15) -> float:
    best = math.inf
    for _ in range(repeats):
        time.sleep(0.05)
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    rng = np.random.default_rng(0)
    block = -5.0 * rng.random(512)
    out = np.empty((2, 512))
    big = rng.random(30_000_000)
    x = rng.normal(size=(1_000_000, 3))
    params = gaussian.gaussian_params(
        np.full(3, 1 / 3), rng.normal(size=(3, 3)), np.repeat(np.eye(3)[None], 3, axis=0)
    )
    loops: dict[str, Callable[[int], object]] = {
        "compute": lambda t: compute(block, out, 40_000, t),
        "stream": lambda t: stream(big, t),
        "e_step": lambda t: gaussian.fused_e_step(x, params, "full"),
    }
    available = numba.get_num_threads()
    print(f"numba threads available: {available}")
    for name, loop in loops.items():
        seconds = {}
        for threads in (1, 2):
            numba.set_num_threads(threads)
            loop(threads)  # compile, and load the cache
            seconds[threads] = best_seconds(partial(loop, threads))
        numba.set_num_threads(available)
        print(
            f"{name:8s} 1 thread {1e3 * seconds[1]:7.2f} ms   2 threads {1e3 * seconds[2]:7.2f} ms"
            f"   speed-up {seconds[1] / seconds[2]:.2f}x"
        )


if __name__ == "__main__":
    main()
