"""MAP estimation: mclust's conjugate prior on the component means and covariances.

Fraley & Raftery (2007, "Bayesian regularization for normal mixture
estimation") put a normal prior on each mean given its covariance,
:math:`\\mu_k \\mid \\Sigma_k \\sim N(\\mu_P, \\Sigma_k / \\kappa_P)`, and an
inverse-Wishart (or inverse-gamma) prior with ``dof`` :math:`\\nu_P` and
scale :math:`\\Lambda_P` on the covariances.  EM then maximises the posterior:
the E-step is unchanged and the M-step gives the posterior mode.

With :math:`\\bar x_k`, :math:`W_k` and :math:`n_k` the responsibility-weighted
mean, scatter and count of component ``k``, the mode of the mean is

.. math:: \\hat\\mu_k = (n_k \\bar x_k + \\kappa_P \\mu_P) / (n_k + \\kappa_P)

whatever the covariance, and profiling it out leaves the covariance problem
of :mod:`emstat.mixture.covariance`,

.. math:: \\max \\sum_k -\\tfrac12 \\tilde n_k \\log|\\Sigma_k|
          - \\tfrac12 \\operatorname{tr}(\\Sigma_k^{-1} M_k),
   \\qquad M_k = W_k + \\tfrac{\\kappa_P n_k}{\\kappa_P + n_k}
   (\\bar x_k - \\mu_P)(\\bar x_k - \\mu_P)^T + \\Lambda_k,

with pseudo-counts :math:`\\tilde n_k = n_k + c_k`.  So every model's MAP
M-step is its maximum-likelihood M-step applied to ``(n~, M)``
(:func:`map_statistics`): the prior acts as pseudo-data.

The ten models mclust supports with a prior (and ``E``, ``V``) take
mclust 6.0's own :math:`c_k` and :math:`\\Lambda_k` (its Fortran ``me*p``
routines), so that fits agree with ``me(..., prior = priorControl())``
digit for digit; mclust's choices differ by model (``EII`` leaves the scale
out, ``VEV`` adds no pseudo-count, ``EEI`` does not shrink the means, a
shared covariance takes the prior once).

mclust refuses a prior for ``EVE``, ``VEE``, ``VVE`` and ``EVV``.  emstat puts
the conjugate prior on every component, :math:`(\\mu_k, \\Sigma_k) \\sim
NIW(\\mu_P, \\kappa_P, \\nu_P, \\Lambda_P)` restricted to the model's
constraint.  Its log density is
:math:`-\\tfrac12 (\\nu_P + d + 2) \\log|\\Sigma_k| - \\tfrac12
\\operatorname{tr}(\\Sigma_k^{-1} \\Lambda_P) - \\tfrac{\\kappa_P}{2}
(\\mu_k - \\mu_P)^T \\Sigma_k^{-1} (\\mu_k - \\mu_P)` (up to a constant), so
adding it to the expected complete-data log-likelihood gives the problem
above with :math:`c_k = \\nu_P + d + 2` and :math:`\\Lambda_k = \\Lambda_P`
(:math:`\\nu_P + d + 1` without a mean prior, :math:`\\kappa_P = 0`); the
model's own constrained M-step then solves it exactly
(:func:`niw_log_prior` is the prior, for checks).

As in mclust, the log-likelihood that EM reports, that its stopping rule
watches and that BIC uses excludes the prior: ``BIC = 2 loglik - df log n``.

Examples
--------
>>> import numpy as np
>>> prior = GaussianPrior(shrinkage=0.01, dof=4)
>>> rng = np.random.default_rng(0)
>>> x = rng.normal(size=(50, 2))
>>> resolved = resolve_prior(prior, data_moments(x), k=3, model="VVV")
>>> resolved.dof, resolved.scale.shape
(4.0, (2, 2))
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from emstat.errors import InputError

__all__ = [
    "MCLUST_PRIOR_MODELS",
    "DataMoments",
    "GaussianPrior",
    "ResolvedPrior",
    "as_prior",
    "data_moments",
    "map_statistics",
    "niw_log_prior",
    "prior_moments",
    "resolve_prior",
]

#: The models mclust fits with a prior (mclust 6.0; ``Mclust`` drops the others).
MCLUST_PRIOR_MODELS = (
    "E", "V", "EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE", "EEV", "VEV", "VVV",
)  # fmt: skip

_DEFAULT_SHRINKAGE = 0.01


def _letters(model: str) -> str:
    return f"{model}II" if len(model) == 1 else model


def _is_diagonal(model: str) -> bool:
    """Spherical and diagonal models (and E, V) take a scalar scale, as in mclust."""
    return _letters(model)[2] == "I"


@dataclass(frozen=True, eq=False)  # array fields: compared by identity
class GaussianPrior:
    """A conjugate prior on the Gaussian components (mclust's ``priorControl``).

    Every field left None takes mclust's ``defaultPrior`` value, computed
    from the data for each number of components ``k`` and model:

    * ``shrinkage`` :math:`\\kappa_P` = 0.01 (0 turns the mean prior off);
    * ``mean`` :math:`\\mu_P` = the column means;
    * ``dof`` :math:`\\nu_P` = d + 2 (3 in one dimension);
    * ``scale`` :math:`\\Lambda_P`: in one dimension ``var(x) / k^2``; for the
      spherical and diagonal models the number
      ``(1/k)^(2/d) * sum_j var(x_j) / d``; for the ellipsoidal models the
      matrix ``(1/k)^(2/d) * cov(x)`` (its diagonal when n <= d).

    Parameters
    ----------
    shrinkage
        A finite number >= 0.
    mean
        d finite numbers, in the data's units.
    dof
        Degrees of freedom, a finite number > d - 1.  (mclust 6.0's
        ``defaultPrior`` ignores a ``dof`` given to ``priorControl`` and
        always takes d + 2; emstat uses the one given.)
    scale
        A positive number or a symmetric positive-definite d x d matrix.
        The spherical and diagonal models take a number (a matrix gives the
        mean of its diagonal); the ellipsoidal ones a matrix (a number ``s``
        gives ``s * I``).

    Examples
    --------
    >>> import emstat
    >>> emstat.GaussianPrior(dof=5).describe()
    'shrinkage 0.01, mean = the column means, dof 5, scale = mclust defaultPrior'
    """

    shrinkage: float | None = None
    mean: Any = None
    dof: float | None = None
    scale: Any = None

    def __post_init__(self) -> None:
        if self.shrinkage is not None:
            object.__setattr__(self, "shrinkage", _number(self.shrinkage, "shrinkage", 0.0))
        if self.dof is not None:
            object.__setattr__(self, "dof", _number(self.dof, "dof", None))
        if self.mean is not None:
            mean = _float_array(self.mean, "mean")
            if mean.ndim > 1:
                raise InputError(f"the prior mean must be a vector, got shape {mean.shape}")
            object.__setattr__(self, "mean", np.atleast_1d(mean))
        if self.scale is not None:
            object.__setattr__(self, "scale", _check_scale(self.scale))

    def describe(self) -> str:
        """The hyperparameters in words, for summaries and reports."""
        shrinkage = _DEFAULT_SHRINKAGE if self.shrinkage is None else self.shrinkage
        mean = "the column means" if self.mean is None else _short(self.mean)
        dof = "d + 2" if self.dof is None else f"{self.dof:g}"
        scale = "mclust defaultPrior" if self.scale is None else _short(self.scale)
        return f"shrinkage {shrinkage:g}, mean = {mean}, dof {dof}, scale = {scale}"


def _short(value: Any) -> str:
    """Numbers to 6 significant digits, vectors and matrices as nested brackets."""
    array = np.asarray(value, dtype=float)
    if array.ndim == 0:
        return f"{float(array):.6g}"
    return "[" + ", ".join(_short(row) for row in array) + "]"


def _float_array(value: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"the prior {name} must be numeric, got {value!r}") from None
    if not np.all(np.isfinite(array)):
        raise InputError(f"the prior {name} must be finite, got {value!r}")
    return array


def _number(value: Any, name: str, minimum: float | None) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise InputError(f"the prior {name} must be a number, got {value!r}")
    number = float(value)
    if not math.isfinite(number):
        raise InputError(f"the prior {name} must be finite, got {value!r}")
    if minimum is not None and number < minimum:
        raise InputError(f"the prior {name} must be >= {minimum:g}, got {value!r}")
    return number


def _check_scale(scale: Any) -> float | np.ndarray:
    array = _float_array(scale, "scale")
    if array.ndim == 0:
        if not float(array) > 0:
            raise InputError(f"the prior scale must be positive, got {float(array):g}")
        return float(array)
    if array.ndim != 2 or array.shape[0] != array.shape[1]:
        raise InputError(
            f"the prior scale must be a number or a square matrix, got shape {array.shape}"
        )
    if not np.allclose(array, array.T, rtol=1e-12, atol=0.0):
        raise InputError("the prior scale matrix must be symmetric")
    smallest = float(np.linalg.eigvalsh(array)[0])
    if not smallest > 0:
        raise InputError(
            f"the prior scale matrix must be positive definite (smallest eigenvalue {smallest:.3g})"
        )
    return array


def as_prior(prior: Any) -> GaussianPrior | None:
    """``None``, ``"mclust"`` or a :class:`GaussianPrior` as a prior (InputError otherwise)."""
    if prior is None or prior is False or isinstance(prior, GaussianPrior):
        return prior or None
    if isinstance(prior, str):
        if prior.lower() == "mclust":
            return GaussianPrior()
        if prior.lower() == "none":
            return None
    raise InputError(
        f"prior must be 'mclust', 'none' or an emstat.GaussianPrior(...), got {prior!r}"
    )


@dataclass(frozen=True)
class DataMoments:
    """What mclust's ``defaultPrior`` reads from the data: n, the column means, ``var``."""

    n: float
    mean: np.ndarray  # (d,)
    covariance: np.ndarray  # (d, d), divisor n - 1 as R's var


def data_moments(x: np.ndarray, weights: np.ndarray | None = None) -> DataMoments:
    """The moments of rows ``x`` (``(n, d)``), counted by case weights if given."""
    x = np.asarray(x, dtype=float)
    w = np.ones(x.shape[0]) if weights is None else np.asarray(weights, dtype=float)
    n = float(w.sum())
    mean = w @ x / n
    centred = x - mean
    covariance = (centred * w[:, None]).T @ centred / max(n - 1.0, 1.0)
    return DataMoments(n, mean, covariance)


def prior_moments(x: Any, center: np.ndarray) -> DataMoments:
    """The moments of the rows EM runs on (centred on ``center``) in the data's units.

    ``x`` is an array, weighted rows or a chunked source (one pass over its
    chunks, which add as any E-step's statistics do).
    """
    from emstat.mixture.gaussian import GaussianStats, WeightedRows

    if isinstance(x, WeightedRows):
        moments = data_moments(x.x, x.weights)
    elif isinstance(x, np.ndarray):
        moments = data_moments(x)
    else:

        def chunk_sums(chunk: Any) -> tuple[GaussianStats, float]:
            rows = np.asarray(chunk, dtype=float)
            n = np.array([float(rows.shape[0])])
            return GaussianStats(n, rows.sum(axis=0)[None], (rows.T @ rows)[None]), 0.0

        total, _ = x.map_reduce(chunk_sums)
        n = float(total.nk[0])
        mean = total.sums[0] / n
        covariance = (total.second[0] - n * np.outer(mean, mean)) / max(n - 1.0, 1.0)
        moments = DataMoments(n, mean, covariance)
    return replace(moments, mean=moments.mean + center)


@dataclass(frozen=True, eq=False)
class ResolvedPrior:
    """The hyperparameters of one fit (one k and model), as ``defaultPrior`` returns them.

    ``scale`` is a number for the diagonal models and ``E``/``V``, a
    ``(d, d)`` matrix for the others; ``mean`` is in the units of the rows
    the M-step sees (see :meth:`shifted`).
    """

    model: str
    shrinkage: float
    mean: np.ndarray
    dof: float
    scale: float | np.ndarray
    default: bool = False  # every field from defaultPrior (for the description)

    def shifted(self, center: np.ndarray) -> ResolvedPrior:
        """The same prior for rows centred on ``center``."""
        return replace(self, mean=self.mean - center)

    def scale_matrix(self) -> np.ndarray:
        """:math:`\\Lambda_P` as a ``(d, d)`` matrix."""
        d = self.mean.shape[0]
        if np.ndim(self.scale) == 0:
            return float(self.scale) * np.eye(d)
        return np.asarray(self.scale, dtype=float)

    def describe(self) -> str:
        """One line for summaries: where the prior came from and its numbers."""
        where = "mclust defaultPrior" if self.default else "user prior"
        return (
            f"{where} (MAP estimate): shrinkage {self.shrinkage:g}, "
            f"mean {_short(self.mean)}, dof {self.dof:g}, scale {_short(self.scale)}"
        )


def resolve_prior(prior: GaussianPrior, moments: DataMoments, k: int, model: str) -> ResolvedPrior:
    """The hyperparameters for ``k`` components of ``model``: mclust's ``defaultPrior``.

    Raises
    ------
    InputError
        When a given mean or scale does not fit the data's dimension, or
        ``dof <= d - 1``.
    """
    d = moments.mean.shape[0]
    shrinkage = _DEFAULT_SHRINKAGE if prior.shrinkage is None else float(prior.shrinkage)
    if prior.mean is None:
        mean = moments.mean.copy()
    else:
        mean = np.asarray(prior.mean, dtype=float)
        if mean.shape != (d,):
            raise InputError(f"the prior mean has {mean.size} values; the data have d = {d}")
    dof = float(d + 2) if prior.dof is None else float(prior.dof)
    if not dof > d - 1:
        raise InputError(f"the prior dof must be > d - 1 = {d - 1}, got {dof:g}")
    diagonal = _is_diagonal(model)
    if prior.scale is None:
        scale = _default_scale(moments, k, d, diagonal)
    else:
        scale = _given_scale(prior.scale, d, diagonal)
    default = prior.shrinkage is None and prior.mean is None and prior.dof is None
    return ResolvedPrior(model, shrinkage, mean, dof, scale, default and prior.scale is None)


def _default_scale(moments: DataMoments, k: int, d: int, diagonal: bool) -> float | np.ndarray:
    variances = np.diag(moments.covariance)
    if d == 1:
        return float(variances[0]) / k**2
    factor = (1.0 / k) ** (2.0 / d)
    if diagonal:
        return factor * float(np.sum(variances)) / d
    if moments.n > d:
        return factor * moments.covariance
    return factor * np.diag(variances)


def _given_scale(scale: Any, d: int, diagonal: bool) -> float | np.ndarray:
    if np.ndim(scale) == 0:
        return float(scale) if diagonal or d == 1 else float(scale) * np.eye(d)
    matrix = np.asarray(scale, dtype=float)
    if matrix.shape != (d, d):
        raise InputError(f"the prior scale has shape {matrix.shape}; the data need ({d}, {d})")
    return float(np.mean(np.diag(matrix))) if diagonal or d == 1 else matrix


# --------------------------------------------------------------------------- #
# the MAP M-step as pseudo-data
# --------------------------------------------------------------------------- #


def _pseudo_counts(model: str, prior: ResolvedPrior, nk: np.ndarray) -> np.ndarray:
    """:math:`\\tilde n_k`: mclust 6.0's denominators (``me*p``), or the NIW ones."""
    k, d = nk.shape[0], prior.mean.shape[0]
    nu = prior.dof
    mean_prior = prior.shrinkage > 0
    if k == 1 and model in ("V", "VVV"):  # Mclust's G = 1 is mvn (mvn1p, mnxxxp)
        return nk + (nu + (1.0 if model == "V" else d) + 1.0 + mean_prior)
    extra: dict[str, float] = {
        "E": 1.0 + (nu + 2.0) / k,  # me1ep: (scale + sum)/(nu + n + G + 2)
        "V": nu + 3.0,  # me1vp
        "EII": 1.0 + (nu + 2.0) / (d * k),  # meeiip: sum/(nu + (n + G) d + 2)
        "VII": (1.0 if mean_prior else 0.0) + (nu + 2.0) / d,  # meviip
        "EEI": (nu + 1.0 + mean_prior) / k,  # meeeip
        "VEI": (nu + 2.0 + mean_prior) / d,  # meveip
        "EVI": (nu + 1.0 + mean_prior) / k,  # meevip
        "VVI": nu + 2.0 + mean_prior,  # mevvip
        "EEE": (nu + d + 1.0 + (k if mean_prior else 0.0)) / k,  # meeeep
        "EEV": (nu + d + 1.0 + mean_prior) / k,  # meeevp
        "VEV": 0.0,  # mevevp adds no pseudo-count
        "VVV": nu + d + 2.0,  # mevvvp
    }
    return nk + extra.get(model, nu + d + 1.0 + mean_prior)


def _added_scale(model: str, prior: ResolvedPrior, k: int, diagonal: bool) -> np.ndarray:
    """:math:`\\Lambda_k`: the scale each component's scatter gains (the same for all k)."""
    d = prior.mean.shape[0]
    if model == "EII":  # meeiip leaves the scale out
        return np.zeros(d) if diagonal else np.zeros((d, d))
    share = {"E": 1.0 / k, "EEI": 1.0 / k, "EEE": 1.0 / k, "VII": 1.0 / d}.get(model, 1.0)
    if diagonal:
        if np.ndim(prior.scale) == 0:
            return np.full(d, share * float(prior.scale))
        return share * np.diag(prior.scale_matrix())
    return share * prior.scale_matrix()


def map_statistics(
    model: str,
    prior: ResolvedPrior,
    nk: np.ndarray,
    means: np.ndarray,
    scatter: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The posterior-mode means and the pseudo-data ``(n~, M)`` of the covariance problem.

    Parameters
    ----------
    model
        The covariance model's mclust name.
    prior
        The resolved prior, its mean in the units of ``means``.
    nk, means, scatter
        ``(k,)`` counts, ``(k, d)`` weighted means and the scatters about
        them: ``(k, d, d)``, or their diagonals ``(k, d)``.

    Returns
    -------
    tuple
        ``(means, counts, scatter)``: the shrunk means, :math:`\\tilde n_k`
        and :math:`M_k`, for the model's maximum-likelihood M-step.
    """
    kappa = prior.shrinkage
    k = nk.shape[0]
    offset = means - prior.mean
    weight = kappa * nk / (kappa + nk)
    diagonal = scatter.ndim == 2
    if diagonal:
        mean_term = weight[:, None] * offset**2
    else:
        mean_term = weight[:, None, None] * np.einsum("ki,kj->kij", offset, offset)
    if model == "EEI":  # meeeip leaves the means unshrunk (the scatter keeps the term)
        shrunk = means
    else:
        shrunk = (nk[:, None] * means + kappa * prior.mean) / (nk + kappa)[:, None]
    added = _added_scale(model, prior, k, diagonal)
    return shrunk, _pseudo_counts(model, prior, nk), scatter + mean_term + added


def niw_log_prior(prior: ResolvedPrior, means: np.ndarray, covariances: np.ndarray) -> float:
    """The log density, up to a constant, of emstat's prior for EVE, VEE, VVE and EVV.

    ``sum_k -(nu + d + 2)/2 log|S_k| - tr(S_k^-1 L)/2 - kappa/2 (m_k - m)^T S_k^-1 (m_k - m)``
    (``nu + d + 1`` when ``kappa = 0``): a normal-inverse-Wishart prior on
    every component.  The MAP M-step maximises the expected complete-data
    log-likelihood plus this.
    """
    d = prior.mean.shape[0]
    kappa = prior.shrinkage
    power = prior.dof + d + 1.0 + (kappa > 0)
    scale = prior.scale_matrix()
    total = 0.0
    for mean, sigma in zip(means, covariances, strict=True):
        _, logdet = np.linalg.slogdet(sigma)
        inverse = np.linalg.inv(sigma)
        offset = mean - prior.mean
        total += -0.5 * power * logdet - 0.5 * float(np.sum(inverse * scale))
        total += -0.5 * kappa * float(offset @ inverse @ offset)
    return total
