"""The registry of Gaussian covariance models: mclust's sixteen parametrisations.

Every component covariance is written, after Banfield & Raftery (1993) and
Celeux & Govaert (1995), as

.. math:: \\Sigma_k = \\lambda_k D_k A_k D_k^T

with volume :math:`\\lambda_k > 0`, shape :math:`A_k` (diagonal, determinant 1)
and orientation :math:`D_k` (orthogonal).  A model's three-letter mclust name
says, for volume, shape and orientation in that order, whether the part is
equal across components (``E``), varying (``V``) or the identity (``I``).  In
one dimension only the volume remains, and the models are called ``E`` and
``V``.

The M-step maximises, under the model's constraint,

.. math:: \\sum_k -\\tfrac12 n_k \\log|\\Sigma_k| - \\tfrac12 \\operatorname{tr}(\\Sigma_k^{-1} W_k)

where :math:`n_k` is the sum of the responsibilities of component ``k`` and
:math:`W_k` its weighted scatter about its own mean.  All sixteen M-steps are
built from three small pieces that follow the decomposition:

* **diagonal fits** (:func:`_fit_diagonal`): with the orientation fixed, the
  problem is one of diagonal covariances :math:`\\Lambda_k = \\lambda_k A_k`
  fitted to the diagonals of :math:`D^T W_k D`; volume and shape letters pick
  the closed form (``EI``, ``VI``, ``EE``, ``EV``, ``VV``) or the fixed-point
  iteration for a common shape with varying volumes (``VE``);
* **varying orientation** (``..V``): :math:`D_k` are the eigenvectors of
  :math:`W_k` (eigenvalues in decreasing order), which reduces ``EEV``,
  ``VEV``, ``EVV`` and ``VVV`` to the diagonal fits of the eigenvalues
  (Celeux & Govaert 1995);
* **common orientation** (``..E``): ``EEE`` is closed form, ``VEE``
  alternates volumes and the common shape-and-orientation matrix, and ``EVE``
  and ``VVE`` alternate the diagonal fit with a sweep of exact plane
  rotations of the common orientation (mclust, and ``mclust_compatible``,
  take the majorisation-minimisation update of Browne & McNicholas 2014).

The iterative M-steps (``VEI``, ``VEE``, ``EVE``, ``VVE``, ``VEV``) run until
the covariances change by less than :data:`INNER_TOL` (relative), mclust's
``sqrt(eps)``, or a model's ``inner_tol`` (mclust's ``emControl()$tol[2]``).
They warm-start from the previous EM iteration's covariances when given
(see :meth:`CovarianceModel.m_step`), so EM reaches its fixed point to that
accuracy anyway.

Examples
--------
>>> import numpy as np
>>> model = get_covariance_model("VVV", d=2)
>>> model.n_var_params(k=3, d=2)
9
>>> nk = np.array([2.0, 4.0])
>>> scatter = np.array([np.eye(2), 2.0 * np.eye(2)])
>>> model.m_step(nk, scatter)[1]
array([[0.5, 0. ],
       [0. , 0.5]])
"""

from __future__ import annotations

import functools
import math
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from emstat.errors import ConvergenceWarning, DegenerateFitError, InputError

__all__ = [
    "ALIASES",
    "COVARIANCE_MODELS",
    "INNER_MAX_ITER",
    "INNER_TOL",
    "CovarianceModel",
    "check_inner_tol",
    "default_models",
    "get_covariance_model",
]

Array = NDArray[np.float64]

#: Relative change of the covariances at which the iterative M-steps stop:
#: mclust's ``tol[2]``, sqrt(machine epsilon).  Each M-step is warm-started
#: from the last, so the EM fixed point is reached to this accuracy anyway;
#: a tighter inner tolerance changed no BIC on faithful beyond 1e-9 and cost
#: a third of the selection's time.
INNER_TOL = float(np.sqrt(np.finfo(float).eps))
#: Iteration cap of the iterative M-steps (a :class:`ConvergenceWarning` says when it is hit).
INNER_MAX_ITER = 100_000

# The inner tolerance of the M-step running now: a model's ``inner_tol``, set by
# CovarianceModel.m_step_trusted for the length of one M-step (so that the helpers
# below need no extra argument); None means INNER_TOL.
_INNER_TOL: ContextVar[float | None] = ContextVar("inner_tol", default=None)


def _inner_tol() -> float:
    tol = _INNER_TOL.get()
    return INNER_TOL if tol is None else tol


def check_inner_tol(value: object) -> float:
    """``inner_tol`` as a float: a number with ``0 <= value < 1`` (as mclust's ``emControl``).

    Raises
    ------
    InputError
        Naming the value otherwise.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
        raise InputError(f"inner_tol must be a number >= 0 and < 1, got {value!r}")
    tol = float(value)
    if not (0 <= tol < 1):
        raise InputError(f"inner_tol must be a number >= 0 and < 1, got {value!r}")
    return tol


@contextmanager
def _inner_tolerance(tol: float) -> Iterator[None]:
    token = _INNER_TOL.set(tol)
    try:
        yield
    finally:
        _INNER_TOL.reset(token)


# Values at or below this fraction of the largest scale are treated as zero.
_EPS = float(np.finfo(float).eps)

_LETTER_WORD = {"E": "equal", "V": "varying"}
_PART_NAMES = ("volume", "shape", "orientation")

# mclust's order (mclust.options("emModelNames")).
_MULTIVARIATE_ORDER = (
    "EII", "VII", "EEI", "VEI", "EVI", "VVI",
    "EEE", "VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV",
)  # fmt: skip
_UNIVARIATE_ORDER = ("E", "V")


# --------------------------------------------------------------------------- #
# small numerical helpers
# --------------------------------------------------------------------------- #


def _geometric_mean(values: Array) -> Array:
    """Geometric mean over the last axis of positive values (``|A|^(1/d)`` for diagonals)."""
    return np.asarray(np.exp(np.mean(np.log(values), axis=-1)), dtype=float)


def _sorted_eigh(scatter: Array) -> tuple[Array, Array]:
    """Eigenvalues (decreasing, rounding negatives clipped to 0) and eigenvectors of each W_k."""
    values, vectors = np.linalg.eigh(scatter)
    # A stable sort keeps tied eigenvalues (a zero scatter) in eigh's order, as
    # mclust does, so the largest shape value goes on the first of them.
    order = np.argsort(-values, axis=1, kind="stable")
    values = np.take_along_axis(values, order, axis=1)
    vectors = np.take_along_axis(vectors, order[:, None, :], axis=2)
    return np.maximum(values, 0.0), vectors


def _rotate_out(orientation: Array, diagonals: Array) -> Array:
    """``D_k diag(Lambda_k) D_k^T`` (``D`` common ``(d, d)`` or per component ``(k, d, d)``)."""
    if orientation.ndim == 2:
        orientation = np.broadcast_to(orientation, (*diagonals.shape, diagonals.shape[-1]))
    sigma = np.einsum("kij,kj,klj->kil", orientation, diagonals, orientation)
    return _symmetrise(sigma)


def _symmetrise(sigma: Array) -> Array:
    return np.asarray(0.5 * (sigma + np.swapaxes(sigma, -1, -2)), dtype=float)


def _embed_diagonal(diagonals: Array) -> Array:
    k, d = diagonals.shape
    sigma = np.zeros((k, d, d))
    idx = np.arange(d)
    sigma[:, idx, idx] = diagonals
    return sigma


def _degenerate(model: str, component: int | None, what: str) -> DegenerateFitError:
    where = "" if component is None else f" in component {component + 1}"
    return DegenerateFitError(
        f"covariance model {model}: {what}{where}; the component has collapsed or a "
        "variable is constant within it (try fewer components or a simpler model)"
    )


def _first_degenerate(values: Array, floor: float | Array) -> int | None:
    """Index of the first component with a value at or below ``floor`` (or None)."""
    bad = np.flatnonzero(np.any(values.reshape(values.shape[0], -1) <= floor, axis=1))
    return int(bad[0]) if bad.size else None


@functools.cache
def _kernels() -> ModuleType:
    """The compiled inner loops, imported on first use so that ``import emstat`` stays light."""
    from emstat.mixture import _covariance_kernels

    return _covariance_kernels


def _finish(model: str, sigma: Array, status: int, component: int) -> Array:
    """Raise the error or warning a kernel's status stands for; else return ``sigma``."""
    kernels = _kernels()
    if status == kernels.CONVERGED:
        return sigma
    if status == kernels.CAPPED:
        _warn_cap(model)
        return sigma
    what = {
        kernels.ZERO_VOLUME: "a zero volume",
        kernels.SINGULAR_POOLED: "a singular pooled scatter",
        kernels.ZERO_SHAPE_VARIANCE: "a zero variance makes the shape undefined",
        kernels.ZERO_AXIS_VARIANCE: "a zero variance along the common axes",
    }[status]
    raise _degenerate(model, None if component < 0 else component, what)


def _warn_cap(model: str) -> None:
    # point the warning at the first frame outside this module (the caller of m_step)
    frame = sys._getframe(0)
    level = 1
    while frame.f_back is not None and frame.f_code.co_filename == __file__:
        frame = frame.f_back
        level += 1
    warnings.warn(
        f"covariance model {model}: the inner M-step iteration hit its cap of "
        f"{INNER_MAX_ITER} iterations before converging",
        ConvergenceWarning,
        stacklevel=level,
    )


# --------------------------------------------------------------------------- #
# diagonal fits: Lambda_k = lambda_k A_k for a fixed orientation
# --------------------------------------------------------------------------- #


def _fit_common_shape_varying_volume(
    model: str,
    nk: Array,
    scatter: Array,
    volumes: Array,
) -> Array:
    """Volumes ``lambda_k`` and one unit-determinant shape ``C`` (VEI, VEV, VEE).

    Alternates the two closed-form conditional updates of Celeux & Govaert
    (1995): ``C`` proportional to ``sum_k W_k / lambda_k`` with ``|C| = 1``, and
    ``lambda_k = tr(C^{-1} W_k) / (d n_k)``.  ``scatter`` holds the diagonals
    ``(k, d)`` (then ``C`` is diagonal) or full matrices ``(k, d, d)``.
    Each update increases the objective; it stops when ``lambda_k C`` changes
    by less than :data:`INNER_TOL`.  Returns ``lambda_k C`` as ``(k, d)``
    diagonals or ``(k, d, d)`` matrices.  The loop is compiled
    (:func:`emstat.mixture._covariance_kernels.common_shape_diagonal` and
    ``common_shape_full``).
    """
    kernels = _kernels()
    kernel = kernels.common_shape_diagonal if scatter.ndim == 2 else kernels.common_shape_full
    sigma, status, component = kernel(
        np.ascontiguousarray(nk, dtype=float),
        np.ascontiguousarray(scatter, dtype=float),
        np.array(volumes, dtype=float),  # a copy: the kernel overwrites it
        _inner_tol(),
        INNER_MAX_ITER,
    )
    return _finish(model, sigma, status, component)


def _fit_diagonal(
    model: str,
    volume: str,
    shape: str,
    nk: Array,
    diagonals: Array,
    start_volumes: Array | None = None,
) -> Array:
    """Diagonal covariances ``Lambda_k = lambda_k A_k`` fitted to diagonal scatters.

    Parameters
    ----------
    model
        The model's name, for error messages.
    volume, shape
        The model's volume and shape letters (``E``, ``V``; shape also ``I``).
    nk
        ``(k,)`` component weights.
    diagonals
        ``(k, d)`` non-negative diagonal scatters (``diag(D^T W_k D)``, or the
        eigenvalues of ``W_k``).
    start_volumes
        ``(k,)`` starting volumes for the iterative ``VE`` case.

    Returns
    -------
    numpy.ndarray
        ``(k, d)`` diagonals of the covariances.
    """
    k, d = diagonals.shape
    n = float(np.sum(nk))
    if shape == "I":
        if volume == "E":
            lam = np.full(k, np.sum(diagonals) / (n * d))
        else:
            lam = np.sum(diagonals, axis=1) / (nk * d)
        return np.repeat(lam[:, None], d, axis=1)
    if shape == "E":
        if volume == "E":
            return np.repeat((np.sum(diagonals, axis=0) / n)[None, :], k, axis=0)
        if start_volumes is None:
            start_volumes = np.sum(diagonals, axis=1) / (nk * d)
        return _fit_common_shape_varying_volume(model, nk, diagonals, start_volumes)
    # shape == "V"
    if volume == "V":
        return np.asarray(diagonals / nk[:, None], dtype=float)
    # per column, so that the test does not depend on the columns' units
    floor = _EPS * np.max(diagonals, axis=0) if diagonals.size else 0.0
    bad = _first_degenerate(diagonals, floor)
    if bad is not None:
        raise _degenerate(model, bad, "a zero variance makes the shape undefined")
    scales = _geometric_mean(diagonals)  # |diag W_k|^(1/d)
    common = float(np.sum(scales)) / n
    return np.asarray(common * diagonals / scales[:, None], dtype=float)


# --------------------------------------------------------------------------- #
# common orientation: plane rotations (mclust: the MM update of Browne & McNicholas 2014)
# --------------------------------------------------------------------------- #


def _fit_common_orientation(
    model: str,
    volume: str,
    nk: Array,
    scatter: Array,
    previous: Array | None,
    mclust_compatible: bool = False,
) -> Array:
    """EVE and VVE: alternate the diagonal fit given ``D`` and an update of ``D``.

    The start ``D`` is the common orientation of ``previous`` (the previous
    covariances: the eigenvectors of a generic weighted sum of them, which
    almost surely has distinct eigenvalues) when they are finite with
    positive traces, else the eigenvectors of ``sum_k W_k``.

    Given ``D``, the diagonals of ``D^T W_k D`` get the ``EV`` or ``VV``
    diagonal fit (as :func:`_fit_diagonal`).  Given the fitted
    ``Lambda_k = diag(1 / B_k)``, one sweep of plane rotations lowers
    ``sum_k tr(W_k D B_k D^T)`` over orthogonal ``D``: each pair of axes turns
    by the angle that minimises the objective exactly, a closed form
    (:func:`emstat.mixture._covariance_kernels._jacobi_orientation`).  No step
    increases the objective, and the loop is compiled
    (:func:`emstat.mixture._covariance_kernels.common_orientation`).

    The MM update of Browne & McNicholas (2014), which mclust uses, moves
    ``D`` by a polar factor of a majorisation; when the shapes are nearly
    round its bound is loose and its steps tiny, so it took hundreds of
    cycles and stopped short of the maximum at sqrt(eps), where the rotations
    take a few cycles (``tests/mixture/test_covariance.py``).

    ``mclust_compatible`` runs mclust 6.0's own M-steps instead, MM update
    included (:func:`emstat.mixture._covariance_kernels.mclust_common_orientation`):
    their inner loop stops when a target changes by at most sqrt(eps), and
    VVE's orientation update weights the scatters by the inverse shapes
    ``A_k^-1`` rather than ``(lambda_k A_k)^-1``, so its fixed point is not
    the constrained maximum.
    """
    scatter = np.ascontiguousarray(scatter, dtype=float)
    usable = previous is not None and previous.shape[1:] == scatter.shape[1:]
    kernels = _kernels()
    kernel = kernels.mclust_common_orientation if mclust_compatible else kernels.common_orientation
    sigma, status, component = kernel(
        np.ascontiguousarray(nk, dtype=float),
        scatter,
        np.ascontiguousarray(previous, dtype=float) if usable else scatter,
        usable,
        volume == "E",
        _inner_tol(),
        INNER_MAX_ITER,
    )
    return _finish(model, sigma, status, component)


def _mclust_vee(model: str, nk: Array, scatter: Array) -> Array:
    """mclust 6.0's VEE M-step: volumes restart at 1 and the inner loop stops on its target."""
    sigma, status, component = _kernels().mclust_vee(
        np.ascontiguousarray(nk, dtype=float),
        np.ascontiguousarray(scatter, dtype=float),
        _inner_tol(),
        INNER_MAX_ITER,
    )
    return _finish(model, sigma, status, component)


def _previous_volumes(previous: Array | None, k: int) -> Array | None:
    """``|Sigma_k|^(1/d)`` of usable previous covariances, else None."""
    if previous is None or previous.shape[0] != k or not np.all(np.isfinite(previous)):
        return None
    sign, logdet = np.linalg.slogdet(previous)
    if np.any(sign <= 0):
        return None
    return np.asarray(np.exp(logdet / previous.shape[-1]), dtype=float)


# --------------------------------------------------------------------------- #
# the M-step of every model
# --------------------------------------------------------------------------- #


def _m_step(
    model: str,
    letters: str,
    nk: Array,
    scatter: Array,
    previous: Array | None,
    mclust_compatible: bool = False,
) -> Array:
    if model in _SCATTER_TESTED:
        _check_scatters(model, scatter)
    sigma = _m_step_unchecked(model, letters, nk, scatter, previous, mclust_compatible)
    if model in ("VEE", "EVE", "VVE", "EVV"):
        _check_fitted(model, nk, scatter, sigma)
    return sigma


def _m_step_unchecked(
    model: str,
    letters: str,
    nk: Array,
    scatter: Array,
    previous: Array | None,
    mclust_compatible: bool,
) -> Array:
    volume, shape, orientation = letters[0], letters[1], letters[2]
    k = nk.shape[0]
    if letters == "VVV":  # unconstrained: the decomposition below would rebuild W_k / n_k
        return _symmetrise(scatter / nk[:, None, None])
    if orientation == "I":
        start_volumes = _previous_volumes(previous, k) if volume + shape == "VE" else None
        return _embed_diagonal(_fit_diagonal(model, volume, shape, nk, scatter, start_volumes))
    if orientation == "V":
        values, vectors = _sorted_eigh(scatter)
        start_volumes = _previous_volumes(previous, k) if volume + shape == "VE" else None
        diagonals = _fit_diagonal(model, volume, shape, nk, values, start_volumes)
        return _rotate_out(vectors, diagonals)
    # common orientation
    if shape == "E":
        if volume == "E":
            return np.repeat((np.sum(scatter, axis=0) / np.sum(nk))[None], k, axis=0)
        if mclust_compatible:
            return _mclust_vee(model, nk, scatter)
        start_volumes = _previous_volumes(previous, k)
        if start_volumes is None:
            start_volumes = np.einsum("kii->k", scatter) / (nk * scatter.shape[1])
        return _symmetrise(_fit_common_shape_varying_volume(model, nk, scatter, start_volumes))
    return _fit_common_orientation(model, volume, nk, scatter, previous, mclust_compatible)


# --------------------------------------------------------------------------- #
# mclust's singularity rules for the ellipsoidal models
# --------------------------------------------------------------------------- #

#: mclust's threshold ``sqrt(eps)`` (emControl()$eps is machine epsilon).
_RTEPS = math.sqrt(_EPS)
#: Eigenvalues of a scatter at or below this fraction of its largest are rounding
#: noise: emstat accumulates second moments about one centre, so an exactly
#: rank-deficient scatter comes out with eigenvalues of order eps * n_k * |m_k|^2
#: where mclust, which sums ``(x_i - m_k)(x_i - m_k)^T``, gets (almost) zero.
_RANK_RTOL = 1e-13


def _scatter_eigenvalues(scatter: Array) -> Array:
    """Eigenvalues (increasing) of each ``W_k``, rounding noise set to 0."""
    values = np.linalg.eigvalsh(scatter)
    top = np.max(np.abs(values), axis=1, keepdims=True)
    return np.asarray(np.where(values <= _RANK_RTOL * top, 0.0, values), dtype=float)


#: Models whose scatters get mclust's test before the M-step.  VEE's test (a
#: Cholesky factorisation of each W_k) is left out for now: on an exactly
#: rank-deficient W_k its outcome in mclust depends on the last bits, and
#: emstat's scatter (second moments about one centre) has different last bits.
_SCATTER_TESTED = ("EVE", "VVE")


def _check_scatters(model: str, scatter: Array) -> None:
    """mclust's test of the scatters before the iterative M-steps VEE, EVE and VVE.

    ``meVEE`` needs the Cholesky factorisation of every ``W_k`` (LAPACK's
    ``dpotrf``) to succeed; on an exactly rank-deficient scatter that depends
    on the last bits of the scatter, and emstat applies the same test to its
    own scatter.  ``meEVE`` and ``meVVE`` need the smallest eigenvalue of every
    ``W_k`` to be at least ``sqrt(eps)``, an absolute threshold on the scatter
    (not the covariance ``W_k / n_k``), so data on a small scale are singular
    for these models too.
    """
    if model == "VEE":
        for k in range(scatter.shape[0]):
            try:
                np.linalg.cholesky(scatter[k])
            except np.linalg.LinAlgError:
                raise _degenerate(
                    model, k, "the scatter matrix is not positive definite (mclust's test)"
                ) from None
        return
    values = _scatter_eigenvalues(scatter)
    low = np.flatnonzero(values[:, 0] < _RTEPS)
    if low.size:
        k = int(low[0])
        smallest = float(values[k, 0])
        raise _degenerate(
            model,
            k,
            f"the scatter matrix has an eigenvalue {smallest:.3g} below "
            f"sqrt(eps) = {_RTEPS:.3g} (mclust's test)",
        )


def _volumes_and_shapes(sigma: Array) -> tuple[Array, Array]:
    """``lambda_k = |Sigma_k|^(1/d)`` and the unit-determinant shapes (eigenvalues)."""
    values = np.maximum(np.linalg.eigvalsh(sigma), 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        volumes = np.exp(np.mean(np.log(values), axis=1))
        shapes = values / volumes[:, None]
    return volumes, shapes


def _check_fitted(model: str, nk: Array, scatter: Array, sigma: Array) -> None:
    """mclust's tests of the fitted volumes and shapes (VEE, EVE, VVE, EVV).

    * VEE: every shape value (eigenvalue of the common unit-determinant ``C``)
      and every volume ``lambda_k`` above ``sqrt(eps)``;
    * EVE: every shape value (``A_k``, unit determinant) at least ``sqrt(eps)``;
    * VVE: the same, and every volume ``lambda_k`` at least ``sqrt(eps)``;
    * EVV: with ``s_k = |W_k|^(1/d)`` (the scatter's, not the covariance's)
      and ``A_k = eig(W_k) / s_k``, every shape value and every one of
      ``lambda = sum_k s_k / n, s_2, ..., s_G`` above ``sqrt(eps)`` (mclust
      overwrites ``s_1`` by ``lambda`` before the test).
    """
    if model == "EVV":
        values = _scatter_eigenvalues(scatter)
        with np.errstate(divide="ignore"):
            scales = np.exp(np.mean(np.log(np.maximum(values, 0.0)), axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            shapes = values / scales[:, None]
        tested = scales.copy()
        tested[0] = float(np.sum(scales)) / float(np.sum(nk))
        for k in range(values.shape[0]):
            low_shape = not float(np.min(shapes[k])) > _RTEPS
            if low_shape or not tested[k] > _RTEPS:
                what = "shape" if low_shape else "volume"
                raise _degenerate(model, k, f"a {what} at or below sqrt(eps) (mclust's test)")
        return
    volumes, shapes = _volumes_and_shapes(sigma)
    smallest = np.min(shapes, axis=1)
    # meVEE tests <= sqrt(eps); meEVE and meVVE test < sqrt(eps); NaN fails both
    if model == "VEE":
        low_shape = ~(smallest > _RTEPS)
        low_volume = ~(volumes > _RTEPS)
    else:
        low_shape = ~(smallest >= _RTEPS)
        low_volume = ~(volumes >= _RTEPS) if model == "VVE" else np.zeros_like(low_shape)
    bad = np.flatnonzero(low_shape | low_volume)
    if bad.size:
        k = int(bad[0])
        what = "shape value" if low_shape[k] else "volume"
        raise _degenerate(model, k, f"a {what} below sqrt(eps) (mclust's test)")


def _parameter_count(letter: str, per_component: int, k: int) -> int:
    return {"I": 0, "E": per_component, "V": k * per_component}[letter]


def _describe(name: str) -> str:
    letters = _letters(name)
    if len(name) == 1:
        return f"univariate, {_LETTER_WORD[name]} variance"
    if letters[1:] == "II":
        kind = "spherical"
    elif letters[2] == "I":
        kind = "diagonal"
    else:
        kind = "ellipsoidal"
    parts = [(p, letter) for p, letter in zip(_PART_NAMES, letters, strict=True) if letter != "I"]
    words: list[str] = []
    for word in dict.fromkeys(_LETTER_WORD[letter] for _, letter in parts):
        names = [p for p, letter in parts if _LETTER_WORD[letter] == word]
        if names:
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
            words.append(f"{word} {listed}")
    return f"{kind}, " + ", ".join(words)


def _letters(name: str) -> str:
    return f"{name}II" if len(name) == 1 else name


# --------------------------------------------------------------------------- #
# public interface
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class CovarianceModel:
    """One of mclust's Gaussian covariance models.

    Parameters
    ----------
    name
        mclust's name: ``E``, ``V`` (one dimension) or ``EII`` … ``VVV``.
    description
        Plain words, e.g. ``"ellipsoidal, varying volume, shape and orientation"``.
    scatter
        The scatter statistic the M-step needs: ``"diag"`` (the diagonals,
        ``(k, d)``) for ``E``, ``V`` and the spherical and diagonal models,
        ``"full"`` (``(k, d, d)``) for the others.
    mclust_compatible
        Run mclust 6.0's own iterative M-steps for ``VEE``, ``EVE`` and
        ``VVE``: their inner loops keep mclust's state and stop on mclust's
        target, and VVE's orientation update weights each scatter by the
        inverse shape only, leaving out the volumes.  VVE's fixed point is
        then not the constrained maximum, so emstat's exact M-step (the
        default) reaches higher likelihoods; this switch exists so that a fit
        can be checked against R digit for digit.  Other models ignore it.
    inner_tol
        Relative tolerance at which the iterative M-steps (``VEI``, ``VEE``,
        ``EVE``, ``VVE``, ``VEV``) stop: :data:`INNER_TOL` (``sqrt(eps)``,
        mclust's default ``emControl()$tol[2]``) unless given.  mclust's
        ``emControl(tol = t)`` with one number sets both its parts to ``t``:
        EM's ``tol`` and this one.  Other models ignore it.
    """

    name: str
    description: str
    scatter: Literal["full", "diag"]
    mclust_compatible: bool = False
    inner_tol: float | None = None

    def n_var_params(self, k: int, d: int) -> int:
        """Number of free covariance parameters, exactly mclust's ``nVarParams``.

        Counts the free parameters of volume (``1`` or ``k``), shape (``d - 1``
        each, equal or per component) and orientation (``d(d-1)/2`` each).

        Parameters
        ----------
        k
            Number of components (at least 1).
        d
            Dimension of the data (at least 1).

        Returns
        -------
        int

        Examples
        --------
        >>> COVARIANCE_MODELS["EVE"].n_var_params(k=3, d=4)
        16
        """
        if int(k) != k or k < 1 or int(d) != d or d < 1:
            raise InputError(f"n_var_params needs integers k >= 1 and d >= 1, got k={k}, d={d}")
        k, d = int(k), int(d)
        letters = _letters(self.name)
        volume, shape, orientation = letters[0], letters[1], letters[2]
        return (
            _parameter_count(volume, 1, k)
            + _parameter_count(shape, d - 1, k)
            + _parameter_count(orientation, d * (d - 1) // 2, k)
        )

    def m_step(
        self,
        nk: np.ndarray,
        scatter: np.ndarray,
        previous: np.ndarray | None = None,
    ) -> np.ndarray:
        """Covariances maximising the expected complete-data log-likelihood.

        Maximises ``sum_k -n_k/2 log|Sigma_k| - 1/2 tr(Sigma_k^{-1} W_k)`` under
        the model's constraint.

        Parameters
        ----------
        nk
            ``(k,)`` sums of the responsibilities, all positive.
        scatter
            Weighted scatter of each component about its own mean,
            ``W_k = sum_i z_ik (x_i - m_k)(x_i - m_k)^T``: ``(k, d, d)`` when
            :attr:`scatter` is ``"full"``, its diagonals ``(k, d)`` when
            ``"diag"``.
        previous
            ``(k, d, d)`` covariances of the previous EM iteration, or None.
            The iterative M-steps (``VEI``, ``VEE``, ``VEV``, ``EVE``, ``VVE``)
            warm-start from it: ``VE*`` from its volumes ``|Sigma_k|^(1/d)``,
            ``EVE``/``VVE`` from its common orientation.  For ``VE*`` the
            optimum is the same from any start and the warm start only saves
            iterations; the orientation problem of ``EVE``/``VVE`` can have
            several local optima, and starting from the previous orientation
            keeps EM on one branch (the likelihood cannot then decrease
            because of the M-step).  Without it they start from volumes
            ``tr(W_k)/(d n_k)`` and the eigenvectors of ``sum_k W_k``.  The
            closed-form M-steps ignore it.

        Returns
        -------
        numpy.ndarray
            ``(k, d, d)`` symmetric covariances.  A degenerate scatter gives a
            singular covariance where the model's closed form allows it (a
            caller detects it by a failed Cholesky factorisation).

        Raises
        ------
        InputError
            If the shapes do not fit or ``nk`` is not positive and finite.
        DegenerateFitError
            If the constrained maximum does not exist because of a zero
            variance (the message names the model and, where it can, the
            component).
        """
        nk_arr, w = self._check(nk, scatter)
        prev = None if previous is None else np.asarray(previous, dtype=float)
        if prev is not None and prev.shape != (w.shape[0], w.shape[1], w.shape[1]):
            raise InputError(
                f"covariance model {self.name}: previous has shape {prev.shape}, "
                f"expected {(w.shape[0], w.shape[1], w.shape[1])}"
            )
        return self.m_step_trusted(nk_arr, w, prev)

    def m_step_trusted(
        self, nk: np.ndarray, scatter: np.ndarray, previous: np.ndarray | None = None
    ) -> np.ndarray:
        """:meth:`m_step` without validating its inputs.

        For the EM loop, whose statistics have the right shapes by
        construction; validation there cost as much as a small M-step.
        """
        if self.inner_tol is None:
            return _m_step(
                self.name, _letters(self.name), nk, scatter, previous, self.mclust_compatible
            )
        with _inner_tolerance(self.inner_tol):
            return _m_step(
                self.name, _letters(self.name), nk, scatter, previous, self.mclust_compatible
            )

    def m_step_from_eigen(self, nk: np.ndarray, values: np.ndarray, vectors: np.ndarray) -> Array:
        """The M-step of ``EEV`` or ``VEV`` from given eigendecompositions of the scatters.

        ``values`` ``(k, d)`` are each ``W_k``'s eigenvalues in decreasing
        order and ``vectors`` ``(k, d, d)`` the eigenvectors as columns; this
        is :meth:`m_step` with the eigendecomposition made elsewhere.  Where
        a scatter is singular its null space has no preferred axes, yet the
        two models pair them with different shape values: the fit depends
        on the axes chosen (see :mod:`emstat.mixture._mclust_start`).
        """
        letters = _letters(self.name)
        if self.name not in ("EEV", "VEV"):
            raise InputError(f"m_step_from_eigen serves EEV and VEV, not {self.name}")
        with _inner_tolerance(INNER_TOL if self.inner_tol is None else self.inner_tol):
            diagonals = _fit_diagonal(self.name, letters[0], letters[1], nk, values, None)
        return _rotate_out(vectors, diagonals)

    def _check(self, nk: np.ndarray, scatter: np.ndarray) -> tuple[Array, Array]:
        nk_arr = np.asarray(nk, dtype=float)
        w = np.asarray(scatter, dtype=float)
        if nk_arr.ndim != 1 or nk_arr.size == 0:
            raise InputError(f"covariance model {self.name}: nk must be a non-empty 1-D array")
        if not np.all(np.isfinite(nk_arr)) or np.any(nk_arr <= 0):
            raise InputError(f"covariance model {self.name}: nk must be positive and finite")
        k = nk_arr.size
        expected_ndim = 2 if self.scatter == "diag" else 3
        if w.ndim != expected_ndim or w.shape[0] != k or (w.ndim == 3 and w.shape[1] != w.shape[2]):
            layout = "(k, d)" if self.scatter == "diag" else "(k, d, d)"
            raise InputError(
                f"covariance model {self.name}: scatter must have shape {layout} with k={k}, "
                f"got {w.shape}"
            )
        if len(self.name) == 1 and w.shape[1] != 1:
            raise InputError(f"covariance model {self.name} is for one-dimensional data only")
        if not np.all(np.isfinite(w)):
            raise InputError(f"covariance model {self.name}: scatter has non-finite entries")
        return nk_arr, w


def _make(name: str) -> CovarianceModel:
    letters = _letters(name)
    kind: Literal["full", "diag"] = "diag" if letters[2] == "I" else "full"
    return CovarianceModel(name=name, description=_describe(name), scatter=kind)


#: Every model, keyed by its mclust name, in mclust's order (``E``, ``V`` first).
COVARIANCE_MODELS: dict[str, CovarianceModel] = {
    name: _make(name) for name in (*_UNIVARIATE_ORDER, *_MULTIVARIATE_ORDER)
}

#: scikit-learn's covariance types and the mclust models they are.
ALIASES: dict[str, str] = {"spherical": "VII", "diag": "VVI", "tied": "EEE", "full": "VVV"}


def get_covariance_model(
    name: str, d: int, *, mclust_compatible: bool = False, inner_tol: float | None = None
) -> CovarianceModel:
    """Look up a covariance model by mclust name or scikit-learn alias.

    Names are case-sensitive.  For ``d > 1`` the valid names are ``EII`` …
    ``VVV`` and the aliases; ``E`` and ``V`` are an error.  For ``d == 1``
    only the volume is left, so ``E`` and ``V`` are valid and every
    multivariate name or alias is mapped to the one-dimensional model with
    the same volume letter (``EII``, ``EEE``, ``tied`` … give ``E``;
    ``VII``, ``VVV``, ``full`` … give ``V``), which is the same model.

    Parameters
    ----------
    name
        mclust name or alias (``spherical``, ``diag``, ``tied``, ``full``).
    d
        Dimension of the data.
    mclust_compatible
        Run mclust 6.0's own iterative M-steps (see :class:`CovarianceModel`).
    inner_tol
        Tolerance of the iterative M-steps (default :data:`INNER_TOL`).

    Returns
    -------
    CovarianceModel

    Raises
    ------
    InputError
        For an unknown name or a name that does not fit ``d``, or an
        ``inner_tol`` outside ``[0, 1)``.

    Examples
    --------
    >>> get_covariance_model("full", d=3).name
    'VVV'
    >>> get_covariance_model("EEE", d=1).name
    'E'
    """
    if isinstance(d, bool) or int(d) != d or d < 1:
        raise InputError(f"the dimension d must be an integer >= 1, got {d!r}")
    model = _lookup(name, d)
    if mclust_compatible:
        model = replace(model, mclust_compatible=True)
    if inner_tol is not None:
        model = replace(model, inner_tol=check_inner_tol(inner_tol))
    return model


def _lookup(name: str, d: int) -> CovarianceModel:
    canonical = ALIASES.get(name, name)
    valid = _UNIVARIATE_ORDER if d == 1 else _MULTIVARIATE_ORDER
    if canonical not in COVARIANCE_MODELS:
        raise InputError(
            f"unknown covariance model {name!r}; valid names for d={d}: "
            f"{', '.join(valid)} (or {', '.join(ALIASES)})"
        )
    if d == 1:
        return COVARIANCE_MODELS[canonical[0]]
    if canonical in _UNIVARIATE_ORDER:
        raise InputError(
            f"covariance model {name!r} is for one-dimensional data; valid names for d={d}: "
            f"{', '.join(valid)} (or {', '.join(ALIASES)})"
        )
    return COVARIANCE_MODELS[canonical]


def default_models(d: int, n: int) -> list[str]:
    """mclust's default set of models for ``n`` observations in ``d`` dimensions.

    ``E`` and ``V`` for ``d == 1``; otherwise all fourteen in mclust's order,
    or only the six spherical and diagonal ones when ``n <= d``.

    Examples
    --------
    >>> default_models(d=2, n=2)
    ['EII', 'VII', 'EEI', 'VEI', 'EVI', 'VVI']
    """
    if int(d) != d or d < 1 or int(n) != n or n < 1:
        raise InputError(f"default_models needs integers d >= 1 and n >= 1, got d={d}, n={n}")
    if d == 1:
        return list(_UNIVARIATE_ORDER)
    if n <= d:
        return list(_MULTIVARIATE_ORDER[:6])
    return list(_MULTIVARIATE_ORDER)
