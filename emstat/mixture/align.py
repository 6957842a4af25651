"""Label switching: match the components of one fit to those of another, or to the truth.

Components are matched by the Hungarian assignment
(:func:`scipy.optimize.linear_sum_assignment`) minimising the total squared
distance between matched means, Euclidean or in the metric of a covariance.
With fewer reference components than fitted ones, the extra fitted
components stay unmatched.
"""

from __future__ import annotations

import numpy as np

from emstat.errors import InputError

__all__ = ["align_components", "match_components"]


def _as_means(means: np.ndarray) -> np.ndarray:
    array = np.asarray(means, dtype=float)
    return array[:, None] if array.ndim == 1 else array


def match_components(
    reference_means: np.ndarray, means: np.ndarray, metric: np.ndarray | None = None
) -> np.ndarray:
    """For each component of ``means``, the index of its reference component, or -1.

    Parameters
    ----------
    reference_means, means
        ``(k_ref, d)`` and ``(k, d)`` arrays (a vector is read as ``d = 1``).
    metric
        Optional ``(d, d)`` positive definite covariance (Mahalanobis
        distance), e.g. the pooled within-component covariance.

    Examples
    --------
    >>> match_components(np.array([[0.0], [5.0]]), np.array([[4.8], [9.0], [0.3]]))
    array([ 1, -1,  0])
    """
    from scipy.optimize import linear_sum_assignment  # import when needed: it is slow

    ref, other = _as_means(reference_means), _as_means(means)
    if ref.shape[1] != other.shape[1]:
        raise InputError(f"cannot match means of shapes {ref.shape} and {other.shape}")
    diff = other[:, None, :] - ref[None, :, :]
    if metric is not None:
        diff = diff @ np.linalg.cholesky(np.linalg.inv(np.asarray(metric, dtype=float)))
    rows, cols = linear_sum_assignment(np.einsum("ijd,ijd->ij", diff, diff))
    match = np.full(other.shape[0], -1, dtype=np.intp)
    match[rows] = cols
    return match


def align_components(
    reference_means: np.ndarray, means: np.ndarray, metric: np.ndarray | None = None
) -> np.ndarray:
    """The permutation ``perm`` with ``means[perm][j]`` matched to ``reference_means[j]``.

    Examples
    --------
    >>> align_components(np.array([0.0, 5.0, 9.0]), np.array([8.7, 0.2, 5.1]))
    array([1, 2, 0])
    """
    ref, other = _as_means(reference_means), _as_means(means)
    if ref.shape != other.shape:
        raise InputError(f"cannot align means of shapes {ref.shape} and {other.shape}")
    match = match_components(ref, other, metric)
    perm = np.empty_like(match)
    perm[match] = np.arange(match.shape[0])
    return perm
