"""The bootstrap likelihood-ratio test for the number of mixture components.

As mclust's ``mclustBootstrapLRT``: for k = 1, 2, ... the fit with k
components is tested against the fit with k + 1 by the statistic
``LRTS = 2 (l_{k+1} - l_k)``, whose null distribution is drawn by the
parametric bootstrap.  Each bootstrap sample is drawn from the k-component
fit, refitted by EM with k components started from that fit's parameters and
with k + 1 components started from the (k + 1)-component fit's parameters,
exactly as mclust starts them.  The p-value is mclust's
``(1 + #{LRTS_b >= LRTS}) / (B + 1)``.  The sequence stops at the first k
not rejected at ``level``, or after testing ``max_k`` against ``max_k + 1``.

A bootstrap sample whose refit fails (a degenerate component) is drawn
again from the same stream, as mclust draws again; the failures are counted.
Each test's bootstrap samples come from their own streams,
``SeedSequence(seed).spawn(max_k)[k - 1].spawn(n_boot)``, so the numbers do
not depend on ``workers``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from emstat._validation import check_seed, check_whole, describe_labels
from emstat.engine import fit_em
from emstat.errors import InputError
from emstat.execution import map_tasks

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "LRTResult",
    "bootstrap_lrt",
    "check_level",
    "check_lrt_options",
    "lrt_pvalue",
    "records",
]

#: Draws of one bootstrap sample before it is given up (mclust draws again without end).
MAX_DRAWS = 10
TABLE_COLUMNS = ("k0", "k1", "statistic", "p_value", "n_boot", "n_failed", "rejected", "note")


def check_level(level: Any, name: str = "level") -> float:
    """A significance level strictly between 0 and 1."""
    if (
        isinstance(level, (bool, np.bool_))
        or not isinstance(level, (int, float, np.integer, np.floating))
        or not 0 < level < 1
    ):
        raise InputError(f"{name} must be a number strictly between 0 and 1, got {level!r}")
    return float(level)


def lrt_pvalue(boot: np.ndarray, observed: float) -> float:
    """mclust's bootstrap p-value ``(1 + #{boot >= observed}) / (B + 1)`` over the finite draws.

    Examples
    --------
    >>> lrt_pvalue(np.array([0.5, 3.0, 1.0, 4.0]), 2.0)
    0.6
    """
    kept = boot[np.isfinite(boot)]
    if not math.isfinite(observed):
        return math.nan
    return float((1 + np.count_nonzero(kept >= observed)) / (kept.size + 1))


# --------------------------------------------------------------------------- #
# one bootstrap refit pair, for either kind of fit
# --------------------------------------------------------------------------- #


def _is_gaussian_fit(fit: Any) -> bool:
    from emstat.mixture.result import MixtureResult

    return isinstance(fit, MixtureResult)


def _draw(fit: Any, n: int, rng: np.random.Generator) -> Any:
    """``n`` rows drawn from ``fit``: a raw array (Gaussian) or encoded family data."""
    if _is_gaussian_fit(fit):
        from emstat.mixture.gaussian import draw_mixture

        theta = fit.params_
        x, _ = draw_mixture(theta.weights, theta.means, theta.covariances, n, rng)
        return x
    from emstat.mixture.finite import FamilyData

    frame = fit.sample(n, rng)
    return FamilyData(fit.family.encode(frame))


def _refit_loglik(fit: Any, sample: Any) -> float:
    """The log-likelihood of EM on ``sample`` started from ``fit``'s parameters (NaN: failed)."""
    if _is_gaussian_fit(fit):
        return _gaussian_refit(fit, sample)
    from emstat.mixture.finite import FiniteMixture

    model = FiniteMixture(fit.family, fit.k, fit.fixed_weights)
    em = fit_em(model, sample, theta0=fit.theta, control=fit.control, n_obs=sample.n, warn=False)
    return float(em.loglik) if em.ok else math.nan


def _gaussian_refit(fit: Any, x: np.ndarray) -> float:
    from emstat.mixture.covariance import get_covariance_model
    from emstat.mixture.fit import _closed_form, _one_component_equivalent
    from emstat.mixture.model import GaussianMixtureModel

    center = x.mean(axis=0)
    centred = x - center
    d = centred.shape[1]
    if fit.k == 1:
        # as the fit itself: one component is the closed-form estimate
        one = GaussianMixtureModel(
            get_covariance_model(_one_component_equivalent(fit.model), d), 1, fit.reg_covar
        )
        stats0 = one.stats_from_responsibilities(centred, np.ones((centred.shape[0], 1)))
        em = _closed_form(one, centred, stats0, fit.control)
    else:
        # the fit's own ridge, so the bootstrap statistics are those of the observed one
        model = GaussianMixtureModel(get_covariance_model(fit.model, d), fit.k, fit.reg_covar)
        start = fit.params_.about(center)
        em = fit_em(
            model, centred, theta0=start, control=fit.control, n_obs=centred.shape[0], warn=False
        )
    return float(em.loglik) if em.ok else math.nan


def _statistic(fits: tuple[Any, Any, int], stream: np.random.SeedSequence) -> tuple[float, int]:
    """One bootstrap sample's statistic (NaN after ``MAX_DRAWS`` failures) and its failed draws.

    ``fits`` is the k-component fit (samples are drawn from it; the k refit
    starts there), the (k + 1)-component fit (the k + 1 refit starts there)
    and the sample size.
    """
    import warnings

    null, alternative, n = fits
    rng = np.random.default_rng(stream)
    failed = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(MAX_DRAWS):
            sample = _draw(null, n, rng)
            l0 = _refit_loglik(null, sample)
            l1 = _refit_loglik(alternative, sample) if math.isfinite(l0) else math.nan
            statistic = 2.0 * (l1 - l0)
            if math.isfinite(statistic):
                return statistic, failed
            failed += 1
    return math.nan, failed


def _bootstrap(
    null: Any, alternative: Any, n: int, stream: np.random.SeedSequence, n_boot: int, workers: int
) -> tuple[np.ndarray, int]:
    # the fits are shared by the tasks: forked workers inherit them with their rows
    # (a family's trials column), the streams go in chunks
    results = map_tasks(
        _statistic, stream.spawn(n_boot), workers=workers, shared=(null, alternative, n)
    )
    values = np.array([value for value, _ in results], dtype=float)
    return values, sum(failed for _, failed in results)


# --------------------------------------------------------------------------- #
# the sequence of tests
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, eq=False)
class LRTResult:
    """The sequential bootstrap likelihood-ratio tests of k against k + 1 components.

    Attributes
    ----------
    table
        One row per test: ``k0``, ``k1`` (= k0 + 1), ``statistic`` (2 (l1 - l0)),
        ``p_value``, ``n_boot`` (bootstrap statistics computed), ``n_failed``
        (bootstrap samples drawn again because a refit failed), ``rejected``
        (p_value <= level) and ``note`` (why a test could not be made).
    chosen_k
        The first k0 not rejected; ``max_k + 1`` when every test rejected.
    bootstrap
        The bootstrap statistics of each test, keyed by k0.
    fits
        The fits to the data, keyed by k.
    """

    table: pd.DataFrame
    chosen_k: int
    bootstrap: dict[int, np.ndarray]
    fits: dict[int, Any]
    model: str
    level: float
    max_k: int
    n_boot: int
    seed: int | None
    n: float
    columns: list[str] = field(default_factory=list)

    @property
    def every_test_rejected(self) -> bool:
        """True when the sequence ended at ``max_k`` with a rejection (k may be larger still)."""
        return bool(len(self.table) == self.max_k and self.table["rejected"].all())

    @property
    def untestable(self) -> bool:
        """True when the sequence ended because the fit with k + 1 components failed."""
        return bool(len(self.table) and math.isnan(self.table["statistic"].iloc[-1]))

    def _repr_html_(self) -> str:
        from emstat._html import table_html

        return table_html(self)

    def summary(self) -> str:
        """The tests as mclust prints them, and the decision."""
        rule = "-" * 61
        lines = [
            rule,
            "Bootstrap sequential LRT for the number of mixture components",
            rule,
            f"{'Model':<12} = {self.model}",
            f"{'Replications':<12} = {self.n_boot}",
            f"{'Level':<12} = {self.level:g}",
            "",
            f"{'':8} {'LRTS':>12} {'bootstrap p-value':>18} {'failed':>7}",
        ]
        for row in records(self.table):
            test = f"{row['k0']} vs {row['k1']}"
            statistic = "NA" if math.isnan(row["statistic"]) else f"{row['statistic']:.4f}"
            p_value = "NA" if math.isnan(row["p_value"]) else f"{row['p_value']:.4g}"
            lines.append(f"{test:<8} {statistic:>12} {p_value:>18} {row['n_failed']:>7}")
            if row["note"]:
                lines.append(f"         ({row['note']})")
        lines.append("")
        if self.untestable:
            lines.append(
                f"The test of {self.chosen_k} vs {self.chosen_k + 1} could not be made: "
                f"{self.chosen_k} component"
                + ("s" if self.chosen_k != 1 else "")
                + f" (no fit with {self.chosen_k + 1} to test against)."
            )
        elif self.every_test_rejected:
            lines.append(
                f"Every test up to {self.max_k} vs {self.max_k + 1} rejected at {self.level:g}: "
                f"at least {self.chosen_k} components (raise max_k to test further)."
            )
        else:
            lines.append(
                f"k = {self.chosen_k} is not rejected against {self.chosen_k + 1} at "
                f"level {self.level:g}: {self.chosen_k} component"
                + ("s" if self.chosen_k != 1 else "")
                + "."
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def plot(self, k0: int | None = None, ax: Axes | None = None) -> Figure:
        """Histograms of the bootstrap statistics with the observed one (one test, or all)."""
        from emstat.report.lrt_figures import lrt_histogram, lrt_plot

        if k0 is None:
            if ax is not None:
                raise InputError("give k0= to draw one test on ax=")
            return lrt_plot(self)
        if k0 not in self.bootstrap:
            raise InputError(
                f"no test of k0 = {k0}; tested {describe_labels(sorted(self.bootstrap))}"
            )
        row = self.table.loc[self.table["k0"] == k0].iloc[0]
        return lrt_histogram(self.bootstrap[k0], float(row["statistic"]), k0, self.model, ax=ax)


def check_lrt_options(max_k: Any, n_boot: Any, level: Any, seed: Any, workers: Any) -> None:
    """Refuse a bad option of :func:`bootstrap_lrt` before any fit (one InputError)."""
    check_whole(max_k, "max_k", 1)
    check_whole(n_boot, "n_boot", 1)
    check_level(level)
    check_seed(seed)
    check_whole(workers, "workers", 1)


# fit_mixture's options whose fits the bootstrap refits (maximum likelihood by EM) are not
_NOT_REFITTED = {
    "prior": "a prior",
    "labels": "known labels",
    "noise": "a noise component",
    "Vinv": "a noise component",
}


def check_refit_options(options: dict[str, Any]) -> None:
    """Refuse fit options the bootstrap refits would drop (their statistics would not match)."""
    for name, what in _NOT_REFITTED.items():
        if options.get(name) is not None:
            raise InputError(
                f"the bootstrap LRT does not take {name}= ({what}): "
                "its refits are maximum-likelihood fits by EM"
            )
    if options.get("algorithm", "em") != "em" or options.get("init") == "cem":
        raise InputError(
            "the bootstrap LRT refits by EM: give algorithm='em' and an init other than 'cem'"
        )


def _fit(data: Any, k: int, model: str | None, options: dict[str, Any]) -> Any:
    from emstat.mixture.fit import fit_mixture

    return fit_mixture(data, k, model, **options)


def _model_name(fit: Any) -> str:
    return str(fit.model)


def bootstrap_lrt(
    data: Any,
    model: str | None = "V",
    max_k: int = 4,
    n_boot: int = 999,
    family: Any = "gaussian",
    columns: Sequence[str] | None = None,
    level: float = 0.05,
    seed: int | None = 0,
    workers: int = 1,
    **fit_options: Any,
) -> LRTResult:
    """Sequential bootstrap likelihood-ratio tests of k against k + 1 components.

    mclust's ``mclustBootstrapLRT``, for every family: see
    :mod:`emstat.mixture.lrt`.

    Parameters
    ----------
    data
        A DataFrame (or what :func:`emstat.fit_mixture` takes in memory).
    model
        The Gaussian covariance model (``"V"``, ``"EEE"``, ...); None for
        fit_mixture's default.  Ignored by the other families.
    max_k
        The largest k tested (against max_k + 1), as mclust's ``maxG``.
    n_boot
        Bootstrap samples per test.
    family, columns
        As :func:`emstat.fit_mixture`.
    level
        Tests stop at the first p-value above ``level``.
    seed
        Seed of the fits' starts and of the bootstrap streams.
    workers
        Local processes for the bootstrap refits (the same numbers for any).
    **fit_options
        Other keywords of :func:`emstat.fit_mixture` (``trials``,
        ``exposure``, ``weights``, ``init``, ``tol``, ...).

    Returns
    -------
    LRTResult

    Notes
    -----
    mclust, given ``maxG``, runs every test up to ``maxG``; with
    ``maxG = NULL`` it stops at the first k not rejected, as this does.

    Examples
    --------
    >>> import emstat
    >>> df = emstat.load_dataset("faithful")
    >>> lrt = emstat.bootstrap_lrt(df, model="EEE", max_k=1, n_boot=19, seed=1)
    >>> lrt.table[["k0", "k1", "p_value"]].to_dict("records")
    [{'k0': 1, 'k1': 2, 'p_value': 0.05}]
    """
    check_lrt_options(max_k, n_boot, level, seed, workers)
    check_refit_options(fit_options)
    from emstat.families import is_gaussian

    gaussian = is_gaussian(family)
    options: dict[str, Any] = {"columns": columns, "seed": seed, **fit_options}
    if not gaussian:
        options["family"] = family
        model = None
    fits: dict[int, Any] = {1: _fit(data, 1, model, options)}
    if getattr(fits[1], "missing", None) is not None:
        raise InputError(
            "the bootstrap LRT needs complete data: its bootstrap samples have no missing "
            "cells, so their statistics would not be the observed one's (drop or impute them)"
        )
    if not fits[1].ok:
        raise InputError(f"the fit with one component is degenerate: {fits[1].degenerate}")
    streams = np.random.SeedSequence(seed).spawn(int(max_k))
    rows: list[dict[str, Any]] = []
    boot: dict[int, np.ndarray] = {}
    n = round(float(fits[1].n))
    chosen = int(max_k) + 1
    for k0 in range(1, int(max_k) + 1):
        null = fits[k0]
        try:
            alternative = fits[k0 + 1] = _fit(data, k0 + 1, model, options)
        except InputError as exc:  # the data cannot hold k0 + 1 components (distinct rows)
            rows.append(_row(k0, math.nan, math.nan, 0, 0, False, str(exc)))
            chosen = k0
            break
        if not alternative.ok:
            rows.append(_row(k0, math.nan, math.nan, 0, 0, False, _why(alternative)))
            chosen = k0
            break
        observed = 2.0 * (alternative.loglik - null.loglik)
        values, failed = _bootstrap(null, alternative, n, streams[k0 - 1], int(n_boot), workers)
        boot[k0] = values
        p_value = lrt_pvalue(values, observed)
        kept = int(np.isfinite(values).sum())
        note = "" if kept == n_boot else f"{n_boot - kept} samples failed {MAX_DRAWS} draws"
        rejected = bool(p_value <= level)
        rows.append(_row(k0, observed, p_value, kept, failed, rejected, note))
        if not rejected:
            chosen = k0
            break
    return LRTResult(
        table=pd.DataFrame(rows, columns=list(TABLE_COLUMNS)).astype(
            {"k0": "int64", "k1": "int64", "n_boot": "int64", "n_failed": "int64"}
        ),
        chosen_k=chosen,
        bootstrap=boot,
        fits=fits,
        model=_model_name(fits[1]) if gaussian else str(fits[1].family.name),
        level=float(level),
        max_k=int(max_k),
        n_boot=int(n_boot),
        seed=seed,
        n=float(fits[1].n),
        columns=list(fits[1].columns),
    )


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """The table's rows as plain dicts (one per test)."""
    return [{str(key): value for key, value in row.items()} for row in table.to_dict("records")]


def _why(fit: Any) -> str:
    return f"the fit with {fit.k} components is degenerate: {fit.degenerate}"


def _row(
    k0: int,
    statistic: float,
    p_value: float,
    n_boot: int,
    n_failed: int,
    rejected: bool,
    note: str,
) -> dict[str, Any]:
    return {
        "k0": k0,
        "k1": k0 + 1,
        "statistic": statistic,
        "p_value": p_value,
        "n_boot": n_boot,
        "n_failed": n_failed,
        "rejected": rejected,
        "note": note,
    }
