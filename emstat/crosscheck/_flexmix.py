"""Cross-check mixtures of the count and categorical families against R's flexmix.

Both programs fit the same data from the same soft start (flexmix's
``cluster=`` posterior: 0.9 to a seeded random component, 0.1 shared by the
others) to a tight tolerance, since flexmix's defaults stop about 3e-4 short
of the maximum (relative change 1e-6, 200 iterations).  flexmix's
``logLik`` includes the binomial coefficient and ``log x!`` as emstat's
does; its BIC is ``-2 logLik + df log n``, emstat's convention.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from emstat.crosscheck._mclust import relative_difference
from emstat.engine import EMControl
from emstat.errors import InputError
from emstat.families import ProductFamily
from emstat.mixture.family_fit import (
    fit_family_mixture,
    prepare_family_data,
)

__all__ = ["FLEXMIX_SETTINGS", "FlexmixCheck", "flexmix", "soft_start"]

FLEXMIX_SETTINGS = (
    "both from the same soft start (cluster= posterior 0.9 / 0.1), relative tolerance 1e-12 "
    "(flexmix tolerance 1e-12, iter.max 20000, minprior 0); BIC = -2 loglik + df log n "
    "(smaller is better)"
)
_CONTROL = EMControl(tol=1e-12, criterion="rel", max_iter=20_000)


def soft_start(n: int, k: int, seed: int) -> np.ndarray:
    """flexmix's kind of start: 0.9 to a random component per row, 0.1 shared by the rest."""
    if k == 1:
        return np.ones((n, 1))
    labels = np.random.default_rng(seed).integers(k, size=n)
    post = np.full((n, k), 0.1 / (k - 1))
    post[np.arange(n), labels] = 0.9
    return post


def _r_model(family: ProductFamily) -> tuple[str, str]:
    """flexmix's formula and driver for a family emstat can compare."""
    parts = family.parts
    names = {part.name for part in parts}
    if names == {"poisson"} and len(parts) == 1:
        part = parts[0]
        exposure = getattr(part, "exposure", None)
        offset = ""
        if isinstance(exposure, str):
            offset = f', offset = log(df[["{exposure}"]])'
        elif exposure is not None:
            offset = f", offset = rep(log({float(exposure)!r}), nrow(df))"
        return f"`{part.column}` ~ 1", f'FLXMRglm(family = "poisson"{offset})'
    if names == {"binomial"} and len(parts) == 1:
        part = parts[0]
        trials = getattr(part, "trials", None)
        total = f"`{trials}`" if isinstance(trials, str) else repr(float(trials or 1))
        return (
            f"cbind(`{part.column}`, {total} - `{part.column}`) ~ 1",
            'FLXMRglm(family = "binomial")',
        )
    if names == {"categorical"} and all(len(getattr(p, "levels", ()) or ()) == 2 for p in parts):
        columns = ", ".join(f"`{p.column}`" for p in parts)
        return f"cbind({columns}) ~ 1", "FLXMCmvbinary()"
    raise InputError(
        "the flexmix cross-check compares one Poisson column, one binomial column, or binary "
        "latent classes (categorical columns of two levels)"
    )


def _r_frame(family: ProductFamily, frame: pd.DataFrame) -> pd.DataFrame:
    """The columns R needs; binary categorical columns as 0/1 (their second level is 1)."""
    out = pd.DataFrame(index=frame.index)
    for part in family.parts:
        levels = getattr(part, "levels", None)
        if levels is not None:
            out[part.column] = (frame[part.column] == levels[1]).astype(int)
        else:
            out[part.column] = frame[part.column]
        extra = getattr(part, "trials", None) or getattr(part, "exposure", None)
        if isinstance(extra, str):
            out[extra] = frame[extra]
    return out


_R_FIT = r"""
function(df, post, formula, driver) {
  suppressPackageStartupMessages(library(flexmix))
  m <- eval(parse(text = sprintf(
    "flexmix(%s, data = df, k = ncol(post), cluster = post, model = %s,
             control = list(tolerance = 1e-12, iter.max = 20000, minprior = 0))",
    formula, driver)))
  ll <- logLik(m)
  list(loglik = as.numeric(ll), df = attr(ll, "df"), iter = m@iter, k = m@k,
       bic = BIC(m), prior = as.numeric(prior(m)),
       version = as.character(packageVersion("flexmix")))
}
"""


@dataclass(frozen=True)
class FlexmixCheck:
    """The cross-check's outcome: one row per k and the verdict."""

    table: pd.DataFrame
    family: str
    n: int
    tol: float
    versions: dict[str, str] = field(default_factory=dict)

    @property
    def agree(self) -> bool:
        return bool((self.table["verdict"] == "agree").all())

    def summary(self) -> str:
        shown = self.table.to_string(index=False, float_format=lambda v: f"{v:.10g}")
        versions = ", ".join(f"{k} {v}" for k, v in self.versions.items())
        status = "AGREE" if self.agree else "DISAGREE"
        return (
            f"emstat vs R flexmix: {self.family} mixtures, n = {self.n}\n{FLEXMIX_SETTINGS}\n"
            f"{shown}\n{versions}; tolerance {self.tol:g}: {status}"
        )

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from emstat._html import table_html

        return table_html(self)


def flexmix(
    data: pd.DataFrame,
    k: Sequence[int] | int = (1, 2, 3),
    family: Any = "poisson",
    *,
    columns: Sequence[str] | None = None,
    trials: Any = None,
    exposure: Any = None,
    seed: int = 0,
    tol: float = 1e-8,
) -> FlexmixCheck:
    """Fit every k with emstat and with R's flexmix from the same start and compare.

    A row agrees when the log-likelihoods differ by at most ``tol``
    (relative) and the parameter counts and mixing weights match.
    """
    from emstat import _r

    _r.require_r_package("flexmix")
    ks = [k] if isinstance(k, int) else list(k)
    bound, encoded = prepare_family_data(data, family, columns, trials=trials, exposure=exposure)
    formula, driver = _r_model(bound)
    r_frame = _r_frame(bound, data)
    rows = []
    versions: dict[str, str] = {}
    for kk in ks:
        post = soft_start(encoded.n, kk, seed + kk)
        ours = fit_family_mixture(
            data,
            kk,
            family,
            columns=columns,
            trials=trials,
            exposure=exposure,
            init=post if kk > 1 else None,
            control=_CONTROL,
        )
        values = _r.to_python(
            _r.r_call(
                _R_FIT,
                _r.to_r_dataframe(r_frame),
                _r.to_r_matrix(post),
                _r.to_r_vector([formula]),
                _r.to_r_vector([driver]),
            ).value
        )
        versions["flexmix"] = str(values["version"])
        r_weights = np.sort(np.atleast_1d(np.asarray(values["prior"], dtype=float)))
        our_weights = np.sort(ours.theta.weights) if ours.theta is not None else np.full(kk, np.nan)
        weight_diff = (
            float(np.max(np.abs(r_weights - our_weights)))
            if r_weights.shape == our_weights.shape
            else math.inf
        )
        loglik_diff = relative_difference(ours.loglik, float(values["loglik"]))
        same_df = int(values["df"]) == ours.n_params
        verdict = (
            "agree"
            if same_df and loglik_diff <= tol and weight_diff <= math.sqrt(tol)
            else "DISAGREE"
        )
        rows.append(
            {
                "k": kk,
                "loglik_emstat": ours.loglik,
                "loglik_r": float(values["loglik"]),
                "bic_emstat": ours.bic,
                "bic_r": float(values["bic"]),
                "df_emstat": ours.n_params,
                "df_r": int(values["df"]),
                "iter_emstat": ours.n_iter,
                "iter_r": int(values["iter"]),
                "max_weight_diff": weight_diff,
                "verdict": verdict,
            }
        )
    return FlexmixCheck(pd.DataFrame(rows), bound.name, encoded.n, tol, versions)
