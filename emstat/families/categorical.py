"""Categorical components: the probabilities of a column's levels in each component.

Several categorical columns under local independence are the latent class
model (poLCA, flexmix's ``FLXMCmvbinary`` for two levels).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import DegenerateFitError, InputError
from emstat.families.base import ColumnData, ColumnFamily, Scale, SimplexColumns, column_values

__all__ = ["CategoricalColumn"]

# More levels than this in a column is almost surely a measurement or an id.
MAX_LEVELS = 100


@dataclass(frozen=True)
class CategoricalColumn(SimplexColumns):
    """Level probabilities per component; ``theta`` is (k, L), rows summing to 1."""

    column: str
    levels: tuple[Any, ...] | None = None
    name: str = "categorical"

    def prepare(self, frame: pd.DataFrame) -> ColumnFamily:
        if self.levels is not None:
            return self
        series = column_values(frame, self.column, self.name)
        seen = series.dropna()
        if isinstance(series.dtype, pd.CategoricalDtype):
            # categories never observed are not estimable: no parameters for them
            used = set(seen.unique())
            levels = tuple(c for c in series.cat.categories if c in used)
        else:
            kinds = {type(v).__name__ for v in seen.unique() if not isinstance(v, str)}
            if kinds and any(isinstance(v, str) for v in seen.unique()):
                text = next(v for v in seen if isinstance(v, str))
                raise InputError(
                    f"column {self.column!r} mixes text ({text!r}) with numbers; "
                    "give one kind of level per column"
                )
            levels = tuple(sorted(seen.unique()))
        if len(levels) < 2:
            raise InputError(
                f"column {self.column!r} has {len(levels)} level; "
                "a categorical column needs two or more"
            )
        if len(levels) > MAX_LEVELS:
            raise InputError(
                f"column {self.column!r} has {len(levels)} distinct values, more than "
                f"{MAX_LEVELS}: it looks like a measurement or an id, not a category"
            )
        return replace(self, levels=levels)

    def _levels(self) -> tuple[Any, ...]:
        if self.levels is None:
            raise InputError(f"the levels of column {self.column!r} are not known yet")
        return self.levels

    def encode(self, frame: pd.DataFrame) -> ColumnData:
        levels = self._levels()
        series = column_values(frame, self.column, self.name)
        codes = pd.Categorical(series, categories=list(levels)).codes.astype(float)
        unknown = (codes < 0) & series.notna().to_numpy()
        if unknown.any():
            i = int(np.flatnonzero(unknown)[0])
            raise InputError(
                f"column {self.column!r} holds {series.iloc[i]!r} at row {frame.index[i]!r}, "
                f"not one of its levels {list(levels)}"
            )
        codes[codes < 0] = np.nan
        return ColumnData(codes)

    def log_density(self, theta: np.ndarray, data: ColumnData) -> np.ndarray:
        seen = data.observed
        codes = np.where(seen, data.values, 0).astype(np.intp)
        with np.errstate(divide="ignore"):
            log_p = np.log(theta.T)  # (L, k)
        return np.where(seen[:, None], log_p[codes], 0.0)

    def stats(self, data: ColumnData, resp: np.ndarray) -> np.ndarray:
        seen = data.observed
        counts = np.zeros((resp.shape[1], len(self._levels())))
        codes = data.values[seen].astype(np.intp)
        for level in range(counts.shape[1]):
            counts[:, level] = resp[seen][codes == level].sum(axis=0)
        return counts

    def m_step(self, stats: np.ndarray) -> np.ndarray:
        totals = stats.sum(axis=1)
        if (totals <= 0).any():
            j = int(np.flatnonzero(totals <= 0)[0])
            raise DegenerateFitError(f"component {j + 1} has no observed {self.column!r}")
        return stats / totals[:, None]

    def width(self) -> int:
        return len(self._levels())

    def parameter_names(self) -> list[str]:
        return [f"prob[{self.column}={level}]" for level in self._levels()]

    def scales(self) -> list[Scale]:
        return ["logit"] * len(self._levels())

    def start_features(self, data: ColumnData) -> np.ndarray:
        levels = len(self._levels())
        onehot = np.full((data.values.shape[0], levels), np.nan)
        seen = data.observed
        onehot[seen] = np.eye(levels)[data.values[seen].astype(np.intp)]
        return onehot

    def sample(
        self,
        theta: np.ndarray,
        labels: np.ndarray,
        extra: np.ndarray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        cumulative = np.cumsum(theta[labels], axis=1)
        draws = np.asarray(rng.random(labels.shape[0]))
        codes = np.minimum((draws[:, None] > cumulative).sum(axis=1), theta.shape[1] - 1)
        return np.asarray(self._levels(), dtype=object)[codes]

    def describe(self) -> str:
        return f"Categorical({self.column}: {len(self._levels())} levels)"

    def to_spec(self) -> dict[str, Any]:
        levels = None if self.levels is None else [_plain(v) for v in self.levels]
        return {"family": self.name, "column": self.column, "levels": levels}


def _plain(value: Any) -> Any:
    """A level as JSON can hold it."""
    return value.item() if isinstance(value, np.generic) else value
