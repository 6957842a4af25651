"""The figures of emstat: pure functions that draw numbers on given matplotlib Axes.

Each figure is one function that draws on the Axes it is given and returns
them; nothing here makes a figure except the grid helpers
(:func:`new_figure`, :func:`pair_grid`, :func:`panel_grid`), which build a
:class:`matplotlib.figure.Figure` directly on an Agg canvas (no ``pyplot``
state), so a report never opens a window nor touches the caller's current
figure.  The reports make their Figures with those helpers and call these
functions; ``fit.plot()`` (:mod:`emstat.plotting`) calls the same ones on the
Axes the user gives, so every figure is drawn in one place.
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
    "STOPPING_LABELS",
    "classification_1d_plot",
    "classification_plot",
    "colour",
    "convergence_plot",
    "count_frequency_plot",
    "coverage_labels",
    "coverage_plot",
    "criterion_plot",
    "density_contour_plot",
    "density_plot",
    "estimates_plot",
    "image_plot",
    "k_choice_plot",
    "level_probability_plot",
    "new_figure",
    "pair_grid",
    "pairs",
    "panel_grid",
    "segment_sizes_plot",
    "stopping_plot",
    "stopping_statistic",
    "trace_figure",
    "trace_plot",
    "uncertainty_1d_plot",
    "uncertainty_plot",
    "uncertainty_sizes",
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

#: The quantity each stopping rule compares with its tolerance, as an axis label.
STOPPING_LABELS = {
    "rel": "|Δℓ| / (1 + |ℓ|)",
    "abs": "|Δℓ|",
    "per_sample": "|Δℓ| / n",
    "aitken": "|ℓ∞ - ℓ| / (1 + |ℓ|)",
}


# --------------------------------------------------------------------------- canvases


def new_figure(width: float, height: float) -> Figure:
    """A Figure of ``width`` x ``height`` inches on its own Agg canvas (no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def panel_grid(
    n_panels: int,
    width: float,
    height: float,
    *,
    cols: int = 3,
    sharey: bool = False,
    extra_height: float = 0.0,
) -> tuple[Figure, list[Axes]]:
    """A Figure of ``n_panels`` Axes, ``cols`` to a row, each ``width`` x ``height`` inches.

    Axes beyond ``n_panels`` in the last row are hidden; the visible ones are returned.
    """
    cols = max(1, min(cols, n_panels))
    rows = math.ceil(n_panels / cols)
    fig = new_figure(width * cols, height * rows + extra_height)
    axes = list(fig.subplots(rows, cols, squeeze=False, sharey=sharey).ravel())
    for ax in axes[n_panels:]:
        ax.set_visible(False)
    return fig, axes[:n_panels]


def pairs(d: int, max_vars: int) -> list[tuple[int, int]]:
    """Every pair of the first ``max_vars`` of ``d`` variables, in order."""
    return list(itertools.combinations(range(min(d, max_vars)), 2))


def pair_grid(n_pairs: int) -> tuple[Figure, list[Axes]]:
    """A Figure of ``n_pairs`` square Axes (one per pair of variables), three to a row."""
    side = 3.3 if n_pairs > 1 else 5.0
    return panel_grid(n_pairs, side, side * 0.9)


def colour(j: int) -> str:
    """The colour of component ``j + 1`` (counting from 0), the same in every figure."""
    return _PALETTE[j % len(_PALETTE)]


# --------------------------------------------------------------------------- criteria, traces


def criterion_plot(
    ax: Axes,
    table: pd.DataFrame,
    ylabel: str,
    chosen: tuple[int, str] | None = None,
) -> Axes:
    """One line per covariance model of a criterion against k (mclust's BIC plot).

    Parameters
    ----------
    ax
        Where to draw.
    table
        Rows k, columns models (as :meth:`SelectionResult.table_for`).
    ylabel
        The criterion and its sign convention.
    chosen
        ``(k, model)`` of the chosen fit, circled.
    """
    ks = np.asarray(table.index, dtype=float)
    for j, model in enumerate(table.columns):
        ax.plot(
            ks,
            table[model].to_numpy(dtype=float),
            marker=_MARKERS[j % len(_MARKERS)],
            color=colour(j),
            linestyle="-" if j < 7 else "--",
            markersize=4,
            linewidth=1.1,
            label=str(model),
        )
    if chosen is not None and chosen[1] in table.columns:
        value = float(table[chosen[1]].to_numpy(dtype=float)[list(table.index).index(chosen[0])])
        ax.plot(
            [chosen[0]],
            [value],
            marker="o",
            markersize=14,
            fillstyle="none",
            color="black",
            label="_chosen",
        )
    ax.set_xlabel("number of components k")
    ax.set_ylabel(ylabel)
    ax.set_xticks(ks)
    ax.grid(alpha=0.3)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize=8, frameon=False)
    return ax


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


def trace_plot(ax: Axes, trace: np.ndarray, ylabel: str = "log-likelihood") -> Axes:
    """The log-likelihood (or the objective) after every EM iteration."""
    trace = np.asarray(trace, dtype=float)
    ax.plot(np.arange(1, trace.size + 1), trace, marker=".", color=colour(0))
    ax.set_xlabel("iteration")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    return ax


def stopping_plot(ax: Axes, trace: np.ndarray, control: EMControl, n: float | None) -> Axes:
    """The stopping rule's statistic per iteration against its tolerance (dashed).

    Call only when :func:`stopping_statistic` is not None (the rule compares
    the log-likelihood, and there are two iterations or more).
    """
    statistic = stopping_statistic(trace, control, n)
    if statistic is None:
        raise ValueError("this stopping rule has no statistic to draw")
    iterations = np.arange(1, len(trace) + 1)
    shown = np.where(statistic > 0, statistic, np.nan)
    ax.semilogy(iterations[1:], shown, marker=".", color=colour(1))
    ax.axhline(control.tol, color="black", linestyle="--", linewidth=1)
    ax.annotate(
        f"tol = {control.tol:g}", (iterations[-1], control.tol), fontsize=8, ha="right", va="bottom"
    )
    ax.set_xlabel("iteration")
    ax.set_ylabel(STOPPING_LABELS[control.criterion])
    ax.grid(alpha=0.3)
    return ax


def trace_figure(
    trace: np.ndarray, control: EMControl, n: float | None, ylabel: str = "log-likelihood"
) -> Figure:
    """The reports' convergence figure: :func:`trace_plot` and, beside it, :func:`stopping_plot`."""
    stopping = stopping_statistic(trace, control, n) is not None
    fig = new_figure(7.0, 3.0)
    axes = fig.subplots(1, 2 if stopping else 1, squeeze=False)[0]
    trace_plot(axes[0], trace, ylabel)
    if stopping:
        stopping_plot(axes[1], trace, control, n)
    return fig


# --------------------------------------------------------------------------- Gaussian mixtures


def _ellipse(ax: Axes, mean: np.ndarray, cov: np.ndarray, colour_: str, level: float) -> None:
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
            color=colour_,
            linewidth=1.5,
        )
    )
    ax.plot([mean[0]], [mean[1]], marker="x", color="black", markersize=7)


#: How noise rows (component 0 of a fit with a noise component) are drawn.
NOISE_COLOUR = "#555555"


def _component_style(j: int) -> tuple[str, str]:
    """Colour and name of component ``j`` (1..k; 0 the noise)."""
    if j == 0:
        return NOISE_COLOUR, "noise"
    return colour(j - 1), f"component {j}"


def classification_plot(
    axes: Sequence[Axes],
    values: np.ndarray,
    columns: Sequence[str],
    labels: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    sizes: np.ndarray | None = None,
    max_vars: int = 4,
    level: float = 0.95,
    ringed: np.ndarray | None = None,
) -> list[Axes]:
    """Every pair of variables, one Axes each, points coloured by component, ``level`` ellipses.

    ``axes`` holds at least one Axes per pair of the first ``max_vars``
    variables (:func:`pairs`); ``labels`` are 1..k, or 0 for rows of a noise
    component (drawn first, small grey points labelled "noise"); ``sizes``
    (optional) scale the points (the uncertainty plot); ``ringed`` (optional,
    one boolean per row) circles those rows in black (the labelled rows of a
    fit with known labels).  Each component's points are one scatter
    collection, in component order.
    """
    drawn = list(axes)[: len(pairs(values.shape[1], max_vars))]
    k = means.shape[0]
    for ax, (a, b) in zip(drawn, pairs(values.shape[1], max_vars), strict=True):
        noise = labels == 0
        if noise.any():
            ax.scatter(
                values[noise, a],
                values[noise, b],
                s=6 if sizes is None else sizes[noise],
                color=NOISE_COLOUR,
                marker="o",
                alpha=0.7,
                linewidths=0,
                label="noise",
            )
        for j in range(k):
            rows = labels == j + 1
            ax.scatter(
                values[rows, a],
                values[rows, b],
                s=8 if sizes is None else sizes[rows],
                color=colour(j),
                marker=_MARKERS[j % len(_MARKERS)],
                alpha=0.6,
                linewidths=0,
                label=f"component {j + 1}",
            )
            sub = covariances[j][np.ix_([a, b], [a, b])]
            _ellipse(ax, means[j, [a, b]], sub, colour(j), level)
        if ringed is not None and ringed.any():
            ax.scatter(
                values[ringed, a],
                values[ringed, b],
                s=30,
                facecolors="none",
                edgecolors="black",
                linewidths=0.6,
                label="labelled",
            )
        ax.set_xlabel(columns[a])
        ax.set_ylabel(columns[b])
        ax.grid(alpha=0.3)
    drawn[0].legend(fontsize=7, markerscale=1.5, loc="best", framealpha=0.8)
    return drawn


def uncertainty_sizes(uncertainty: np.ndarray) -> np.ndarray:
    """Point sizes of the uncertainty plot: 4 for a certain point, 84 for the least certain."""
    top = max(float(np.max(uncertainty)), 1e-12) if uncertainty.size else 1.0
    return np.asarray(4 + 80 * (uncertainty / top))


def uncertainty_plot(
    axes: Sequence[Axes],
    values: np.ndarray,
    columns: Sequence[str],
    labels: np.ndarray,
    uncertainty: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    max_vars: int = 4,
    ringed: np.ndarray | None = None,
) -> list[Axes]:
    """The classification plot with points sized by their uncertainty ``1 - max_k z_ik``."""
    sizes = uncertainty_sizes(uncertainty)
    return classification_plot(
        axes, values, columns, labels, means, covariances, sizes, max_vars, ringed=ringed
    )


def density_contour_plot(
    axes: Sequence[Axes],
    values: np.ndarray,
    columns: Sequence[str],
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    max_vars: int = 4,
    levels: int = 10,
) -> list[Axes]:
    """Every pair of variables: the data (grey) under contours of the pair's mixture density.

    The density of a pair is the mixture of its components' bivariate
    marginals (the pair's means and 2 x 2 covariance blocks).
    """
    drawn = list(axes)[: len(pairs(values.shape[1], max_vars))]
    for ax, (a, b) in zip(drawn, pairs(values.shape[1], max_vars), strict=True):
        ax.scatter(values[:, a], values[:, b], s=7, color="#666666", alpha=0.5, linewidths=0)
        gx, gy, density = _pair_density(values[:, [a, b]], weights, means, covariances, (a, b))
        ax.contour(gx, gy, density, levels=levels, cmap="viridis", linewidths=1.0)
        ax.set_xlabel(columns[a])
        ax.set_ylabel(columns[b])
        ax.grid(alpha=0.3)
    return drawn


def _pair_density(
    xy: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    pair: tuple[int, int],
    size: int = 120,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A grid over the pair's range (10% margin) and the mixture's marginal density on it."""
    lo, hi = xy.min(axis=0), xy.max(axis=0)
    margin = 0.1 * np.where(hi > lo, hi - lo, 1.0)
    gx, gy = np.meshgrid(
        np.linspace(lo[0] - margin[0], hi[0] + margin[0], size),
        np.linspace(lo[1] - margin[1], hi[1] + margin[1], size),
    )
    points = np.column_stack([gx.ravel(), gy.ravel()])
    density = np.zeros(points.shape[0])
    idx = list(pair)
    for w, mean, cov in zip(weights, means, covariances, strict=True):
        sub = cov[np.ix_(idx, idx)]
        diff = points - mean[idx]
        solved = np.linalg.solve(sub, diff.T).T
        quad = np.einsum("ij,ij->i", diff, solved)
        density += w * np.exp(-0.5 * quad) / (2 * math.pi * math.sqrt(np.linalg.det(sub)))
    return gx, gy, density.reshape(gx.shape)


def density_plot(
    ax: Axes,
    x: np.ndarray,
    column: str,
    weights: np.ndarray,
    means: np.ndarray,
    variances: np.ndarray,
    case_weights: np.ndarray | None = None,
    noise: tuple[float, float] | None = None,
) -> Axes:
    """One variable: the mixture density and its weighted components over a histogram.

    ``case_weights`` (one per value of ``x``) weight the histogram.
    ``noise`` (its proportion and density Vinv) adds a noise component's
    uniform density over the data's range, drawn grey and dotted.  The
    mixture's line is the last one drawn.
    """
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
    ).reshape(len(weights), grid.size)
    for j, part in enumerate(parts):
        ax.plot(
            grid, part, color=colour(j), linestyle="--", linewidth=1.2, label=f"component {j + 1}"
        )
    total = parts.sum(axis=0)
    if noise is not None:
        inside = (grid >= x.min()) & (grid <= x.max())
        flat = np.where(inside, noise[0] * noise[1], 0.0)
        ax.plot(grid, flat, color=NOISE_COLOUR, linestyle=":", linewidth=1.2, label="noise")
        total = total + flat
    ax.plot(grid, total, color="black", linewidth=1.8, label="mixture")
    ax.set_xlabel(column)
    ax.set_ylabel("density")
    ax.legend(fontsize=8, frameon=False)
    return ax


def classification_1d_plot(ax: Axes, x: np.ndarray, column: str, labels: np.ndarray) -> Axes:
    """One variable: each observation at its value, on the row of its component (1..k; 0 noise)."""
    for j in np.unique(labels):
        rows = labels == j
        shade, name = _component_style(int(j))
        ax.scatter(
            x[rows],
            np.full(int(rows.sum()), float(j)),
            s=12,
            marker="|",
            color=shade,
            label=name,
        )
    ax.set_xlabel(column)
    ax.set_ylabel("component")
    ax.set_yticks(np.unique(labels))
    ax.grid(alpha=0.3, axis="x")
    return ax


def uncertainty_1d_plot(
    ax: Axes, x: np.ndarray, column: str, labels: np.ndarray, uncertainty: np.ndarray
) -> Axes:
    """One variable: each observation's classification uncertainty against its value."""
    for j in np.unique(labels):
        rows = labels == j
        shade, name = _component_style(int(j))
        ax.scatter(x[rows], uncertainty[rows], s=10, color=shade, label=name)
    ax.set_xlabel(column)
    ax.set_ylabel("uncertainty 1 − max z")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, frameon=False)
    return ax


# --------------------------------------------------------------------------- other families


def count_frequency_plot(
    ax: Axes,
    counts: np.ndarray,
    observed: np.ndarray,
    expected: np.ndarray,
    column: str,
    ylabel: str = "rows",
) -> Axes:
    """Observed frequency of each count (bars) against a mixture's expected frequencies.

    ``expected`` is ``(len(counts), k)``: each component's expected frequency,
    already multiplied by its weight; the mixture's is their sum (black
    line, the last one drawn).
    """
    ax.bar(counts, observed, width=0.8, color="#cccccc", edgecolor="white", label="observed")
    for j in range(expected.shape[1]):
        ax.plot(
            counts,
            expected[:, j],
            color=colour(j),
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
    return ax


def level_probability_plot(
    axes: Sequence[Axes],
    panels: Sequence[tuple[str, Sequence[str], np.ndarray, np.ndarray | None]],
    *,
    figure_legend: bool = True,
) -> list[Axes]:
    """The probability of each level in each component: grouped bars, an Axes per column.

    Each panel is ``(column, levels, probabilities, observed_share)``:
    ``probabilities`` is ``(k, L)``; ``observed_share`` (length L, or None)
    marks the share of each level in the data.  The legend goes under the
    figure (``figure_legend``) or into the first Axes.
    """
    drawn = list(axes)[: len(panels)]
    for ax, (column, levels, probabilities, share) in zip(drawn, panels, strict=True):
        k, n_levels = probabilities.shape
        positions = np.arange(n_levels)
        width = 0.8 / k
        for j in range(k):
            ax.bar(
                positions + (j - (k - 1) / 2) * width,
                probabilities[j],
                width=width,
                color=colour(j),
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
        spec = ax.get_subplotspec()
        if spec is None or spec.is_first_col():
            ax.set_ylabel("probability")
    handles, labels = drawn[0].get_legend_handles_labels()
    figure = drawn[0].get_figure()
    if figure_legend and figure is not None:
        figure.legend(
            handles,
            labels,
            loc="outside lower center",
            ncols=min(len(labels), 6),
            fontsize=8,
            frameon=False,
        )
    else:
        drawn[0].legend(fontsize=7, frameon=False)
    return drawn


# --------------------------------------------------------------------------- images


def image_plot(ax: Axes, image: np.ndarray, title: str | None = None) -> Axes:
    """An RGB image (H x W x 3, uint8) at its own aspect, without axis ticks."""
    ax.imshow(image, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title, fontsize=9)
    return ax


def segment_sizes_plot(ax: Axes, pixels: np.ndarray, colours: np.ndarray) -> Axes:
    """One bar per segment: its share of the pixels, filled with its mean colour (k x 3, 0-255)."""
    segments = np.arange(1, len(pixels) + 1)
    share = np.asarray(pixels, dtype=float) / max(float(np.sum(pixels)), 1.0)
    ax.bar(
        segments, share, color=np.asarray(colours, dtype=float) / 255.0, edgecolor="black", lw=0.6
    )
    ax.set_xticks(segments)
    ax.set_xlabel("segment")
    ax.set_ylabel("share of the pixels")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3, axis="y")
    return ax


# --------------------------------------------------------------------------- simulation


def estimates_plot(axes: Sequence[Axes], replicates: pd.DataFrame) -> list[Axes]:
    """Estimates against the truth, one Axes per scenario (in order), with the line y = x."""
    scenarios = list(dict.fromkeys(replicates["scenario"]))[: len(axes)]
    rng = np.random.default_rng(0)
    drawn = list(axes)[: len(scenarios)]
    for ax, scenario in zip(drawn, scenarios, strict=True):
        part = replicates[replicates["scenario"] == scenario]
        truth = part["truth"].to_numpy(dtype=float)
        estimate = part["estimate"].to_numpy(dtype=float)
        spread = 0.005 * (np.nanmax(truth) - np.nanmin(truth) or 1.0)
        ax.scatter(
            truth + rng.normal(0, spread, truth.size),
            estimate,
            s=6,
            alpha=0.35,
            color=colour(0),
            linewidths=0,
        )
        lo = float(np.nanmin(np.concatenate([truth, estimate])))
        hi = float(np.nanmax(np.concatenate([truth, estimate])))
        ax.plot([lo, hi], [lo, hi], color="black", linewidth=1)
        ax.set_title(str(scenario), fontsize=9)
        ax.set_xlabel("truth")
        ax.set_ylabel("estimate")
        ax.grid(alpha=0.3)
    return drawn


def coverage_labels(summary: pd.DataFrame) -> list[str]:
    """The rows of the coverage plot: "scenario: parameter (component)"."""
    frame = summary.dropna(subset=["coverage"])
    return [_parameter_label(r) for r in frame.itertuples(index=False)]


def coverage_plot(ax: Axes, summary: pd.DataFrame, n_reps: int | None, level: float = 0.95) -> Axes:
    """Coverage per parameter and scenario, with the nominal level's Monte-Carlo band.

    The band is ``level ± 1.96 sqrt(level (1 - level) / R)`` for ``R``
    replicates: where a correct interval's coverage falls 95% of the time.
    """
    frame = summary.dropna(subset=["coverage"]).reset_index(drop=True)
    labels = coverage_labels(frame)
    scenarios = list(dict.fromkeys(frame["scenario"]))
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
            color=colour(j),
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
    return ax


def _parameter_label(row: object) -> str:
    component = getattr(row, "component", None)
    parameter = str(getattr(row, "parameter", ""))
    scenario = str(getattr(row, "scenario", ""))
    try:
        text = parameter if pd.isna(component) else f"{parameter} ({int(component)})"
    except (TypeError, ValueError):
        text = f"{parameter} ({component})"
    return f"{scenario}: {text}"


def k_choice_plot(axes: Sequence[Axes], choices: pd.DataFrame) -> list[Axes]:
    """How often each criterion chose each k, one Axes per scenario (in order).

    ``choices`` has columns ``scenario``, ``criterion``, ``k`` and ``count``.
    """
    scenarios = list(dict.fromkeys(choices["scenario"]))[: len(axes)]
    criteria = list(dict.fromkeys(choices["criterion"]))
    ks = sorted(int(k) for k in choices["k"].unique())
    width = 0.8 / max(len(criteria), 1)
    drawn = list(axes)[: len(scenarios)]
    for ax, scenario in zip(drawn, scenarios, strict=True):
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
                color=colour(j),
                label=str(criterion).upper(),
            )
        ax.set_xticks(np.arange(len(ks)), [str(k) for k in ks])
        ax.set_xlabel("k chosen")
        ax.set_ylabel("replicates")
        ax.set_title(str(scenario), fontsize=9)
        ax.grid(alpha=0.3, axis="y")
    drawn[0].legend(fontsize=7, frameon=False)
    return drawn


def convergence_plot(ax: Axes, replicates: pd.DataFrame) -> Axes:
    """Iterations to convergence per scenario (box plots), one run per replicate."""
    runs = replicates.drop_duplicates(["scenario", "replicate"])
    scenarios = list(dict.fromkeys(runs["scenario"]))
    data = [runs.loc[runs["scenario"] == s, "n_iter"].to_numpy(dtype=float) for s in scenarios]
    ax.boxplot(data, orientation="horizontal", tick_labels=[str(s) for s in scenarios])
    ax.invert_yaxis()
    ax.set_xlabel("EM iterations")
    ax.grid(alpha=0.3, axis="x")
    return ax
