"""Cross-checks against R: emstat and R's mclust / cat on the same data, side by side.

Install
-------
The cross-checks need R and the ``[r]`` extra::

    apt-get install r-base-core r-base-dev r-cran-mclust   # Debian/Ubuntu, R >= 4.2
    pip install 'emstat[r]'                                # rpy2 3.5.17 (for R 4.2)

rpy2 3.6.x does not load with Debian's R 4.2 (``undefined symbol: R_getVar``).
R's ``cat`` package is not packaged by Debian; ``install.packages('cat')`` in
R installs it from CRAN.  Without it :func:`cat` raises
:class:`emstat._r.RPackageMissingError` (``emstat crosscheck cat`` exits with
code 3).

What is compared
----------------
:func:`mclust` runs :func:`emstat.select_mixture` with
``mclust_compatible=True`` (mclust 6.0's own VEE, EVE and VVE M-steps; VVE's
is not the exact maximiser emstat uses by default) and ``mclust::Mclust`` with the same G and
models, and prints one row per (model, k): log-likelihoods, BICs (mclust's
sign, larger is better), parameter counts, iterations, the largest
differences in weights, means and covariances after matching components
(Hungarian assignment on the means) and a verdict.

The n > 2000 caveat
-------------------
For more than 2000 rows mclust agglomerates a random subset of 2000 rows
drawn by R's generator (``sample``), which Python cannot reproduce; emstat
draws its own seeded subset.  The cross-check therefore passes emstat's
subset and its hc merges to R (``Mclust(..., initialization =
list(hcPairs = ..., subset = ...))``), so both programs start identically.
A plain ``Mclust(X)`` on such data starts elsewhere and may choose another
fit.

:func:`mclust_ssc` runs :func:`emstat.select_mixture` with known labels
(``mclust_compatible=True``) and ``mclust::MclustSSC`` on the same rows and
labels, and compares each model's log-likelihood, BIC, parameters and
classification (class c is component c in both; no matching needed).

:func:`cat` runs ``cat::em.cat`` (saturated) or ``cat::ecm.cat`` (with
``margins``) on the same data as :func:`emstat.fit_categorical` and compares
the cell probabilities, the log-likelihood and the iterations.

:func:`flexmix` fits Poisson, binomial and binary latent-class mixtures with
:func:`emstat.fit_mixture` and R's ``flexmix`` (Debian ``r-cran-flexmix``)
from the same soft start to a tight tolerance, and compares the
log-likelihoods, BICs, parameter counts and mixing weights for every k.

:func:`hmmlearn` fits a Gaussian hidden Markov model with :func:`emstat.fit_hmm`
and with hmmlearn's ``GaussianHMM`` (``pip install 'emstat[hmm]'``; its prior
``covars_prior`` off) from the same start to the same stopping rule, and
compares the log-likelihoods, start, transitions, means, variances and the
Viterbi paths.
"""

from __future__ import annotations

from emstat.crosscheck._cat import CatCheck, cat, cat_inputs, compare_cat, margins_vector
from emstat.crosscheck._flexmix import FlexmixCheck, flexmix
from emstat.crosscheck._hmmlearn import HmmlearnCheck, hmmlearn
from emstat.crosscheck._mclust import (
    MCLUST_SETTINGS,
    MclustCheck,
    compare_mclust,
    mclust,
)
from emstat.crosscheck._mclustssc import MclustSSCCheck, mclust_ssc

__all__ = [
    "MCLUST_SETTINGS",
    "CatCheck",
    "FlexmixCheck",
    "HmmlearnCheck",
    "MclustCheck",
    "MclustSSCCheck",
    "cat",
    "cat_inputs",
    "compare_cat",
    "compare_mclust",
    "flexmix",
    "hmmlearn",
    "margins_vector",
    "mclust",
    "mclust_ssc",
]
