"""Standard errors of Gaussian mixture estimates, for every covariance model.

Two estimators of the sampling variability of the rows of
:attr:`MixtureResult.params <emstat.mixture.result.MixtureResult.params>`
(per component: the weight, the means, the covariance's upper triangle):

* :func:`information_std_errors`: the observed information of the
  observed-data log-likelihood ``sum_i log sum_k w_k N(x_i | mu_k, Sigma_k)``
  and the delta method;
* :func:`bootstrap_std_errors`: a parametric bootstrap that refits by EM from
  the fitted parameters and aligns components by the Hungarian assignment
  (:func:`align_components`).

The information is taken in a **local chart** of the model around the fitted
parameters, one mechanism for all sixteen covariance models.  Its coordinates
are exactly the model's free parameters:

* ``k - 1`` weight coordinates ``a``: ``w_j = w_hat_j e^{a_j} / sum_l w_hat_l e^{a_l}``
  with ``a_k = 0``;
* ``k d`` mean offsets ``b``: ``mu_k = mu_hat_k + b_k``;
* the covariance coordinates of ``Sigma_k = lambda_k D_k A_k D_k^T``: a
  log-volume offset ``v`` (one shared, or one per component), log-shape
  offsets ``h`` in an orthonormal sum-zero basis ``B`` (``d - 1``, shared or
  per component, none for spherical models) and an orientation
  ``D_k = D_hat_k expm(S)`` with ``S`` skew-symmetric (``d(d-1)/2``
  coordinates, shared or per component, none for diagonal models); the
  model's three letters decide what is shared.  With ``Lambda_k = lambda_k A_k``
  the diagonal of ``D_hat_k^T Sigma_hat_k D_hat_k``,

  .. math::

     \\Sigma_k(\\theta) = \\hat\\Sigma_k
         + \\hat D_k [M_k(\\theta) - \\hat\\Lambda_k] \\hat D_k^T,
     \\qquad M_k = e^{v} E(s) \\hat\\Lambda_k e^{\\operatorname{diag}(Bh)} E(s)^T,

  so the chart reproduces the fitted parameters exactly at ``theta = 0``.

The Hessian is analytic: per observation
``d^2 log sum_k e^{l_ik} = sum_k z_ik (d^2 l_ik + d l_ik d l_ik^T) - g_i g_i^T``
(``g_i = sum_k z_ik d l_ik``), with the first and second derivatives of the
chart at 0 from second-order jets of ``e^v``, ``E(s)`` and ``Lambda(h)``.
Tests check it against a numerical Hessian of the chart's log-likelihood.
It is summed over the rows in one compiled pass
(:mod:`emstat.mixture._information_kernels`); its numpy twin
(``_numpy_loglik_derivatives``) is the tests' oracle.

The delta method maps ``I^{-1}`` through the Jacobian of the reported
parameters.  A reported parameter fixed by construction (an off-diagonal
covariance of a diagonal model, the weight of a single component) has
standard error 0.  A parameter that moves along a direction the data do not
identify (the observed information is singular there, or the chart is
degenerate because of tied eigenvalues, e.g. the orientation of a spherical
component) gets NaN, and so does one along a direction in which the
information is negative (the parameters are not a local maximum); a
:class:`StdErrorWarning` says so.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, replace
from functools import cache
from typing import Any

import numpy as np
from numpy.typing import NDArray

from emstat.engine import ChunkedData, EMControl, fit_em
from emstat.errors import EmstatError, InputError, StdErrorWarning
from emstat.mixture import gaussian
from emstat.mixture.align import align_components
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.gaussian import GaussianParams, reported_vector
from emstat.mixture.model import GaussianMixtureModel

__all__ = [
    "BOOTSTRAP_CONTROL",
    "BootstrapReplicates",
    "StdErrorWarning",
    "align_components",
    "bootstrap_replicates",
    "bootstrap_std_errors",
    "information_std_errors",
    "observed_information",
    "reported_vector",
]

Array = NDArray[np.float64]
IntArray = NDArray[np.intp]

#: EM stopping rule of the bootstrap refits (tighter than mclust's default, so
#: that replicates do not stop near their start and understate the spread).
BOOTSTRAP_CONTROL = EMControl(tol=1e-8, criterion="rel", max_iter=10_000)

# Parameters whose constraints hold to this relative accuracy are in the model.
_CONSTRAINT_RTOL = 1e-6
# Eigenvalues of the scaled information at or below this are treated as zero.
_NULL_RTOL = 1e-10
# A reported parameter is affected by a null direction when its scaled
# gradient has at least this fraction of its norm along it.
_AFFECTED_RTOL = 1e-7
# A chart coordinate whose derivative is this small (relative to the
# covariances it moves) is degenerate: tied eigenvalues.
_DEGENERATE_RTOL = 1e-9
_EPS = float(np.finfo(float).eps)


@cache
def _kernels() -> Any:
    """:mod:`emstat.mixture._information_kernels`, imported on first use (its compiled
    kernels load with it), then found without an import statement per call."""
    from emstat.mixture import _information_kernels

    return _information_kernels


# --------------------------------------------------------------------------- #
# reported parameters
# --------------------------------------------------------------------------- #


def _block_size(d: int) -> int:
    return 1 + d + d * (d + 1) // 2


# --------------------------------------------------------------------------- #
# the chart
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class _Chart:
    """A local chart of a covariance model around fitted parameters.

    ``theta`` is laid out as ``[a (k-1) | b (k d) | covariance coordinates]``;
    component ``k``'s local covariance coordinates ``(v, h..., s...)`` are the
    global coordinates ``cov_index[k]``.  ``d_m[k, a]`` and ``d2_m[k, a, b]``
    are the first and second derivatives at 0 of ``M_k`` (the covariance in
    the frame of ``orientations[k]``) in those local coordinates.
    """

    weights: Array  # (k,)
    means: Array  # (k, d)
    covariances: Array  # (k, d, d)
    orientations: Array  # (k, d, d)  D_hat_k
    diagonals: Array  # (k, d)  diag Lambda_hat_k
    cov_index: IntArray  # (k, q)
    d_m: Array  # (k, q, d, d)
    d2_m: Array  # (k, q, q, d, d)
    has_shape: bool
    has_orientation: bool
    n_free: int
    layout: _Layout  # what every chart of the model, k and d shares

    @property
    def k(self) -> int:
        return int(self.weights.shape[0])

    @property
    def d(self) -> int:
        return int(self.means.shape[1])


def _letters(name: str) -> str:
    return f"{name}II" if len(name) == 1 else name


@cache
def _sum_zero_basis(d: int) -> Array:
    """Orthonormal ``(d, d-1)`` basis of the vectors whose entries sum to zero (Helmert)."""
    basis = np.zeros((d, d - 1))
    for j in range(1, d):
        basis[:j, j - 1] = 1.0
        basis[j, j - 1] = -float(j)
        basis[:, j - 1] /= math.sqrt(j * (j + 1))
    basis.flags.writeable = False  # cached: shared by every caller
    return basis


@cache
def _skew_basis(d: int) -> Array:
    """``E_ij - E_ji`` for ``i < j`` in row-major order, shape ``(d(d-1)/2, d, d)``."""
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    basis = np.zeros((len(pairs), d, d))
    for a, (i, j) in enumerate(pairs):
        basis[a, i, j] = 1.0
        basis[a, j, i] = -1.0
    basis.flags.writeable = False  # cached: shared by every caller
    return basis


def _decompose(covariances: Array, letters: str, model: str) -> tuple[Array, Array]:
    """Orientations ``D_hat_k`` and diagonals ``Lambda_hat_k`` consistent with the model.

    Raises :class:`InputError` when the covariances do not satisfy the
    model's constraints (to :data:`_CONSTRAINT_RTOL`).
    """
    k, d, _ = covariances.shape
    volume, shape, orientation = letters[0], letters[1], letters[2]
    if orientation == "I":
        # writable: the kernels see the same array type as for the other models
        orientations = _identities(k, d).copy()
        rotated = covariances  # the identity rotates nothing
    else:
        if orientation == "V":
            _, vectors = np.linalg.eigh(covariances)
            orientations = vectors[:, :, ::-1]  # decreasing eigenvalues, as the M-step orders them
        else:
            scales = np.einsum("kii->k", covariances)
            mix = (1.0 + 0.6180339887498949 * np.arange(k)) / scales
            _, vectors = np.linalg.eigh(np.tensordot(mix, covariances, axes=1))
            orientations = np.broadcast_to(vectors[:, ::-1], (k, d, d)).copy()
        rotated = np.einsum("kji,kjl,klm->kim", orientations, covariances, orientations)
    diagonals = np.diagonal(rotated, axis1=1, axis2=2).copy()
    # the k d values in Python: fewer calls than numpy's comparisons (NaN fails too)
    if not all(0.0 < value < math.inf for value in diagonals.ravel().tolist()):
        raise InputError(f"covariance model {model}: the covariances are not positive definite")
    problems = []
    if d > 1:  # a 1 x 1 covariance has no off-diagonal entries
        scale = np.max(diagonals, axis=1)
        off = np.max(np.abs(rotated - diagonals[:, :, None] * np.eye(d)), axis=(1, 2)) / scale
        if np.any(off > _CONSTRAINT_RTOL):
            problems.append("orientation")
    # in one dimension the shapes are 1: only an equal volume constrains the logs
    if volume == "E" or (d > 1 and shape != "V"):
        problems.extend(_volume_shape_problems(np.log(diagonals), volume, shape))
    if problems:
        raise InputError(
            f"the covariances do not satisfy model {model}'s constraints on "
            f"{' and '.join(problems)}; pass the parameters fitted with that model"
        )
    return orientations, diagonals


def _volume_shape_problems(logs: Array, volume: str, shape: str) -> list[str]:
    """Which of the volume and shape constraints the log-diagonals ``(k, d)`` break."""
    d = logs.shape[1]
    problems = []
    log_volumes = logs[:, 0] if d == 1 else np.mean(logs, axis=1)
    log_shapes = logs - log_volumes[:, None]
    if volume == "E" and np.ptp(log_volumes) > _CONSTRAINT_RTOL:
        problems.append("volume")
    if shape == "I" and d > 1 and np.max(np.abs(log_shapes)) > _CONSTRAINT_RTOL:
        problems.append("shape")
    if shape == "E" and np.max(np.ptp(log_shapes, axis=0)) > _CONSTRAINT_RTOL:
        problems.append("shape")
    return problems


Jet = tuple[Array, Array, Array]  # value (d, d), first (q, d, d), second (q, q, d, d)


def _jet_product(left: Jet, right: Jet) -> Jet:
    """Second-order jet of a matrix product."""
    a0, a1, a2 = left
    b0, b1, b2 = right
    cross = np.einsum("aij,bjk->abik", a1, b1)
    second = a2 @ b0 + a0 @ b2 + cross + cross.transpose(1, 0, 2, 3)
    return a0 @ b0, a1 @ b0 + a0 @ b1, second


def _local_jets(diagonal: Array, has_shape: bool, has_orientation: bool) -> tuple[Array, Array]:
    """First and second derivatives at 0 of ``M = e^v E(s) Lambda(h) E(s)^T``.

    Local coordinates are ``(v, h_1..h_{d-1}, s_1..s_{d(d-1)/2})``, the
    ``h`` and ``s`` present only when the model has free shape and
    orientation.  ``M`` is linear in ``diag Lambda_hat``, and so are its
    derivatives: they are combinations of :func:`_jet_basis`.
    """
    first, second = _jet_combinations(diagonal[None, :], has_shape, has_orientation)
    return first[0], second[0]


def _jet_combinations(
    diagonals: Array, has_shape: bool, has_orientation: bool
) -> tuple[Array, Array]:
    """:func:`_local_jets` of every row of ``diagonals`` ``(k, d)``, stacked."""
    k, d = diagonals.shape
    first, second = _jet_basis(d, has_shape, has_orientation)
    d_m = (diagonals @ first.reshape(d, -1)).reshape(k, *first.shape[1:])
    d2_m = (diagonals @ second.reshape(d, -1)).reshape(k, *second.shape[1:])
    return d_m, d2_m


@cache
def _jet_basis(d: int, has_shape: bool, has_orientation: bool) -> tuple[Array, Array]:
    """:func:`_direct_local_jets` of each unit diagonal ``e_i``, stacked on a first axis
    (read-only: shared by every chart of the model)."""
    jets = [_direct_local_jets(np.eye(d)[i], has_shape, has_orientation) for i in range(d)]
    first, second = np.stack([j[0] for j in jets]), np.stack([j[1] for j in jets])
    first.flags.writeable = False
    second.flags.writeable = False
    return first, second


def _direct_local_jets(
    diagonal: Array, has_shape: bool, has_orientation: bool
) -> tuple[Array, Array]:
    """:func:`_local_jets` from the jets of the factors of ``M`` (the products spelled out)."""
    d = diagonal.shape[0]
    n_h = d - 1 if has_shape else 0
    skew = _skew_basis(d) if has_orientation else np.zeros((0, d, d))
    q = 1 + n_h + skew.shape[0]
    eye = np.eye(d)
    # Lambda(h) = Lambda_hat e^{v + B h}: the scale e^v folded in.
    directions = np.zeros((q, d))
    directions[0] = 1.0
    if n_h:
        directions[1 : 1 + n_h] = _sum_zero_basis(d).T
    lam1 = np.zeros((q, d, d))
    lam2 = np.zeros((q, q, d, d))
    idx = np.arange(d)
    lam1[:, idx, idx] = diagonal * directions
    lam2[:, :, idx, idx] = diagonal * directions[:, None, :] * directions[None, :, :]
    lam: Jet = (np.diag(diagonal), lam1, lam2)
    rot1 = np.zeros((q, d, d))
    rot2 = np.zeros((q, q, d, d))
    s0 = 1 + n_h
    if skew.shape[0]:
        rot1[s0:] = skew
        prod = np.einsum("aij,bjk->abik", skew, skew)
        rot2[s0:, s0:] = 0.5 * (prod + prod.transpose(1, 0, 2, 3))
    rot: Jet = (eye, rot1, rot2)
    rot_t: Jet = (eye, rot1.transpose(0, 2, 1), rot2.transpose(0, 1, 3, 2))
    _, first, second = _jet_product(_jet_product(rot, lam), rot_t)
    return first, second


@cache
def _chart_layout(name: str, k: int, d: int) -> tuple[str, IntArray, int]:
    """The letters of model ``name``, its charts' ``cov_index`` (read-only) and number of
    coordinates, for ``k`` components in ``d`` dimensions."""
    letters = _letters(name)
    volume, shape, orientation = letters[0], letters[1], letters[2]
    n_h = d - 1 if shape != "I" else 0
    n_s = d * (d - 1) // 2 if orientation != "I" else 0
    start = (k - 1) + k * d
    parts = []
    for letter, size in ((volume, 1), (shape, n_h), (orientation, n_s)):
        if size == 0 or letter == "I":
            continue
        count = size if letter == "E" else k * size
        block = np.arange(start, start + count)
        start += count
        parts.append(np.tile(block, (k, 1)) if letter == "E" else block.reshape(k, size))
    cov_index = np.concatenate(parts, axis=1).astype(np.intp)
    cov_index.flags.writeable = False
    expected = (k - 1) + k * d + get_covariance_model(name, d).n_var_params(k, d)
    if start != expected:  # pragma: no cover - a bug in the chart, not the user's fault
        raise RuntimeError(f"chart of {name} has {start} coordinates, the model {expected}")
    return letters, cov_index, start


@dataclass(frozen=True)
class _Layout:
    """What every chart of a covariance model with ``k`` components in ``d`` dimensions
    shares (made once: :func:`_layout`; the arrays are read-only).

    ``first_jets`` and ``second_jets`` are :func:`_jet_basis` with one row per unit
    diagonal (``M``'s jets are ``diag Lambda_hat`` times them).  In the ``(k, m, p)``
    Jacobian of :func:`_jacobian` (raveled), the means' derivatives (ones) sit at
    ``mean_positions`` and the covariances' at ``cov_positions``, taken from the
    raveled ``(k, q, d, d)`` derivatives of the covariances at ``cov_gather``.
    """

    name: str
    letters: str
    cov_index: IntArray  # (k, q)
    n_free: int
    has_shape: bool
    has_orientation: bool
    first_jets: Array  # (d, q d d)
    second_jets: Array  # (d, q q d d)
    mean_positions: IntArray
    cov_positions: IntArray
    cov_gather: IntArray

    @property
    def q(self) -> int:
        return int(self.cov_index.shape[1])


@cache
def _layout(name: str, k: int, d: int) -> _Layout:
    """The :class:`_Layout` of model ``name`` (its mclust name) for ``k`` components in
    ``d`` dimensions."""
    letters, cov_index, n_free = _chart_layout(name, k, d)
    has_shape, has_orientation = letters[1] != "I", letters[2] != "I"
    first, second = _jet_basis(d, has_shape, has_orientation)
    q, m = cov_index.shape[1], _block_size(d)
    rows, mean_rows, mean_cols, iu, tri_rows = _jacobian_layout(k, d)
    mean_positions = (rows * m + mean_rows) * n_free + mean_cols  # (k, d)
    components = np.arange(k)[:, None, None]
    cov_positions = (components * m + tri_rows) * n_free + cov_index[:, None, :]  # (k, t, q)
    coords = np.arange(q)[None, None, :]
    tri = np.arange(len(iu[0]))[None, :, None]
    cov_gather = ((components * q + coords) * d + iu[0][tri]) * d + iu[1][tri]
    arrays = [
        first.reshape(d, -1).copy(),
        second.reshape(d, -1).copy(),
        mean_positions.reshape(-1),
        cov_positions.reshape(-1),
        cov_gather.reshape(-1),
    ]
    for array in arrays:
        array.flags.writeable = False
    return _Layout(name, letters, cov_index, n_free, has_shape, has_orientation, *arrays)


@cache
def _identities(k: int, d: int) -> Array:
    """``k`` stacked ``d x d`` identities (read-only: copy to use)."""
    identities = np.repeat(_eye(d)[None], k, axis=0)
    identities.flags.writeable = False
    return identities


def _build_chart(params: GaussianParams, model: str) -> _Chart:
    k, d = params.k, params.d
    layout = _layout(get_covariance_model(model, d).name, k, d)
    covariances = np.asarray(params.covariances, dtype=float)
    orientations, diagonals = _decompose(covariances, layout.letters, layout.name)
    q = layout.q
    # _jet_combinations with the basis already laid out as a matrix
    d_m = (diagonals @ layout.first_jets).reshape(k, q, d, d)
    d2_m = (diagonals @ layout.second_jets).reshape(k, q, q, d, d)
    return _Chart(
        weights=np.asarray(params.weights, dtype=float),
        means=np.asarray(params.means, dtype=float),
        covariances=covariances,
        orientations=orientations,
        diagonals=diagonals,
        cov_index=layout.cov_index,
        d_m=d_m,
        d2_m=d2_m,
        has_shape=layout.has_shape,
        has_orientation=layout.has_orientation,
        n_free=layout.n_free,
        layout=layout,
    )


def _rotation(generator: Array) -> Array:
    """``expm(S)`` of a skew-symmetric ``S``: Rodrigues' formula in 2-D and 3-D, where ``S``
    turns one plane (``S^3 = -t^2 S``), scipy's ``expm`` beyond.

    scipy's Pade step calls BLAS, whose threads make a 2 x 2 exponential cost
    milliseconds on a busy machine.
    """
    d = generator.shape[0]
    if d > 3:
        from scipy.linalg import expm  # import when needed: it takes 0.04 s to import

        return np.asarray(expm(generator))
    angle = math.sqrt(0.5 * float(np.sum(generator * generator)))
    if angle < 1e-8:  # the series to second order, exact to rounding here
        return np.eye(d) + generator + 0.5 * (generator @ generator)
    return (
        np.eye(d)
        + (math.sin(angle) / angle) * generator
        + ((1.0 - math.cos(angle)) / angle**2) * (generator @ generator)
    )


def _chart_point(chart: _Chart, theta: Array) -> tuple[Array, Array, Array]:
    """Weights, means and covariances at chart coordinates ``theta`` (exact at 0)."""
    k, d = chart.k, chart.d
    a = np.append(theta[: k - 1], 0.0)
    log_w = np.log(chart.weights) + a
    weights = np.exp(log_w - np.max(log_w))
    weights /= weights.sum()
    means = chart.means + theta[k - 1 : k - 1 + k * d].reshape(k, d)
    n_h = d - 1 if chart.has_shape else 0
    local = theta[chart.cov_index]  # (k, q)
    log_scale = local[:, :1]
    if n_h:
        log_scale = log_scale + local[:, 1 : 1 + n_h] @ _sum_zero_basis(d).T
    lam = chart.diagonals * np.exp(log_scale)
    if not chart.has_orientation:  # D_hat = I and E(s) = I: only the diagonals move
        covariances = chart.covariances.copy()
        idx = np.arange(d)
        covariances[:, idx, idx] += lam - chart.diagonals
        return weights, means, covariances
    skew = _skew_basis(d)
    covariances = np.empty_like(chart.covariances)
    for j in range(k):
        rot = _rotation(np.tensordot(local[j, 1 + n_h :], skew, axes=1))
        moved = rot @ np.diag(lam[j]) @ rot.T - np.diag(chart.diagonals[j])
        orient = chart.orientations[j]
        covariances[j] = chart.covariances[j] + orient @ moved @ orient.T
    return weights, means, covariances


def _jacobian(chart: _Chart) -> Array:
    """Derivatives of the reported parameters with respect to the chart at 0."""
    k, d, p = chart.k, chart.d, chart.n_free
    layout = chart.layout
    m = _block_size(d)
    jac = np.zeros(k * m * p)
    w = chart.weights
    if k > 1:
        jac.reshape(k, m, p)[:, 0, : k - 1] = w[:, None] * (_eye(k)[:, : k - 1] - w[None, : k - 1])
    jac[layout.mean_positions] = 1.0
    # d Sigma_k = D_hat_k dM_k D_hat_k^T, each coordinate's upper triangle
    if chart.has_orientation:
        d_sigma = np.einsum("kil,kalm,kjm->kaij", chart.orientations, chart.d_m, chart.orientations)
    else:  # identity orientations
        d_sigma = chart.d_m
    jac[layout.cov_positions] = d_sigma.reshape(-1)[layout.cov_gather]
    return jac.reshape(k * m, p)


@cache
def _eye(k: int) -> Array:
    """The ``k x k`` identity (read-only: shared)."""
    eye = np.eye(k)
    eye.flags.writeable = False
    return eye


@cache
def _jacobian_layout(
    k: int, d: int
) -> tuple[IntArray, IntArray, IntArray, tuple[IntArray, IntArray], IntArray]:
    """Index arrays of :func:`_jacobian` for ``k`` components in ``d`` dimensions: the
    components, the means' rows and chart columns, the upper triangle and its rows."""
    rows = np.arange(k)[:, None]
    means = np.arange(d)
    iu = gaussian.upper_triangle(d)
    tri_rows = 1 + d + np.arange(len(iu[0]))[None, :, None]
    layout = (rows, 1 + means, k - 1 + rows * d + means, iu, tri_rows)
    for array in (*layout[:3], *iu, tri_rows):
        array.flags.writeable = False
    return layout


# --------------------------------------------------------------------------- #
# the observed information
# --------------------------------------------------------------------------- #


def _loglik_hessian(
    x: Array, params: GaussianParams, chart: _Chart, case_weights: Array | None = None
) -> tuple[Array, Array]:
    """:func:`_loglik_derivatives` without the score."""
    hess, size, _ = _loglik_derivatives(x, params, chart, case_weights)
    return hess, size


def _case_weights(n: int, case_weights: Array | None) -> Array:
    if case_weights is None:
        return np.ones(n)
    return np.ascontiguousarray(case_weights, dtype=float)


def _compiled_derivatives(
    x: Array, params: GaussianParams, chart: _Chart, case_weights: Array | None
) -> tuple[Array, Array, Array, float] | None:
    """:func:`_loglik_derivatives` and the log-likelihood by the compiled kernel; None when
    a row's log-likelihood is not finite (numpy then treats that row on its own)."""
    _information_kernels = _kernels()

    hess, size, grad, loglik = _information_kernels.loglik_derivatives(
        np.ascontiguousarray(x, dtype=float),
        _case_weights(x.shape[0], case_weights),
        np.asarray(chart.weights, dtype=float),
        np.ascontiguousarray(chart.means, dtype=float),
        np.ascontiguousarray(params.prec_chol, dtype=float),
        gaussian.log_weights(params),
        np.ascontiguousarray(chart.orientations),
        np.ascontiguousarray(chart.d_m),
        np.ascontiguousarray(chart.d2_m),
        np.ascontiguousarray(chart.cov_index, dtype=np.intp),
        chart.n_free,
    )
    if not math.isfinite(loglik):
        return None
    return hess, size, grad, loglik


def _loglik_derivatives(
    x: Array, params: GaussianParams, chart: _Chart, case_weights: Array | None = None
) -> tuple[Array, Array, Array]:
    """:func:`_numpy_loglik_derivatives` in one compiled pass over the rows (numpy's where a
    row lies too far from every mean to evaluate directly)."""
    compiled = _compiled_derivatives(x, params, chart, case_weights)
    if compiled is None:
        return _numpy_loglik_derivatives(x, params, chart, case_weights)
    return compiled[:3]


def _numpy_loglik_derivatives(
    x: Array, params: GaussianParams, chart: _Chart, case_weights: Array | None = None
) -> tuple[Array, Array, Array]:
    """Analytic Hessian of the observed-data log-likelihood in chart coordinates at 0.

    Returns the Hessian, per coordinate the size of the terms whose
    difference its diagonal is (to tell an information that vanishes from
    one that is merely small because the coordinate's unit is small), and
    the score (the gradient).
    With ``case_weights`` the log-likelihood is ``Σ_i c_i l_i``: every sum
    over rows is weighted, as if row i were repeated c_i times.
    """
    rows = np.ones(x.shape[0]) if case_weights is None else case_weights
    n = float(rows.sum())
    k, d, p = chart.k, chart.d, chart.n_free
    log_resp, _ = gaussian.log_responsibilities(x, params)
    resp = np.exp(log_resp)
    weighted_resp = resp * rows[:, None]
    hess = np.zeros((p, p))
    score = np.zeros((x.shape[0], p))  # g_i = sum_k z_ik dl_ik
    size = np.zeros(p)
    w = chart.weights
    if k > 1:
        hess[: k - 1, : k - 1] -= n * (np.diag(w[: k - 1]) - np.outer(w[: k - 1], w[: k - 1]))
        size[: k - 1] += n * w[: k - 1] * (1.0 - w[: k - 1])
    weight_cols = np.arange(k - 1)
    for j in range(k):
        z = weighted_resp[:, j]  # c_i z_ij: the row sums below are weighted
        n_j = float(z.sum())
        orient = chart.orientations[j]
        prec = params.prec_chol[j] @ params.prec_chol[j].T
        prec_r = orient.T @ prec @ orient  # precision in the rotated frame
        resid = (x - chart.means[j]) @ orient  # rotated residuals
        u = resid @ prec_r  # rotated P r
        d_m, d2_m = chart.d_m[j], chart.d2_m[j]
        s = z @ resid
        scatter = (resid * z[:, None]).T @ resid
        y = prec_r @ d_m  # (q, d, d): P dM_a
        # per-observation gradients of l_ij in (weights | means | covariance) coordinates
        g_cov = 0.5 * (np.einsum("ni,aij,nj->na", u, d_m, u) - np.einsum("aii->a", y))
        g_mean = u @ orient.T
        g_weight = np.broadcast_to((np.arange(k - 1) == j) - w[: k - 1], (x.shape[0], k - 1))
        grad = np.concatenate([g_weight, g_mean, g_cov], axis=1)
        cols = np.concatenate([weight_cols, k - 1 + j * d + np.arange(d), chart.cov_index[j]])
        block = (grad * z[:, None]).T @ grad
        size[cols] += np.diag(block)
        # Gaussian second derivatives summed with weights z
        mm = -n_j * prec
        mc = -orient @ np.einsum("aij,jl,l->ia", y, prec_r, s)
        pw = prec_r @ scatter
        g_mat = 0.5 * (pw @ prec_r - n_j * prec_r)
        cc = (
            0.5 * n_j * np.einsum("aij,bji->ab", y, y)
            - np.einsum("aij,bjk,ki->ab", y, y, pw)
            + np.einsum("ij,abji->ab", g_mat, d2_m)
        )
        o = k - 1
        block[o : o + d, o : o + d] += mm
        block[o : o + d, o + d :] += mc
        block[o + d :, o : o + d] += mc.T
        block[o + d :, o + d :] += cc
        size[cols[o:]] += np.abs(np.concatenate([np.diag(mm), np.diag(cc)]))
        hess[np.ix_(cols, cols)] += block
        score[:, cols] += grad * resp[:, [j]]
    weighted_score = score * rows[:, None]
    hess -= weighted_score.T @ score
    return 0.5 * (hess + hess.T), size, weighted_score.sum(axis=0)


#: Rows per block when summing the information over chunks of out-of-core data.
_HESSIAN_BLOCK_ROWS = 32_768


def _chunked_loglik_hessian(
    source: ChunkedData, params: GaussianParams, chart: _Chart
) -> tuple[Array, Array]:
    """:func:`_loglik_hessian` summed over the chunks of data too large for memory."""
    hess, size, _, _ = _chunked_derivatives(source, params, chart)
    return hess, size


def _chunked_derivatives(
    source: ChunkedData, params: GaussianParams, chart: _Chart
) -> tuple[Array, Array, Array, float]:
    """:func:`_loglik_derivatives` summed over the chunks, and the number of rows.

    Every term of the Hessian (the score outer products included) is a sum
    over rows, so chunks add; ``params`` are in the chunks' (centred) frame.
    """
    p = chart.n_free

    def one_chunk(chunk: Any) -> tuple[Array, float]:
        rows = np.asarray(chunk, dtype=float)
        total = np.zeros(p * p + 2 * p + 1)
        # in blocks: the per-row gradients of a whole chunk would dwarf the chunk itself
        for start in range(0, rows.shape[0], _HESSIAN_BLOCK_ROWS):
            block = rows[start : start + _HESSIAN_BLOCK_ROWS]
            hess, size, grad = _loglik_derivatives(block, params, chart)
            total += np.concatenate([hess.ravel(), size, grad, [block.shape[0]]])
        return total, 0.0

    total, _ = source.map_reduce(one_chunk)
    return (
        total[: p * p].reshape(p, p),
        total[p * p : p * p + p],
        total[p * p + p : p * p + 2 * p],
        float(total[-1]),
    )


def _chunked(x: Any) -> bool:
    """Whether ``x`` is a :class:`ChunkedData` source (an array is not: checked first, as
    a protocol's ``isinstance`` costs tens of microseconds)."""
    return not isinstance(x, np.ndarray) and isinstance(x, ChunkedData)


def _prepare(x: Any, params: GaussianParams, model: str) -> tuple[Array, GaussianParams, _Chart]:
    data = np.asarray(x, dtype=float)
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2 or data.shape[1] != params.d:
        raise InputError(
            f"x must be an (n, {params.d}) array matching the parameters, got {data.shape}"
        )
    if not np.isfinite(data).all():
        raise InputError("x has missing or infinite values")
    centre = data.mean(axis=0)
    centred = params.shifted(-centre)
    chart = _build_chart(centred, model)
    return data - centre, centred, chart


def observed_information(x: Any, params: GaussianParams, model: str) -> tuple[Array, Array]:
    """Observed information in the model's local chart, and the reported parameters' Jacobian.

    Parameters
    ----------
    x
        ``(n, d)`` data on the scale of ``params``.
    params
        Fitted parameters of covariance model ``model``.
    model
        mclust name (or alias) of the covariance model.

    Returns
    -------
    information : numpy.ndarray
        ``(p, p)`` minus the Hessian of the log-likelihood in the chart
        coordinates (``p`` = the model's number of free parameters).
    jacobian : numpy.ndarray
        ``(m, p)`` derivatives of the reported parameters (row order of
        ``MixtureResult.params``) with respect to the chart.
    """
    data, centred, chart = _prepare(x, params, model)
    hess, _ = _loglik_hessian(data, centred, chart)
    return -hess, _jacobian(chart)


def _degenerate_rows(chart: _Chart, jac: Array) -> Array:
    """Rows whose covariance moves along a degenerate chart coordinate (tied eigenvalues)."""
    k, d = chart.k, chart.d
    m = _block_size(d)
    bad = np.zeros(jac.shape[0], dtype=bool)
    if not chart.has_orientation:
        return bad
    scale = np.zeros(chart.n_free)
    for j in range(k):
        np.maximum.at(scale, chart.cov_index[j], np.max(chart.diagonals[j]))
    norms = np.linalg.norm(jac, axis=0)
    cov_cols = np.flatnonzero(scale > 0)
    dead = cov_cols[norms[cov_cols] <= _DEGENERATE_RTOL * scale[cov_cols]]
    for j in range(k):
        if np.isin(chart.cov_index[j], dead).any():
            bad[j * m + 1 + d : (j + 1) * m] = True
    return bad


_NOT_A_MAXIMUM = (
    "the observed information is not positive definite: the parameters are not a "
    "local maximum of the likelihood (EM may have stopped early on a flat stretch: "
    "refit with a smaller tol, e.g. 1e-8)"
)
_SINGULAR = "the observed information is singular: some parameters are not identified"


def _delta_method(info: Array, jac: Array, size: Array) -> tuple[Array, str | None]:
    """:func:`_numpy_delta_method` in one compiled call (its oracle in the tests)."""
    _information_kernels = _kernels()

    if not (np.isfinite(info).all() and np.isfinite(jac).all()):
        return _numpy_delta_method(info, jac, size)  # LAPACK's answer on NaN is numpy's to give
    se, some, negative = _information_kernels.delta_method(
        np.ascontiguousarray(info, dtype=float),
        np.ascontiguousarray(jac, dtype=float),
        np.ascontiguousarray(size, dtype=float),
        _NULL_RTOL,
        _AFFECTED_RTOL,
    )
    if not some:
        return se, None
    return se, _NOT_A_MAXIMUM if negative else _SINGULAR


def _numpy_delta_method(info: Array, jac: Array, size: Array) -> tuple[Array, str | None]:
    """Standard errors ``sqrt(diag(J I^{-1} J^T))``; NaN where ``I`` is not positive definite.

    ``size`` is the magnitude of the terms of each diagonal entry of
    ``info``: a coordinate whose information cancels to below
    :data:`_NULL_RTOL` of it carries none.  The rest is scaled to unit
    diagonal before its eigenvalues are compared with :data:`_NULL_RTOL`.
    Returns the standard errors and, when some are NaN, the reason.
    """
    diag = np.diag(info)
    live = diag > _NULL_RTOL * size
    scale = 1.0 / np.sqrt(diag[live])
    scaled = info[np.ix_(live, live)] * scale[:, None] * scale[None, :]
    values, vectors = np.linalg.eigh(scaled)
    big = float(np.max(np.abs(values))) if values.size else 0.0
    null = values <= _NULL_RTOL * max(big, 1.0)
    proj = (jac[:, live] * scale) @ vectors
    variance = np.sum(proj[:, ~null] ** 2 / values[~null], axis=1)
    se = np.sqrt(variance)
    row_norm = np.linalg.norm(jac, axis=1)
    affected = np.linalg.norm(proj[:, null], axis=1) > _AFFECTED_RTOL * np.linalg.norm(proj, axis=1)
    dead_cols = ~live
    affected |= np.linalg.norm(jac[:, dead_cols], axis=1) > _AFFECTED_RTOL * row_norm
    se[affected] = np.nan
    reason = None
    if np.any(affected):
        if np.any(values < -_NULL_RTOL * max(big, 1.0)) or np.any(diag < -_NULL_RTOL * size):
            reason = _NOT_A_MAXIMUM
        else:
            reason = _SINGULAR
    return se, reason


def information_std_errors(
    x: Any, params: GaussianParams, model: str, case_weights: Array | None = None
) -> Array:
    """Standard errors from the observed information of the observed-data log-likelihood.

    The Hessian of ``sum_i log sum_k w_k N(x_i | mu_k, Sigma_k)`` is taken
    analytically in a local chart whose coordinates are the model's free
    parameters (see the module docstring), and mapped to the reported
    parameters by the delta method.

    Parameters
    ----------
    x
        ``(n, d)`` data (or a length-n vector when ``d = 1``) on the same
        scale as ``params``; they are centred internally.  Or a
        :class:`emstat.engine.ChunkedData` source of centred chunks (data
        larger than memory), with ``params`` in the chunks' frame: one pass
        over the chunks sums the information.
    params
        The fitted parameters (``MixtureResult.params_``), which must satisfy
        the constraints of ``model``.
    model
        mclust covariance model name (``E``, ``V``, ``EII`` … ``VVV``) or a
        scikit-learn alias.
    case_weights
        Frequency weights of the rows (in memory only): the information of
        the weighted log-likelihood, as if each row were repeated.

    Returns
    -------
    numpy.ndarray
        ``k (1 + d + d(d+1)/2)`` standard errors in the row order of
        ``MixtureResult.params``.  Parameters fixed by construction get 0;
        parameters that the information does not identify, or along a
        direction where it is negative, get NaN (with a
        :class:`StdErrorWarning`).

    Raises
    ------
    InputError
        If the data do not match the parameters, or the parameters do not
        satisfy the model's constraints.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=(400, 1))
    >>> fit = gaussian.gaussian_params(np.ones(1), x.mean(0)[None], np.var(x)[None, None, None])
    >>> se = information_std_errors(x, fit, "V")
    >>> bool(np.allclose(se[1:], [np.std(x) / 20, np.var(x) * np.sqrt(2 / 400)]))
    True
    """
    if _chunked(x):
        chart = _build_chart(params, model)
        hess, size = _chunked_loglik_hessian(x, params, chart)
    else:
        data, centred, chart = _prepare(x, params, model)
        hess, size = _loglik_hessian(data, centred, chart, case_weights)
    jac = _jacobian(chart)
    se, reason = _delta_method(-hess, jac, size)
    degenerate = _degenerate_rows(chart, jac)
    if np.any(degenerate):
        se[degenerate] = np.nan
        reason = reason or (
            "tied eigenvalues of a covariance make its orientation unidentified "
            "(a spherical-like component)"
        )
    if reason is not None:
        warnings.warn(
            f"{int(np.sum(np.isnan(se)))} standard errors are NaN: {reason}",
            StdErrorWarning,
            stacklevel=2,
        )
    return se


# --------------------------------------------------------------------------- #
# the parametric bootstrap
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class BootstrapReplicates:
    """Aligned estimates of the parametric bootstrap replicates that were kept.

    ``estimates`` is ``(n_kept, m)`` in the row order of
    ``MixtureResult.params``; ``n_dropped`` replicates had degenerate fits
    and ``n_not_converged`` of the kept ones stopped at the iteration cap.
    """

    estimates: Array
    n_boot: int
    n_dropped: int
    n_not_converged: int

    @property
    def std_errors(self) -> Array:
        """Standard deviations of the kept replicates (``ddof = 1``); NaN if fewer than 2."""
        if self.estimates.shape[0] < 2:
            return np.full(self.estimates.shape[1], np.nan)
        return np.asarray(np.std(self.estimates, axis=0, ddof=1), dtype=float)


def _seed_sequence(seed: Any) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    return np.random.SeedSequence(seed)


def bootstrap_replicates(
    params: GaussianParams,
    model: str,
    n: int,
    *,
    n_boot: int = 200,
    seed: Any = None,
    control: EMControl | None = None,
) -> BootstrapReplicates:
    """Refit the mixture to ``n_boot`` samples of size ``n`` drawn from ``params``.

    Each replicate draws from its own ``SeedSequence(seed).spawn`` stream,
    runs EM from ``params`` with ``control`` (default
    :data:`BOOTSTRAP_CONTROL`), and is aligned to ``params`` by
    :func:`align_components` on the means (Mahalanobis in the pooled
    covariance).  Degenerate fits are dropped and counted.

    Parameters
    ----------
    params
        Fitted parameters of covariance model ``model``.
    model
        mclust covariance model name or alias.
    n
        Size of each bootstrap sample (the size of the data fitted).
    n_boot
        Number of replicates.
    seed
        An int, a :class:`numpy.random.SeedSequence`, a Generator or None.
    control
        EM stopping rule of the refits.

    Returns
    -------
    BootstrapReplicates
    """
    if isinstance(n, bool) or int(n) != n or n < 2:
        raise InputError(f"n must be a whole number >= 2, got {n!r}")
    if isinstance(n_boot, bool) or int(n_boot) != n_boot or n_boot < 1:
        raise InputError(f"n_boot must be a whole number >= 1, got {n_boot!r}")
    covariance = get_covariance_model(model, params.d)
    em_model = GaussianMixtureModel(covariance, params.k)
    control = control or BOOTSTRAP_CONTROL
    centre = params.weights @ params.means
    start = params.shifted(-centre)
    diagonal = covariance.scatter == "diag"
    start = gaussian.gaussian_params(
        start.weights, start.means, start.covariances, diagonal=diagonal
    )
    pooled = np.tensordot(start.weights, start.covariances, axes=1)
    kept: list[Array] = []
    not_converged = 0
    for child in _seed_sequence(seed).spawn(int(n_boot)):
        rng = np.random.default_rng(child)
        sample, _ = gaussian.draw_mixture(
            start.weights, start.means, start.covariances, int(n), rng
        )
        fit = fit_em(em_model, sample, theta0=start, control=control, warn=False)
        if not fit.ok or fit.theta is None:
            continue
        theta = fit.theta
        perm = align_components(start.means, theta.means, pooled)
        means = theta.means[perm] + centre
        kept.append(reported_vector(theta.weights[perm], means, theta.covariances[perm]))
        not_converged += int(not fit.converged)
    m = params.k * _block_size(params.d)
    estimates = np.asarray(kept, dtype=float).reshape(len(kept), m)
    return BootstrapReplicates(estimates, int(n_boot), int(n_boot) - len(kept), not_converged)


def bootstrap_std_errors(
    params: GaussianParams,
    model: str,
    n: int,
    *,
    n_boot: int = 200,
    seed: Any = None,
    control: EMControl | None = None,
) -> Array:
    """Parametric bootstrap standard errors of the reported parameters.

    Draws ``n_boot`` samples of size ``n`` from the fitted mixture, refits
    each by EM starting from ``params``, aligns the components to the fitted
    ones (Hungarian matching on the means) and returns the standard deviation
    of each reported parameter over the replicates.  See
    :func:`bootstrap_replicates` for the replicates themselves.

    Parameters
    ----------
    params, model, n, n_boot, seed, control
        As in :func:`bootstrap_replicates`.

    Returns
    -------
    numpy.ndarray
        Standard errors in the row order of ``MixtureResult.params``.
        Replicates whose fit is degenerate are dropped, with a
        :class:`StdErrorWarning` that says how many.

    Examples
    --------
    >>> fit = gaussian.gaussian_params(np.ones(1), np.zeros((1, 1)), np.ones((1, 1, 1)))
    >>> se = bootstrap_std_errors(fit, "V", n=100, n_boot=400, seed=1)
    >>> bool(abs(se[1] - 0.1) < 0.02)
    True
    """
    reps = bootstrap_replicates(params, model, n, n_boot=n_boot, seed=seed, control=control)
    if reps.n_dropped:
        warnings.warn(
            f"{reps.n_dropped} of {reps.n_boot} bootstrap replicates had degenerate fits "
            "and were dropped",
            StdErrorWarning,
            stacklevel=2,
        )
    return reps.std_errors


# --------------------------------------------------------------------------- #
# standard errors at a stationary point
# --------------------------------------------------------------------------- #

#: A fit is stationary when a Newton step from it would move it less than this
#: many standard errors (``sqrt(g' I^{-1} g)``, free of the parameters' units).
STATIONARY_SE = 1e-3
#: The EM steps that polish a fit which is not stationary (at most; fewer on
#: large data: see :data:`_POLISH_ROW_STEPS`).
POLISH_CONTROL = EMControl(tol=1e-13, criterion="rel", max_iter=5_000)
#: Rows times EM steps a polish may cost: a million rows get 50 steps.
_POLISH_ROW_STEPS = 50_000_000
_NEWTON_STEPS = 25
#: Newton steps stop where the next would move the estimate less than this many standard
#: errors (quadratic convergence gets there one step after the stationarity tolerance).
_NEWTON_TOL = STATIONARY_SE * 1e-6
# Relative rounding noise of a log-likelihood summed over the rows.
_ROUNDING_SLACK = 1e-12
_HALVINGS = 30


def _newton_step(info: Array, grad: Array, size: Array) -> tuple[Array | None, float]:
    """The Newton step ``I^{-1} g`` and its length in standard errors; None when ``I`` is
    not positive definite (compiled: :func:`_numpy_newton_step` is the oracle)."""
    _information_kernels = _kernels()

    step, distance, ok = _information_kernels.newton_step(
        np.ascontiguousarray(info, dtype=float),
        np.ascontiguousarray(grad, dtype=float),
        np.ascontiguousarray(size, dtype=float),
        _NULL_RTOL,
    )
    return (step, float(distance)) if ok else (None, math.inf)


def _numpy_newton_step(info: Array, grad: Array, size: Array) -> tuple[Array | None, float]:
    """:func:`_newton_step` in numpy."""
    diag = np.diag(info)
    if np.any(diag <= _NULL_RTOL * size) or not np.all(np.isfinite(info)):
        return None, math.inf
    scale = 1.0 / np.sqrt(diag)
    scaled = info * scale[:, None] * scale[None, :]
    try:
        chol = np.linalg.cholesky(scaled)
    except np.linalg.LinAlgError:
        return None, math.inf
    if np.min(np.diag(chol)) ** 2 <= _NULL_RTOL:
        return None, math.inf
    half = np.linalg.solve(chol, grad * scale)
    step = scale * np.linalg.solve(chol.T, half)
    return step, float(np.sqrt(half @ half))


def _weighted_loglik(x: Array, params: GaussianParams, case_weights: Array | None) -> float:
    """The (case-weighted) log-likelihood, compiled (numpy's where a row lies too far from
    every mean)."""
    _information_kernels = _kernels()

    value = _information_kernels.log_likelihood(
        np.ascontiguousarray(x, dtype=float),
        _case_weights(x.shape[0], case_weights),
        gaussian.log_weights(params),
        np.ascontiguousarray(params.means, dtype=float),
        np.ascontiguousarray(params.prec_chol, dtype=float),
    )
    if math.isfinite(value):
        return float(value)
    _, row = gaussian.log_responsibilities(x, params)
    return float(row.sum() if case_weights is None else case_weights @ row)


def _polish_em(
    data: Any, params: GaussianParams, model: str, case_weights: Array | None, n: float
) -> tuple[GaussianParams, str | None]:
    """EM at :data:`POLISH_CONTROL` from ``params`` (fewer M-steps on large data); the
    parameters reached, or ``params`` and the reason when EM from them degenerates.

    Where EM goes is found by SQUAREM in one compiled call
    (:func:`emstat.mixture._em_kernels.run_squarem`: the same stopping rule on
    its EM steps, far fewer of them where EM creeps); plain EM runs where that
    cannot (case weights, data out of core, a model without a compiled M-step)
    or where an EM step from one of its iterates doubts, so that a degenerate
    run is plain EM's, with its reason.
    """
    from emstat.mixture import _em_kernels

    covariance = get_covariance_model(model, params.d)
    em_model = GaussianMixtureModel(covariance, params.k)
    steps = int(min(POLISH_CONTROL.max_iter, max(50, _POLISH_ROW_STEPS // max(int(n), 1))))
    control = replace(POLISH_CONTROL, max_iter=steps)
    if case_weights is None:
        accelerated = _em_kernels.run_squarem(em_model, data, params, control, n)
        if accelerated is not None:
            return accelerated.theta, None
    rows: Any = data if case_weights is None else gaussian.WeightedRows(data, case_weights)
    em = fit_em(em_model, rows, theta0=params, control=control, n_obs=n, warn=False)
    if not em.ok or em.theta is None:
        return params, (
            f"EM from the estimate runs into a degenerate solution ({em.degenerate}): the "
            "estimate is not a local maximum of the likelihood"
        )
    return em.theta, None


Derivatives = tuple[_Chart, Array, Array, Array]  # chart, Hessian, sizes, score


def _ascent(
    x: Array,
    chart: _Chart,
    step: Array,
    current: float,
    case_weights: Array | None,
    diagonal: bool,
    slack: float,
) -> tuple[GaussianParams, float] | None:
    """The chart's point at ``step``, halved until the log-likelihood is at least
    ``current - slack`` (and the covariances valid), and its log-likelihood; None when
    :data:`_HALVINGS` halvings do not get there."""
    for halving in range(_HALVINGS):
        trial = _trial(x, chart, step * 0.5**halving, case_weights, diagonal)
        if trial is not None and trial[1] >= current - slack:
            return trial
    return None


def _trial(
    x: Array, chart: _Chart, step: Array, case_weights: Array | None, diagonal: bool
) -> tuple[GaussianParams, float] | None:
    """The parameters at chart coordinates ``step`` and their log-likelihood; None where
    the covariances there are not valid."""
    if diagonal and not chart.has_orientation:
        compiled, finite = _diagonal_trial(x, chart, step, case_weights)
        if finite:
            return compiled
    weights, means, covs = _chart_point(chart, step)
    try:
        params = gaussian.gaussian_params(weights, means, covs, diagonal=diagonal)
    except (EmstatError, np.linalg.LinAlgError):
        return None
    return params, _weighted_loglik(x, params, case_weights)


def _diagonal_trial(
    x: Array, chart: _Chart, step: Array, case_weights: Array | None
) -> tuple[tuple[GaussianParams, float] | None, bool]:
    """:func:`_trial` of a diagonal model in one compiled call (the chart's point,
    :func:`gaussian.gaussian_params`' singularity rules and the log-likelihood), and
    whether every row's log-likelihood was finite (if not, numpy's route answers)."""
    _information_kernels = _kernels()

    weights, means, covs, prec_chol, half_log_det, loglik, status = (
        _information_kernels.diagonal_trial(
            np.ascontiguousarray(x, dtype=float),  # one compiled variant for every layout
            _case_weights(x.shape[0], case_weights),
            chart.weights,
            chart.means,
            chart.covariances,
            chart.diagonals,
            step,
            chart.cov_index,
            chart.d - 1 if chart.has_shape else 0,
            _sum_zero_basis(chart.d),
            gaussian.ROUNDING_FACTOR,
            _EPS,
        )
    )
    if status != 0:
        return None, status != 2
    params = GaussianParams(weights, means, covs, prec_chol, half_log_det, True)
    return (params, float(loglik)), True


#: Levenberg-Marquardt dampings tried in turn (in units of the information scaled by each
#: coordinate's size) where the information is not positive definite.
_DAMPINGS = 10.0 ** np.arange(-4, 7)


def _damped_steps(info: Array, grad: Array, size: Array, first: int = 0) -> Iterator[Array]:
    """Levenberg-Marquardt steps ``(I + (s + mu) D)^{-1} g`` for each damping ``mu`` of
    :data:`_DAMPINGS` from the ``first``, ``D`` the coordinates' sizes and ``s`` the shift
    that makes the matrix positive definite: ascent directions where ``I`` is not."""
    if not (np.all(np.isfinite(info)) and np.all(np.isfinite(grad)) and np.all(size > 0)):
        return
    scale = 1.0 / np.sqrt(size)
    values, vectors = np.linalg.eigh(info * scale[:, None] * scale[None, :])
    shift = max(0.0, -float(values[0]))
    projected = vectors.T @ (grad * scale)
    for mu in _DAMPINGS[first:]:
        yield scale * (vectors @ (projected / (values + shift + mu)))


def _damped_ascent(
    x: Array,
    known: Derivatives,
    current: float,
    case_weights: Array | None,
    diagonal: bool,
    first: int = 0,
) -> tuple[GaussianParams, float, int] | None:
    """The least damped Levenberg-Marquardt step (from damping ``first`` on) that raises
    the log-likelihood, the log-likelihood there and the damping's index; None when none
    does."""
    chart, hess, size, grad = known
    for index, step in enumerate(_damped_steps(-hess, grad, size, first), start=first):
        trial = _trial(x, chart, step, case_weights, diagonal)
        if trial is not None and trial[1] > current:
            return (*trial, index)
    return None


def _newton_polish(
    x: Array,
    params: GaussianParams,
    model: str,
    case_weights: Array | None,
    known: Derivatives | None = None,
    *,
    damped: bool = True,
) -> tuple[GaussianParams, Derivatives, bool]:
    """:func:`_python_newton_polish`, for a diagonal model in one compiled call
    (:func:`_information_kernels.diagonal_newton_polish`; the Python loop where a row's
    log-likelihood is not finite on the way)."""
    if known is None:
        chart = _build_chart(params, model)
        known = (chart, *_loglik_derivatives(x, params, chart, case_weights))
    chart = known[0]
    diagonal = get_covariance_model(model, params.d).scatter == "diag"
    if diagonal and not chart.has_orientation:
        compiled = _compiled_newton_polish(x, params, model, case_weights, known, damped)
        if compiled is not None:
            return compiled
    return _python_newton_polish(x, params, model, case_weights, known, damped=damped)


def _polish_settings() -> Array:
    """The Newton polish's constants, in the order the compiled polish reads them."""
    return np.array(
        [
            _NEWTON_STEPS,
            _NULL_RTOL,
            STATIONARY_SE,
            _NEWTON_TOL,
            _ROUNDING_SLACK,
            _HALVINGS,
            gaussian.ROUNDING_FACTOR,
            _EPS,
        ],
        dtype=float,
    )


def _compiled_newton_polish(
    x: Array,
    params: GaussianParams,
    model: str,
    case_weights: Array | None,
    known: Derivatives,
    damped: bool,
) -> tuple[GaussianParams, Derivatives, bool] | None:
    """:func:`_python_newton_polish` of a diagonal model in one compiled call; None where a
    row's log-likelihood is not finite on the way."""
    _information_kernels = _kernels()

    chart, hess, size, grad = known
    d = chart.d
    first, second = _jet_basis(d, chart.has_shape, False)
    weights, means, covs, prec_chol, half_log_det, stationary, status, moves = (
        _information_kernels.diagonal_newton_polish(
            np.ascontiguousarray(x, dtype=float),
            _case_weights(x.shape[0], case_weights),
            np.array(params.weights, dtype=float),
            np.array(params.means, dtype=float),
            np.array(params.covariances, dtype=float),
            np.array(params.prec_chol, dtype=float),
            np.array(params.half_log_det_prec, dtype=float),
            np.array(hess, dtype=float),
            np.array(size, dtype=float),
            np.array(grad, dtype=float),
            chart.cov_index,
            d - 1 if chart.has_shape else 0,
            _sum_zero_basis(d),
            first,
            second,
            damped,
            _polish_settings(),
            _DAMPINGS,
        )
    )
    if status != 0:
        return None
    if moves == 0:
        return params, known, bool(stationary)
    theta = GaussianParams(weights, means, covs, prec_chol, half_log_det, True)
    chart = _build_chart(theta, model)
    return theta, (chart, *_loglik_derivatives(x, theta, chart, case_weights)), bool(stationary)


def _python_newton_polish(
    x: Array,
    params: GaussianParams,
    model: str,
    case_weights: Array | None,
    known: Derivatives | None = None,
    *,
    damped: bool = True,
) -> tuple[GaussianParams, Derivatives, bool]:
    """Newton steps in the chart from ``params``, each halved until the log-likelihood
    does not decrease.

    They stop where a Newton step would move the parameters less than
    :data:`_NEWTON_TOL` standard errors.  Within the stationarity tolerance
    (``STATIONARY_SE * 1e-3``) the gain of a step is at the rounding level of
    the log-likelihood, so a decrease of that size (:data:`_ROUNDING_SLACK`)
    does not reject it.  ``known`` are the chart and
    :func:`_loglik_derivatives` at ``params`` when the caller has them.
    Where the information is not positive definite, a ``damped``
    (Levenberg-Marquardt) step goes uphill instead (:func:`_damped_ascent`).
    Returns the parameters reached, the chart and derivatives there, and
    whether they are stationary (within the stationarity tolerance); not when
    no step gains (undamped: the information is not positive definite on the
    way), a step cannot be halved to an ascent before that, or the steps run
    out.
    """
    diagonal = get_covariance_model(model, params.d).scatter == "diag"
    theta = params
    if known is None:
        chart = _build_chart(theta, model)
        known = (chart, *_loglik_derivatives(x, theta, chart, case_weights))
    current = _weighted_loglik(x, theta, case_weights)
    close = False
    damping = 0  # where the next damped step starts: one less damped than the last one
    for _ in range(_NEWTON_STEPS):
        chart, hess, size, grad = known
        step, distance = _newton_step(-hess, grad, size)
        moved: tuple[GaussianParams, float] | None
        if step is None:  # not positive definite: a damped step, uphill
            if not damped:
                return theta, known, False
            found = _damped_ascent(x, known, current, case_weights, diagonal, damping)
            if found is None:
                return theta, known, False
            moved, damping = found[:2], max(found[2] - 1, 0)
        else:
            close = distance <= STATIONARY_SE * 1e-3
            if distance <= _NEWTON_TOL:
                return theta, known, True
            slack = _ROUNDING_SLACK * (1.0 + abs(current)) if close else 0.0
            moved = _ascent(x, chart, step, current, case_weights, diagonal, slack)
            if moved is None:
                return theta, known, close
        theta, current = moved
        chart = _build_chart(theta, model)
        known = (chart, *_loglik_derivatives(x, theta, chart, case_weights))
    _, distance = _newton_step(-known[1], known[3], known[2])
    return theta, known, distance <= STATIONARY_SE * 1e-3


_FAR = "the fit stopped far from a maximum of the likelihood"
#: A polish may move the fit this many standard errors (of the polished point) at most:
#: farther, the fit was not near the maximum EM tends to, whose information would not be
#: the fit's.
POLISH_REACH_SE = 3.0


@dataclass(frozen=True)
class _Move:
    """How far a polish moved the fit, and the delta method at the polished point.

    ``distance`` is in the polished point's standard errors (the most any
    reported parameter moves; inf where they are not all finite), ``row``
    the reported parameter that moves most, ``before`` and ``after`` both
    points' reported parameters; ``jac``, ``se`` and ``singular`` are
    :func:`_jacobian` and :func:`_delta_method` at the polished point (read
    only: what :func:`stationary_std_errors` would compute again).
    """

    distance: float
    row: int
    before: Array
    after: Array
    jac: Array
    se: Array
    singular: str | None


def _polish_move(start: GaussianParams, theta: GaussianParams, derivatives: Derivatives) -> _Move:
    """How far ``theta`` lies from ``start`` in ``theta``'s standard errors (see
    :class:`_Move`)."""
    chart, hess, size, _ = derivatives
    jac = _jacobian(chart)
    se, singular = _delta_method(-hess, jac, size)
    se.flags.writeable = False
    before = reported_vector(start.weights, start.means, start.covariances)
    after = reported_vector(theta.weights, theta.means, theta.covariances)
    moved = np.abs(after - before)
    free = se != 0  # NaN counts: an unidentified direction is not within reach
    if not np.isfinite(se[free]).all():
        return _Move(math.inf, int(np.argmax(moved)), before, after, jac, se, singular)
    ratio = np.divide(moved, se, out=np.zeros_like(moved), where=free)
    row = int(np.argmax(ratio))
    return _Move(float(ratio[row]), row, before, after, jac, se, singular)


def _polish(
    x: Array,
    params: GaussianParams,
    model: str,
    case_weights: Array | None,
    known: Derivatives | None = None,
) -> tuple[GaussianParams, str | None, Derivatives | None, _Move | None]:
    """Newton steps in the chart from ``params``; where they cannot start (the information
    is not positive definite) or do not reach a stationary point, EM steps at a tight
    tolerance from ``params`` and Newton steps from there.

    Newton converges quadratically from a fit that stopped short on a flat
    stretch, where EM creeps.  ``known`` are the chart and derivatives at
    ``params`` when the caller has them.  Returns the polished parameters
    (``params`` if EM from them degenerates), then the reason, and the chart
    and :func:`_loglik_derivatives` at the parameters returned when the last
    Newton step computed them there (None otherwise), and the
    :func:`_polish_move` from ``params`` when it was taken there (None
    otherwise): they are what the caller would compute again.
    """
    newton, derivatives, stationary = _newton_polish(x, params, model, case_weights, known)
    if stationary:
        move = _polish_move(params, newton, derivatives)
        # a maximum damped steps found beyond the fit's reach may not be EM's: try EM's
        if move.distance <= POLISH_REACH_SE:
            return newton, None, derivatives, move
    n = float(x.shape[0] if case_weights is None else case_weights.sum())
    theta, reason = _polish_em(x, params, model, case_weights, n)
    if reason is not None:
        return theta, reason, None, None
    # undamped from EM's point: where its information is not positive definite, damped
    # steps would climb on, away from EM's answer
    theta, derivatives, _ = _newton_polish(x, theta, model, case_weights, damped=False)
    return theta, None, derivatives, None


def _labels_or_default(labels: list[str] | None, k: int, d: int) -> list[str]:
    if labels is not None:
        return labels
    names = [f"mean[{j + 1}]" for j in range(d)] + [
        f"var[{i + 1}]" if i == j else f"cov[{i + 1},{j + 1}]"
        for i in range(d)
        for j in range(i, d)
    ]
    return [f"{c + 1}:{name}" for c in range(k) for name in ["weight", *names]]


def _direction_names(jac: Array, vector: Array, labels: list[str], limit: int = 3) -> str:
    """The reported parameters a direction of the chart moves most (relative to their rows)."""
    moved = np.abs(jac @ vector) / np.maximum(np.linalg.norm(jac, axis=1), 1e-300)
    order = [int(i) for i in np.argsort(-moved) if moved[i] > 1e-3][:limit]
    return ", ".join(labels[i] for i in order) or "no reported parameter"


def _why_not_positive_definite(
    info: Array, size: Array, jac: Array, params: GaussianParams, n: float, labels: list[str]
) -> str:
    """Why the information is not positive definite: a near-empty component, a direction of
    negative curvature (not a maximum) or a flat direction, naming its parameters."""
    counts = params.weights * n
    sparse = np.flatnonzero(counts < params.d + 1)
    if sparse.size:
        j = int(sparse[0])
        return (
            f"component {j + 1} is near-empty (it holds {counts[j]:.3g} of the {n:g} rows): "
            "its parameters are barely identified"
        )
    diag = np.diag(info)
    scale = 1.0 / np.sqrt(np.where(diag > 0, diag, np.maximum(size, 1e-300)))
    values, vectors = np.linalg.eigh(info * scale[:, None] * scale[None, :])
    where = _direction_names(jac, scale * vectors[:, 0], labels)
    if values[0] < -_NULL_RTOL * max(float(np.max(np.abs(values))), 1.0):
        return (
            "the estimate is not a local maximum of the likelihood (a saddle point, even "
            f"after polishing): the curvature is negative along {where}"
        )
    return f"the likelihood is flat along {where} (the observed information is singular there)"


def _out_of_reach(
    x: Array,
    fitted: GaussianParams,
    polished: GaussianParams,
    move: _Move,
    case_weights: Array | None,
    names: list[str],
) -> str | None:
    """Why the polished point's information is not the fit's (it lies more than
    :data:`POLISH_REACH_SE` standard errors away: ``move`` is its :func:`_polish_move`
    from ``fitted``), or None."""
    moved, row, before, after = move.distance, move.row, move.before, move.after
    if moved <= POLISH_REACH_SE or not math.isfinite(moved):
        return None  # within reach, or not positive definite there: that is the reason
    gain = _weighted_loglik(x, polished, case_weights) - _weighted_loglik(x, fitted, case_weights)
    return (
        f"{_FAR}: EM at a tight tolerance "
        f"moves {names[row]} from {before[row]:.4g} to {after[row]:.4g} ({moved:.3g} standard "
        f"errors; the log-likelihood up by {gain:.3g}), so the curvature there is not the "
        "fit's (refit with a smaller tol for that estimate)"
    )


def _nan_std_errors(params: GaussianParams, reason: str) -> tuple[Array, str]:
    """Every standard error NaN, with the reason."""
    return np.full(params.k * _block_size(params.d), np.nan), reason


#: Data in memory as :func:`_prepare` gives them: centred, the parameters about the same
#: centre and the chart there.
Prepared = tuple[Array, GaussianParams, _Chart]


def stationary_std_errors(
    x: Any,
    params: GaussianParams,
    model: str,
    case_weights: Array | None = None,
    labels: list[str] | None = None,
) -> tuple[Array, str | None]:
    """:func:`information_std_errors` at a stationary point, and why any are NaN.

    The score at ``params`` is checked first: when a Newton step would move
    the estimate more than :data:`STATIONARY_SE` standard errors (or the
    information is not positive definite), the fit stopped short of the
    maximum (a loose stopping rule) and is polished: Newton steps in the
    chart from it, or, where they cannot start or do not reach a stationary
    point, EM steps at :data:`POLISH_CONTROL` from it and Newton steps from
    there; where the information is not positive definite on the way,
    damped (Levenberg-Marquardt) steps go uphill instead.  The information is
    taken at the polished point when it lies within :data:`POLISH_REACH_SE`
    of its standard errors of the fit.  Farther, the fit was not near that
    maximum and its curvature is not the fit's: every standard error is NaN
    with a reason that says how far (:func:`wald_std_errors` then takes the
    empirical information at the fit).  Where the information is still not
    positive definite the reason names the cause: a near-empty component,
    the parameters along a flat direction, or a saddle point.

    ``labels`` name the reported parameters (``"component:parameter"``).
    Data out of core (:class:`emstat.engine.ChunkedData`) are polished by EM
    steps only.  A :class:`StdErrorWarning` gives the reason of NaN.
    """
    se, reason = _stationary_std_errors(x, params, model, case_weights, labels)
    if reason is not None:
        warnings.warn(
            f"{int(np.sum(np.isnan(se)))} standard errors are NaN: {reason}",
            StdErrorWarning,
            stacklevel=2,
        )
    return se, reason


def _stationary_std_errors(
    x: Any,
    params: GaussianParams,
    model: str,
    case_weights: Array | None = None,
    labels: list[str] | None = None,
    prepared: Prepared | None = None,
) -> tuple[Array, str | None]:
    """:func:`stationary_std_errors` without its warning; ``prepared``: :func:`_prepare`'s
    answer for these data and parameters when the caller has it."""
    names = _labels_or_default(labels, params.k, params.d)
    polish_reason = None
    move: _Move | None = None
    if _chunked(x):
        # in the chunks' frame; polished by EM steps only (each one a pass over the data)
        chart = _build_chart(params, model)
        hess, size, grad, n = _chunked_derivatives(x, params, chart)
        centred = params
        _, distance = _newton_step(-hess, grad, size)
        if distance > STATIONARY_SE:
            centred, polish_reason = _polish_em(x, params, model, None, n)
            chart = _build_chart(centred, model)
            hess, size, grad, n = _chunked_derivatives(x, centred, chart)
    else:
        data, centred, chart = _prepare(x, params, model) if prepared is None else prepared
        fitted = centred
        n = float(data.shape[0] if case_weights is None else case_weights.sum())
        hess, size, grad = _loglik_derivatives(data, centred, chart, case_weights)
        _, distance = _newton_step(-hess, grad, size)
        if distance > STATIONARY_SE:
            centred, polish_reason, known, move = _polish(
                data, centred, model, case_weights, (chart, hess, size, grad)
            )
            if known is None:
                chart = _build_chart(centred, model)
                hess, size, grad = _loglik_derivatives(data, centred, chart, case_weights)
            else:  # the last Newton step's, at the same parameters
                chart, hess, size, grad = known
            if polish_reason is None:
                if move is None:
                    move = _polish_move(fitted, centred, (chart, hess, size, grad))
                polish_reason = _out_of_reach(data, fitted, centred, move, case_weights, names)
                if polish_reason is not None:
                    return _nan_std_errors(params, polish_reason)
    if move is not None:  # the delta method at these derivatives, taken for the reach
        jac, se, singular = move.jac, move.se.copy(), move.singular
    else:
        jac = _jacobian(chart)
        se, singular = _delta_method(-hess, jac, size)
    reason: str | None = None
    if singular is not None:
        reason = polish_reason or _why_not_positive_definite(-hess, size, jac, centred, n, names)
    degenerate = _degenerate_rows(chart, jac)
    if np.any(degenerate):
        se[degenerate] = np.nan
        rows = ", ".join(names[i] for i in np.flatnonzero(degenerate))
        reason = reason or (
            f"tied eigenvalues of a covariance leave its orientation unidentified ({rows})"
        )
    return se, reason


# --------------------------------------------------------------------------- #
# the empirical information: when the observed one is not positive definite
# --------------------------------------------------------------------------- #

#: What :func:`wald_std_errors` reports as the information its standard errors used.
OBSERVED_INFORMATION = "observed information"
EMPIRICAL_INFORMATION = "empirical information (covariance of the per-row scores)"


def _row_scores(x: Array, params: GaussianParams, chart: _Chart) -> Array:
    """``(n, p)`` per-row scores of ``log sum_k w_k N(x_i | mu_k, Sigma_k)`` in the chart at 0.

    Row i's score is ``g_i = sum_k z_ik dl_ik``, the first-derivative part of
    :func:`_loglik_derivatives` (their column sums are its score).  Compiled;
    :func:`_numpy_row_scores` where a row lies too far from every mean.
    """
    _information_kernels = _kernels()

    scores, finite = _information_kernels.row_scores(
        np.ascontiguousarray(x, dtype=float),
        np.asarray(chart.weights, dtype=float),
        np.ascontiguousarray(chart.means, dtype=float),
        np.ascontiguousarray(params.prec_chol, dtype=float),
        gaussian.log_weights(params),
        np.ascontiguousarray(chart.orientations),
        np.ascontiguousarray(chart.d_m),
        np.ascontiguousarray(chart.cov_index, dtype=np.intp),
        chart.n_free,
    )
    return scores if finite else _numpy_row_scores(x, params, chart)


def _numpy_row_scores(x: Array, params: GaussianParams, chart: _Chart) -> Array:
    """:func:`_row_scores` in numpy (the oracle of the compiled kernel)."""
    k, d = chart.k, chart.d
    resp = np.exp(gaussian.log_responsibilities(x, params)[0])
    scores = np.zeros((x.shape[0], chart.n_free))
    w = chart.weights
    for j in range(k):
        orient = chart.orientations[j]
        prec = params.prec_chol[j] @ params.prec_chol[j].T
        prec_r = orient.T @ prec @ orient
        u = ((x - chart.means[j]) @ orient) @ prec_r
        y = prec_r @ chart.d_m[j]
        g_cov = 0.5 * (np.einsum("ni,aij,nj->na", u, chart.d_m[j], u) - np.einsum("aii->a", y))
        g_weight = np.broadcast_to((np.arange(k - 1) == j) - w[: k - 1], (x.shape[0], k - 1))
        grad = np.concatenate([g_weight, u @ orient.T, g_cov], axis=1)
        cols = np.concatenate([np.arange(k - 1), k - 1 + j * d + np.arange(d), chart.cov_index[j]])
        scores[:, cols] += grad * resp[:, [j]]
    return scores


def empirical_information(
    x: Any, params: GaussianParams, model: str, case_weights: Array | None = None
) -> tuple[Array, Array, _Chart]:
    """The empirical information in the model's chart, its Jacobian and the chart.

    ``sum_i c_i (g_i - g_bar)(g_i - g_bar)^T`` over the per-row scores
    ``g_i`` (``c_i`` the case weights, ``g_bar`` their weighted mean): an
    estimate of the Fisher information ``Var(g)`` that is positive
    semi-definite by construction, and consistent also where the estimate is
    not exactly stationary (hence centred).  Returns the information, the
    reported parameters' Jacobian and the chart (for :func:`_degenerate_rows`).
    """
    return _empirical_information(_prepare(x, params, model), case_weights)


def _empirical_information(
    prepared: Prepared, case_weights: Array | None
) -> tuple[Array, Array, _Chart]:
    """:func:`empirical_information` of data :func:`_prepare` has prepared."""
    data, centred, chart = prepared
    scores = _row_scores(data, centred, chart)
    rows = np.ones(data.shape[0]) if case_weights is None else np.asarray(case_weights, float)
    scores -= (rows @ scores) / rows.sum()
    info = (scores * rows[:, None]).T @ scores
    return 0.5 * (info + info.T), _jacobian(chart), chart


def empirical_std_errors(
    x: Any, params: GaussianParams, model: str, case_weights: Array | None = None
) -> tuple[Array, str | None]:
    """Standard errors from :func:`empirical_information` and the delta method, and why any
    are NaN (a direction no row's score moves, or an unidentified orientation)."""
    return _empirical_std_errors(_prepare(x, params, model), case_weights)


def _empirical_std_errors(
    prepared: Prepared, case_weights: Array | None
) -> tuple[Array, str | None]:
    """:func:`empirical_std_errors` of data :func:`_prepare` has prepared."""
    info, jac, chart = _empirical_information(prepared, case_weights)
    se, reason = _delta_method(info, jac, np.diag(info))
    degenerate = _degenerate_rows(chart, jac)
    if np.any(degenerate):
        se[degenerate] = np.nan
        reason = reason or "tied eigenvalues of a covariance leave its orientation unidentified"
    return se, reason


def wald_std_errors(
    x: Any,
    params: GaussianParams,
    model: str,
    case_weights: Array | None = None,
    labels: list[str] | None = None,
) -> tuple[Array, str | None, str]:
    """Standard errors of a fit for its Wald intervals, why any are NaN, and their information.

    :func:`stationary_std_errors` first (the observed information at the
    polished fit).  Where that is not positive definite (a saddle point, a
    flat direction, EM from the fit running into a degenerate component) the
    fit's standard errors all come from :func:`empirical_information` at the
    fit, a valid estimator of the information that needs no curvature; the
    reason then says so and why.  Standard errors are NaN only where that
    fails too (a direction no row's score moves: an unidentified parameter),
    with both reasons.  Out-of-core data keep the observed information.

    Returns ``(std_errors, reason, information)``, ``information`` one of
    :data:`OBSERVED_INFORMATION` and :data:`EMPIRICAL_INFORMATION`.
    """
    # prepared once: the empirical information is taken at the same centred fit
    prepared = None if _chunked(x) else _prepare(x, params, model)
    se, reason = _stationary_std_errors(x, params, model, case_weights, labels, prepared)
    if reason is None or prepared is None:
        if reason is not None:
            warnings.warn(f"standard errors are NaN: {reason}", StdErrorWarning, stacklevel=2)
        return se, reason, OBSERVED_INFORMATION
    empirical, why_not = _empirical_std_errors(prepared, case_weights)
    if int(np.isnan(empirical).sum()) >= int(np.isnan(se).sum()):
        reason = f"{reason}; nor does the empirical information identify them ({why_not})"
        warnings.warn(f"standard errors are NaN: {reason}", StdErrorWarning, stacklevel=2)
        return se, reason, OBSERVED_INFORMATION
    why = (
        "the fit is not near a maximum"
        if reason.startswith(_FAR)
        else "the observed information is not positive definite"
    )
    because = f"{EMPIRICAL_INFORMATION} at the fit, as {why}: "
    if why_not is None:
        return empirical, because + reason, EMPIRICAL_INFORMATION
    full = f"{because}{reason}; some are still NaN: {why_not}"
    warnings.warn(f"standard errors are NaN: {full}", StdErrorWarning, stacklevel=2)
    return empirical, full, EMPIRICAL_INFORMATION
