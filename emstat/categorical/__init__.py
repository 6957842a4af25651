"""Incomplete categorical data: EM/ECM for log-linear models, as R's ``cat``."""

from __future__ import annotations

from emstat.categorical.frontend import (
    CAT_CONTROL,
    CategoricalResult,
    LRTResult,
    fit_categorical,
    prepare_data,
)
from emstat.categorical.model import LogLinearModel

__all__ = [
    "CAT_CONTROL",
    "CategoricalResult",
    "LRTResult",
    "LogLinearModel",
    "fit_categorical",
    "prepare_data",
]
