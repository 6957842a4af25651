"""Bootstrap intervals from replicate estimates: percentile, basic, BCa and normal.

Pure functions of arrays: ``values`` is ``(B, m)`` (replicates x parameters,
failed refits already removed), ``estimate`` the ``(m,)`` fitted values and
``scales`` the ``params`` table's scale per parameter.  Percentile and BCa
intervals respect every monotone transformation, so they stay inside the
parameter space; the basic and normal intervals are computed on each
parameter's scale and transformed back, for the same reason.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from scipy.stats import norm

from emstat.results import _TRANSFORMS, wald_intervals, wald_z

__all__ = [
    "INTERVALS",
    "basic_interval",
    "bca_interval",
    "jackknife_acceleration",
    "jackknife_std_errors",
    "normal_interval",
    "percentile_interval",
]

Array = NDArray[np.float64]

#: Interval kinds :meth:`BootstrapResult.conf_int` computes.
INTERVALS = ("percentile", "bca", "basic", "normal")


def _tails(level: float) -> tuple[float, float]:
    wald_z(level)  # the one check of a level, with its message
    return (1.0 - level) / 2.0, (1.0 + level) / 2.0


def percentile_interval(values: Array, level: float) -> tuple[Array, Array]:
    """The ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of each column (R's type 7)."""
    low, high = _tails(level)
    return np.quantile(values, low, axis=0), np.quantile(values, high, axis=0)


def _forward(values: Array, scales: Sequence[str]) -> Array:
    out = np.empty_like(values, dtype=float)
    for j, scale in enumerate(scales):
        forward = _TRANSFORMS[scale][0]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[..., j] = forward(values[..., j])
    return out


def _inverse(values: Array, scales: Sequence[str]) -> Array:
    out = np.empty_like(values, dtype=float)
    for j, scale in enumerate(scales):
        out[..., j] = _TRANSFORMS[scale][1](values[..., j])
    return out


def basic_interval(
    values: Array, estimate: Array, scales: Sequence[str], level: float
) -> tuple[Array, Array]:
    """``2 g(est) - g(q_high), 2 g(est) - g(q_low)`` on each parameter's scale ``g``, back."""
    q_low, q_high = percentile_interval(_forward(values, scales), level)
    centre = _forward(estimate[None, :], scales)[0]
    return _inverse(2 * centre - q_high, scales), _inverse(2 * centre - q_low, scales)


def jackknife_std_errors(values: Array) -> Array:
    """``sqrt((m - 1) / m Σ (J_i - J̄)²)`` per column, as mclust's ``summary(type = "jk")``."""
    m = values.shape[0]
    centred = values - values.mean(axis=0)
    return np.asarray(np.sqrt((m - 1) / m * np.sum(centred**2, axis=0)), dtype=float)


def jackknife_acceleration(jackknife: Array) -> Array:
    """BCa's acceleration ``a = Σ d³ / (6 (Σ d²)^{3/2})``, ``d = J̄ - J_i`` (Efron 1987)."""
    diff = jackknife.mean(axis=0) - jackknife
    num = np.sum(diff**3, axis=0)
    den = 6.0 * np.sum(diff**2, axis=0) ** 1.5
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, 0.0)


def bca_interval(
    values: Array, estimate: Array, jackknife: Array, level: float
) -> tuple[Array, Array]:
    """Bias-corrected and accelerated percentile intervals.

    The bias correction ``z0 = Φ⁻¹(#{θ* < θ̂} / B)`` (ties counted half)
    comes from the bootstrap distribution, the acceleration from the
    jackknife values ``jackknife`` (``(n, m)``); the interval is the
    ``Φ(z0 + (z0 + z_α) / (1 - a (z0 + z_α)))`` quantiles.  A parameter
    with no spread (fixed by the model) gets its estimate.
    """
    tails = np.array(_tails(level))
    b = values.shape[0]
    share = (np.sum(values < estimate, axis=0) + 0.5 * np.sum(values == estimate, axis=0)) / b
    # a share of 0 or 1 has an infinite z0: clip to the resolution B gives
    z0 = norm.ppf(np.clip(share, 0.5 / b, 1.0 - 0.5 / b))
    accel = jackknife_acceleration(jackknife)
    z = norm.ppf(tails)[:, None]
    adjusted = norm.cdf(z0 + (z0 + z) / (1.0 - accel * (z0 + z)))
    low = np.empty(values.shape[1])
    high = np.empty(values.shape[1])
    for j in range(values.shape[1]):
        low[j], high[j] = np.quantile(values[:, j], adjusted[:, j])
    flat = np.ptp(values, axis=0) == 0
    low[flat] = high[flat] = estimate[flat]
    return low, high


def normal_interval(
    estimate: Array, std_err: Array, scales: Sequence[str], level: float
) -> tuple[Array, Array]:
    """Wald intervals with bootstrap (or jackknife) standard errors, on each scale."""
    return wald_intervals(estimate, std_err, list(scales), level)
