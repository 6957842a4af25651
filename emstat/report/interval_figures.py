"""Figures of a study that compares interval methods: coverage per method with its error."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from emstat.report.figures import _MARKERS, _parameter_label, colour, new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["interval_coverage_plot"]

_Z = 1.959963984540054


def interval_coverage_plot(
    by_method: pd.DataFrame, level: float = 0.95, ax: Axes | None = None
) -> Figure:
    """Coverage of each method per parameter, ±1.96 Monte Carlo standard errors, and the level.

    ``by_method`` is :func:`emstat.simulation.summarise.interval_summary`'s
    long table (scenario, component, parameter, method, coverage, coverage_se).
    """
    frame = by_method.dropna(subset=["coverage"])
    keys = frame[["scenario", "component", "parameter"]].drop_duplicates()
    labels = [_parameter_label(r) for r in keys.itertuples(index=False)]
    methods = list(dict.fromkeys(frame["method"]))
    if ax is None:
        fig = new_figure(7.0, max(2.8, 0.3 * len(labels) * max(1, len(methods)) ** 0.5 + 1.2))
        ax = fig.add_subplot()
    position = {tuple(k): i for i, k in enumerate(keys.itertuples(index=False, name=None))}
    step = 0.7 / max(1, len(methods))
    for j, method in enumerate(methods):
        rows = frame[frame["method"] == method]
        y = np.array(
            [position[(r.scenario, r.component, r.parameter)] for r in rows.itertuples()], float
        )
        y += (j - (len(methods) - 1) / 2) * step
        ax.errorbar(
            rows["coverage"],
            y,
            xerr=_Z * rows["coverage_se"].fillna(0.0),
            fmt=_MARKERS[j % len(_MARKERS)],
            color=colour(j),
            markersize=4,
            capsize=2,
            linewidth=1,
            label=str(method),
        )
    ax.axvline(level, color="black", linewidth=1, label=f"nominal {level:g}")
    ax.set_yticks(np.arange(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel(f"coverage of the {level:.0%} interval (±1.96 Monte Carlo SE)")
    low = (
        float((frame["coverage"] - _Z * frame["coverage_se"].fillna(0)).min())
        if len(frame)
        else 0.5
    )
    ax.set_xlim(min(0.8, low - 0.02), 1.01)
    ax.grid(alpha=0.3, axis="x")
    ax.legend(fontsize=7, loc="best", frameon=True, framealpha=0.9)
    figure = ax.get_figure()
    return figure  # type: ignore[return-value]
