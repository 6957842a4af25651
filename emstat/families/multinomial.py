"""Multinomial components over several count columns: each row is a vector of counts.

Row i holds counts ``y_i1 .. y_iL`` of L categories out of ``n_i = Σ_l y_il``
draws, all from its row's component: ``y_i ~ Multinomial(n_i, p_j)``.  This is
the mixture mixtools' ``multmixEM`` fits (word counts, allele counts, votes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import DegenerateFitError, InputError
from emstat.families.base import ColumnData, ColumnFamily, Scale, SimplexColumns, numeric_column

__all__ = ["MultinomialColumns"]

# log 0 where a count is observed: the row has zero density in that component.
_LOG_ZERO = -np.inf


@dataclass(frozen=True)
class MultinomialColumns(SimplexColumns):
    """Category probabilities per component over ``columns``; ``theta`` is (k, L)."""

    columns: tuple[str, ...]
    name: str = "multinomial"

    @property
    def column(self) -> str:
        """The part's label: its columns joined by '+'."""
        return "+".join(self.columns)

    def prepare(self, frame: pd.DataFrame) -> ColumnFamily:
        if len(self.columns) < 2:
            raise InputError("the multinomial family needs two or more count columns")
        return self

    def encode(self, frame: pd.DataFrame) -> ColumnData:
        counts = np.column_stack([numeric_column(frame, c, self.name) for c in self.columns])
        missing = np.isnan(counts)
        partly = missing.any(axis=1) & ~missing.all(axis=1)
        if partly.any():
            i = int(np.flatnonzero(partly)[0])
            raise InputError(
                f"row {frame.index[i]!r} has some of the multinomial counts "
                f"{list(self.columns)} missing; give all of a row's counts or none"
            )
        seen = ~missing
        bad = seen & ((counts < 0) | (counts != np.round(counts)))
        if bad.any():
            i, j = (int(v[0]) for v in np.nonzero(bad))
            raise InputError(
                f"column {self.columns[j]!r} holds {counts[i, j]:g} at row {frame.index[i]!r}; "
                "multinomial counts are whole numbers >= 0"
            )
        return ColumnData(counts, np.nansum(counts, axis=1))

    def log_density(self, theta: np.ndarray, data: ColumnData) -> np.ndarray:
        seen = data.observed
        counts = np.where(seen[:, None], data.values, 0.0)
        with np.errstate(divide="ignore"):
            log_p = np.log(theta)  # (k, L)
        # 0 * log 0 is 0: a category never seen in a row costs it nothing.
        safe = np.where(np.isfinite(log_p), log_p, 0.0)
        out = counts @ safe.T
        impossible = (counts > 0) @ (~np.isfinite(log_p)).T.astype(float) > 0
        out = np.where(impossible, _LOG_ZERO, out)
        from scipy.special import gammaln  # slow to import: when needed

        totals = counts.sum(axis=1)
        coefficient = gammaln(totals + 1.0) - gammaln(counts + 1.0).sum(axis=1)
        return np.where(seen[:, None], out + coefficient[:, None], 0.0)

    def stats(self, data: ColumnData, resp: np.ndarray) -> np.ndarray:
        seen = data.observed
        return resp[seen].T @ data.values[seen]

    def m_step(self, stats: np.ndarray) -> np.ndarray:
        totals = stats.sum(axis=1)
        if (totals <= 0).any():
            j = int(np.flatnonzero(totals <= 0)[0])
            raise DegenerateFitError(f"component {j + 1} has no counts in {list(self.columns)}")
        return stats / totals[:, None]

    def width(self) -> int:
        return len(self.columns)

    def parameter_names(self) -> list[str]:
        return [f"prob[{c}]" for c in self.columns]

    def scales(self) -> list[Scale]:
        return ["logit"] * len(self.columns)

    def start_features(self, data: ColumnData) -> np.ndarray:
        totals = data.extra if data.extra is not None else np.nansum(data.values, axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(totals[:, None] > 0, data.values / totals[:, None], np.nan)

    def sample(
        self,
        theta: np.ndarray,
        labels: np.ndarray,
        extra: np.ndarray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        if extra is None:
            raise InputError("sampling multinomial rows needs their totals")
        return rng.multinomial(extra.astype(np.int64), theta[labels]).astype(float)

    def describe(self) -> str:
        return f"Multinomial({', '.join(self.columns)})"

    def to_spec(self) -> dict[str, Any]:
        return {"family": self.name, "column": self.column, "columns": list(self.columns)}
