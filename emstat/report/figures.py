"""Figures of the reports: pure functions from numbers to a matplotlib ``Figure``.

Figures are built on :class:`matplotlib.figure.Figure` directly (Agg canvas,
no ``pyplot`` state), so building one never opens a window nor touches the
caller's current figure.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from emstat.engine import EMControl, aitken_distance

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not with emstat
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "classification_plot",
    "convergence_plot",
    "count_frequency_plot",
    "coverage_plot",
    "criterion_plot",
    "density_plot",
    "estimates_plot",
    "k_choice_plot",
    "level_probability_plot",
    "trace_plot",
    "uncertainty_1d_plot",
    "uncertainty_plot",
]

_MARKERS = "os^vDP*Xph<>d8"
_PALETTE = [
    "#1f77b4",
    "#d62728",
    "#2ca02c",
    "#ff7f0e",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
    "#393b79",
    "#637939",
    "#8c6d31",
    "#843c39",
]


def _figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _colour(j: int) -> str:
    return _PALETTE[j % len(_PALETTE)]


def criterion_plot(
    table: pd.DataFrame,
    ylabel: str,
    chosen: tuple[int, str] | None = None,
) -> Figure:
    """One line per covariance model of a criterion against k (mclust's BIC plot).

    Parameters
    ----------
    table
        Rows k, columns models (as :meth:`SelectionResult.table_for`).
    ylabel
        The criterion and its sign convention.
    chosen
        ``(k, model)`` of the chosen fit, circled.
    """
    fig = _figure(7.0, 4.2)
    ax = fig.add_subplot()
    ks = np.asarray(table.index, dtype=float)
    for j, model in enumerate(table.columns):
        ax.plot(
            ks,
            table[model].to_numpy(dtype=float),
            marker=_MARKERS[j % len(_MARKERS)],
            color=_colour(j),
            linestyle="-" if j < 7 else "--",
            markersize=4,
            linewidth=1.1,
            label=str(model),
        )
    if chosen is not None and chosen[1] in table.columns:
        value = float(table[chosen[1]].to_numpy(dtype=float)[list(table.index).index(chosen[0])])
        ax.plot([chosen[0]], [value], marker="o", markersize=14, fillstyle="none", color="black")
    ax.set_xlabel("number of components k")
    ax.set_ylabel(ylabel)
    ax.set_xticks(ks)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    return fig


def stopping_statistic(trace: np.ndarray, control: EMControl, n: float | None) -> np.ndarray | None:
    """The quantity the stopping rule compares with ``tol``, per iteration (None for ``param``)."""
    trace = np.asarray(trace, dtype=float)
    if control.criterion == "param" or trace.size < 2:
        return None
    change = np.abs(np.diff(trace))
    if control.criterion == "aitken":
        return np.array(
            [math.nan] + [aitken_distance(*trace[i - 2 : i + 1]) for i in range(2, trace.size)]
        )
    if control.criterion == "rel":
        return change / (1.0 + np.abs(trace[1:]))
    if control.criterion == "per_sample":
        return change / (n or 1.0)
    return change


def trace_plot(
    trace: np.ndarray, control: EMControl, n: float | None = None, ylabel: str = "log-likelihood"
) -> Figure:
    """The log-likelihood per iteration and, beside it, the stopping statistic against ``tol``."""
    statistic = stopping_statistic(trace, control, n)
    fig = _figure(7.0, 3.0)
    axes = fig.subplots(1, 2 if statistic is not None else 1, squeeze=False)[0]
    iterations = np.arange(1, len(trace) + 1)
    axes[0].plot(iterations, trace, marker=".", color=_colour(0))
    axes[0].set_xlabel("iteration")
    axes[0].set_ylabel(ylabel)
    axes[0].grid(alpha=0.3)
    if statistic is not None:
        ax = axes[1]
        shown = np.where(statistic > 0, statistic, np.nan)
        ax.semilogy(iterations[1:], shown, marker=".", color=_colour(1))
        ax.axhline(control.tol, color="black", linestyle="--", linewidth=1)
        ax.annotate(
            f"tol = {control.tol:g}",
            (iterations[-1], control.tol),
            fontsize=8,
            ha="right",
            va="bottom",
        )
        ax.set_xlabel("iteration")
        ax.set_ylabel(
            {
                "rel": "|Δℓ| / (1 + |ℓ|)",
                "abs": "|Δℓ|",
                "per_sample": "|Δℓ| / n",
                "aitken": "|ℓ∞ - ℓ| / (1 + |ℓ|)",
            }[control.criterion]
        )
        ax.grid(alpha=0.3)
    return fig


def _pairs(d: int, max_vars: int) -> list[tuple[int, int]]:
    return list(itertools.combinations(range(min(d, max_vars)), 2))


def _pair_grid(n_pairs: int) -> tuple[Figure, list[Axes]]:
    cols = min(3, n_pairs)
    rows = math.ceil(n_pairs / cols)
    side = 3.3 if cols > 1 else 5.0
    fig = _figure(side * cols, side * rows * 0.9)
    axes = list(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes[n_pairs:]:
        ax.set_visible(False)
    return fig, axes[:n_pairs]


def _ellipse(ax: Axes, mean: np.ndarray, cov: np.ndarray, colour: str, level: float) -> None:
    values, vectors = np.linalg.eigh(cov)
    values = np.clip(values, 0, None)
    angle = math.degrees(math.atan2(vectors[1, -1], vectors[0, -1]))
    from matplotlib.patches import Ellipse

    # The chi-square(2) quantile in closed form: -2 log(1 - level).
    scale = math.sqrt(-2.0 * math.log1p(-level))
    ax.add_patch(
        Ellipse(
            (float(mean[0]), float(mean[1])),
            2 * scale * math.sqrt(values[-1]),
            2 * scale * math.sqrt(values[0]),
            angle=angle,
            fill=False,
            color=colour,
            linewidth=1.5,
        )
    )
    ax.plot([mean[0]], [mean[1]], marker="x", color="black", markersize=7)


def classification_plot(
    values: np.ndarray,
    columns: Sequence[str],
    labels: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    sizes: np.ndarray | None = None,
    max_vars: int = 4,
    level: float = 0.95,
) -> Figure:
    """Every pair of variables, points coloured by component, with ``level`` ellipses.

    ``labels`` are 1..k; ``sizes`` (optional) scale the points (the
    uncertainty plot).  Only the first ``max_vars`` variables are paired.
    """
    pairs = _pairs(values.shape[1], max_vars)
    fig, axes = _pair_grid(len(pairs))
    k = means.shape[0]
    for ax, (a, b) in zip(axes, pairs, strict=True):
        for j in range(k):
            rows = labels == j + 1
            ax.scatter(
                values[rows, a],
                values[rows, b],
                s=8 if sizes is None else sizes[rows],
                color=_colour(j),
                marker=_MARKERS[j % len(_MARKERS)],
                alpha=0.6,
                linewidths=0,
                label=f"component {j + 1}",
            )
            sub = covariances[j][np.ix_([a, b], [a, b])]
            _ellipse(ax, means[j, [a, b]], sub, _colour(j), level)
        ax.set_xlabel(columns[a])
        ax.set_ylabel(columns[b])
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7, markerscale=1.5, loc="best", framealpha=0.8)
    return fig


def uncertainty_plot(
    values: np.ndarray,
    columns: Sequence[str],
    labels: np.ndarray,
    uncertainty: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    max_vars: int = 4,
) -> Figure:
    """The classification plot with points sized by their uncertainty ``1 - max_k z_ik``."""
    top = max(float(np.max(uncertainty)), 1e-12)
    sizes = 4 + 80 * (uncertainty / top)
    return classification_plot(values, columns, labels, means, covariances, sizes, max_vars)


def density_plot(
    x: np.ndarray,
    column: str,
    weights: np.ndarray,
    means: np.ndarray,
    variances: np.ndarray,
    case_weights: np.ndarray | None = None,
) -> Figure:
    """One variable: the mixture density and its weighted components over a histogram.

    ``case_weights`` (one per value of ``x``) weight the histogram.
    """
    fig = _figure(6.5, 3.6)
    ax = fig.add_subplot()
    ax.hist(
        x,
        bins="fd",
        density=True,
        weights=case_weights,
        color="#cccccc",
        edgecolor="white",
        label="data",
    )
    grid = np.linspace(x.min() - 0.1 * np.ptp(x), x.max() + 0.1 * np.ptp(x), 400)
    parts = np.array(
        [
            w * np.exp(-0.5 * (grid - m) ** 2 / v) / math.sqrt(2.0 * math.pi * v)
            for w, m, v in zip(weights, means, variances, strict=True)
        ]
    )
    for j, part in enumerate(parts):
        ax.plot(
            grid, part, color=_colour(j), linestyle="--", linewidth=1.2, label=f"component {j + 1}"
        )
    ax.plot(grid, parts.sum(axis=0), color="black", linewidth=1.8, label="mixture")
    ax.set_xlabel(column)
    ax.set_ylabel("density")
    ax.legend(fontsize=8, frameon=False)
    return fig


def count_frequency_plot(
    counts: np.ndarray,
    observed: np.ndarray,
    expected: np.ndarray,
    column: str,
    ylabel: str = "rows",
) -> Figure:
    """Observed frequency of each count (bars) against a mixture's expected frequencies.

    ``expected`` is ``(len(counts), k)``: each component's expected frequency,
    already multiplied by its weight; the mixture's is their sum (black line).
    """
    fig = _figure(6.5, 3.6)
    ax = fig.add_subplot()
    ax.bar(counts, observed, width=0.8, color="#cccccc", edgecolor="white", label="observed")
    for j in range(expected.shape[1]):
        ax.plot(
            counts,
            expected[:, j],
            color=_colour(j),
            linestyle="--",
            marker=_MARKERS[j % len(_MARKERS)],
            markersize=4,
            linewidth=1.1,
            label=f"component {j + 1}",
        )
    ax.plot(
        counts,
        expected.sum(axis=1),
        color="black",
        marker="o",
        markersize=4,
        linewidth=1.6,
        label="mixture",
    )
    step = max(1, math.ceil(len(counts) / 20))
    ax.set_xticks(counts[::step])
    ax.set_xlabel(column)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    handles, labels = ax.get_legend_handles_labels()
    first = labels.index("observed")  # the bars first, as drawn
    order = [first, *(i for i in range(len(labels)) if i != first)]
    ax.legend([handles[i] for i in order], [labels[i] for i in order], fontsize=8, frameon=False)
    return fig


def level_probability_plot(
    panels: Sequence[tuple[str, Sequence[str], np.ndarray, np.ndarray | None]],
) -> Figure:
    """The probability of each level in each component: grouped bars, a panel per column.

    Each panel is ``(column, levels, probabilities, observed_share)``:
    ``probabilities`` is ``(k, L)``; ``observed_share`` (length L, or None)
    marks the share of each level in the data.
    """
    cols = min(3, len(panels))
    rows = math.ceil(len(panels) / cols)
    widest = max(len(levels) for _, levels, _, _ in panels)
    side = max(2.6, min(4.5, 1.2 + 0.25 * panels[0][2].shape[0] * widest))
    fig = _figure(side * cols, 2.5 * rows + 0.4)
    axes = list(fig.subplots(rows, cols, squeeze=False, sharey=True).ravel())
    for ax in axes[len(panels) :]:
        ax.set_visible(False)
    for ax, (column, levels, probabilities, share) in zip(axes, panels, strict=False):
        k, n_levels = probabilities.shape
        positions = np.arange(n_levels)
        width = 0.8 / k
        for j in range(k):
            ax.bar(
                positions + (j - (k - 1) / 2) * width,
                probabilities[j],
                width=width,
                color=_colour(j),
                label=f"component {j + 1}",
            )
        if share is not None:
            ax.scatter(
                positions, share, marker="D", color="black", s=18, zorder=3, label="observed"
            )
        ax.set_xticks(positions, [str(level) for level in levels], fontsize=8)
        ax.set_ylim(0, 1.05)
        ax.set_title(str(column), fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    for ax in axes[::cols]:
        ax.set_ylabel("probability")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(
        handles,
        labels,
        loc="outside lower center",
        ncols=min(len(labels), 6),
        fontsize=8,
        frameon=False,
    )
    return fig


def uncertainty_1d_plot(
    x: np.ndarray, column: str, labels: np.ndarray, uncertainty: np.ndarray
) -> Figure:
    """One variable: each observation's classification uncertainty against its value."""
    fig = _figure(6.5, 2.8)
    ax = fig.add_subplot()
    for j in np.unique(labels):
        rows = labels == j
        ax.scatter(
            x[rows], uncertainty[rows], s=10, color=_colour(int(j) - 1), label=f"component {int(j)}"
        )
    ax.set_xlabel(column)
    ax.set_ylabel("uncertainty 1 − max z")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return fig


# --------------------------------------------------------------------------- simulation


def estimates_plot(replicates: pd.DataFrame, max_panels: int = 6) -> Figure:
    """Estimates against the truth, one panel per scenario, with the line y = x."""
    scenarios = list(dict.fromkeys(replicates["scenario"]))[:max_panels]
    cols = min(3, len(scenarios))
    rows = math.ceil(len(scenarios) / cols)
    fig = _figure(3.3 * cols, 3.1 * rows)
    axes = list(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes[len(scenarios) :]:
        ax.set_visible(False)
    rng = np.random.default_rng(0)
    for ax, scenario in zip(axes, scenarios, strict=False):
        part = replicates[replicates["scenario"] == scenario]
        truth = part["truth"].to_numpy(dtype=float)
        estimate = part["estimate"].to_numpy(dtype=float)
        spread = 0.005 * (np.nanmax(truth) - np.nanmin(truth) or 1.0)
        ax.scatter(
            truth + rng.normal(0, spread, truth.size),
            estimate,
            s=6,
            alpha=0.35,
            color=_colour(0),
            linewidths=0,
        )
        lo = float(np.nanmin(np.concatenate([truth, estimate])))
        hi = float(np.nanmax(np.concatenate([truth, estimate])))
        ax.plot([lo, hi], [lo, hi], color="black", linewidth=1)
        ax.set_title(str(scenario), fontsize=9)
        ax.set_xlabel("truth")
        ax.set_ylabel("estimate")
        ax.grid(alpha=0.3)
    return fig


def coverage_plot(summary: pd.DataFrame, n_reps: int | None, level: float = 0.95) -> Figure:
    """Coverage per parameter and scenario, with the nominal level's Monte-Carlo band.

    The band is ``level ± 1.96 sqrt(level (1 - level) / R)`` for ``R``
    replicates: where a correct interval's coverage falls 95% of the time.
    """
    frame = summary.dropna(subset=["coverage"]).reset_index(drop=True)
    labels = [_parameter_label(r) for r in frame.itertuples(index=False)]
    scenarios = list(dict.fromkeys(frame["scenario"]))
    fig = _figure(7.0, max(2.8, 0.22 * len(labels) + 1.2))
    ax = fig.add_subplot()
    positions = np.arange(len(labels))
    if n_reps:
        half = 1.959963984540054 * math.sqrt(level * (1 - level) / n_reps)
        ax.axvspan(
            level - half, level + half, color="#dddddd", label=f"Monte-Carlo band (R = {n_reps})"
        )
    ax.axvline(level, color="black", linewidth=1, label=f"nominal {level:g}")
    for j, scenario in enumerate(scenarios):
        rows = (frame["scenario"] == scenario).to_numpy()
        ax.scatter(
            frame.loc[rows, "coverage"],
            positions[rows],
            color=_colour(j),
            marker=_MARKERS[j % len(_MARKERS)],
            s=22,
            label=str(scenario),
            zorder=3,
        )
    ax.set_yticks(positions, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("coverage of the 95% interval")
    ax.set_xlim(min(0.5, float(frame["coverage"].min()) - 0.02) if len(frame) else 0.5, 1.01)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=7, loc="lower left", frameon=True, framealpha=0.9)
    return fig


def _parameter_label(row: object) -> str:
    component = getattr(row, "component", None)
    parameter = str(getattr(row, "parameter", ""))
    scenario = str(getattr(row, "scenario", ""))
    try:
        text = parameter if pd.isna(component) else f"{parameter} ({int(component)})"
    except (TypeError, ValueError):
        text = f"{parameter} ({component})"
    return f"{scenario}: {text}"


def k_choice_plot(choices: pd.DataFrame) -> Figure:
    """How often each criterion chose each k, one panel per scenario.

    ``choices`` has columns ``scenario``, ``criterion``, ``k`` and ``count``.
    """
    scenarios = list(dict.fromkeys(choices["scenario"]))
    criteria = list(dict.fromkeys(choices["criterion"]))
    cols = min(3, len(scenarios))
    rows = math.ceil(len(scenarios) / cols)
    fig = _figure(3.3 * cols, 2.9 * rows)
    axes = list(fig.subplots(rows, cols, squeeze=False).ravel())
    for ax in axes[len(scenarios) :]:
        ax.set_visible(False)
    ks = sorted(int(k) for k in choices["k"].unique())
    width = 0.8 / max(len(criteria), 1)
    for ax, scenario in zip(axes, scenarios, strict=False):
        part = choices[choices["scenario"] == scenario]
        for j, criterion in enumerate(criteria):
            counts = (
                part[part["criterion"] == criterion]
                .groupby("k")["count"]
                .sum()
                .reindex(ks, fill_value=0)
            )
            ax.bar(
                np.arange(len(ks)) + (j - (len(criteria) - 1) / 2) * width,
                counts.to_numpy(),
                width=width,
                color=_colour(j),
                label=str(criterion).upper(),
            )
        ax.set_xticks(np.arange(len(ks)), [str(k) for k in ks])
        ax.set_xlabel("k chosen")
        ax.set_ylabel("replicates")
        ax.set_title(str(scenario), fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    axes[0].legend(fontsize=7, frameon=False)
    return fig


def convergence_plot(replicates: pd.DataFrame) -> Figure:
    """Iterations to convergence per scenario (box plots), one run per replicate."""
    runs = replicates.drop_duplicates(["scenario", "replicate"])
    scenarios = list(dict.fromkeys(runs["scenario"]))
    fig = _figure(6.5, max(2.4, 0.45 * len(scenarios) + 1.2))
    ax = fig.add_subplot()
    data = [runs.loc[runs["scenario"] == s, "n_iter"].to_numpy(dtype=float) for s in scenarios]
    ax.boxplot(data, orientation="horizontal", tick_labels=[str(s) for s in scenarios])
    ax.invert_yaxis()
    ax.set_xlabel("EM iterations")
    ax.grid(alpha=0.3, axis="x")
    return fig
