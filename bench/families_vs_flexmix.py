"""Milliseconds per EM iteration of Poisson and binomial mixtures: the machine's floor, flexmix.

(a) emstat's iteration (the fused compiled E-step and the M-step) at
n = 1e5 and 1e6, k = 3, against this machine's floor measured in the same
run: one pass over the data the E-step reads plus n x k exponentials by
numpy on one core (as bench/README.md defines it for the Gaussian kernel).

(b) emstat against R's flexmix through rpy2 at n = 1e5, k = 3, from the same
posterior matrix (flexmix's ``cluster=``): flexmix's time per iteration is
its total time over ``m@iter`` with ``iter.max = 20, minprior = 0,
tolerance = 0``; emstat's is the time of a fixed number of iterations
(``EMControl(tol=0, criterion="abs", max_iter=20)``) over their number.

Timings take turns and keep the best of each (``--rounds``, 5 by default),
each after 0.2 s idle.  Seeded data; this prints tables, it tests nothing.

    python bench/families_vs_flexmix.py
    python bench/families_vs_flexmix.py --no-r     # part (a) only
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
import pandas as pd

import emstat
from emstat.engine import EMControl, fit_em
from emstat.families.base import ColumnData, ProductFamily
from emstat.families.binomial import BinomialColumn
from emstat.families.poisson import PoissonColumn
from emstat.mixture.finite import FamilyData, FiniteMixture, MixtureStats

K = 3
FIXED_ITERATIONS = EMControl(tol=0, criterion="abs", max_iter=20)
# Idle time before each timed run, so that one program's spinning worker
# threads do not slow the next (see bench/README.md).
SETTLE_SECONDS = 0.2


@dataclass(frozen=True)
class Case:
    """One column's data set: the family, its encoded data, and a start posterior."""

    name: str
    family: ProductFamily
    data: FamilyData
    post: np.ndarray

    @property
    def model(self) -> FiniteMixture:
        return FiniteMixture(self.family, K)

    def arrays(self) -> list[np.ndarray]:
        """What the E-step reads of the data: values, exposure or trials, weights."""
        block = self.data.blocks[0]
        extra = [] if block.extra is None else [block.extra]
        weights = [] if self.data.case_weights is None else [self.data.case_weights]
        return [block.values, *extra, *weights]


def make_case(name: str, n: int, seed: int = 0) -> Case:
    """Seeded data from a 3-component mixture; ``name`` says the family and its extras."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(K, size=n)
    weights = rng.integers(1, 4, size=n).astype(float) if "weights" in name else None
    if name.startswith("poisson"):
        exposure = rng.uniform(0.5, 3.0, size=n) if "exposure" in name else None
        mean = np.array([1.0, 4.0, 10.0])[labels] * (1.0 if exposure is None else exposure)
        column = ColumnData(rng.poisson(mean).astype(float), exposure)
        part: PoissonColumn | BinomialColumn = PoissonColumn(
            "x", "e" if exposure is not None else None
        )
    else:
        trials = rng.integers(5, 30, size=n).astype(float)
        x = rng.binomial(trials.astype(int), np.array([0.15, 0.45, 0.8])[labels])
        column = ColumnData(x.astype(float), trials)
        part = BinomialColumn("x", "n")
    return Case(name, ProductFamily((part,)), FamilyData((column,), weights), soft_start(n, seed))


def soft_start(n: int, seed: int) -> np.ndarray:
    """A posterior matrix with 0.9 on a random component, as flexmix's ``cluster=`` takes."""
    rng = np.random.default_rng(seed + 1)
    post = np.full((n, K), 0.1 / (K - 1))
    post[np.arange(n), rng.integers(K, size=n)] = 0.9
    return post


def interleaved_best(runs: dict[str, Callable[[], float]], rounds: int) -> dict[str, float]:
    """The fastest time of each run over ``rounds`` rounds, each round running them all in turn."""
    best = dict.fromkeys(runs, math.inf)
    for _ in range(rounds):
        for name, run in runs.items():
            time.sleep(SETTLE_SECONDS)
            best[name] = min(best[name], run())
    return best


def time_emstat(case: Case, stats0: MixtureStats) -> float:
    """Seconds per iteration of a fixed number of EM iterations from the start posterior."""
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = fit_em(case.model, case.data, stats0=stats0, control=FIXED_ITERATIONS)
    return (time.perf_counter() - started) / max(result.n_iter, 1)


def on_one_thread(run: Callable[[], float]) -> float:
    """``run()`` with numba's parallel kernels on one thread (the floor's one core)."""
    import numba

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        return run()
    finally:
        numba.set_num_threads(before)


def machine_floor(case: Case, repeats: int = 5) -> float:
    """Seconds to read the E-step's data once and take n x k exponentials by numpy, one core."""
    arrays = case.arrays()
    buffer = np.full((case.data.n, K), -1.0)
    best = math.inf
    for _ in range(repeats):
        started = time.perf_counter()
        for array in arrays:
            array.sum()
        np.exp(buffer, out=buffer)
        best = min(best, time.perf_counter() - started)
        buffer.fill(-1.0)
    return best


def floor_table(ns: list[int], names: list[str], rounds: int) -> pd.DataFrame:
    rows = []
    for n in ns:
        for name in names:
            case = make_case(name, n)
            stats0 = case.model.stats_from_responsibilities(case.data, case.post)
            time_emstat(case, stats0)  # compiles or loads the kernels
            best = interleaved_best(
                {
                    "ours": partial(time_emstat, case, stats0),
                    "one_thread": partial(on_one_thread, partial(time_emstat, case, stats0)),
                    "floor": partial(machine_floor, case),
                },
                rounds,
            )
            rows.append(
                {
                    "n": f"{n:.0e}".replace("+0", ""),
                    "case": name,
                    "emstat_ms": 1e3 * best["ours"],
                    "one_thread_ms": 1e3 * best["one_thread"],
                    "floor_ms": 1e3 * best["floor"],
                    "vs_floor": best["ours"] / best["floor"],
                    "one_thread_vs_floor": best["one_thread"] / best["floor"],
                    "load": os.getloadavg()[0],
                }
            )
            print(rows[-1], flush=True)
    return pd.DataFrame(rows)


FLEXMIX = {
    "poisson": ("x ~ 1", 'FLXMRglm(family = "poisson")'),
    "binomial": ("cbind(x, n - x) ~ 1", 'FLXMRglm(family = "binomial")'),
}


def time_flexmix(case: Case, runs: list[tuple[int, float]]) -> float:
    """flexmix's total seconds over its iterations, from the posterior ``post`` on the
    data ``df`` in R's global environment; its iterations and log-likelihood go to ``runs``."""
    import rpy2.robjects as ro

    formula, model = FLEXMIX[case.name]
    fitted = ro.r(
        f"""
        local({{
          started <- proc.time()[["elapsed"]]
          m <- flexmix({formula}, data = df, k = ncol(post), cluster = post, model = {model},
                       control = list(iter.max = 20, minprior = 0, tolerance = 0, verbose = 0))
          c(proc.time()[["elapsed"]] - started, m@iter, as.numeric(logLik(m)))
        }})
        """
    )
    seconds, count, loglik = (float(v) for v in fitted)
    runs.append((int(count), loglik))
    return seconds / max(count, 1.0)


def flexmix_table(n: int, rounds: int) -> pd.DataFrame:
    import rpy2.robjects as ro

    from emstat import _r

    ro.r("suppressPackageStartupMessages(library(flexmix))")
    version = str(ro.r('as.character(packageVersion("flexmix"))')[0])
    rows = []
    for name in ("poisson", "binomial"):
        case = make_case(name, n)
        block = case.data.blocks[0]
        frame = pd.DataFrame({"x": block.values})
        if name == "binomial":
            frame["n"] = block.extra
        ro.globalenv["df"] = _r.to_r_dataframe(frame)
        ro.globalenv["post"] = _r.to_r_matrix(case.post)
        stats0 = case.model.stats_from_responsibilities(case.data, case.post)
        runs: list[tuple[int, float]] = []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ours = fit_em(case.model, case.data, stats0=stats0, control=FIXED_ITERATIONS)
        best = interleaved_best(
            {
                "ours": partial(time_emstat, case, stats0),
                "theirs": partial(time_flexmix, case, runs),
            },
            rounds,
        )
        rows.append(
            {
                "n": f"{n:.0e}".replace("+0", ""),
                "family": name,
                "emstat_iter": ours.n_iter,
                "flexmix_iter": runs[-1][0],
                "loglik_diff": ours.loglik - runs[-1][1],
                "emstat_ms": 1e3 * best["ours"],
                "flexmix_ms": 1e3 * best["theirs"],
                "vs_flexmix": best["theirs"] / best["ours"],
            }
        )
        print(rows[-1], flush=True)
    print(f"# flexmix {version}")
    return pd.DataFrame(rows)


def markdown(table: pd.DataFrame) -> str:
    """A Markdown table, numbers to 3 significant digits (without the tabulate package)."""

    def cell(value: object) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---:|" * table.shape[1]]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.itertuples(False)]
    return "\n".join(lines)


def main() -> None:
    """Print the tables (part (b) needs R with flexmix and rpy2)."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-r", action="store_true", help="part (a) only")
    parser.add_argument("--rounds", type=int, default=5, help="timing rounds (best kept)")
    parser.add_argument("--only-r", action="store_true", help="part (b) only")
    args = parser.parse_args()
    import numba

    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy "
        f"{np.__version__}, numba {numba.__version__}, emstat {emstat.__version__}; "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    names = ["poisson", "poisson+exposure", "poisson+weights", "binomial", "binomial+weights"]
    if not args.only_r:
        print(markdown(floor_table([10**5, 10**6], names, args.rounds)))
        print()
    if not args.no_r:
        print(markdown(flexmix_table(10**5, max(3, args.rounds))))
    print(f"# load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
