"""Inputs of the report tests: a small synthetic simulation output directory."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd


def make_simulation_dir(directory: Path, n_reps: int = 40, seed: int = 1) -> Path:
    """Write summary.csv, replicates.parquet, selection.parquet and run.json as a study would."""
    rng = np.random.default_rng(seed)
    truths = {
        "two-apart": [("weight", 1, 0.4), ("mean[x]", 1, 0.0), ("mean[x]", 2, 3.0)],
        "two-close": [("weight", 1, 0.5), ("mean[x]", 1, 0.0), ("mean[x]", 2, 1.5)],
    }
    rows = []
    for scenario, params in truths.items():
        spread = 0.1 if scenario == "two-apart" else 0.3
        for rep in range(1, n_reps + 1):
            n_iter = int(rng.integers(8, 60))
            converged = bool(rng.random() > 0.05)
            for parameter, component, truth in params:
                estimate = truth + rng.normal(0.02, spread)
                se = spread * rng.uniform(0.8, 1.2)
                rows.append(
                    {
                        "scenario": scenario,
                        "replicate": rep,
                        "parameter": parameter,
                        "component": component,
                        "truth": truth,
                        "estimate": estimate,
                        "std_err": se,
                        "ci_low": estimate - 1.96 * se,
                        "ci_high": estimate + 1.96 * se,
                        "converged": converged,
                        "n_iter": n_iter,
                        "loglik": -100.0 - rng.random(),
                        "seconds": 0.01 * n_iter,
                    }
                )
    reps = pd.DataFrame(rows)
    grouped = reps.groupby(["scenario", "parameter", "component"], sort=False)
    summary = grouped.agg(
        truth=("truth", "first"), mean=("estimate", "mean"), sd=("estimate", "std")
    )
    summary["bias"] = summary["mean"] - summary["truth"]
    summary["rmse"] = grouped.apply(
        lambda g: float(np.sqrt(np.mean((g["estimate"] - g["truth"]) ** 2)))
    )
    summary["coverage"] = grouped.apply(
        lambda g: float(np.mean((g["ci_low"] <= g["truth"]) & (g["truth"] <= g["ci_high"])))
    )
    summary["share converged"] = grouped["converged"].mean()
    summary["mean iterations"] = grouped["n_iter"].mean()
    summary = summary.reset_index()[
        ["scenario", "parameter", "component", "truth", "mean", "bias", "sd", "rmse",
         "coverage", "share converged", "mean iterations"]
    ]  # fmt: skip
    choices = [
        {"scenario": s, "replicate": r, "criterion": c, "k": int(k), "model": "V"}
        for s in truths
        for r in range(1, n_reps + 1)
        for c, k in (("bic", rng.choice([1, 2, 2, 2, 3])), ("icl", rng.choice([1, 2, 2])))
    ]
    directory.mkdir(parents=True, exist_ok=True)
    summary.to_csv(directory / "summary.csv", index=False)
    reps.to_parquet(directory / "replicates.parquet")
    pd.DataFrame(choices).to_parquet(directory / "selection.parquet")
    run = {
        "command": "emstat simulate --scenarios two.json --n-reps 40 --seed 1 --out-dir sim1",
        "seed": seed,
        "n_reps": n_reps,
        "scenarios": {
            "two-apart": {"weights": [0.4, 0.6], "means": [0, 3], "sd": [1, 1], "n": 200},
            "two-close": {"weights": [0.5, 0.5], "means": [0, 1.5], "sd": [1, 1], "n": 200},
        },
        "versions": {"emstat": "0.1.0", "numpy": np.__version__},
    }
    (directory / "run.json").write_text(json.dumps(run, indent=1))
    return directory
