"""The report of a hidden Markov model fit, or of a selection over k (and covariance models).

For a fit: the data (rows, sequences, modelled columns and their missing
cells), the start distribution and the transition matrix (a table and a heat
map), the emission parameters with their standard errors, the emission
densities of each state over the data, the state path decoded by Viterbi
over the series of a few sequences, restarts and the convergence trace.  For
a selection: BIC, AIC and ICL of every (k, model) in one table, the chosen
fit, and the criteria against k; then the chosen fit's report.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import InputError
from emstat.hmm.result import HMMResult
from emstat.hmm.selection import HMMSelection
from emstat.report import figures, hmm_figures
from emstat.report.document import Document, Section
from emstat.report.markdown import (
    NA,
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
from emstat.report.mixture import restarts_table
from emstat.report.provenance import reproduce_section
from emstat.report.registry import register_report

__all__ = [
    "emission_panels",
    "hmm_fit_document",
    "hmm_fit_sections",
    "hmm_parameter_table",
    "hmm_selection_document",
    "hmm_selection_table",
    "transition_table",
]

_CRITERIA = ("bic", "aic", "icl")
#: Sequences drawn in the state-path figure, at most.
MAX_SEQUENCES_SHOWN = 3
#: Steps of one sequence drawn, at most (the first ones).
MAX_STEPS_SHOWN = 2000


# --------------------------------------------------------------------------- words


def family_text(fit: HMMResult) -> str:
    """The emissions in words: "Gaussian (V)", "categorical", "mixed (poisson, normal)"."""
    family = str(getattr(fit, "family_name", None) or _family_name(fit))
    if family == "gaussian":
        return f"Gaussian ({fit.model})"
    return family


def _family_name(fit: HMMResult) -> str:
    family = fit.family
    if isinstance(family, str):
        return family
    return str(getattr(family, "name", family))


def _state_labels(k: int) -> list[str]:
    return [str(j + 1) for j in range(k)]


# --------------------------------------------------------------------------- tables


def transition_table(fit: HMMResult) -> pd.DataFrame:
    """One row per state: its start probability, then its row of transitions."""
    trans = np.asarray(fit.transitions, dtype=float)
    start = np.asarray(fit.start, dtype=float)
    if start.ndim > 1:  # one start per sequence: show their mean
        start = start.mean(axis=0)
    k = trans.shape[0]
    out = pd.DataFrame({"state": _state_labels(k), "start": [fmt_sig(v) for v in start]})
    for j in range(k):
        out[f"to {j + 1}"] = [fmt_sig(v) for v in trans[:, j]]
    return out


def hmm_parameter_table(params: pd.DataFrame) -> pd.DataFrame:
    """The tidy estimates to 4 significant digits, with standard errors and 95% intervals."""
    error = params["std_error"] if "std_error" in params else params.get("std_err")
    if error is None:
        error = pd.Series(np.nan, index=params.index)
    out = pd.DataFrame(
        {
            "state": [md_escape(s) for s in params["state"]],
            "parameter": [md_escape(p) for p in params["parameter"]],
            "estimate": [fmt_sig(v) for v in params["estimate"]],
            "std. error": [fmt_sig(v, 2) for v in error],
        }
    )
    if {"ci_low", "ci_high"} <= set(params.columns):
        out["95% low"] = [fmt_sig(v) for v in params["ci_low"]]
        out["95% high"] = [fmt_sig(v) for v in params["ci_high"]]
    return out


def _data_table(fit: HMMResult, frame: pd.DataFrame | None) -> pd.DataFrame | None:
    if frame is None:
        return None
    rows = []
    for column in fit.columns:
        if column not in frame:
            continue
        missing = int(frame[column].isna().sum())
        rows.append(
            {
                "column": md_escape(column),
                "missing cells": str(missing),
                "observed cells": str(len(frame) - missing),
            }
        )
    return pd.DataFrame(rows) if rows else None


# --------------------------------------------------------------------------- data


def _check_data(fit: HMMResult, data: pd.DataFrame | None) -> pd.DataFrame | None:
    """The data the fit was made from, checked against it (rows and columns)."""
    if data is None:
        return None
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a DataFrame, got {type(data).__name__}")
    missing = [c for c in fit.columns if c not in data.columns]
    if missing:
        raise InputError(f"the data have no column {missing[0]!r} of the fit")
    n_rows = getattr(fit, "n_rows", None)
    if n_rows is not None and len(data) != int(n_rows):
        raise InputError(
            f"the data have {len(data)} rows, but the fit was made from {int(n_rows)}; "
            "pass the rows it was fitted to"
        )
    return data


def _sequence_ids(fit: HMMResult, data: pd.DataFrame) -> pd.Series:
    column = getattr(fit, "sequence", None)
    if isinstance(column, str) and column in data:
        return data[column]
    return pd.Series(np.zeros(len(data), dtype=int), index=data.index)


def _steps(fit: HMMResult, part: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray, str]:
    """The rows of one sequence in the fit's order, their positions, and the axis label."""
    order = getattr(fit, "order", None)
    if isinstance(order, str) and order in part:
        part = part.sort_values(order, kind="stable")
        values = part[order]
        if pd.api.types.is_numeric_dtype(values):
            return part, values.to_numpy(dtype=float), order
        return part, np.arange(1, len(part) + 1, dtype=float), f"step (by {order})"
    return part, np.arange(1, len(part) + 1, dtype=float), "step"


def _numeric(series: pd.Series) -> np.ndarray:
    """A column as numbers for drawing (category codes + 1 for text levels)."""
    if pd.api.types.is_numeric_dtype(series):
        return series.to_numpy(dtype=float)
    codes = pd.Categorical(series).codes.astype(float)
    return np.where(codes < 0, np.nan, codes + 1)


# --------------------------------------------------------------------------- figures


def _state_path_figure(fit: HMMResult, data: pd.DataFrame) -> FigureBlock:
    states = pd.Series(np.asarray(fit.viterbi(data)).reshape(-1), index=data.index)
    ids = _sequence_ids(fit, data)
    shown = list(dict.fromkeys(ids))[:MAX_SEQUENCES_SHOWN]
    column = fit.columns[0]
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7.5, 2.3 * len(shown) + 0.3), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(shown), 1, squeeze=False)[:, 0]
    truncated = False
    for ax, sid in zip(axes, shown, strict=True):
        part, time, label = _steps(fit, data[ids == sid])
        if len(part) > MAX_STEPS_SHOWN:
            part, time, truncated = part.iloc[:MAX_STEPS_SHOWN], time[:MAX_STEPS_SHOWN], True
        title = (
            None
            if len(shown) == 1 and getattr(fit, "sequence", None) is None
            else (f"{fit.sequence} {sid}")
        )
        hmm_figures.state_path_plot(
            time,
            _numeric(part[column]),
            states.loc[part.index].to_numpy(dtype=int) - 1,
            fit.k,
            ylabel=str(column),
            xlabel=label,
            title=title,
            ax=ax,
        )
    n_seq = ids.nunique()
    which = (
        f"the first {len(shown)} of {n_seq} sequences"
        if n_seq > len(shown)
        else ("each sequence" if n_seq > 1 else "the series")
    )
    return FigureBlock(
        "state-path",
        fig,
        f"{md_escape(column)} over {which}, the background shaded by the most likely state "
        "path (Viterbi)"
        + (f"; the first {MAX_STEPS_SHOWN} steps of longer sequences" if truncated else "")
        + ".",
        width=95,
    )


_PARAM = re.compile(r"^(?P<what>[a-z]+)\[(?P<column>[^\]=]+?)(?:=(?P<level>.*))?\]$")


def emission_panels(fit: HMMResult) -> list[tuple[str, str, dict[str, np.ndarray]]]:
    """Per modelled column: (column, kind, per-parameter (k,) arrays) read from ``params``.

    ``kind`` is ``"gaussian"`` (mean and var), ``"poisson"`` (rate),
    ``"binomial"`` (prob) or ``"categorical"`` (a prob per level, keyed by
    the level).
    """
    params = fit.params
    k = fit.k
    found: dict[str, dict[str, np.ndarray]] = {}
    kinds: dict[str, str] = {}
    states = params["state"].to_numpy(dtype=int) - 1
    estimates = params["estimate"].to_numpy(dtype=float)
    for name, state, estimate in zip(params["parameter"], states, estimates, strict=True):
        match = _PARAM.match(str(name))
        if match is None or not 0 <= state < k:
            continue
        column, what, level = match["column"], match["what"], match["level"]
        key = what if level is None else level
        values = found.setdefault(column, {}).setdefault(key, np.full(k, np.nan))
        values[state] = estimate
        if what == "rate":
            kinds[column] = "poisson"
        elif what == "prob":
            kinds[column] = "binomial" if level is None else "categorical"
        elif what in ("mean", "var"):
            kinds.setdefault(column, "gaussian")
    return [(c, kinds[c], found[c]) for c in fit.columns if c in kinds]


def _shares(fit: HMMResult, data: pd.DataFrame) -> np.ndarray:
    posterior = np.asarray(fit.posterior(data), dtype=float)
    return np.asarray(np.nanmean(posterior, axis=0), dtype=float)


def _count_probabilities(
    kind: str, values: dict[str, np.ndarray], counts: np.ndarray, trials: np.ndarray | None
) -> np.ndarray:
    from scipy import stats

    if kind == "poisson":
        return np.array([stats.poisson.pmf(counts, rate) for rate in values["rate"]])
    if trials is None:
        raise InputError("a binomial column's figure needs its trials")
    return np.array(
        [stats.binom.pmf(counts[None, :], trials[:, None], p).mean(axis=0) for p in values["prob"]]
    )


def _trials(fit: HMMResult, data: pd.DataFrame, seen: pd.Series) -> np.ndarray | None:
    source = getattr(fit, "trials", None)
    if isinstance(source, str) and source in data:
        return data.loc[seen, source].to_numpy(dtype=float)
    if isinstance(source, (int, float)):
        return np.full(int(seen.sum()), float(source))
    return None


def _emission_figure(
    fit: HMMResult, data: pd.DataFrame, column: str, kind: str, values: dict[str, np.ndarray]
) -> FigureBlock:
    name = "emission-" + (re.sub(r"[^A-Za-z0-9-]+", "-", column).strip("-")[:40] or "column")
    seen = data[column].notna()
    if kind == "gaussian":
        ax = hmm_figures.gaussian_emission_plot(
            data.loc[seen, column].to_numpy(dtype=float),
            values["mean"],
            values["var"],
            _shares(fit, data),
            column=column,
        )
        caption = (
            f"{md_escape(column)}: each state's normal emission density (dashed), scaled by the "
            "state's share of the steps, and their sum (black), over a histogram of the data."
        )
    elif kind == "categorical":
        levels = list(values)
        probabilities = np.array([values[level] for level in levels]).T
        observed = data.loc[seen, column].astype(str).value_counts(normalize=True)
        share = np.array([observed.get(str(level), 0.0) for level in levels])
        ax = hmm_figures.discrete_emission_plot(levels, probabilities, share, column=column)
        caption = (
            f"{md_escape(column)}: each state's probability of each level (bars) and the "
            "share of each level in the data (diamonds)."
        )
    else:
        x = data.loc[seen, column].to_numpy(dtype=float)
        counts = np.arange(0, int(np.nanmax(x)) + 1)
        probabilities = _count_probabilities(kind, values, counts, _trials(fit, data, seen))
        share = np.array([(x == c).mean() for c in counts])
        ax = hmm_figures.discrete_emission_plot(
            [str(c) for c in counts], probabilities, share, column=column
        )
        caption = (
            f"{md_escape(column)}: each state's {kind} probability of each count (bars) and "
            "the share of each count in the data (diamonds)."
        )
    return FigureBlock(name, ax.figure, caption, width=80)


def _transition_figure(fit: HMMResult) -> FigureBlock:
    ax = hmm_figures.transition_matrix_plot(np.asarray(fit.transitions, dtype=float))
    return FigureBlock(
        "transitions",
        ax.figure,
        "The transition matrix: the probability of moving from the state of the row to the "
        "state of the column at the next step.",
        width=min(70, 30 + 8 * fit.k),
    )


# --------------------------------------------------------------------------- sections


def _estimate_blocks(fit: HMMResult) -> list[Any]:
    criteria = ", ".join(f"{name.upper()} {fmt_fixed(getattr(fit, name), 2)}" for name in _CRITERIA)
    note = getattr(fit, "std_error_note", None)
    method = getattr(fit, "std_error_method", None) or "observed information"
    blocks: list[Any] = [
        paragraph(
            f"**k = {fit.k}** states with {md_escape(family_text(fit))} emissions: "
            f"log-likelihood {fmt_fixed(fit.loglik, 4)}, {fit.n_params} free parameters; "
            f"{criteria} (−2 log L + penalty: smaller is better).",
        ),
        pipe_table(
            transition_table(fit),
            "Start distribution and transition matrix: row i gives the probability of "
            "starting in state i and of moving from state i to each state.",
        ),
        _transition_figure(fit),
        pipe_table(
            hmm_parameter_table(fit.params),
            f"Estimates; standard errors from the {md_escape(method)}"
            + (f" ({md_escape(note)})" if note else "")
            + f". {NA}: not available (a fixed parameter, or one on the boundary).",
        ),
    ]
    restarts = getattr(fit, "restarts", None)
    if restarts is not None and len(restarts) > 1:
        blocks.append(
            pipe_table(
                restarts_table(restarts),
                f"The {len(restarts)} starts; the one kept (highest log-likelihood) in bold.",
            )
        )
    return blocks


def _convergence_blocks(fit: HMMResult) -> list[Any]:
    status = (
        "converged"
        if fit.converged
        else f"did **not** converge (stopped by {md_escape(fit.stop_reason)})"
    )
    control = fit.control
    return [
        paragraph(
            f"Baum-Welch {status} after {fit.n_iter} iterations "
            f"({fmt_fixed(getattr(fit, 'seconds', math.nan), 3)} s); "
            f"stop reason: {md_escape(fit.stop_reason)}.",
            f"Stopping rule: {md_escape(control.describe())}." if control is not None else "",
        ),
        FigureBlock(
            "trace",
            figures.trace_figure(np.asarray(fit.trace, dtype=float), control, float(fit.n)),
            "Left: log-likelihood after every iteration. Right: the quantity the stopping "
            "rule compares with its tolerance (dashed line).",
            width=95,
        ),
    ]


def hmm_fit_sections(fit: HMMResult, data: pd.DataFrame | None) -> list[Section]:
    """Estimates, the state path and the emissions over the data, and convergence."""
    if not getattr(fit, "ok", True):
        return [Section("Fit", [f"The fit failed: {md_escape(fit.degenerate)}."])]
    sections = [Section(f"Estimates: k = {fit.k}", _estimate_blocks(fit))]
    if data is not None:
        sections.append(Section("State path", [_state_path_figure(fit, data)]))
        sections.append(
            Section(
                "Emissions",
                [_emission_figure(fit, data, *panel) for panel in emission_panels(fit)],
            )
        )
    sections.append(Section("Convergence", _convergence_blocks(fit)))
    return sections


def _data_blocks(fit: HMMResult, data: pd.DataFrame | None) -> list[Any]:
    n_seq = getattr(fit, "n_sequences", 1)
    seq = getattr(fit, "sequence", None)
    blocks: list[Any] = [
        paragraph(
            f"**{fit.n_rows}** steps in **{n_seq}** sequence(s)"
            + (f" (column {md_escape(seq)})" if isinstance(seq, str) else "")
            + f"; modelled column(s) {md_escape(', '.join(fit.columns))}.",
            "A missing value is marginalised out of its step's emission density; a step "
            "with nothing observed still moves the chain.",
        )
    ]
    if data is None:
        blocks.append(
            "No data were given (`data=`), so the state path and the emissions are not drawn."
        )
        return blocks
    table = _data_table(fit, data)
    if table is not None:
        blocks.append(pipe_table(table, "The modelled columns and their missing cells."))
    return blocks


def _call(fit: HMMResult, function: str, k_text: str, data_name: str, **extra: Any) -> str:
    family = _family_name(fit)
    lines = [f"{k_text},", f"columns={list(fit.columns)!r},"]
    if family != "gaussian":
        lines.append(f"family={family!r},")
    elif function == "fit_hmm":
        lines.append(f"model={fit.model!r},")
    for name in ("sequence", "order"):
        value = getattr(fit, name, None)
        if isinstance(value, str):
            lines.append(f"{name}={value!r},")
    lines += [f"{key}={value!r}," for key, value in extra.items() if value is not None]
    name = "hmm" if function == "fit_hmm" else "sel"
    return python_call(name, function, lines, data_name)


def hmm_fit_document(
    fit: HMMResult,
    data: pd.DataFrame | None = None,
    *,
    data_name: str = "the data",
    title: str | None = None,
    command: str | None = None,
    seed: int | None = None,
) -> Document:
    """The report of one hidden Markov model fit.

    Parameters
    ----------
    fit
        What :func:`emstat.fit_hmm` returned.
    data
        The rows it was fitted to: the state path and the emission figures
        are drawn over them (left out without data).
    data_name, title, command, seed
        How the data are named, the title, the command that reproduces the
        fit (default: the Python call rebuilt from the fit) and its seed.
    """
    frame = _check_data(fit, data)
    code = command or _call(fit, "fit_hmm", f"k={fit.k}", data_name, seed=seed)
    language = "python" if command is None else "sh"
    intro = [
        paragraph(
            f"A hidden Markov model with {fit.k} states and {md_escape(family_text(fit))} "
            f"emissions fitted by Baum-Welch (EM) to **{md_escape(data_name)}**."
        ),
        *_data_blocks(fit, frame),
        code_block(code, language),
    ]
    return Document(
        title=title or f"Hidden Markov model of {', '.join(fit.columns)}",
        subtitle=f"k = {fit.k}, {data_name}",
        sections=[
            Section("Data and call", intro),
            *hmm_fit_sections(fit, frame),
            reproduce_section(seed, code, language),
        ],
        metadata={"seed": "" if seed is None else str(seed), "command": code},
    )


# --------------------------------------------------------------------------- selection


def _criterion_frame(selection: HMMSelection, name: str) -> pd.DataFrame:
    """Rows k, columns model: one criterion (smaller is better)."""
    table = selection.table
    return table.pivot_table(index="k", columns="model", values=name, aggfunc="first", sort=True)


def hmm_selection_table(selection: HMMSelection) -> pd.DataFrame:
    """Rows (k, model): log-likelihood, parameters, BIC, AIC, ICL (best of each in bold)."""
    table = selection.table.reset_index(drop=True)
    out = pd.DataFrame(
        {
            "k": [str(int(k)) for k in table["k"]],
            "model": [md_escape(m) for m in table["model"]],
            "log-likelihood": [fmt_fixed(v, 4) for v in table["loglik"]],
            "parameters": [fmt_int(v) for v in table["n_params"]],
        }
    )
    for name in _CRITERIA:
        values = table[name].to_numpy(dtype=float)
        best = None if np.isnan(values).all() else int(np.nanargmin(values))
        out[name.upper()] = [
            bold(fmt_fixed(v, 2)) if i == best else fmt_fixed(v, 2) for i, v in enumerate(values)
        ]
    if "converged" in table:
        out["converged"] = ["yes" if bool(v) else "no" for v in table["converged"]]
    return out


def _selection_blocks(selection: HMMSelection) -> list[Any]:
    best = selection.best
    criterion = str(getattr(selection, "criterion", "bic"))
    table = _criterion_frame(selection, criterion)
    chart = figures.new_figure(5.5, 3.4)
    ax = figures.criterion_plot(
        chart.add_subplot(), table, f"{criterion.upper()} (smaller is better)", (best.k, best.model)
    )
    ax.set_xlabel("number of hidden states k")
    blocks: list[Any] = [
        callout(
            "BIC = −2 log L + p log n, AIC = −2 log L + 2p, ICL = BIC plus twice the entropy "
            "of the state probabilities: smaller is better, in every table and figure of this "
            "report. n counts the steps with an observed value.",
            "Sign convention",
        ),
        paragraph(f"{criterion.upper()} chooses **k = {best.k}** ({md_escape(best.model)})."),
        pipe_table(
            hmm_selection_table(selection),
            "Every k and model; in bold the best value of each criterion. NA: the fit failed.",
        ),
        FigureBlock(
            "criteria-by-k",
            chart,
            f"{criterion.upper()} against the number of states, a line per model; the circle "
            "marks the chosen fit.",
            width=85,
        ),
    ]
    return blocks


def _k_text(ks: Sequence[int]) -> str:
    ks = sorted(int(k) for k in ks)
    if len(ks) > 1 and ks == list(range(ks[0], ks[-1] + 1)):
        return f"k=range({ks[0]}, {ks[-1] + 1})"
    return f"k={ks!r}"


def hmm_selection_document(
    selection: HMMSelection,
    data: pd.DataFrame | None = None,
    *,
    data_name: str = "the data",
    title: str | None = None,
    command: str | None = None,
    seed: int | None = None,
) -> Document:
    """The report of a selection of hidden Markov models over k (and covariance models).

    Parameters
    ----------
    selection
        What :func:`emstat.select_hmm` returned.
    data
        The rows the fits were made from (for the chosen fit's figures).
    data_name, title, command, seed
        As :func:`hmm_fit_document`.
    """
    best = selection.best
    frame = _check_data(best, data)
    ks = list(dict.fromkeys(int(k) for k in selection.table["k"]))
    models = list(dict.fromkeys(str(m) for m in selection.table["model"]))
    extra: dict[str, Any] = {"seed": seed}
    if _family_name(best) == "gaussian":
        extra = {"models": models, **extra}
    code = command or _call(best, "select_hmm", _k_text(ks), data_name, **extra)
    language = "python" if command is None else "sh"
    intro = [
        paragraph(
            f"Hidden Markov models with {md_escape(family_text(best).split(' (')[0])} emissions "
            f"fitted by Baum-Welch to **{md_escape(data_name)}** for every k in "
            f"{', '.join(str(k) for k in ks)}"
            + (f" and every covariance model in {', '.join(models)}" if len(models) > 1 else "")
            + "."
        ),
        *_data_blocks(best, frame),
        code_block(code, language),
    ]
    criterion = str(getattr(selection, "criterion", "bic"))
    return Document(
        title=title or f"Hidden Markov models of {', '.join(best.columns)}: choosing k",
        subtitle=f"{criterion.upper()} chooses k = {best.k}; {data_name}",
        sections=[
            Section("Data and call", intro),
            Section("Choice of k", _selection_blocks(selection)),
            *hmm_fit_sections(best, frame),
            reproduce_section(seed, code, language),
        ],
        metadata={"seed": "" if seed is None else str(seed), "command": code},
    )


register_report(HMMResult, hmm_fit_document, "a hidden Markov model fit")
register_report(HMMSelection, hmm_selection_document, "a hidden Markov model selection")
