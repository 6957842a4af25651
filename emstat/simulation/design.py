"""A simulation design: a true mixture crossed with a grid of scenarios.

A design is pure data (it round-trips through :meth:`Design.to_dict`, which
``run.json`` records and which decides whether an output directory belongs to
the same study).  Everything a user types is validated here, with one clear
:class:`~emstat.errors.InputError` per problem.
"""

from __future__ import annotations

import functools
import itertools
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emstat.engine import EMControl
from emstat.errors import InputError
from emstat.mixture import gaussian
from emstat.mixture.classification_em import SEM_CONTROL
from emstat.mixture.covariance import check_inner_tol, get_covariance_model
from emstat.mixture.init import INIT_CHOICES
from emstat.mixture.prior import DataMoments, GaussianPrior, resolve_prior
from emstat.simulation.align import ALIGNMENT, match_means
from emstat.simulation.family_truth import FamilyTruth, family_truth_from_terms
from emstat.simulation.formula import parse_formula
from emstat.simulation.hmm_truth import HMMTruth, hmm_truth_from_mapping

__all__ = [
    "CRITERIA",
    "INTERVAL_METHODS",
    "Design",
    "FitSettings",
    "Grid",
    "IntervalSettings",
    "MissingSettings",
    "NoiseSettings",
    "Scenario",
    "TrueMixture",
    "load_design",
    "mixture_from_formula",
    "mixture_from_mapping",
    "share",
    "whole_number",
]

#: Criteria whose choice is recorded when a scenario selects k.
CRITERIA = ("bic", "aic", "icl")
#: The stopping rule and start of every fit; recorded in every study's design.
_BASE_FIT_KEYS = ("init", "tol", "criterion", "max_iter")
#: Issue 13's options; recorded only when set, so a study without them is the one it always was.
_OPTION_KEYS = ("algorithm", "prior", "inner_tol", "mclust_compatible", "noise")
_FIT_KEYS = (*_BASE_FIT_KEYS, *_OPTION_KEYS)
#: The options that serve the Gaussian family only.
_GAUSSIAN_ONLY = ("prior", "inner_tol", "mclust_compatible", "noise")
_ALGORITHMS = ("em", "cem", "sem")
_PRIOR_KEYS = ("shrinkage", "mean", "dof", "scale")
#: How cells of a replicate's data are deleted (see :class:`MissingSettings`).
MECHANISMS = ("mcar", "mar")
_MISSING_KEYS = ("rate", "mechanism")
_NOISE_KEYS = ("count", "share")
#: Interval methods a study may compare per replicate (through ``fit.conf_int(method=...)``).
INTERVAL_METHODS = ("wald", "bootstrap", "profile")
_INTERVAL_KEYS = ("methods", "n_boot", "kind", "interval", "tol", "start")
_BOOT_KINDS = ("pb", "bs", "wlbs", "jk")
_BOOT_INTERVALS = ("percentile", "bca", "basic", "normal")
_BOOT_STARTS = ("estimator", "fit")
_WEIGHT_SUM_TOL = 1e-6


@functools.lru_cache(maxsize=64)
def column_index(columns: tuple[str, ...]) -> pd.Index:
    """The columns of the frames drawn from a mixture, made once (an Index is immutable):
    building a frame from an Index costs a tenth of building it from a list of names."""
    return pd.Index(list(columns))


@dataclass(frozen=True)
class TrueMixture:
    """The data-generating Gaussian mixture.

    ``weights`` (k,), ``means`` (k, d), ``covariances`` (k, d, d), and the
    column names of the data drawn from it.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    columns: tuple[str, ...]

    @property
    def k(self) -> int:
        return int(self.weights.shape[0])

    @property
    def d(self) -> int:
        return int(self.means.shape[1])

    def centre(self) -> np.ndarray:
        """The weighted centre of the means, ``sum_k w_k mu_k``."""
        return np.asarray(self.weights @ self.means, dtype=float)

    def separated(self, factor: float) -> TrueMixture:
        """The mixture with every mean's distance from the weighted centre scaled by ``factor``."""
        centre = self.centre()
        means = centre + factor * (self.means - centre)
        return TrueMixture(self.weights, means, self.covariances, self.columns)

    def to_dict(self) -> dict[str, Any]:
        return {
            "columns": list(self.columns),
            "weights": self.weights.tolist(),
            "means": self.means.tolist(),
            "covariances": self.covariances.tolist(),
        }

    # --- what a study asks of its truth (the same for every family) ------------------
    family_name = "gaussian"
    alignment = ALIGNMENT
    alignment_method = (
        "Hungarian assignment on the squared Euclidean distance between fitted and true "
        "means (emstat.mixture.align.match_components)"
    )

    @property
    def default_model(self) -> str:
        return "V" if self.d == 1 else "VVV"

    def resolve_models(self, names: Sequence[str]) -> list[str]:
        """mclust's names of the covariance models ``names`` (aliases resolved)."""
        return [get_covariance_model(m, self.d).name for m in names]

    @functools.cached_property
    def sampler(self) -> gaussian.MixtureSampler:
        """The Cholesky factors and cumulative weights every draw uses, computed once."""
        return gaussian.MixtureSampler.of(self.weights, self.means, self.covariances)

    def draw(self, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
        """``n`` rows and each row's component (0-based)."""
        x, labels = self.sampler.draw(n, rng)
        # pandas' own copy, column by column: the fit then sums the columns of that
        # layout (a C-ordered frame's column sums round differently in the last bit)
        return pd.DataFrame(x, columns=column_index(self.columns)), labels

    def truth_table(self) -> tuple[list[str], np.ndarray]:
        """Parameter names of one component (``params`` order) and the truths (k, p)."""
        names = gaussian.parameter_names(list(self.columns))
        truths = np.empty((self.k, 1 + len(names)))
        truths[:, 0] = self.weights
        for col, (_, pos) in enumerate(names, start=1):
            truths[:, col] = (
                self.means[:, pos[0]] if len(pos) == 1 else self.covariances[:, pos[0], pos[1]]
            )
        return ["weight", *(name for name, _ in names)], truths

    def match(self, fit: Any) -> np.ndarray:
        """For each fitted component, its true component, or -1 (Hungarian on the means)."""
        theta = getattr(fit, "params_", None)  # a Gaussian fit's means, without a DataFrame
        means = fit.means.to_numpy() if theta is None else theta.means
        return match_means(self.means, means)

    def fit_arguments(self, model: str) -> dict[str, Any]:
        """What :func:`emstat.fit_mixture` takes besides the data, k, init, seed and control."""
        return {"model": model}

    def select_arguments(self, models: Sequence[str]) -> dict[str, Any]:
        return {"models": list(models)}


#: What a study draws from: a Gaussian mixture, a mixture of another family, or an HMM.
Truth = TrueMixture | FamilyTruth | HMMTruth


def _validate_mixture(
    weights: Any, means: Any, covariances: Any, columns: Sequence[str] | None
) -> TrueMixture:
    try:
        w = np.asarray(weights, dtype=float)
        mu = np.asarray(means, dtype=float)
        cov = np.asarray(covariances, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InputError(
            f"mixture: weights, means and covariances must be numbers ({exc})"
        ) from None
    if w.ndim != 1 or w.size < 1:
        raise InputError(f"mixture: weights must be a list of numbers, got shape {w.shape}")
    k = w.size
    if mu.ndim == 1 and mu.size == k:
        mu = mu[:, None]
    if mu.ndim != 2 or mu.shape[0] != k:
        raise InputError(f"mixture: means must be {k} rows (one per weight), got shape {mu.shape}")
    d = mu.shape[1]
    if d == 1 and cov.ndim == 1 and cov.size == k:
        cov = cov[:, None, None]
    if cov.shape != (k, d, d):
        raise InputError(
            f"mixture: covariances must be {k} matrices of {d} x {d} "
            f"(1-D: {k} variances), got shape {cov.shape}"
        )
    if not (np.all(np.isfinite(w)) and np.all(np.isfinite(mu)) and np.all(np.isfinite(cov))):
        raise InputError("mixture: weights, means and covariances must be finite")
    if np.any(w <= 0):
        raise InputError(f"mixture: every weight must be positive, got {w.tolist()}")
    if abs(math.fsum(w.tolist()) - 1.0) > _WEIGHT_SUM_TOL:
        raise InputError(f"mixture: the weights sum to {math.fsum(w.tolist()):g}, not 1")
    for j in range(k):
        if not np.allclose(cov[j], cov[j].T, rtol=1e-10, atol=1e-12):
            raise InputError(f"mixture: covariance of component {j + 1} is not symmetric")
        if np.any(np.linalg.eigvalsh(cov[j]) <= 0):
            what = "variance" if d == 1 else "covariance (not positive definite)"
            raise InputError(
                f"mixture: component {j + 1} has a non-positive {what}: {cov[j].tolist()}"
            )
    if columns is None:
        columns = ["x"] if d == 1 else [f"x{j + 1}" for j in range(d)]
    names = tuple(str(c) for c in columns)
    if len(names) != d or len(set(names)) != d:
        raise InputError(f"mixture: need {d} distinct column names, got {list(names)}")
    return TrueMixture(w, mu, cov, names)


def mixture_from_formula(formula: str) -> Truth:
    """The 1-D mixture of a formula: ``"0.5*N(-0.8,1) + 0.5*N(0.8,1)"`` (variances),
    ``"0.6*Pois(2) + 0.4*Pois(9)"`` or ``"0.3*Bin(20,0.15) + 0.7*Bin(20,0.6)"``."""
    terms = parse_formula(formula)
    if terms[0].distribution != "N":
        return family_truth_from_terms(terms)
    return _validate_mixture(
        [t.weight for t in terms], [t.mean for t in terms], [t.variance for t in terms], None
    )


def mixture_from_mapping(spec: Mapping[str, Any]) -> Truth:
    """A mixture from ``{"formula": ...}`` or ``{"weights", "means", "covariances"[, "columns"]}``.

    In 1-D ``means`` and ``covariances`` may be flat lists (the covariances
    are then variances).
    """
    if "formula" in spec:
        extra = set(spec) - {"formula"}
        if extra:
            raise InputError(f"mixture: give a formula or weights/means/covariances, not {extra}")
        return mixture_from_formula(str(spec["formula"]))
    missing = [key for key in ("weights", "means", "covariances") if key not in spec]
    if missing:
        raise InputError(
            f"mixture: missing {', '.join(missing)} (give weights, means and covariances, "
            "or a 1-D formula)"
        )
    unknown = set(spec) - {"weights", "means", "covariances", "columns"}
    if unknown:
        raise InputError(f"mixture: unknown keys {sorted(unknown)}")
    return _validate_mixture(
        spec["weights"], spec["means"], spec["covariances"], spec.get("columns")
    )


@dataclass(frozen=True)
class FitSettings:
    """How each replicate is fitted: the start, the stopping rule and the fitter's options.

    ``algorithm`` (``"em"``, ``"cem"``, ``"sem"``), ``prior`` (``"mclust"``
    or a mapping of :class:`emstat.GaussianPrior` fields), ``inner_tol``,
    ``mclust_compatible`` and ``noise`` (a uniform noise component fitted
    beside the k Gaussian ones) are passed to every replicate's
    :func:`emstat.fit_mixture` and :func:`emstat.select_mixture`.
    """

    init: str | None = None
    tol: float = EMControl().tol
    criterion: str = EMControl().criterion
    max_iter: int = EMControl().max_iter
    algorithm: str = "em"
    prior: str | dict[str, Any] | None = None
    inner_tol: float | None = None
    mclust_compatible: bool = False
    noise: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.prior, Mapping):  # a JSON-ready copy: the design is recorded as given
            object.__setattr__(self, "prior", _prior_table(self.prior))
        self.check()

    def check(self) -> None:
        """Refuse, before any replicate, a setting every fit would fail on.

        Raises
        ------
        InputError
            An unknown ``init`` method or ``algorithm``, a bad ``tol``,
            ``criterion`` or ``max_iter`` (see :class:`~emstat.engine.EMControl`),
            ``prior``, ``inner_tol``, or a flag that is not true or false.
        """
        if self.init is not None and self.init not in INIT_CHOICES:
            raise InputError(
                f"fit: unknown init {self.init!r}; choose one of {', '.join(INIT_CHOICES)}"
            )
        if self.algorithm not in _ALGORITHMS:
            raise InputError(
                f"fit: unknown algorithm {self.algorithm!r}; choose one of {', '.join(_ALGORITHMS)}"
            )
        for name in ("mclust_compatible", "noise"):
            if not isinstance(getattr(self, name), (bool, np.bool_)):
                raise InputError(f"fit: {name} must be true or false, got {getattr(self, name)!r}")
        if self.inner_tol is not None:
            try:
                check_inner_tol(self.inner_tol)
            except InputError as exc:
                raise InputError(f"fit: {exc}") from None
        if isinstance(self.prior, str) and self.prior != "mclust":
            raise InputError(
                f'fit: unknown prior {self.prior!r}; give "mclust" or a table of '
                f"{', '.join(_PRIOR_KEYS)}"
            )
        if self.prior is not None and not isinstance(self.prior, (str, Mapping)):
            raise InputError(
                f'fit: prior must be "mclust" or a table of {", ".join(_PRIOR_KEYS)}, '
                f"got {self.prior!r}"
            )
        hard = self.algorithm != "em" or self.init == "cem"
        if hard and self.noise:
            raise InputError(
                f'fit: algorithm = {self.algorithm!r} or init = "cem" cannot be combined '
                "with noise = true yet"
            )
        try:
            self.control()
        except InputError as exc:
            raise InputError(f"fit: {exc}") from None

    def control(self) -> EMControl:
        return EMControl(tol=self.tol, criterion=self.criterion, max_iter=self.max_iter)  # type: ignore[arg-type]

    def options(self) -> dict[str, Any]:
        """The keyword arguments of every replicate's fit and selection besides init and control.

        Only the options set are given, so a family study's fit is called as
        it always was.
        """
        out: dict[str, Any] = {}
        if self.algorithm != "em":
            out["algorithm"] = self.algorithm
        if self.prior is not None:
            out["prior"] = (
                self.prior if isinstance(self.prior, str) else GaussianPrior(**self.prior)
            )
        if self.inner_tol is not None:
            out["inner_tol"] = float(self.inner_tol)
        if self.mclust_compatible:
            out["mclust_compatible"] = True
        if self.noise:
            out["noise"] = True
        return out

    def set_options(self) -> list[str]:
        """The names of the options set (not at their defaults)."""
        return [name for name in _OPTION_KEYS if getattr(self, name) != _FIT_DEFAULTS[name]]

    def to_dict(self) -> dict[str, Any]:
        """The settings for ``run.json``: the start and stopping rule, and the options set."""
        spec = {name: getattr(self, name) for name in _BASE_FIT_KEYS}
        spec.update({name: getattr(self, name) for name in self.set_options()})
        return spec


def _prior_table(prior: Mapping[str, Any]) -> dict[str, Any]:
    """A prior's table of :class:`emstat.GaussianPrior` fields, checked, as plain JSON values."""
    unknown = set(prior) - set(_PRIOR_KEYS)
    if unknown:
        raise InputError(f"fit: unknown prior keys {sorted(unknown)} ({', '.join(_PRIOR_KEYS)})")
    try:
        GaussianPrior(**prior)
    except InputError as exc:
        raise InputError(f"fit: prior: {exc}") from None
    return {key: np.asarray(value, dtype=float).tolist() for key, value in prior.items()}


_FIT_DEFAULTS = {f.name: f.default for f in fields(FitSettings)}


@dataclass(frozen=True)
class MissingSettings:
    """Which cells of each replicate's drawn data are deleted before it is fitted.

    ``rate`` is a share between 0 and 1 (0: none deleted).  ``mechanism``:

    * ``"mcar"`` (missing completely at random, the default): every cell is
      deleted with probability ``rate``, independently;
    * ``"mar"`` (missing at random): the first column is never deleted;
      a cell of another column is deleted with probability
      ``2 * rate * (r - 1/2) / n``, where r is the rank of the row's
      first value among the n rows, so that rows high in the first column
      lose more and each other column loses a share ``rate`` on average
      (``rate`` at most 1/2; d >= 2).

    The deletions come from their own stream (see
    :func:`emstat.simulation.generate.missing_rng`): the data of replicate i
    are the same with and without missing cells.  The fits then use
    ``missing="em"``, whose estimates assume missing at random.
    """

    rate: float = 0.0
    mechanism: str = "mcar"

    def __post_init__(self) -> None:
        share("missing: rate", self.rate)
        if self.mechanism not in MECHANISMS:
            raise InputError(
                f"missing: unknown mechanism {self.mechanism!r}; choose one of "
                f"{', '.join(MECHANISMS)}"
            )
        if self.mechanism == "mar" and self.rate > 0.5:
            raise InputError(
                f"missing: rate must be at most 0.5 with mechanism mar, got {self.rate}"
            )

    @property
    def active(self) -> bool:
        return self.rate > 0

    def to_dict(self) -> dict[str, Any]:
        return {"rate": float(self.rate), "mechanism": self.mechanism}


@dataclass(frozen=True)
class NoiseSettings:
    """Outliers added to each replicate's data: ``count`` rows, or ``share`` times n.

    The m outliers (``count``, or ``round(share * n)``) are drawn uniformly
    over the bounding box of the n rows drawn from the mixture, from a
    stream of their own (:func:`emstat.simulation.generate.noise_rng`), and
    appended to them: the data have n + m rows, of which the first n are the
    same as without noise.  A fit with ``noise = true`` then has the truth
    ``m / (n + m)`` for its noise weight and ``w_k n / (n + m)`` for the
    weights of the Gaussian components; a fit without a noise component
    keeps the mixture's weights as their truths.
    """

    count: int = 0
    share: float = 0.0

    def __post_init__(self) -> None:
        whole_number("noise: count", self.count, 0)
        share("noise: share", self.share)
        if self.count and self.share:
            raise InputError("noise: give a count or a share of outliers, not both")

    @property
    def active(self) -> bool:
        return self.count > 0 or self.share > 0

    def rows(self, n: int) -> int:
        """The number of outliers added to ``n`` rows drawn from the mixture."""
        return int(self.count) if self.count else round(self.share * n)

    def to_dict(self) -> dict[str, Any]:
        return {"count": int(self.count)} if self.count else {"share": float(self.share)}


def check_table(value: Any, name: str, keys: Sequence[str]) -> None:
    """Refuse a design table ``name`` that is no mapping or has a key not in ``keys``."""
    if not isinstance(value, Mapping):
        raise InputError(f"{name} must be a table of {', '.join(keys)}, got {value!r}")
    unknown = set(value) - set(keys)
    if unknown:
        raise InputError(f"{name}: unknown keys {sorted(unknown)} ({', '.join(keys)})")


def noise_settings(noise: NoiseSettings | Mapping[str, Any] | None) -> NoiseSettings:
    """The :class:`NoiseSettings` of ``noise`` (a mapping of ``count`` or ``share``), checked."""
    if noise is None:
        return NoiseSettings()
    if isinstance(noise, NoiseSettings):
        return noise
    check_table(noise, "noise", _NOISE_KEYS)
    if not noise:
        raise InputError("noise: give the count or the share of outliers")
    return NoiseSettings(**noise)


@dataclass(frozen=True)
class IntervalSettings:
    """Which interval methods each replicate computes besides its fit's Wald intervals.

    ``methods`` from :data:`INTERVAL_METHODS`; the bootstrap refits ``n_boot``
    times, of ``kind`` (``pb`` parametric by default, ``bs``, ``wlbs``, ``jk``),
    with ``interval`` intervals (``percentile`` by default, ``bca``, ``basic``,
    ``normal``).  Every interval is at the 95% level, as the Wald coverage.

    ``start`` says where each refit starts.  ``"estimator"`` (the default):
    each refit repeats the replicate's own estimator on its resample (the
    [fit]'s start, restarts and stopping rule), where that can be done (a
    Gaussian fit from a named start; other fits start from the fit), since a
    study measures the coverage of the estimator's intervals.  ``"fit"``:
    mclust's start, EM from the fitted responsibilities, stopped by the
    relative rule at ``tol`` (used only then).  The seed's design, 199
    replicates of 99 refits: from the fit the weights' bootstrap sd is 0.22
    against their sampling sd 0.15 and the variances cover 0.89-0.92;
    repeating the estimator, 0.153 against 0.150 and 0.92-0.94.  A tighter
    tol does not mend the start (1e-12: coverage 0.81-0.89), nor does the
    estimator refit at 1e-7 instead of its own 1e-5 (sd 0.24).  1,000
    replicates of 199 refits repeating the estimator: weights 0.995, means
    0.989 and 0.982, variances 0.928 and 0.919 (Monte Carlo se 0.009).
    """

    methods: tuple[str, ...] = ()
    n_boot: int = 199
    kind: str = "pb"
    interval: str = "percentile"
    tol: float = 1e-7
    start: str = "estimator"

    def __post_init__(self) -> None:
        unknown = [m for m in self.methods if m not in INTERVAL_METHODS]
        if unknown:
            raise InputError(
                f"unknown interval method {unknown[0]!r}; choose from {', '.join(INTERVAL_METHODS)}"
            )
        whole_number("n_boot", self.n_boot, 2)
        if self.kind not in _BOOT_KINDS:
            raise InputError(
                f"unknown bootstrap kind {self.kind!r}; choose from {', '.join(_BOOT_KINDS)}"
            )
        if self.start not in _BOOT_STARTS:
            raise InputError(
                f"unknown bootstrap start {self.start!r}; choose from {', '.join(_BOOT_STARTS)}"
            )
        if self.interval not in _BOOT_INTERVALS:
            raise InputError(
                f"unknown bootstrap interval {self.interval!r}; choose from "
                f"{', '.join(_BOOT_INTERVALS)}"
            )
        try:
            self.control()
        except InputError as exc:
            raise InputError(f"intervals: {exc}") from None

    def control(self) -> EMControl:
        """The stopping rule of bootstrap refits that start from the fit."""
        return EMControl(tol=self.tol, criterion="rel")

    def bootstrap_options(self, fit: Any) -> dict[str, Any]:
        """What ``fit.conf_int(method="bootstrap")`` takes of these settings besides the seed:
        a refit that repeats the estimator keeps the fit's own stopping rule, one from the fit
        stops at ``tol``."""
        from emstat.inference.estimator_refit import resolve_start

        start = "fit" if self.start == "fit" else resolve_start(None, self.kind, fit)
        control = None if start == "estimator" else self.control()
        return {"n_boot": self.n_boot, "kind": self.kind, "start": start, "control": control}

    def to_dict(self) -> dict[str, Any]:
        return {"methods": list(self.methods), **{k: getattr(self, k) for k in _INTERVAL_KEYS[1:]}}


@dataclass(frozen=True)
class Grid:
    """The factors crossed into scenarios.

    ``select`` switches selection of k on or off; a selecting scenario fits
    every k in ``select_k`` with every model in ``select_models`` (default:
    the scenario's model) and records which one each criterion chose.
    """

    n: tuple[int, ...]
    separation: tuple[float, ...] = (1.0,)
    k: tuple[int, ...] = ()
    model: tuple[str, ...] = ()
    select: tuple[bool, ...] = (False,)
    select_k: tuple[int, ...] = ()
    select_models: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scenario:
    """One cell of the grid."""

    scenario: int
    n: int
    separation: float
    k: int
    model: str
    select: bool

    def describe(self) -> str:
        sel = ", selecting k" if self.select else ""
        return f"n={self.n}, separation={self.separation:g}, k={self.k}, model={self.model}{sel}"


@dataclass(frozen=True)
class Design:
    """Everything that decides a study's numbers: mixture, grid, replicates, seed, fit.

    ``missing`` says which cells of each replicate's data are deleted before
    it is fitted (none by default), ``noise`` how many outliers are added to
    them (none by default).
    """

    mixture: Truth
    grid: Grid
    reps: int
    seed: int
    fit: FitSettings = field(default_factory=FitSettings)
    intervals: IntervalSettings = field(default_factory=IntervalSettings)
    missing: MissingSettings = field(default_factory=MissingSettings)
    noise: NoiseSettings = field(default_factory=NoiseSettings)

    def scenarios(self) -> list[Scenario]:
        """The grid crossed in a fixed order (n, separation, k, model, select)."""
        cells = itertools.product(
            self.grid.n, self.grid.separation, self.grid.k, self.grid.model, self.grid.select
        )
        return [Scenario(i, *cell) for i, cell in enumerate(cells)]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description; two designs are the same study when these are equal.

        ``intervals`` appears only when the study compares interval methods,
        ``missing`` and ``noise`` only when it deletes cells or adds
        outliers, and the fit's options (such
        as ``algorithm``) only when they are set, so a study without them is
        the study it always was.
        """
        spec = {
            "mixture": self.mixture.to_dict(),
            "grid": {key: list(value) for key, value in asdict(self.grid).items()},
            "reps": self.reps,
            "seed": self.seed,
            "fit": self.fit.to_dict(),
        }
        if self.intervals.methods:
            spec["intervals"] = self.intervals.to_dict()
        if self.missing.active:
            spec["missing"] = self.missing.to_dict()
        if self.noise.active:
            spec["noise"] = self.noise.to_dict()
        return spec


# --------------------------------------------------------------------------- #
# validation of the grid
# --------------------------------------------------------------------------- #


def _as_tuple(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        return (value,)
    return tuple(value)


def _is_number(value: Any) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float, np.integer, np.floating))


def whole_number(name: str, value: Any, minimum: int) -> int:
    """``value`` as an int, if it is a whole number >= ``minimum``; else one clear error."""
    if not _is_number(value) or not math.isfinite(value) or int(value) != value:
        raise InputError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    if value < minimum:
        raise InputError(f"{name} must be a whole number >= {minimum}, got {int(value)}")
    return int(value)


def share(name: str, value: Any) -> float:
    """``value`` as a float, if it is a share between 0 and 1; else one clear error."""
    if not _is_number(value) or not 0 <= value <= 1:
        raise InputError(f"{name} must be a share between 0 and 1, got {value!r}")
    return float(value)


def _ints(name: str, values: Any, minimum: int) -> tuple[int, ...]:
    return tuple(dict.fromkeys(whole_number(name, v, minimum) for v in _as_tuple(values)))


def _floats(name: str, values: Any, minimum: float) -> tuple[float, ...]:
    out = []
    for v in _as_tuple(values):
        if not _is_number(v) or not math.isfinite(v) or v < minimum:
            raise InputError(f"{name}: {name}s must be finite numbers >= {minimum:g}, got {v!r}")
        out.append(float(v))
    return tuple(out)


def _flags(name: str, values: Any) -> tuple[bool, ...]:
    out = []
    for v in _as_tuple(values):
        if not isinstance(v, (bool, np.bool_)):
            raise InputError(f"{name} must be true or false, got {v!r}")
        out.append(bool(v))
    return tuple(out)


def _names(name: str, values: Any) -> tuple[str, ...]:
    for v in _as_tuple(values):
        if not isinstance(v, str):
            raise InputError(f"{name} must be names of covariance models, got {v!r}")
    return tuple(_as_tuple(values))


def make_design(
    mixture: Truth,
    *,
    n: Any,
    reps: int,
    seed: int = 0,
    k: Any = None,
    model: Any = None,
    separation: Any = None,
    select: Any = None,
    select_k: Any = None,
    select_models: Any = None,
    fit: FitSettings | Mapping[str, Any] | None = None,
    intervals: IntervalSettings | Mapping[str, Any] | Sequence[str] | str | None = None,
    n_boot: int | None = None,
    missing: MissingSettings | Mapping[str, Any] | None = None,
    noise: NoiseSettings | Mapping[str, Any] | None = None,
) -> Design:
    """Validate the factors of a study and build its :class:`Design`.

    ``intervals``: interval methods to compare (``"wald,bootstrap"``, a list,
    a mapping of :class:`IntervalSettings` fields, or the settings);
    ``n_boot`` overrides their bootstrap refits.  ``missing``: the cells to
    delete (a mapping of :class:`MissingSettings` fields, or the settings);
    ``noise``: the outliers to add (see :class:`NoiseSettings`).
    """
    if isinstance(reps, float):  # 4.0 from a JSON file is a count; 4.5 is not
        reps = whole_number("reps", reps, 1)
    if isinstance(reps, bool) or not isinstance(reps, (int, np.integer)) or reps < 1:
        raise InputError(f"reps must be a whole number >= 1, got {reps!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a whole number >= 0, got {seed!r}")
    ns = _ints("n", n, 1)
    if not ns:
        raise InputError("give at least one sample size n")
    ks = _ints("k", k, 1) or (mixture.k,)
    seps = _floats("separation", separation, 0.0) or (1.0,)
    models = _names("model", model) or (mixture.default_model,)
    sel_ks = _ints("select_k", select_k, 1)
    selects = _flags("select", select) or ((True,) if sel_ks else (False,))
    if any(selects) and not sel_ks:
        sel_ks = tuple(range(1, max(*ks, mixture.k) + 2))
    sel_models = _names("select_models", select_models)
    names = mixture.resolve_models([*models, *sel_models])
    models = tuple(dict.fromkeys(names[: len(models)]))
    sel_models = tuple(dict.fromkeys(names[len(models) :]))
    largest = max(mixture.k, *ks, *(sel_ks if any(selects) else ()))
    if min(ns) < largest:
        raise InputError(
            f"n = {min(ns)} is smaller than the number of components ({largest}); "
            "every sample needs at least one point per component"
        )
    if isinstance(mixture, HMMTruth) and any(selects):
        raise InputError("HMM studies do not select k yet; leave select and select_k out")
    settings = _fit_settings(fit, getattr(mixture, "fit_defaults", dict)())
    check_fit_for_truth(settings, mixture)
    _check_prior_dimension(settings, mixture, [*models, *sel_models])
    checked_missing = missing_settings(missing)
    _check_missing_for_truth(checked_missing, mixture, settings)
    checked_noise = noise_settings(noise)
    if checked_noise.active and not isinstance(mixture, TrueMixture):
        raise InputError("noise: outliers are added to Gaussian studies only; leave [noise] out")
    grid = Grid(ns, seps, ks, models, selects, sel_ks, sel_models)
    checked_intervals = interval_settings(intervals, n_boot)
    if isinstance(mixture, HMMTruth) and checked_intervals.methods:
        raise InputError("HMM studies report the fits' Wald intervals only; leave --intervals out")
    return Design(
        mixture, grid, int(reps), int(seed), settings, checked_intervals, checked_missing,
        checked_noise,
    )  # fmt: skip


def check_fit_for_truth(settings: FitSettings, truth: Truth) -> None:
    """Refuse fit options the study's family cannot take, naming the option.

    The Gaussian studies take every option; the other families take
    ``algorithm`` and ``init = "cem"``; HMM studies none of them.
    """
    options = settings.set_options()
    if isinstance(truth, HMMTruth):
        if options or settings.init == "cem":
            what = options[0] if options else "init = 'cem'"
            raise InputError(
                f"fit: {what} is not offered for HMM studies; their [fit] takes "
                f"{', '.join(_BASE_FIT_KEYS)} (init not 'cem')"
            )
        return
    if isinstance(truth, FamilyTruth):
        gaussian_only = [name for name in options if name in _GAUSSIAN_ONLY]
        if gaussian_only:
            raise InputError(
                f"fit: {gaussian_only[0]} serves Gaussian studies only; a {truth.family_name} "
                f"study's [fit] takes {', '.join(_BASE_FIT_KEYS)} and algorithm"
            )


def _check_prior_dimension(settings: FitSettings, truth: Truth, models: Sequence[str]) -> None:
    """Refuse a prior table whose mean, dof or scale does not fit the data's dimension."""
    if not isinstance(settings.prior, Mapping) or not isinstance(truth, TrueMixture):
        return
    d = truth.d
    moments = DataMoments(100.0, np.zeros(d), np.eye(d))  # only the dimension is checked
    for model in models:
        try:
            resolve_prior(GaussianPrior(**settings.prior), moments, 1, model)
        except InputError as exc:
            raise InputError(f"fit: prior: {exc}") from None


def missing_settings(missing: MissingSettings | Mapping[str, Any] | None) -> MissingSettings:
    """The :class:`MissingSettings` of ``missing`` (a mapping of its fields), checked."""
    if missing is None:
        return MissingSettings()
    if isinstance(missing, MissingSettings):
        return missing
    check_table(missing, "missing", _MISSING_KEYS)
    if "rate" not in missing:
        raise InputError("missing: give the rate, a share of cells between 0 and 1")
    return MissingSettings(**missing)


def _check_missing_for_truth(missing: MissingSettings, truth: Truth, fit: FitSettings) -> None:
    """Refuse deleted cells where the study's fits cannot take them (what fit_mixture refuses)."""
    if not missing.active:
        return
    if isinstance(truth, HMMTruth):
        raise InputError("missing: HMM studies do not delete cells; leave [missing] out")
    if isinstance(truth, TrueMixture):
        what = [
            *([f"algorithm = {fit.algorithm!r}"] if fit.algorithm != "em" else []),
            *(["init = 'cem'"] if fit.init == "cem" else []),
            *(["noise = true"] if fit.noise else []),
        ]
        if what:
            raise InputError(
                f"missing: a Gaussian fit with missing cells does not take {what[0]} yet; "
                "leave [missing] out or fit by EM (algorithm = 'em', no noise)"
            )
    if missing.mechanism == "mar" and truth.d < 2:
        raise InputError(
            "missing: mechanism mar needs at least 2 columns (the first is never deleted); "
            "use mcar for 1-D data"
        )


def interval_settings(
    intervals: IntervalSettings | Mapping[str, Any] | Sequence[str] | str | None,
    n_boot: int | None = None,
) -> IntervalSettings:
    """The :class:`IntervalSettings` of ``intervals`` (see :func:`make_design`), checked."""
    if isinstance(intervals, IntervalSettings):
        settings = intervals
    elif isinstance(intervals, Mapping):
        unknown = set(intervals) - set(_INTERVAL_KEYS)
        if unknown:
            raise InputError(
                f"intervals: unknown keys {sorted(unknown)} ({', '.join(_INTERVAL_KEYS)})"
            )
        values = dict(intervals)
        values["methods"] = _methods(values.get("methods"))
        settings = IntervalSettings(**values)
    else:
        settings = IntervalSettings(methods=_methods(intervals))
    if n_boot is not None:
        settings = replace(settings, n_boot=n_boot)
    return settings


def _methods(value: Any) -> tuple[str, ...]:
    """Interval methods from ``"wald,bootstrap"`` or a list, in order, each once."""
    if value is None:
        return ()
    items = value.split(",") if isinstance(value, str) else _as_tuple(value)
    names = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise InputError(
                f"intervals: give method names from {', '.join(INTERVAL_METHODS)}, got {value!r}"
            )
        names.append(item.strip().lower())
    return tuple(dict.fromkeys(names))


def _fit_settings(
    fit: FitSettings | Mapping[str, Any] | None, defaults: Mapping[str, Any] | None = None
) -> FitSettings:
    """The fit settings given, over the truth's ``defaults`` (an HMM's stopping rule)."""
    defaults = dict(defaults or {})
    if fit is None:
        return FitSettings(**defaults)
    if isinstance(fit, FitSettings):
        fit.check()
        return fit
    check_table(fit, "fit", _FIT_KEYS)
    if fit.get("algorithm") == "sem":  # SEM stops by flexmix's rule unless one is given
        sem = SEM_CONTROL
        defaults.update(tol=sem.tol, criterion=sem.criterion, max_iter=sem.max_iter)
    return FitSettings(**{**defaults, **fit})


# --------------------------------------------------------------------------- #
# design files
# --------------------------------------------------------------------------- #


def _read_design_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"no design file {str(path)!r}")
    text = path.read_text()
    if path.suffix.lower() == ".json":
        try:
            payload = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"design file {str(path)!r} is not valid JSON: {exc}") from None
    else:
        try:
            import tomllib
        except ImportError:  # pragma: no cover - Python 3.10
            raise InputError("reading TOML design files needs Python 3.11 or later") from None
        try:
            payload = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise InputError(f"design file {str(path)!r} is not valid TOML: {exc}") from None
    if not isinstance(payload, dict):
        raise InputError(f"design file {str(path)!r} must hold a table/object at the top")
    return payload


def load_design(path: str | Path, **overrides: Any) -> Design:
    """Read a TOML (or ``.json``) design file; non-None ``overrides`` replace its values.

    The file holds a ``[mixture]`` table (a 1-D ``formula``, or ``weights``,
    ``means``, ``covariances`` and optional ``columns``) or an ``[hmm]`` table
    (see :func:`~emstat.simulation.hmm_truth.hmm_truth_from_mapping`; ``n`` is
    then the length of each of its ``sequences``), a ``[grid]`` table
    (``n``, ``separation``, ``k``, ``model``, ``select``, ``select_k``,
    ``select_models``), top-level ``reps`` and ``seed``, an optional
    ``[fit]`` table, an optional ``[intervals]`` table (``methods``,
    ``n_boot``, ``kind``, ``interval``, ``tol``, ``start``: see :class:`IntervalSettings`) and an
    optional ``[missing]`` table (``rate``, ``mechanism`` ``"mcar"`` or
    ``"mar"``: see :class:`MissingSettings`) and an optional ``[noise]``
    table of outliers added to the data (``count`` or ``share``: see
    :class:`NoiseSettings`).

    ``[fit]`` takes ``init`` (``"hc"``, ``"quantile"``, ``"kmeans++"``,
    ``"random"``, ``"cem"``), ``tol``, ``criterion``, ``max_iter``,
    ``algorithm`` (``"em"``, ``"cem"``, ``"sem"``; SEM stops by flexmix's
    rule unless one is given), ``prior`` (``"mclust"`` or a
    ``[fit.prior]`` table of ``shrinkage``, ``mean``, ``dof``, ``scale``),
    ``inner_tol``, ``mclust_compatible`` and ``noise`` (true: a uniform
    noise component is fitted; its weight is the study's component 0, true
    value 0): see :class:`FitSettings` and :func:`emstat.fit_mixture`.
    Studies of the other families take ``algorithm`` and ``init = "cem"``
    besides the stopping rule, HMM studies the stopping rule and ``init``.
    """
    payload = _read_design_file(Path(path))
    tables = {"mixture", "hmm", "grid", "reps", "seed", "fit", "intervals", "missing", "noise"}
    unknown = set(payload) - tables
    if unknown:
        raise InputError(
            f"design file {str(path)!r}: unknown keys {sorted(unknown)} "
            "(mixture or hmm, grid, reps, seed, fit, intervals, missing, noise)"
        )
    if ("mixture" in payload) == ("hmm" in payload):
        raise InputError(f"design file {str(path)!r} needs a [mixture] table or an [hmm] table")
    if "hmm" in payload:
        truth: Truth = hmm_truth_from_mapping(payload["hmm"])
    elif isinstance(payload["mixture"], dict):
        truth = mixture_from_mapping(payload["mixture"])
    else:
        raise InputError(f"design file {str(path)!r} needs a [mixture] table")
    grid = payload.get("grid", {})
    allowed = {"n", "separation", "k", "model", "select", "select_k", "select_models"}
    if not isinstance(grid, dict) or set(grid) - allowed:
        raise InputError(f"design file {str(path)!r}: [grid] takes only {sorted(allowed)}")
    values: dict[str, Any] = {**grid, "reps": payload.get("reps"), "seed": payload.get("seed", 0)}
    values["fit"] = payload.get("fit")
    values["intervals"] = payload.get("intervals")
    values["missing"] = payload.get("missing")
    values["noise"] = payload.get("noise")
    values.update({key: value for key, value in overrides.items() if value is not None})
    if values.get("n") is None:
        raise InputError(f"design file {str(path)!r}: give the sample sizes n in [grid] or --n")
    if values.get("reps") is None:
        raise InputError(f"design file {str(path)!r}: give reps at the top or --reps")
    return make_design(truth, **values)
