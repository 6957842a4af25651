"""``select_hmm``: fit every (number of states, covariance model) and rank them in one table."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from emstat._validation import check_k_values, check_seed, check_whole
from emstat.errors import DegenerateFitError, InputError
from emstat.execution import map_tasks
from emstat.families import is_gaussian
from emstat.hmm.fit import HMM_CONTROL, HMMFitter, Prepared, emission_fixed, prepare_hmm
from emstat.hmm.result import HMMResult
from emstat.results import CONVENTION_TEXT

__all__ = ["HMMSelection", "select_hmm"]

_CRITERIA = ("bic", "aic", "icl")


@dataclass(frozen=True, eq=False)
class HMMSelection:
    """Every fit of a selection and the one ``criterion`` prefers (smaller is better)."""

    fits: dict[tuple[int, str], HMMResult]
    reasons: dict[tuple[int, str], str]
    criterion: str
    ks: list[int]
    models: list[str]
    columns: list[str] = field(default_factory=list)

    @property
    def table(self) -> pd.DataFrame:
        """One row per (k, model): loglik, n_params, bic, aic, icl, converged, reason."""
        rows = []
        for k in self.ks:
            for model in self.models:
                fit = self.fits.get((k, model))
                reason = self.reasons.get((k, model), "")
                ok = fit is not None and fit.ok
                rows.append(
                    {
                        "k": k,
                        "model": model,
                        "loglik": fit.loglik if ok and fit is not None else math.nan,
                        "n_params": fit.n_params if fit is not None else pd.NA,
                        "bic": fit.bic if ok and fit is not None else math.nan,
                        "aic": fit.aic if ok and fit is not None else math.nan,
                        "icl": fit.icl if ok and fit is not None else math.nan,
                        "converged": bool(fit.converged) if fit is not None else False,
                        "reason": reason or (fit.degenerate or "" if fit is not None else ""),
                    }
                )
        return pd.DataFrame(rows)

    @property
    def best(self) -> HMMResult:
        """The fit of smallest ``criterion`` among those with parameters."""
        full = self.table
        table = full.dropna(subset=[self.criterion])
        if table.empty:
            failed = full[full["reason"] != ""]
            why = ""
            if not failed.empty:
                first = failed.iloc[0]
                why = f"; k = {first['k']}, {first['model']}: {first['reason']}"
                if len(failed) > 1:
                    why += f" (and {len(failed) - 1} more: the table's reason column says why)"
            raise InputError(f"no fit of the selection has parameters{why}")
        top = table.sort_values(self.criterion, kind="stable").iloc[0]
        return self.fits[(int(top["k"]), str(top["model"]))]

    def _repr_html_(self) -> str:
        from emstat._html import table_html

        return table_html(self)

    def summary(self) -> str:
        shown = self.table.to_string(index=False, float_format=lambda v: f"{v:.4f}", na_rep="NA")
        best = self.best
        return (
            f"Hidden Markov models of {', '.join(self.columns)} by {self.criterion.upper()} "
            f"({CONVENTION_TEXT})\n{shown}\n\nbest: k = {best.k}, model {best.model}"
        )

    def __str__(self) -> str:
        return self.summary()


def _fit_or_reason(fitter: HMMFitter, k: int) -> HMMResult | str:
    """The fit with ``k`` states, or why it cannot be made (a cell's reason)."""
    try:
        return fitter.fit(k)
    except (InputError, DegenerateFitError) as exc:
        return str(exc)


def select_hmm(
    data: Any,
    k: Any = range(1, 6),
    *,
    models: Sequence[str] | None = None,
    family: Any = "gaussian",
    columns: Sequence[str] | None = None,
    sequence: str | None = None,
    lengths: Any = None,
    order: str | None = None,
    criterion: str = "bic",
    start_per_sequence: bool = False,
    transitions: Any = None,
    start: Any = None,
    init: Any = None,
    fixed: Mapping[str, Any] | None = None,
    n_init: int = 1,
    seed: int | None = 0,
    control: Any = None,
    tol: float | None = None,
    max_iter: int | None = None,
    trials: Any = None,
    exposure: Any = None,
    workers: int = 1,
) -> HMMSelection:
    """Fit hidden Markov models with every k (and Gaussian covariance model) and rank them.

    ``models`` are Gaussian covariance models (default ``["V"]`` in 1-D and
    ``["VVV"]`` otherwise); for the other families the one model is the
    family.  A cell that cannot be fitted (too few rows, a degenerate start,
    a constraint of another size, a fixed value of a state the fit does not
    have) keeps its reason in ``table``.  ``fixed`` names states by number so
    that it applies to every k, e.g. ``{"mean[x]": {1: 0.0}}`` (state 1's mean
    is 0 at every k); a fixed value that no cell can hold is refused at once.
    ``workers`` fits the numbers of states on that many processes, with the
    same results.  Other arguments as :func:`emstat.fit_hmm`.
    """
    from emstat.mixture.fit import make_control

    if criterion not in _CRITERIA:
        raise InputError(f"unknown criterion {criterion!r}; choose one of {', '.join(_CRITERIA)}")
    ks = check_k_values(k)
    check_whole(n_init, "n_init")
    workers = check_whole(workers, "workers")
    seed = check_seed(seed)
    stop = make_control(control, tol, None, max_iter, HMM_CONTROL)
    if not is_gaussian(family) and models is not None:
        raise InputError("models= are Gaussian covariance models; this family has none")
    names = list(models) if models is not None else [None]
    fits: dict[tuple[int, str], HMMResult] = {}
    reasons: dict[tuple[int, str], str] = {}
    labels: list[str] = []
    columns_used: list[str] = []
    variants = [
        prepare_hmm(
            data,
            columns=columns,
            family=family,
            model=name,
            sequence=sequence,
            lengths=lengths,
            order=order,
            trials=trials,
            exposure=exposure,
        )
        for name in names
    ]
    _check_fixed_somewhere(variants, ks, fixed)
    for prepared in variants:
        label = prepared.emission.model
        labels.append(label)
        columns_used = prepared.emission.columns
        fitter = HMMFitter(
            prepared,
            stop,
            transitions=transitions,
            start=start,
            start_per_sequence=start_per_sequence,
            init=init,
            n_init=n_init,
            seed=seed,
            fixed=fixed,
        )
        outcomes = map_tasks(_fit_or_reason, ks, workers=workers, shared=fitter, chunk=1)
        for kk, outcome in zip(ks, outcomes, strict=True):
            if isinstance(outcome, str):
                reasons[(kk, label)] = outcome
            else:
                fits[(kk, label)] = outcome
    return HMMSelection(fits, reasons, criterion, ks, list(dict.fromkeys(labels)), columns_used)


def _check_fixed_somewhere(variants: list[Prepared], ks: list[int], fixed: Any) -> None:
    """Refuse ``fixed`` values that no cell of the selection can hold (an unknown name,
    a value outside the space): the reason of one cell is then every cell's."""
    if fixed is None:
        return
    first: InputError | None = None
    for prepared in variants:
        for k in sorted(ks, reverse=True):  # the largest k first: its reason is the widest
            try:
                emission_fixed(prepared.emission, k, fixed)
            except InputError as exc:
                first = first or exc
            else:
                return
    if first is not None:
        raise first
