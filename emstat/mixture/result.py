"""What a Gaussian mixture fit gives back: estimates, criteria, predictions."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from emstat._saved import SavedFields
from emstat._validation import as_numeric_data
from emstat.engine import EMControl
from emstat.errors import DegenerateFitError, InputError
from emstat.mixture import gaussian
from emstat.mixture import missing as incomplete
from emstat.mixture.classification_em import algorithm_text, loaded_algorithm, saved_algorithm
from emstat.mixture.gaussian import GaussianParams, parameter_names, reported_vector
from emstat.results import MixtureCriteria, ParamsArrays, params_arrays, run_payload

if TYPE_CHECKING:
    from emstat.inference.bootstrap import BootstrapResult
    from emstat.mixture.known_labels import KnownLabels

__all__ = ["MixtureResult", "load_fit", "parameter_names", "reported_vector"]

#: Version 2 adds the fit's centre and the means about it (full precision far from 0).
_FORMAT = "emstat.MixtureResult/2"
_FORMATS = ("emstat.MixtureResult/1", _FORMAT)
#: The level of ``params``' intervals.
_PARAMS_LEVEL = 0.95


@dataclass(frozen=True, eq=False)
class MixtureResult(MixtureCriteria):
    """A fitted Gaussian mixture.

    Components are numbered 1..k in every output.  Information criteria
    (:class:`emstat.results.FitCriteria`) use the convention of R's
    ``BIC()`` and scikit-learn, smaller is better: ``bic = -2 loglik + p log
    n``, ``aic = -2 loglik + 2 p`` and ``icl = bic - 2 Σ_i Σ_k C_ik log
    z_ik`` (C the hard assignment); ``bic_mclust`` and ``icl_mclust`` are
    mclust's (larger is better).

    A degenerate fit (a collapsed component, a singular covariance) has
    ``degenerate`` set to the reason and NaN criteria.

    A fit with mclust's noise component (``fit_mixture(..., noise=...)``)
    has ``noise_weight`` (its proportion π_0) and ``vinv`` (its density
    V⁻¹); ``weights`` are then the Gaussian components' π_1..π_k, summing
    to 1 - π_0, and ``predict_proba`` has the noise's column ``0`` last (as
    mclust's z), ``predict`` labels noise 0.  ``k = 0`` is the noise-only fit.
    """

    model: str
    k: int
    columns: list[str]
    n: float  # the rows fitted, or the sum of their case weights
    params_: GaussianParams | None
    loglik: float
    n_params: int
    n_iter: int
    converged: bool
    stop_reason: str
    trace: np.ndarray
    seconds: float
    control: EMControl
    init: str
    classification_loglik: float = math.nan  # Σ_i Σ_k C_ik log z_ik on the data fitted
    degenerate: str | None = None
    restarts: pd.DataFrame | None = field(default=None, repr=False)
    std_errors: np.ndarray | None = field(default=None, repr=False)
    std_error_method: str | None = None
    reg_covar: float = 0.0  # the ridge added to each scatter per M-step (0: the MLE)
    prior: str | None = None  # the prior of a MAP fit, in words (None: the MLE)
    known_labels: KnownLabels | None = None  # the rows whose class was known (semi-supervised)
    noise_weight: float | None = None  # the noise component's proportion (None: no noise)
    vinv: float | None = None  # the noise component's density, 1 / hypervolume
    algorithm: str = "em"  # "em", "cem" (classification EM) or "sem" (stochastic EM)
    objective: float = math.nan  # what the algorithm maximised (CEM: the classification loglik)
    # the rows fitted, or their out-of-core source, for the standard errors
    data_: Any = field(default=None, repr=False)
    # how many cells were missing (None: none were); the fit assumes them missing at random
    missing: incomplete.MissingSummary | None = None

    # --- criteria -----------------------------------------------------------------
    @property
    def d(self) -> int:
        return len(self.columns)

    @property
    def ok(self) -> bool:
        return self.degenerate is None and self.params_ is not None

    @property
    def has_noise(self) -> bool:
        """Whether the mixture has mclust's uniform noise component."""
        return self.vinv is not None

    # --- estimates ----------------------------------------------------------------
    def _require_ok(self) -> GaussianParams:
        if self.params_ is None or self.degenerate is not None:
            raise InputError(
                f"this {self.model} fit with k = {self.k} is degenerate: {self.degenerate}"
            )
        return self.params_

    @property
    def means(self) -> pd.DataFrame:
        return pd.DataFrame(self._require_ok().means, index=self._labels, columns=self.columns)

    @property
    def covariances(self) -> dict[int, pd.DataFrame]:
        cov = self._require_ok().covariances
        return {
            j + 1: pd.DataFrame(cov[j], index=self.columns, columns=self.columns)
            for j in range(self.k)
        }

    @cached_property
    def params(self) -> pd.DataFrame:
        """One row per estimate: component, parameter, estimate, std_err, ci_low, ci_high.

        Standard errors come from the observed information of the fitted data
        (computed on first use, at the fit polished to a stationary point when
        it stopped short) or, where that is not positive definite, from the
        empirical information (the per-row scores' covariance), or those saved
        with the fit; ``std_error_information`` says which, ``std_error_reason``
        why (and why any are NaN).  95% Wald intervals
        on each row's ``scale`` (logit weights, log variances), so inside the
        parameter space.
        """
        table = self.conf_int(_PARAMS_LEVEL)
        if self.missing is not None:
            table.attrs["missing"] = self.missing.to_dict()
        return table

    def conf_int(self, level: float = 0.95, method: str = "wald", **options: Any) -> pd.DataFrame:
        """``params`` with intervals at ``level`` by ``method``, and a ``method`` column.

        ``"wald"``: estimate and standard error on each parameter's ``scale``
        (weights logit, variances log), transformed back, so no interval
        leaves the parameter space.  ``"bootstrap"``: :meth:`bootstrap`'s
        intervals (options ``boot=`` a :class:`~emstat.inference.BootstrapResult`,
        or ``n_boot``, ``kind``, ``seed``, ``workers``, ``control``, ``scheduler``; and
        ``interval``).  ``"profile"``: profile-likelihood intervals of
        ``parameters`` (labels ``"component:parameter"``, e.g. ``"1:weight"``).
        """
        from emstat.inference.dispatch import conf_int_by_method

        if method != "wald":
            self._require_unregularised(f"{method} intervals")
            self._require_complete(f"{method} intervals")
        return conf_int_by_method(self, level, method, options, self._wald_table)

    @cached_property
    def params_arrays(self) -> ParamsArrays:
        """:attr:`params`' columns as numpy arrays, in its row order, computed once.

        The same numbers as ``params`` (which is built from them); a study
        reads these for each replicate without building a DataFrame.
        """
        return self._wald_arrays(_PARAMS_LEVEL)

    def _wald_arrays(self, level: float) -> ParamsArrays:
        theta = self._require_ok()
        estimate = reported_vector(theta.weights, theta.means, theta.covariances)
        std_err, _ = self._std_errors_and_reason
        names, scales, _ = _table_names(tuple(self.columns), self.k)
        arrays = params_arrays(self.k, list(names), estimate, std_err, list(scales), level)
        if self.has_noise:
            from emstat.mixture.noise import noise_rows_frame

            arrays = arrays.concat(ParamsArrays.from_frame(noise_rows_frame(self)))
        return arrays

    def _wald_table(self, level: float) -> pd.DataFrame:
        arrays = self.params_arrays if level == _PARAMS_LEVEL else self._wald_arrays(level)
        return arrays.frame(method="wald")

    def _no_std_errors_reason(self) -> str | None:
        """Why this kind of fit has no standard errors at all (None: it may have them)."""
        if self.reg_covar != 0:
            return f"a regularised fit (reg_covar = {self.reg_covar:g})"
        if self.prior is not None:
            return "a posterior mode (a fit with a prior)"
        if self.known_labels is not None:
            return "a fit with known labels (not implemented for them)"
        if self.has_noise:
            return "a fit with a noise component (not implemented)"
        if self.algorithm != "em":
            return f"an estimate of algorithm {self.algorithm!r}, not a maximum of the likelihood"
        if self.missing is not None:
            return (
                "not computed for data with missing cells (the observed information of "
                "incomplete rows)"
            )
        return None

    @cached_property
    def _wald_std_errors(self) -> tuple[np.ndarray, str | None, str | None]:
        """The standard errors, why any are NaN (or why they are not the observed
        information's), and the information they come from (None: not computed)."""
        theta = self._require_ok()
        names, _, labels = _table_names(tuple(self.columns), self.k)
        size = self.k * len(names)
        whole_fit = self._no_std_errors_reason()
        if whole_fit is not None:
            return np.full(size, np.nan), whole_fit, None
        if self.std_errors is not None:
            return self.std_errors, None, self.std_error_method
        if self.data_ is None:
            return np.full(size, np.nan), "no data kept (a fit loaded from a file)", None
        from emstat.mixture.stderr import wald_std_errors

        if isinstance(self.data_, np.ndarray):
            return wald_std_errors(self.data_, theta, self.model, labels=list(labels))
        if isinstance(self.data_, gaussian.WeightedRows):
            return wald_std_errors(
                self.data_.x,
                theta,
                self.model,
                case_weights=self.data_.weights,
                labels=list(labels),
            )
        # an out-of-core source streams chunks centred on its own centre
        return wald_std_errors(self.data_, theta.shifted(-self.data_.center), self.model)

    @property
    def _std_errors_and_reason(self) -> tuple[np.ndarray, str | None]:
        std_err, reason, _ = self._wald_std_errors
        return std_err, reason

    @property
    def std_error_information(self) -> str | None:
        """The information the standard errors come from: the observed information, or the
        empirical information (the per-row scores' covariance) where the observed one is
        not positive definite (``std_error_reason`` says why); None when not computed."""
        if not self.ok or self.std_error_method is None:
            return None
        return self._wald_std_errors[2]

    def _require_unregularised(self, what: str) -> None:
        # The refits behind these are maximum-likelihood fits: they would not be this fit's.
        if self.known_labels is not None:
            raise InputError(
                f"{what} are not available for a fit with known labels: they refit without them"
            )
        if self.has_noise:
            raise InputError(f"{what} are not available for a fit with a noise component")
        if self.reg_covar != 0:
            raise InputError(
                f"{what} are not available for a fit with reg_covar = {self.reg_covar:g}: "
                "they refit by maximum likelihood (fit with reg_covar=0 for them)"
            )
        if self.prior is not None:
            raise InputError(
                f"{what} are not available for a fit with a prior: "
                "they refit by maximum likelihood (fit without prior= for them)"
            )
        if self.algorithm != "em":
            raise InputError(
                f"{what} are not available for a fit with algorithm={self.algorithm!r}: "
                "they refit by EM (fit with algorithm='em' for them)"
            )

    def _require_complete(self, what: str) -> None:
        # Their refits take complete rows; a fit with missing cells would be refitted otherwise.
        if self.missing is not None:
            raise InputError(
                f"{what} are not available for a fit with missing cells (they refit complete "
                "rows); impute(m=...) draws the parameters by bootstrap refits instead"
            )

    @property
    def std_error_reason(self) -> str | None:
        """Why some standard errors are NaN (naming the parameter or direction), or None."""
        return self._std_errors_and_reason[1] if self.ok else self.degenerate

    def bootstrap(
        self,
        n_boot: int = 999,
        kind: str = "bs",
        seed: Any = None,
        workers: int = 1,
        control: EMControl | None = None,
        scheduler: Any = None,
        start: str | None = "fit",
    ) -> BootstrapResult:
        """Refit ``n_boot`` resamples, of mclust's ``MclustBootstrap`` kinds.

        ``kind``: ``"bs"`` (rows resampled), ``"wlbs"`` (weighted likelihood:
        Dirichlet weights), ``"pb"`` (parametric: samples from the fit) or
        ``"jk"`` (jackknife: one refit per row left out).  Components are
        aligned to the fitted ones; failed refits are counted
        (``n_failed``).  ``scheduler`` (a Dask address or ``distributed.Client``)
        runs the refits on that cluster, with the local run's replicates.
        ``start="fit"`` starts each refit from the fit, as mclust does;
        ``"estimator"`` repeats the fit's start, restarts and stopping rule on
        each resample (the spread of the estimator itself).
        See :func:`emstat.inference.bootstrap_fit`.
        """
        from emstat.inference.bootstrap import bootstrap_fit

        self._require_unregularised("bootstrap replicates")
        self._require_complete("bootstrap replicates")
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

    # --- predictions --------------------------------------------------------------
    def _log_resp(self, data: Any) -> tuple[np.ndarray, np.ndarray, pd.Index]:
        """Log responsibilities and row log-likelihoods, computed as the fit computed them.

        The data and the means are both taken about the fit's centre (the
        mixture's mean for a fit saved without one), so far from the origin
        the predictions keep the digits the fit had.
        """
        theta = self._require_ok()
        x = self._rows(data)
        center = theta.center
        if self.vinv is not None and self.noise_weight is not None:
            from emstat.mixture.noise import noise_log_responsibilities

            if np.isnan(x.values).any():
                raise InputError("a fit with a noise component predicts complete rows only")
            log_resp, row_loglik = noise_log_responsibilities(
                x.values - center, theta.about(center), self.noise_weight, math.log(self.vinv)
            )
            return log_resp, row_loglik, x.index
        if np.isnan(x.values).any():
            # missing coordinates are marginalised: each row's density is its observed part's
            log_resp, row_loglik = incomplete.log_responsibilities(
                x.values - center, theta.about(center), rows=x.index
            )
        else:
            log_resp, row_loglik = gaussian.log_responsibilities(
                x.values - center, theta.about(center), rows=x.index
            )
        return log_resp, row_loglik, x.index

    def _rows(self, data: Any) -> Any:
        """New rows as numbers in the fit's columns; NaN cells allowed (marginalised)."""
        x = as_numeric_data(
            data, expected_columns=self.columns if _is_frame(data) else None, allow_missing=True
        )
        if x.d != self.d:
            raise InputError(f"the fit has {self.d} columns; the data have {x.d}")
        return x

    @property
    def _response_labels(self) -> pd.Index:
        """The columns of the responsibilities: 1..k, and the noise's 0 last."""
        if not self.has_noise:
            return self._labels
        return pd.Index([*range(1, self.k + 1), 0], name="component")

    def predict_proba(self, data: Any) -> pd.DataFrame:
        """Responsibilities, one column per component (0, the noise, last), by the data's index.

        Rows may have NaN cells: their missing coordinates are marginalised
        (as in :meth:`predict` and :meth:`score_samples`); a row with every
        cell missing gets the mixing weights.
        """
        log_resp, _, index = self._log_resp(data)
        return pd.DataFrame(np.exp(log_resp), index=index, columns=self._response_labels)

    def predict(self, data: Any) -> pd.Series:
        """The most probable component (1..k; 0 the noise) of every row, by the data's index."""
        log_resp, _, index = self._log_resp(data)
        labels = self._response_labels.to_numpy()[np.argmax(log_resp, axis=1)]
        return pd.Series(labels, index=index, name="component")

    def score_samples(self, data: Any) -> pd.Series:
        """Each row's log density under the fitted mixture (-inf beyond float range).

        A row with NaN cells gets the density of its observed coordinates
        (0 when none is observed).
        """
        _, row_loglik, index = self._log_resp(data)
        return pd.Series(row_loglik, index=index, name="loglik")

    def impute(self, data: Any = None, *, m: int | None = None, seed: Any = None) -> pd.DataFrame:
        """The data with every missing cell filled in from the fitted mixture.

        ``m=None``: each missing cell becomes its conditional mean given the
        row's observed cells, ``E[x_m | x_o] = Σ_k z_k(x_o) E_k[x_m | x_o]``
        (a row with nothing observed: the mixture's mean).  ``m`` > 0:
        ``m`` proper multiple imputations, stacked with an ``imputation``
        column (1..m): for each, the parameters are drawn from their
        sampling distribution by a bootstrap refit (the rows resampled with
        replacement and EM rerun from the fitted parameters, as Amelia's
        EMB), then each row's component and missing cells from their
        conditional distribution under those parameters.  ``seed`` (a whole
        number >= 0, or None) seeds the draws; each imputation has its own
        stream from ``SeedSequence(seed).spawn(m)``.

        ``data`` defaults to the rows the fit was given (same index and
        columns); other rows in the fit's columns may be passed.
        """
        from emstat.mixture.missing import impute_fit

        theta = self._require_ok()
        if data is None:
            if not isinstance(self.data_, incomplete.IncompleteData):
                if self.missing is None and self.data_ is not None:
                    raise InputError(
                        "the fitted data had no missing cells; pass data= to impute other rows"
                    )
                raise InputError("the fit keeps no data to impute; pass data=")
            values, index = self.data_.values, self.data_.index
        else:
            x = self._rows(data)
            values, index = x.values, x.index
        filled = impute_fit(self, theta, values, m=m, seed=seed)
        if m is None:
            return pd.DataFrame(filled[0], index=index, columns=self.columns)
        frames = [
            pd.DataFrame(block, index=index, columns=self.columns).assign(imputation=j + 1)
            for j, block in enumerate(filled)
        ]
        stacked = pd.concat(frames)
        return stacked[["imputation", *self.columns]]

    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> pd.DataFrame:
        """Draw ``n`` rows from the fitted mixture, with the component each came from.

        ``seed`` is None (fresh entropy), a whole number >= 0 or a numpy
        ``Generator``.
        """
        theta = self._require_ok()
        if self.has_noise:
            raise InputError(
                "sampling is not available for a fit with a noise component "
                "(its uniform density has a volume, not a region to draw from)"
            )
        rng = _sample_generator(n, seed)
        values, components = gaussian.draw_mixture(
            theta.weights, theta.means, theta.covariances, n, rng
        )
        frame = pd.DataFrame(values, columns=self.columns)
        frame["component"] = components + 1
        return frame

    # --- figures ------------------------------------------------------------------
    def plot(self, kind: str = "classification", ax: Any = None, **options: Any) -> Any:
        """Draw the fit: ``"classification"``, ``"uncertainty"``, ``"density"``, ``"trace"``
        or ``"stopping"``, on ``ax`` (an Axes, or one per pair of variables).

        Returns the Axes (an array of them for several pairs); options and
        details: :func:`emstat.plotting.plot_mixture`.  A fit with missing
        cells draws its complete rows unless ``data=`` is given.
        """
        from emstat.plotting import plot_mixture

        if isinstance(self.data_, incomplete.IncompleteData) and options.get("data") is None:
            # the rows a fit with missing cells was given: the complete ones are drawn
            options["data"] = pd.DataFrame(self.data_.values, columns=self.columns)
        return plot_mixture(self, kind, ax, **options)

    # --- text ---------------------------------------------------------------------
    def summary(self) -> str:
        """A plain-text summary of the fit."""
        head = [
            f"Gaussian mixture: model {self.model}, k = {self.k}, n = {self.n}, d = {self.d}",
            f"init: {self.init}; stopping rule: {self.control.describe()}",
        ]
        if self.algorithm != "em":
            head.append(algorithm_text(self.algorithm, self.objective))
        if self.missing is not None:
            head.append(self.missing.describe())
        if self.reg_covar != 0:
            head.append(
                f"reg_covar = {self.reg_covar:g} added to each covariance's diagonal "
                "(log-likelihood and criteria of the regularised estimate)"
            )
        if self.prior is not None:
            head.append(
                f"prior: {self.prior}; log-likelihood and criteria exclude the prior "
                "(BIC = 2 loglik - df log n, as mclust's)"
            )
        if self.known_labels is not None:
            from emstat.mixture.known_labels import OBJECTIVE_TEXT

            head += [self.known_labels.describe(self.n), OBJECTIVE_TEXT]
        if self.has_noise:
            from emstat.mixture.noise import noise_summary_line

            head.append(noise_summary_line(self))
        if not self.ok:
            return "\n".join([*head, f"degenerate fit: {self.degenerate}"])
        head += [
            f"log-likelihood {self.loglik:.6f}; {self.n_params} parameters; "
            f"{'converged' if self.converged else 'NOT converged (' + self.stop_reason + ')'} "
            f"after {self.n_iter} iterations ({self.seconds:.3f} s)",
            f"BIC {self.bic:.4f}  AIC {self.aic:.4f}  ICL {self.icl:.4f}  "
            "(-2 loglik + penalty: smaller is better)",
            f"standard errors: {self._std_error_text()}; 95% Wald intervals on the scale shown"
            if self.missing is None
            else f"standard errors: {self.std_error_reason}",
            "",
        ]
        return "\n".join(head) + self.params_text()

    def _std_error_text(self) -> str:
        """The information the standard errors come from, and why when it is not the observed
        one or some are NaN."""
        method = self.std_error_information or self.std_error_method
        reason = self.std_error_reason
        if method is not None and reason is not None and reason.startswith(method):
            return reason  # the fallback's own sentence: which information, and why
        return (method or "not available") + (f" (some not available: {reason})" if reason else "")

    # --- persistence --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        theta = self.params_
        return {
            "format": _FORMAT,
            "model": self.model,
            "k": self.k,
            "columns": self.columns,
            "n": self.n,
            "weights": None if theta is None else theta.weights.tolist(),
            "means": None if theta is None else theta.means.tolist(),
            "covariances": None if theta is None else theta.covariances.tolist(),
            "loglik": None if math.isnan(self.loglik) else self.loglik,
            "n_params": self.n_params,
            **run_payload(self),
            "seconds": self.seconds,
            "init": self.init,
            "classification_loglik": None
            if math.isnan(self.classification_loglik)
            else self.classification_loglik,
            "degenerate": self.degenerate,
            "std_errors": self._saved_std_errors(),
            "std_error_method": self.std_error_information or self.std_error_method,
            **({"reg_covar": self.reg_covar} if self.reg_covar != 0 else {}),
            **({"prior": self.prior} if self.prior is not None else {}),
            **(
                {"known_labels": self.known_labels.to_payload()}
                if self.known_labels is not None
                else {}
            ),
            **({"noise_weight": self.noise_weight, "Vinv": self.vinv} if self.has_noise else {}),
            **saved_algorithm(self.algorithm, self.objective),
            **({"missing": self.missing.to_dict()} if self.missing is not None else {}),
            **_saved_center(theta),
        }

    def _saved_std_errors(self) -> list[float | None] | None:
        if not self.ok or self._no_std_errors_reason() is not None:  # the reason is re-derived
            return None
        return [None if math.isnan(v) else float(v) for v in self.params["std_err"]]

    @classmethod
    def from_dict(cls, payload: Any) -> MixtureResult:
        """A fit from :meth:`to_dict`'s payload, each field checked (InputError naming it)."""
        if not isinstance(payload, dict):
            raise InputError(
                f"not a saved emstat mixture fit (a JSON {type(payload).__name__}, not an object)"
            )
        if payload.get("format") not in _FORMATS:
            raise InputError(
                f"not a saved emstat mixture fit (format {payload.get('format')!r}; "
                f"this version reads {', '.join(_FORMATS)})"
            )
        fields = _SavedFields(payload)
        columns = fields.columns()
        noise_weight, vinv = fields.noise()
        k = fields.integer("k", 1 if vinv is None else 0)
        model = fields.model(len(columns))
        n_params = fields.integer("n_params", 0)
        expected = _n_params(model, k, len(columns), noise=vinv is not None)
        if n_params != expected:
            with_noise = " with a noise component" if vinv is not None else ""
            raise InputError(
                f"n_params is {n_params}; a {model} fit{with_noise} with k = {k} in "
                f"{len(columns)}-D has {expected}"
            )
        theta = fields.params(model, k, len(columns), noise_weight or 0.0)
        degenerate = fields.optional_string("degenerate")
        if theta is None and degenerate is None:
            raise InputError("weights are null but degenerate does not say why")
        loglik = fields.number("loglik", nullable=theta is None)
        return cls(
            model=model,
            k=k,
            columns=columns,
            n=_sample_size(fields),
            params_=theta,
            loglik=loglik,
            n_params=n_params,
            **fields.run(),
            seconds=fields.number("seconds"),
            init=fields.string("init"),
            classification_loglik=fields.number("classification_loglik", nullable=True),
            degenerate=degenerate,
            std_errors=fields.std_errors(
                theta is not None, k * (1 + len(parameter_names(columns)))
            ),
            std_error_method=fields.optional_string("std_error_method"),
            reg_covar=fields.reg_covar(),
            prior=fields.optional_string("prior"),
            known_labels=_saved_labels(payload),
            noise_weight=noise_weight,
            vinv=vinv,
            **loaded_algorithm(fields),
            missing=None
            if payload.get("missing") is None
            else incomplete.MissingSummary.from_dict(payload["missing"]),
        )

    def save(self, path: str | Path) -> Path:
        """Write the fit as JSON; :func:`load_fit` reads it back."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path


def load_fit(path: str | Path) -> MixtureResult:
    """Read a fit saved by :meth:`MixtureResult.save` (or ``emstat fit --out``),
    a component family's fit saved by ``FamilyMixtureResult.save``, or a
    log-linear fit saved by ``CategoricalResult.save`` (read without its data).

    Files of format versions 1 and 2 are read; every field is checked, and
    a file that is not a valid fit raises :class:`InputError` naming the field.
    """
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"no file {str(path)!r}") from None
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        raise InputError(f"{str(path)!r} is not JSON: {exc}") from None
    except OSError as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc.strerror or exc}") from None
    if isinstance(payload, dict) and str(payload.get("format", "")).startswith(
        "emstat.FamilyMixtureResult"
    ):
        from emstat.mixture.family_fit import load_family_fit

        return load_family_fit(payload)  # type: ignore[return-value]
    if isinstance(payload, dict) and str(payload.get("format", "")).startswith(
        "emstat.CategoricalResult"
    ):
        from emstat.categorical.saved import fit_from_dict

        return fit_from_dict(payload)  # type: ignore[return-value]
    return MixtureResult.from_dict(payload)


@lru_cache(maxsize=64)
def _table_names(
    columns: tuple[str, ...], k: int
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...]]:
    """One component's parameter names and scales in ``params``' row order, and every
    row's label ``"component:parameter"`` (made once per layout: a study asks for the same
    one at every replicate)."""
    names = ("weight", *(name for name, _ in parameter_names(list(columns))))
    weight_scale = "identity" if k == 1 else "logit"
    scales = (weight_scale, *("log" if n.startswith("var[") else "identity" for n in names[1:]))
    labels = tuple(f"{j + 1}:{name}" for j in range(k) for name in names)
    return names, scales, labels


def _sample_size(fields: SavedFields) -> float:
    """The saved n: the rows, or a weighted fit's sum of weights (not always whole)."""
    value = fields.get("n")
    if isinstance(value, float) and math.isfinite(value) and not value.is_integer():
        if value <= 0:
            raise InputError(f"n must be > 0, got {value!r}")
        return value
    return fields.integer("n", 1)


def _saved_labels(payload: dict[str, Any]) -> KnownLabels | None:
    """A labelled fit's classes and counts, when it was saved with known labels."""
    if payload.get("known_labels") is None:
        return None
    from emstat.mixture.known_labels import labels_from_payload

    return labels_from_payload(payload["known_labels"])


def _saved_center(theta: GaussianParams | None) -> dict[str, Any]:
    """The fit's centre and the means about it, when the parameters keep them."""
    if theta is None or theta.origin is None or theta.local_means is None:
        return {}
    return {"center": theta.origin.tolist(), "means_about_center": theta.local_means.tolist()}


def _n_params(model: str, k: int, d: int, noise: bool = False) -> int:
    from emstat.mixture.covariance import get_covariance_model
    from emstat.mixture.model import GaussianMixtureModel

    if noise and k == 0:
        return 1  # the noise-only fit: V⁻¹ (mclust's count)
    # with noise, mclust counts one more proportion and V⁻¹
    return GaussianMixtureModel(get_covariance_model(model, d), k).n_params(d) + 2 * noise


def _sample_generator(n: Any, seed: Any) -> np.random.Generator:
    """Check ``sample``'s arguments; the generator its draws come from."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise InputError(f"sample needs a whole number of rows n >= 0, got {n!r}")
    if isinstance(seed, np.random.Generator) or seed is None:
        return np.random.default_rng(seed)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(
            f"seed must be None, a whole number >= 0 or a numpy Generator, got {seed!r}"
        )
    return np.random.default_rng(seed)


#: Relative asymmetry a saved covariance may have: rounding of a product, not an edit.
_SYMMETRY_RTOL = 1e-10
#: How far saved weights may sum from 1: rounding of nk / n.
_WEIGHT_SUM_ATOL = 1e-9


class _SavedFields(SavedFields):
    """A saved Gaussian mixture's own fields: columns, model, parameters, centre."""

    def columns(self) -> list[str]:
        columns = self.get("columns")
        if (
            not isinstance(columns, list)
            or not columns
            or not all(isinstance(c, str) for c in columns)
        ):
            raise InputError(f"columns must be a non-empty list of names, got {columns!r}")
        if len(set(columns)) != len(columns):
            raise InputError(f"columns repeat a name: {columns!r}")
        return columns

    def model(self, d: int) -> str:
        from emstat.mixture.covariance import get_covariance_model

        name = self.string("model")
        try:
            canonical = get_covariance_model(name, d).name
        except InputError as exc:
            raise InputError(f"model: {exc}") from None
        if canonical != name:
            raise InputError(
                f"model {name!r} is not a saved model name (it stands for {canonical})"
            )
        return name

    def params(
        self, model: str, k: int, d: int, noise_weight: float = 0.0
    ) -> GaussianParams | None:
        """The Gaussian components; with noise their weights sum to 1 - ``noise_weight``."""
        from emstat.mixture.covariance import get_covariance_model

        if self.get("weights") is None:
            for key in ("means", "covariances"):
                if self.get(key) is not None:
                    raise InputError(f"{key} are given but weights are null")
            return None
        weights = self.array("weights", (k,))
        if np.any(weights < 0):
            j = int(np.flatnonzero(weights < 0)[0])
            raise InputError(f"weights[{j}] is {weights[j]:.6g}; weights must be >= 0")
        total = float(weights.sum())
        if abs(total + noise_weight - 1.0) > _WEIGHT_SUM_ATOL:
            with_noise = f" (with noise_weight {noise_weight:.6g})" if noise_weight else ""
            raise InputError(f"weights sum to {total:.6g}{with_noise}, not 1")
        means = self.array("means", (k, d))
        covariances = self.array("covariances", (k, d, d))
        if k == 0:
            from emstat.mixture.noise import no_components

            return no_components(d)
        diagonal = get_covariance_model(model, d).scatter == "diag"
        _check_covariances(covariances, model, diagonal)
        kept = self.center(k, d, means)
        try:
            theta = gaussian.gaussian_params(weights, means, covariances, diagonal=diagonal)
        except DegenerateFitError as exc:
            raise InputError(f"covariances: {exc}") from None
        if kept is None:
            return theta
        origin, local = kept
        return replace(theta, means=local + origin, origin=origin, local_means=local)

    def noise(self) -> tuple[float | None, float | None]:
        """A noise component's proportion and Vinv (both or neither); (None, None) without."""
        if "Vinv" not in self.payload and "noise_weight" not in self.payload:
            return None, None
        vinv = self.number("Vinv")
        if vinv <= 0:
            raise InputError(f"Vinv must be > 0, got {vinv!r}")
        weight = self.number("noise_weight")
        if not 0.0 <= weight <= 1.0:
            raise InputError(f"noise_weight must be in [0, 1], got {weight!r}")
        return weight, vinv

    def reg_covar(self) -> float:
        """The ridge of a regularised fit; 0 when not saved (an unregularised fit)."""
        if "reg_covar" not in self.payload:
            return 0.0
        value = self.number("reg_covar")
        if value < 0:
            raise InputError(f"reg_covar must be >= 0, got {value!r}")
        return value

    def center(self, k: int, d: int, means: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Version 2's centre and means about it (both or neither), checked against ``means``."""
        if self.payload.get("center") is None and self.payload.get("means_about_center") is None:
            return None
        origin = self.array("center", (d,))
        local = self.array("means_about_center", (k, d))
        scale = np.abs(origin) + np.abs(local)
        if np.any(np.abs(means - (local + origin)) > 1e-12 * scale + 1e-300):
            raise InputError("means disagree with center + means_about_center")
        return origin, local


def _check_covariances(covariances: np.ndarray, model: str, diagonal: bool) -> None:
    """Saved covariances are symmetric (diagonal for the diagonal models)."""
    d = covariances.shape[1]
    scale = np.sqrt(np.abs(np.einsum("kii->ki", covariances)))
    bound = _SYMMETRY_RTOL * scale[:, :, None] * scale[:, None, :]
    asymmetric = np.abs(covariances - covariances.transpose(0, 2, 1)) > bound
    if asymmetric.any():
        j, a, b = (int(v[0]) for v in np.nonzero(asymmetric))
        raise InputError(
            f"covariances[{j}] is not symmetric ([{a}][{b}] = {covariances[j, a, b]:.6g}, "
            f"[{b}][{a}] = {covariances[j, b, a]:.6g})"
        )
    if diagonal:
        off = covariances * (1.0 - np.eye(d)) != 0.0
        if off.any():
            j = int(np.nonzero(off)[0][0])
            raise InputError(
                f"covariances[{j}] has off-diagonal entries, but model {model}'s are diagonal"
            )


def _is_frame(data: Any) -> bool:
    return isinstance(data, pd.DataFrame)
