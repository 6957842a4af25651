"""Seconds per Baum-Welch iteration: emstat against hmmlearn and against this machine's floor.

T = 1e6 steps of a 3-state, 1-D Gaussian HMM ("full" covariances, mclust's
``V``), both programs from the same parameters, a fixed number of
iterations with the stopping rule switched off.  The floor is one compiled
pass, on one thread, that does the least an iteration must, as cheaply as
the arithmetic allows: the k emission densities of every step, normalised
by the row's largest (the exponential is emstat's vectorised one), then
k^2 multiply-adds per step forward (stored) and k^2 backward, the states in
registers and the vectors rescaled by a power of two only when their sum
falls below 2^-300, so no division sits on the recursions' chains.  Then
1000 sequences of 1000 steps.  emstat runs on one numba thread and on two
(``numba.set_num_threads``); every program is timed in turn, best of
``--rounds``, and the load average is printed before and after.

    python bench/hmm_vs_hmmlearn.py            # T = 1e6 and 1000 x 1000
    python bench/hmm_vs_hmmlearn.py --quick    # T = 1e5 and 100 x 1000
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
import warnings
from collections.abc import Callable

import numba
import numpy as np
import pandas as pd
from hmmlearn import hmm as hmmlearn_hmm

import emstat
from emstat.mixture._fused_kernels import exp_neg

K = 3
TRANSITIONS = np.array([[0.90, 0.05, 0.05], [0.05, 0.90, 0.05], [0.05, 0.05, 0.90]])
START = np.full(K, 1.0 / K)
MEANS = np.array([-3.0, 0.0, 3.0])
VARIANCES = np.array([1.0, 0.5, 1.5])
# The start both programs iterate from: near the truth, not at it.
START_TRANSITIONS = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
START_MEANS = np.array([-2.5, 0.5, 2.5])
START_VARIANCES = np.array([1.2, 1.0, 1.2])

TINY = 2.0**-300
# Idle time before each timed run: numba's and OpenBLAS's threads spin for a
# while after a parallel region, and on two cores the next program pays for it.
IDLE = 0.2


def simulate(lengths: list[int], seed: int = 0) -> np.ndarray:
    """Observations of the true HMM, sequences one after the other (T,)."""
    rng = np.random.default_rng(seed)
    out = []
    cumulative = np.cumsum(TRANSITIONS, axis=1)
    for length in lengths:
        u = rng.random(length)
        states = np.empty(length, dtype=np.int64)
        states[0] = rng.choice(K, p=START)
        for t in range(1, length):
            states[t] = min(int(np.searchsorted(cumulative[states[t - 1]], u[t])), K - 1)
        out.append(MEANS[states] + np.sqrt(VARIANCES[states]) * rng.standard_normal(length))
    return np.concatenate(out)


@numba.njit(cache=True, fastmath=True)
def _floor_densities(
    x: np.ndarray, means: np.ndarray, variances: np.ndarray, logs: np.ndarray, b: np.ndarray
) -> None:
    """The k normal densities of every step over the row's largest, (T, k); state by
    state, so that the loops vectorise."""
    t_len = x.size
    for j in range(K):
        half_precision = 0.5 / variances[j]
        constant = -0.5 * np.log(2.0 * np.pi * variances[j])
        m = means[j]
        for t in range(t_len):
            z = x[t] - m
            logs[j, t] = constant - z * z * half_precision
    for t in range(t_len):
        top = max(logs[0, t], logs[1, t], logs[2, t])
        for j in range(K):
            b[t, j] = exp_neg(logs[j, t] - top)


@numba.njit(cache=True, fastmath=True)
def _floor_chain(b: np.ndarray, offsets: np.ndarray, a: np.ndarray, alpha: np.ndarray) -> float:
    """Forward (k^2 multiply-adds a step, stored) and backward (k^2 more) over each
    sequence, k = 3 in registers, rescaled by powers of two when the sum falls below TINY."""
    a00, a01, a02 = a[0, 0], a[0, 1], a[0, 2]
    a10, a11, a12 = a[1, 0], a[1, 1], a[1, 2]
    a20, a21, a22 = a[2, 0], a[2, 1], a[2, 2]
    check = 0.0
    for s in range(offsets.size - 1):
        lo, hi = offsets[s], offsets[s + 1]
        x0, x1, x2 = b[lo, 0] / K, b[lo, 1] / K, b[lo, 2] / K
        exps = 0
        for t in range(lo + 1, hi):
            y0 = (x0 * a00 + x1 * a10 + x2 * a20) * b[t, 0]
            y1 = (x0 * a01 + x1 * a11 + x2 * a21) * b[t, 1]
            y2 = (x0 * a02 + x1 * a12 + x2 * a22) * b[t, 2]
            total = y0 + y1 + y2
            if total < TINY:
                e = 1 - math.frexp(total)[1]
                exps += e
                y0, y1, y2 = math.ldexp(y0, e), math.ldexp(y1, e), math.ldexp(y2, e)
            alpha[t, 0], alpha[t, 1], alpha[t, 2] = y0, y1, y2
            x0, x1, x2 = y0, y1, y2
        v0 = v1 = v2 = 1.0
        for t in range(hi - 1, lo, -1):
            w0, w1, w2 = b[t, 0] * v0, b[t, 1] * v1, b[t, 2] * v2
            u0 = a00 * w0 + a01 * w1 + a02 * w2
            u1 = a10 * w0 + a11 * w1 + a12 * w2
            u2 = a20 * w0 + a21 * w1 + a22 * w2
            total = u0 + u1 + u2
            if total < TINY:
                e = 1 - math.frexp(total)[1]
                u0, u1, u2 = math.ldexp(u0, e), math.ldexp(u1, e), math.ldexp(u2, e)
            v0, v1, v2 = u0, u1, u2
        check += math.log(x0 + x1 + x2) - exps * math.log(2.0) + 1e-300 * (v0 + v1 + v2)
    return check


class Floor:
    """The floor pass with its arrays held, as emstat holds its scratch arrays."""

    def __init__(self, x: np.ndarray, lengths: list[int]) -> None:
        self.x = np.ascontiguousarray(x)
        self.offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        self.logs = np.empty((K, x.size))
        self.b = np.empty((x.size, K))
        self.alpha = np.empty((x.size, K))

    def run(self) -> float:
        _floor_densities(self.x, START_MEANS, START_VARIANCES, self.logs, self.b)
        return float(_floor_chain(self.b, self.offsets, START_TRANSITIONS, self.alpha))


def best_of(run: Callable[[], float], rounds: int) -> float:
    """The least of ``rounds`` timings (each is seconds per iteration), after IDLE each."""
    times = []
    for _ in range(rounds):
        time.sleep(IDLE)
        times.append(run())
    return min(times)


def floor_seconds(floor: Floor) -> float:
    started = time.perf_counter()
    floor.run()
    return time.perf_counter() - started


def hmmlearn_seconds(x: np.ndarray, lengths: list[int], iterations: int) -> float:
    model = hmmlearn_hmm.GaussianHMM(
        n_components=K,
        covariance_type="full",
        n_iter=iterations,
        tol=-np.inf,  # never stop early
        init_params="",
        params="stmc",
        covars_prior=0.0,
        min_covar=1e-12,
    )
    model.startprob_ = START.copy()
    model.transmat_ = START_TRANSITIONS.copy()
    model.means_ = START_MEANS[:, None].copy()
    model.covars_ = START_VARIANCES[:, None, None].copy()
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x[:, None], lengths)
    elapsed = time.perf_counter() - started
    return elapsed / len(model.monitor_.history)


def emstat_frame(x: np.ndarray, lengths: list[int]) -> pd.DataFrame:
    return pd.DataFrame({"x": x, "seq": np.repeat(np.arange(len(lengths)), lengths)})


def emstat_seconds(frame: pd.DataFrame, iterations: int) -> float:
    """Seconds per iteration of emstat's fit_hmm from the same start (stopping rule off)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = emstat.fit_hmm(
            frame,
            K,
            columns=["x"],
            model="V",
            sequence="seq",
            init={
                "start": START,
                "transitions": START_TRANSITIONS,
                "mean[x]": START_MEANS,
                "var[x]": START_VARIANCES,
            },
            tol=0.0,
            criterion="abs",
            max_iter=iterations,
        )
    return float(fit.seconds) / max(fit.n_iter, 1)


def warm_up() -> None:
    x = simulate([2000, 500])
    Floor(x, [2000, 500]).run()
    for threads in (1, numba.config.NUMBA_NUM_THREADS):
        numba.set_num_threads(threads)
        emstat_seconds(emstat_frame(x, [2000, 500]), 2)
        long = simulate([60_000])
        emstat_seconds(emstat_frame(long, [60_000]), 2)  # the two-thread kernel of one sequence
    hmmlearn_seconds(x, [2000, 500], 2)


def timings(x: np.ndarray, lengths: list[int], rounds: int) -> dict[str, float]:
    """Best seconds per iteration of each program, timed in turn each round, so that a
    slow spell of the shared machine hits all of them."""
    frame = emstat_frame(x, lengths)
    floor = Floor(x, lengths)
    floor.run()
    threads = numba.config.NUMBA_NUM_THREADS
    names = ["emstat, 1 thread", f"emstat, {threads} threads", "hmmlearn", "floor"]
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        for count, name in ((1, names[0]), (threads, names[1])):
            numba.set_num_threads(count)
            times[name].append(best_of(lambda: emstat_seconds(frame, 5), 1))
        times["hmmlearn"].append(best_of(lambda: hmmlearn_seconds(x, lengths, 2), 1))
        times["floor"].append(best_of(lambda: floor_seconds(floor), 1))
    return {name: min(values) for name, values in times.items()}


def table(title: str, best: dict[str, float]) -> None:
    print(f"\n{title}")
    print("| program | s/iteration | hmmlearn / it | it / floor |")
    print("|---|---:|---:|---:|")
    for name, value in best.items():
        print(
            f"| {name} | {value:.4g} | {best['hmmlearn'] / value:.1f} "
            f"| {value / best['floor']:.2f} |"
        )
    one, two = list(best.values())[:2]
    print(f"second thread: {one / two:.2f}x")


def load() -> str:
    return ", ".join(f"{v:.2f}" for v in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="T = 1e5, 100 sequences")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    t_len = 100_000 if args.quick else 1_000_000
    n_seq = 100 if args.quick else 1000
    print(
        f"python {platform.python_version()}, numpy {np.__version__}, numba {numba.__version__}, "
        f"hmmlearn {__import__('hmmlearn').__version__}, emstat {emstat.__version__}; "
        f"{numba.config.NUMBA_NUM_THREADS} threads; load average {load()}"
    )
    warm_up()
    one = timings(simulate([t_len]), [t_len], args.rounds)
    table(f"one sequence, T = {t_len:.0e}, k = {K}, d = 1, full covariance (mclust V)", one)
    lengths = [1000] * n_seq
    many = timings(simulate(lengths, seed=1), lengths, args.rounds)
    table(f"{n_seq} sequences of 1000 steps", many)
    print(f"\nload average {load()}; best of {args.rounds} rounds")
    if not all(math.isfinite(v) for v in (*one.values(), *many.values())):
        raise SystemExit("a timing failed")


if __name__ == "__main__":
    main()
