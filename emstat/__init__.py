"""emstat: statistical models fitted by the EM algorithm, for analysts who work in pandas."""

from __future__ import annotations

from emstat import crosscheck
from emstat.categorical import CategoricalResult, fit_categorical
from emstat.datasets import list_datasets, load_dataset
from emstat.engine import EMControl
from emstat.errors import (
    ConvergenceWarning,
    DegenerateFitError,
    EmstatError,
    InputError,
    OptionalDependencyError,
    RError,
    StdErrorWarning,
)
from emstat.families import Binomial, Categorical, Multinomial, Normal, Poisson
from emstat.mixture import MixtureResult, SelectionResult, fit_mixture, load_fit, select_mixture
from emstat.mixture.family_fit import FamilyMixtureResult
from emstat.mixture.lrt import LRTResult, bootstrap_lrt
from emstat.report import report
from emstat.simulation import simulate

__version__ = "0.1.0"

__all__ = [
    "Binomial",
    "Categorical",
    "CategoricalResult",
    "ConvergenceWarning",
    "DegenerateFitError",
    "EMControl",
    "EmstatError",
    "FamilyMixtureResult",
    "InputError",
    "LRTResult",
    "MixtureResult",
    "Multinomial",
    "Normal",
    "OptionalDependencyError",
    "Poisson",
    "RError",
    "SelectionResult",
    "StdErrorWarning",
    "__version__",
    "bootstrap_lrt",
    "crosscheck",
    "fit_categorical",
    "fit_mixture",
    "list_datasets",
    "load_dataset",
    "load_fit",
    "report",
    "select_mixture",
    "simulate",
]
