"""Mixtures of any component family: pandas in, a :class:`FamilyMixtureResult` out.

``fit_mixture(df, k, family="poisson", ...)`` comes here for every family
but the multivariate Gaussian one.  The data are validated and encoded by
the family, EM runs on the one engine with the finite-mixture structure,
and the result speaks pandas again.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emstat._saved import SavedFields, number_array
from emstat._validation import describe_labels
from emstat.engine import EMControl, EMResult, fit_em, fit_em_restarts
from emstat.errors import InputError
from emstat.families import ProductFamily, family_from_spec, resolve_family
from emstat.mixture import classification_em
from emstat.mixture.finite import (
    FamilyData,
    FiniteMixture,
    MixtureStats,
    MixtureTheta,
    check_fixed_weights,
    log_responsibilities,
    observed_information_std_errors,
)
from emstat.mixture.init import StartingPartition, labels_to_resp, make_starts
from emstat.results import (
    CONVENTION_TEXT,
    MixtureCriteria,
    params_frame,
    restart_table,
    run_fields,
    run_payload,
)

__all__ = ["FAMILY_CONTROL", "FamilyMixtureResult", "fit_family_mixture", "load_family_fit"]

FORMAT = "emstat.FamilyMixtureResult/1"
#: The stopping rule of the other families unless one is given: count and latent
#: class mixtures often crawl, where a small change is not convergence (flexmix's
#: relative 1e-6 stops about 3e-4 short of the maximum).
FAMILY_CONTROL = EMControl(tol=1e-10, criterion="aitken", max_iter=100_000)

# Generated starts give this much responsibility to the other components, as
# flexmix's cluster= start does: a hard start would fix zero probabilities forever.
_START_SOFTNESS = 0.1


def as_frame(data: Any) -> pd.DataFrame:
    """A DataFrame of the data, or an error saying what data may be."""
    if isinstance(data, pd.DataFrame):
        frame = data
    elif isinstance(data, pd.Series):
        frame = data.to_frame(name=data.name if data.name is not None else "x")
    elif isinstance(data, np.ndarray) and data.ndim in (1, 2):
        array = data[:, None] if data.ndim == 1 else data
        names = ["x"] if array.shape[1] == 1 else [f"x{j + 1}" for j in range(array.shape[1])]
        frame = pd.DataFrame(array, columns=names)
    else:
        raise InputError(
            f"data must be a DataFrame, a Series or a 1-D/2-D array, got {type(data).__name__}"
        )
    if not frame.columns.is_unique:
        twice = frame.columns[frame.columns.duplicated()][0]
        raise InputError(f"column {twice!r} is named twice in the data")
    if frame.shape[0] == 0:
        raise InputError("the data have no rows")
    return frame.rename(columns=str)


def case_weights(frame: pd.DataFrame, weights: Any) -> np.ndarray | None:
    """Frequency weights per row (a weight of 2 counts a row twice): a column name or one
    number per row; none negative, NaN or infinite.  A copy: the caller's array may change."""
    if weights is None:
        return None
    if isinstance(weights, str):
        if weights not in frame.columns:
            raise InputError(f"no weights column {weights!r} in the data")
        column = frame[weights]
        values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
        text = np.isnan(values) & column.notna().to_numpy()
        if text.any():
            i = int(np.flatnonzero(text)[0])
            raise InputError(
                f"weights column {weights!r} holds {column.iloc[i]!r} at row {frame.index[i]!r}; "
                "weights are numbers"
            )
        what = f"weights column {weights!r}"
    else:
        if isinstance(weights, pd.Series) and not weights.index.equals(frame.index):
            if not weights.index.sort_values().equals(frame.index.sort_values()):
                raise InputError(
                    "the weights' index does not match the data's; pass weights.to_numpy() "
                    "to match them by position"
                )
            weights = weights.reindex(frame.index)
        try:
            values = np.array(weights, dtype=float)
        except (TypeError, ValueError):
            raise InputError("weights must be numbers, one per row") from None
        if values.ndim == 2 and values.shape[-1] == 1:
            values = values.reshape(-1)
        if values.ndim != 1:
            raise InputError(f"weights must be one number per row, got shape {values.shape}")
        what = "weights"
        if values.shape[0] != frame.shape[0]:
            raise InputError(
                f"{what} have {values.shape[0]} entries; the data have {frame.shape[0]} rows"
            )
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        verb = "hold" if what == "weights" else "holds"
        raise InputError(
            f"{what} {verb} {values[i]:g} at row {frame.index[i]!r}; "
            "weights must be finite and >= 0"
        )
    if values.sum() <= 0:
        raise InputError(f"{what} are all zero")
    return values


def _softened(start: StartingPartition) -> StartingPartition:
    k = start.resp.shape[1]
    if k == 1 or start.method not in ("kmeans++", "random", "quantile"):
        return start
    resp = start.resp * (1.0 - _START_SOFTNESS) + (1.0 - start.resp) * _START_SOFTNESS / (k - 1)
    return StartingPartition(resp, start.method, start.rows)


def _starts(
    features: np.ndarray, k: int, init: Any, n_init: int, rng: np.random.Generator
) -> list[StartingPartition]:
    if init is None:
        init = "quantile" if features.shape[1] == 1 else "kmeans++"
    if isinstance(init, str) and init == "hc":
        raise InputError(
            "init='hc' is the Gaussian family's start; use 'kmeans++', 'random', 'quantile' "
            "or your own labels"
        )

    def deterministic(method: str, kk: int) -> StartingPartition:
        from emstat.mixture import hc

        if features.shape[1] != 1:
            raise InputError("init='quantile' is for one column; use 'kmeans++' or 'random'")
        return StartingPartition(labels_to_resp(hc.qclass(features[:, 0], kk), kk), "quantile")

    return [_softened(s) for s in make_starts(features, k, init, n_init, rng, deterministic)]


@dataclass(frozen=True, eq=False)
class FamilyMixtureResult(MixtureCriteria):
    """A fitted mixture of a component family (Poisson, binomial, categorical, normal, mixed).

    Components are numbered 1..k.  ``loglik`` is the observed-data
    log-likelihood at the estimate (with the binomial coefficients and
    ``log x!``, as R's densities); ``objective`` is what EM maximised.
    Criteria: see :class:`emstat.results.FitCriteria`.  A degenerate fit has
    ``degenerate`` set to the reason and NaN criteria.
    """

    family: ProductFamily
    k: int
    n: float
    n_rows: int
    theta: MixtureTheta | None
    loglik: float
    objective: float
    n_params: int
    n_iter: int
    converged: bool
    stop_reason: str
    trace: np.ndarray
    seconds: float
    control: EMControl
    init: str
    classification_loglik: float = math.nan
    degenerate: str | None = None
    fixed_weights: np.ndarray | None = field(default=None, repr=False)
    restarts: pd.DataFrame | None = field(default=None, repr=False)
    std_errors: np.ndarray | None = field(default=None, repr=False)
    std_error_method: str | None = None
    data_: FamilyData | None = field(default=None, repr=False)
    algorithm: str = "em"  # "em", "cem" (classification EM) or "sem" (stochastic EM)

    @property
    def model(self) -> str:
        """The family's name: the variant axis of a selection table."""
        return self.family.name

    @property
    def columns(self) -> list[str]:
        return self.family.columns

    @property
    def ok(self) -> bool:
        return self.degenerate is None and self.theta is not None

    @property
    def _model(self) -> FiniteMixture:
        return FiniteMixture(self.family, self.k, self.fixed_weights)

    def _require_ok(self) -> MixtureTheta:
        if self.theta is None or self.degenerate is not None:
            raise InputError(
                f"this {self.family.name} fit with k = {self.k} is degenerate: {self.degenerate}"
            )
        return self.theta

    @cached_property
    def _std_errors_and_reason(self) -> tuple[np.ndarray, str | None]:
        theta = self._require_ok()
        if self.std_errors is not None:
            return self.std_errors, None
        if self.algorithm != "em":
            return np.full(self._model.reported(theta).shape[0], np.nan), (
                f"an estimate of algorithm {self.algorithm!r}, not a maximum of the likelihood"
            )
        if self.data_ is None:
            return np.full(self._model.reported(theta).shape[0], np.nan), "no data kept"
        return observed_information_std_errors(self._model, theta, self.data_)

    @property
    def _std_error_label(self) -> str:
        if self.std_error_method:
            return self.std_error_method
        return "observed information" if self.algorithm == "em" else "not computed"

    @property
    def std_error_note(self) -> str | None:
        """Why the standard errors are NaN, when they are."""
        return self._std_errors_and_reason[1]

    @property
    def std_error_reason(self) -> str | None:
        """Why some standard errors are NaN (naming the parameters), or None."""
        return self._std_errors_and_reason[1] if self.ok else self.degenerate

    def conf_int(self, level: float = 0.95, method: str = "wald", **options: Any) -> pd.DataFrame:
        """``params`` with intervals at ``level`` by ``method``, and a ``method`` column.

        ``"wald"``: weights and probabilities on the logit scale, rates and
        variances on the log scale, so no interval leaves the parameter
        space.  ``"bootstrap"``: :meth:`bootstrap`'s intervals (options
        ``boot=``, or ``n_boot``, ``kind``, ``seed``, ``workers``,
        ``control``, ``scheduler``; and ``interval``).  ``"profile"``:
        profile-likelihood intervals of any estimated parameter
        (``parameters=["2:rate[x]"]``; the log-likelihood maximised over
        the other free parameters).
        """
        from emstat.inference.dispatch import conf_int_by_method

        return conf_int_by_method(self, level, method, options, self._wald_table)

    def _wald_table(self, level: float) -> pd.DataFrame:
        theta = self._require_ok()
        names, _, scales = self.family.rows(theta.components)
        estimate = self._model.reported(theta)
        std_err, _ = self._std_errors_and_reason
        return params_frame(
            self.k,
            ["weight", *names],
            estimate,
            std_err,
            # a weight fixed by the user or by k = 1 has no interval to compute
            ["identity" if self.fixed_weights is not None or self.k == 1 else "logit", *scales],
            level,
        )

    def bootstrap(
        self,
        n_boot: int = 999,
        kind: str = "bs",
        seed: Any = None,
        workers: int = 1,
        control: EMControl | None = None,
        scheduler: Any = None,
        start: str | None = "fit",
    ) -> Any:
        """Refit ``n_boot`` resamples from the fitted parameters (``"bs"``, ``"wlbs"``,
        ``"pb"`` or ``"jk"``, as mclust's ``MclustBootstrap``): a
        :class:`~emstat.inference.BootstrapResult`; ``scheduler`` (a Dask
        address or ``distributed.Client``) runs the refits on that cluster.
        ``start="fit"`` starts each refit from the fitted parameters, as
        mclust does; ``"estimator"`` repeats the fit's start (quantile,
        kmeans++, random), restarts and stopping rule on each resample (EM
        fits, not CEM or SEM ones)."""
        from emstat.inference.bootstrap import bootstrap_fit

        return bootstrap_fit(
            self,
            n_boot=n_boot,
            kind=kind,
            seed=seed,
            workers=workers,
            control=control,
            scheduler=scheduler,
            start=start,
        )

    @cached_property
    def params(self) -> pd.DataFrame:
        """One row per estimate: component, parameter, estimate, std_err, ci_low, ci_high
        (95% Wald), scale."""
        return self.conf_int(0.95)

    # --- predictions ------------------------------------------------------------------
    def _encode(self, data: Any) -> tuple[FamilyData, pd.Index]:
        frame = as_frame(data)
        return FamilyData(self.family.encode(frame)), frame.index

    def predict_proba(self, data: Any) -> pd.DataFrame:
        """Responsibilities, one column per component, aligned to the data's index."""
        encoded, index = self._encode(data)
        log_resp, _ = log_responsibilities(self.family, self._require_ok(), encoded)
        return pd.DataFrame(np.exp(log_resp), index=index, columns=self._labels)

    def predict(self, data: Any) -> pd.Series:
        """The most probable component (1..k) of every row, aligned to the data's index."""
        proba = self.predict_proba(data)
        return pd.Series(
            np.argmax(proba.to_numpy(), axis=1) + 1, index=proba.index, name="component"
        )

    def score_samples(self, data: Any) -> pd.Series:
        """Each row's log density under the fitted mixture (missing values marginalised)."""
        encoded, index = self._encode(data)
        _, row = log_responsibilities(self.family, self._require_ok(), encoded)
        return pd.Series(row, index=index, name="loglik")

    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> pd.DataFrame:
        """Draw ``n`` rows, with the component each came from.

        Trials or exposures given as columns (and a multinomial row's total)
        are drawn from the fitted rows (with replacement); trials and
        exposures are returned beside the draws.
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
            raise InputError(f"the number of rows to sample must be a whole number >= 0, got {n!r}")
        theta = self._require_ok()
        rng = np.random.default_rng(seed)
        labels = rng.choice(self.k, size=int(n), p=theta.weights)
        extras: list[np.ndarray | None] = []
        frame: dict[str, np.ndarray] = {}
        picks = None
        for position, part in enumerate(self.family.parts):
            source = getattr(part, "trials", None) or getattr(part, "exposure", None)
            if isinstance(source, str):
                if self.data_ is None:
                    raise InputError(f"sampling needs the fitted rows' {source!r} column")
                if picks is None:
                    picks = rng.integers(self.data_.n, size=int(n))
                block = self.data_.blocks[position]
                extra = None if block.extra is None else block.extra[picks]
                frame[source] = np.asarray(extra)
            elif isinstance(source, (int, float)):
                extra = np.full(int(n), float(source))
            elif self.data_ is not None and self.data_.blocks[position].extra is not None:
                totals = self.data_.blocks[position].extra  # a multinomial row's total
                if picks is None:
                    picks = rng.integers(self.data_.n, size=int(n))
                extra = None if totals is None else totals[picks]
            else:
                extra = None
            extras.append(extra)
        draws = self.family.sample(theta.components, labels, extras, rng)
        out = pd.DataFrame({**draws, **{k: v for k, v in frame.items() if k not in draws}})
        out["component"] = labels + 1
        return out

    # --- text ---------------------------------------------------------------------
    def plot(self, kind: str | None = None, ax: Any = None, **options: Any) -> Any:
        """Draw the fit: ``"frequency"`` (counts), ``"density"`` (normal), ``"levels"``
        (categorical), ``"trace"`` or ``"stopping"``, on ``ax``.

        Returns the Axes; options and details: :func:`emstat.plotting.plot_family`.
        """
        from emstat.plotting import plot_family

        return plot_family(self, kind, ax, **options)

    def summary(self) -> str:
        """A plain-text summary of the fit."""
        head = [
            f"{self.family.name.capitalize()} mixture: {self.family.describe()}; k = {self.k}, "
            f"n = {self.n:g}",
            f"init: {self.init}; stopping rule: {self.control.describe()}",
        ]
        if self.algorithm != "em":
            head.append(classification_em.algorithm_text(self.algorithm, self.objective))
        if not self.ok:
            return "\n".join([*head, f"degenerate fit: {self.degenerate}"])
        status = "converged" if self.converged else f"NOT converged ({self.stop_reason})"
        note = self.std_error_note
        head += [
            f"log-likelihood {self.loglik:.6f}; {self.n_params} parameters; {status} after "
            f"{self.n_iter} iterations ({self.seconds:.3f} s)",
            f"BIC {self.bic:.4f}  AIC {self.aic:.4f}  ICL {self.icl:.4f}  ({CONVENTION_TEXT})",
            f"standard errors: {self._std_error_label}"
            + (f" (not available: {note})" if note else "")
            + "; 95% Wald intervals on the scale shown",
            "",
        ]
        return "\n".join(head) + self.params_text()

    # --- persistence --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        theta = self.theta
        finite = lambda v: None if v is None or not math.isfinite(v) else float(v)  # noqa: E731
        return {
            "format": FORMAT,
            "family": self.family.to_spec(),
            "k": self.k,
            "n": self.n,
            "n_rows": self.n_rows,
            "weights": None if theta is None else theta.weights.tolist(),
            "components": None if theta is None else [c.tolist() for c in theta.components],
            "fixed_weights": None if self.fixed_weights is None else self.fixed_weights.tolist(),
            "loglik": finite(self.loglik),
            "objective": finite(self.objective),
            "n_params": self.n_params,
            **run_payload(self),
            "seconds": self.seconds,
            "init": self.init,
            "classification_loglik": finite(self.classification_loglik),
            "degenerate": self.degenerate,
            "std_errors": None
            if not self.ok
            else [finite(v) for v in self._std_errors_and_reason[0]],
            **({"algorithm": self.algorithm} if self.algorithm != "em" else {}),
        }

    def save(self, path: str | Path) -> Path:
        """Write the fit as JSON; :func:`emstat.load_fit` reads it back."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path


def load_family_fit(payload: Any) -> FamilyMixtureResult:
    """A fit saved by :meth:`FamilyMixtureResult.save`, checked field by field.

    Every problem is one :class:`InputError` naming the field.
    """
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else None
        raise InputError(f"not a saved emstat family mixture fit (format {found!r})")
    fields = SavedFields(payload)
    family = family_from_spec(fields.get("family"))
    k = fields.integer("k", 1)
    fixed = None
    if payload.get("fixed_weights") is not None:
        fixed = check_fixed_weights(fields.array("fixed_weights", (k,)), k)
    model = FiniteMixture(family, k, fixed)
    n_params = fields.integer("n_params", 0)
    if n_params != model.n_params():
        raise InputError(f"n_params is {n_params}; this family with k = {k} has {model.n_params()}")
    n = fields.number("n")
    if n <= 0:
        raise InputError(f"n must be > 0, got {n!r}")
    theta = None
    if payload.get("weights") is not None:
        components = fields.get("components")
        if not isinstance(components, list) or len(components) != len(family.parts):
            raise InputError("components must hold one table of parameters per column part")
        theta = MixtureTheta(
            fields.array("weights", (k,)),
            tuple(
                number_array(table, f"components[{j}]", (k, len(part.parameter_names())))
                for j, (part, table) in enumerate(zip(family.parts, components, strict=True))
            ),
        )
        _check_saved_theta(family, theta, k)
    size = model.reported(theta).shape[0] if theta is not None else 0
    degenerate = fields.optional_string("degenerate")
    return FamilyMixtureResult(
        family=family,
        k=k,
        n=n,
        n_rows=fields.integer("n_rows", 1),
        theta=theta,
        loglik=fields.number("loglik", nullable=True),
        objective=fields.number("objective", nullable=True),
        n_params=n_params,
        **fields.run(),
        seconds=fields.number("seconds"),
        init=fields.string("init"),
        classification_loglik=fields.number("classification_loglik", nullable=True),
        degenerate=degenerate,
        fixed_weights=fixed,
        std_errors=fields.std_errors(theta is not None, size),
        std_error_method=fields.optional_string("std_error_method"),
        algorithm=classification_em.check_algorithm(payload.get("algorithm", "em")),
    )


def _check_saved_theta(family: ProductFamily, theta: MixtureTheta, k: int) -> None:
    w = theta.weights
    if w.shape != (k,) or not np.isfinite(w).all() or (w < 0).any():
        raise InputError(f"the saved weights {w.tolist()} are not {k} numbers >= 0")
    if abs(w.sum() - 1.0) > 1e-8:
        raise InputError(f"the saved weights sum to {w.sum():.6g}, not 1")
    if len(theta.components) != len(family.parts):
        raise InputError("the saved parameters do not match the saved family's columns")
    for part, values in zip(family.parts, theta.components, strict=True):
        expected = len(part.parameter_names())
        if values.shape != (k, expected) or not np.isfinite(values).all():
            raise InputError(f"the saved parameters of column {part.column!r} are malformed")
        scale = part.scales()
        logit_cols = [j for j, s in enumerate(scale) if s == "logit"]
        if logit_cols and ((values[:, logit_cols] < 0) | (values[:, logit_cols] > 1)).any():
            raise InputError(f"the saved probabilities of column {part.column!r} leave [0, 1]")
        log_cols = [j for j, s in enumerate(scale) if s == "log"]
        if log_cols and (values[:, log_cols] < 0).any():
            raise InputError(f"the saved rates or variances of column {part.column!r} are negative")


@dataclass
class FamilyFitter:
    """Fits k-component mixtures of one family to one data set (selection reuses it)."""

    family: ProductFamily
    data: FamilyData
    control: EMControl
    init: Any = None
    n_init: int = 1
    seed: int | None = 0
    fixed_weights: Any = None
    algorithm: str = "em"

    def fit(self, k: int) -> FamilyMixtureResult:
        from emstat._validation import check_k

        algorithm = classification_em.check_algorithm(self.algorithm)
        k = check_k(k, lambda: _distinct_rows(self.data))
        fixed = check_fixed_weights(self.fixed_weights, k)
        model = FiniteMixture(self.family, k, fixed)
        rng = np.random.default_rng(self.seed)
        # CEM and SEM: the same model's M-step after a hard E-step (SEM draws from rng)
        runner = classification_em.hard_model(model, algorithm, rng)
        if isinstance(self.init, Mapping):
            theta0 = theta_from_mapping(model, self.init)
            em = fit_em(
                runner,
                self.data,
                theta0=theta0,
                control=self.control,
                n_obs=self.data.total_weight(),
            )
            return self._result(model, em, "given parameters", None)
        features = self.family.start_features(self.data.blocks)
        cem_init = isinstance(self.init, str) and self.init == "cem"
        starts = _starts(features, k, None if cem_init else self.init, self.n_init, rng)
        cem_notes: list[str] = []

        def run(start: StartingPartition) -> EMResult[MixtureTheta, MixtureStats]:
            data = self.data if start.rows is None else self.data.take(start.rows)
            # CEM (the run's, or init='cem''s) starts from the hardened start partition
            hardened = classification_em.HardEM(model, "cem") if cem_init else runner
            stats0 = hardened.stats_from_responsibilities(data, start.resp)
            if cem_init:
                # CEM from the default start, then EM from CEM's partition
                stats0, note = classification_em.cem_then_em(
                    model, self.data, stats0, self.control, n_obs=self.data.total_weight()
                )
                cem_notes.append(note)
            return fit_em(
                runner,
                self.data,
                stats0=stats0,
                control=self.control,
                n_obs=self.data.total_weight(),
                # SEM ends at its cap as a rule, not as a failure to converge
                warn=len(starts) == 1 and algorithm != "sem",
            )

        best, runs = fit_em_restarts(run, starts)
        best = classification_em.best_run(best, runs, algorithm)
        position = next(i for i, r in enumerate(runs) if r is best)
        method = starts[position].method
        if cem_notes:
            method = f"cem from {method} ({cem_notes[position]}), then EM"
        restarts = restart_table(runs, [s.method for s in starts]) if len(runs) > 1 else None
        return self._result(model, best, method, restarts)

    def fit_or_note(self, k: int) -> FamilyMixtureResult:
        """The fit, or, where the data cannot support k components, a result saying so."""
        try:
            return self.fit(k)
        except InputError as exc:
            if "distinct rows" not in str(exc):
                raise
            model = FiniteMixture(self.family, k)
            failed: EMResult[MixtureTheta, MixtureStats] = EMResult(
                None,
                None,
                math.nan,
                np.empty(0),
                0,
                False,
                "not estimable",
                0.0,
                self.control,
                str(exc),
            )
            return self._result(model, failed, "none", None)

    def _result(
        self,
        model: FiniteMixture,
        em: EMResult[MixtureTheta, MixtureStats],
        init: str,
        restarts: pd.DataFrame | None,
    ) -> FamilyMixtureResult:
        theta = em.theta if em.ok else None
        classification = (
            em.stats.classification_loglik
            if theta is not None and em.stats is not None
            else math.nan
        )
        return FamilyMixtureResult(
            family=self.family,
            k=model.k,
            n=self.data.total_weight(),
            n_rows=self.data.n,
            theta=theta,
            objective=em.objective if theta is not None else math.nan,
            n_params=model.n_params(),
            init=init,
            classification_loglik=classification,
            **run_fields(em, theta is not None),
            fixed_weights=model.fixed_weights,
            restarts=restarts,
            data_=self.data if theta is not None else None,
            algorithm=classification_em.check_algorithm(self.algorithm),
        )


def theta_from_mapping(model: FiniteMixture, start: Mapping[str, Any]) -> MixtureTheta:
    """Start parameters by name, one value per component: ``{"prob[heads]": [0.6, 0.5]}``.

    ``"weight"`` is optional (equal weights, or the fixed ones); every other
    parameter of the family must be given.
    """
    k = model.k
    names, _, scales = model.family.rows(
        tuple(np.zeros((k, len(p.parameter_names()))) for p in model.family.parts)
    )
    unknown = [key for key in start if key != "weight" and key not in names]
    if unknown:
        raise InputError(
            f"init names {describe_labels(unknown)}, not a parameter of this family; "
            f"its parameters are {describe_labels(['weight', *names], 20)}"
        )
    missing = [name for name in names if name not in start]
    if missing:
        raise InputError(f"init gives no start value for {describe_labels(missing)}")

    def values(name: str) -> np.ndarray:
        try:
            array = np.asarray(start[name], dtype=float).reshape(-1)
        except (TypeError, ValueError):
            raise InputError(f"init[{name!r}] must be {k} numbers") from None
        if array.shape[0] != k or not np.isfinite(array).all():
            raise InputError(f"init[{name!r}] must be {k} finite numbers, got {start[name]!r}")
        return array

    table = np.column_stack([values(name) for name in names])
    for j, (name, scale) in enumerate(zip(names, scales, strict=True)):
        column = table[:, j]
        if (scale == "logit" and ((column < 0) | (column > 1)).any()) or (
            scale == "log" and (column <= 0).any()
        ):
            space = "probabilities in [0, 1]" if scale == "logit" else "numbers > 0"
            raise InputError(f"init[{name!r}] must be {space}, got {column.tolist()}")
    if model.fixed_weights is not None and "weight" in start:
        raise InputError("give the weights either as fixed_weights or in init, not both")
    if "weight" in start:
        weights = check_fixed_weights(values("weight"), k)
    else:
        weights = model.fixed_weights if model.fixed_weights is not None else np.full(k, 1.0 / k)
    components = []
    col = 0
    for part in model.family.parts:
        width = len(part.parameter_names())
        components.append(table[:, col : col + width])
        col += width
    return MixtureTheta(np.asarray(weights), tuple(components))


def _distinct_rows(data: FamilyData) -> int:
    stacked = np.column_stack(
        [np.nan_to_num(b.values, nan=-1.5).reshape(data.n, -1) for b in data.blocks]
    )
    return len(np.unique(stacked, axis=0))


def prepare_family_data(
    data: Any,
    family: Any,
    columns: Sequence[str] | None,
    *,
    weights: Any = None,
    trials: Any = None,
    exposure: Any = None,
) -> tuple[ProductFamily, FamilyData]:
    """Validate and encode the data for ``family``; rows missing every column are refused.

    Rows of weight 0 carry no information and are left out (of the starts too).
    """
    frame = as_frame(data)
    reserved = [weights] if isinstance(weights, str) else []
    row_weights = case_weights(frame, weights)
    if row_weights is not None and (row_weights == 0).any():
        frame, row_weights = frame[row_weights > 0], row_weights[row_weights > 0]
    bound = resolve_family(
        family, frame, columns, trials=trials, exposure=exposure, reserved=reserved
    )
    blocks = bound.encode(frame)
    empty = np.logical_and.reduce([~block.observed for block in blocks])
    if empty.any():
        rows = list(frame.index[empty])
        raise InputError(f"row {describe_labels(rows)} has every modelled column missing; drop it")
    return bound, FamilyData(blocks, row_weights)


def fit_family_mixture(
    data: Any,
    k: int,
    family: Any,
    *,
    columns: Sequence[str] | None = None,
    weights: Any = None,
    trials: Any = None,
    exposure: Any = None,
    fixed_weights: Any = None,
    init: Any = None,
    n_init: int = 1,
    seed: int | None = 0,
    control: EMControl | None = None,
    algorithm: str = "em",
) -> FamilyMixtureResult:
    """A k-component mixture of ``family`` by EM, CEM or SEM (see :func:`emstat.fit_mixture`)."""
    bound, encoded = prepare_family_data(
        data, family, columns, weights=weights, trials=trials, exposure=exposure
    )
    fitter = FamilyFitter(
        bound,
        encoded,
        control or FAMILY_CONTROL,
        init=init,
        n_init=n_init,
        seed=seed,
        fixed_weights=fixed_weights,
        algorithm=algorithm,
    )
    return fitter.fit(k)
