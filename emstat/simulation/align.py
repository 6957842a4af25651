"""Label switching: match fitted components to the true ones before summarising.

The method is the Hungarian assignment (:func:`scipy.optimize.linear_sum_assignment`)
minimising the total squared Euclidean distance between fitted and true
means.  With as many fitted as true components it is
:func:`emstat.mixture.stderr.align_components`; with a different number the
same cost is solved as a rectangular assignment and unmatched fitted
components keep no truth.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["ALIGNMENT", "match_components"]

#: How components are aligned; recorded in run.json and in the summary.
ALIGNMENT = "hungarian-means-euclidean"


def _library_align() -> object | None:
    try:
        from emstat.mixture.stderr import align_components
    except ImportError:  # pragma: no cover - the stderr module is part of the package
        return None
    return align_components


def match_components(true_means: np.ndarray, fitted_means: np.ndarray) -> np.ndarray:
    """For each fitted component, the index of its true component, or -1 when unmatched.

    Parameters
    ----------
    true_means, fitted_means
        ``(k_true, d)`` and ``(k_fit, d)`` arrays.

    Returns
    -------
    numpy.ndarray
        ``(k_fit,)`` integers: ``match[j]`` is the true component of fitted
        component ``j``.

    Examples
    --------
    >>> match_components(np.array([[0.0], [5.0]]), np.array([[4.8], [0.3]]))
    array([1, 0])
    >>> match_components(np.array([[0.0], [5.0]]), np.array([[4.8], [9.0], [0.3]]))
    array([ 1, -1,  0])
    """
    true_means = np.asarray(true_means, dtype=float)
    fitted_means = np.asarray(fitted_means, dtype=float)
    k_fit = fitted_means.shape[0]
    match = np.full(k_fit, -1, dtype=np.intp)
    align = _library_align()
    if align is not None and true_means.shape == fitted_means.shape:
        perm = align(true_means, fitted_means)  # type: ignore[operator]
        match[np.asarray(perm)] = np.arange(k_fit)
        return match
    diff = fitted_means[:, None, :] - true_means[None, :, :]
    rows, cols = linear_sum_assignment(np.einsum("ijd,ijd->ij", diff, diff))
    match[rows] = cols
    return match
