"""emstat: statistical models fitted by the EM algorithm, for analysts who work in pandas.

Every public name is loaded on first use (PEP 562), so ``import emstat``
loads no pandas, scipy, numba, plotting or command-line toolkit until a
name that needs them is asked for.  To add a public name, add it to
``_LAZY`` (name -> module that defines it) and to the ``TYPE_CHECKING``
imports below.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from emstat.mixture.lrt import LRTResult, bootstrap_lrt
    from emstat.mixture.prior import GaussianPrior
    from emstat.report import report
    from emstat.segment import SegmentationResult, segment_image
    from emstat.simulation import simulate

__version__ = "0.1.0"

# Each public name -> the module that defines it.
_LAZY: dict[str, str] = {
    "Binomial": "emstat.families",
    "Categorical": "emstat.families",
    "CategoricalResult": "emstat.categorical",
    "ConvergenceWarning": "emstat.errors",
    "DegenerateFitError": "emstat.errors",
    "EMControl": "emstat.engine",
    "EmstatError": "emstat.errors",
    "FamilyMixtureResult": "emstat.mixture.family_fit",
    "GaussianPrior": "emstat.mixture.prior",
    "HMMResult": "emstat.hmm",
    "HMMSelection": "emstat.hmm",
    "InputError": "emstat.errors",
    "LRTResult": "emstat.mixture.lrt",
    "MixtureResult": "emstat.mixture",
    "Multinomial": "emstat.families",
    "Normal": "emstat.families",
    "OptionalDependencyError": "emstat.errors",
    "Poisson": "emstat.families",
    "RError": "emstat.errors",
    "SelectionResult": "emstat.mixture",
    "StdErrorWarning": "emstat.errors",
    "bootstrap_lrt": "emstat.mixture.lrt",
    "crosscheck": "emstat.crosscheck",  # a subpackage: the module itself
    "fit_categorical": "emstat.categorical",
    "fit_hmm": "emstat.hmm",
    "fit_mixture": "emstat.mixture",
    "list_datasets": "emstat.datasets",
    "load_dataset": "emstat.datasets",
    "load_fit": "emstat.mixture",
    "report": "emstat.report",
    "select_hmm": "emstat.hmm",
    "select_mixture": "emstat.mixture",
    "segment_image": "emstat.segment",
    "SegmentationResult": "emstat.segment",
    "simulate": "emstat.simulation",
}

__all__ = [
    "Binomial",
    "Categorical",
    "CategoricalResult",
    "ConvergenceWarning",
    "DegenerateFitError",
    "EMControl",
    "EmstatError",
    "FamilyMixtureResult",
    "GaussianPrior",
    "HMMResult",
    "HMMSelection",
    "InputError",
    "LRTResult",
    "MixtureResult",
    "Multinomial",
    "Normal",
    "OptionalDependencyError",
    "Poisson",
    "RError",
    "SegmentationResult",
    "SelectionResult",
    "StdErrorWarning",
    "__version__",
    "bootstrap_lrt",
    "crosscheck",
    "fit_categorical",
    "fit_hmm",
    "fit_mixture",
    "list_datasets",
    "load_dataset",
    "load_fit",
    "report",
    "segment_image",
    "select_hmm",
    "select_mixture",
    "simulate",
]

# Public names that are subpackages themselves.
_SUBMODULES = frozenset({"crosscheck"})
# Public names that are also a subpackage's name: emstat.report is the function.
_SHADOWED = (
    frozenset(name for name, module in _LAZY.items() if module == f"emstat.{name}") - _SUBMODULES
)


def __getattr__(name: str) -> Any:
    module_name = _LAZY.get(name)
    if module_name is None:
        if name.startswith("__"):
            raise AttributeError(f"module 'emstat' has no attribute {name!r}")
        # emstat.mixture, emstat.families ...: subpackages without an import, as before.
        try:
            return importlib.import_module(f"emstat.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"emstat.{name}":
                raise
            raise AttributeError(f"module 'emstat' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if name in _SUBMODULES else getattr(module, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """emstat's module type: importing ``emstat.report`` keeps ``emstat.report`` the function.

    The import system binds a subpackage on its parent (``setattr(emstat,
    "report", <module>)``); where a public name is also a subpackage's, the
    public name wins, as it did when the names were imported eagerly.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _SHADOWED and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
