"""The Gaussian-mixture report: selection tables, the chosen fit, convergence, classification."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from emstat import plotting
from emstat.mixture.covariance import default_models
from emstat.mixture.result import MixtureResult
from emstat.mixture.selection import SelectionResult
from emstat.report import figures
from emstat.report.document import Document, Section
from emstat.report.markdown import (
    FigureBlock,
    bold,
    callout,
    code_block,
    fmt_fixed,
    fmt_sig,
    md_escape,
    paragraph,
    pipe_table,
    python_call,
)
from emstat.report.mixture_options import option_arguments, option_sentences, selection_notes
from emstat.report.provenance import reproduce_section
from emstat.report.registry import register_report

__all__ = [
    "CONVENTION_TEXT",
    "best_cell",
    "criterion_table",
    "degenerate_note",
    "estimates_table",
    "fit_call",
    "fit_document",
    "fit_sections",
    "restarts_table",
    "selection_call",
    "selection_document",
]

#: The formula and direction of each criterion under each sign convention.
CONVENTION_TEXT = {
    ("bic", "smaller"): "BIC = −2 log L + p log n (R's `BIC()`, scikit-learn): smaller is better",
    ("bic", "mclust"): "BIC = 2 log L − p log n (mclust): larger is better",
    ("aic", "smaller"): "AIC = −2 log L + 2p: smaller is better",
    ("aic", "mclust"): "AIC = 2 log L − 2p (mclust's sign): larger is better",
    ("icl", "smaller"): "ICL = BIC − 2 Σ C log z (C the hard classification): smaller is better",
    ("icl", "mclust"): "ICL = BIC + 2 Σ C log z (mclust): larger is better",
}


def best_cell(table: pd.DataFrame, convention: str) -> tuple[int, str] | None:
    """``(k, model)`` of the best value of a rows-k, columns-model table; None if all NaN."""
    values = table.to_numpy(dtype=float)
    if np.isnan(values).all():
        return None
    flat = np.nanargmax(values) if convention == "mclust" else np.nanargmin(values)
    row, col = np.unravel_index(flat, values.shape)
    return int(table.index[int(row)]), str(table.columns[int(col)])


def criterion_table(table: pd.DataFrame, mark: tuple[int, str] | None) -> pd.DataFrame:
    """Rows models, columns k, values to 2 decimals; the ``mark`` cell in bold."""
    out = pd.DataFrame({"model": [md_escape(m) for m in table.columns]})
    for k in table.index:
        cells = []
        for model in table.columns:
            text = fmt_fixed(table.loc[k, model], 2)
            cells.append(bold(text) if mark == (int(k), str(model)) else text)
        out[f"k = {k}"] = cells
    return out


def estimates_table(params: pd.DataFrame) -> pd.DataFrame:
    """The tidy estimates to 4 significant digits, with standard errors and 95% intervals."""
    return pd.DataFrame(
        {
            "component": params["component"].astype(str),
            "parameter": [md_escape(p) for p in params["parameter"]],
            "estimate": [fmt_sig(v) for v in params["estimate"]],
            "std. error": [fmt_sig(v, 2) for v in params["std_err"]],
            "95% interval": [
                "NA" if pd.isna(lo) else f"{fmt_sig(lo)} to {fmt_sig(hi)}"
                for lo, hi in zip(params["ci_low"], params["ci_high"], strict=True)
            ],
        }
    )


def restarts_table(restarts: pd.DataFrame) -> pd.DataFrame:
    """One row per restart; the one kept (highest log-likelihood) in bold; seconds when timed."""
    kept = int(np.nanargmax(restarts["loglik"].to_numpy(dtype=float)))
    rows = []
    for i, r in enumerate(restarts.itertuples(index=False)):
        loglik = fmt_fixed(r.loglik, 4)
        rows.append(
            {
                "restart": str(r.restart),
                "start": md_escape(r.init),
                "log-likelihood": bold(loglik) if i == kept else loglik,
                "iterations": str(r.n_iter),
                "converged": "yes" if r.converged else "no",
                "stopped by": md_escape(r.stop_reason),
                **({"seconds": fmt_fixed(r.seconds, 3)} if hasattr(r, "seconds") else {}),
            }
        )
    return pd.DataFrame(rows)


def selection_call(
    selection: SelectionResult,
    seed: int | None,
    data_name: str,
    options: Mapping[str, Any] | None = None,
) -> str:
    """Python that re-runs ``selection`` on the same data (every option its fits used).

    ``options``: keyword arguments the fits do not keep (``mclust_compatible``,
    ``inner_tol``, a prior's hyperparameters), written as given.
    """
    best = selection.best
    ks = selection.ks
    k_text = (
        f"range({ks[0]}, {ks[-1] + 1})"
        if ks == list(range(ks[0], ks[-1] + 1)) and len(ks) > 1
        else repr(ks)
    )
    args = [f"k={k_text}"]
    if selection.models != default_models(len(selection.columns), round(selection.n)):
        args.append(f"models={selection.models!r}")
    args.append(f"columns={selection.columns!r}")
    if selection.criterion != "bic":
        args.append(f"criterion={selection.criterion!r}")
    if selection.convention != "smaller":
        args.append(f"convention={selection.convention!r}")
    if seed is not None:
        args.append(f"seed={seed}")
    lines = [f"{a}," for a in args]
    lines += option_arguments(
        best, _fitted_values(selection.data, best), options, with_control=False
    )
    lines += [f"tol={best.control.tol!r},", f"max_iter={best.control.max_iter},"]
    return python_call("sel", "select_mixture", lines, data_name)


def fit_call(
    fit: MixtureResult,
    seed: int | None,
    data_name: str,
    data: Any = None,
    options: Mapping[str, Any] | None = None,
) -> str:
    """Python that fits ``fit`` again: model, k, columns and every option it used."""
    lines = [f"k={fit.k},", f"model={fit.model!r},", f"columns={fit.columns!r},"]
    if seed is not None:
        lines.append(f"seed={seed},")
    lines += option_arguments(fit, _fitted_values(data, fit), options)
    return python_call("fit", "fit_mixture", lines, data_name)


def _fitted_values(data: Any, fit: MixtureResult) -> np.ndarray | None:
    """The rows fitted, as numbers, when they are at hand (the data given, or those kept)."""
    if isinstance(data, pd.DataFrame) and all(c in data.columns for c in fit.columns):
        return data[fit.columns].to_numpy(dtype=float)
    kept = fit.data_
    return kept if isinstance(kept, np.ndarray) else None


def _criterion_blocks(selection: SelectionResult) -> list[Any]:
    blocks: list[Any] = []
    convention = selection.convention
    chosen = (selection.best.k, selection.best.model)
    order = [selection.criterion, *[c for c in ("bic", "icl", "aic") if c != selection.criterion]]
    for name in order:
        table = selection.table_for(name, convention)
        mark = best_cell(table, convention)
        label = name.upper()
        note = (
            f"in bold the chosen fit, model {chosen[1]} with k = {chosen[0]}"
            if name == selection.criterion
            else f"in bold the fit {label} would choose"
        )
        blocks.append(
            pipe_table(
                criterion_table(table, mark),
                f"{label} of every fit; rows models, columns k; {note}. "
                f"{CONVENTION_TEXT[(name, convention)]}. NA: the fit was degenerate.",
                full_width=len(table.index) > 5,
            )
        )
        if name == selection.criterion:
            fig = figures.new_figure(7.0, 4.2)
            plotting.draw_selection(selection, "criterion", fig.add_subplot(), name, convention)
            blocks.append(
                FigureBlock(
                    f"{name}-by-k",
                    fig,
                    f"{label} against the number of components, one line per covariance "
                    "model; the circle marks the chosen fit.",
                    width=90,
                )
            )
    return blocks


def _shared_notes(selection: SelectionResult) -> list[str]:
    """What every fit shares (a prior, labels, noise, the algorithm, missing cells), or nothing."""
    notes = selection_notes(list(selection.fits.values()))
    return [paragraph(*notes)] if notes else []


def degenerate_note(selection: SelectionResult) -> str | None:
    """One sentence naming every fit of ``selection`` that was degenerate, and why."""
    table = selection.reasons
    reasons = [
        (k, m, str(table.loc[k, m])) for k in table.index for m in table.columns if table.loc[k, m]
    ]
    if not reasons:
        return None
    shown = "; ".join(f"{m} with k = {k}: {md_escape(r)}" for k, m, r in reasons[:8])
    more = f" and {len(reasons) - 8} more" if len(reasons) > 8 else ""
    return f"{len(reasons)} fits were degenerate and have no criterion ({shown}{more})."


def fit_sections(
    fit: MixtureResult, data: pd.DataFrame | None, convention: str = "smaller"
) -> list[Section]:
    """Estimates, convergence and classification of one fit."""
    if not fit.ok:
        return [Section("Chosen fit", [f"The fit is degenerate: {md_escape(fit.degenerate)}."])]
    bic = fit.criterion("bic", convention)
    estimates: list[Any] = [
        paragraph(
            f"Model **{fit.model}** with **k = {fit.k}** components on n = {fit.n} rows of "
            f"{', '.join(md_escape(c) for c in fit.columns)}: log-likelihood "
            f"{fmt_fixed(fit.loglik, 4)}, {fit.n_params} free parameters, BIC {fmt_fixed(bic, 2)}.",
            f"Started from the `{fit.init}` partition.",
        ),
        *_option_list(fit),
        pipe_table(
            estimates_table(fit.params),
            f"Estimates of the chosen fit; standard errors from the "
            f"{fit.std_error_information or 'observed information'} "
            "(NA where not computed), 95% Wald intervals.",
            align=["r", "l", "r", "r", "r"],
        ),
    ]
    if fit.restarts is not None:
        estimates.append(
            pipe_table(
                restarts_table(fit.restarts),
                f"The {len(fit.restarts)} restarts; the one kept (highest log-likelihood) in bold.",
            )
        )
    status = (
        "converged"
        if fit.converged
        else f"did **not** converge (stopped by {md_escape(fit.stop_reason)})"
    )
    convergence: list[Any] = [
        paragraph(
            f"EM {status} after {fit.n_iter} iterations ({fmt_fixed(fit.seconds, 3)} s).",
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
    sections: list[Section] = [
        Section(f"Chosen fit: model {fit.model}, k = {fit.k}", estimates),
        Section("Convergence", convergence),
    ]
    if data is not None:
        sections.append(
            Section("Classification and uncertainty", _classification_blocks(fit, data))
        )
    else:
        sections.append(
            Section(
                "Classification and uncertainty",
                ["The data were not given to the report (pass `data=`), so they are not drawn."],
            )
        )
    return sections


def _option_list(fit: MixtureResult) -> list[str]:
    """The fit's options as a bullet list (one block), or nothing."""
    sentences = option_sentences(fit)
    return ["\n".join(f"- {s}" for s in sentences)] if sentences else []


def _classification_blocks(fit: MixtureResult, data: pd.DataFrame) -> list[Any]:
    view = plotting.mixture_view(fit, data)
    labels, uncertainty = view.labels, view.uncertainty
    order = [*range(1, fit.k + 1), *([0] if fit.has_noise else [])]
    counts = pd.Series(labels).value_counts().reindex(order, fill_value=0)
    named = [f"{'noise' if j == 0 else f'component {j}'}: {n}" for j, n in counts.items()]
    text = paragraph(
        f"Each observation is assigned to its most probable component ({', '.join(named)} "
        "observations).",
        "Its uncertainty is 1 − max z, one minus its largest posterior probability; "
        f"the median is {fmt_sig(np.median(uncertainty), 2)}, the largest "
        f"{fmt_sig(uncertainty.max(), 2)}.",
        plotting.view_note(view),
    )
    if fit.d == 1:
        return [
            text,
            FigureBlock(
                "density",
                _drawn(view, "density", figures.new_figure(6.5, 3.6)),
                "The fitted mixture density (black) and its weighted components (dashed) over "
                "a histogram of the data.",
                width=85,
            ),
            FigureBlock(
                "uncertainty",
                _drawn(view, "uncertainty", figures.new_figure(6.5, 2.8)),
                "Classification uncertainty of every observation, coloured by its component.",
                width=85,
            ),
        ]
    width = 70 if fit.d == 2 else 100
    shown = "" if fit.d <= 4 else " (the first four variables)"
    return [
        text,
        FigureBlock(
            "classification",
            _drawn(view, "classification"),
            f"Classification{shown}: points coloured by component, ellipses holding 95% of "
            "each fitted component, crosses at the means"
            + ("; noise (component 0) as small grey points." if fit.has_noise else ".")
            + (" Labelled rows are ringed in black." if view.labelled is not None else ""),
            width=width,
        ),
        FigureBlock(
            "uncertainty",
            _drawn(view, "uncertainty"),
            f"Uncertainty{shown}: the larger the point, the less certain its classification.",
            width=width,
        ),
    ]


def _drawn(view: plotting.MixtureView, kind: str, fig: Any = None) -> Any:
    """A Figure of ``kind``: ``fig``'s one Axes, or a grid of a panel per pair of variables."""
    if fig is None:
        fig, axes = figures.pair_grid(plotting.mixture_panels(view.fit.d))
    else:
        axes = [fig.add_subplot()]
    plotting.draw_mixture(view, kind, axes)
    return fig


def selection_document(
    selection: SelectionResult,
    data: pd.DataFrame | None = None,
    *,
    data_name: str = "the data",
    title: str | None = None,
    command: str | None = None,
    seed: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> Document:
    """The whole report of a mixture selection.

    Parameters
    ----------
    selection
        What :func:`emstat.select_mixture` returned.
    data
        The data it was fitted to, for the classification plots; default the
        selection's own ``data`` attribute when it has one.
    data_name
        How the data are named in the text (a file name, a data set).
    title
        The report's title.
    command
        The shell command or code that reproduces the results; default the
        Python call rebuilt from the selection.
    seed
        The seed the selection used, when known.
    options
        Keyword arguments of the call that the fits do not keep (such as
        ``mclust_compatible=True``, ``inner_tol=1e-8`` or the
        ``emstat.GaussianPrior`` given), written into the reproduce code.
    """
    if data is None:
        data = getattr(selection, "data", None)
    if seed is None:
        seed = getattr(selection, "seed", None)
    best = selection.best
    n_fits = len(selection.fits)
    n_converged = sum(f.converged for f in selection.fits.values())
    n_ok = sum(f.ok for f in selection.fits.values())
    code = command or selection_call(selection, seed, data_name, options)
    intro = [
        paragraph(
            f"Gaussian mixtures fitted by EM to **{md_escape(data_name)}**: n = {selection.n} "
            f"observations of {len(selection.columns)} variable(s) "
            f"({', '.join(md_escape(c) for c in selection.columns)}).",
            f"Every number of components k in {_ks_text(selection.ks)} was fitted with each of "
            f"{len(selection.models)} covariance models ({', '.join(selection.models)}): "
            f"{n_fits} fits, {n_ok} non-degenerate, {n_converged} converged.",
            f"The fit chosen by {selection.criterion.upper()} is model **{best.model}** with "
            f"**k = {best.k}**.",
        ),
        code_block(code, "python" if command is None else "sh"),
    ]
    selection_blocks: list[Any] = [
        callout(
            CONVENTION_TEXT[(selection.criterion, selection.convention)]
            + ". The same sign convention is used in every table and figure of this report.",
            "Sign convention",
        ),
        *_shared_notes(selection),
        *_criterion_blocks(selection),
    ]
    note = degenerate_note(selection)
    if note:
        selection_blocks.append(note)
    sections = [
        Section("Data and call", intro),
        Section("Model selection", selection_blocks),
        *fit_sections(best, data, selection.convention),
        reproduce_section(seed, code, "python" if command is None else "sh"),
    ]
    return Document(
        title=title or f"Gaussian mixture model selection: {data_name}",
        subtitle=f"{selection.criterion.upper()} chooses {best.model} with k = {best.k}",
        sections=sections,
        metadata={"seed": "" if seed is None else str(seed), "command": code},
    )


def fit_document(
    fit: MixtureResult,
    data: pd.DataFrame | None = None,
    *,
    data_name: str = "the data",
    title: str | None = None,
    command: str | None = None,
    seed: int | None = None,
    options: Mapping[str, Any] | None = None,
) -> Document:
    """The report of a single mixture fit (no selection).

    ``options``: keyword arguments of the call the fit does not keep (such
    as ``mclust_compatible=True`` or ``inner_tol=1e-8``), written into the
    reproduce code.
    """
    code = command or fit_call(fit, seed, data_name, data, options)
    intro = [
        paragraph(
            f"A Gaussian mixture fitted by EM to **{md_escape(data_name)}**: n = {fit.n}, "
            f"variables {', '.join(md_escape(c) for c in fit.columns)}."
        ),
        code_block(code, "python" if command is None else "sh"),
    ]
    return Document(
        title=title or f"Gaussian mixture: {data_name}",
        subtitle=f"model {fit.model}, k = {fit.k}",
        sections=[
            Section("Data and call", intro),
            *fit_sections(fit, data),
            reproduce_section(seed, code, "python" if command is None else "sh"),
        ],
        metadata={"seed": "" if seed is None else str(seed), "command": code},
    )


def _ks_text(ks: Sequence[int]) -> str:
    if len(ks) > 2 and list(ks) == list(range(ks[0], ks[-1] + 1)):
        return f"{ks[0]}, …, {ks[-1]}"
    return ", ".join(str(k) for k in ks)


register_report(SelectionResult, selection_document, "a mixture selection")
register_report(MixtureResult, fit_document, "a mixture fit")
