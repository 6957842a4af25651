"""``select_mixture``: fit every (k, covariance model) pair and choose by a criterion."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np
import pandas as pd

from emstat._html import selection_html
from emstat._validation import check_k_values, check_whole
from emstat.engine import EMControl
from emstat.errors import InputError
from emstat.families import is_gaussian
from emstat.mixture._parallel import can_fork, fit_grid
from emstat.mixture.classification_em import check_algorithm
from emstat.mixture.covariance import default_models, get_covariance_model
from emstat.mixture.fit import (
    FAMILY_CONTROL,
    MixtureFitter,
    algorithm_defaults,
    check_algorithm_combination,
    check_options,
    check_other_family_missing,
    check_other_family_options,
    make_control,
    prepare_data,
)
from emstat.mixture.known_labels import labels_option, ssc_k
from emstat.mixture.result import MixtureResult
from emstat.mixture.sources import is_out_of_core

__all__ = ["SelectionResult", "select_mixture"]

Convention = Literal["smaller", "mclust"]
_CONVENTION_TEXT = {
    "smaller": "-2 loglik + penalty (R's BIC(), scikit-learn): smaller is better",
    "mclust": "2 loglik - penalty (mclust): larger is better",
}


@dataclass(frozen=True, eq=False)
class SelectionResult:
    """Every fit of a selection, its tables, and the chosen one.

    ``emstat.report(selection, "x.html")`` writes its report (the report layer
    knows the selection; the selection does not import reports).  ``rows``
    are the rows fitted when they were in memory; ``data`` gives them as a
    DataFrame, built when first asked for.
    """

    fits: dict[tuple[int, str], MixtureResult]
    ks: list[int]
    models: list[str]
    criterion: str
    convention: Convention
    columns: list[str]
    n: float
    rows: np.ndarray | None = field(default=None, repr=False)  # the rows fitted, in memory
    seed: int | None = None

    @cached_property
    def data(self) -> pd.DataFrame | None:
        """The rows fitted, with the selection's columns (None when they were not in memory)."""
        return None if self.rows is None else pd.DataFrame(self.rows, columns=self.columns)

    def table_for(
        self, criterion: str = "bic", convention: Convention | None = None
    ) -> pd.DataFrame:
        """Rows k, columns model names; NaN where a fit was degenerate or not possible."""
        convention = convention or self.convention
        values = [
            [
                self.fits[(k, m)].criterion(criterion, convention)
                if (k, m) in self.fits
                else math.nan
                for m in self.models
            ]
            for k in self.ks
        ]
        return pd.DataFrame(
            values,
            index=pd.Index(self.ks, name="k"),
            columns=pd.Index(self.models, name="model"),
        )

    @property
    def table(self) -> pd.DataFrame:
        """The table of the selection criterion (BIC by default)."""
        return self.table_for(self.criterion)

    @property
    def reasons(self) -> pd.DataFrame:
        """Why a cell is NaN: the degeneracy each fit met (empty where it did not)."""
        return pd.DataFrame(
            [[self.fits[(k, m)].degenerate or "" for m in self.models] for k in self.ks],
            index=pd.Index(self.ks, name="k"),
            columns=pd.Index(self.models, name="model"),
        )

    def ranking(self, criterion: str | None = None) -> pd.DataFrame:
        """Fits ordered from best to worst by ``criterion``."""
        criterion = criterion or self.criterion
        rows = [(k, m, fit.criterion(criterion)) for (k, m), fit in self.fits.items() if fit.ok]
        frame = pd.DataFrame(rows, columns=["k", "model", criterion]).dropna()
        # Information criteria here are "smaller is better"; the log-likelihood is not.
        return frame.sort_values(criterion, ascending=criterion != "loglik", kind="stable")

    def best_for(self, criterion: str) -> MixtureResult:
        ranked = self.ranking(criterion)
        if ranked.empty:
            raise InputError("every fit was degenerate; see .reasons")
        top = ranked.iloc[0]
        return self.fits[(int(top["k"]), str(top["model"]))]

    @property
    def best(self) -> MixtureResult:
        """The fit the selection criterion prefers."""
        return self.best_for(self.criterion)

    def plot(self, kind: str = "criterion", ax: Any = None, **options: Any) -> Any:
        """The criterion against k, a line per model (mclust's ``plot(Mclust, what = "BIC")``).

        Returns the Axes; options and details: :func:`emstat.plotting.plot_selection`.
        """
        from emstat.plotting import plot_selection

        return plot_selection(self, kind, ax, **options)

    def summary(self) -> str:
        best = self.best
        table = self.table.to_string(float_format=lambda v: f"{v:.3f}", na_rep="NA")
        labelled = getattr(best, "known_labels", None)
        return (
            f"{self.criterion.upper()} of {_family_label(self)} mixtures, n = {self.n}, columns "
            f"{', '.join(self.columns)} ({_CONVENTION_TEXT[self.convention]})"
            f"{_prior_note(self)}\n"
            + ("" if labelled is None else labelled.describe(self.n) + " (MclustSSC)\n")
            + f"{table}\n\n"
            f"best: model {best.model} with k = {best.k} "
            f"({self.criterion.upper()} {best.criterion(self.criterion, self.convention):.4f})"
        )

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return selection_html(self)


def _prior_note(selection: SelectionResult) -> str:
    """A line saying the fits are MAP fits, when they are (the criteria exclude the prior)."""
    # any fit's: the noise-only fit (k = 0) has no components, so no prior
    text = next((f.prior for f in selection.fits.values() if getattr(f, "prior", None)), None)
    if not text:
        return ""
    where = text.split(" (", 1)[0]
    return (
        f"\nMAP fits under a prior ({where}; hyperparameters per k and model, "
        "see each fit's summary); the criteria exclude the prior"
    )


def _family_label(selection: SelectionResult) -> str:
    first = next(iter(selection.fits.values()), None)
    family = getattr(first, "family", None)
    return "Gaussian" if family is None else family.name.capitalize()


#: The default numbers of components (mclust's G = 1:9; 0:9 with a noise component).
_DEFAULT_KS = range(1, 10)


def select_mixture(
    data: Any,
    k: int | Iterable[int] | None = None,
    models: str | Sequence[str] | None = None,
    *,
    columns: Sequence[str] | None = None,
    criterion: str = "bic",
    convention: Convention = "smaller",
    init: Any = None,
    seed: int | None = 0,
    control: EMControl | None = None,
    tol: float | None = None,
    max_iter: int | None = None,
    hc_subset: int = 2000,
    mclust_compatible: bool = False,
    workers: int = 1,
    family: Any = None,
    weights: Any = None,
    trials: Any = None,
    exposure: Any = None,
    n_init: int = 1,
    reg_covar: float = 0.0,
    prior: Any = None,
    labels: Any = None,
    noise: Any = None,
    Vinv: float | None = None,
    inner_tol: float | None = None,
    algorithm: str = "em",
    missing: str = "em",
) -> SelectionResult:
    """Fit every number of components in ``k`` with every covariance model.

    Defaults reproduce mclust's ``Mclust(X, G = 1:9)``: all 14 models in
    d > 1 (the 6 spherical and diagonal ones when n <= d), ``E`` and ``V`` in
    1-D, each started from the same hierarchical (``hc``) or quantile
    partition.  ``convention="mclust"`` shows mclust's BIC sign.  The
    iterative M-steps run to the exact constrained maximum; mclust 6.0's stop
    earlier (and its VVE orientation update leaves out the volumes), so VEE,
    EVE and VVE cells match R to the last digits only with
    ``mclust_compatible=True``, which also agglomerates the start as
    mclust's ``hcVVV`` does (emstat's own is exact: see
    :func:`emstat.mixture.hc.hc_merges`).  ``workers > 1`` fits the models on
    that many forked processes (where the platform forks; data with missing
    cells fit in this process, whose E-step uses both cores), with the same
    results.  ``models`` is one model name or a list of them.  A number of
    components larger than the data's distinct rows cannot be estimated: its
    cells are NaN, with the reason in ``.reasons`` (mclust's NA).
    ``reg_covar`` adds a ridge to every fit's covariances, as in
    :func:`emstat.fit_mixture` (the criteria are then the regularised fits').
    ``prior="mclust"`` (or an :class:`emstat.GaussianPrior`) fits every cell
    by MAP EM, as ``Mclust(X, G = 1:9, prior = priorControl())``, with the
    hyperparameters computed afresh for each k and model as mclust's
    ``defaultPrior`` does; the criteria exclude the prior.  mclust drops
    EVE, VEE, VVE and EVV under a prior; emstat fits them too
    (:mod:`emstat.mixture.prior`).
    ``k`` defaults to 1..9 (0..9 with a noise component).

    ``labels`` (as in :func:`emstat.fit_mixture`: a column name, a Series or
    one value per row, NaN for unknown) does what mclust's
    ``MclustSSC(X, class)`` does: ``k`` defaults to the number of classes
    (every k must be at least that), the models to MclustSSC's (the 14, or
    E and V in 1-D; without EEE, EEV, VEV and VVV when n <= d), each fit
    starts from the labels and stops on an absolute change of 1e-5, and BIC
    uses the log-likelihood of the data and the known labels.

    ``noise`` and ``Vinv`` add mclust's noise component to every fit, as in
    :func:`emstat.fit_mixture`; k then runs over 0..9 by default, k = 0
    being the noise-only fit (one row of equal cells, as mclust's table).
    ``inner_tol`` is the iterative M-steps' tolerance, as in
    :func:`emstat.fit_mixture`: ``Mclust(X, control = emControl(tol = t))``
    is ``select_mixture(X, tol=t, inner_tol=t, mclust_compatible=True)``.

    ``algorithm`` (``"em"``, ``"cem"`` or ``"sem"``) fits every cell by that
    algorithm, as in :func:`emstat.fit_mixture`; the criteria use each
    estimate's observed-data log-likelihood.

    ``missing`` (``"em"`` or ``"error"``) treats NaN cells as in
    :func:`emstat.fit_mixture`: every cell is fitted by its observed-data
    likelihood, all from the same starting partition.

    Examples
    --------
    >>> import emstat
    >>> sel = emstat.select_mixture(emstat.load_dataset("faithful"))
    >>> (sel.best.model, sel.best.k)
    ('EEE', 3)
    """
    if criterion not in ("bic", "aic", "icl"):
        raise InputError(f"unknown criterion {criterion!r}; choose bic, aic or icl")
    if convention not in _CONVENTION_TEXT:
        raise InputError(f"unknown convention {convention!r}; choose 'smaller' or 'mclust'")
    from emstat.mixture.noise import noise_ks, split_noise_column, uses_noise, with_noise

    noisy = uses_noise(noise, Vinv)
    algorithm = check_algorithm(algorithm)
    check_algorithm_combination(algorithm, init, labels=labels is not None, noise=noisy)
    columns, known, labels_control = labels_option(
        data,
        labels,
        columns,
        family=family,
        noise=noisy,
        weights=weights,
        init=init,
        n_init=n_init,
        out_of_core=is_out_of_core(data),
    )
    if known is not None:
        k = ssc_k(known, k)
    if noisy:
        ks = noise_ks(k, k is None)
    else:
        ks = check_k_values(_DEFAULT_KS if k is None else k)
    seed = check_options(
        seed=seed,
        hc_subset=hc_subset,
        mclust_compatible=mclust_compatible,
        reg_covar=reg_covar,
        prior=prior,
        inner_tol=inner_tol,
    )
    workers = check_whole(workers, "workers")
    if noisy and not is_gaussian(family):
        raise InputError("the noise component serves the Gaussian family only")
    columns, noise_column = split_noise_column(data, columns, noise)
    if not is_gaussian(family):
        if models is not None:
            raise InputError("models= names Gaussian covariance models; other families have none")
        check_other_family_options(reg_covar=reg_covar, prior=prior, inner_tol=inner_tol)
        check_other_family_missing(missing)
        return _select_family(
            data,
            ks,
            family,
            columns=columns,
            criterion=criterion,
            convention=convention,
            weights=weights,
            trials=trials,
            exposure=exposure,
            init=init,
            n_init=n_init,
            seed=seed,
            control=make_control(
                control, tol, None, max_iter, algorithm_defaults(algorithm, FAMILY_CONTROL)
            ),
            algorithm=algorithm,
        )
    if isinstance(models, str):
        models = [models]
    if models is not None and len(models) == 0:
        raise InputError("models names no covariance model; pass None for mclust's defaults")
    prepared = prepare_data(
        data, columns, sample_size=hc_subset, seed=seed, weights=weights, missing=missing
    )
    names = list(models) if models is not None else default_models(prepared.d, prepared.n)
    if known is not None:
        from emstat.mixture.known_labels import check_classes_fit, ssc_models

        names = list(models) if models is not None else ssc_models(prepared.d, prepared.n)
        for kk in ks:
            check_classes_fit(known, kk)
    resolved = list(dict.fromkeys(get_covariance_model(m, prepared.d).name for m in names))
    fitter = MixtureFitter(
        prepared,
        control=make_control(
            control, tol, None, max_iter, labels_control or algorithm_defaults(algorithm)
        ),
        init=init,
        n_init=n_init,
        seed=seed,
        hc_subset=hc_subset,
        mclust_compatible=mclust_compatible,
        reg_covar=float(reg_covar),
        prior=prior,
        labels=known,
        inner_tol=inner_tol,
        algorithm=algorithm,
    )
    if noisy:
        fitter = with_noise(fitter, noise, noise_column, Vinv)
    # Like mclust's NA: a k beyond the distinct rows is a cell without a fit, not an error.
    reasons = {kk: fitter.too_many_components(kk) for kk in ks}
    feasible = [kk for kk in ks if reasons[kk] is None]
    # Missing cells take an E-step that always runs threads, which forked workers
    # cannot start (GNU OpenMP): such a selection fits in this process, on both cores.
    if workers > 1 and can_fork() and fitter.data.missing is None:
        fits = fit_grid(fitter, feasible, resolved, workers)
    else:
        fits = {(kk, m): fitter.fit(kk, m) for kk in feasible for m in resolved}
    for kk, reason in reasons.items():
        if reason is not None:
            fits.update({(kk, m): fitter.not_estimable(kk, m, reason) for m in resolved})
    fits = {(kk, m): fits[(kk, m)] for kk in ks for m in resolved}
    return SelectionResult(
        fits,
        ks,
        resolved,
        criterion,
        convention,
        prepared.columns,
        prepared.size,
        prepared.raw,
        seed,
    )


def _select_family(
    data: Any,
    ks: list[int],
    family: Any,
    *,
    columns: Sequence[str] | None,
    criterion: str,
    convention: Convention,
    weights: Any,
    trials: Any,
    exposure: Any,
    init: Any,
    n_init: int,
    seed: int | None,
    control: EMControl,
    algorithm: str = "em",
) -> SelectionResult:
    """Every k of one component family; a k the data cannot support is a NaN cell."""
    from emstat.mixture.family_fit import FamilyFitter, prepare_family_data

    bound, encoded = prepare_family_data(
        data, family, columns, weights=weights, trials=trials, exposure=exposure
    )
    fitter = FamilyFitter(
        bound, encoded, control, init=init, n_init=n_init, seed=seed, algorithm=algorithm
    )
    fits = {(kk, bound.name): fitter.fit_or_note(kk) for kk in ks}
    return SelectionResult(
        fits,  # type: ignore[arg-type]
        ks,
        [bound.name],
        criterion,
        convention,
        bound.columns,
        round(encoded.total_weight()),
        None,
        seed,
    )
