"""``result.plot(kind=...)``: the figures of the reports, drawn on the caller's Axes.

Each result's ``plot`` method calls one function here, which picks the
figure by ``kind``, gathers its numbers from the result (and the data it was
fitted to) and draws with :mod:`emstat.report.figures`, the functions the
reports draw with, so a figure looks the same in a notebook and in a report.

Every plot takes ``ax``: one matplotlib Axes, or a sequence (or array) of
them for a figure of several panels (a pair of variables each).  Without
``ax`` a new pyplot figure is made, which Jupyter shows.  Each returns the
Axes it drew on: one Axes, or an array of them for several panels.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import emstat
>>> fit = emstat.fit_mixture(emstat.load_dataset("faithful"), k=3, model="EEE")
>>> ax = fit.plot("trace")
>>> list(ax.lines[0].get_ydata()) == list(fit.trace)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from emstat.errors import InputError
from emstat.report import figures

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from emstat.families.base import ColumnData, ColumnFamily
    from emstat.mixture.family_fit import FamilyMixtureResult
    from emstat.mixture.finite import FamilyData, MixtureTheta
    from emstat.mixture.result import MixtureResult
    from emstat.mixture.selection import SelectionResult
    from emstat.segment.result import SegmentationResult

__all__ = [
    "CATEGORICAL_KINDS",
    "FAMILY_KINDS",
    "MIXTURE_KINDS",
    "SEGMENT_KINDS",
    "SELECTION_KINDS",
    "CountView",
    "MixtureView",
    "count_frequencies",
    "count_view",
    "draw_family_density",
    "draw_mixture",
    "draw_segmentation",
    "draw_selection",
    "family_kinds",
    "family_rows",
    "level_panels",
    "level_shares",
    "mixture_view",
    "plot_categorical",
    "plot_family",
    "plot_mixture",
    "plot_run",
    "plot_segmentation",
    "plot_selection",
    "view_note",
]

#: What ``MixtureResult.plot`` draws.
MIXTURE_KINDS = ("classification", "uncertainty", "density", "trace", "stopping")
#: What ``FamilyMixtureResult.plot`` may draw; a fit offers those its columns have.
FAMILY_KINDS = ("frequency", "density", "levels", "trace", "stopping")
#: What ``SelectionResult.plot`` draws.
SELECTION_KINDS = ("criterion", "criteria")
#: What ``CategoricalResult.plot`` draws.
CATEGORICAL_KINDS = ("trace", "stopping")
#: What ``SegmentationResult.plot`` draws.
SEGMENT_KINDS = ("segmentation", "uncertainty", "sizes", "trace", "stopping")


# --------------------------------------------------------------------------- Axes


def check_kind(kind: Any, kinds: Sequence[str], what: str) -> str:
    """``kind`` if it is one of ``kinds``; else an InputError listing them."""
    if not isinstance(kind, str) or kind not in kinds:
        raise InputError(f"unknown plot kind {kind!r} for {what}; choose {', '.join(kinds)}")
    return kind


def _is_axes(ax: Any) -> bool:
    from matplotlib.axes import Axes

    return isinstance(ax, Axes)


def axes_for(
    ax: Any, n_panels: int, width: float = 6.5, height: float = 3.6, cols: int = 3
) -> list[Axes]:
    """The Axes to draw ``n_panels`` panels on: those in ``ax``, or a new pyplot figure's.

    ``ax`` is None, one Axes (for one panel) or a sequence or array of at
    least ``n_panels`` Axes.
    """
    if ax is None:
        import matplotlib.pyplot as plt

        cols = max(1, min(cols, n_panels))
        rows = math.ceil(n_panels / cols)
        fig = plt.figure(figsize=(width * cols, height * rows), layout="constrained")
        axes = list(np.ravel(fig.subplots(rows, cols, squeeze=False)))
        for extra in axes[n_panels:]:
            extra.set_visible(False)
        return axes[:n_panels]
    given = [ax] if _is_axes(ax) else list(np.ravel(np.asarray(ax, dtype=object)))
    if not all(_is_axes(a) for a in given):
        raise InputError(f"ax must be a matplotlib Axes or a sequence of them, got {ax!r}")
    if len(given) < n_panels:
        raise InputError(
            f"this figure has {n_panels} panels but ax holds {len(given)} Axes; "
            f"pass {n_panels} Axes, or ax=None for a new figure"
        )
    return given[:n_panels]


def returned(drawn: Sequence[Axes]) -> Any:
    """One Axes as itself; several as an array of Axes."""
    if len(drawn) == 1:
        return drawn[0]
    out = np.empty(len(drawn), dtype=object)
    out[:] = list(drawn)
    return out


# --------------------------------------------------------------------------- EM runs


def _run_kinds(trace: np.ndarray, control: Any, n: float | None) -> tuple[str, ...]:
    """ "trace", and "stopping" when the rule has a statistic to draw."""
    stopping = figures.stopping_statistic(trace, control, n) is not None
    return ("trace", "stopping") if stopping else ("trace",)


def plot_run(
    result: Any,
    kind: str,
    ax: Any = None,
    *,
    n: float | None = None,
    ylabel: str = "log-likelihood",
    control: Any = None,
) -> Axes:
    """An EM run's figure: the log-likelihood per iteration, or the stopping statistic."""
    control = control if control is not None else result.control
    (axis,) = axes_for(ax, 1, 6.5, 3.2)
    if kind == "trace":
        return figures.trace_plot(axis, result.trace, ylabel)
    if figures.stopping_statistic(result.trace, control, n) is None:
        raise InputError(
            f"the stopping rule {control.criterion!r} compares the parameters, or the run has "
            "one iteration: there is no statistic to draw; try kind='trace'"
        )
    return figures.stopping_plot(axis, result.trace, control, n)


# --------------------------------------------------------------------------- Gaussian mixtures


def _check_ok(fit: Any) -> None:
    """A degenerate fit has no estimates to draw: one InputError with its reason."""
    if not fit.ok:
        raise InputError(
            f"the {fit.model} fit with k = {fit.k} is degenerate ({fit.degenerate}); "
            "it has nothing to draw but its trace"
        )


@dataclass(frozen=True, eq=False)
class MixtureView:
    """What the figures of a Gaussian fit draw: its rows, their classification, the estimates.

    ``given`` counts the rows before those with a missing cell were left
    out (None when none were); ``labelled`` marks the drawn rows whose class
    was known (a fit with known labels, when the rows can be matched).
    """

    fit: MixtureResult
    values: np.ndarray
    case_weights: np.ndarray | None
    proba: np.ndarray
    given: int | None = None
    labelled: np.ndarray | None = None

    @property
    def labels(self) -> np.ndarray:
        """The most probable component of every row, 1..k, or 0 for the noise component."""
        components = np.arange(1, self.fit.k + 1)
        if self.fit.has_noise:  # predict_proba has the noise's column last
            components = np.append(components, 0)
        return components[np.argmax(self.proba, axis=1)]

    @property
    def uncertainty(self) -> np.ndarray:
        """``1 - max_k z_ik`` of every row."""
        return 1.0 - self.proba.max(axis=1)

    @property
    def means(self) -> np.ndarray:
        return self.fit.means.to_numpy()

    @property
    def covariances(self) -> np.ndarray:
        if self.fit.k == 0:  # the noise-only fit has no Gaussian component
            return np.zeros((0, self.fit.d, self.fit.d))
        return np.stack([self.fit.covariances[j + 1].to_numpy() for j in range(self.fit.k)])


def view_note(view: MixtureView) -> str:
    """A sentence on which rows are drawn when some were left out for missing cells; or ""."""
    if view.given is None or view.given == view.values.shape[0]:
        return ""
    return (
        f"The figures draw the {view.values.shape[0]} complete rows of {view.given} (rows "
        "with a missing value are left out of them, not of the fit)."
    )


def _fitted_rows(fit: MixtureResult) -> tuple[np.ndarray, np.ndarray | None]:
    """The rows the fit keeps (and their case weights), or an InputError asking for ``data``."""
    from emstat.mixture import gaussian
    from emstat.mixture.missing import IncompleteData

    kept = fit.data_
    if isinstance(kept, np.ndarray):
        return kept, None
    if isinstance(kept, gaussian.WeightedRows):
        return kept.x, kept.weights
    if isinstance(kept, IncompleteData):
        return np.asarray(kept.values, dtype=float), None
    if kept is None:
        raise InputError(
            "the fit keeps no data (it was loaded from a file); pass data= (the rows it was "
            "fitted to) to draw them"
        )
    raise InputError("the fit streamed its data from disk; pass data= (its rows, or a sample)")


def _labelled_rows(fit: MixtureResult, index: pd.Index | None, n_given: int) -> np.ndarray | None:
    """Which of ``n_given`` rows (labelled ``index`` when known) had a known class."""
    known = fit.known_labels
    if known is None:
        return None
    if index is not None and known.index is not None:
        if not known.index.is_unique:
            return None
        codes = pd.Series(known.codes, index=known.index).reindex(index)
        return np.asarray(codes.fillna(-1).to_numpy() >= 0)
    return np.asarray(known.known) if known.codes.shape[0] == n_given else None


def mixture_view(fit: MixtureResult, data: Any = None) -> MixtureView:
    """The rows to draw (``data``, else those the fit keeps), classified by the fit.

    Rows with a missing value are left out (the fit classifies them, but a
    point needs every coordinate); the view counts the rows given.
    """
    _check_ok(fit)
    weights = None
    index = None
    if data is None:
        values, weights = _fitted_rows(fit)
    elif isinstance(data, pd.DataFrame):
        missing = [c for c in fit.columns if c not in data.columns]
        if missing:
            raise InputError(f"the data lack the fit's column(s) {missing}")
        values, index = data[fit.columns].to_numpy(dtype=float), data.index
    else:
        values = np.asarray(data, dtype=float)
        values = values.reshape(-1, 1) if values.ndim == 1 else values
        if values.ndim != 2 or values.shape[1] != fit.d:
            raise InputError(f"the fit has {fit.d} columns; the data have shape {values.shape}")
    labelled = _labelled_rows(fit, index, values.shape[0])
    complete = ~np.isnan(values).any(axis=1)
    given = None
    if not complete.all():
        given = values.shape[0]
        values = values[complete]
        weights = None if weights is None else weights[complete]
        labelled = None if labelled is None else labelled[complete]
    if values.shape[0] == 0:
        raise InputError("the data have no rows to draw")
    proba = fit.predict_proba(values).to_numpy()
    return MixtureView(fit, values, weights, proba, given, labelled)


def draw_mixture(
    view: MixtureView, kind: str, axes: Sequence[Axes], max_vars: int = 4, level: float = 0.95
) -> list[Axes]:
    """Draw ``kind`` of :data:`MIXTURE_KINDS` (but trace) on ``axes``: one per pair of variables."""
    fit = view.fit
    if fit.d == 1:
        x, column = view.values[:, 0], fit.columns[0]
        if kind == "classification":
            return _titled([figures.classification_1d_plot(axes[0], x, column, view.labels)], view)
        if kind == "uncertainty":
            drawn = figures.uncertainty_1d_plot(axes[0], x, column, view.labels, view.uncertainty)
            return _titled([drawn], view)
        return [
            figures.density_plot(
                axes[0],
                x,
                column,
                fit.weights.to_numpy(),
                view.means[:, 0],
                view.covariances[:, 0, 0],
                view.case_weights,
                _noise_density(fit),
            )
        ]
    if kind == "classification":
        return _titled(
            figures.classification_plot(
                axes,
                view.values,
                fit.columns,
                view.labels,
                view.means,
                view.covariances,
                max_vars=max_vars,
                level=level,
                ringed=view.labelled,
            ),
            view,
        )
    if kind == "uncertainty":
        return _titled(
            figures.uncertainty_plot(
                axes,
                view.values,
                fit.columns,
                view.labels,
                view.uncertainty,
                view.means,
                view.covariances,
                max_vars,
                ringed=view.labelled,
            ),
            view,
        )
    return figures.density_contour_plot(
        axes,
        view.values,
        fit.columns,
        fit.weights.to_numpy(),
        view.means,
        view.covariances,
        max_vars,
    )


def _noise_density(fit: MixtureResult) -> tuple[float, float] | None:
    """A noise component's proportion and density, for the 1-D density figure; or None."""
    if not fit.has_noise or fit.noise_weight is None or fit.vinv is None:
        return None
    return float(fit.noise_weight), float(fit.vinv)


def _titled(drawn: list[Axes], view: MixtureView) -> list[Axes]:
    """Say on the first panel when the rows drawn are the complete ones of more."""
    if view.given is not None:
        drawn[0].set_title(f"complete rows: {view.values.shape[0]} of {view.given}", fontsize=8)
    return drawn


def mixture_panels(d: int, max_vars: int = 4) -> int:
    """Axes a data figure of a ``d``-variable fit needs: one, or one per pair of variables."""
    return 1 if d == 1 else len(figures.pairs(d, max_vars))


def plot_mixture(
    fit: MixtureResult,
    kind: str = "classification",
    ax: Any = None,
    *,
    data: Any = None,
    max_vars: int = 4,
    level: float = 0.95,
) -> Any:
    """The figures of a Gaussian mixture fit (``MixtureResult.plot``).

    Parameters
    ----------
    fit
        The fit.
    kind
        ``"classification"`` (points coloured by component, with ``level``
        ellipses, a panel per pair of the first ``max_vars`` variables; in
        1-D each value on its component's row), ``"uncertainty"`` (the same,
        points sized by ``1 - max z``), ``"density"`` (contours of each
        pair's mixture density over the data; in 1-D the density and its
        components over a histogram), ``"trace"`` (log-likelihood per
        iteration) or ``"stopping"`` (the stopping statistic against ``tol``).
    ax
        An Axes, or one per panel (see :func:`axes_for`); None: a new figure.
    data
        The rows to draw (a DataFrame with the fit's columns, or an array);
        default the rows the fit keeps.

    Returns
    -------
    The Axes drawn on, or an array of them (one per pair of variables).
    """
    check_kind(kind, MIXTURE_KINDS, "a Gaussian mixture fit")
    if kind in ("trace", "stopping"):
        return plot_run(fit, kind, ax, n=fit.n)
    view = mixture_view(fit, data)
    size = (6.5, 3.6) if fit.d == 1 else ((3.3, 3.0) if fit.d > 2 else (5.0, 4.5))
    axes = axes_for(ax, mixture_panels(fit.d, max_vars), *size)
    return returned(draw_mixture(view, kind, axes, max_vars, level))


# --------------------------------------------------------------------------- selections


def draw_selection(
    selection: SelectionResult,
    kind: str,
    ax: Axes,
    criterion: str | None = None,
    convention: str | None = None,
) -> Axes:
    """Draw a selection's criterion against k on ``ax``.

    ``"criterion"``: one line per covariance model (mclust's BIC plot), the
    chosen fit circled.  ``"criteria"``: BIC, AIC and ICL of the first model
    (a family) against k, the chosen k circled.
    """
    convention = convention or selection.convention
    sign = "larger" if convention == "mclust" else "smaller"
    best = selection.best
    if kind == "criterion":
        name = criterion or selection.criterion
        table = selection.table_for(name, convention)  # type: ignore[arg-type]
        ylabel = f"{name.upper()} ({sign} is better)"
        top = best if name == selection.criterion else selection.best_for(name)
        return figures.criterion_plot(ax, table, ylabel, (top.k, top.model))
    model = selection.models[0]
    table = pd.DataFrame(
        {
            name.upper(): selection.table_for(name, convention)[model]  # type: ignore[arg-type]
            for name in ("bic", "aic", "icl")
        }
    )
    chosen = (best.k, selection.criterion.upper())
    return figures.criterion_plot(ax, table, f"criterion ({sign} is better)", chosen)


def plot_selection(
    selection: SelectionResult,
    kind: str = "criterion",
    ax: Any = None,
    *,
    criterion: str | None = None,
    convention: str | None = None,
) -> Axes:
    """A selection's criterion against k (``SelectionResult.plot``), as mclust's BIC plot.

    Parameters
    ----------
    kind
        ``"criterion"`` (``criterion``, default the selection's, one line per
        covariance model) or ``"criteria"`` (BIC, AIC and ICL of the first
        model or family, one line each).
    criterion
        ``"bic"``, ``"aic"`` or ``"icl"``.
    convention
        ``"smaller"`` or ``"mclust"`` (default the selection's).

    Returns
    -------
    The Axes; its lines hold ``selection.table_for(criterion)`` column by column.
    """
    check_kind(kind, SELECTION_KINDS, "a selection")
    if criterion is not None and criterion not in ("bic", "aic", "icl"):
        raise InputError(f"unknown criterion {criterion!r}; choose bic, aic or icl")
    if convention is not None and convention not in ("smaller", "mclust"):
        raise InputError(f"unknown convention {convention!r}; choose 'smaller' or 'mclust'")
    (axis,) = axes_for(ax, 1, 7.0, 4.2)
    return draw_selection(selection, kind, axis, criterion, convention)


# --------------------------------------------------------------------------- other families


def family_rows(fit: FamilyMixtureResult, data: Any = None) -> FamilyData | None:
    """The rows fitted: those the fit kept, else ``data`` encoded by the fit's family."""
    from emstat.mixture.family_fit import as_frame
    from emstat.mixture.finite import FamilyData

    if fit.data_ is not None:
        return fit.data_
    if data is None:
        return None
    encoded = FamilyData(fit.family.encode(as_frame(data)))
    if encoded.n != fit.n_rows or not math.isclose(encoded.total_weight(), fit.n):
        raise InputError(
            f"the data have {encoded.n} rows, but the fit was made from {fit.n_rows} rows of "
            f"total weight {fit.n:g}; pass the rows it was fitted to (without case weights)"
        )
    return encoded


def _estimates(fit: FamilyMixtureResult) -> MixtureTheta:
    _check_ok(fit)
    if fit.theta is None:  # a fit without a degeneracy always has estimates
        raise InputError(f"the fit with k = {fit.k} has no estimates")
    return fit.theta


def _case_weights(rows: FamilyData) -> np.ndarray:
    return np.ones(rows.n) if rows.case_weights is None else rows.case_weights


def count_frequencies(
    part: ColumnFamily,
    theta: np.ndarray,
    weights: np.ndarray,
    block: ColumnData,
    case_weights: np.ndarray,
    counts: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed and expected frequency of every count of one count column.

    The expected frequency of count ``c`` in component ``j`` is
    ``weights[j] * sum_i w_i f_j(c | row i)``, over the rows where the column
    is observed, each row with its own trials or exposure and case weight
    ``w_i``; the mixture's is the sum over components.

    Returns
    -------
    observed : ndarray, shape (len(counts),)
        Total case weight of the rows holding each count.
    expected : ndarray, shape (len(counts), k)
        Each component's expected frequency, times its weight.
    """
    from emstat.families.base import ColumnData

    seen = block.observed
    rows = block.take(seen)
    w = case_weights[seen]
    observed = np.array([w[rows.values == c].sum() for c in counts], dtype=float)
    expected = np.empty((len(counts), len(weights)))
    for i, c in enumerate(counts):
        at = ColumnData(np.full(rows.values.shape, float(c)), rows.extra)
        log_f = part.log_density(theta, at)
        # a count beyond a row's trials has density 0 (log -inf, or NaN from gammaln)
        density = np.where(np.isfinite(log_f), np.exp(np.where(np.isfinite(log_f), log_f, 0)), 0)
        expected[i] = weights * (w @ density)
    return observed, expected


def level_shares(block: ColumnData, case_weights: np.ndarray, n_levels: int) -> np.ndarray:
    """The share of each level among the observed cells of a categorical column (weighted)."""
    seen = block.observed
    w = case_weights[seen]
    return np.bincount(block.values[seen].astype(int), weights=w, minlength=n_levels) / w.sum()


@dataclass(frozen=True)
class CountView:
    """A count column's observed and expected frequencies, as its figure draws them."""

    column: str
    counts: np.ndarray
    observed: np.ndarray
    expected: np.ndarray  # (len(counts), k): each component's, times its weight
    weighted: bool

    def draw(self, ax: Axes) -> Axes:
        ylabel = "frequency (case weights)" if self.weighted else "rows"
        return figures.count_frequency_plot(
            ax, self.counts, self.observed, self.expected, self.column, ylabel
        )


def count_view(fit: FamilyMixtureResult, j: int, rows: FamilyData) -> CountView:
    """The frequencies of counts 0..max of count column ``j``."""
    part, block = fit.family.parts[j], rows.blocks[j]
    theta = _estimates(fit)
    values = block.values[block.observed]
    counts = np.arange(0, int(values.max()) + 1)
    observed, expected = count_frequencies(
        part, theta.components[j], theta.weights, block, _case_weights(rows), counts
    )
    return CountView(part.column, counts, observed, expected, rows.case_weights is not None)


def draw_family_density(ax: Axes, fit: FamilyMixtureResult, j: int, rows: FamilyData) -> Axes:
    """Normal column ``j``: the mixture density and its components over a histogram."""
    part, block = fit.family.parts[j], rows.blocks[j]
    theta = _estimates(fit)
    seen = block.observed
    return figures.density_plot(
        ax,
        block.values[seen],
        part.column,
        theta.weights,
        theta.components[j][:, 0],
        theta.components[j][:, 1],
        _case_weights(rows)[seen] if rows.case_weights is not None else None,
    )


def _level_text(level: Any) -> str:
    return str(int(level)) if isinstance(level, float) and level.is_integer() else str(level)


def level_panels(
    fit: FamilyMixtureResult, columns: Sequence[int], rows: FamilyData
) -> list[tuple[str, list[str], np.ndarray, np.ndarray]]:
    """Categorical columns ``columns``: (column, levels, probabilities (k, L), observed share)."""
    theta = _estimates(fit)
    panels = []
    for j in columns:
        part = fit.family.parts[j]
        levels = list(getattr(part, "levels", None) or [])
        share = level_shares(rows.blocks[j], _case_weights(rows), len(levels))
        panels.append((part.column, [_level_text(v) for v in levels], theta.components[j], share))
    return panels


#: The kind of figure each column family draws.
_COLUMN_KIND = {
    "poisson": "frequency",
    "binomial": "frequency",
    "normal": "density",
    "categorical": "levels",
}


def family_kinds(fit: FamilyMixtureResult) -> tuple[str, ...]:
    """The kinds ``fit.plot`` draws: those of its columns' families, then the run's."""
    columns = {_COLUMN_KIND.get(p.name) for p in fit.family.parts}
    return (
        *(k for k in FAMILY_KINDS if k in columns),
        *_run_kinds(fit.trace, fit.control, fit.n),
    )


def _family_columns(fit: FamilyMixtureResult, kind: str, column: Any) -> list[int]:
    """Positions of the columns ``kind`` draws: ``column`` (a name or names), else all of them."""
    drawn = [j for j, p in enumerate(fit.family.parts) if _COLUMN_KIND.get(p.name) == kind]
    if column is None:
        return drawn if kind == "levels" else drawn[:1]
    names = [column] if isinstance(column, str) else list(column)
    positions = []
    for name in names:
        found = [j for j in drawn if fit.family.parts[j].column == name]
        if not found:
            choices = ", ".join(fit.family.parts[j].column for j in drawn)
            raise InputError(f"kind={kind!r} draws column(s) {choices}; not {name!r}")
        positions.append(found[0])
    return positions


def plot_family(
    fit: FamilyMixtureResult,
    kind: str | None = None,
    ax: Any = None,
    *,
    data: Any = None,
    column: Any = None,
) -> Any:
    """The figures of a mixture of a component family (``FamilyMixtureResult.plot``).

    Parameters
    ----------
    kind
        ``"frequency"`` (a count column: observed frequency of every count
        against the fitted mixture's and each component's), ``"density"``
        (a normal column over its histogram), ``"levels"`` (categorical
        columns: each level's probability in each component, a panel per
        column), ``"trace"`` or ``"stopping"``; default the first its
        columns have.  An unknown kind or one the fit has no column for is
        an InputError that lists those it has.
    column
        The column to draw (for ``"levels"``, a name or a list of them);
        default the first (all categorical ones for ``"levels"``).
    data
        The rows fitted, when the fit keeps none (loaded from a file).

    Returns
    -------
    The Axes drawn on (an array of them for several level panels).
    """
    kinds = family_kinds(fit)
    kind = check_kind(kinds[0] if kind is None else kind, kinds, f"this {fit.model} fit")
    if kind in ("trace", "stopping"):
        return plot_run(fit, kind, ax, n=fit.n)
    rows = family_rows(fit, data)
    if rows is None:
        raise InputError(
            "the fit keeps no data (it was loaded from a file); pass data= (the rows it was "
            "fitted to) to draw them"
        )
    positions = _family_columns(fit, kind, column)
    if kind == "levels":
        axes = axes_for(ax, len(positions), 3.5, 2.8)
        panels = level_panels(fit, positions, rows)
        return returned(figures.level_probability_plot(axes, panels, figure_legend=False))
    (axis,) = axes_for(ax, 1, 6.5, 3.6)
    if kind == "frequency":
        return count_view(fit, positions[0], rows).draw(axis)
    return draw_family_density(axis, fit, positions[0], rows)


# --------------------------------------------------------------------------- categorical


def plot_categorical(result: Any, kind: str = "trace", ax: Any = None) -> Axes:
    """An incomplete-table fit's EM run (``CategoricalResult.plot``): ``"trace"`` or ``"stopping"``.

    The trace is the log-likelihood, or the log-posterior under a prior.
    """
    control = result.em.control
    kinds = _run_kinds(result.trace, control, result.n_units)
    check_kind(kind, kinds, "a categorical fit")
    ylabel = "log-likelihood" if result.prior == 1 else "log-posterior"
    return plot_run(result, kind, ax, n=result.n_units, ylabel=ylabel, control=control)


# --------------------------------------------------------------------------- images


def draw_segmentation(result: SegmentationResult, kind: str, axes: Sequence[Axes]) -> list[Axes]:
    """Draw ``"segmentation"`` (two Axes: image, segments), ``"uncertainty"`` or ``"sizes"``."""
    if kind == "segmentation":
        return [
            figures.image_plot(axes[0], result.picture.rgb, "image"),
            figures.image_plot(
                axes[1], result.segmented_image(), f"{result.k} segments, mean colours"
            ),
        ]
    if kind == "uncertainty":
        ax = axes[0]
        shown = ax.imshow(result.uncertainty, cmap="magma", vmin=0.0, interpolation="nearest")
        ax.set_axis_off()
        ax.set_title("uncertainty 1 − max z", fontsize=9)
        figure = ax.get_figure()
        if figure is not None:
            figure.colorbar(shown, ax=ax, shrink=0.8)
        return [ax]
    return [figures.segment_sizes_plot(axes[0], result.pixels, result.colours)]


def plot_segmentation(
    result: SegmentationResult, kind: str = "segmentation", ax: Any = None
) -> Any:
    """The figures of an image segmentation (``SegmentationResult.plot``).

    ``"segmentation"``: the image beside its segmentation (two Axes);
    ``"uncertainty"``: each pixel's ``1 - max z``; ``"sizes"``: each
    segment's share of the pixels, in its mean colour; ``"trace"`` and
    ``"stopping"``: the EM run of the fit.
    """
    kinds = SEGMENT_KINDS[:3] + _run_kinds(result.fit.trace, result.fit.control, result.fit.n)
    check_kind(kind, kinds, "an image segmentation")
    if kind in ("trace", "stopping"):
        return plot_run(result.fit, kind, ax, n=result.fit.n)
    height, width = result.shape
    aspect = height / max(width, 1)
    n_panels = 2 if kind == "segmentation" else 1
    size = (5.0, 5.0 * aspect + 0.4) if kind != "sizes" else (5.0, 3.2)
    return returned(draw_segmentation(result, kind, axes_for(ax, n_panels, *size)))
