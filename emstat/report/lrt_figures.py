"""Figures of the bootstrap likelihood-ratio test: each test's bootstrap distribution.

As mclust's ``plot.mclustBootstrapLRT``: a density histogram of the bootstrap
statistics with the observed statistic as a vertical line.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from emstat.report.figures import new_figure

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["lrt_histogram", "lrt_plot"]

_OBSERVED = "#228b22"  # mclust's forestgreen


def lrt_histogram(
    boot: np.ndarray, observed: float, k0: int, model: str, ax: Axes | None = None
) -> Figure:
    """The bootstrap statistics of the test of ``k0`` against ``k0 + 1``, and the observed one.

    Draws on ``ax`` when given (its figure is returned), else on a new figure.
    """
    if ax is None:
        fig = new_figure(5.0, 3.2)
        ax = fig.add_subplot()
    values = np.asarray(boot, dtype=float)
    values = values[np.isfinite(values)]
    if values.size:
        # Scott's rule, as mclust's breaks = "Scott"
        ax.hist(values, bins=_scott_bins(values), density=True, color="#bebebe", edgecolor="white")
    if math.isfinite(observed):
        ax.axvline(observed, color=_OBSERVED, linestyle=":", linewidth=2, label="observed")
        ax.legend(fontsize=7, loc="upper right")
    ax.set_xlabel("LRTS")
    ax.set_ylabel("density")
    ax.set_title(f"Bootstrap LRT, model {model}: {k0} vs {k0 + 1} components", fontsize=9)
    figure: Any = ax.get_figure()
    return figure


def _scott_bins(values: np.ndarray) -> int:
    """The number of bins of Scott's rule (at least 1; one for constant values)."""
    spread = float(np.ptp(values))
    sd = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    if spread == 0 or sd == 0:
        return 1
    width = 3.49 * sd * values.size ** (-1 / 3)
    return max(1, math.ceil(spread / width))


def lrt_plot(result: Any) -> Figure:
    """One histogram per test of an :class:`~emstat.mixture.lrt.LRTResult`, side by side."""
    tests = [int(k) for k in result.table["k0"] if int(k) in result.bootstrap]
    columns = min(3, max(1, len(tests)))
    rows = max(1, math.ceil(len(tests) / columns))
    fig = new_figure(4.0 * columns, 3.0 * rows)
    if not tests:
        ax = fig.add_subplot()
        ax.text(0.5, 0.5, "no test was made", ha="center", va="center")
        ax.set_axis_off()
        return fig
    for i, k0 in enumerate(tests):
        ax = fig.add_subplot(rows, columns, i + 1)
        observed = float(result.table.loc[result.table["k0"] == k0, "statistic"].iloc[0])
        lrt_histogram(result.bootstrap[k0], observed, k0, result.model, ax=ax)
    return fig
