"""Seconds per Baum-Welch iteration: emstat against hmmlearn and against this machine's floor.

T = 1e6 steps of a 3-state, 1-D Gaussian HMM ("full" covariances, mclust's
``V``), both programs from the same parameters, a fixed number of
iterations with the stopping rule switched off.  The floor is one compiled
pass that does the least an iteration must: the k emission densities of
every step, and k^2 multiply-adds per step forward and again backward
(scaled), on one core.  Then 1000 sequences of 1000 steps, emstat on one
thread and on every thread, so the parallel forward-backward over sequences
shows.

    python bench/hmm_vs_hmmlearn.py            # T = 1e6 and 1000 x 1000
    python bench/hmm_vs_hmmlearn.py --quick    # T = 1e5 and 100 x 1000
"""

from __future__ import annotations

import argparse
import math
import platform
import time
import warnings
from collections.abc import Callable

import numba
import numpy as np
import pandas as pd
from hmmlearn import hmm as hmmlearn_hmm

import emstat

K = 3
TRANSITIONS = np.array([[0.90, 0.05, 0.05], [0.05, 0.90, 0.05], [0.05, 0.05, 0.90]])
START = np.full(K, 1.0 / K)
MEANS = np.array([-3.0, 0.0, 3.0])
VARIANCES = np.array([1.0, 0.5, 1.5])
# The start both programs iterate from: near the truth, not at it.
START_TRANSITIONS = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
START_MEANS = np.array([-2.5, 0.5, 2.5])
START_VARIANCES = np.array([1.2, 1.0, 1.2])

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
def _floor_densities(x: np.ndarray, means: np.ndarray, variances: np.ndarray) -> np.ndarray:
    """The k normal densities of every step, (T, k): a loop the compiler vectorises."""
    t_len = x.size
    k = means.size
    b = np.empty((t_len, k))
    for j in range(k):
        half_precision = 0.5 / variances[j]
        norm = 1.0 / np.sqrt(2.0 * np.pi * variances[j])
        m = means[j]
        for t in range(t_len):
            z = x[t] - m
            b[t, j] = norm * np.exp(-z * z * half_precision)
    return b


@numba.njit(cache=True, fastmath=True)
def _floor_chain(b: np.ndarray, a: np.ndarray) -> float:
    """Scaled forward (k^2 multiply-adds a step, stored) and backward (k^2 more) passes."""
    t_len, k = b.shape
    alpha = np.empty((t_len, k))
    scale = np.empty(t_len)
    total = 0.0
    for j in range(k):
        alpha[0, j] = b[0, j] / k
        total += alpha[0, j]
    scale[0] = total
    inv = 1.0 / total
    for j in range(k):
        alpha[0, j] *= inv
    for t in range(1, t_len):
        total = 0.0
        for j in range(k):
            acc = 0.0
            for i in range(k):
                acc += alpha[t - 1, i] * a[i, j]
            alpha[t, j] = acc * b[t, j]
            total += alpha[t, j]
        scale[t] = total
        inv = 1.0 / total
        for j in range(k):
            alpha[t, j] *= inv
    beta = np.ones(k)
    new = np.empty(k)
    check = 0.0
    for t in range(t_len - 1, 0, -1):
        inv = 1.0 / scale[t]
        for i in range(k):
            acc = 0.0
            for j in range(k):
                acc += a[i, j] * b[t, j] * beta[j]
            new[i] = acc * inv
        for i in range(k):
            beta[i] = new[i]
            check += alpha[t - 1, i] * beta[i]
    return np.log(scale).sum() + 1e-300 * check


def floor_pass(x: np.ndarray, a: np.ndarray, means: np.ndarray, variances: np.ndarray) -> float:
    """The least one iteration does: k densities per step, k^2 multiply-adds forward and back."""
    return float(_floor_chain(_floor_densities(x, means, variances), a))


def best_of(run: Callable[[], float], rounds: int) -> float:
    """The least of ``rounds`` timings (each is seconds per iteration), after IDLE each."""
    times = []
    for _ in range(rounds):
        time.sleep(IDLE)
        times.append(run())
    return min(times)


def floor_seconds(x: np.ndarray) -> float:
    started = time.perf_counter()
    floor_pass(x, START_TRANSITIONS, START_MEANS, START_VARIANCES)
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
    floor_pass(x, START_TRANSITIONS, START_MEANS, START_VARIANCES)
    emstat_seconds(emstat_frame(x, [2000, 500]), 2)
    hmmlearn_seconds(x, [2000, 500], 2)


def one_long_sequence(t_len: int, rounds: int) -> dict[str, float]:
    x = simulate([t_len])
    frame = emstat_frame(x, [t_len])
    times: dict[str, list[float]] = {"emstat": [], "hmmlearn": [], "floor": []}
    for _ in range(rounds):  # in turn, so a slow spell of the machine hits all three
        times["floor"].append(best_of(lambda: floor_seconds(x), 1))
        times["emstat"].append(best_of(lambda: emstat_seconds(frame, 5), 1))
        times["hmmlearn"].append(best_of(lambda: hmmlearn_seconds(x, [t_len], 2), 1))
    best = {name: min(values) for name, values in times.items()}
    return best


def many_sequences(n_seq: int, length: int, rounds: int) -> dict[str, float]:
    lengths = [length] * n_seq
    x = simulate(lengths, seed=1)
    frame = emstat_frame(x, lengths)
    threads = numba.config.NUMBA_NUM_THREADS
    out: dict[str, list[float]] = {"emstat_1": [], f"emstat_{threads}": [], "hmmlearn": []}
    for _ in range(rounds):
        numba.set_num_threads(1)
        out["emstat_1"].append(best_of(lambda: emstat_seconds(frame, 5), 1))
        numba.set_num_threads(threads)
        out[f"emstat_{threads}"].append(best_of(lambda: emstat_seconds(frame, 5), 1))
        out["hmmlearn"].append(best_of(lambda: hmmlearn_seconds(x, lengths, 2), 1))
    return {name: min(values) for name, values in out.items()}


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
        f"{numba.config.NUMBA_NUM_THREADS} threads"
    )
    warm_up()
    one = one_long_sequence(t_len, args.rounds)
    print(f"\none sequence, T = {t_len:.0e}, k = {K}, d = 1, full covariance (mclust V)")
    print("| program | s/iteration | hmmlearn / it | it / floor |")
    print("|---|---:|---:|---:|")
    for name in ("emstat", "hmmlearn", "floor"):
        print(
            f"| {name} | {one[name]:.4g} | {one['hmmlearn'] / one[name]:.1f} "
            f"| {one[name] / one['floor']:.2f} |"
        )
    many = many_sequences(n_seq, 1000, args.rounds)
    print(f"\n{n_seq} sequences of 1000 steps")
    print("| program | s/iteration | hmmlearn / it |")
    print("|---|---:|---:|")
    for name, value in many.items():
        print(f"| {name} | {value:.4g} | {many['hmmlearn'] / value:.1f} |")
    one_thread, all_threads = list(many.values())[:2]
    print(f"\nthreads speed-up on {n_seq} sequences: {one_thread / all_threads:.2f}x")
    if not math.isfinite(one["emstat"]):
        raise SystemExit("emstat timing failed")


if __name__ == "__main__":
    main()
