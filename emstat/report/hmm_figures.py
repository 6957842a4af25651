"""Figures of hidden Markov models: pure functions that draw on an Axes and return it.

Each function takes the numbers to draw and ``ax=``; without one it makes a
:class:`matplotlib.figure.Figure` of its own on an Agg canvas (no ``pyplot``
state), so drawing never opens a window nor touches the caller's current
figure.  ``ax.figure`` is the figure to save.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn, not with emstat
    from matplotlib.axes import Axes

__all__ = [
    "STATE_COLOURS",
    "discrete_emission_plot",
    "gaussian_emission_plot",
    "new_axes",
    "state_colour",
    "state_path_plot",
    "transition_matrix_plot",
]

#: One colour per state (state j, 0-based, gets ``STATE_COLOURS[j % len]``).
STATE_COLOURS = (
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
)


def state_colour(j: int) -> str:
    """The colour of state ``j`` (0-based) in every HMM figure."""
    return STATE_COLOURS[j % len(STATE_COLOURS)]


def new_axes(width: float = 6.5, height: float = 3.2) -> Axes:
    """One Axes on a new Figure of ``width`` x ``height`` inches (Agg canvas, no pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig.add_subplot()


def _runs(states: np.ndarray) -> list[tuple[int, int, int]]:
    """Maximal runs of equal states: (first index, last index + 1, state)."""
    if states.size == 0:
        return []
    edges = np.flatnonzero(np.diff(states)) + 1
    starts = np.concatenate([[0], edges])
    stops = np.concatenate([edges, [states.size]])
    return [(int(a), int(b), int(states[a])) for a, b in zip(starts, stops, strict=True)]


def state_path_plot(
    time: np.ndarray,
    values: np.ndarray,
    states: np.ndarray,
    k: int,
    *,
    ylabel: str = "value",
    xlabel: str = "time",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A series with the background shaded by its decoded state (one colour per state).

    Parameters
    ----------
    time
        Position of each step (drawn in this order).
    values
        The observed value at each step; NaN (a missing observation) leaves
        a gap in the line, its step still shaded.
    states
        The state of each step, 0-based (the Viterbi path).
    k
        Number of states (for the legend: every state is listed).
    ax
        Where to draw; a new figure when None.
    """
    from matplotlib.patches import Patch

    if ax is None:
        ax = new_axes(7.0, 2.6)
    time = np.asarray(time, dtype=float)
    values = np.asarray(values, dtype=float)
    states = np.asarray(states, dtype=int)
    half = np.diff(time).min() / 2 if time.size > 1 else 0.5
    for start, stop, state in _runs(states):
        ax.axvspan(
            time[start] - half,
            time[stop - 1] + half,
            color=state_colour(state),
            alpha=0.22,
            linewidth=0,
        )
    ax.plot(time, values, color="black", linewidth=0.7, marker="." if time.size <= 200 else None)
    if time.size:
        ax.set_xlim(time[0] - half, time[-1] + half)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title, fontsize=9)
    handles = [Patch(color=state_colour(j), alpha=0.35, label=f"state {j + 1}") for j in range(k)]
    ax.legend(
        handles=handles,
        fontsize=7,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
    )
    return ax


def transition_matrix_plot(
    matrix: np.ndarray, labels: Sequence[str] | None = None, *, ax: Axes | None = None
) -> Axes:
    """The transition matrix as a heat map, each cell written out (rows: from, columns: to)."""
    matrix = np.asarray(matrix, dtype=float)
    k = matrix.shape[0]
    if ax is None:
        side = min(6.0, 1.6 + 0.7 * k)
        ax = new_axes(side + 0.8, side)
    labels = list(labels) if labels is not None else [str(j + 1) for j in range(k)]
    image = ax.imshow(matrix, vmin=0.0, vmax=1.0, cmap="Blues")
    for i in range(k):
        for j in range(k):
            value = matrix[i, j]
            ax.text(
                j,
                i,
                f"{value:.3f}",
                ha="center",
                va="center",
                fontsize=8 if k <= 6 else 6,
                color="white" if value > 0.6 else "black",
            )
    ax.set_xticks(range(k), labels)
    ax.set_yticks(range(k), labels)
    ax.set_xlabel("to state")
    ax.set_ylabel("from state")
    ax.figure.colorbar(image, ax=ax, shrink=0.8, label="probability")
    return ax


def _grid(x: np.ndarray, means: np.ndarray, sds: np.ndarray) -> np.ndarray:
    lo = min(float(np.min(x)) if x.size else math.inf, float(np.min(means - 3.5 * sds)))
    hi = max(float(np.max(x)) if x.size else -math.inf, float(np.max(means + 3.5 * sds)))
    return np.linspace(lo, hi, 400)


def gaussian_emission_plot(
    x: np.ndarray,
    means: np.ndarray,
    variances: np.ndarray,
    shares: np.ndarray,
    *,
    column: str = "x",
    ax: Axes | None = None,
) -> Axes:
    """One column: each state's normal emission density, scaled by its share, over a histogram.

    ``shares`` are the states' shares of the steps (the mean posterior
    probability of each state), so the dashed curves add up to the black one,
    the density of a step's value with its state unknown.
    """
    if ax is None:
        ax = new_axes()
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    means = np.asarray(means, dtype=float)
    sds = np.sqrt(np.asarray(variances, dtype=float))
    shares = np.asarray(shares, dtype=float)
    if x.size:
        ax.hist(x, bins="fd", density=True, color="#cccccc", edgecolor="white", label="data")
    grid = _grid(x, means, sds)
    parts = np.array(
        [
            w * np.exp(-0.5 * ((grid - m) / s) ** 2) / (s * math.sqrt(2 * math.pi))
            for w, m, s in zip(shares, means, sds, strict=True)
        ]
    )
    for j, part in enumerate(parts):
        ax.plot(grid, part, color=state_colour(j), linestyle="--", label=f"state {j + 1}")
    ax.plot(grid, parts.sum(axis=0), color="black", linewidth=1.6, label="all states")
    ax.set_xlabel(column)
    ax.set_ylabel("density")
    ax.legend(fontsize=7, frameon=False)
    return ax


def discrete_emission_plot(
    levels: Sequence[str],
    probabilities: np.ndarray,
    observed: np.ndarray | None = None,
    *,
    column: str = "x",
    ylabel: str = "probability",
    ax: Axes | None = None,
) -> Axes:
    """Each state's probability of each level or count (grouped bars); the data's shares as dots.

    ``probabilities`` is ``(k, L)``; ``observed`` (length L) the share of each
    level among the observed steps.
    """
    probabilities = np.asarray(probabilities, dtype=float)
    k, n_levels = probabilities.shape
    if ax is None:
        ax = new_axes(max(4.0, min(9.0, 1.5 + 0.18 * k * n_levels)), 3.2)
    positions = np.arange(n_levels)
    width = 0.8 / k
    for j in range(k):
        ax.bar(
            positions + (j - (k - 1) / 2) * width,
            probabilities[j],
            width=width,
            color=state_colour(j),
            label=f"state {j + 1}",
        )
    if observed is not None:
        ax.scatter(positions, observed, marker="D", color="black", s=16, zorder=3, label="data")
    step = max(1, math.ceil(n_levels / 25))
    ax.set_xticks(positions[::step], [str(v) for v in list(levels)[::step]], fontsize=8)
    ax.set_xlabel(column)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=7, frameon=False)
    return ax
