"""Initial partitions that start EM.

A start is a responsibility matrix over some rows: hard labels from
mclust's hierarchical agglomeration (``"hc"``) or quantile classes
(``"quantile"``), k-means++, random labels, or the user's own labels or
responsibilities.  EM begins with an M-step from the statistics of that
partition, as mclust does.  ``"cem"`` is not a partition of its own: the
fitters run classification EM from the default start and start EM from its
partition (:func:`emstat.mixture.classification_em.cem_then_em`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import InputError

__all__ = [
    "INIT_CHOICES",
    "INIT_METHODS",
    "StartingPartition",
    "draws_at_random",
    "kmeanspp_labels",
    "lloyd_steps",
    "make_starts",
    "random_labels",
]

INIT_METHODS = ("hc", "quantile", "kmeans++", "random")
#: Every name ``init`` takes: the partitions above and CEM from the default one.
INIT_CHOICES = (*INIT_METHODS, "cem")
_RANDOM_METHODS = ("kmeans++", "random")


@dataclass(frozen=True)
class StartingPartition:
    """Responsibilities ``resp`` (m, k) for the rows ``rows`` (all rows when None)."""

    resp: np.ndarray
    method: str
    rows: np.ndarray | None = None

    @property
    def labels(self) -> np.ndarray:
        return np.argmax(self.resp, axis=1)


def draws_at_random(init: Any) -> bool:
    """Whether ``init`` names a start drawn from the seeded generator (k-means++, random)."""
    return isinstance(init, str) and init in _RANDOM_METHODS


def labels_to_resp(labels: np.ndarray, k: int) -> np.ndarray:
    resp = np.zeros((labels.shape[0], k))
    resp[np.arange(labels.shape[0]), labels] = 1.0
    return resp


def kmeanspp_labels(
    x: np.ndarray, k: int, rng: np.random.Generator, lloyd_iterations: int = 10
) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii 2007) refined by :func:`lloyd_steps`.

    The refinement is k-means: classification EM of the ``EII`` model with
    equal, fixed weights, at most ``lloyd_iterations`` steps; an empty
    component is then given a random row of the largest one.
    """
    n = x.shape[0]
    centres = np.empty((k, x.shape[1]))
    centres[0] = x[rng.integers(n)]
    closest = np.sum((x - centres[0]) ** 2, axis=1)
    for j in range(1, k):
        total = closest.sum()
        pick = rng.choice(n, p=closest / total) if total > 0 else rng.integers(n)
        centres[j] = x[pick]
        closest = np.minimum(closest, np.sum((x - centres[j]) ** 2, axis=1))
    return _fill_empty(lloyd_steps(x, centres, lloyd_iterations), k, rng)


def lloyd_steps(x: np.ndarray, centres: np.ndarray, steps: int) -> np.ndarray:
    """Lloyd's k-means from ``centres`` (updated in place): the labels after ``steps`` steps.

    Each step assigns every row to its nearest centre (ties to the lowest)
    and moves each non-empty centre to its rows' mean.  Once the partition
    repeats, further steps would repeat it too, so the loop stops there;
    the distances are formed one centre at a time (memory n, not n x k x d).
    """
    labels = np.zeros(x.shape[0], dtype=int)
    dist = np.empty((x.shape[0], centres.shape[0]))
    for step in range(steps):
        for j in range(centres.shape[0]):
            dist[:, j] = ((x - centres[j]) ** 2).sum(axis=1)
        new = np.asarray(np.argmin(dist, axis=1))
        if step > 0 and np.array_equal(new, labels):
            break
        labels = new
        for j in range(centres.shape[0]):
            members = labels == j
            if members.any():
                centres[j] = x[members].mean(axis=0)
    return labels


def random_labels(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """Uniform random labels with every component given at least one row."""
    return _fill_empty(np.asarray(rng.integers(k, size=x.shape[0])), k, rng)


def _fill_empty(labels: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    # An empty component cannot start an M-step: give it a random row of the largest one.
    labels = labels.copy()
    for j in range(k):
        if not np.any(labels == j):
            largest = np.argmax(np.bincount(labels, minlength=k))
            labels[rng.choice(np.flatnonzero(labels == largest))] = j
    return labels


def _user_start(init: Any, n: int, k: int) -> StartingPartition:
    if isinstance(init, tuple) and len(init) == 2:
        return _user_subset_start(init[0], init[1], n, k)
    array = np.asarray(init)
    if array.ndim == 1:
        if array.shape[0] != n:
            raise InputError(f"init labels have {array.shape[0]} entries; the data have {n} rows")
        _check_no_missing_labels(array)
        try:
            codes, labels = np.unique(array, return_inverse=True)
        except TypeError:  # labels of mixed types do not sort: number them as they come
            labels, codes = pd.factorize(array)
        if codes.shape[0] != k:
            raise InputError(f"init labels take {codes.shape[0]} distinct values; k = {k}")
        return StartingPartition(labels_to_resp(labels, k), "user labels")
    if array.ndim == 2:
        if array.shape != (n, k):
            raise InputError(f"an init responsibility matrix must be {n} x {k}, got {array.shape}")
        try:
            resp = np.asarray(array, dtype=float) if not np.iscomplexobj(array) else None
        except (TypeError, ValueError):
            resp = None
        if resp is None:
            raise InputError("init responsibilities must be real numbers")
        if not np.all(np.isfinite(resp)) or np.any(resp < 0):
            raise InputError("init responsibilities must be finite and non-negative")
        sums = resp.sum(axis=1, keepdims=True)
        if np.any(sums <= 0):
            raise InputError("every row of the init responsibilities needs a positive sum")
        return StartingPartition(resp / sums, "user responsibilities")
    raise InputError("init must be a method name, a vector of labels or an n x k matrix")


def _check_no_missing_labels(labels: np.ndarray) -> None:
    """A missing label would otherwise be taken as one more class."""
    missing = np.flatnonzero(pd.isna(labels))
    if missing.size:
        more = f" and {missing.size - 1} more" if missing.size > 1 else ""
        raise InputError(
            f"init labels are missing (NaN or None) at row {missing[0]} (counting from 0){more}; "
            "give every row a label"
        )


def _user_subset_start(rows: Any, labels: Any, n: int, k: int) -> StartingPartition:
    """A partition of some rows only, e.g. R's: the first M-step uses those rows, as mclust's."""
    rows = np.asarray(rows)
    if rows.ndim != 1 or rows.dtype.kind not in "iu" or rows.size == 0:
        raise InputError("init=(rows, labels) needs a 1-D array of row positions")
    if rows.min() < 0 or rows.max() >= n or np.unique(rows).size != rows.size:
        raise InputError(f"init rows must be distinct positions in 0..{n - 1}")
    start = _user_start(labels, rows.size, k)
    return StartingPartition(start.resp, f"{start.method} of {rows.size} rows", rows=rows)


def make_starts(
    x: np.ndarray,
    k: int,
    init: Any,
    n_init: int,
    rng: np.random.Generator | None,
    deterministic_start: Callable[[str, int], StartingPartition],
) -> list[StartingPartition]:
    """The starting partitions for one fit.

    ``deterministic_start(method, k)`` supplies the ``"hc"`` and
    ``"quantile"`` partitions, which the caller caches across fits; ``rng``
    draws the random ones (None where ``init`` draws nothing).
    """
    if isinstance(n_init, bool) or not isinstance(n_init, (int, np.integer)) or n_init < 1:
        raise InputError(f"n_init must be a whole number >= 1, got {n_init!r}")
    if k == 1:
        return [StartingPartition(np.ones((x.shape[0], 1)), "one component")]
    if not isinstance(init, str):
        if n_init > 1:
            raise InputError(
                "n_init > 1 needs a random init ('kmeans++' or 'random'), not a fixed partition"
            )
        return [_user_start(init, x.shape[0], k)]
    if init not in INIT_METHODS:
        raise InputError(
            f"unknown init {init!r}; choose one of {', '.join(INIT_METHODS)} or pass labels"
        )
    if init not in _RANDOM_METHODS:
        if n_init > 1:
            raise InputError(
                f"init={init!r} is deterministic, so restarts would repeat it; use n_init > 1 "
                "with init='kmeans++' or 'random'"
            )
        return [deterministic_start(init, k)]
    draw = kmeanspp_labels if init == "kmeans++" else random_labels
    if rng is None:
        raise InputError(f"init={init!r} draws its starts: it needs a seeded generator")
    return [StartingPartition(labels_to_resp(draw(x, k, rng), k), init) for _ in range(n_init)]
