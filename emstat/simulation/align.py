"""How simulation studies undo label switching (recorded in run.json and the summary)."""

from __future__ import annotations

import itertools
import math

import numpy as np

from emstat.mixture.align import match_components

__all__ = ["ALIGNMENT", "match_components", "match_means"]

#: How components are aligned: Hungarian matching of fitted to true means (for the
#: other families, of the parameters on the link scale: log rates, logit probabilities).
ALIGNMENT = "hungarian-means-euclidean"
#: Up to this many components a side, :func:`match_means` tries every assignment itself.
_ENUMERATE_MAX_K = 4
#: Two assignments whose costs are this close (relatively) are a tie: the Hungarian
#: algorithm then decides, as always.
_TIE = 1e-9


def match_means(reference_means: np.ndarray, means: np.ndarray) -> np.ndarray:
    """:func:`~emstat.mixture.align.match_components` of the means, found by trying every
    assignment when both sides have at most four components.

    The assignment of least total squared distance is the Hungarian
    algorithm's answer whenever it is the only one; when two come within a
    relative ``1e-9`` of each other, the Hungarian algorithm decides.  A
    study's few components are matched without loading ``scipy.optimize``
    (a quarter of a second in every worker).

    Examples
    --------
    >>> match_means(np.array([[0.0], [5.0]]), np.array([[4.8], [9.0], [0.3]]))
    array([ 1, -1,  0])
    """
    ref, other = _as_rows(reference_means), _as_rows(means)
    k_ref, k = ref.shape[0], other.shape[0]
    if ref.shape[1] != other.shape[1] or max(k_ref, k) > _ENUMERATE_MAX_K or min(k_ref, k) < 1:
        return match_components(reference_means, means)  # its errors and its general case
    diff = other[:, None, :] - ref[None, :, :]
    squared = np.einsum("ijd,ijd->ij", diff, diff)
    # Each component of the smaller side gets one of the larger side; the others stay unmatched.
    flipped = k > k_ref
    cost = (squared.T if flipped else squared).tolist()  # a few values: Python is quicker
    if not all(math.isfinite(value) for row in cost for value in row):
        return match_components(reference_means, means)  # its error names the value
    best, second = math.inf, math.inf
    chosen: tuple[int, ...] = ()
    for assigned in itertools.permutations(range(max(k, k_ref)), min(k, k_ref)):
        total = 0.0
        for i, j in enumerate(assigned):
            total += cost[i][j]
        if total < best:
            best, second, chosen = total, best, assigned
        elif total < second:
            second = total
    if not math.isfinite(best) or second - best <= _TIE * max(abs(best), 1.0):
        return match_components(reference_means, means)
    match = [-1] * k
    for i, j in enumerate(chosen):
        match[j if flipped else i] = i if flipped else j
    return np.array(match, dtype=np.intp)


def _as_rows(means: np.ndarray) -> np.ndarray:
    array = np.asarray(means, dtype=float)
    return array[:, None] if array.ndim == 1 else array
