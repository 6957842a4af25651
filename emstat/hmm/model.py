"""The hidden Markov chain as the engine sees it: Baum-Welch's E-step and M-step.

The E-step runs the compiled scaled forward-backward over every sequence
and hands the posterior state probabilities ``gamma`` to the emission
layer as responsibilities; its statistics (start counts, expected
transitions, emission statistics) add over sequences, so sequences may be
given to the engine in chunks.  The M-step normalises the expected counts
under the user's constraints (structural zeros and fixed values stay as
given) and calls the emission's M-step.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from emstat.engine import Chunk
from emstat.errors import DegenerateFitError, InputError
from emstat.families.base import check_nonempty
from emstat.hmm import kernels
from emstat.hmm.emissions import Emission

__all__ = ["Constraint", "HMMData", "HMMModel", "HMMStats", "HMMTheta"]


@dataclass(frozen=True, eq=False)
class Constraint:
    """Fixed entries of a row-stochastic matrix: ``fixed[i, j]`` is the value, NaN where free.

    A structural zero is a fixed 0.  The free entries of a row share what the
    fixed ones leave, in proportion to their expected counts.
    """

    fixed: np.ndarray  # (rows, k)

    @property
    def free(self) -> np.ndarray:
        return np.isnan(self.fixed)

    @property
    def any_fixed(self) -> bool:
        return bool((~self.free).any())

    def remaining(self) -> np.ndarray:
        """What the fixed entries of each row leave to the free ones."""
        return 1.0 - np.nansum(self.fixed, axis=1)

    def project(self, values: np.ndarray) -> np.ndarray:
        """``values`` (each row's free part rescaled) with the fixed entries put in."""
        out = np.where(self.free, values, 0.0)
        totals = out.sum(axis=1, keepdims=True)
        share = self.remaining()[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            scaled = np.where(totals > 0, out * share / totals, np.where(self.free, 1.0, 0.0))
        even = self.free / np.maximum(self.free.sum(axis=1, keepdims=True), 1)
        scaled = np.where((totals > 0) | ~self.free, scaled, even * share)
        return np.where(self.free, scaled, self.fixed)

    def update(self, counts: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
        """The constrained maximum of ``Σ_ij counts_ij log p_ij``; a row without counts
        keeps its previous values."""
        free_counts = np.where(self.free, counts, 0.0)
        totals = free_counts.sum(axis=1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            new = free_counts * self.remaining()[:, None] / totals
        if previous is not None:
            new = np.where(totals > 0, new, previous)
        else:
            new = np.where(totals > 0, new, 0.0)
        return np.where(self.free, new, self.fixed)

    def n_free(self) -> int:
        """Free parameters: per row, its free entries less one (they sum to what is left)."""
        per_row = self.free.sum(axis=1)
        return int(np.maximum(per_row - 1, 0).sum())


def check_constraint(spec: Any, rows: int, k: int, what: str) -> Constraint:
    """A mask (True: free) or values (NaN: free) of a ``rows x k`` stochastic matrix, checked."""
    if spec is None:
        return Constraint(np.full((rows, k), np.nan))
    array = np.asarray(spec)
    shape = (k,) if rows == 1 and what == "start" else (rows, k)
    if array.shape not in (shape, (rows, k)):
        raise InputError(f"the {what} constraint must have shape {shape}, got {array.shape}")
    array = array.reshape(rows, k)
    if array.dtype == bool:
        fixed = np.where(array, np.nan, 0.0)
    else:
        try:
            fixed = np.array(array, dtype=float)
        except (TypeError, ValueError):
            raise InputError(
                f"the {what} constraint must be booleans (True: free) or numbers (NaN: free)"
            ) from None
        seen = ~np.isnan(fixed)
        if (seen & ((fixed < 0) | (fixed > 1) | ~np.isfinite(fixed))).any():
            raise InputError(f"fixed {what} values must be probabilities in [0, 1]")
    for i in range(rows):
        row = fixed[i]
        label = f"row {i + 1} of the {what}" if what == "transitions" else f"the {what}"
        free = np.isnan(row)
        total = float(np.nansum(row))
        if not free.any() and total == 0:
            raise InputError(f"{label} allows no state (every entry is a structural zero)")
        if not free.any():
            if abs(total - 1.0) > 1e-9:
                raise InputError(
                    f"{label} is fixed and sums to {total:.6g}; a distribution sums to 1"
                )
        elif total > 1.0 + 1e-9:
            raise InputError(f"the fixed values of {label} sum to {total:.6g}, more than 1")
        elif total >= 1.0 - 1e-12 and free.any():
            raise InputError(
                f"the fixed values of {label} sum to 1 and leave nothing for its free entries"
            )
    return Constraint(fixed)


def check_distribution(values: Any, shape: tuple[int, ...], what: str) -> np.ndarray:
    """Start values of a distribution (or a stochastic matrix): finite, >= 0, rows sum to 1."""
    try:
        array = np.array(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"the {what} must be numbers, got {values!r}") from None
    if array.shape != shape:
        raise InputError(f"the {what} must have shape {shape}, got {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any():
        raise InputError(f"the {what} must be finite probabilities >= 0, got {array.tolist()}")
    sums = array.sum(axis=-1)
    if np.any(np.abs(sums - 1.0) > 1e-8):
        bad = np.atleast_1d(sums)
        raise InputError(
            f"the {what} is not a distribution: it sums to "
            f"{', '.join(f'{s:.6g}' for s in bad)}, not 1"
        )
    return array / array.sum(axis=-1, keepdims=True)


@dataclass(frozen=True, eq=False)
class HMMData:
    """Encoded emissions of sequences laid end to end.

    ``offsets`` (n_seq + 1) marks where each sequence begins; ``sequences``
    are the positions of these sequences among all of a fit's (a chunk
    holds some of them).
    """

    emissions: Any
    offsets: np.ndarray
    sequences: np.ndarray
    n_sequences: int
    # scratch arrays of the kernels, reused by every E-step on these data
    workspace: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n(self) -> int:
        return int(self.offsets[-1])

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)


@dataclass(frozen=True, eq=False)
class HMMTheta:
    """Start distribution (k,) or one per sequence (n_seq, k), transitions (k, k), emissions."""

    start: np.ndarray
    trans: np.ndarray
    emission: Any


@dataclass(frozen=True, eq=False)
class HMMStats:
    """Expected counts: state occupancy, starts (k,) or (n_seq, k), transitions, emissions."""

    nk: np.ndarray
    start: np.ndarray
    trans: np.ndarray
    emission: Any


@dataclass(frozen=True, eq=False)
class HMMModel:
    """k hidden states emitting through ``emission``; ``per_sequence`` starts or a shared one."""

    emission: Emission
    k: int
    start_constraint: Constraint
    trans_constraint: Constraint
    per_sequence: bool = False
    # Use the emission's one-pass compiled E-step where it has one (tests turn it off
    # to compare it with the general path).
    fused: bool = True
    # Emission parameters held at given values: (k, m) as the emission's rows, NaN where free.
    emission_fixed: np.ndarray | None = None

    def starts_of(self, theta: HMMTheta, data: HMMData) -> np.ndarray:
        """The start distribution of each sequence of ``data``, (n_seq, k)."""
        if self.per_sequence:
            return theta.start[data.sequences]
        return np.broadcast_to(theta.start, (data.sequences.shape[0], self.k))

    def posterior(self, theta: HMMTheta, data: HMMData) -> tuple[np.ndarray, np.ndarray, float]:
        """gamma (T, k), expected transitions (k, k) and the log-likelihood."""
        log_b = self.emission.log_density(theta.emission, data.emissions)
        gamma, xi, _, loglik, bad = kernels.forward_backward(
            log_b, data.offsets, self.starts_of(theta, data), theta.trans, data.workspace
        )
        if bad >= 0:
            raise DegenerateFitError(f"row {bad} has zero probability under every state path")
        return gamma, xi, loglik

    def e_step(self, theta: HMMTheta, data: HMMData | Chunk) -> tuple[HMMStats, float]:
        rows: HMMData = data.values if isinstance(data, Chunk) else data
        fused = self._fused_e_step(theta, rows)
        if fused is not None:
            return fused
        gamma, xi, loglik = self.posterior(theta, rows)
        start = self._start_stats(gamma[rows.offsets[:-1]], rows)
        seen = self.emission.observed(rows.emissions)
        nk = gamma[seen].sum(axis=0) if not seen.all() else gamma.sum(axis=0)
        stats = HMMStats(nk, start, xi, self.emission.stats(theta.emission, rows.emissions, gamma))
        return stats, loglik

    def _start_stats(self, first: np.ndarray, rows: HMMData) -> np.ndarray:
        if not self.per_sequence:
            return first.sum(axis=0)
        start = np.zeros((rows.n_sequences, self.k))
        start[rows.sequences] = first
        return start

    def _fused_e_step(self, theta: HMMTheta, rows: HMMData) -> tuple[HMMStats, float] | None:
        fused = getattr(self.emission, "fused_e_step", None) if self.fused else None
        if fused is None:
            return None
        result = fused(
            theta.emission,
            rows.emissions,
            rows.offsets,
            self.starts_of(theta, rows),
            theta.trans,
            rows.workspace,
        )
        if result is None:
            return None
        stats, xi, first, loglik, bad = result
        if bad >= 0:
            raise DegenerateFitError(f"row {bad} has zero probability under every state path")
        return HMMStats(stats.nk, self._start_stats(first, rows), xi, stats), loglik

    def m_step(self, stats: HMMStats, previous: HMMTheta | None) -> HMMTheta:
        check_nonempty(stats.nk)
        old_trans = None if previous is None else previous.trans
        old_start = None if previous is None else previous.start
        trans = self.trans_constraint.update(stats.trans, old_trans)
        if self.per_sequence:
            start = np.vstack(
                [self.start_constraint.update(row[None, :], None)[0] for row in stats.start]
            )
        else:
            start = self.start_constraint.update(
                stats.start[None, :], None if old_start is None else old_start[None, :]
            )[0]
        emission = self.emission.m_step(
            stats.emission, None if previous is None else previous.emission, self.emission_fixed
        )
        return HMMTheta(start, trans, emission)

    def parameter_vector(self, theta: HMMTheta) -> np.ndarray:
        return np.concatenate(
            [theta.start.reshape(-1), theta.trans.reshape(-1), self.emission.vector(theta.emission)]
        )

    def n_params(self, n_sequences: int) -> int:
        """Free parameters: starts, transitions (less fixed ones) and the emissions'."""
        starts = self.start_constraint.n_free() * (n_sequences if self.per_sequence else 1)
        emission = self.emission.n_free(self.k)
        if self.emission_fixed is not None:
            emission -= self.emission.check_fixed(self.emission_fixed)
        return starts + self.trans_constraint.n_free() + emission

    def loglik(self, theta: HMMTheta, data: HMMData) -> float:
        """The log-likelihood by the forward pass alone (-inf where it is zero)."""
        log_b = self.emission.log_density(theta.emission, data.emissions)
        loglik, bad = kernels.forward_loglik(
            log_b, data.offsets, self.starts_of(theta, data), theta.trans
        )
        return -math.inf if bad >= 0 else loglik

    def path_entropy(self, theta: HMMTheta, data: HMMData) -> float:
        """The entropy of the posterior distribution of the state path, summed over sequences.

        ``H = log p(x) - E[log p(s, x)]``, with the expectation from one E-step.
        """
        log_b = self.emission.log_density(theta.emission, data.emissions)
        gamma, xi, first, loglik, bad = kernels.forward_backward(
            log_b, data.offsets, self.starts_of(theta, data), theta.trans
        )
        if bad >= 0:
            return math.nan
        starts = self.starts_of(theta, data)
        emitted = float(np.where(gamma > 0, gamma * log_b, 0.0).sum())
        expected = _xlogy(first, starts) + _xlogy(xi, theta.trans) + emitted
        return float(max(loglik - expected, 0.0))


def _xlogy(weights: np.ndarray, values: np.ndarray) -> float:
    """Σ w log v, with 0 log 0 = 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(weights > 0, weights * np.log(values), 0.0)
    return float(terms.sum())
