"""The seed's study with interval methods compared (targets: < 5 min on 2 workers with
199 bootstrap refits per replicate; bootstrap percentile coverage >= 0.92 for all six
parameters; every converged replicate has an interval under every method).

Run: ``python bench/intervals_study.py [--reps 1000] [--workers 2] [--n-boot 199]
[--intervals wald,bootstrap] [--kind pb] [--out DIR]``.  The design is
``--mixture "0.5*N(-0.8,1) + 0.5*N(0.8,1)" --n 100 --k 2 --model V --seed 1``.
Prints the wall time, per method and parameter the coverage with its Monte Carlo
standard error, the mean width and the share of replicates with an interval,
the share of converged replicates with an interval, and whether each target is met.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
import warnings
from pathlib import Path

import pandas as pd

from emstat.simulation import simulate
from emstat.simulation.summarise import interval_summary

FORMULA = "0.5*N(-0.8,1) + 0.5*N(0.8,1)"
TARGET_SECONDS = 300.0
TARGET_COVERAGE = 0.92


def _cpu_seconds() -> float:
    """CPU time of this process and of its finished children (the pool's workers)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(args: argparse.Namespace, out: Path) -> tuple[float, float, pd.DataFrame, pd.DataFrame]:
    started, cpu = time.perf_counter(), _cpu_seconds()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        summary = simulate(
            FORMULA,
            n=100,
            reps=args.reps,
            k=2,
            model="V",
            seed=1,
            intervals={
                "methods": args.intervals.split(","),
                "n_boot": args.n_boot,
                "kind": args.kind,
            },
            out_dir=out,
            workers=args.workers,
            max_failed=1.0,
        )
    seconds = time.perf_counter() - started
    return seconds, _cpu_seconds() - cpu, summary, pd.read_parquet(out / "replicates.parquet")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--n-boot", type=int, default=199)
    parser.add_argument("--intervals", default="wald,bootstrap")
    parser.add_argument("--kind", default="pb")
    parser.add_argument("--out", type=Path, default=None, help="keep the study here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp) / "study"
        seconds, cpu, summary, rows = run(args, out)
    by_method = interval_summary(summary)
    converged = rows[rows["converged"]]
    n_converged = converged["replicate"].nunique()
    print(
        f"{args.reps} replicates, {args.n_boot} {args.kind} refits each, {args.workers} workers: "
        f"{seconds:.1f} s (target < {TARGET_SECONDS:.0f} s: "
        f"{'met' if seconds < TARGET_SECONDS else 'NOT met'})"
    )
    print(
        f"CPU time {cpu:.1f} s: {cpu / args.workers:.1f} s of wall time on {args.workers} "
        f"dedicated cores (this machine's cores are shared; load average now "
        f"{os.getloadavg()[0]:.1f})"
    )
    print(f"converged: {n_converged} of {args.reps}")
    shown = by_method.drop(columns=["scenario"])
    print(shown.to_string(index=False, float_format=lambda v: f"{v:.4f}"))
    for method in by_method["method"].unique():
        has = converged[f"ci_low_{method}"].notna() & converged[f"ci_high_{method}"].notna()
        complete = int(has.groupby(converged["replicate"]).all().sum())
        print(
            f"{method}: converged replicates with an interval for every parameter: "
            f"{complete} of {n_converged}"
        )
    boot = by_method[by_method["method"] == "bootstrap"]
    if not boot.empty:
        low = float(boot["coverage"].min())
        print(
            f"bootstrap percentile coverage: {low:.3f} to {boot['coverage'].max():.3f} "
            f"(target >= {TARGET_COVERAGE}: {'met' if low >= TARGET_COVERAGE else 'NOT met'})"
        )


if __name__ == "__main__":
    main()
