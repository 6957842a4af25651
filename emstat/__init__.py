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
from emstat.hmm import HMMResult, HMMSelection, fit_hmm, select_hmm
from emstat.mixture import MixtureResult, SelectionResult, fit_mixture, load_fit, select_mixture
from emstat.mixture.family_fit import FamilyMixtureResult
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
    "HMMResult",
    "HMMSelection",
    "InputError",
    "MixtureResult",
    "Multinomial",
    "Normal",
    "OptionalDependencyError",
    "Poisson",
    "RError",
    "SelectionResult",
    "StdErrorWarning",
    "__version__",
    "crosscheck",
    "fit_categorical",
    "fit_hmm",
    "fit_mixture",
    "list_datasets",
    "load_dataset",
    "load_fit",
    "report",
    "select_hmm",
    "select_mixture",
    "simulate",
]
