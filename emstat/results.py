"""What every fit's result shares: criteria with a stated sign, intervals, and text.

A result class gives ``ok``, ``loglik`` (the observed-data log-likelihood),
``n_params``, ``n`` (the sample size the penalty uses) and
``classification_loglik``; this base derives BIC, AIC and ICL from them in
one convention, and Wald intervals from a tidy ``params`` table whose
``scale`` column says where each interval is computed so that it stays
inside the parameter space.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from emstat._html import fit_html
from emstat.errors import InputError

__all__ = [
    "CRITERION_NAMES",
    "FitCriteria",
    "MixtureCriteria",
    "ParamsArrays",
    "params_arrays",
    "params_frame",
    "restart_table",
    "run_fields",
    "run_payload",
    "wald_intervals",
    "wald_z",
]

CRITERION_NAMES = ("bic", "aic", "icl", "loglik")
CONVENTION_TEXT = "-2 loglik + penalty: smaller is better"


class FitCriteria:
    """BIC, AIC and ICL in R's ``BIC()`` and scikit-learn's convention (smaller is better).

    ``bic = -2 loglik + p log n``, ``aic = -2 loglik + 2 p`` and
    ``icl = bic - 2 Σ_i Σ_k C_ik log z_ik``; ``bic_mclust`` and
    ``icl_mclust`` are mclust's (``2 loglik - p log n``, larger is better).
    A fit that is not ``ok`` has NaN criteria.
    """

    loglik: float
    n_params: int
    n: float
    classification_loglik: float

    @property
    def ok(self) -> bool:
        """True when the fit ended with valid parameters (a result class says how)."""
        raise NotImplementedError

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + self.n_params * math.log(self.n) if self.ok else math.nan

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params if self.ok else math.nan

    @property
    def icl(self) -> float:
        return self.bic - 2.0 * self.classification_loglik if self.ok else math.nan

    @property
    def bic_mclust(self) -> float:
        return -self.bic

    @property
    def icl_mclust(self) -> float:
        return -self.icl

    summary: Any  # a result class gives ``summary() -> str`` and a ``params`` table
    params: Any

    def params_text(self) -> str:
        """The ``params`` table as fixed-width text, for summaries."""
        table = self.params.drop(columns="method", errors="ignore")
        table["component"] = table["component"].astype(str)
        return str(table.to_string(index=False, float_format=lambda v: f"{v:.6g}"))

    def __str__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return fit_html(self)

    def to_frame(self) -> pd.DataFrame:
        """The estimates as a tidy DataFrame (the same as ``params``)."""
        return self.params

    def criterion(self, name: str, convention: str = "smaller") -> float:
        """``bic``, ``aic``, ``icl`` or ``loglik``; ``convention="mclust"`` flips BIC/AIC/ICL."""
        if name == "loglik":
            return self.loglik if self.ok else math.nan
        if name not in ("bic", "aic", "icl"):
            raise InputError(f"unknown criterion {name!r}; choose bic, aic, icl or loglik")
        if convention not in ("smaller", "mclust"):
            raise InputError(f"unknown convention {convention!r}; choose 'smaller' or 'mclust'")
        value = float(getattr(self, name))
        return -value if convention == "mclust" else value


class MixtureCriteria(FitCriteria):
    """What a mixture's result adds: components numbered 1..k and their weights."""

    k: int

    def _require_ok(self) -> Any:
        """The fitted parameters, or an InputError saying why there are none."""
        raise NotImplementedError

    @property
    def _labels(self) -> pd.Index:
        return pd.Index(range(1, self.k + 1), name="component")

    @property
    def weights(self) -> pd.Series:
        """The mixing weights, one per component."""
        return pd.Series(self._require_ok().weights, index=self._labels, name="weight")


def _logit_scalar(p: float) -> float:
    # scipy.special.logit's own formula and libm calls (numpy's vector log differs in the
    # last bit now and then): the same numbers without importing scipy.special
    if not 0.0 < p < 1.0:
        return -math.inf if p == 0.0 else math.inf if p == 1.0 else math.nan
    if p < 0.3 or p > 0.65:
        return math.log(p / (1.0 - p))
    s = 2.0 * (p - 0.5)  # near 1/2 the quotient loses digits that log1p keeps
    return math.log1p(s) - math.log1p(-s)


def _expit_scalar(x: float) -> float:
    # scipy.special.expit's formula, with libm's exp (see _logit_scalar)
    try:
        return 1.0 / (1.0 + math.exp(-x))
    except OverflowError:  # exp(-x) beyond the float range: scipy's 1 / inf
        return 0.0


def _elementwise(scalar: Any) -> Any:
    """``scalar`` applied to each element of a float array (any shape), as float64: the
    bits are scipy's for float64 input (a Python call per element: for the few values
    of a table's weights, not for long columns)."""

    def apply(values: Any) -> np.ndarray:
        array = np.asarray(values, dtype=float)
        # Python floats through the scalar, as np.frompyfunc would pass them, without its
        # loop (whose set-up costs more than a table's few values)
        out = np.array([scalar(v) for v in array.ravel().tolist()], dtype=float)
        return out.reshape(array.shape)

    return apply


_logit = _elementwise(_logit_scalar)
_expit = _elementwise(_expit_scalar)

_TRANSFORMS: dict[str, tuple[Any, Any, Any]] = {
    # scale: (forward, inverse, derivative of forward)
    "identity": (lambda v: v, lambda v: v, lambda v: np.ones_like(v)),
    "log": (np.log, np.exp, lambda v: 1.0 / v),
    # a weight's logit is its multinomial logit against the other components pooled
    "logit": (_logit, _expit, lambda v: 1.0 / (v * (1.0 - v))),
    # Fisher's z of a correlation in (-1, 1)
    "fisher_z": (np.arctanh, np.tanh, lambda v: 1.0 / (1.0 - v * v)),
}


def run_fields(em: Any, ok: bool) -> dict[str, Any]:
    """The fields every result takes from its EM run (``ok``: it ended with parameters)."""
    return {
        "loglik": em.loglik if ok else math.nan,
        "n_iter": em.n_iter,
        "converged": em.converged,
        "stop_reason": em.stop_reason,
        "trace": em.trace,
        "seconds": em.seconds,
        "control": em.control,
        "degenerate": em.degenerate if em.degenerate is not None or ok else "no valid parameters",
    }


def run_payload(result: Any) -> dict[str, Any]:
    """How a fit's EM run ended, as its saved file holds it (:meth:`SavedFields.run` reads it)."""
    return {
        "n_iter": result.n_iter,
        "converged": result.converged,
        "stop_reason": result.stop_reason,
        "trace": result.trace.tolist(),
        "control": {
            "tol": result.control.tol,
            "criterion": result.control.criterion,
            "max_iter": result.control.max_iter,
        },
    }


def restart_table(runs: Sequence[Any], methods: Sequence[str]) -> pd.DataFrame:
    """One row per start of a fit: its start, final log-likelihood, iterations, status."""
    return pd.DataFrame(
        {
            "restart": range(1, len(runs) + 1),
            "init": list(methods),
            "loglik": [r.loglik for r in runs],
            "n_iter": [r.n_iter for r in runs],
            "converged": [r.converged for r in runs],
            "stop_reason": [r.stop_reason for r in runs],
            "seconds": [r.seconds for r in runs],
        }
    )


def wald_z(level: float) -> float:
    """The normal quantile of a two-sided Wald interval at ``level``."""
    if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 < level < 1:
        raise InputError(f"the confidence level must be a number between 0 and 1, got {level!r}")
    return _normal_quantile(float(level))


#: ``scipy.special.ndtri(0.5 + level / 2)`` of the usual levels, to the bit (a test checks
#: them): a study's Wald intervals then need no scipy.special, whose import takes 0.15 s.
#: (statistics.NormalDist().inv_cdf differs from ndtri by 2 ulp at 0.95.)
_NORMAL_QUANTILES = {
    0.8: 1.2815515655446004,
    0.9: 1.6448536269514722,
    0.95: 1.959963984540054,
    0.99: 2.5758293035489004,
}


@lru_cache(maxsize=64)
def _normal_quantile(level: float) -> float:
    # scipy.stats.norm.ppf's own function (ndtri; scipy.stats itself takes long to import),
    # once per level: a study asks for the same one thousands of times
    if level in _NORMAL_QUANTILES:
        return _NORMAL_QUANTILES[level]
    return _ndtri(0.5 + level / 2.0)


def _ndtri(p: float) -> float:
    """``scipy.special.ndtri``, imported on first use."""
    from scipy.special import ndtri

    return float(ndtri(p))


def wald_intervals(
    estimate: np.ndarray, std_err: np.ndarray, scales: list[str] | np.ndarray, level: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wald intervals computed on each parameter's scale and transformed back.

    On the log scale a positive parameter's interval stays positive; on the
    logit scale a probability's stays in (0, 1).  The standard error on the
    transformed scale is the delta method's ``se * |g'(estimate)|``.  A row
    whose scale is none of these gets NaN.
    """
    z = wald_z(level)
    return _grouped_intervals(estimate, std_err, _scale_groups(tuple(scales)), z)


ScaleGroups = tuple[tuple[str, np.ndarray], ...]


@lru_cache(maxsize=256)
def _scale_groups(scales: tuple[str, ...]) -> ScaleGroups:
    """The rows of each known scale (read-only index arrays), in :data:`_TRANSFORMS`' order:
    a table's layout repeats fit after fit, so it is sorted out once."""
    column = np.asarray(scales, dtype=object)
    groups = []
    for scale in _TRANSFORMS:
        rows = np.flatnonzero(column == scale)
        if rows.size:
            rows.flags.writeable = False
            groups.append((scale, rows))
    return tuple(groups)


def _grouped_intervals(
    estimate: np.ndarray, std_err: np.ndarray, groups: ScaleGroups, z: float
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`wald_intervals` of the rows ``groups`` lays out, with quantile ``z``."""
    low = np.full(estimate.shape, np.nan)
    high = np.full(estimate.shape, np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        for scale, rows in groups:
            est, se = estimate[rows], std_err[rows]
            if scale == "identity":  # the transforms are the identity and a slope of 1
                half = z * se
                low[rows] = est - half
                high[rows] = est + half
                continue
            forward, inverse, slope = _TRANSFORMS[scale]
            centre = forward(est)
            half = z * se * np.abs(slope(est))
            low[rows] = inverse(centre - half)
            high[rows] = inverse(centre + half)
    return low, high


@dataclass(frozen=True, eq=False)
class ParamsArrays:
    """A fit's ``params`` table as numpy columns, in its row order.

    What a simulation replicate reads thousands of times without building a
    DataFrame; :meth:`frame` is the public table, column for column.

    Attributes
    ----------
    component, parameter, estimate, std_err, ci_low, ci_high, scale
        The table's columns: int64, str (object), float64 x 4, str (object).
    """

    component: np.ndarray
    parameter: np.ndarray
    estimate: np.ndarray
    std_err: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    scale: np.ndarray

    COLUMNS = ("component", "parameter", "estimate", "std_err", "ci_low", "ci_high", "scale")

    def __post_init__(self) -> None:
        # read-only: a fit caches them, and a caller's edit must not reach its cache
        for name in self.COLUMNS:
            getattr(self, name).flags.writeable = False

    def __len__(self) -> int:
        return int(self.estimate.size)

    def frame(self, method: str | None = None) -> pd.DataFrame:
        """The tidy DataFrame; ``method`` adds a last ``method`` column of that value."""
        columns: dict[str, Any] = {name: getattr(self, name) for name in self.COLUMNS}
        if method is not None:
            columns["method"] = method
        return pd.DataFrame(columns)

    def concat(self, other: ParamsArrays) -> ParamsArrays:
        """These rows, then ``other``'s."""
        return ParamsArrays(
            *(np.concatenate([getattr(self, n), getattr(other, n)]) for n in self.COLUMNS)
        )

    @classmethod
    def from_frame(cls, table: pd.DataFrame) -> ParamsArrays:
        """The columns of a ``params`` table (of any fit)."""
        return cls(
            component=table["component"].to_numpy(dtype=np.int64, copy=True),
            parameter=table["parameter"].to_numpy(dtype=object, copy=True),
            estimate=table["estimate"].to_numpy(dtype=float, copy=True),
            std_err=table["std_err"].to_numpy(dtype=float, copy=True),
            ci_low=table["ci_low"].to_numpy(dtype=float, copy=True),
            ci_high=table["ci_high"].to_numpy(dtype=float, copy=True),
            scale=table["scale"].to_numpy(dtype=object, copy=True),
        )


def params_arrays(
    k: int,
    names: list[str],
    estimate: np.ndarray,
    std_err: np.ndarray,
    scales: list[str],
    level: float = 0.95,
) -> ParamsArrays:
    """The tidy table's columns (see :func:`params_frame`) as :class:`ParamsArrays`.

    ``names`` and ``scales`` are one component's; components are 1..k.

    Examples
    --------
    >>> a = params_arrays(1, ["mean"], np.array([1.0]), np.array([0.5]), ["identity"])
    >>> [round(float(v), 3) for v in (a.ci_low[0], a.ci_high[0])]
    [0.02, 1.98]
    """
    z = wald_z(level)
    component, parameter, all_scales, groups = _table_layout(k, tuple(names), tuple(scales))
    low, high = _grouped_intervals(estimate, std_err, groups, z)
    return ParamsArrays(  # copies of the caller's arrays: these become read-only
        component=component,
        parameter=parameter,
        estimate=np.array(estimate, dtype=float),
        std_err=np.array(std_err, dtype=float),
        ci_low=low,
        ci_high=high,
        scale=all_scales,
    )


@lru_cache(maxsize=256)
def _table_layout(
    k: int, names: tuple[str, ...], scales: tuple[str, ...]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, ScaleGroups]:
    """The component, parameter and scale columns of a table of ``k`` components of these
    ``names`` and ``scales``, and its :func:`_scale_groups` (made once per layout; the
    columns are read-only, shared by every table of that layout)."""
    component = np.repeat(np.arange(1, k + 1, dtype=np.int64), len(names))
    parameter = np.asarray(list(names) * k, dtype=object)
    all_scales = np.asarray(list(scales) * k, dtype=object)
    for column in (component, parameter, all_scales):
        column.flags.writeable = False
    return component, parameter, all_scales, _scale_groups(tuple(all_scales))


def params_frame(
    k: int,
    names: list[str],
    estimate: np.ndarray,
    std_err: np.ndarray,
    scales: list[str],
    level: float = 0.95,
) -> pd.DataFrame:
    """The tidy table: component, parameter, estimate, std_err, ci_low, ci_high, scale."""
    return params_arrays(k, names, estimate, std_err, scales, level).frame()
