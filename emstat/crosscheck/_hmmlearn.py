"""Cross-check :func:`emstat.fit_hmm` against hmmlearn's ``GaussianHMM``.

Both programs fit the same Gaussian HMM from the same start to the same
stopping rule, hmmlearn with its priors switched off (``covars_prior=0``:
its default 1e-2 is a prior, not the maximum-likelihood estimate, and makes
the recorded log-likelihood fall near the end), ``min_covar`` tiny and
``params="stmc"``.  hmmlearn stops when the log-likelihood rises by less than
``tol``; emstat's ``abs`` rule at the same ``tol`` is the same test.  The
states keep the start's order in both; they are matched all the same
(Hungarian assignment on the means) before the estimates, the log-likelihood
and the Viterbi paths are compared.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emstat._optional import require
from emstat.crosscheck._mclust import relative_difference
from emstat.engine import EMControl
from emstat.errors import InputError
from emstat.mixture.align import match_components

__all__ = ["HMMLEARN_SETTINGS", "HmmlearnCheck", "hmmlearn", "shared_start"]

HMMLEARN_SETTINGS = (
    "hmmlearn GaussianHMM(covars_prior=0, min_covar=1e-12, params='stmc', init_params=''); "
    "both from the same start (quantile classes of the first column, transitions 0.8 on the "
    "diagonal, a uniform start), both stopping when the log-likelihood rises by less than the "
    "fit tolerance"
)

#: emstat's covariance model of each of hmmlearn's covariance types (in d dimensions).
_MODELS = {"full": ("V", "VVV"), "diag": ("V", "VVI")}
_STAY = 0.8


@dataclass(frozen=True)
class Start:
    """Start values both programs iterate from."""

    start: np.ndarray  # (k,)
    transitions: np.ndarray  # (k, k)
    means: np.ndarray  # (k, d)
    covariances: np.ndarray  # (k, d, d)


def shared_start(x: np.ndarray, k: int, diagonal: bool = False) -> Start:
    """Quantile classes of the first column: their means and covariances; a sticky chain.

    Rows are sorted by the first column (NaN last) and cut into ``k`` classes
    of equal size; each class gives a state's mean and covariance (its
    diagonal only when ``diagonal``).
    """
    n, d = x.shape
    if n < 2 * k:
        raise InputError(f"k = {k} states need at least {2 * k} rows for the start; got {n}")
    order = np.argsort(x[:, 0], kind="stable")
    groups = np.array_split(order, k)
    means = np.array([x[g].mean(axis=0) for g in groups])
    covariances = np.array([np.cov(x[g].T, ddof=0).reshape(d, d) for g in groups])
    if diagonal:
        covariances = np.array([np.diag(np.diag(c)) for c in covariances])
    transitions = (
        np.ones((1, 1))
        if k == 1
        else np.full((k, k), (1 - _STAY) / (k - 1)) + np.eye(k) * (_STAY - (1 - _STAY) / (k - 1))
    )
    return Start(np.full(k, 1.0 / k), transitions, means, covariances)


def _init_mapping(start: Start, columns: Sequence[str]) -> dict[str, Any]:
    """``init=`` of :func:`emstat.fit_hmm`: the chain and every emission parameter by name."""
    from emstat.mixture import gaussian

    init: dict[str, Any] = {"start": start.start, "transitions": start.transitions}
    for name, pos in gaussian.parameter_names(list(columns)):
        init[name] = (
            start.means[:, pos[0]] if len(pos) == 1 else start.covariances[:, pos[0], pos[1]]
        )
    return init


@dataclass(frozen=True)
class HmmlearnCheck:
    """emstat and hmmlearn side by side: one row per compared quantity, and the verdict.

    ``table`` has columns ``quantity``, ``emstat``, ``hmmlearn``,
    ``difference`` (relative for the log-likelihood, means and variances;
    absolute for probabilities) and ``agree``.
    """

    k: int
    columns: list[str]
    n: int
    n_sequences: int
    covariance_type: str
    table: pd.DataFrame
    viterbi_agreement: float
    iterations: tuple[int, int]
    tol: float
    fit_tol: float
    versions: dict[str, str]

    @property
    def agree(self) -> bool:
        """Every quantity within ``tol`` and the Viterbi paths identical."""
        return bool(self.table["agree"].all()) and self.viterbi_agreement == 1.0

    def summary(self) -> str:
        shown = self.table.assign(agree=self.table["agree"].map({True: "yes", False: "NO"}))
        text = shown.to_string(index=False, float_format=lambda v: f"{v:.10g}")
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        status = "AGREE" if self.agree else "DIFFER"
        return (
            f"emstat vs hmmlearn: Gaussian HMM, k = {self.k}, columns "
            f"{', '.join(self.columns)}, {self.n} rows in {self.n_sequences} sequence(s), "
            f"covariance {self.covariance_type}\n{HMMLEARN_SETTINGS} (tol {self.fit_tol:g})\n"
            f"{text}\n"
            f"Viterbi paths: {self.viterbi_agreement:.2%} of the steps in the same state\n"
            f"iterations: emstat {self.iterations[0]}, hmmlearn {self.iterations[1]} "
            "(E- and M-step passes; hmmlearn's history[0] is the log-likelihood at the start)\n"
            f"{versions}; tolerance {self.tol:g}: {status}"
        )

    def __str__(self) -> str:
        return self.summary()


def _rows(
    ours: dict[str, np.ndarray], theirs: dict[str, np.ndarray], columns: Sequence[str], tol: float
) -> pd.DataFrame:
    k = ours["start"].shape[0]
    rows: list[tuple[str, float, float, float]] = []

    def add(name: str, a: float, b: float, probability: bool) -> None:
        diff = abs(a - b) if probability else relative_difference(a, b)
        rows.append((name, a, b, diff))

    add("loglik", float(ours["loglik"]), float(theirs["loglik"]), False)
    for i in range(k):
        add(f"start[{i + 1}]", ours["start"][i], theirs["start"][i], True)
    for i in range(k):
        for j in range(k):
            add(f"to[{i + 1}->{j + 1}]", ours["trans"][i, j], theirs["trans"][i, j], True)
    d = len(columns)
    for i in range(k):
        for a in range(d):
            add(f"mean[{columns[a]}] {i + 1}", ours["means"][i, a], theirs["means"][i, a], False)
        for a in range(d):
            for b in range(a, d):
                name = f"var[{columns[a]}]" if a == b else f"cov[{columns[a]},{columns[b]}]"
                add(f"{name} {i + 1}", ours["cov"][i, a, b], theirs["cov"][i, a, b], False)
    frame = pd.DataFrame(rows, columns=["quantity", "emstat", "hmmlearn", "difference"])
    frame["agree"] = ~(frame["difference"] > tol) & frame["difference"].notna()
    return frame


def _lengths(frame: pd.DataFrame, sequence: str | None) -> list[int] | None:
    """hmmlearn's ``lengths``: the runs of equal sequence ids, which must be contiguous."""
    if sequence is None:
        return None
    ids = frame[sequence]
    if ids.isna().any():
        row = ids.index[ids.isna().to_numpy()][0]
        raise InputError(f"the sequence column {sequence!r} is missing at row {row!r}")
    change = (ids != ids.shift()).to_numpy()
    runs = ids[change]
    if runs.duplicated().any():
        again = runs[runs.duplicated()].iloc[0]
        raise InputError(
            f"the rows of sequence {again!r} are not together; sort the data by {sequence!r}"
        )
    bounds = np.r_[np.flatnonzero(change), len(ids)]
    return [int(v) for v in np.diff(bounds)]


def hmmlearn(
    data: pd.DataFrame,
    k: int = 2,
    *,
    columns: Sequence[str] | None = None,
    covariance_type: str = "full",
    sequence: str | None = None,
    tol: float = 1e-6,
    fit_tol: float = 1e-10,
    max_iter: int = 10_000,
) -> HmmlearnCheck:
    """Fit the same Gaussian HMM with emstat and hmmlearn from the same start; compare.

    Parameters
    ----------
    data
        One row per step; the rows of a sequence in order, sequences one
        after another when ``sequence`` names their column.
    k
        Number of states.
    columns
        The modelled columns (default: every numeric column but ``sequence``).
    covariance_type
        hmmlearn's ``"full"`` (emstat ``V`` in 1-D, ``VVV``) or ``"diag"`` (``VVI``).
    tol
        Largest difference that counts as agreement: relative for the
        log-likelihood, means and (co)variances, absolute for probabilities.
    fit_tol, max_iter
        Both programs stop when the log-likelihood rises by less than
        ``fit_tol``, or after ``max_iter`` iterations.
    """
    hmm_module = require("hmmlearn.hmm", "hmm")
    from emstat._validation import check_k_value
    from emstat.hmm import fit_hmm

    k = check_k_value(k)
    if covariance_type not in _MODELS:
        raise InputError(
            f"covariance_type must be one of {', '.join(_MODELS)}, got {covariance_type!r}"
        )
    if sequence is not None and sequence not in data.columns:
        raise InputError(f"no sequence column {sequence!r}; the columns are {list(data.columns)}")
    if columns is None:
        columns = [
            str(c) for c in data.columns if c != sequence and pd.api.types.is_numeric_dtype(data[c])
        ]
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise InputError(f"no column {missing[0]!r}; the columns are {list(data.columns)}")
    x = data[list(columns)].to_numpy(dtype=float)
    if not np.isfinite(x).all():
        raise InputError("hmmlearn takes no missing values; drop the rows with NaN first")
    d = x.shape[1]
    model = _MODELS[covariance_type][0 if d == 1 else 1]
    start = shared_start(x, k, diagonal=covariance_type == "diag")
    lengths = _lengths(data, sequence)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours_fit = fit_hmm(
            data,
            k,
            columns=list(columns),
            model=model,
            sequence=sequence,
            init=_init_mapping(start, columns),
            control=EMControl(tol=fit_tol, criterion="abs", max_iter=max_iter),
        )
        theirs_fit = hmm_module.GaussianHMM(
            n_components=k,
            covariance_type=covariance_type,
            n_iter=max_iter,
            tol=fit_tol,
            init_params="",
            params="stmc",
            covars_prior=0.0,
            min_covar=1e-12,
        )
        theirs_fit.startprob_ = start.start.copy()
        theirs_fit.transmat_ = start.transitions.copy()
        theirs_fit.means_ = start.means.copy()
        theirs_fit.covars_ = (
            start.covariances.copy()
            if covariance_type == "full"
            else np.array([np.diag(c) for c in start.covariances])
        )
        theirs_fit.fit(x, lengths)
        their_logprob, their_path = theirs_fit.decode(x, lengths, algorithm="viterbi")
    if not ours_fit.ok:
        raise InputError(f"emstat's fit failed: {ours_fit.degenerate}")
    params = ours_fit.emission_params
    our_means = np.array([[params[f"mean[{c}]"].iloc[i] for c in columns] for i in range(k)])
    our_cov = np.empty((k, d, d))
    for i in range(k):
        for a in range(d):
            for b in range(d):
                lo, hi = min(a, b), max(a, b)
                name = f"var[{columns[lo]}]" if lo == hi else f"cov[{columns[lo]},{columns[hi]}]"
                our_cov[i, a, b] = params[name].iloc[i] if name in params else 0.0
    their_means = np.asarray(theirs_fit.means_, dtype=float)
    perm = np.argsort(match_components(our_means, their_means), kind="stable")
    theirs: dict[str, np.ndarray] = {
        "loglik": np.asarray(theirs_fit.score(x, lengths), dtype=float),
        "start": np.asarray(theirs_fit.startprob_)[perm],
        "trans": np.asarray(theirs_fit.transmat_)[np.ix_(perm, perm)],
        "means": their_means[perm],
        "cov": np.asarray(theirs_fit.covars_, dtype=float)[perm],
    }
    ours: dict[str, np.ndarray] = {
        "loglik": np.asarray(ours_fit.loglik, dtype=float),
        "start": np.asarray(ours_fit.start, dtype=float),
        "trans": ours_fit.transitions.to_numpy(dtype=float),
        "means": our_means,
        "cov": our_cov,
    }
    our_path = np.asarray(ours_fit.viterbi(data), dtype=int) - 1
    inverse = np.empty(k, dtype=int)
    inverse[perm] = np.arange(k)
    agreement = float(np.mean(our_path == inverse[np.asarray(their_path)]))
    table = _rows(ours, theirs, list(columns), tol)
    table = pd.concat(
        [
            table,
            pd.DataFrame(
                [
                    {
                        "quantity": "viterbi log-prob",
                        "emstat": ours_fit.viterbi_logprob(data),
                        "hmmlearn": float(their_logprob),
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    last = table.index[-1]
    table.loc[last, "difference"] = relative_difference(
        float(table.loc[last, "emstat"]), float(table.loc[last, "hmmlearn"])
    )
    table.loc[last, "agree"] = bool(table.loc[last, "difference"] <= tol)
    table["agree"] = table["agree"].astype(bool)
    import hmmlearn as hmmlearn_package

    import emstat

    return HmmlearnCheck(
        k=k,
        columns=list(columns),
        n=int(x.shape[0]),
        n_sequences=1 if lengths is None else len(lengths),
        covariance_type=covariance_type,
        table=table,
        viterbi_agreement=agreement,
        iterations=(int(ours_fit.n_iter), int(theirs_fit.monitor_.iter)),
        tol=tol,
        fit_tol=fit_tol,
        versions={
            "emstat": str(emstat.__version__),
            "hmmlearn": str(hmmlearn_package.__version__),
        },
    )
