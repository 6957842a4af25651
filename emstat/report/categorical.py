"""The report of a log-linear fit to incomplete categorical data (and a comparison of two)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from emstat.categorical.frontend import CategoricalResult
from emstat.report import figures
from emstat.report.document import Document, Section
from emstat.report.markdown import (
    FigureBlock,
    code_block,
    fmt_fixed,
    fmt_sig,
    md_escape,
    paragraph,
    pipe_table,
)
from emstat.report.provenance import reproduce_section
from emstat.report.registry import register_report

__all__ = [
    "categorical_document",
    "cell_table",
    "comparison_table",
    "crosstab_table",
    "level_text",
    "model_label",
    "patterns_table",
]


def level_text(level: Any) -> str:
    """A category level as text: ``1.0`` (an integer column with gaps) shows as ``1``."""
    if isinstance(level, float) and level.is_integer():
        return str(int(level))
    return md_escape(level)


def _plain_level(level: Any) -> str:
    return str(int(level)) if isinstance(level, float) and level.is_integer() else str(level)


def model_label(result: CategoricalResult) -> str:
    """``saturated`` or the margins, e.g. ``(V1)(V2)``."""
    if result.model.saturated:
        return "saturated"
    return "".join("(" + " ".join(m) + ")" for m in result.margins)


def patterns_table(result: CategoricalResult) -> pd.DataFrame:
    """Missingness patterns: which variables are observed, rows and units per pattern."""
    patterns = result.patterns
    out = pd.DataFrame({"pattern": [str(i) for i in patterns.index]})
    for variable in result.variables:
        out[variable] = ["observed" if v else "missing" for v in patterns[variable]]
    out["rows"] = [str(v) for v in patterns["n_rows"]]
    out["units"] = [f"{v:g}" for v in patterns["count"]]
    return out


def crosstab_table(result: CategoricalResult, values: str = "probability") -> pd.DataFrame:
    """A two-variable table of ``values`` (rows the first variable, columns the second)."""
    table = result.table(values)  # type: ignore[arg-type]
    first, second = result.variables
    digits = 4 if values == "probability" else 5
    out = pd.DataFrame({f"{first} \\ {second}": [level_text(i) for i in table.index]})
    for column in table.columns:
        out[_plain_level(column)] = [fmt_sig(v, digits) for v in table[column]]
    return out


def cell_table(result: CategoricalResult) -> pd.DataFrame:
    """One row per cell: the levels, probability, standard error, 95% interval, fitted count."""
    params = result.params
    out = pd.DataFrame({v: [level_text(x) for x in params[v]] for v in result.variables})
    out["probability"] = [fmt_sig(v) for v in params["estimate"]]
    out["std. error"] = [fmt_sig(v, 2) for v in params["std_err"]]
    out["95% interval"] = [
        "NA" if pd.isna(lo) else f"{fmt_sig(lo)} to {fmt_sig(hi)}"
        for lo, hi in zip(params["ci_low"], params["ci_high"], strict=True)
    ]
    out["fitted count"] = [fmt_sig(v, 5) for v in result.fitted_counts]
    return out


def comparison_table(results: list[CategoricalResult]) -> pd.DataFrame:
    """Models side by side: log-likelihood, parameters, AIC, BIC."""
    return pd.DataFrame(
        {
            "model": [md_escape(model_label(r)) for r in results],
            "log-likelihood": [fmt_fixed(r.loglik, 4) for r in results],
            "parameters": [str(r.n_params) for r in results],
            "AIC": [fmt_fixed(r.aic, 3) for r in results],
            "BIC": [fmt_fixed(r.bic, 3) for r in results],
            "iterations": [str(r.n_iter) for r in results],
        }
    )


def _fit_blocks(result: CategoricalResult) -> list[Any]:
    blocks: list[Any] = [
        paragraph(
            f"Model **{md_escape(model_label(result))}**, prior {result.prior:g} "
            f"({'maximum likelihood' if result.prior == 1 else 'posterior mode'}): "
            f"log-likelihood {fmt_fixed(result.loglik, 4)}, {result.n_params} free parameters, "
            f"AIC {fmt_fixed(result.aic, 3)}, BIC {fmt_fixed(result.bic, 3)} "
            "(−2 log L + penalty: smaller is better)."
        )
    ]
    if len(result.variables) == 2:
        blocks += [
            pipe_table(crosstab_table(result, "probability"), "Estimated cell probabilities."),
            pipe_table(
                crosstab_table(result, "fitted"),
                f"Fitted counts (N × probability, N = {result.n_units:g}).",
            ),
        ]
    blocks.append(
        pipe_table(
            cell_table(result),
            "Every cell: probability with its standard error (observed information) and 95% "
            "interval (logit scale), and the fitted count.",
            full_width=len(result.variables) > 3,
        )
    )
    return blocks


def categorical_document(
    result: CategoricalResult,
    other: CategoricalResult | None = None,
    *,
    data_name: str = "the data",
    title: str | None = None,
    command: str | None = None,
) -> Document:
    """The report of a categorical fit; with ``other``, a likelihood-ratio comparison too."""
    counts = result.data.counts_column
    code = command or (
        "import emstat, pandas as pd\n"
        f"df = pd.read_csv(...)  # {data_name}\n"
        f"fit = emstat.fit_categorical(df, counts={counts!r}, margins={_margins(result)})"
        + (
            f"\nother = emstat.fit_categorical(df, counts={counts!r}, margins={_margins(other)})"
            f"\nfit.lrt(other)"
            if other is not None
            else ""
        )
    )
    language = "python" if command is None else "sh"
    levels = ", ".join(
        f"{md_escape(v)} ({len(lv)} levels)"
        for v, lv in zip(result.variables, result.data.levels, strict=True)
    )
    intro = [
        paragraph(
            f"Incomplete categorical data **{md_escape(data_name)}**: {result.n_units:g} units "
            f"in {len(result.data.codes)} rows; variables {levels}.",
            "Units with missing values are kept: EM fills in their cells by conditional "
            "expectation (missing at random), as R's `cat` does.",
        ),
        code_block(code, language),
        pipe_table(patterns_table(result), "Patterns of missingness and how many units show each."),
    ]
    sections = [
        Section("Data and patterns of missingness", intro),
        Section("Estimated table", _fit_blocks(result)),
    ]
    if other is not None:
        test = result.lrt(other)
        sections.append(
            Section(
                "Model comparison",
                [
                    pipe_table(comparison_table([result, other]), "The two models."),
                    paragraph(
                        f"Likelihood-ratio test of {md_escape(test.null)} (null) against "
                        f"{md_escape(test.alternative)}: G² = {fmt_fixed(test.statistic, 4)} on "
                        f"{test.df} degrees of freedom, p = {fmt_sig(test.p_value, 4)} "
                        "(chi-square reference)."
                    ),
                    *_fit_blocks(other),
                ],
            )
        )
    sections.append(
        Section(
            "Convergence",
            [
                paragraph(
                    f"EM {'converged' if result.converged else 'did **not** converge'} after "
                    f"{result.n_iter} iterations. Stopping rule: "
                    f"{md_escape(result.em.control.describe())}."
                ),
                FigureBlock(
                    "trace",
                    figures.trace_figure(
                        result.trace,
                        result.em.control,
                        result.n_units,
                        "log-likelihood" if result.prior == 1 else "log-posterior",
                    ),
                    "Log-likelihood after every iteration"
                    + (
                        "."
                        if result.em.control.criterion == "param"
                        else "; right, the stopping statistic against its tolerance."
                    ),
                    width=70 if result.em.control.criterion == "param" else 95,
                ),
            ],
        )
    )
    sections.append(reproduce_section(None, code, language))
    return Document(
        title=title or f"Incomplete categorical data: {data_name}",
        subtitle=f"log-linear model {model_label(result)}"
        + (f" compared with {model_label(other)}" if other is not None else ""),
        sections=sections,
        metadata={"command": code},
    )


def _margins(result: CategoricalResult | None) -> str:
    if result is None or result.model.saturated:
        return "None"
    return repr(result.margins)


def _is_pair(result: Any) -> bool:
    """Two categorical fits, to be compared by a likelihood-ratio test."""
    return len(result) == 2 and all(isinstance(r, CategoricalResult) for r in result)


register_report(CategoricalResult, categorical_document, "a categorical fit")
for _pair in (tuple, list):
    register_report(
        _pair,
        categorical_document,
        "two categorical fits",
        when=_is_pair,
        arguments=lambda pair: (pair[0], pair[1]),
    )
