"""Cross-check :func:`emstat.select_mixture` with known labels against R's ``mclust::MclustSSC``.

Both programs get the same rows and the same labels (NA where unknown).
emstat runs with ``mclust_compatible=True``; R runs ``MclustSSC.fit`` for
each model (its loglik, df, BIC, parameters and classification) and
``MclustSSC`` itself for its BIC table and choice.  Components need no
matching: class c is component c in both.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from emstat.crosscheck._mclust import relative_difference, verdict
from emstat.errors import InputError
from emstat.mixture.result import MixtureResult

__all__ = ["MCLUSTSSC_SETTINGS", "MclustSSCCheck", "mclust_ssc", "run_mclust_ssc"]

#: Said in every output: what both sides ran.
MCLUSTSSC_SETTINGS = (
    "emstat select_mixture(labels=..., mclust_compatible=True); MclustSSC's start (labelled "
    "rows at their class, others 1/G) and stopping rule (loglik gain <= 1e-5); "
    "BIC = 2 loglik - df log n (larger is better)"
)

_R_SSC = r"""
function(X, cl, lev, G, models) {
  cl <- factor(cl, levels = lev)  # emstat's class order, whatever R's locale sorts
  cells <- lapply(models, function(m) {
    f <- tryCatch(mclust:::MclustSSC.fit(X, cl, G = G, modelName = m),
                  error = function(e) NULL)
    ok <- !is.null(f) && !is.null(f$loglik) && !is.na(f$loglik)
    list(model = m,
         loglik = if (ok) f$loglik else NA_real_,
         df = if (ok) as.integer(f$df) else NA_integer_,
         bic = if (ok) f$bic else NA_real_,
         pro = if (ok) f$parameters$pro else NULL,
         mean = if (ok) t(f$parameters$mean) else NULL,
         sigma = if (ok) aperm(f$parameters$variance$sigma, c(3, 1, 2)) else NULL,
         classification = if (ok) as.integer(f$classification) else NULL)
  })
  best <- mclust::MclustSSC(X, cl, G = G, modelNames = models, verbose = FALSE)
  list(cells = cells, bic = as.numeric(best$BIC), model = best$modelName,
       version = as.character(packageVersion("mclust")))
}
"""


def run_mclust_ssc(
    x: np.ndarray,
    labels: Sequence[Any],
    classes: Sequence[str],
    k: int,
    models: Sequence[str],
    columns: Sequence[str],
) -> dict[str, Any]:
    """R's side: one cell per model (or an ``error``) and MclustSSC's BIC row and choice.

    ``labels`` are class names or None; ``classes`` their order (component order).
    """
    from emstat import _r

    ro = _r.r_session()
    _r.require_r_package("mclust")
    value = _r.r_call(
        ro.r(_R_SSC),
        _r.to_r_matrix(np.asarray(x, dtype=float), list(columns)),
        _r.to_r_vector(pd.Series(list(labels), dtype=object)),
        ro.StrVector(list(classes)),
        ro.IntVector([k]),
        ro.StrVector(list(models)),
    ).value
    out = _r.to_python(value)
    cells = out["cells"]
    cells = list(cells.values()) if isinstance(cells, dict) else list(cells)
    return {
        "cells": [_cell(c, k) for c in cells],
        "bic": np.atleast_1d(np.asarray(out["bic"], dtype=float)).tolist(),
        "model": str(out["model"]),
        "mclust": str(out["version"]),
    }


def _cell(cell: dict[str, Any], k: int) -> dict[str, Any]:
    loglik = float(cell["loglik"])
    if math.isnan(loglik):
        return {"model": str(cell["model"]), "error": "NA (singular or failed)"}
    d = np.asarray(cell["mean"]).size // k
    return {
        "model": str(cell["model"]),
        "loglik": loglik,
        "df": int(cell["df"]),
        "bic": float(cell["bic"]),
        "weights": np.asarray(cell["pro"], dtype=float).ravel().tolist(),
        "means": np.asarray(cell["mean"], dtype=float).reshape(k, -1).tolist(),
        "covariances": np.asarray(cell["sigma"], dtype=float).reshape(k, d, d).tolist(),
        "classification": np.asarray(cell["classification"], dtype=int).ravel().tolist(),
    }


def _row(fit: MixtureResult, cell: dict[str, Any], tol: float) -> dict[str, Any]:
    ok = fit.ok and fit.params_ is not None and "error" not in cell
    bic_e = fit.bic_mclust if fit.ok else math.nan
    bic_r = cell.get("bic", math.nan)
    row = {
        "model": fit.model,
        "loglik_emstat": fit.loglik if fit.ok else math.nan,
        "loglik_r": cell.get("loglik", math.nan),
        "bic_emstat": bic_e,
        "bic_r": bic_r,
        "bic_rel_diff": relative_difference(bic_e, bic_r),
        "n_params": fit.n_params,
        "n_params_r": cell.get("df", fit.n_params),
        "max_diff_weights": math.nan,
        "max_diff_means": math.nan,
        "max_diff_cov": math.nan,
        "rows_classified_differently": math.nan,
    }
    if ok and fit.params_ is not None and fit.known_labels is not None:
        theta = fit.params_
        row["max_diff_weights"] = float(np.max(np.abs(theta.weights - cell["weights"])))
        row["max_diff_means"] = float(np.max(np.abs(theta.means - np.array(cell["means"]))))
        covariances = np.array(cell["covariances"]).reshape(theta.covariances.shape)
        row["max_diff_cov"] = float(np.max(np.abs(theta.covariances - covariances)))
        ours = fit.known_labels.component.to_numpy()
        row["rows_classified_differently"] = int(np.sum(ours != np.array(cell["classification"])))
    word = verdict(bic_e, bic_r, (fit.n_params, int(row["n_params_r"])), tol)
    if word == "agree" and row["rows_classified_differently"] != 0:
        word = "DISAGREE (classification)"
    row["verdict"] = word
    return row


@dataclass(frozen=True)
class MclustSSCCheck:
    """The side-by-side table of emstat's labelled fits and MclustSSC's, and the choices."""

    table: pd.DataFrame
    emstat_choice: str
    r_choice: str
    tol: float
    k: int
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def agree(self) -> bool:
        """Every model agrees (or both are singular) and both chose the same model."""
        agreeing = self.table["verdict"].isin(["agree", "both singular"])
        return bool(agreeing.all()) and self.emstat_choice == self.r_choice

    def summary(self) -> str:
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        return (
            f"emstat vs R mclust::MclustSSC, G = {self.k}\n{MCLUSTSSC_SETTINGS}\n({versions})\n\n"
            f"{self.table.to_string(index=False, na_rep='NA')}\n\n"
            f"chosen: emstat {self.emstat_choice}, MclustSSC {self.r_choice}: "
            f"{'AGREE' if self.agree else 'DISAGREE'}"
        )

    def __str__(self) -> str:
        return self.summary()


def mclust_ssc(
    data: Any,
    labels: Any,
    *,
    columns: Sequence[str] | None = None,
    models: Sequence[str] | None = None,
    tol: float = 1e-6,
) -> MclustSSCCheck:
    """Fit ``data`` with known ``labels`` in emstat and in R's MclustSSC; compare model by model.

    ``labels`` as :func:`emstat.select_mixture` takes them (a column name, a
    Series or one value per row; NaN or None unknown).  ``tol`` bounds the
    relative BIC difference of an ``agree`` verdict.
    """
    from emstat.mixture.selection import select_mixture

    selection = select_mixture(
        data, labels=labels, columns=columns, models=models, mclust_compatible=True
    )
    fits = [selection.fits[(selection.ks[0], m)] for m in selection.models]
    known = fits[0].known_labels
    if known is None or selection.data is None:
        raise InputError("the cross-check needs the data in memory with its labels")
    names = [str(c) for c in known.classes]
    row_labels = [None if code < 0 else names[code] for code in known.codes]
    r = run_mclust_ssc(
        selection.data.to_numpy(),
        row_labels,
        names,
        selection.ks[0],
        selection.models,
        selection.columns,
    )
    cells = {c["model"]: c for c in r["cells"]}
    table = pd.DataFrame([_row(fit, cells[fit.model], tol) for fit in fits])
    return MclustSSCCheck(
        table,
        selection.best_for("bic").model,
        r["model"],
        tol,
        selection.ks[0],
        {"mclust": r["mclust"]},
    )
