"""Poisson components: counts, with an optional exposure per row (rates per unit exposure)."""

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
    observed_resp,
)

__all__ = ["PoissonColumn"]


@dataclass(frozen=True)
class PoissonColumn(OneParameterColumn):
    """``x ~ Poisson(rate * exposure)`` in each component; ``theta`` is (k, 1) rates."""

    column: str
    exposure: str | float | None = None
    name: str = "poisson"

    def prepare(self, frame: pd.DataFrame) -> ColumnFamily:
        return self

    def encode(self, frame: pd.DataFrame) -> ColumnData:
        values = numeric_column(frame, self.column, self.name)
        seen = ~np.isnan(values)
        bad = seen & ((values < 0) | (values != np.round(values)))
        if bad.any():
            row = first_bad_row(frame, bad)
            raise InputError(
                f"column {self.column!r} holds {values[int(np.flatnonzero(bad)[0])]:g} at row "
                f"{row!r}; Poisson counts are whole numbers >= 0"
            )
        exposure = extra_values(
            frame, self.exposure, what="exposure", column=self.column, family=self.name
        )
        if exposure is not None:
            bad = ~(exposure > 0) | ~np.isfinite(exposure)
            if bad.any():
                row = first_bad_row(frame, bad)
                raise InputError(
                    f"the exposure of column {self.column!r} is "
                    f"{exposure[int(np.flatnonzero(bad)[0])]:g} at row {row!r}; "
                    "exposures must be finite and > 0"
                )
        return ColumnData(values, exposure)

    def log_density(self, theta: np.ndarray, data: ColumnData) -> np.ndarray:
        rate = theta[:, 0]
        x = np.nan_to_num(data.values)[:, None]
        mean = rate[None, :] if data.extra is None else data.extra[:, None] * rate[None, :]
        from scipy.special import gammaln  # slow to import: when needed

        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(x > 0, x * np.log(mean), 0.0) - mean - gammaln(x + 1.0)
        return np.where(data.observed[:, None], out, 0.0)

    def stats(self, data: ColumnData, resp: np.ndarray) -> np.ndarray:
        r, x = observed_resp(data, resp)
        exposure = r.sum(axis=0) if data.extra is None else data.extra[data.observed] @ r
        return np.stack([x @ r, exposure], axis=1)

    def fused_e_step(
        self,
        weights: np.ndarray,
        theta: np.ndarray,
        data: ColumnData,
        case_weights: np.ndarray | None,
    ) -> tuple[np.ndarray, np.ndarray, float, float] | None:
        """Σ w z, :meth:`stats`, the log-likelihood and Σ w log z_i,argmax in one
        compiled pass (None without numba); ``log f = x log(rate) - e rate + c``."""
        rate = np.asarray(theta[:, 0], dtype=float)
        with np.errstate(divide="ignore"):
            log_rate = np.log(rate)
        fused = fused_count_e_step(
            data, case_weights, weights, log_rate, -rate, failures=False, row_constant=row_constant
        )
        if fused is None:
            return None
        nk, counts, exposure, loglik, classification = fused
        return nk, np.stack([counts, exposure], axis=1), loglik, classification

    def m_step(self, stats: np.ndarray) -> np.ndarray:
        counts, exposure = stats[:, 0], stats[:, 1]
        if (exposure <= 0).any():
            j = int(np.flatnonzero(exposure <= 0)[0])
            raise DegenerateFitError(f"component {j + 1} has no observed {self.column!r}")
        return (counts / exposure)[:, None]

    def parameter_names(self) -> list[str]:
        return [f"rate[{self.column}]"]

    def scales(self) -> list[Scale]:
        return ["log"]

    def start_features(self, data: ColumnData) -> np.ndarray:
        rate = data.values if data.extra is None else data.values / data.extra
        return np.log1p(rate)[:, None]

    def sample(
        self,
        theta: np.ndarray,
        labels: np.ndarray,
        extra: np.ndarray | None,
        rng: np.random.Generator,
    ) -> np.ndarray:
        mean = theta[labels, 0] if extra is None else theta[labels, 0] * extra
        return rng.poisson(mean).astype(float)

    def describe(self) -> str:
        per = "" if self.exposure is None else f" per unit of {self.exposure}"
        return f"Poisson({self.column}{per})"

    def to_spec(self) -> dict[str, Any]:
        return {"family": self.name, "column": self.column, "exposure": self.exposure}


def row_constant(data: ColumnData) -> tuple[np.ndarray, float]:
    """``x log(exposure) - log x!`` per row (0 where missing), and its sum."""
    seen = data.observed
    x = np.where(seen, data.values, 0.0)
    from scipy.special import gammaln  # slow to import: when needed

    constant = -gammaln(x + 1.0)
    if data.extra is not None:
        constant += x * np.log(data.extra)
    constant = np.where(seen, constant, 0.0)
    return constant, float(constant.sum())
