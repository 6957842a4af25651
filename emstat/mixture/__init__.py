"""Gaussian mixtures fitted by EM, with mclust's covariance models."""

from __future__ import annotations

from emstat.mixture.fit import fit_mixture
from emstat.mixture.result import MixtureResult, load_fit
from emstat.mixture.selection import SelectionResult, select_mixture

__all__ = ["MixtureResult", "SelectionResult", "fit_mixture", "load_fit", "select_mixture"]
