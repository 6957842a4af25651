"""Summaries of a study: bias, spread, coverage per scenario and parameter; selection shares."""

from __future__ import annotations

import numpy as np
import pandas as pd

from emstat.simulation.align import ALIGNMENT
from emstat.simulation.design import Scenario

__all__ = [
    "interval_methods",
    "interval_summary",
    "scenario_table",
    "selection_summary",
    "summarise_replicates",
]

_KEYS = ["scenario", "component", "parameter"]
#: What the summary reports of each interval method, column prefix -> meaning.
INTERVAL_STATS = ("coverage", "coverage_se", "mean_width", "median_width", "with_interval")


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

    A study that compares interval methods (replicate columns
    ``ci_low_<method>``, ``ci_high_<method>``) adds, per method:
    ``coverage_<method>`` (the share of the replicates with that interval
    whose interval holds the truth), ``coverage_se_<method>`` (its Monte
    Carlo standard error ``sqrt(p (1 - p) / R)``, R those replicates),
    ``mean_width_<method>``, ``median_width_<method>`` (robust to the few
    enormous intervals of fits near the edge of the space) and
    ``with_interval_<method>`` (the share of all replicates that have the
    interval).
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
    for method in interval_methods(rows):
        stats = _interval_stats(rows, method)
        out = out.join(stats, on=_KEYS)
    # Parameters in the order of MixtureResult.params (weight, means, covariances).
    out = out.sort_values(["scenario", "component"], kind="stable").reset_index(drop=True)
    out.insert(list(out.columns).index("mean") + 1, "bias", out["mean"] - out["truth"])
    out["aligned_by"] = alignment
    out = scenarios.merge(out, on="scenario", how="right")
    out.attrs["alignment"] = alignment
    return out


def interval_methods(rows: pd.DataFrame) -> list[str]:
    """The interval methods whose columns ``rows`` holds, in column order."""
    return [
        str(c).removeprefix("ci_low_")
        for c in rows.columns
        if str(c).startswith("ci_low_") and f"ci_high_{str(c)[7:]}" in rows.columns
    ]


def _interval_stats(rows: pd.DataFrame, method: str) -> pd.DataFrame:
    """Coverage, its Monte Carlo standard error, mean width and share with an interval."""
    low, high, truth = rows[f"ci_low_{method}"], rows[f"ci_high_{method}"], rows["truth"]
    has = low.notna() & high.notna()
    judged = has & truth.notna()
    frame = rows[_KEYS].copy()
    frame["_has"] = has.astype(float)
    frame["_judged"] = judged.astype(float)
    frame["_covered"] = np.where(judged, (low <= truth) & (truth <= high), np.nan)
    frame["_width"] = (high - low).where(has)
    grouped = frame.groupby(_KEYS, sort=False, dropna=False)
    coverage = grouped["_covered"].mean()
    judged_count = grouped["_judged"].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        se = pd.Series(
            np.sqrt(coverage * (1.0 - coverage) / judged_count), index=coverage.index
        ).where(judged_count > 0)
    return pd.DataFrame(
        {
            f"coverage_{method}": coverage,
            f"coverage_se_{method}": se,
            f"mean_width_{method}": grouped["_width"].mean(),
            # a few replicates on the edge of the space can have enormous intervals
            f"median_width_{method}": grouped["_width"].median(),
            f"with_interval_{method}": grouped["_has"].mean(),
        }
    )


def interval_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary's interval columns in long form: one row per scenario, parameter, method.

    Columns: scenario, component, parameter, truth, method, coverage,
    coverage_se, mean_width, median_width, with_interval (empty when the study compared
    no interval methods).
    """
    methods = [
        str(c).removeprefix("with_interval_")
        for c in summary.columns
        if str(c).startswith("with_interval_")
    ]
    frames = []
    for method in methods:
        part = summary[["scenario", "component", "parameter", "truth"]].copy()
        part["_row"] = np.arange(len(summary))
        part["method"] = method
        for stat in INTERVAL_STATS:
            column = f"{stat}_{method}"  # a summary saved before median widths has none
            part[stat] = summary[column].to_numpy() if column in summary else np.nan
        frames.append(part)
    columns = ["scenario", "component", "parameter", "truth", "method", *INTERVAL_STATS]
    if not frames:
        return pd.DataFrame(columns=columns)
    # parameter by parameter (the summary's order), the methods in turn
    frame = pd.concat(frames, ignore_index=True).sort_values("_row", kind="stable")
    return frame[columns].reset_index(drop=True)


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
