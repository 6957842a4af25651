"""The report of a mixture of a component family (Poisson, binomial, categorical, normal, mixed).

For a fit: the data (rows, total case weight, missing cells per column), the
estimates with their Wald intervals and the scale each is computed on,
restarts, convergence, and one figure per column that suits its family: for
counts (Poisson, binomial) the observed frequency of every count against the
frequencies the fitted mixture and each weighted component expect, for a
normal column a histogram with the fitted density, for a categorical column
the probability of each level in each component.  For a selection over k,
the BIC, AIC and ICL of every k, the chosen one, and the criteria against k.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from emstat import plotting
from emstat.engine import EMControl
from emstat.errors import InputError
from emstat.families.base import ColumnFamily
from emstat.mixture.family_fit import FamilyMixtureResult
from emstat.mixture.finite import FamilyData
from emstat.mixture.selection import SelectionResult
from emstat.report import figures
from emstat.report.document import Document, Section
from emstat.report.markdown import (
    FigureBlock,
    bold,
    callout,
    code_block,
    fmt_fixed,
    fmt_int,
    fmt_sig,
    md_escape,
    paragraph,
    pipe_table,
    python_call,
)
from emstat.report.mixture import CONVENTION_TEXT, degenerate_note, restarts_table
from emstat.report.provenance import reproduce_section
from emstat.report.registry import register_report

__all__ = [
    "data_table",
    "family_fit_document",
    "family_fit_sections",
    "family_label",
    "family_selection_document",
    "family_selection_table",
    "parameter_table",
]

_CRITERIA = ("bic", "aic", "icl")


# --------------------------------------------------------------------------- words


def family_label(fit: FamilyMixtureResult) -> str:
    """The family in words: "Poisson", "categorical (latent classes)", "mixed"."""
    names = [part.name for part in fit.family.parts]
    if fit.family.name == "mixed":
        return "mixed (" + ", ".join(dict.fromkeys(names)) + ")"
    name = {"poisson": "Poisson"}.get(names[0], names[0])
    if names[0] == "categorical" and len(names) > 1:
        return f"{name} (latent classes)"
    if names[0] == "normal" and len(names) > 1:
        return f"{name} (latent profiles)"
    return name


def _columns_text(columns: list[str], limit: int = 8) -> str:
    shown = ", ".join(columns[:limit])
    return shown + (f" and {len(columns) - limit} more" if len(columns) > limit else "")


def _extra_source(part: ColumnFamily) -> str:
    """How the trials or the exposure of a column are given, or ""."""
    for what in ("trials", "exposure"):
        source = getattr(part, what, None)
        if isinstance(source, str):
            return f"{what}: column {md_escape(source)}"
        if source is not None:
            return f"{what}: {source:g}"
    return ""


# --------------------------------------------------------------------------- data


def data_table(fit: FamilyMixtureResult, rows: FamilyData) -> pd.DataFrame:
    """One row per modelled column: its family, trials or exposure, missing and observed cells."""
    out = []
    for part, block in zip(fit.family.parts, rows.blocks, strict=True):
        missing = int((~block.observed).sum())
        out.append(
            {
                "column": md_escape(part.column),
                "family": md_escape(part.describe()),
                "missing cells": str(missing),
                "observed cells": str(rows.n - missing),
            }
        )
    return pd.DataFrame(out)


def _data_blocks(fit: FamilyMixtureResult, rows: FamilyData | None) -> list[Any]:
    if rows is None:
        return [
            "The fit keeps no data (it was loaded from a file) and none were given "
            "(`data=`), so the data are not summarised nor drawn."
        ]
    weighted = rows.case_weights is not None
    weight_text = (
        f" with case weights summing to **{rows.total_weight():g}** "
        "(the n of BIC and the frequencies below)"
        if weighted
        else ""
    )
    missing = sum(int((~b.observed).sum()) for b in rows.blocks)
    extras = [f"{md_escape(p.column)} ({_extra_source(p)})" for p in fit.family.parts]
    extras = [e for e, p in zip(extras, fit.family.parts, strict=True) if _extra_source(p)]
    return [
        paragraph(
            f"**{rows.n}** rows{weight_text}; {len(fit.columns)} modelled column(s), "
            f"{missing} missing cell(s) in all.",
            "A missing cell is left out of its row's likelihood (local independence); "
            "the row's other columns still count."
            if missing
            else "",
            f"Trials and exposures: {', '.join(extras)}." if extras else "",
        ),
        pipe_table(data_table(fit, rows), "The modelled columns and their missing cells."),
    ]


# --------------------------------------------------------------------------- estimates


def parameter_table(params: pd.DataFrame) -> pd.DataFrame:
    """The tidy estimates to 4 significant digits; intervals as their ends; the scale."""
    return pd.DataFrame(
        {
            "component": params["component"].astype(str),
            "parameter": [md_escape(p) for p in params["parameter"]],
            "estimate": [fmt_sig(v) for v in params["estimate"]],
            "std. error": [fmt_sig(v, 2) for v in params["std_err"]],
            "95% low": [fmt_sig(v) for v in params["ci_low"]],
            "95% high": [fmt_sig(v) for v in params["ci_high"]],
            "scale": [md_escape(s) for s in params["scale"]],
        }
    )


def _estimate_blocks(fit: FamilyMixtureResult, convention: str) -> list[Any]:
    sign = "larger" if convention == "mclust" else "smaller"
    criteria = ", ".join(
        f"{name.upper()} {fmt_fixed(fit.criterion(name, convention), 2)}" for name in _CRITERIA
    )
    note = fit.std_error_note
    blocks: list[Any] = [
        paragraph(
            f"**k = {fit.k}** {md_escape(family_label(fit))} components: log-likelihood "
            f"{fmt_fixed(fit.loglik, 4)}, {fit.n_params} free parameters; {criteria} "
            f"({'2 log L − penalty' if sign == 'larger' else '−2 log L + penalty'}: "
            f"{sign} is better).",
            f"Started from the `{fit.init}` partition.",
        ),
        pipe_table(
            parameter_table(fit.params),
            "Estimates; standard errors from the "
            f"{md_escape(fit.std_error_method or 'observed information')}"
            + (f", not available here: {md_escape(note)}" if note else "")
            + "; 95% Wald intervals computed on the scale shown and transformed back, "
            "so they stay inside the parameter space.",
            align=["r", "l", "r", "r", "r", "r", "l"],
        ),
    ]
    if fit.restarts is not None:
        blocks.append(
            pipe_table(
                restarts_table(fit.restarts),
                f"The {len(fit.restarts)} restarts; the one kept (highest log-likelihood) in bold.",
            )
        )
    return blocks


def _convergence_blocks(fit: FamilyMixtureResult) -> list[Any]:
    status = (
        "converged"
        if fit.converged
        else f"did **not** converge (stopped by {md_escape(fit.stop_reason)})"
    )
    return [
        paragraph(
            f"EM {status} after {fit.n_iter} iterations ({fmt_fixed(fit.seconds, 3)} s); "
            f"stop reason: {md_escape(fit.stop_reason)}.",
            f"Stopping rule: {md_escape(fit.control.describe())}.",
        ),
        FigureBlock(
            "trace",
            figures.trace_figure(fit.trace, fit.control, fit.n),
            "Left: log-likelihood after every iteration. Right: the quantity the stopping "
            "rule compares with its tolerance (dashed line).",
            width=95,
        ),
    ]


# --------------------------------------------------------------------------- figures


def _count_figure(fit: FamilyMixtureResult, j: int, rows: FamilyData, name: str) -> FigureBlock:
    part = fit.family.parts[j]
    block = rows.blocks[j]
    view = plotting.count_view(fit, j, rows)
    fig = figures.new_figure(6.5, 3.6)
    view.draw(fig.add_subplot())
    observed, expected, counts = view.observed, view.expected, view.counts
    beyond = float(observed.sum() - expected.sum())
    return FigureBlock(
        name,
        fig,
        f"{md_escape(part.column)}: observed frequency of each count (bars"
        + (", rows weighted by their case weights" if view.weighted else "")
        + "), the frequency the fitted mixture expects (black: the sum over rows of the "
        "mixture's probability of the count"
        + (f", each row with its own {_extra_name(part)}" if block.extra is not None else "")
        + "), and each component's part of it (dashed: its weight times its expected "
        f"frequency). Of the total frequency {observed.sum():g}, the mixture puts "
        f"{fmt_sig(max(beyond, 0.0), 3)} above {int(counts[-1])}.",
        width=80,
    )


def _extra_name(part: ColumnFamily) -> str:
    return "number of trials" if part.name == "binomial" else "exposure"


def _normal_figure(fit: FamilyMixtureResult, j: int, rows: FamilyData, name: str) -> FigureBlock:
    part = fit.family.parts[j]
    fig = figures.new_figure(6.5, 3.6)
    plotting.draw_family_density(fig.add_subplot(), fit, j, rows)
    return FigureBlock(
        name,
        fig,
        f"{md_escape(part.column)}: the fitted mixture density (black) and its weighted "
        "components (dashed) over a histogram of the observed values"
        + (" (weighted by the case weights)." if rows.case_weights is not None else "."),
        width=80,
    )


def _categorical_figure(
    fit: FamilyMixtureResult, columns: list[int], rows: FamilyData, name: str
) -> FigureBlock:
    panels = plotting.level_panels(fit, columns, rows)
    widest = max(len(levels) for _, levels, _, _ in panels)
    side = max(2.6, min(4.5, 1.2 + 0.25 * fit.k * widest))
    fig, axes = figures.panel_grid(len(panels), side, 2.5, sharey=True, extra_height=0.4)
    figures.level_probability_plot(axes, panels)
    shown = ", ".join(md_escape(fit.family.parts[j].column) for j in columns)
    return FigureBlock(
        name,
        fig,
        f"{shown}: probability of each level in each component (bars) and the observed "
        "share of each level (diamonds), a panel per column.",
        width=min(95, 35 * min(3, len(columns)) + 10),
    )


#: The figure of a column, by its family's name.
_COLUMN_FIGURES: dict[str, Callable[[FamilyMixtureResult, int, FamilyData, str], FigureBlock]] = {
    "poisson": _count_figure,
    "binomial": _count_figure,
    "normal": _normal_figure,
}
#: Categorical columns share figures, a panel per column, this many panels a figure.
_PANELS = 9


def _figure_name(j: int, column: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9-]+", "-", column).strip("-")[:40]
    return f"column-{j + 1}" + (f"-{slug}" if slug else "")


def _column_figures(fit: FamilyMixtureResult, rows: FamilyData) -> list[Any]:
    """A figure per count or normal column; the categorical ones in panels, in column order."""
    blocks: list[Any] = []
    categorical = [j for j, p in enumerate(fit.family.parts) if p.name == "categorical"]
    for j, part in enumerate(fit.family.parts):
        if part.name == "categorical":
            if j in categorical[::_PANELS]:
                group = categorical[categorical.index(j) :][:_PANELS]
                name = "levels" if len(categorical) <= _PANELS else f"levels-{j + 1}"
                blocks.append(_categorical_figure(fit, group, rows, name))
            continue
        draw = _COLUMN_FIGURES.get(part.name)
        if draw is None:
            blocks.append(f"Column {md_escape(part.column)} ({part.name}) has no figure.")
        else:
            blocks.append(draw(fit, j, rows, _figure_name(j, part.column)))
    return blocks


# --------------------------------------------------------------------------- documents


def family_fit_sections(
    fit: FamilyMixtureResult, rows: FamilyData | None, convention: str = "smaller"
) -> list[Section]:
    """Estimates, convergence and the fit against the data, column by column."""
    if not fit.ok:
        return [Section("Fit", [f"The fit is degenerate: {md_escape(fit.degenerate)}."])]
    sections = [
        Section(f"Estimates: k = {fit.k}", _estimate_blocks(fit, convention)),
        Section("Convergence", _convergence_blocks(fit)),
    ]
    if rows is not None:
        sections.append(Section("Fit to the data", _column_figures(fit, rows)))
    return sections


def _family_arguments(fit: FamilyMixtureResult) -> list[str]:
    """``family=``, ``columns=``, trials and exposure: what rebuilds the fit's family."""
    parts = fit.family.parts
    names = [p.name for p in parts]
    if len(set(names)) > 1:
        args = ["family=" + repr({p.column: p.name for p in parts})]
    else:
        args = [f"family={names[0]!r}", f"columns={fit.columns!r}"]
    for what in ("trials", "exposure"):
        source = next((getattr(p, what) for p in parts if getattr(p, what, None) is not None), None)
        if source is not None:
            args.append(f"{what}={source!r}")
    return args


def _call(
    fit: FamilyMixtureResult, function: str, k_text: str, data_name: str, **extra: Any
) -> str:
    """Python that fits ``fit`` again (``function`` is fit_mixture or select_mixture)."""
    lines = [f"{k_text},", *(f"{a}," for a in _family_arguments(fit))]
    if fit.data_ is not None and fit.data_.case_weights is not None:
        lines.append('weights="...",  # the case weights: a column name or one number per row')
    if fit.init not in ("quantile", "kmeans++", "given parameters"):
        lines.append(f"init={fit.init!r},")
    if fit.restarts is not None:
        lines.append(f"n_init={len(fit.restarts)},")
    lines += [f"{key}={value!r}," for key, value in extra.items() if value is not None]
    lines.append(f"tol={fit.control.tol:g},")
    if fit.control.max_iter != EMControl().max_iter:
        lines.append(f"max_iter={fit.control.max_iter},")
    name = "fit" if function == "fit_mixture" else "sel"
    return python_call(name, function, lines, data_name)


def family_fit_document(
    fit: FamilyMixtureResult,
    data: pd.DataFrame | None = None,
    *,
    data_name: str = "the data",
    title: str | None = None,
    command: str | None = None,
    seed: int | None = None,
) -> Document:
    """The report of one mixture of a component family.

    Parameters
    ----------
    fit
        What :func:`emstat.fit_mixture` returned for a family other than the Gaussian.
    data
        Used only when the fit keeps no rows (a fit loaded from a file): the
        rows it was fitted to, without case weights.
    data_name, title, command, seed
        How the data are named, the title, the command that reproduces the
        fit (default: the Python call rebuilt from the fit) and its seed.
    """
    rows = plotting.family_rows(fit, data)
    code = command or _call(fit, "fit_mixture", f"k={fit.k}", data_name, seed=seed)
    language = "python" if command is None else "sh"
    label = family_label(fit)
    intro = [
        paragraph(
            f"A mixture of {fit.k} {md_escape(label)} components fitted by EM to "
            f"**{md_escape(data_name)}**, columns {md_escape(', '.join(fit.columns))}.",
        ),
        *_data_blocks(fit, rows),
        code_block(code, language),
    ]
    return Document(
        title=title or f"{label.capitalize()} mixture of {_columns_text(fit.columns)}",
        subtitle=f"k = {fit.k}, {data_name}",
        sections=[
            Section("Data and call", intro),
            *family_fit_sections(fit, rows),
            reproduce_section(seed, code, language),
        ],
        metadata={"seed": "" if seed is None else str(seed), "command": code},
    )


def family_selection_table(selection: SelectionResult) -> pd.DataFrame:
    """Rows k: log-likelihood, parameters, BIC, AIC, ICL; each criterion's best k in bold."""
    convention = selection.convention
    model = selection.models[0]
    fits = [selection.fits[(k, model)] for k in selection.ks]
    out = pd.DataFrame(
        {
            "k": [str(k) for k in selection.ks],
            "log-likelihood": [fmt_fixed(f.loglik, 4) for f in fits],
            "parameters": [str(f.n_params) for f in fits],
        }
    )
    for name in _CRITERIA:
        values = selection.table_for(name, convention)[model].to_numpy(dtype=float)
        best = _best_index(values, convention)
        out[name.upper()] = [
            bold(fmt_fixed(v, 2)) if i == best else fmt_fixed(v, 2) for i, v in enumerate(values)
        ]
    out["iterations"] = [fmt_int(f.n_iter) for f in fits]
    out["converged"] = ["yes" if f.converged else "no" for f in fits]
    return out


def _best_index(values: np.ndarray, convention: str) -> int | None:
    if np.isnan(values).all():
        return None
    return int(np.nanargmax(values) if convention == "mclust" else np.nanargmin(values))


def _criteria_figure(selection: SelectionResult) -> Any:
    fig = figures.new_figure(7.0, 4.2)
    plotting.draw_selection(selection, "criteria", fig.add_subplot())
    return fig


def _selection_blocks(selection: SelectionResult) -> list[Any]:
    convention = selection.convention
    model = selection.models[0]
    best = selection.best
    criterion = selection.criterion
    choices = []
    for name in _CRITERIA:
        values = selection.table_for(name, convention)[model].to_numpy(dtype=float)
        index = _best_index(values, convention)
        if index is not None:
            choices.append(f"{name.upper()} k = {selection.ks[index]}")
    sign = "larger" if convention == "mclust" else "smaller"
    blocks: list[Any] = [
        callout(
            "; ".join(CONVENTION_TEXT[(name, convention)] for name in _CRITERIA)
            + ". Every criterion here is "
            + ("2 log L − penalty" if sign == "larger" else "−2 log L + penalty")
            + f": {sign} is better, in every table and figure of this report.",
            "Sign convention",
        ),
        paragraph(
            f"{criterion.upper()} chooses **k = {best.k}**.",
            f"The best k by each criterion: {', '.join(choices)}." if choices else "",
        ),
        pipe_table(
            family_selection_table(selection),
            f"Every k; in bold the best value of each criterion ({sign} is better). NA: the "
            "fit was degenerate or the data cannot support k components.",
        ),
        FigureBlock(
            "criteria-by-k",
            _criteria_figure(selection),
            f"BIC, AIC and ICL against the number of components; the circle marks the k "
            f"{criterion.upper()} chooses.",
            width=85,
        ),
    ]
    note = degenerate_note(selection)
    if note:
        blocks.append(note)
    return blocks


def family_selection_document(
    selection: SelectionResult,
    data: pd.DataFrame | None = None,
    *,
    data_name: str = "the data",
    title: str | None = None,
    command: str | None = None,
    seed: int | None = None,
) -> Document:
    """The report of a selection over k of one component family.

    Parameters
    ----------
    selection
        What :func:`emstat.select_mixture` returned with ``family=``.
    data
        Used only when the fits keep no rows: the rows they were fitted to.
    data_name, title, command, seed
        As :func:`family_fit_document`; ``seed`` defaults to the selection's.
    """
    if seed is None:
        seed = selection.seed
    best = _chosen(selection)
    rows = plotting.family_rows(best, data)
    ks = selection.ks
    k_text = (
        f"k=range({ks[0]}, {ks[-1] + 1})"
        if len(ks) > 1 and ks == list(range(ks[0], ks[-1] + 1))
        else f"k={ks!r}"
    )
    extra: dict[str, Any] = {"seed": seed}
    if selection.criterion != "bic":
        extra["criterion"] = selection.criterion
    if selection.convention != "smaller":
        extra["convention"] = selection.convention
    code = command or _call(best, "select_mixture", k_text, data_name, **extra)
    language = "python" if command is None else "sh"
    label = family_label(best)
    intro = [
        paragraph(
            f"Mixtures of {md_escape(label)} components fitted by EM to "
            f"**{md_escape(data_name)}**, columns {md_escape(', '.join(selection.columns))}, "
            f"for every k in {', '.join(str(k) for k in ks)}.",
        ),
        *_data_blocks(best, rows),
        code_block(code, language),
    ]
    return Document(
        title=title
        or f"{label.capitalize()} mixture of {_columns_text(selection.columns)}: choosing k",
        subtitle=f"{selection.criterion.upper()} chooses k = {best.k}; {data_name}",
        sections=[
            Section("Data and call", intro),
            Section("Choice of k", _selection_blocks(selection)),
            *family_fit_sections(best, rows, selection.convention),
            reproduce_section(seed, code, language),
        ],
        metadata={"seed": "" if seed is None else str(seed), "command": code},
    )


def _chosen(selection: SelectionResult) -> FamilyMixtureResult:
    """The chosen fit of a selection of a component family."""
    best: Any = selection.best
    if not isinstance(best, FamilyMixtureResult):
        raise InputError(f"the selection's chosen fit is a {type(best).__name__}, not a family fit")
    return best


def _is_family_selection(selection: SelectionResult) -> bool:
    return any(isinstance(fit, FamilyMixtureResult) for fit in selection.fits.values())


register_report(FamilyMixtureResult, family_fit_document, "a component-family mixture fit")
register_report(
    SelectionResult,
    family_selection_document,
    "a component-family mixture selection",
    when=_is_family_selection,
)
