"""Delete cells of a replicate's drawn data, as a design's ``[missing]`` table says.

See :class:`~emstat.simulation.design.MissingSettings` for the mechanisms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from emstat.simulation.design import MissingSettings

__all__ = ["delete_cells", "deletion_mask"]


def deletion_mask(
    data: pd.DataFrame, settings: MissingSettings, rng: np.random.Generator
) -> np.ndarray:
    """Which cells (n, d) to delete: True where a cell goes missing."""
    n, d = data.shape
    if not settings.active:
        return np.zeros((n, d), dtype=bool)
    if settings.mechanism == "mcar":
        return rng.random((n, d)) < settings.rate
    # mar: the first column stays; the others go more often where it is high
    ranks = data.iloc[:, 0].rank(method="first").to_numpy(dtype=float)
    chance = 2.0 * settings.rate * (ranks - 0.5) / n
    mask = np.zeros((n, d), dtype=bool)
    mask[:, 1:] = rng.random((n, d - 1)) < chance[:, None]
    return mask


def delete_cells(
    data: pd.DataFrame, settings: MissingSettings, rng: np.random.Generator
) -> tuple[pd.DataFrame, float]:
    """``data`` with the cells of :func:`deletion_mask` set to NaN, and the share deleted."""
    mask = deletion_mask(data, settings, rng)
    if not mask.any():
        return data, 0.0
    return data.mask(mask), float(mask.mean())
