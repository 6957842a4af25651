"""Hidden Markov models fitted by Baum-Welch, with the emission families of the mixtures.

``fit_hmm(df, k, ...)`` fits one model; ``select_hmm`` fits a grid of
numbers of states (and Gaussian covariance models) and ranks them by
BIC, AIC or ICL in one table; ``hmm_from_params`` builds a model from given
parameters (a simulation's truth); ``load_hmm`` reads a saved fit.
"""

from __future__ import annotations

from emstat.hmm.fit import HMM_CONTROL, fit_hmm, hmm_from_params
from emstat.hmm.result import HMMResult, load_hmm
from emstat.hmm.selection import HMMSelection, select_hmm

__all__ = [
    "HMM_CONTROL",
    "HMMResult",
    "HMMSelection",
    "fit_hmm",
    "hmm_from_params",
    "load_hmm",
    "select_hmm",
]
