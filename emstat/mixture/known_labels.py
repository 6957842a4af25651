r"""Known labels: semi-supervised Gaussian mixtures, as mclust's ``MclustSSC``.

Some rows come with the class the analyst already knows; the others (NaN or
None in the labels) are to be inferred.  Class ``c`` (the ``c``-th of the
classes in sorted order, as R's ``factor`` levels; a pandas ``Categorical``
keeps its own order) is component ``c``; components beyond the classes are
unlabelled ones.

The log-likelihood is that of the data and the known labels together,
``L`` the labelled rows and ``U`` the others::

    loglik = sum_{i in L} log(pi_{c_i} f_{c_i}(x_i)) + sum_{i in U} log sum_k pi_k f_k(x_i)

EM maximises exactly this (it is the objective, and the log-likelihood of
BIC, AIC and ICL): a labelled row's responsibilities stay fixed at its
class, an unlabelled row's are inferred, and the M-step is the usual one on
all rows (so the mixing weights count the labelled rows too).  BIC's
parameter count is the usual one of k components and its n every row.

It is a layer: :class:`KnownLabelsModel` wraps the Gaussian mixture model;
its E-step is the inner E-step on the unlabelled rows plus the labelled
rows' statistics, computed once, and their log-likelihood at their class,
computed from per-class statistics (so each iteration costs nothing more
than an E-step of the unlabelled rows).

mclust 6.0's ``MclustSSC`` starts with an M-step from the labelled rows at
their class and every other row at ``1/G`` in each component, stops when
the log-likelihood gains at most ``tol = 1e-5`` (absolute) and does not use
``hc``; so does a fit here (:data:`LABELS_CONTROL`).  Its reported
classification comes from the responsibilities of the E-step before its last
M-step; here it comes from the final parameters (the two differ only for a
row on a boundary that EM was still moving).  Its BIC counts, for G above
the number of classes, the means and covariance parameters of the classes
only; here every component's parameters count.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from emstat._validation import describe_labels
from emstat.engine import EMControl, EMResult, fit_em
from emstat.errors import InputError
from emstat.mixture import gaussian
from emstat.mixture.covariance import CovarianceModel, default_models
from emstat.mixture.gaussian import GaussianParams, GaussianStats, WeightedRows
from emstat.mixture.model import GaussianMixtureModel

if TYPE_CHECKING:
    from emstat.mixture.fit import MixtureFitter
    from emstat.mixture.result import MixtureResult

__all__ = [
    "LABELS_CONTROL",
    "OBJECTIVE_TEXT",
    "KnownLabels",
    "KnownLabelsModel",
    "fit_known_labels",
    "labels_from_payload",
    "prepare_labels",
    "ssc_k",
    "ssc_models",
]

#: MclustSSC's stopping rule: emControl()'s tol[1] on the absolute change of the log-likelihood.
LABELS_CONTROL = EMControl(tol=1e-5, criterion="abs")

#: What EM maximises with known labels, and what BIC uses, in words.
OBJECTIVE_TEXT = (
    "loglik = sum over labelled rows of log(pi_c f_c(x)) + sum over unlabelled rows of "
    "log sum_k pi_k f_k(x) (mclust's MclustSSC): the objective EM maximises and the "
    "log-likelihood of BIC, AIC and ICL"
)

_LOG_2PI = math.log(2.0 * math.pi)
# mclust's MclustSSC drops these from its model list when n <= d.
_SSC_DROPPED_SMALL_N = ("EEE", "EEV", "VEV", "VVV")


@dataclass(frozen=True)
class KnownLabels:
    """The labels of a fit: the classes in component order and each row's class.

    ``codes[i]`` is row i's class (0-based: component ``codes[i] + 1``) or -1
    when unknown.  After a fit, ``components`` holds every row's component
    (0-based): the known class, or the most probable component.
    """

    classes: tuple[Any, ...]
    codes: np.ndarray
    index: pd.Index | None = None
    components: np.ndarray | None = None

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    @property
    def known(self) -> np.ndarray:
        """True for the rows whose class is known."""
        return self.codes >= 0

    @property
    def n_known(self) -> int:
        return int(self.known.sum())

    def counts(self) -> np.ndarray:
        """Labelled rows per class."""
        return np.bincount(self.codes[self.known], minlength=self.n_classes)

    def names(self, k: int) -> list[str]:
        """Each component's name: its class, or ``class{j}`` beyond the classes (mclust's)."""
        return [str(c) for c in self.classes] + [
            f"class{j}" for j in range(self.n_classes + 1, k + 1)
        ]

    @property
    def classification(self) -> pd.Series:
        """Every row's class (the component's name beyond the classes), aligned to the rows."""
        components = self._fitted()
        names = np.array(self.names(int(components.max(initial=0)) + 1), dtype=object)
        return pd.Series(names[components], index=self.index, name="class")

    @property
    def component(self) -> pd.Series:
        """Every row's component (1..k): its known class, or the most probable one."""
        return pd.Series(self._fitted() + 1, index=self.index, name="component")

    def _fitted(self) -> np.ndarray:
        if self.components is None:
            raise InputError("the classification is not kept in a saved fit; refit for it")
        return self.components

    def describe(self, n: float) -> str:
        """One line for a summary: how many rows were labelled, and each class's component."""
        counts = self.counts()
        mapping = ", ".join(f"{c!s} -> {j + 1} ({counts[j]})" for j, c in enumerate(self.classes))
        return (
            f"known labels: {self.n_known} of {n:g} rows labelled, {self.n_classes} classes "
            f"(class -> component (labelled rows)): {mapping}"
        )

    def to_payload(self) -> dict[str, Any]:
        """What a saved fit keeps: the classes and the labelled rows per class."""
        return {
            "classes": [_plain(c) for c in self.classes],
            "counts": [int(v) for v in self.counts()],
        }


def labels_from_payload(payload: Any) -> KnownLabels:
    """The labels a saved fit kept (classes and counts; no rows), checked."""
    if not isinstance(payload, dict):
        raise InputError(f"known_labels must be an object, got {type(payload).__name__}")
    classes, counts = payload.get("classes"), payload.get("counts")
    if not isinstance(classes, list) or not classes:
        raise InputError(f"known_labels.classes must be a non-empty list, got {classes!r}")
    if (
        not isinstance(counts, list)
        or len(counts) != len(classes)
        or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in counts)
    ):
        raise InputError(
            f"known_labels.counts must be one whole number >= 1 per class, got {counts!r}"
        )
    codes = np.repeat(np.arange(len(classes)), counts)  # the rows' order is not kept
    return KnownLabels(tuple(classes), codes)


def _plain(value: Any) -> Any:
    """A class as JSON holds it (numpy scalars become Python's)."""
    return value.item() if isinstance(value, np.generic) else value


# --------------------------------------------------------------------------- #
# input
# --------------------------------------------------------------------------- #


def prepare_labels(
    data: Any,
    labels: Any,
    columns: Sequence[str] | None,
    *,
    weights: Any = None,
    init: Any = None,
    n_init: int = 1,
    out_of_core: bool = False,
) -> tuple[Sequence[str] | None, KnownLabels]:
    """Validate ``labels`` against ``data``; return the columns to model and the labels.

    ``labels`` is a column name of a DataFrame (that column is not modelled),
    a Series (matched to the data's rows by index) or one value per row;
    NaN or None marks a row whose class is unknown.  Rows left out for a
    case weight of 0 are left out of the labels too.
    """
    if out_of_core:
        raise InputError("labels need the data in memory (a DataFrame or an array)")
    if init is not None:
        raise InputError(
            "init cannot be combined with labels: a labelled fit starts as mclust's "
            "MclustSSC (labelled rows at their class, the others 1/k in each component)"
        )
    if n_init != 1:
        raise InputError("n_init > 1 cannot be combined with labels: their start is fixed")
    frame = _frame_of(data, labels)
    values, categories, columns = _label_values(frame, labels, columns, weights)
    if weights is not None:
        from emstat.mixture.family_fit import case_weights

        row_weights = case_weights(frame, weights)
        if row_weights is not None:
            keep = row_weights > 0  # prepare_data leaves these rows out
            values, frame = values[keep], frame[keep]
    classes, codes = _encode(values, categories)
    return columns, KnownLabels(classes, codes, frame.index)


def labels_option(
    data: Any,
    labels: Any,
    columns: Sequence[str] | None,
    *,
    family: Any,
    noise: bool,
    weights: Any = None,
    init: Any = None,
    n_init: int = 1,
    out_of_core: bool = False,
) -> tuple[Sequence[str] | None, KnownLabels | None, EMControl | None]:
    """``labels=`` of a fit or selection: the columns to model, the labels and their rule.

    Without labels: the columns as given and no labels or rule.
    """
    if labels is None:
        return columns, None, None
    from emstat.families import is_gaussian

    if not is_gaussian(family):
        raise InputError("labels serve the Gaussian family only")
    if noise:
        raise InputError("known labels and a noise component cannot be combined yet")
    columns, known = prepare_labels(
        data, labels, columns, weights=weights, init=init, n_init=n_init, out_of_core=out_of_core
    )
    return columns, known, LABELS_CONTROL


def _frame_of(data: Any, labels: Any) -> pd.DataFrame:
    """The data as a DataFrame, to align and count rows (an array keeps its positions)."""
    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(labels, str):
        raise InputError(
            f"labels={labels!r} names a column, but the data are a {type(data).__name__}, "
            "not a DataFrame; pass the labels themselves (one per row)"
        )
    if isinstance(data, pd.Series):
        return data.to_frame()
    array = np.asarray(data)
    if array.ndim not in (1, 2):
        raise InputError(f"data must be 1-D or 2-D, got an array with {array.ndim} dimensions")
    return pd.DataFrame(array.reshape(array.shape[0], -1))


def _label_values(
    frame: pd.DataFrame, labels: Any, columns: Sequence[str] | None, weights: Any
) -> tuple[np.ndarray, list[Any] | None, Sequence[str] | None]:
    """One label per row of ``frame`` (object array), its declared categories, the columns."""
    if isinstance(labels, str):
        if labels not in frame.columns:
            raise InputError(
                f"no labels column {labels!r} in the data; its columns are "
                f"{describe_labels([str(c) for c in frame.columns], 20)}"
            )
        if columns is None:
            skipped = {labels, weights} if isinstance(weights, str) else {labels}
            columns = [str(c) for c in frame.columns if c not in skipped]
        elif labels in columns:
            raise InputError(f"column {labels!r} is both modelled and used as labels")
        return (*_object_values(frame[labels]), columns)
    if isinstance(labels, pd.DataFrame):
        raise InputError("labels must be one value per row (a Series, list or array), not a table")
    if isinstance(labels, pd.Series):
        return (*_object_values(_aligned(labels, frame.index)), columns)
    categories = list(labels.categories) if isinstance(labels, pd.Categorical) else None
    array = np.asarray(labels, dtype=object)
    if array.ndim != 1:
        raise InputError(f"labels must be one value per row, got shape {array.shape}")
    if array.shape[0] != frame.shape[0]:
        raise InputError(
            f"labels have {array.shape[0]} values; the data have {frame.shape[0]} rows"
        )
    return array, categories, columns


def _aligned(labels: pd.Series, index: pd.Index) -> pd.Series:
    """A labels Series in the data's row order (its index must hold the same rows)."""
    if labels.index.equals(index):
        return labels
    if len(labels) != len(index):
        raise InputError(f"labels have {len(labels)} values; the data have {len(index)} rows")
    unmatched = [label for label in labels.index if label not in index]
    unmatched += [label for label in index if label not in labels.index]
    if unmatched or not (labels.index.is_unique and index.is_unique):
        shown = describe_labels(unmatched) if unmatched else "a repeated label"
        raise InputError(
            f"the labels' index does not match the data's rows ({shown}); "
            "pass labels.to_numpy() to use them by position"
        )
    return labels.reindex(index)


def _object_values(series: pd.Series) -> tuple[np.ndarray, list[Any] | None]:
    """The values, and a Categorical's categories (their order is the class order)."""
    categories = None
    if isinstance(series.dtype, pd.CategoricalDtype):
        categories = list(series.cat.categories)
    return series.to_numpy(dtype=object), categories


def _is_missing(value: Any) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value))


def _encode(values: np.ndarray, declared: list[Any] | None) -> tuple[tuple[Any, ...], np.ndarray]:
    """The classes in R's factor-level order and each row's code (-1: unknown)."""
    missing = np.array([_is_missing(v) for v in values], dtype=bool)
    present = [_whole(v) for v in values[~missing]]
    if not present:
        raise InputError(
            "labels know no row's class (all are NaN/None); fit without labels= instead"
        )
    if declared is not None:
        seen = set(present)
        unused = [c for c in declared if c not in seen]
        if unused:
            raise InputError(
                f"label class {describe_labels(unused)} is never seen in the labels (no row has "
                "it); drop it with .cat.remove_unused_categories()"
            )
        classes = tuple(_whole(c) for c in declared)
    else:
        try:
            classes = tuple(sorted(set(present)))
        except TypeError:
            kinds = sorted({type(v).__name__ for v in present})
            raise InputError(
                f"labels mix values of kinds {', '.join(kinds)}; give classes of one kind "
                "(all text or all numbers)"
            ) from None
    position = {c: j for j, c in enumerate(classes)}
    codes = np.full(values.shape[0], -1, dtype=np.intp)
    codes[~missing] = [position[v] for v in present]
    return classes, codes


def _whole(value: Any) -> Any:
    """A whole float (1.0 from a CSV column with gaps) as the integer it is, as R prints it."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    return value.item() if isinstance(value, np.generic) else value


def ssc_k(labels: KnownLabels, k: Any) -> Any:
    """``k``, or the number of classes when it is None (MclustSSC's default G)."""
    return labels.n_classes if k is None else k


def ssc_models(d: int, n: int) -> list[str]:
    """MclustSSC's default models: E and V in 1-D, the 14 otherwise (less four when n <= d)."""
    if d == 1:
        return ["E", "V"]
    models = default_models(d, n + d)  # all 14: mclust.options("emModelNames")
    if n <= d:
        models = [m for m in models if m not in _SSC_DROPPED_SMALL_N]
    return models


def check_classes_fit(labels: KnownLabels, k: int) -> None:
    """Refuse fewer components than label classes (class c is component c)."""
    if k < labels.n_classes:
        raise InputError(
            f"the labels have {labels.n_classes} classes "
            f"({describe_labels([str(c) for c in labels.classes])}) but k = {k}; "
            "k must be at least the number of classes"
        )


# --------------------------------------------------------------------------- #
# the layer
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class KnownLabelsModel:
    """A Gaussian mixture some of whose rows' components are known.

    The engine's data are the unlabelled rows; the labelled rows enter
    through statistics computed once: ``known`` (their sufficient statistics
    at their class, in the inner model's layout) and, per class, the total
    weight, mean and scatter about that mean (their log-likelihood at any
    parameters follows from these).  ``cold_m_step`` starts each M-step
    afresh, as mclust's ``mstep`` (which MclustSSC calls every iteration)
    does, instead of from the previous iteration's covariances.
    """

    inner: GaussianMixtureModel
    known: GaussianStats
    class_weight: np.ndarray  # (c,)
    class_mean: np.ndarray  # (c, d), about the data's centre
    class_scatter: np.ndarray  # (c, d, d), about each class mean
    has_unknown: bool
    cold_m_step: bool = False

    @property
    def covariance(self) -> CovarianceModel:
        return self.inner.covariance

    @property
    def k(self) -> int:
        return self.inner.k

    @property
    def monotone(self) -> bool:
        return self.inner.monotone

    def e_step(self, theta: GaussianParams, data: Any) -> tuple[GaussianStats, float]:
        known_loglik = self.known_loglik(theta)
        if not self.has_unknown:
            return self.known, known_loglik
        stats, loglik = self.inner.e_step(theta, data)
        return stats + self.known, loglik + known_loglik

    def m_step(self, stats: GaussianStats, previous: GaussianParams | None) -> GaussianParams:
        return self.inner.m_step(stats, None if self.cold_m_step else previous)

    def parameter_vector(self, theta: GaussianParams) -> np.ndarray:
        return self.inner.parameter_vector(theta)

    def n_params(self, d: int) -> int:
        return self.inner.n_params(d)

    def known_loglik(self, theta: GaussianParams) -> float:
        """sum over labelled rows of log(pi_c f_c(x)), from the per-class statistics.

        With ``U`` the precision's factor, ``sum_i (x_i - mu)' U U' (x_i - mu)`` over a
        class is ``tr(U' S U) + w |(m - mu) U|^2`` (S its scatter about its mean m).
        """
        c = self.class_weight.shape[0]
        factor = theta.prec_chol[:c]
        offset = np.einsum("cd,cde->ce", self.class_mean - theta.means[:c], factor)
        spread = np.einsum("cij,cij->c", factor, self.class_scatter @ factor)
        with np.errstate(divide="ignore"):
            log_weight = np.log(theta.weights[:c])
        d = theta.d
        per_class = self.class_weight * (
            log_weight + theta.half_log_det_prec[:c] - 0.5 * d * _LOG_2PI
        ) - 0.5 * (spread + self.class_weight * np.einsum("ce,ce->c", offset, offset))
        return float(per_class.sum())


def build_layer(
    inner: GaussianMixtureModel, x: Any, labels: KnownLabels
) -> tuple[KnownLabelsModel, Any, GaussianStats]:
    """The layer, the unlabelled rows the engine runs on, and MclustSSC's start.

    The start is the statistics of the labelled rows at their class and of
    every other row at ``1/k`` in each component.
    """
    rows, case = (x.x, x.weights) if isinstance(x, WeightedRows) else (x, None)
    known = labels.known
    codes = labels.codes[known]
    x_known = rows[known]
    w_known = np.ones(codes.shape[0]) if case is None else case[known]
    resp = np.zeros((codes.shape[0], inner.k))
    resp[np.arange(codes.shape[0]), codes] = w_known
    known_stats = replace(
        gaussian.stats_from_responsibilities(x_known, resp, inner.covariance.scatter),
        classification_loglik=0.0,  # a known row's z is 1 at its class: no entropy
    )
    c = labels.n_classes
    class_weight = resp[:, :c].sum(axis=0)
    class_mean = (resp[:, :c].T @ x_known) / class_weight[:, None]
    class_scatter = np.empty((c, rows.shape[1], rows.shape[1]))
    for j in range(c):
        deviation = x_known[codes == j] - class_mean[j]
        class_scatter[j] = (deviation * w_known[codes == j, None]).T @ deviation
    unknown = ~known
    data = x.take(np.flatnonzero(unknown)) if isinstance(x, WeightedRows) else rows[unknown]
    has_unknown = bool(unknown.any())
    start = known_stats
    if has_unknown:
        n_unknown = int(unknown.sum())
        start = known_stats + inner.stats_from_responsibilities(
            data, np.full((n_unknown, inner.k), 1.0 / inner.k)
        )
    layer = KnownLabelsModel(
        inner,
        known_stats,
        class_weight,
        class_mean,
        class_scatter,
        has_unknown,
        cold_m_step=inner.covariance.mclust_compatible,
    )
    return layer, data, start


def _components(theta: GaussianParams, x: Any, labels: KnownLabels) -> np.ndarray:
    """Every row's component: its known class, or the most probable at ``theta``."""
    components = labels.codes.copy()
    unknown = ~labels.known
    if unknown.any():
        rows = x.x if isinstance(x, WeightedRows) else x
        log_resp, _ = gaussian.log_responsibilities(rows[unknown], theta)
        components[unknown] = np.argmax(log_resp, axis=1)
    return components


def _stop_at_first_loss(
    layer: KnownLabelsModel,
    data: Any,
    start: GaussianStats,
    fitter: MixtureFitter,
    em: EMResult[GaussianParams, GaussianStats],
) -> EMResult[GaussianParams, GaussianStats]:
    """The run as MclustSSC ends it: at the first iteration that gains at most ``tol``.

    MclustSSC stops when ``loglik - loglik_old <= tol``, a decrease included;
    mclust's inexact M-steps (VVE, EVE under ``mclust_compatible``) can
    lower the log-likelihood, where the engine's ``|change|`` rule goes on.
    The run is deterministic, so it is repeated up to that iteration.
    """
    gains = np.diff(em.trace)
    losses = np.flatnonzero(gains < 0)
    if not em.ok or losses.size == 0 or losses[0] + 1 == gains.size:
        return em
    # trace[j] follows M-step j + 1: the first loss, trace[i + 1] < trace[i], is at M-step i + 2
    control = replace(fitter.control, max_iter=int(losses[0]) + 2)
    rerun = fit_em(layer, data, stats0=start, control=control, n_obs=fitter.data.size, warn=False)
    return replace(rerun, converged=True, stop_reason="converged", control=fitter.control)


def fit_known_labels(
    fitter: MixtureFitter, labels: KnownLabels, k: int, model: str
) -> MixtureResult:
    """One (k, model) fit with known labels, as ``MclustSSC.fit`` runs it."""
    check_classes_fit(labels, k)
    covariance = fitter.covariance_model(model)
    inner = fitter._model(covariance, k)  # with the fit's ridge and prior
    layer, data, start = build_layer(inner, fitter.data.x, labels)
    em = fit_em(layer, data, stats0=start, control=fitter.control, n_obs=fitter.data.size)
    if fitter.mclust_compatible and fitter.control.criterion == "abs":
        em = _stop_at_first_loss(layer, data, start, fitter, em)
    result = fitter._result(inner, em, "known labels", None)
    fitted = labels
    if result.ok and em.theta is not None:
        fitted = replace(labels, components=_components(em.theta, fitter.data.x, labels))
    # The observed information of the labelled likelihood is not the unlabelled one's.
    return replace(result, known_labels=fitted, std_error_method=None)
