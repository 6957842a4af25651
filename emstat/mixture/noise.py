"""mclust's uniform noise component: a Gaussian mixture plus a constant density for outliers.

The mixture density is ``π_0 V⁻¹ + Σ_k π_k N(x | μ_k, Σ_k)``, with ``V`` a
hypervolume that holds the data (mclust's ``hypvol``: the smaller of the
bounding box of the columns and the bounding box of the principal
components) and ``π_0`` the noise proportion, estimated with the others.
EM is mclust's ``me(..., Vinv = )``: the E-step appends the column
``log π_0 + log V⁻¹`` to the components' log densities, the M-step fits the
Gaussian components to their responsibilities and sets every proportion,
the noise's too, to its share of the rows.  The noise component has no
other parameter; mclust counts ``V⁻¹`` as one, so a fit with noise has two
parameters more than without (``nMclustParams(noise = TRUE)``) and the
noise-only fit (k = 0) has one: its log-likelihood is ``n log V⁻¹``.

EM starts, as in mclust, from a set of rows marked as noise: the user's
boolean column or array, or (``noise=True``) the rows that
:func:`nearest_neighbour_clutter` finds: the nearest-neighbour clutter
model of Byers & Raftery (1998), the model of ``prabclus::NNclean`` (with
the columns scaled to unit standard deviation, no edge correction).  The
other rows get the usual starting partition (hierarchical agglomeration or
quantiles of those rows only).  In the classification the noise component
is component 0.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np
import pandas as pd

from emstat._validation import check_k_values, describe_labels
from emstat.engine import EMResult, fit_em, fit_em_restarts
from emstat.errors import DegenerateFitError, InputError
from emstat.mixture import gaussian
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.fit import FitData, MixtureFitter, _failed, _one_component_equivalent
from emstat.mixture.gaussian import GaussianParams, GaussianStats
from emstat.mixture.init import StartingPartition
from emstat.mixture.model import GaussianMixtureModel
from emstat.mixture.result import MixtureResult
from emstat.results import restart_table, run_fields

__all__ = [
    "CLUTTER_NEIGHBOURS",
    "NoiseFitter",
    "NoiseMixtureModel",
    "NoiseParams",
    "NoiseStats",
    "check_vinv",
    "log_hypervolume",
    "nearest_neighbour_clutter",
    "no_components",
    "noise_ks",
    "noise_log_responsibilities",
    "noise_only",
    "noise_rows_frame",
    "noise_summary_line",
    "split_noise_column",
    "uses_noise",
    "with_noise",
]

#: Neighbours whose distance the default noise start models (Byers & Raftery's K).
CLUTTER_NEIGHBOURS = 10
#: A principal component's range at most this times the largest one's is rounding noise.
_FLAT = 1000 * float(np.finfo(float).eps)


# --- the hypervolume ---------------------------------------------------------------
def log_hypervolume(x: np.ndarray) -> float:
    """log of mclust's ``hypvol(x)``: the range in 1-D; in d > 1 the smaller of the
    bounding box's volume and that of the box around the principal-component scores.

    ``-inf`` when the rows have no volume: a constant column, or rows in a
    subspace (a principal component whose range is rounding noise, at most
    ``1000 eps`` times the largest).

    Examples
    --------
    >>> round(math.exp(log_hypervolume(np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 3.0]]))), 6)
    6.0
    """
    x = np.asarray(x, dtype=float)
    with np.errstate(divide="ignore"):
        box = float(np.sum(np.log(np.ptp(x, axis=0))))
        if x.shape[1] == 1:
            return box
        centred = x - x.mean(axis=0)
        # princomp's scores: the rows in the eigenvectors of the covariance
        _, vectors = np.linalg.eigh(centred.T @ centred)
        ranges = np.ptp(centred @ vectors, axis=0)
        if np.any(ranges <= _FLAT * ranges.max()):
            return -math.inf
        principal = float(np.sum(np.log(ranges)))
    return min(box, principal)


def check_vinv(vinv: Any) -> float | None:
    """A user's ``Vinv``: None, or a finite number > 0 (InputError naming it otherwise)."""
    if vinv is None:
        return None
    if isinstance(vinv, (bool, np.bool_)) or not isinstance(vinv, (int, float, np.number)):
        raise InputError(f"Vinv must be a finite number > 0 (the noise density), got {vinv!r}")
    value = float(vinv)
    if not (math.isfinite(value) and value > 0):
        raise InputError(f"Vinv must be a finite number > 0 (the noise density), got {vinv!r}")
    return value


def _data_vinv(raw: np.ndarray, columns: list[str]) -> float:
    """``1 / hypvol`` of the data, or an InputError when the rows have no volume."""
    log_volume = log_hypervolume(raw)
    if not math.isfinite(log_volume) or -log_volume > math.log(np.finfo(float).max):
        what = "has no range" if raw.shape[1] == 1 else f"in {', '.join(columns)} have no volume"
        raise InputError(
            f"the noise component needs data with a volume, but the data {what} "
            "(their hypervolume is 0); drop a column or give Vinv"
        )
    return math.exp(-log_volume)


# --- the default start -------------------------------------------------------------
def nearest_neighbour_clutter(x: np.ndarray, neighbours: int = CLUTTER_NEIGHBOURS) -> np.ndarray:
    """Rows that look like clutter: Byers & Raftery's (1998) nearest-neighbour model.

    Each column is scaled to unit standard deviation; ``D_i`` is row i's
    distance to its ``neighbours``-th nearest row.  Where points form a
    Poisson process of intensity λ, ``D_i^d`` is Gamma(``neighbours``, rate
    ``c λ``); a two-component mixture of such Gammas (the feature and the
    sparser clutter) is fitted by EM from a split at the 80% quantile, and
    the rows more probably from the sparser one are clutter.  When that
    marks no row, the row with the largest ``D_i`` is the start.

    Returns a boolean array, True for clutter.
    """
    from scipy.spatial import cKDTree

    x = np.asarray(x, dtype=float)
    n, d = x.shape
    kk = max(1, min(neighbours, n - 1))
    scaled = x / np.where(x.std(axis=0) > 0, x.std(axis=0), 1.0)
    distances, _ = cKDTree(scaled).query(scaled, k=kk + 1)
    y = np.asarray(distances[:, kk], dtype=float) ** d
    clutter = _gamma_clutter(y, kk)
    if not clutter.any():
        clutter[int(np.argmax(y))] = True
    return clutter


def _gamma_clutter(y: np.ndarray, shape: int, max_iter: int = 500) -> np.ndarray:
    """EM for a two-component Gamma(shape, rate λ_j) mixture of ``y``; the rows of the smaller λ."""
    tiny = np.finfo(float).tiny
    sparse = y > np.quantile(y, 0.8)
    if sparse.all() or not sparse.any():
        return np.zeros(y.shape[0], dtype=bool)
    z = np.column_stack([~sparse, sparse]).astype(float)
    old = -math.inf
    for _ in range(max_iter):
        nj = z.sum(axis=0)
        rate = shape * nj / np.maximum(z.T @ y, tiny)
        if np.any(nj <= 0) or not np.all(np.isfinite(rate)):
            break
        # log p_j + shape log λ_j - λ_j y (the factors in y alone cancel)
        log_dens = np.log(nj / nj.sum()) + shape * np.log(rate) - np.outer(y, rate)
        row = gaussian.logsumexp_rows(log_dens)
        z = np.exp(log_dens - row[:, None])
        loglik = float(row.sum())
        if abs(loglik - old) <= 1e-10 * (1.0 + abs(loglik)):
            break
        old = loglik
    nj = z.sum(axis=0)
    rate = shape * nj / np.maximum(z.T @ y, tiny)
    sparser = int(np.argmin(rate))
    return np.asarray(z[:, sparser] > 0.5)


# --- the noise start the user gives --------------------------------------------------
def uses_noise(noise: Any, vinv: Any) -> bool:
    """Whether a fit has a noise component; Vinv alone is refused, a bad Vinv too."""
    check_vinv(vinv)
    wanted = not (noise is None or noise is False)
    if vinv is not None and not wanted:
        raise InputError(
            "Vinv is the noise component's density; pass noise=True or a noise start with it"
        )
    return wanted


def split_noise_column(data: Any, columns: Any, noise: Any) -> tuple[Any, pd.Series | None]:
    """The modelled columns and the noise start column, when ``noise`` names one.

    Otherwise ``columns`` unchanged and None.
    """
    if not isinstance(noise, str):
        return columns, None
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"noise={noise!r} names a column, but the data are not a DataFrame")
    if noise not in data.columns:
        raise InputError(
            f"no noise start column {noise!r} in the data; columns: "
            f"{describe_labels([str(c) for c in data.columns])}"
        )
    if columns is None:
        columns = [c for c in data.columns if c != noise]
    elif noise in columns:
        raise InputError(f"column {noise!r} is both modelled and used as the noise start")
    return columns, data[noise]


def _noise_rows(noise: Any, column: pd.Series | None, data: FitData) -> np.ndarray:
    """The start's noise rows as a boolean array in the data's row order."""
    if noise is True:
        return nearest_neighbour_clutter(data.sample)
    values = column if column is not None else noise
    if isinstance(values, pd.Series) and data.index is not None:
        if not values.index.equals(data.index):
            if not (values.index.is_unique and set(data.index) <= set(values.index)):
                raise InputError(
                    "the noise start's index does not match the data's rows; "
                    "pass .to_numpy() to use it by position"
                )
            values = values.reindex(data.index)
    array = np.asarray(values)
    if array.ndim != 1 or array.shape[0] != data.n:
        raise InputError(
            f"the noise start must have one entry per row ({data.n}), got shape {array.shape}"
        )
    return _as_boolean(array)


def _as_boolean(array: np.ndarray) -> np.ndarray:
    """True/False (or 1/0) entries as booleans; anything else is refused naming the row."""
    if array.dtype == bool:
        return array.copy()
    if array.dtype.kind in "iuf":
        bad = ~np.isin(array, (0, 1))
    else:
        bad = np.array([not isinstance(v, (bool, np.bool_)) for v in array], dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        value = array[i].item() if isinstance(array[i], np.generic) else array[i]
        raise InputError(
            f"the noise start must be True/False for each row; row {i} (counting from 0) "
            f"holds {value!r}"
        )
    return array.astype(bool)


# --- the model the engine drives -----------------------------------------------------
@dataclass(frozen=True)
class NoiseParams:
    """Gaussian components (weights π_1..π_k, summing to 1 - π_0) and the noise proportion π_0."""

    gaussian: GaussianParams
    noise_weight: float

    def vector(self) -> np.ndarray:
        return np.concatenate([self.gaussian.vector(), [self.noise_weight]])


@dataclass(frozen=True)
class NoiseStats:
    """The Gaussian components' statistics and the noise's total responsibility (both add)."""

    gaussian: GaussianStats
    noise: float


def noise_log_responsibilities(
    x: np.ndarray, theta: GaussianParams, noise_weight: float, log_vinv: float
) -> tuple[np.ndarray, np.ndarray]:
    """Log responsibilities (n, k + 1), the noise's last as in mclust's z, and row log-likelihoods.

    ``theta.weights`` are the Gaussian components' proportions π_1..π_k.
    """
    n = x.shape[0]
    log_dens = gaussian.component_log_densities(x, theta) if theta.k else np.empty((n, 0))
    with np.errstate(divide="ignore"):
        noise = math.log(noise_weight) + log_vinv if noise_weight > 0 else -math.inf
    stacked = np.column_stack([log_dens, np.full(n, noise)])
    row_loglik = gaussian.logsumexp_rows(stacked)
    with np.errstate(invalid="ignore"):
        return stacked - row_loglik[:, None], row_loglik


@dataclass(frozen=True)
class NoiseMixtureModel:
    """A :class:`GaussianMixtureModel` with mclust's uniform noise component of density V⁻¹."""

    gaussian: GaussianMixtureModel
    log_vinv: float

    @property
    def k(self) -> int:
        return self.gaussian.k

    @property
    def monotone(self) -> bool:
        return self.gaussian.monotone

    def e_step(self, theta: NoiseParams, data: np.ndarray) -> tuple[NoiseStats, float]:
        log_resp, row_loglik = noise_log_responsibilities(
            data, theta.gaussian, theta.noise_weight, self.log_vinv
        )
        resp = np.exp(log_resp)
        stats = gaussian.stats_from_responsibilities(
            data, resp[:, : self.k], self.gaussian.covariance.scatter
        )
        # ICL's entropy term counts the noise column as one more class
        stats = replace(stats, classification_loglik=float(log_resp.max(axis=1).sum()))
        return NoiseStats(stats, float(resp[:, self.k].sum())), float(row_loglik.sum())

    def m_step(self, stats: NoiseStats, previous: NoiseParams | None) -> NoiseParams:
        """The Gaussian M-step, then every proportion its share of the rows (mclust's pro)."""
        theta = self.gaussian.m_step(
            stats.gaussian, None if previous is None else previous.gaussian
        )
        total = float(stats.gaussian.nk.sum()) + stats.noise
        return NoiseParams(replace(theta, weights=stats.gaussian.nk / total), stats.noise / total)

    def parameter_vector(self, theta: NoiseParams) -> np.ndarray:
        return theta.vector()

    def n_params(self, d: int) -> int:
        """mclust's count: the Gaussian mixture's, one more proportion, and V⁻¹."""
        return self.gaussian.n_params(d) + 2


# --- fitting -------------------------------------------------------------------------
@dataclass
class NoiseFitter(MixtureFitter):
    """A :class:`MixtureFitter` whose fits have a noise component (k = 0: noise only).

    Starting partitions come from the rows not marked as noise, as mclust's
    ``hc(data[-noise, ])``; ``noise_rows`` marks the start's noise rows.
    """

    noise_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    vinv: float = math.nan
    _clean: MixtureFitter = field(init=False, repr=False)
    _keep: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if not isinstance(self.init, (str, type(None))):
            raise InputError(
                "with a noise component, init is a method (hc, quantile, kmeans++, random); "
                "the noise start marks the noise rows"
            )
        super().__post_init__()
        n_noise = int(self.noise_rows.sum())
        if n_noise == 0:
            raise InputError(
                "the noise start marks no row as noise; mark at least one "
                "(or pass noise=True for the default start)"
            )
        if n_noise == self.data.n:
            raise InputError("the noise start marks every row as noise; leave some rows out")
        if self.data.raw is None:
            raise InputError("a noise component needs the data in memory (a DataFrame or an array)")
        keep = np.flatnonzero(~self.noise_rows)
        raw = self.data.raw[keep]
        clean = FitData(
            self.data.columns,
            keep.size,
            self.data.center,
            np.ascontiguousarray(raw - self.data.center),
            raw,
            raw,
            None if self.data.index is None else self.data.index[keep],
        )
        self._clean = MixtureFitter(
            clean,
            control=self.control,
            init=self.init,
            n_init=self.n_init,
            seed=self.seed,
            hc_subset=self.hc_subset,
            mclust_compatible=self.mclust_compatible,
            reg_covar=self.reg_covar,
        )
        self._keep = keep

    @property
    def log_vinv(self) -> float:
        return math.log(self.vinv)

    def prime(self, k: int) -> None:
        self._clean.prime(k)

    def too_many_components(self, k: int) -> str | None:
        """mclust leaves out G > n - (noise rows); emstat names the reason in the cell."""
        if k == 0:
            return None
        reason = self._clean.too_many_components(k)
        return None if reason is None else f"{reason} outside the noise start"

    def not_estimable(self, k: int, model: str, reason: str) -> MixtureResult:
        cell = super().not_estimable(k, model, reason)
        return replace(cell, n_params=cell.n_params + 2, vinv=self.vinv)

    def fit(self, k: int, model: str) -> MixtureResult:
        requested = self.covariance_model(model)
        if k == 0:
            return self._noise_only(requested.name)
        reason = self.too_many_components(k)
        if reason is not None:
            raise InputError(reason)
        covariance = requested
        if k == 1:  # one component of any model is its family's unconstrained one
            name = _one_component_equivalent(requested.name)
            covariance = get_covariance_model(name, self.data.d)
        em_model = NoiseMixtureModel(self._model(covariance, k), self.log_vinv)
        starts = self._clean.starts(k, np.random.default_rng(self.seed))

        def run(start: StartingPartition) -> EMResult[NoiseParams, NoiseStats]:
            try:
                stats0 = self._start_stats(em_model, start)
            except DegenerateFitError as exc:
                return _failed(self.control, str(exc))  # type: ignore[return-value]
            return fit_em(
                em_model,
                self.data.x,
                stats0=stats0,
                control=self.control,
                n_obs=self.data.size,
                warn=len(starts) == 1,
            )

        best, runs = fit_em_restarts(run, starts)
        restarts = restart_table(runs, [s.method for s in starts]) if len(runs) > 1 else None
        best_start = next(s for s, r in zip(starts, runs, strict=True) if r is best)
        return self._noise_result(requested.name, em_model, best, best_start.method, restarts)

    def _start_stats(self, em_model: NoiseMixtureModel, start: StartingPartition) -> NoiseStats:
        """The start's statistics: the partition of the other rows, the noise rows all noise.

        A partition of a subset of them starts as mclust's: an M-step on the
        subset and an E-step of the Gaussian components on all those rows.
        """
        inner = em_model.gaussian
        x_clean = self.data.x[self._keep]
        resp = start.resp
        if start.rows is not None:
            theta = inner.m_step(inner.stats_from_responsibilities(x_clean[start.rows], resp), None)
            log_resp, _ = gaussian.log_responsibilities(x_clean, theta)
            resp = np.exp(log_resp)
        stats = inner.stats_from_responsibilities(x_clean, resp)
        return NoiseStats(stats, float(self.noise_rows.sum()))

    def _noise_result(
        self,
        model: str,
        em_model: NoiseMixtureModel,
        em: EMResult[NoiseParams, NoiseStats],
        init: str,
        restarts: pd.DataFrame | None,
    ) -> MixtureResult:
        theta = em.theta if em.ok else None
        classification_loglik = math.nan
        if theta is not None and em.stats is not None:
            classification_loglik = em.stats.gaussian.classification_loglik
        return MixtureResult(
            model=model,
            k=em_model.k,
            columns=self.data.columns,
            n=self.data.size,
            params_=None if theta is None else theta.gaussian.shifted(self.data.center),
            n_params=em_model.n_params(self.data.d),
            init=f"{init}; noise start: {self._start_text()}",
            classification_loglik=classification_loglik,
            **run_fields(em, theta is not None),
            restarts=restarts,
            reg_covar=float(self.reg_covar),
            prior=self._prior_text(em_model.gaussian),
            noise_weight=None if theta is None else float(theta.noise_weight),
            vinv=self.vinv,
            data_=self.data.raw if theta is not None else None,  # for plots
        )

    def _noise_only(self, model: str) -> MixtureResult:
        """k = 0: every row noise; log-likelihood n log V⁻¹ and one parameter (V⁻¹), as mclust."""
        loglik = self.data.n * self.log_vinv
        empty = no_components(self.data.d)
        return MixtureResult(
            model=model,
            k=0,
            columns=self.data.columns,
            n=self.data.size,
            params_=empty.shifted(self.data.center),
            loglik=loglik,
            n_params=1,
            n_iter=0,
            converged=True,
            stop_reason="closed form",
            trace=np.array([loglik]),
            seconds=0.0,
            control=self.control,
            init="none (noise only)",
            classification_loglik=0.0,
            noise_weight=1.0,
            vinv=self.vinv,
            data_=self.data.raw,
        )

    def _start_text(self) -> str:
        return f"{int(self.noise_rows.sum())} of {self.data.n} rows"


def no_components(d: int) -> GaussianParams:
    """The Gaussian part of the noise-only fit: no component."""
    return GaussianParams(
        np.zeros(0), np.zeros((0, d)), np.zeros((0, d, d)), np.zeros((0, d, d)), np.zeros(0)
    )


def with_noise(
    fitter: MixtureFitter, noise: Any, column: pd.Series | None, vinv: float | None
) -> NoiseFitter:
    """``fitter``'s options with a noise component started from ``noise`` (or ``column``)."""
    data = fitter.data
    if data.raw is None:
        raise InputError("a noise component needs the data in memory (a DataFrame or an array)")
    if data.weights is not None:
        raise InputError("a noise component does not take case weights")
    if data.missing is not None:
        raise InputError(
            "a noise component cannot be combined with missing cells yet; "
            "drop the incomplete rows or fit without noise"
        )
    rows = _noise_rows(noise, column, data)
    # every option of the fitter (its prior and tolerances too), none dropped
    options = {f.name: getattr(fitter, f.name) for f in fields(fitter) if f.init}
    return NoiseFitter(
        **options,
        noise_rows=rows,
        vinv=_data_vinv(data.raw, data.columns) if vinv is None else vinv,
    )


# --- what a result shows ---------------------------------------------------------------
def noise_rows_frame(result: MixtureResult) -> pd.DataFrame:
    """The ``params`` rows of the noise component (component 0): its proportion and V⁻¹.

    Neither has a standard error: V⁻¹ is fixed, and the proportion's is not implemented.
    """
    return pd.DataFrame(
        {
            "component": [0, 0],
            "parameter": ["weight", "Vinv"],
            "estimate": [result.noise_weight, result.vinv],
            "std_err": [math.nan, math.nan],
            "ci_low": [math.nan, math.nan],
            "ci_high": [math.nan, math.nan],
            "scale": ["logit", "fixed"],
        }
    )


def noise_summary_line(result: MixtureResult) -> str:
    """The summary's line on the noise component."""
    weight = "not estimated" if result.noise_weight is None else f"{result.noise_weight:.6g}"
    vinv = math.nan if result.vinv is None else float(result.vinv)
    counted = (
        "noise only: 1 parameter (Vinv), log-likelihood n log Vinv"
        if result.k == 0
        else "2 parameters more than without noise (a proportion and Vinv, as mclust counts)"
    )
    return (
        f"noise component (component 0): proportion {weight}, uniform density "
        f"Vinv = {vinv:.6g} (hypervolume {1.0 / vinv:.6g}); {counted}"
    )


def noise_ks(k: Any, default: bool) -> list[int]:
    """A selection's numbers of components with noise: 0..9 by default; 0 (noise only) allowed."""
    if default:
        return list(range(10))
    if isinstance(k, (str, bytes)) or not isinstance(k, Iterable):
        k = [k]
    values = list(k)
    rest = [v for v in values if not noise_only(v)]
    ks = check_k_values(rest) if rest else []
    return [0, *ks] if len(rest) < len(values) else ks


def noise_only(value: Any) -> bool:
    """Whether a number of components is 0, the noise-only fit (``False`` is not a number)."""
    return (
        isinstance(value, numbers.Integral)
        and not isinstance(value, (bool, np.bool_))
        and value == 0
    )
