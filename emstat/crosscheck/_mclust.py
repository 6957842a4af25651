"""Cross-check :func:`emstat.select_mixture` against R's ``mclust::Mclust``."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from emstat._validation import NumericData, as_numeric_data
from emstat.errors import InputError
from emstat.mixture.result import MixtureResult
from emstat.mixture.selection import SelectionResult

__all__ = [
    "MCLUST_SETTINGS",
    "MclustCheck",
    "RCell",
    "compare_mclust",
    "hc_pairs_for_r",
    "mclust",
    "mclust_settings",
    "parameter_differences",
    "relative_difference",
    "verdict",
]

#: Said in every output: the cross-check compares the same algorithm.
MCLUST_SETTINGS = (
    "emstat with mclust_compatible=True (mclust 6.0's VEE/EVE/VVE M-steps and its hcVVV "
    "arithmetic); mclust's stopping rule |l_old - l|/(1+|l|) <= 1e-5; "
    "BIC = 2 loglik - p log n (larger is better)"
)


def mclust_settings(em_tol: float | None = None) -> str:
    """:data:`MCLUST_SETTINGS`, with the tolerances of ``emControl(tol = em_tol)`` when given."""
    if em_tol is None:
        return MCLUST_SETTINGS
    return MCLUST_SETTINGS.replace(
        "<= 1e-5;",
        f"<= {em_tol:g} and inner M-steps at {em_tol:g} (R: emControl(tol = {em_tol:g}), "
        f"emstat: tol={em_tol:g}, inner_tol={em_tol:g});",
    )


# One R function fits every (G, model) cell the way Mclust/mclustBIC does (mvn for
# G = 1; hclass/qclass start; me(), or mstep on the subset + estep + me with a
# subset), and returns what Mclust's BIC table does not: loglik, iterations and
# the parameters.  Then Mclust itself runs from the same initialization.
_R_MCLUST = r"""
.emstat_mclust_sigma <- function(variance, d, G) {
  if (!is.null(variance$sigma)) return(array(as.numeric(variance$sigma), c(d, d, G)))
  array(rep(as.numeric(variance$sigmasq), length.out = G), c(1, 1, G))
}
.emstat_mclust_cell <- function(fit, modelName, n, d, G) {
  ll <- fit$loglik
  ok <- !is.null(ll) && length(ll) == 1 && !is.na(ll)
  info <- attr(fit, "info")
  p <- fit$parameters
  list(model = modelName, G = G,
       loglik = if (ok) ll else NA_real_,
       bic = if (ok) bic(modelName, ll, n = n, d = d, G = G) else NA_real_,
       npar = nMclustParams(modelName, d = d, G = G),
       iterations = if (G == 1) 1L else if (is.null(info)) NA_integer_ else as.integer(info[1]),
       returnCode = as.integer(c(attr(fit, "returnCode"), NA)[1]),
       pro = if (ok) rep(as.numeric(if (is.null(p$pro)) 1 else p$pro), length.out = G) else NULL,
       mean = if (ok) matrix(as.numeric(p$mean), d, G) else NULL,
       sigma = if (ok) .emstat_mclust_sigma(p$variance, d, G) else NULL)
}
.emstat_mclust_run <- function(X, G, modelNames, hcPairs = NULL, subset = NULL, tol = NULL) {
  X <- as.matrix(X); n <- nrow(X); d <- ncol(X)
  control <- if (is.null(tol)) emControl() else emControl(tol = tol)
  data <- if (d == 1) drop(X) else X
  init <- list()
  if (!is.null(hcPairs)) init$hcPairs <- hcPairs
  if (!is.null(subset)) init$subset <- subset
  if (d > 1 && is.null(hcPairs) && any(G > 1)) {
    Xs <- if (is.null(subset)) X else X[subset, , drop = FALSE]
    hcPairs <- hc(Xs, modelName = if (nrow(Xs) > d) "VVV" else "EII", use = "SVD")
  }
  cells <- list()
  for (g in G) {
    if (g > 1) {
      cl <- if (d > 1) hclass(hcPairs, g)[, 1]
            else mclust:::qclass(if (is.null(subset)) data else data[subset], g)
      z <- unmap(cl, groups = 1:max(cl))
    }
    for (m in modelNames) {
      fit <- if (g == 1) {
        mvn(modelName = m, data = data)
      } else if (is.null(subset)) {
        me(data = data, modelName = m, z = z, control = control)
      } else {
        ms <- mstep(data = as.matrix(data)[subset, ], modelName = m, z = z)
        es <- do.call("estep", c(list(data = data), ms))
        me(data = data, modelName = m, z = es$z, control = control)
      }
      cells[[length(cells) + 1]] <- .emstat_mclust_cell(fit, m, n, d, g)
    }
  }
  mc <- Mclust(data, G = G, modelNames = modelNames, initialization = init, control = control,
               verbose = FALSE)
  bic_table <- matrix(as.numeric(unclass(mc$BIC)), nrow = length(G))
  list(cells = cells, bic = bic_table,
       G_labels = as.integer(rownames(mc$BIC)), models = colnames(mc$BIC),
       chosen_model = mc$modelName, chosen_G = as.integer(mc$G),
       version = as.character(packageVersion("mclust")),
       r_version = R.version.string)
}
"""


@dataclass(frozen=True)
class RCell:
    """One (k, model) fit as R's ``me``/``mvn`` returned it (components in R's order).

    ``means`` is (k, d) and ``covariances`` (k, d, d), as emstat stores them.
    """

    model: str
    k: int
    loglik: float
    bic: float
    n_params: int
    n_iter: float
    weights: np.ndarray | None = None
    means: np.ndarray | None = None
    covariances: np.ndarray | None = None

    @classmethod
    def from_r(cls, cell: Mapping[str, Any]) -> RCell:
        """From the dict :func:`emstat._r.to_python` makes of R's cell list."""
        k = int(cell["G"])
        mean = cell.get("mean")
        sigma = cell.get("sigma")
        means = None if mean is None else np.asarray(mean, dtype=float).reshape(-1, k, order="F")
        covariances = None
        if sigma is not None and means is not None:
            d = means.shape[0]
            covariances = np.moveaxis(
                np.asarray(sigma, dtype=float).reshape(d, d, k, order="F"), 2, 0
            )
        return cls(
            model=str(cell["model"]),
            k=k,
            loglik=float(cell["loglik"]),
            bic=float(cell["bic"]),
            n_params=int(cell["npar"]),
            n_iter=float(cell["iterations"]),
            weights=None if cell.get("pro") is None else np.atleast_1d(cell["pro"]).astype(float),
            means=None if means is None else means.T,
            covariances=covariances,
        )


# --------------------------------------------------------------------------- pure helpers


def relative_difference(a: float, b: float) -> float:
    """``|a - b| / max(|a|, |b|)``; 0 when both are 0; NaN if either is NaN."""
    if math.isnan(a) or math.isnan(b):
        return math.nan
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else abs(a - b) / scale


def parameter_differences(
    weights: tuple[np.ndarray, np.ndarray],
    means: tuple[np.ndarray, np.ndarray],
    covariances: tuple[np.ndarray, np.ndarray],
) -> tuple[float, float, float]:
    """Largest absolute differences of weights, means, covariances after alignment.

    Each argument is a pair (emstat's, R's); components of the second are
    matched to the first by :func:`align_components` on the means.
    """
    from emstat.mixture.align import align_components

    perm = align_components(means[0], means[1])
    dw = float(np.max(np.abs(weights[0] - weights[1][perm])))
    dm = float(np.max(np.abs(means[0] - means[1][perm])))
    dc = float(np.max(np.abs(covariances[0] - covariances[1][perm])))
    return dw, dm, dc


def verdict(bic_emstat: float, bic_r: float, n_params: tuple[int, int], tol: float) -> str:
    """One word on a cell: ``agree``, ``both singular`` or ``DISAGREE (...)``."""
    e_nan, r_nan = math.isnan(bic_emstat), math.isnan(bic_r)
    if n_params[0] != n_params[1]:
        return "DISAGREE (parameter count)"
    if e_nan and r_nan:
        return "both singular"
    if r_nan:
        return "DISAGREE (R singular only)"
    if e_nan:
        return "DISAGREE (emstat singular only)"
    return "agree" if relative_difference(bic_emstat, bic_r) <= tol else "DISAGREE (BIC)"


def _is_agreement(text: str) -> bool:
    return text in ("agree", "both singular")


def _fit_arrays(fit: MixtureResult) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    if not fit.ok or fit.params_ is None:
        return None
    theta = fit.params_
    return (
        np.asarray(theta.weights, dtype=float),
        np.asarray(theta.means, dtype=float),
        np.asarray(theta.covariances, dtype=float),
    )


def compare_cell(fit: MixtureResult, cell: RCell, tol: float) -> dict[str, Any]:
    """One row of the side-by-side table."""
    bic_e = fit.bic_mclust if fit.ok else math.nan
    ours = _fit_arrays(fit)
    diffs = (math.nan, math.nan, math.nan)
    if ours is not None and cell.means is not None and cell.weights is not None:
        assert cell.covariances is not None  # set together with the means
        diffs = parameter_differences(
            (ours[0], cell.weights), (ours[1], cell.means), (ours[2], cell.covariances)
        )
    return {
        "model": fit.model,
        "k": fit.k,
        "loglik_emstat": fit.loglik if fit.ok else math.nan,
        "loglik_r": cell.loglik,
        "bic_emstat": bic_e,
        "bic_r": cell.bic,
        "bic_rel_diff": relative_difference(bic_e, cell.bic),
        "n_params": fit.n_params,
        "n_params_r": cell.n_params,
        "n_iter_emstat": fit.n_iter,
        "n_iter_r": cell.n_iter,
        "max_diff_weights": diffs[0],
        "max_diff_means": diffs[1],
        "max_diff_cov": diffs[2],
        "verdict": verdict(bic_e, cell.bic, (fit.n_params, cell.n_params), tol),
    }


def compare_mclust(
    fits: Mapping[tuple[int, str], MixtureResult],
    cells: Iterable[RCell],
    tol: float = 1e-6,
    mclust_bic: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The side-by-side table of emstat's fits and R's cells.

    ``mclust_bic`` (rows k, columns models), when given, is Mclust's own
    BIC table; it replaces the per-cell R BIC, so a difference between
    Mclust and its ``me()`` steps cannot hide.
    """
    rows = []
    for cell in cells:
        key = (cell.k, cell.model)
        if key not in fits:
            raise InputError(f"emstat has no fit for k = {cell.k}, model {cell.model}")
        if mclust_bic is not None:
            value = mclust_bic.loc[cell.k, cell.model]
            cell = RCell(**{**cell.__dict__, "bic": float(np.asarray(value, dtype=float))})
        rows.append(compare_cell(fits[key], cell, tol))
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- R side


def hc_pairs_for_r(merges: np.ndarray) -> np.ndarray:
    """emstat's 0-based ``(m - 1, 2)`` merge array as mclust's 1-based 2 x (m - 1) matrix."""
    m = np.asarray(merges)
    if m.ndim != 2 or m.shape[1] != 2:
        raise InputError(f"merges must have shape (m - 1, 2), got {m.shape}")
    return (m.T + 1).astype(float)


@dataclass(frozen=True)
class _Start:
    """What both programs start from: R's default, or emstat's subset and hc tree."""

    description: str
    hc_pairs: np.ndarray | None = None
    subset: np.ndarray | None = None  # 0-based rows


def _shared_start(data: NumericData, hc_subset: int, seed: int | None, ks: Sequence[int]) -> _Start:
    if data.n <= hc_subset:
        return _Start("R's own default start (hc on all rows / qclass), as Mclust(X, G)")
    if data.d == 1:
        return _Start(
            f"n = {data.n} > {hc_subset}: qclass on all rows, passed to R as subset = 1:n",
            subset=np.arange(data.n),
        )
    from emstat.mixture import hc

    if max(ks) == 1:
        return _Start("k = 1 only: no start needed")
    tree = hc.hc_tree(data.values, subset=hc_subset, seed=seed, mclust_compatible=True)
    return _Start(
        f"n = {data.n} > {hc_subset}: emstat's seeded subset of {tree.rows.size} rows "
        f"(seed {seed}) and its hc merges, passed to R as initialization = "
        "list(hcPairs, subset)",
        hc_pairs=hc_pairs_for_r(tree.merges),
        subset=tree.rows,
    )


def _run_r(
    data: NumericData,
    ks: Sequence[int],
    models: Sequence[str],
    start: _Start,
    em_tol: float | None = None,
) -> dict[str, Any]:
    from emstat import _r

    ro = _r.r_session()
    _r.require_r_package("mclust")
    ro.r(_R_MCLUST)
    hc_pairs = None
    if start.hc_pairs is not None:
        hc_pairs = ro.r["structure"](
            _r.to_r_matrix(start.hc_pairs),
            initialPartition=ro.vectors.FloatVector(np.arange(1, start.hc_pairs.shape[1] + 2)),
        )
    subset = None if start.subset is None else ro.vectors.IntVector(start.subset + 1)
    out = _r.r_call(
        ro.globalenv[".emstat_mclust_run"],
        _r.to_r_matrix(data.values, data.columns),
        ro.vectors.IntVector(list(ks)),
        ro.vectors.StrVector(list(models)),
        hcPairs=hc_pairs,
        subset=subset,
        tol=None if em_tol is None else ro.vectors.FloatVector([em_tol]),
    )
    result: dict[str, Any] = _r.to_python(out.value)
    result["warnings"] = out.warnings
    return result


# --------------------------------------------------------------------------- result


@dataclass(frozen=True, eq=False)
class MclustCheck:
    """The cross-check's outcome: the table, both choices and the verdict."""

    table: pd.DataFrame
    emstat_choice: tuple[str, int]
    r_choice: tuple[str, int]
    tol: float
    n: int
    columns: list[str]
    start: str
    versions: dict[str, str] = field(default_factory=dict)
    r_warnings: tuple[str, ...] = ()
    em_tol: float | None = None

    @property
    def n_disagree(self) -> int:
        """Rows whose verdict is not ``agree`` or ``both singular``."""
        return int((~self.table["verdict"].map(_is_agreement)).sum())

    @property
    def same_choice(self) -> bool:
        """True when emstat and Mclust chose the same model and k."""
        return self.emstat_choice == self.r_choice

    @property
    def agree(self) -> bool:
        """Every row agrees and both chose the same model."""
        return self.n_disagree == 0 and self.same_choice

    @property
    def max_bic_rel_diff(self) -> float:
        """Largest relative BIC difference over cells both fitted."""
        values = self.table["bic_rel_diff"].dropna()
        return float(values.max()) if len(values) else math.nan

    def summary(self) -> str:
        """The table and the verdict as text."""
        shown = self.table.copy()
        float_cols = ["loglik_emstat", "loglik_r", "bic_emstat", "bic_r"]
        text = shown.to_string(
            index=False,
            na_rep="NA",
            formatters={
                **{c: (lambda v: f"{v:.6f}") for c in float_cols},
                **{
                    c: (lambda v: f"{v:.1e}")
                    for c in ("bic_rel_diff", "max_diff_weights", "max_diff_means", "max_diff_cov")
                },
                "n_iter_r": lambda v: "NA" if math.isnan(v) else f"{int(v)}",
            },
        )
        status = "AGREE" if self.agree else "DISAGREE"
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        return (
            f"emstat vs R mclust::Mclust, n = {self.n}, columns {', '.join(self.columns)}\n"
            f"{mclust_settings(self.em_tol)}\nstart: {self.start}\n({versions})\n\n{text}\n\n"
            f"chosen: emstat {self.emstat_choice[0]} k={self.emstat_choice[1]}, "
            f"Mclust {self.r_choice[0]} G={self.r_choice[1]}\n"
            f"max relative BIC difference {self.max_bic_rel_diff:.2e} (tol {self.tol:g}); "
            f"{self.n_disagree} of {len(self.table)} rows disagree: {status}"
        )

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from emstat._html import table_html

        return table_html(self)


def _bic_frame(r: Mapping[str, Any]) -> pd.DataFrame:
    values = np.asarray(r["bic"], dtype=float).reshape(len(np.atleast_1d(r["G_labels"])), -1)
    return pd.DataFrame(
        values,
        index=[int(g) for g in np.atleast_1d(r["G_labels"])],
        columns=[str(m) for m in np.atleast_1d(r["models"])],
    )


def _cells(r: Mapping[str, Any]) -> list[RCell]:
    raw = r["cells"]
    return [RCell.from_r(c) for c in (raw.values() if isinstance(raw, dict) else raw)]


def mclust(
    data: Any,
    k: int | Iterable[int] = range(1, 10),
    models: Sequence[str] | None = None,
    *,
    columns: Sequence[str] | None = None,
    tol: float = 1e-6,
    hc_subset: int = 2000,
    seed: int | None = 0,
    em_tol: float | None = None,
) -> MclustCheck:
    """Fit every (k, model) with emstat and with R's mclust from the same start; compare.

    emstat runs :func:`emstat.select_mixture` with ``mclust_compatible=True``
    (mclust 6.0's own VEE, EVE and VVE M-steps: the same algorithm, not
    emstat's exact maximiser).  R runs ``Mclust(X, G, modelNames)`` for the BIC table and
    the chosen model, plus ``mvn``/``me`` per cell from the same start for
    the log-likelihood, iterations and parameters.

    With ``n <= hc_subset`` R uses its own default start (``hc`` on all rows,
    ``qclass`` in 1-D), so the whole of ``Mclust`` is checked.  With more
    rows mclust would agglomerate a subset drawn by R's generator; instead
    emstat's seeded subset and its merges are passed to ``Mclust`` as
    ``initialization = list(hcPairs, subset)`` (1-D: ``subset = 1:n``).

    Parameters
    ----------
    data
        A DataFrame (numeric columns, or ``columns``), a Series or an array.
    k
        Numbers of components (mclust's ``G``).
    models
        Covariance models (default: mclust's 14, or ``E``, ``V`` in 1-D).
    tol
        Largest relative BIC difference that still counts as agreement.
    hc_subset, seed
        Rows agglomerated at most, and the seed of emstat's subset.
    em_tol
        EM's tolerance on both sides: R runs with ``control = emControl(tol =
        em_tol)``, which sets mclust's two tolerances (EM's and the inner
        M-steps'), and emstat with ``tol=em_tol, inner_tol=em_tol``.
        Default: mclust's ``emControl()`` (1e-5 and sqrt(eps)).

    Returns
    -------
    MclustCheck
        ``.table`` (one row per cell: model, k, loglik, BIC (mclust's sign),
        parameter counts, iterations, largest differences in weights, means
        and covariances after Hungarian matching of the means, verdict),
        ``.agree``, ``.summary()``.

    Raises
    ------
    OptionalDependencyError
        When rpy2 or R is missing (``pip install 'emstat[r]'``), or R lacks
        mclust (:class:`emstat._r.RPackageMissingError`).
    RError
        When R fails; the message is R's.
    """
    from emstat.mixture.covariance import default_models, get_covariance_model
    from emstat.mixture.selection import select_mixture

    if not (isinstance(tol, (int, float)) and tol >= 0 and math.isfinite(tol)):
        raise InputError(f"tol must be a finite number >= 0, got {tol!r}")
    if em_tol is not None and not (
        isinstance(em_tol, (int, float)) and not isinstance(em_tol, bool) and 0 <= em_tol < 1
    ):
        raise InputError(f"em_tol must be a number >= 0 and < 1 (as emControl's), got {em_tol!r}")
    numeric = as_numeric_data(data, columns)
    ks = sorted({int(v) for v in ([k] if isinstance(k, (int, np.integer)) else list(k))})
    if not ks:
        raise InputError("k must name at least one number of components")
    names = list(models) if models is not None else default_models(numeric.d, numeric.n)
    resolved = list(dict.fromkeys(get_covariance_model(m, numeric.d).name for m in names))
    start = _shared_start(numeric, hc_subset, seed, ks)
    r = _run_r(numeric, ks, resolved, start, em_tol)
    frame = pd.DataFrame(numeric.values, columns=numeric.columns)
    selection: SelectionResult = select_mixture(
        frame,
        ks,
        resolved,
        convention="mclust",
        mclust_compatible=True,
        hc_subset=hc_subset,
        seed=seed,
        tol=em_tol,
        inner_tol=em_tol,
    )
    table = compare_mclust(selection.fits, _cells(r), tol, _bic_frame(r))
    best = selection.best
    return MclustCheck(
        table=table,
        emstat_choice=(best.model, best.k),
        r_choice=(str(r["chosen_model"]), int(r["chosen_G"])),
        tol=float(tol),
        n=numeric.n,
        columns=list(numeric.columns),
        start=start.description,
        versions={"R": str(r["r_version"]), "mclust": str(r["version"])},
        r_warnings=tuple(r.get("warnings", ())),
        em_tol=em_tol,
    )
