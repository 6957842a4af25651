"""What a Gaussian mixture fit gives back: estimates, criteria, predictions."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emstat._validation import as_numeric_data
from emstat.engine import EMControl
from emstat.errors import InputError
from emstat.mixture import gaussian
from emstat.mixture.gaussian import GaussianParams

__all__ = ["MixtureResult", "load_fit"]

_FORMAT = "emstat.MixtureResult/1"
_Z95 = 1.959963984540054  # the 97.5% normal quantile: 95% Wald intervals


@dataclass(frozen=True, eq=False)
class MixtureResult:
    """A fitted Gaussian mixture.

    Components are numbered 1..k in every output.  Information criteria use
    the convention of R's ``BIC()`` and scikit-learn, smaller is better:
    ``bic = -2 loglik + p log n``, ``aic = -2 loglik + 2 p`` and
    ``icl = bic - 2 Σ_i Σ_k C_ik log z_ik`` (C the hard assignment);
    ``bic_mclust`` and ``icl_mclust`` are mclust's (larger is better).

    A degenerate fit (a collapsed component, a singular covariance) has
    ``degenerate`` set to the reason and NaN criteria.
    """

    model: str
    k: int
    columns: list[str]
    n: int
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
    # the rows fitted, or their out-of-core source, for the standard errors
    data_: Any = field(default=None, repr=False)

    # --- criteria -----------------------------------------------------------------
    @property
    def d(self) -> int:
        return len(self.columns)

    @property
    def ok(self) -> bool:
        return self.degenerate is None and self.params_ is not None

    @property
    def bic(self) -> float:
        return -2.0 * self.loglik + self.n_params * math.log(self.n) if self.ok else math.nan

    @property
    def aic(self) -> float:
        return -2.0 * self.loglik + 2.0 * self.n_params if self.ok else math.nan

    @property
    def icl(self) -> float:
        return self.bic - 2.0 * self.classification_loglik if self.ok else math.nan

    @property
    def bic_mclust(self) -> float:
        return -self.bic

    @property
    def icl_mclust(self) -> float:
        return -self.icl

    def criterion(self, name: str, convention: str = "smaller") -> float:
        """``bic``, ``aic``, ``icl`` or ``loglik``; ``convention="mclust"`` flips BIC/AIC/ICL."""
        if name == "loglik":
            return self.loglik if self.ok else math.nan
        if name not in ("bic", "aic", "icl"):
            raise InputError(f"unknown criterion {name!r}; choose bic, aic, icl or loglik")
        value = float(getattr(self, name))
        return -value if convention == "mclust" else value

    # --- estimates ----------------------------------------------------------------
    def _require_ok(self) -> GaussianParams:
        if self.params_ is None or self.degenerate is not None:
            raise InputError(
                f"this {self.model} fit with k = {self.k} is degenerate: {self.degenerate}"
            )
        return self.params_

    @property
    def _labels(self) -> pd.Index:
        return pd.Index(range(1, self.k + 1), name="component")

    @property
    def weights(self) -> pd.Series:
        return pd.Series(self._require_ok().weights, index=self._labels, name="weight")

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
        (computed on first use) unless :meth:`bootstrap` supplied others;
        ``std_error_method`` says which.  95% Wald intervals.
        """
        theta = self._require_ok()
        names = [name for name, _ in parameter_names(self.columns)]
        estimate = reported_vector(theta.weights, theta.means, theta.covariances)
        std_err = self._std_errors(theta, estimate.shape[0])
        # One constructor call: adding columns one by one costs more than the fit.
        return pd.DataFrame(
            {
                "component": np.repeat(np.arange(1, self.k + 1), 1 + len(names)),
                "parameter": ["weight", *names] * self.k,
                "estimate": estimate,
                "std_err": std_err,
                "ci_low": estimate - _Z95 * std_err,
                "ci_high": estimate + _Z95 * std_err,
            }
        )

    def _std_errors(self, theta: GaussianParams, size: int) -> np.ndarray:
        if self.std_errors is not None:
            return self.std_errors
        if self.data_ is None:
            return np.full(size, np.nan)
        from emstat.mixture.stderr import information_std_errors

        if isinstance(self.data_, np.ndarray):
            return information_std_errors(self.data_, theta, self.model)
        # an out-of-core source streams chunks centred on its own centre
        return information_std_errors(self.data_, theta.shifted(-self.data_.center), self.model)

    def bootstrap(
        self, n_boot: int = 200, seed: int | None = 0, control: EMControl | None = None
    ) -> MixtureResult:
        """The same fit with parametric-bootstrap standard errors (``n_boot`` refits)."""
        from emstat.mixture.stderr import bootstrap_std_errors

        se = bootstrap_std_errors(
            self._require_ok(), self.model, self.n, n_boot=n_boot, seed=seed, control=control
        )
        return replace(self, std_errors=se, std_error_method=f"parametric bootstrap ({n_boot})")

    def to_frame(self) -> pd.DataFrame:
        """The estimates as a tidy DataFrame (the same as ``params``)."""
        return self.params

    # --- predictions --------------------------------------------------------------
    def _log_resp(self, data: Any) -> tuple[np.ndarray, pd.Index]:
        theta = self._require_ok()
        x = as_numeric_data(data, expected_columns=self.columns if _is_frame(data) else None)
        if x.d != self.d:
            raise InputError(f"the fit has {self.d} columns; the data have {x.d}")
        log_resp, _ = gaussian.log_responsibilities(x.values, theta)
        return log_resp, x.index

    def predict_proba(self, data: Any) -> pd.DataFrame:
        """Responsibilities, one column per component, aligned to the data's index."""
        log_resp, index = self._log_resp(data)
        return pd.DataFrame(np.exp(log_resp), index=index, columns=self._labels)

    def predict(self, data: Any) -> pd.Series:
        """The most probable component (1..k) of every row, aligned to the data's index."""
        log_resp, index = self._log_resp(data)
        return pd.Series(np.argmax(log_resp, axis=1) + 1, index=index, name="component")

    def score_samples(self, data: Any) -> pd.Series:
        """Each row's log density under the fitted mixture."""
        theta = self._require_ok()
        x = as_numeric_data(data, expected_columns=self.columns if _is_frame(data) else None)
        _, row_loglik = gaussian.log_responsibilities(x.values, theta)
        return pd.Series(row_loglik, index=x.index, name="loglik")

    def sample(self, n: int, seed: int | np.random.Generator | None = None) -> pd.DataFrame:
        """Draw ``n`` rows from the fitted mixture, with the component each came from."""
        theta = self._require_ok()
        rng = np.random.default_rng(seed)
        values, components = gaussian.draw_mixture(
            theta.weights, theta.means, theta.covariances, n, rng
        )
        frame = pd.DataFrame(values, columns=self.columns)
        frame["component"] = components + 1
        return frame

    # --- text ---------------------------------------------------------------------
    def summary(self) -> str:
        """A plain-text summary of the fit."""
        head = [
            f"Gaussian mixture: model {self.model}, k = {self.k}, n = {self.n}, d = {self.d}",
            f"init: {self.init}; stopping rule: {self.control.describe()}",
        ]
        if not self.ok:
            return "\n".join([*head, f"degenerate fit: {self.degenerate}"])
        head += [
            f"log-likelihood {self.loglik:.6f}; {self.n_params} parameters; "
            f"{'converged' if self.converged else 'NOT converged (' + self.stop_reason + ')'} "
            f"after {self.n_iter} iterations ({self.seconds:.3f} s)",
            f"BIC {self.bic:.4f}  AIC {self.aic:.4f}  ICL {self.icl:.4f}  "
            "(-2 loglik + penalty: smaller is better)",
            f"standard errors: {self.std_error_method or 'not available'}; 95% Wald intervals",
            "",
        ]
        table = self.params.copy()
        table["component"] = table["component"].astype(str)
        return "\n".join(head) + table.to_string(index=False, float_format=lambda v: f"{v:.6g}")

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        lines = self.summary().split("\n\n")[0].replace("\n", "<br>")
        table = (
            self.params.to_html(index=False, float_format=lambda v: f"{v:.6g}") if self.ok else ""
        )
        return f"<p>{lines}</p>{table}"

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
            "n_iter": self.n_iter,
            "converged": self.converged,
            "stop_reason": self.stop_reason,
            "trace": self.trace.tolist(),
            "seconds": self.seconds,
            "control": {
                "tol": self.control.tol,
                "criterion": self.control.criterion,
                "max_iter": self.control.max_iter,
            },
            "init": self.init,
            "classification_loglik": None
            if math.isnan(self.classification_loglik)
            else self.classification_loglik,
            "degenerate": self.degenerate,
            "std_errors": self._saved_std_errors(),
            "std_error_method": self.std_error_method,
        }

    def _saved_std_errors(self) -> list[float | None] | None:
        if not self.ok:
            return None
        return [None if math.isnan(v) else float(v) for v in self.params["std_err"]]

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> MixtureResult:
        if payload.get("format") != _FORMAT:
            raise InputError(f"not a saved emstat mixture fit (format {payload.get('format')!r})")
        theta = None
        if payload["weights"] is not None:
            cov = np.asarray(payload["covariances"], dtype=float)
            diagonal = bool(
                np.all(cov == np.einsum("kii->ki", cov)[:, :, None] * np.eye(cov.shape[1]))
            )
            theta = gaussian.gaussian_params(
                np.asarray(payload["weights"], dtype=float),
                np.asarray(payload["means"], dtype=float),
                cov,
                diagonal=diagonal,
            )
        nan_if_none = lambda v: math.nan if v is None else float(v)  # noqa: E731
        return cls(
            model=payload["model"],
            k=int(payload["k"]),
            columns=list(payload["columns"]),
            n=int(payload["n"]),
            params_=theta,
            loglik=nan_if_none(payload["loglik"]),
            n_params=int(payload["n_params"]),
            n_iter=int(payload["n_iter"]),
            converged=bool(payload["converged"]),
            stop_reason=str(payload["stop_reason"]),
            trace=np.asarray(payload["trace"], dtype=float),
            seconds=float(payload["seconds"]),
            control=EMControl(**payload["control"]),
            init=str(payload["init"]),
            classification_loglik=nan_if_none(payload["classification_loglik"]),
            degenerate=payload["degenerate"],
            std_errors=None
            if payload.get("std_errors") is None
            else np.array([math.nan if v is None else v for v in payload["std_errors"]]),
            std_error_method=payload.get("std_error_method"),
        )

    def save(self, path: str | Path) -> Path:
        """Write the fit as JSON; :func:`load_fit` reads it back."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path


def load_fit(path: str | Path) -> MixtureResult:
    """Read a fit saved by :meth:`MixtureResult.save` (or ``emstat fit --out``)."""
    path = Path(path)
    try:
        payload = json.loads(path.read_text())
    except FileNotFoundError:
        raise InputError(f"no file {str(path)!r}") from None
    except json.JSONDecodeError as exc:
        raise InputError(f"{str(path)!r} is not JSON: {exc}") from None
    return MixtureResult.from_dict(payload)


def _is_frame(data: Any) -> bool:
    return isinstance(data, pd.DataFrame)


def parameter_names(columns: list[str]) -> list[tuple[str, tuple[int, ...]]]:
    """Names of one component's parameters, with their position in (mean | covariance)."""
    names: list[tuple[str, tuple[int, ...]]] = [(f"mean[{c}]", (j,)) for j, c in enumerate(columns)]
    for i, a in enumerate(columns):
        for j in range(i, len(columns)):
            b = columns[j]
            names.append((f"var[{a}]" if i == j else f"cov[{a},{b}]", (i, j)))
    return names


def reported_vector(weights: np.ndarray, means: np.ndarray, covariances: np.ndarray) -> np.ndarray:
    """Parameters in the row order of ``MixtureResult.params``.

    Per component 1..k: the weight, the d means, then the covariance's upper
    triangle ``i <= j`` in row-major order.

    Examples
    --------
    >>> reported_vector(np.array([1.0]), np.array([[0.0, 1.0]]), np.eye(2)[None])
    array([1., 0., 1., 1., 0., 1.])
    """
    d = means.shape[1]
    iu = np.triu_indices(d)
    blocks = np.concatenate([weights[:, None], means, covariances[:, iu[0], iu[1]]], axis=1)
    return np.asarray(blocks.reshape(-1), dtype=float)
