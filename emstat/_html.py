"""How results show themselves in a notebook: compact HTML tables, every string escaped.

Each result class's ``_repr_html_`` is one line that calls a function here,
so the layout of every result lives in one place.
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

__all__ = [
    "fit_facts",
    "fit_html",
    "option_facts",
    "segmentation_html",
    "selection_html",
    "table_html",
    "text_html",
]

_STYLE = 'class="dataframe emstat" border="0"'


def _number(value: float, digits: str) -> str:
    return "NA" if value is None or not math.isfinite(value) else format(value, digits)


def _rows_html(rows: list[tuple[str, str]]) -> str:
    """A two-column table of label, value (both escaped)."""
    body = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
        for label, value in rows
    )
    return f"<table {_STYLE}><tbody>{body}</tbody></table>"


def _frame_html(frame: pd.DataFrame, digits: str, index: bool) -> str:
    # to_html escapes the labels and values it writes
    return str(
        frame.to_html(
            index=index,
            float_format=lambda v: format(v, digits),
            na_rep="NA",
            border=0,
            classes="emstat",
            escape=True,
        )
    )


def _model_name(result: Any) -> str | None:
    model = getattr(result, "model", None)
    if isinstance(model, str):
        return model
    if getattr(model, "saturated", False):
        return "saturated"
    margins = getattr(result, "margins", None)
    return " ".join("(" + " ".join(m) + ")" for m in margins) if margins else None


def fit_facts(result: Any) -> list[tuple[str, str]]:
    """The rows of a fit's facts table: model, k, n, loglik, criteria, convergence."""
    rows: list[tuple[str, str]] = []
    name = _model_name(result)
    if name is not None:
        rows.append(("model", name))
    if hasattr(result, "k"):
        rows.append(("k", str(result.k)))
    rows += [("n", f"{result.n:g}"), ("parameters", str(result.n_params))]
    if not result.ok:
        return [*rows, ("degenerate", str(result.degenerate))]
    rows += [
        ("log-likelihood", _number(result.loglik, ".6f")),
        ("BIC", _number(result.bic, ".4f")),
        ("AIC", _number(result.aic, ".4f")),
    ]
    if hasattr(result, "k"):  # ICL needs components to classify into
        rows.append(("ICL", _number(result.icl, ".4f")))
    converged = "yes" if result.converged else f"no ({result.stop_reason})"
    rows += [("converged", converged), ("iterations", str(result.n_iter))]
    return rows + option_facts(result)


def option_facts(result: Any) -> list[tuple[str, str]]:
    """Rows for the options a Gaussian fit used: missing cells, labels, algorithm, prior, noise.

    Read by attribute, so results without these options give no rows.
    """
    rows: list[tuple[str, str]] = []
    missing = getattr(result, "missing", None)
    if missing is not None and hasattr(missing, "total_cells"):
        dropped = f"; {missing.dropped} rows left out" if missing.dropped else ""
        rows.append(
            (
                "missing",
                f"{missing.cells} of {missing.total_cells} cells in {missing.rows} of "
                f"{missing.total_rows} rows{dropped}; assumed missing at random",
            )
        )
    known = getattr(result, "known_labels", None)
    if known is not None:
        mapping = ", ".join(f"{c} -> {j + 1}" for j, c in enumerate(known.classes))
        rows.append(
            (
                "known labels",
                f"{known.n_known} of {result.n:g} rows labelled ({mapping}); "
                "loglik of data and labels",
            )
        )
    algorithm = getattr(result, "algorithm", "em")
    if algorithm in ("cem", "sem"):
        name = "classification EM" if algorithm == "cem" else "stochastic EM"
        rows.append(("algorithm", f"{name}; no standard errors"))
        if algorithm == "cem":
            rows.append(("objective", _number(result.objective, ".6f")))
    prior = getattr(result, "prior", None)
    if isinstance(prior, str):
        rows.append(("prior", f"{prior}; criteria exclude the prior"))
    if getattr(result, "has_noise", False):
        rows += [
            ("noise proportion", _number(result.noise_weight, ".6g")),
            ("noise Vinv", _number(result.vinv, ".6g")),
        ]
    return rows


def fit_html(result: Any) -> str:
    """A fit: its summary's first line, the facts table and the ``params`` table."""
    title = html.escape(result.summary().split("\n")[0])
    params = _frame_html(result.params, ".6g", index=False) if result.ok else ""
    return (
        f'<div class="emstat-result"><p><strong>{title}</strong></p>'
        f"{_rows_html(fit_facts(result))}{params}</div>"
    )


def selection_html(selection: Any) -> str:
    """A selection: the criterion's table (rows k, columns models) and the chosen fit."""
    from emstat.mixture.selection import _family_label  # the selection imports this module

    sign = "smaller" if selection.convention == "smaller" else "larger"
    criterion = selection.criterion.upper()
    title = (
        f"{criterion} of {_family_label(selection)} mixtures, n = {selection.n:g}, columns "
        f"{', '.join(map(str, selection.columns))} ({sign} is better)"
    )
    ranked = selection.ranking()
    options = ""
    if ranked.empty:
        best = "every fit was degenerate; see .reasons"
    else:
        fit = selection.best
        value = fit.criterion(selection.criterion, selection.convention)
        best = f"best: model {fit.model} with k = {fit.k} ({criterion} {value:.4f})"
        facts = option_facts(fit)
        options = _rows_html(facts) if facts else ""
    return (
        f'<div class="emstat-result"><p><strong>{html.escape(title)}</strong></p>'
        f"{_frame_html(selection.table, '.3f', index=True)}<p>{html.escape(best)}</p>"
        f"{options}</div>"
    )


def text_html(text: str) -> str:
    """A short result that is one line of text (a test's statistic and p-value)."""
    return f'<p class="emstat-result">{html.escape(text)}</p>'


def segmentation_html(result: Any) -> str:
    """An image segmentation: its summary's first line, the fit's facts and the segments."""
    title = html.escape(result.summary().split("\n")[0])
    return (
        f'<div class="emstat-result"><p><strong>{title}</strong></p>'
        f"{_rows_html(fit_facts(result.fit))}{_frame_html(result.segments, '.3f', index=False)}"
        "</div>"
    )


def table_html(check: Any) -> str:
    """A result with a summary and a ``table`` (a cross-check, a test, a bootstrap, an HMM
    selection): the summary's first line, the table and the summary's last line."""
    # rule lines (------) frame some summaries: the title and verdict are the worded ones
    lines = [line for line in check.summary().split("\n") if line.strip(" -=")] or [""]
    return (
        f'<div class="emstat-result"><p><strong>{html.escape(lines[0])}</strong></p>'
        f"{_frame_html(check.table, '.6g', index=False)}<p>{html.escape(lines[-1])}</p></div>"
    )
