"""Speed of a simulation study: 1,000 replicates of n = 100, k = 2, 1-D (target: < 10 s on 2 cores).

Run: ``python bench/simulation_speed.py [--reps 1000] [--workers 2]``.  Prints
the wall time of the whole study (pool start-up, fits with information
standard errors, alignment, storage and summary), the mean time per fit as
recorded in ``replicates.parquet``, and where one fit's time goes (cProfile of
``fit_mixture`` + ``params`` in this process).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from emstat.mixture import fit_mixture
from emstat.simulation import simulate

FORMULA = "0.5*N(-0.8,1) + 0.5*N(0.8,1)"


def study(reps: int, workers: int) -> tuple[float, pd.DataFrame]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sim"
        started, cpu = time.perf_counter(), time.process_time()
        simulate(FORMULA, n=100, reps=reps, k=2, model="V", seed=1, out_dir=out, workers=workers)
        seconds = time.perf_counter() - started
        if workers == 1:  # CPU time is a fair measure only when the work runs in this process
            print(f"workers=1: CPU {time.process_time() - cpu:.2f} s")
        rows = pd.read_parquet(out / "replicates.parquet")
    return seconds, rows


def profile_fits(count: int = 200) -> str:
    rng = np.random.default_rng(1)
    data = [
        pd.DataFrame({"x": np.concatenate([rng.normal(-0.8, 1, 50), rng.normal(0.8, 1, 50)])})
        for _ in range(count)
    ]
    profiler = cProfile.Profile()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _ = fit_mixture(data[0], 2, "V").params  # warm up
        profiler.enable()
        for x in data:
            fit = fit_mixture(x, 2, "V")
            if fit.ok:
                _ = fit.params  # the information standard errors
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="also profile single fits")
    args = parser.parse_args()
    print(f"cpus: {os.cpu_count()}")
    for workers in sorted({1, args.workers}):
        seconds, rows = study(args.reps, workers)
        per_rep = rows.drop_duplicates(["scenario", "replicate"])
        print(
            f"workers={workers}: {args.reps} replicates in {seconds:.2f} s "
            f"({args.reps / seconds:.0f} rep/s); "
            f"mean fit+SE {per_rep['seconds'].mean() * 1e3:.1f} ms, "
            f"mean EM iterations {per_rep['n_iter'].mean():.1f}"
        )
    if args.profile:
        print(profile_fits())


if __name__ == "__main__":
    main()
