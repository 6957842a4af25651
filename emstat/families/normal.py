"""Univariate normal components, one column each: a mean and a variance per component.

For several measured columns with a covariance between them, use the
Gaussian family (``family="gaussian"``, every mclust covariance model); this
one serves mixed columns under local independence (latent profiles).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import DegenerateFitError, InputError
from emstat.families.base import ColumnData, ColumnFamily, Scale, numeric_column, observed_resp

__all__ = ["NormalColumn"]

# A variance this small relative to the column's is a collapsed component.
_RELATIVE_VARIANCE_FLOOR = 1e-10


@dataclass(frozen=True)
class NormalColumn:
    """``x ~ N(mean, var)`` in each component; ``theta`` is (k, 2): mean, variance.

    Statistics are taken about the column's mean (``center``), so data far
    from zero keep their digits.
    """

    column: str
    center: float = 0.0
    scale: float = 1.0
    name: str = "normal"

    def prepare(self, frame: pd.DataFrame) -> ColumnFamily:
        values = numeric_column(frame, self.column, self.name)
        seen = values[~np.isnan(values)]
        if seen.size < 2 or float(np.ptp(seen)) == 0.0:
            raise InputError(
                f"column {self.column!r} has fewer than two distinct values; "
                "a normal column needs variation"
            )
        center = float(seen.mean())
        return replace(self, center=center, scale=float(np.std(seen - center)))

    def encode(self, frame: pd.DataFrame) -> ColumnData:
        return ColumnData(numeric_column(frame, self.column, self.name))

    def log_density(self, theta: np.ndarray, data: ColumnData) -> np.ndarray:
        mean = theta[:, 0] - self.center
        var = theta[:, 1]
        x = np.nan_to_num(data.values - self.center)[:, None]
        out = -0.5 * (
            np.log(2.0 * math.pi * var)[None, :] + (x - mean[None, :]) ** 2 / var[None, :]
        )
        return np.where(data.observed[:, None], out, 0.0)

    def stats(self, data: ColumnData, resp: np.ndarray) -> np.ndarray:
        r, x = observed_resp(data, resp)
        y = x - self.center
        return np.stack([r.sum(axis=0), y @ r, (y * y) @ r], axis=1)

    def m_step(self, stats: np.ndarray) -> np.ndarray:
        n, s1, s2 = stats[:, 0], stats[:, 1], stats[:, 2]
        if (n <= 0).any():
            j = int(np.flatnonzero(n <= 0)[0])
            raise DegenerateFitError(f"component {j + 1} has no observed {self.column!r}")
        mean = s1 / n
        var = np.maximum(s2 / n - mean * mean, 0.0)
        floor = _RELATIVE_VARIANCE_FLOOR * self.scale**2
        if (var <= floor).any():
            j = int(np.flatnonzero(var <= floor)[0])
            raise DegenerateFitError(
                f"the variance of {self.column!r} in component {j + 1} collapsed to {var[j]:.3g}"
            )
        return np.stack([mean + self.center, var], axis=1)

    def n_free(self, k: int) -> int:
        return 2 * k

    def to_free(self, theta: np.ndarray) -> np.ndarray:
        return np.asarray(theta, dtype=float).reshape(-1)

    def from_free(self, free: np.ndarray, k: int) -> np.ndarray:
        return np.asarray(free, dtype=float).reshape(k, 2)

    def parameter_names(self) -> list[str]:
        return [f"mean[{self.column}]", f"var[{self.column}]"]

    def scales(self) -> list[Scale]:
        return ["identity", "log"]

    def start_features(self, data: ColumnData) -> np.ndarray:
        return data.values[:, None]

    def sample(
        self,
        theta: np.ndarray,
        labels: np.ndarray,
        extra: np.ndarray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        return rng.normal(theta[labels, 0], np.sqrt(theta[labels, 1]))

    def describe(self) -> str:
        return f"Normal({self.column})"

    def to_spec(self) -> dict[str, Any]:
        return {
            "family": self.name,
            "column": self.column,
            "center": self.center,
            "scale": self.scale,
        }
