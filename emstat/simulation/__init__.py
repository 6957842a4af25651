"""Simulation studies: how estimators behave, replicated reproducibly, resumably, in parallel.

See :func:`simulate` (``emstat.simulate``) and the ``emstat simulate`` command.
"""

from __future__ import annotations

from emstat.simulation.align import ALIGNMENT, match_components
from emstat.simulation.design import (
    Design,
    FitSettings,
    Grid,
    Scenario,
    TrueMixture,
    load_design,
    make_design,
    mixture_from_formula,
    mixture_from_mapping,
)
from emstat.simulation.errors import StudyFailedError, StudyWarning
from emstat.simulation.family_truth import FamilyTruth
from emstat.simulation.formula import parse_formula
from emstat.simulation.hmm_truth import HMMTruth, hmm_truth_from_mapping
from emstat.simulation.runner import run_study, simulate

__all__ = [
    "ALIGNMENT",
    "Design",
    "FamilyTruth",
    "FitSettings",
    "Grid",
    "HMMTruth",
    "Scenario",
    "StudyFailedError",
    "StudyWarning",
    "TrueMixture",
    "hmm_truth_from_mapping",
    "load_design",
    "make_design",
    "match_components",
    "mixture_from_formula",
    "mixture_from_mapping",
    "parse_formula",
    "run_study",
    "simulate",
]
