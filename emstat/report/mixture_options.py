"""What a Gaussian fit's options say in a report: a sentence each, and the call's arguments.

The options are those of :func:`emstat.fit_mixture` beyond the model and k:
missing cells fitted by EM, known labels, classification or stochastic EM, a
prior, a noise component.  :func:`option_sentences` words what each did and
what the criteria mean under it; :func:`option_arguments` writes the
keyword arguments that fit the same model again, so the report's
"reproduce" code runs to the same fit.

A fit does not keep ``mclust_compatible`` nor ``inner_tol`` (nor the
arguments of a user's :class:`~emstat.GaussianPrior`): the report's
``options=`` passes them, and they are written as given.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from emstat.engine import EMControl
from emstat.mixture.prior import GaussianPrior
from emstat.mixture.result import MixtureResult
from emstat.report.markdown import fmt_sig, md_escape

__all__ = [
    "LABELS_INLINE_MAX",
    "literal",
    "noise_share",
    "option_arguments",
    "option_sentences",
    "selection_notes",
]

#: Labelled rows written into the reproduce code as a literal; beyond, a placeholder.
LABELS_INLINE_MAX = 200

_NOISE_START = re.compile(r"noise start: (\d+) of (\d+) rows")


def noise_share(fit: MixtureResult) -> str:
    """The noise proportion as every report sentence shows it (4 significant digits)."""
    return fmt_sig(fit.noise_weight, 4)


# --------------------------------------------------------------------------- sentences


def _missing_sentence(fit: MixtureResult) -> str | None:
    summary = fit.missing
    if summary is None:
        return None
    share = summary.cells / summary.total_cells if summary.total_cells else 0.0
    dropped = (
        f"; {summary.dropped} rows with every value missing were left out"
        if summary.dropped
        else ""
    )
    return (
        f"Missing values: {summary.cells} of {summary.total_cells} cells ({share:.1%}) were "
        f"missing, in {summary.rows} of {summary.total_rows} rows{dropped}. Each row "
        "contributed its observed-data likelihood (the E-step takes the conditional Gaussian "
        "expectations of its missing coordinates), which assumes the values are missing at "
        f"random; the start was `{fit.init}`."
    )


def _labels_sentence(fit: MixtureResult) -> str | None:
    known = fit.known_labels
    if known is None:
        return None
    counts = known.counts()
    mapping = ", ".join(
        f"{md_escape(c)} → component {j + 1} ({counts[j]} rows)"
        for j, c in enumerate(known.classes)
    )
    return (
        f"Known labels: {known.n_known} of {fit.n:g} rows were labelled, in "
        f"{known.n_classes} classes ({mapping}); their responsibilities stayed at their class "
        "and the other rows' were inferred (mclust's MclustSSC). EM maximised, and BIC, AIC "
        "and ICL use, the log-likelihood of the data and the labels: the sum over labelled "
        "rows of log(π\\_c f\\_c(x)) plus the sum over the others of log Σ\\_k π\\_k f\\_k(x)."
    )


def _algorithm_sentence(fit: MixtureResult) -> str | None:
    if fit.algorithm == "cem":
        return (
            "Algorithm: classification EM (CEM): each E-step assigned every row to its most "
            "probable component and each M-step fitted that partition; its objective, the "
            "classification log-likelihood Σ\\_i log(π\\_z f\\_z(x\\_i)), ended at "
            f"{fmt_sig(fit.objective, 8)}. The log-likelihood and criteria reported are the "
            "observed-data ones at its estimate; standard errors are not computed (the "
            "estimate is no maximum of the likelihood)."
        )
    if fit.algorithm == "sem":
        return (
            "Algorithm: stochastic EM (SEM): each E-step drew every row's component from its "
            "responsibilities (seeded), each M-step fitted the draw; it is not monotone, its "
            "stopping rule follows the observed-data log-likelihood and the estimate is the "
            "last iterate (as flexmix's SEM). The criteria use the observed-data "
            "log-likelihood there; standard errors are not computed (the estimate is no "
            "maximum of the likelihood)."
        )
    if fit.init.startswith("cem from"):
        return (
            "Start: classification EM from the default start, then EM from its partition "
            f"(`{fit.init}`)."
        )
    return None


def _prior_sentence(fit: MixtureResult) -> str | None:
    if fit.prior is None:
        return None
    return (
        f"Prior: a MAP fit under {md_escape(fit.prior)}. EM maximised the posterior and "
        "stopped on the change of the log-likelihood; the log-likelihood, BIC, AIC and ICL "
        "exclude the prior (BIC = 2 log L − p log n in mclust's sign); standard errors are "
        "not computed for the posterior mode."
    )


def _noise_sentence(fit: MixtureResult) -> str | None:
    if not fit.has_noise or fit.vinv is None:
        return None
    vinv = float(fit.vinv)
    only = " (k = 0: the noise-only fit)" if fit.k == 0 else ""
    return (
        f"Noise: a uniform noise component, component 0{only}, of proportion "
        f"{noise_share(fit)} and density Vinv = {fmt_sig(vinv, 6)} (hypervolume "
        f"{fmt_sig(1.0 / vinv, 6)}), as mclust's; it counts 2 parameters more (its "
        "proportion and Vinv). Rows classified as noise are component 0, drawn as small grey "
        "points in the classification plots."
    )


def option_sentences(fit: MixtureResult) -> list[str]:
    """One sentence (markdown) per option the fit used, in a fixed order; empty without any."""
    found = (
        _missing_sentence(fit),
        _labels_sentence(fit),
        _algorithm_sentence(fit),
        _prior_sentence(fit),
        _noise_sentence(fit),
    )
    return [s for s in found if s]


def selection_notes(fits: list[MixtureResult]) -> list[str]:
    """What every fit of a selection shares, said once over its criteria tables."""
    first = next((f for f in fits if f.ok), fits[0] if fits else None)
    if first is None:
        return []
    notes = []
    if first.prior is not None:
        notes.append(
            "Every fit is a MAP fit under a prior (its hyperparameters per k and model); the "
            "criteria exclude the prior."
        )
    if first.known_labels is not None:
        notes.append(
            "Every fit used the known labels (mclust's MclustSSC); its criteria use the "
            "log-likelihood of the data and the labels."
        )
    if any(f.has_noise for f in fits):
        notes.append(
            "Every fit has a uniform noise component (component 0); k = 0 is the noise-only "
            "fit, and each criterion counts the noise's 2 parameters."
        )
    if first.algorithm != "em":
        name = "classification EM" if first.algorithm == "cem" else "stochastic EM"
        notes.append(
            f"Every fit is by {name}; the criteria use the observed-data log-likelihood at "
            "its estimate."
        )
    if first.missing is not None:
        notes.append(
            f"{first.missing.cells} cells were missing; every fit used the observed-data "
            "likelihood (missing at random)."
        )
    return notes


# --------------------------------------------------------------------------- the call


def literal(value: Any) -> str:
    """Python source for ``value``: numbers, text, lists, arrays and a GaussianPrior."""
    if isinstance(value, GaussianPrior):
        given = [
            f"{name}={literal(getattr(value, name))}"
            for name in ("shrinkage", "mean", "dof", "scale")
            if getattr(value, name) is not None
        ]
        return f"emstat.GaussianPrior({', '.join(given)})"
    if isinstance(value, np.ndarray):
        return repr(value.tolist())
    if isinstance(value, np.generic):
        return repr(value.item())
    return repr(value)


def _plain_key(value: Any) -> bool:
    """Whether ``value`` is written back exactly by its repr: a number or text."""
    return isinstance(value, (int, float, str, np.integer, np.floating)) and not isinstance(
        value, bool
    )


def _labels_argument(fit: MixtureResult) -> str:
    """``labels=`` as a Series of the labelled rows reindexed to the data's rows."""
    known = fit.known_labels
    if known is None:
        return ""
    if (
        known.index is None
        or known.n_known > LABELS_INLINE_MAX
        or not all(_plain_key(v) for v in known.index[known.known])
        or not all(_plain_key(c) for c in known.classes)
    ):
        return (
            'labels="...",  # the known labels: a column name or one value per row (NaN: unknown)'
        )
    rows = np.flatnonzero(known.known)
    pairs = ", ".join(
        f"{literal(known.index[int(i)])}: {literal(known.classes[known.codes[i]])}" for i in rows
    )
    text = f"labels=pd.Series({{{pairs}}}).reindex(df.index)"
    classes = list(known.classes)
    try:
        in_order = classes == sorted(classes)
    except TypeError:
        in_order = False
    if not in_order:  # a Categorical's own order: class c is component c
        text += f".astype(pd.CategoricalDtype({literal(classes)}))"
    return text + ","


def _noise_arguments(fit: MixtureResult, rows: np.ndarray | None) -> list[str]:
    """``noise=True`` when the default start marks the same rows, and the fit's ``Vinv``."""
    if not fit.has_noise:
        return []
    found = _NOISE_START.search(fit.init)
    noise = "noise=True,"
    if found is not None and rows is not None and rows.shape[0] == int(found.group(2)):
        from emstat.mixture.noise import nearest_neighbour_clutter

        if int(nearest_neighbour_clutter(rows).sum()) != int(found.group(1)):
            noise = (
                'noise="...",  # the start\'s noise rows: a boolean column name or one '
                "True/False per row"
            )
    return [noise, f"Vinv={literal(float(fit.vinv or math.nan))},"]


def _prior_argument(fit: MixtureResult) -> str | None:
    if fit.prior is None:
        return None
    if fit.prior.startswith("mclust defaultPrior"):
        return 'prior="mclust",'
    return (
        "prior=emstat.GaussianPrior(...),  # the hyperparameters given (pass options= to the "
        "report to write them here)"
    )


def option_arguments(
    fit: MixtureResult,
    rows: np.ndarray | None = None,
    options: Mapping[str, Any] | None = None,
    *,
    with_control: bool = True,
) -> list[str]:
    """The ``key=value,`` lines of every option ``fit`` used, then ``options`` as given.

    ``rows`` are the rows fitted, when known (they tell whether a noise start
    was the default one); ``options`` are keyword arguments the fit does not
    keep (``mclust_compatible``, ``inner_tol``, a prior's hyperparameters):
    they replace a line of the same key.  ``with_control`` adds the stopping
    rule (``tol``, ``criterion``, ``max_iter``).
    """
    lines: dict[str, str] = {}
    if fit.init.startswith("cem from"):
        lines["init"] = 'init="cem",'
    if fit.algorithm != "em":
        lines["algorithm"] = f"algorithm={fit.algorithm!r},"
    if fit.known_labels is not None:
        lines["labels"] = _labels_argument(fit)
    prior = _prior_argument(fit)
    if prior is not None:
        lines["prior"] = prior
    if fit.reg_covar != 0:
        lines["reg_covar"] = f"reg_covar={fit.reg_covar!r},"
    for line in _noise_arguments(fit, rows):
        lines[line.split("=", 1)[0]] = line
    if fit.missing is not None:
        lines["missing"] = 'missing="em",'
    if with_control:
        lines["tol"] = f"tol={fit.control.tol!r},"
        lines["criterion"] = f"criterion={fit.control.criterion!r},"
        if fit.control.max_iter != EMControl().max_iter:
            lines["max_iter"] = f"max_iter={fit.control.max_iter},"
    for key, value in (options or {}).items():
        lines[str(key)] = f"{key}={literal(value)},"
    return list(lines.values())
