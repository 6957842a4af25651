"""Binomial components: successes out of a number of trials per row (a constant or a column)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import DegenerateFitError, InputError
from emstat.families.base import (
    ColumnData,
    ColumnFamily,
    OneParameterColumn,
    Scale,
    extra_values,
    first_bad_row,
    fused_count_e_step,
    numeric_column,
)

__all__ = ["BinomialColumn"]


@dataclass(frozen=True)
class BinomialColumn(OneParameterColumn):
    """``x ~ Binomial(trials, p)`` in each component; ``theta`` is (k, 1) probabilities.

    The log density includes the binomial coefficient, as R's ``dbinom`` and
    flexmix's ``logLik`` do.
    """

    column: str
    trials: str | int | None = None
    name: str = "binomial"

    def prepare(self, frame: pd.DataFrame) -> ColumnFamily:
        return self

    def encode(self, frame: pd.DataFrame) -> ColumnData:
        values = numeric_column(frame, self.column, self.name)
        trials = extra_values(
            frame, self.trials, what="trials", column=self.column, family=self.name
        )
        if trials is None:
            raise InputError(
                f"the binomial column {self.column!r} needs its number of trials: "
                "trials=<a column name or a whole number>"
            )
        bad_trials = ~np.isfinite(trials) | (trials < 1) | (trials != np.round(trials))
        if bad_trials.any():
            i = int(np.flatnonzero(bad_trials)[0])
            raise InputError(
                f"the number of trials of column {self.column!r} is {trials[i]:g} at row "
                f"{frame.index[i]!r}; trials are whole numbers >= 1"
            )
        seen = ~np.isnan(values)
        bad = seen & ((values < 0) | (values != np.round(values)))
        if bad.any():
            row = first_bad_row(frame, bad)
            raise InputError(
                f"column {self.column!r} holds {values[int(np.flatnonzero(bad)[0])]:g} at row "
                f"{row!r}; binomial successes are whole numbers >= 0"
            )
        above = seen & (values > trials)
        if above.any():
            i = int(np.flatnonzero(above)[0])
            raise InputError(
                f"column {self.column!r} holds {values[i]:g} successes at row {frame.index[i]!r}, "
                f"more than its {trials[i]:g} trials"
            )
        return ColumnData(values, trials)

    def log_density(self, theta: np.ndarray, data: ColumnData) -> np.ndarray:
        p = theta[:, 0][None, :]
        x = np.nan_to_num(data.values)[:, None]
        n = data.extra[:, None] if data.extra is not None else np.ones_like(x)
        from scipy.special import gammaln, xlog1py, xlogy  # slow to import: when needed

        coefficient = gammaln(n + 1.0) - gammaln(x + 1.0) - gammaln(n - x + 1.0)
        out = coefficient + xlogy(x, p) + xlog1py(n - x, -p)
        return np.where(data.observed[:, None], out, 0.0)

    def stats(self, data: ColumnData, resp: np.ndarray) -> np.ndarray:
        seen = data.observed
        r = resp[seen]
        trials = data.extra[seen] if data.extra is not None else np.ones(int(seen.sum()))
        return np.stack([data.values[seen] @ r, trials @ r], axis=1)

    def fused_e_step(
        self,
        weights: np.ndarray,
        theta: np.ndarray,
        data: ColumnData,
        case_weights: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, float, float] | None:
        """Σ w z, :meth:`stats`, the log-likelihood and Σ w log z_i,argmax in one
        compiled pass (None without numba); ``log f = x log p + (n - x) log(1 - p) + c``."""
        p = np.asarray(theta[:, 0], dtype=float)
        with np.errstate(divide="ignore"):
            log_p, log_q = np.log(p), np.log1p(-p)
        fused = fused_count_e_step(
            data, case_weights, weights, log_p, log_q, failures=True, row_constant=row_constant
        )
        if fused is None:
            return None
        nk, successes, failures, loglik, classification = fused
        return nk, np.stack([successes, successes + failures], axis=1), loglik, classification

    def m_step(self, stats: np.ndarray) -> np.ndarray:
        successes, trials = stats[:, 0], stats[:, 1]
        if (trials <= 0).any():
            j = int(np.flatnonzero(trials <= 0)[0])
            raise DegenerateFitError(f"component {j + 1} has no observed {self.column!r}")
        return np.clip(successes / trials, 0.0, 1.0)[:, None]

    def parameter_names(self) -> list[str]:
        return [f"prob[{self.column}]"]

    def scales(self) -> list[Scale]:
        return ["logit"]

    def start_features(self, data: ColumnData) -> np.ndarray:
        trials = data.extra if data.extra is not None else 1.0
        return (data.values / trials)[:, None]

    def sample(
        self,
        theta: np.ndarray,
        labels: np.ndarray,
        extra: np.ndarray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        trials = np.ones(labels.shape[0], dtype=int) if extra is None else extra.astype(int)
        return rng.binomial(trials, theta[labels, 0]).astype(float)

    def describe(self) -> str:
        return f"Binomial({self.column} of {self.trials} trials)"

    def to_spec(self) -> dict[str, Any]:
        return {"family": self.name, "column": self.column, "trials": self.trials}


def row_constant(data: ColumnData) -> tuple[np.ndarray, float]:
    """The binomial coefficient ``log C(n, x)`` per row (0 where missing), and its sum."""
    seen = data.observed
    x = np.where(seen, data.values, 0.0)
    n = data.extra if data.extra is not None else np.ones_like(x)
    from scipy.special import gammaln  # slow to import: when needed

    constant = gammaln(n + 1.0) - gammaln(x + 1.0) - gammaln(n - x + 1.0)
    constant = np.where(seen, constant, 0.0)
    return constant, float(constant.sum())
