"""Summaries of a study: bias, spread, coverage per scenario and parameter; selection shares."""

from __future__ import annotations

import numpy as np
import pandas as pd

from emstat.simulation.align import ALIGNMENT
from emstat.simulation.design import Scenario

__all__ = ["scenario_table", "selection_summary", "summarise_replicates"]

_KEYS = ["scenario", "component", "parameter"]


def scenario_table(scenarios: list[Scenario]) -> pd.DataFrame:
    """One row per scenario: its id and the factors of the grid."""
    return pd.DataFrame(
        {
            "scenario": [s.scenario for s in scenarios],
            "n": [s.n for s in scenarios],
            "separation": [s.separation for s in scenarios],
            "k": [s.k for s in scenarios],
            "model": [s.model for s in scenarios],
            "select": [s.select for s in scenarios],
        }
    )


def summarise_replicates(
    rows: pd.DataFrame, scenarios: pd.DataFrame, alignment: str = ALIGNMENT
) -> pd.DataFrame:
    """Per scenario x component x parameter: how the estimates behaved against the truth.

    Columns: the scenario's factors, ``truth``; ``reps`` (replicates run),
    ``n_ok`` (with an estimate); over those, ``mean``, ``bias`` (mean -
    truth), ``sd`` (ddof 1), ``rmse`` (sqrt of the mean squared error);
    ``coverage`` (share of replicates with a standard error whose 95%
    interval ``[ci_low, ci_high]`` holds the truth; NaN when none has one),
    ``n_se`` (replicates with a standard error); ``converged`` (share of all
    replicates whose fit converged); ``mean_iter`` (mean EM iterations over
    replicates with an estimate); and ``aligned_by``, the alignment method.
    Rows of fitted components without a true one (k fitted > k true) have NaN
    truth, bias, rmse and coverage.
    """
    frame = rows[[*_KEYS, "truth", "estimate", "ci_low", "ci_high", "converged", "n_iter"]].copy()
    ok = frame["estimate"].notna()
    error = frame["estimate"] - frame["truth"]
    has_ci = frame["ci_low"].notna() & frame["ci_high"].notna() & frame["truth"].notna()
    frame["_ok"] = ok.astype(float)
    frame["_sq"] = error**2
    frame["_has_ci"] = has_ci.astype(float)
    frame["_covered"] = np.where(
        has_ci, (frame["ci_low"] <= frame["truth"]) & (frame["truth"] <= frame["ci_high"]), np.nan
    )
    frame["_iter"] = frame["n_iter"].where(ok)
    frame["converged"] = frame["converged"].astype(float)
    grouped = frame.groupby(_KEYS, sort=False, dropna=False)
    out = pd.DataFrame(
        {
            "truth": grouped["truth"].first(),
            "reps": grouped["estimate"].size(),
            "n_ok": grouped["_ok"].sum().astype("int64"),
            "mean": grouped["estimate"].mean(),
            "sd": grouped["estimate"].std(ddof=1),
            "rmse": np.sqrt(grouped["_sq"].mean()),
            "coverage": grouped["_covered"].mean(),
            "n_se": grouped["_has_ci"].sum().astype("int64"),
            "converged": grouped["converged"].mean(),
            "mean_iter": grouped["_iter"].mean(),
        }
    ).reset_index()
    # Parameters in the order of MixtureResult.params (weight, means, covariances).
    out = out.sort_values(["scenario", "component"], kind="stable").reset_index(drop=True)
    out.insert(list(out.columns).index("mean") + 1, "bias", out["mean"] - out["truth"])
    out["aligned_by"] = alignment
    out = scenarios.merge(out, on="scenario", how="right")
    out.attrs["alignment"] = alignment
    return out


def selection_summary(selection: pd.DataFrame, scenarios: pd.DataFrame) -> pd.DataFrame:
    """Per scenario x criterion x chosen (k, model): how often it was chosen.

    ``share`` is over all replicates of the scenario (a replicate whose every
    fit failed chose ``k = -1``); ``correct`` says whether k is the true one.
    """
    counts = (
        selection.groupby(["scenario", "criterion", "k", "model", "true_k"], sort=True)
        .size()
        .rename("count")
        .reset_index()
    )
    totals = selection.groupby(["scenario", "criterion"])["replicate"].nunique().rename("reps")
    counts = counts.join(totals, on=["scenario", "criterion"])
    counts["share"] = counts["count"] / counts["reps"]
    counts["correct"] = counts["k"] == counts["true_k"]
    return scenarios.merge(counts, on="scenario", how="right")
