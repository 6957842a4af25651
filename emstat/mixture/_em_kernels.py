"""EM's whole loop for a Gaussian mixture in memory, in one compiled call.

On the small data of a simulation study or a bootstrap an EM iteration is a
few microseconds of arithmetic and some twenty of Python around it.  Here
the loop of :func:`emstat.engine.fit_em` runs in numba: the serial fused
E-step, the model's compiled M-step, the ridge, the decrease check, the
stopping rules ``rel``, ``abs``, ``per_sample`` and ``aitken`` (the same
arithmetic and comparisons as the engine's) and the trace.  It returns to
Python once, when EM is done, or where the Python loop must decide: an
M-step the kernel doubts (an empty or singular component) or a log-likelihood
that is not finite.  The engine then goes on from an E-step at the last
parameters, so its messages and warnings are the ones it always gives.

One loop serves every model with a compiled M-step (``model._compiled_kernel``,
one table entry per model): each kernel gets its own copy of the loop, the
kernel bound as a global, so that numba specialises the call and caches the
copy on disk (a kernel passed as an argument would not be cached).
"""

from __future__ import annotations

import hashlib
import inspect
import math
import types
from functools import cache
from pathlib import Path
from typing import Any

import numba
import numpy as np

from emstat.engine import _DECREASE_TOLERANCE, CompiledRun, EMControl
from emstat.mixture import fused, gaussian
from emstat.mixture._fused_kernels import e_step_serial, e_step_workspace
from emstat.mixture._mstep_kernels import OK as FACTORED
from emstat.mixture._mstep_kernels import diagonal_result, factorise_full, offsets_from_centre
from emstat.mixture.gaussian import GaussianParams, GaussianStats

__all__ = ["enabled", "loop_for", "run_em", "run_squarem"]

#: The tests switch the compiled loop off to run the engine's Python loop, the oracle.
enabled = True

# How the loop ended: EM is done, or the Python loop goes on from an E-step.
CONVERGED, MAX_ITER, RESUME = 0, 1, 2
_CRITERIA = {"rel": 0, "abs": 1, "per_sample": 2, "aitken": 3}
# The loop's trace is allocated for every iteration the cap allows: a larger
# cap keeps the Python loop, whose trace grows as it goes.
_MAX_TRACE = 1_000_000
# SQUAREM's bound on |alpha|: first 1 (the point F(F(theta))), times 4 where it binds and the
# jump is taken, over 4 where not (the SQUAREM package's step.max0 and mstep), at most
# 64: longer jumps leave EM's basin for another maximum (a component collapsing on a few
# rows) on fits of the seed's study.
_FIRST_STEP, _STEP_FACTOR, _STEP_MAX = 1.0, 4.0, 64.0
# The singularity tests' rounding factor (``gaussian_params``'), for extrapolated points.
_ROUNDING = gaussian.ROUNDING_FACTOR * float(np.finfo(np.float64).eps)

# Bound per copy of the loop by :func:`loop_for`: the M-step kernel and the
# function that hands it the second moments in its shape.
M_STEP: Any = None
SECOND_OF: Any = None


@numba.njit(cache=True, error_model="numpy")
def _aitken_distance(l2: float, l1: float, l0: float) -> float:
    """:func:`emstat.engine.aitken_distance`, the same arithmetic."""
    step, previous = l0 - l1, l1 - l2
    if step == 0.0:
        return 0.0
    if previous == 0.0:
        return math.nan
    rate = step / previous
    if not (0.0 <= rate and rate < 1.0):
        return math.nan
    limit = l1 + step / (1.0 - rate)
    return abs(limit - l0) / (1.0 + abs(l0))


@numba.njit(cache=True, error_model="numpy")
def _converged(trace: np.ndarray, length: int, criterion: int, tol: float, n_obs: float) -> bool:
    """The engine's ``_loglik_converged`` on ``trace[:length]`` (length >= 2)."""
    old, new = trace[length - 2], trace[length - 1]
    change = abs(new - old)
    if criterion == 3:
        if length < 3:
            return False
        return _aitken_distance(trace[length - 3], old, new) <= tol  # NaN: not yet
    if criterion == 0:
        return change / (1.0 + abs(new)) <= tol
    if criterion == 1:
        return change <= tol
    return change / n_obs <= tol


@numba.njit(cache=True)
def _diagonal_second(
    second: np.ndarray, diagonals: np.ndarray, nk: np.ndarray, reg_covar: float
) -> np.ndarray:
    """The (k, d) second moments a diagonal M-step takes, ridged as ``model.regularised``."""
    if reg_covar != 0.0:
        for j in range(diagonals.shape[0]):
            ridge = reg_covar * nk[j]
            for c in range(diagonals.shape[1]):
                diagonals[j, c] += ridge
    return diagonals


@numba.njit(cache=True)
def _full_second(
    second: np.ndarray, diagonals: np.ndarray, nk: np.ndarray, reg_covar: float
) -> np.ndarray:
    """The (k, d, d) second moments a full M-step takes, ridged as ``model.regularised``."""
    if reg_covar != 0.0:
        for j in range(second.shape[0]):
            ridge = reg_covar * nk[j]
            for c in range(second.shape[1]):
                second[j, c, c] += ridge
    return second


@numba.njit(cache=True, error_model="numpy")
def _squared_norms(theta: np.ndarray, first: np.ndarray, second: np.ndarray) -> tuple[float, float]:
    """SQUAREM's ``|r|^2`` and ``|v|^2`` over one parameter array: ``r = F(theta) - theta``,
    ``v = F(F(theta)) - 2 F(theta) + theta``."""
    a, b, c = theta.ravel(), first.ravel(), second.ravel()
    r2, v2 = 0.0, 0.0
    for i in range(a.shape[0]):
        r = b[i] - a[i]
        v = c[i] - 2.0 * b[i] + a[i]
        r2 += r * r
        v2 += v * v
    return r2, v2


@numba.njit(cache=True, error_model="numpy")
def _step_norms(theta: Any, first: Any, second: Any) -> tuple[float, float]:
    """:func:`_squared_norms` summed over the weights, the means and the covariances."""
    r2, v2 = _squared_norms(theta[0], first[0], second[0])
    r2_means, v2_means = _squared_norms(theta[1], first[1], second[1])
    r2_cov, v2_cov = _squared_norms(theta[2], first[2], second[2])
    return r2 + r2_means + r2_cov, v2 + v2_means + v2_cov


@numba.njit(cache=True, error_model="numpy")
def _coordinates(point: Any, diagonal: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The coordinates SQUAREM extrapolates in: log weights, means, and the covariances
    (of a diagonal model their log variances, on the diagonal)."""
    weights, means, covariances = point[0], point[1], point[2]
    log_weights = np.log(weights)
    coordinates = covariances.copy()
    if diagonal:
        for j in range(coordinates.shape[0]):
            for c in range(coordinates.shape[1]):
                coordinates[j, c, c] = math.log(covariances[j, c, c])
    return log_weights, means, coordinates


@numba.njit(cache=True, error_model="numpy")
def _from_coordinates(
    log_weights: np.ndarray, means: np.ndarray, coordinates: np.ndarray, diagonal: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The weights, means and covariances of :func:`_coordinates`."""
    weights = np.exp(log_weights - np.max(log_weights))
    weights /= np.sum(weights)
    covariances = coordinates.copy()
    if diagonal:
        for j in range(covariances.shape[0]):
            for c in range(covariances.shape[1]):
                covariances[j, c, c] = math.exp(coordinates[j, c, c])
    return weights, means, covariances


@numba.njit(cache=True, error_model="numpy")
def _extrapolate(
    theta: np.ndarray, first: np.ndarray, second: np.ndarray, alpha: float
) -> np.ndarray:
    """SQUAREM's point ``theta - 2 alpha r + alpha^2 v`` of one parameter array."""
    return (
        (1.0 + alpha) * (1.0 + alpha) * theta
        - 2.0 * alpha * (1.0 + alpha) * first
        + alpha * alpha * second
    )


@numba.njit(cache=True, error_model="numpy")
def _factorised(
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    diagonal: bool,
    rounding: float,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Precision factors and -½ log|Σ_k| of extrapolated parameters; False where they
    are no mixture an E-step may take: a weight outside (0, 1), a value that is not
    finite, or a covariance singular by ``gaussian_params``' tests (the M-steps' own)."""
    k, d = means.shape
    valid = bool(np.all(np.isfinite(means))) and bool(np.all(np.isfinite(covariances)))
    for j in range(k):
        if not (0.0 < weights[j] < 1.0 or (k == 1 and weights[j] == 1.0)):
            valid = False
    if not valid:  # the factors are allocated on this path alone (no caller reads them)
        return np.zeros((k, d, d)), np.zeros(k), False
    offsets = offsets_from_centre(weights, means)
    if not diagonal:
        return factorise_full(weights, offsets, covariances, rounding)
    var = np.empty((k, d))
    for j in range(k):
        for c in range(d):
            var[j, c] = covariances[j, c, c]
    _, _, _, prec_chol, half_log_det, status = diagonal_result(
        weights, means, offsets, var, rounding, 0.0
    )
    return prec_chol, half_log_det, status == FACTORED


def _em_loop(
    x: np.ndarray,
    weights: np.ndarray,
    means: np.ndarray,
    covariances: np.ndarray,
    prec_chol: np.ndarray,
    half_log_det: np.ndarray,
    diag_start: bool,
    diag_model: bool,
    diag_second: bool,
    block_rows: int,
    rows_per_log: int,
    options: Any,
    ok: int,
    reg_covar: float,
    monotone: bool,
    criterion: int,
    tol: float,
    n_obs: float,
    n_iter: int,
    max_iter: int,
    history: np.ndarray,
    accelerate: bool,
    rounding: float,
) -> Any:
    """EM from the parameters given, as the engine's loop (``M_STEP``, ``SECOND_OF``: globals).

    Returns the status, n_iter, the objectives added, the positions (among
    them) of decreases, the parameters, and the last E-step's statistics,
    log-likelihood and ICL term.  On ``RESUME`` the parameters are those
    the next E-step uses and the trace stops before it.  ``accelerate``
    runs SQUAREM instead (:func:`run_squarem`; ``rounding`` is the
    singularity tests' factor, for its extrapolated points).
    """
    n_prev = history.shape[0]
    trace = np.empty(n_prev + max(max_iter - n_iter, 0) + 1)
    trace[:n_prev] = history
    decreases = np.empty(trace.shape[0], dtype=np.int64)
    n_decreases = 0
    length = n_prev
    diag_prec = diag_start
    scratch = e_step_workspace(x.shape[0], x.shape[1], means.shape[0], block_rows)

    def e_step(point: Any) -> Any:
        return e_step_serial(
            x,
            point[0],
            point[1],
            point[3],
            point[4],
            point[5],
            diag_second,
            block_rows,
            rows_per_log,
            scratch,
        )

    def em_map(stats: Any, previous_covariances: np.ndarray) -> Any:
        """The M-step of ``stats``: the next parameters and the kernel's status."""
        moments = SECOND_OF(stats[2], stats[3], stats[0], reg_covar)
        w, m, c, p, h, m_status = M_STEP(stats[0], stats[1], moments, previous_covariances, options)
        return (w, m, c, p, h, diag_model), m_status

    if accelerate:
        # SQUAREM, scheme S3 (Varadhan & Roland 2008), from ``point`` and its E-step ``stats``
        point = (weights, means, covariances, prec_chol, half_log_det, diag_start)
        stats = e_step(point)
        status = MAX_ITER
        largest = _FIRST_STEP
        if not math.isfinite(stats[4]):
            status = RESUME
        else:
            trace[length] = stats[4]
            length += 1
        while status == MAX_ITER and n_iter < max_iter:
            first, m_status = em_map(stats, point[2])
            n_iter += 1
            if m_status != ok:  # EM from an iterate doubts: plain EM decides
                status = RESUME
                break
            first_stats = e_step(first)
            if not math.isfinite(first_stats[4]):
                status = RESUME
                break
            # the engine's rule on the EM step from the iterate: EM from here would stop
            trace[length] = first_stats[4]
            done = _converged(trace, length + 1, criterion, tol, n_obs)
            if done or n_iter >= max_iter:
                status = CONVERGED if done else MAX_ITER
                point, stats, length = first, first_stats, length + 1
                break
            second, m_status = em_map(first_stats, first[2])
            n_iter += 1
            if m_status != ok:
                status = RESUME
                break
            second_stats = e_step(second)
            if not math.isfinite(second_stats[4]):
                status = RESUME
                break
            following, following_stats = second, second_stats  # F(F(theta)) unless beaten
            taken = False
            here = _coordinates(point, diag_model)
            once = _coordinates(first, diag_model)
            twice = _coordinates(second, diag_model)
            r2, v2 = _step_norms(here, once, twice)
            if n_iter < max_iter and v2 > 0.0:
                alpha = min(max(-math.sqrt(r2 / v2), -largest), -1.0)
                w, m, c = _from_coordinates(
                    _extrapolate(here[0], once[0], twice[0], alpha),
                    _extrapolate(here[1], once[1], twice[1], alpha),
                    _extrapolate(here[2], once[2], twice[2], alpha),
                    diag_model,
                )
                p, h, valid = _factorised(w, m, c, diag_model, rounding)
                if valid:
                    jump_stats = e_step((w, m, c, p, h, diag_model))
                    # a jump below F(F(theta)) may have left its basin: not taken
                    if jump_stats[4] >= second_stats[4]:
                        # one EM step back onto the model; its previous covariances are
                        # F(F(theta))'s, which obey the model's constraints
                        stable, m_status = em_map(jump_stats, second[2])
                        n_iter += 1
                        if m_status == ok:
                            stable_stats = e_step(stable)
                            if stable_stats[4] >= second_stats[4]:  # NaN: not taken
                                following, following_stats = stable, stable_stats
                                taken = True
                if alpha == -largest:  # the bound grows where it binds and holds
                    if taken:
                        largest = min(largest * _STEP_FACTOR, _STEP_MAX)
                    else:
                        largest = max(1.0, largest / _STEP_FACTOR)
            point, stats = following, following_stats
            trace[length] = stats[4]
            length += 1
        weights, means, covariances = point[0], point[1], point[2]
        prec_chol, half_log_det, diag_prec = point[3], point[4], point[5]
        return (
            status,
            n_iter,
            trace[n_prev:length],
            decreases[:0],
            (weights, means, covariances, prec_chol, half_log_det, diag_prec),
            stats,
        )
    while True:
        stats = e_step((weights, means, covariances, prec_chol, half_log_det, diag_prec))
        loglik = stats[4]
        if not math.isfinite(loglik):  # the Python loop raises its error
            status = RESUME
            break
        trace[length] = loglik
        length += 1
        decreased = 0
        if length >= 2:
            if monotone and loglik < trace[length - 2] - _DECREASE_TOLERANCE * (1.0 + abs(loglik)):
                decreases[n_decreases] = length - 1 - n_prev
                decreased = 1
            if _converged(trace, length, criterion, tol, n_obs):
                n_decreases += decreased
                status = CONVERGED
                break
        if n_iter >= max_iter:
            n_decreases += decreased
            status = MAX_ITER
            break
        following, m_status = em_map(stats, covariances)
        if m_status != ok:  # the Python loop redoes this E-step and its numpy M-step decides
            length -= 1
            status = RESUME
            break
        n_decreases += decreased
        weights, means, covariances, prec_chol, half_log_det, diag_prec = following
        n_iter += 1
    return (
        status,
        n_iter,
        trace[n_prev:length],
        decreases[:n_decreases],
        (weights, means, covariances, prec_chol, half_log_det, diag_prec),
        stats,
    )


def _kernels_stamp(kernel: Any) -> str:
    """A digest of the dates and sizes of the files whose kernels a loop compiles in:
    this package's ``_*kernels.py`` and the M-step kernel's own module."""
    files = set(Path(__file__).parent.glob("_*kernels.py"))
    files.add(Path(inspect.getfile(kernel.py_func)))
    stamps = [(f.name, f.stat().st_mtime_ns, f.stat().st_size) for f in sorted(files)]
    return hashlib.sha1(repr(stamps).encode()).hexdigest()[:12]


@cache
def loop_for(kernel: Any, diag_second: bool) -> Any:
    """The compiled loop around M-step ``kernel``: one copy per kernel, each cached on disk."""
    # The name keys numba's disk cache: unique per kernel (its module and name), shape,
    # and version of the kernels it compiles in (numba checks only this file's date).
    module = kernel.py_func.__module__.rsplit(".", 1)[-1].lstrip("_")
    shape = "diagonal" if diag_second else "full"
    name = f"em_loop_{module}_{kernel.__name__}_{shape}_{_kernels_stamp(kernel)}"
    namespace = dict(_em_loop.__globals__)
    namespace["M_STEP"] = kernel
    namespace["SECOND_OF"] = _diagonal_second if diag_second else _full_second
    copy = types.FunctionType(_em_loop.__code__, namespace, name, _em_loop.__defaults__)
    copy.__qualname__ = name
    return numba.njit(cache=True, error_model="numpy")(copy)


def _array(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float64)


def _run_loop(
    model: Any,
    data: Any,
    theta: GaussianParams,
    control: EMControl,
    n_iter: int,
    trace: list[float],
    n_obs: float,
    accelerate: bool,
) -> CompiledRun[GaussianParams, GaussianStats] | None:
    """The compiled loop (plain EM or SQUAREM) where it can run; see :func:`run_em`."""
    from emstat.mixture import model as model_module

    if not enabled or not fused.available() or model.prior is not None:
        return None
    if type(data) is not np.ndarray or data.ndim != 2 or control.criterion not in _CRITERIA:
        return None
    if data.shape[0] >= fused.PARALLEL_MIN_ROWS or data.shape[1] != theta.d:
        return None
    if control.max_iter - n_iter + len(trace) >= _MAX_TRACE:
        return None
    compiled = model_module._compiled_kernel(model.covariance)
    if compiled is None:
        return None
    kernel, options, diag_model, ok = compiled
    diag_second = model.covariance.scatter == "diag"
    k, d = theta.means.shape
    status, n_done, added, decreases, state, stats = loop_for(kernel, diag_second)(
        _array(data),
        _array(theta.weights),
        _array(theta.means),
        _array(theta.covariances),
        _array(theta.prec_chol),
        _array(theta.half_log_det_prec),
        bool(theta.diagonal),
        bool(diag_model),
        diag_second,
        fused.block_rows(d),
        fused.rows_per_logarithm(k),
        options,
        ok,
        float(model.reg_covar),
        bool(model.monotone),
        _CRITERIA[control.criterion],
        float(control.tol),
        float(n_obs),
        int(n_iter),
        int(control.max_iter),
        np.asarray(trace, dtype=np.float64),
        accelerate,
        _ROUNDING,
    )
    if n_done != n_iter:  # parameters of the loop's own M-steps
        theta = GaussianParams(*state)
    if status == RESUME:
        return CompiledRun(theta, None, math.nan, n_done, added, decreases, "")
    nk, sums, second, diagonals, loglik, icl_term = stats
    last = GaussianStats(nk, sums, diagonals if diag_second else second, float(icl_term))
    stop_reason = "converged" if status == CONVERGED else "max_iter"
    return CompiledRun(theta, last, float(loglik), n_done, added, decreases, stop_reason)


def run_em(
    model: Any,
    data: Any,
    theta: GaussianParams,
    control: EMControl,
    n_iter: int,
    trace: list[float],
    n_obs: float,
) -> CompiledRun[GaussianParams, GaussianStats] | None:
    """The engine's hook for a :class:`~emstat.mixture.model.GaussianMixtureModel`.

    None (the Python loop runs) unless the data are complete rows in memory
    (no case weights, no missing cells, fewer rows than the parallel E-step
    takes), the model has a compiled M-step and no prior, the rule is one
    the loop knows, and the iteration cap is below a million.
    """
    return _run_loop(model, data, theta, control, n_iter, trace, n_obs, accelerate=False)


def run_squarem(
    model: Any, data: Any, theta: GaussianParams, control: EMControl, n_obs: float
) -> CompiledRun[GaussianParams, GaussianStats] | None:
    """Where EM from ``theta`` goes, by SQUAREM (Varadhan & Roland 2008, scheme S3), in
    one call of the compiled loop.

    Each iteration from ``theta`` takes two EM steps, ``F(theta)`` and
    ``F(F(theta))``, with ``r = F(theta) - theta`` and ``v = F(F(theta)) -
    2 F(theta) + theta``, the step ``alpha = -|r| / |v|`` (at most -1, at least
    an adaptive bound, :data:`_STEP_MAX` at most) and the point ``theta - 2
    alpha r + alpha^2 v``, then one EM step from there back onto the model's
    constraints.  The coordinates are the log weights, the means and the
    covariances (a diagonal model's log variances), in which a jump cannot make
    a weight or a variance negative.  The jump replaces ``F(F(theta))`` only
    where it is a mixture (covariances non-singular by the M-steps' tests) and
    both it and the point after its EM step have a log-likelihood at least
    ``F(F(theta))``'s: the log-likelihood never falls.  (At ``alpha = -1`` the
    point is ``F(F(theta))`` itself, and its EM step a third plain one.)  Where EM
    creeps a few dozen iterations go as far as thousands of EM steps.

    The stopping rule is ``control``'s, applied as the engine applies it, to the
    EM step from each iterate: the run stops at ``F(theta)`` where plain EM
    would stop there (for ``"rel"`` at 1e-13, one more EM step changes the
    log-likelihood by at most 1e-13 relative).  ``control.max_iter`` bounds the
    M-steps (all of them, two or three per iteration).

    None where the loop cannot run (as :func:`run_em`, and for the ``"aitken"``
    rule or a ridge), or where an EM step from an iterate doubts (an empty or
    singular component, a log-likelihood that is not finite): plain EM then
    decides, with its messages.  The result's trace holds the iterates'
    log-likelihoods, then the last EM step's.
    """
    if control.criterion == "aitken" or model.reg_covar != 0.0:
        return None
    done = _run_loop(model, data, theta, control, 0, [], n_obs, accelerate=True)
    return None if done is None or not done.stop_reason else done  # "": it resumed
