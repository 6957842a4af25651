"""``emstat catem``: a log-linear model of incomplete categorical data, as R's cat."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emstat._parsing import parse_list
from emstat.cli.options import (
    CAT_MAX_CELLS,
    CAT_MAX_ITER,
    CAT_TOL,
    CountsOption,
    Format,
    FormatOption,
    MarginsOption,
    PriorOption,
    VariablesOption,
    check_target,
    out_option,
    overwrite_option,
)
from emstat.cli.output import emit_table, note
from emstat.errors import DegenerateFitError, InputError

__all__ = ["catem", "parse_margins"]

_OUTPUT = "Output"
_CONVERGENCE = "Convergence"


def parse_margins(text: str | None) -> list[list[str]] | None:
    """``"V1,V2;V3,V4"`` -> ``[["V1", "V2"], ["V3", "V4"]]``; None/empty -> None."""
    if text is None or not text.strip():
        return None
    terms = [[name.strip() for name in term.split(",") if name.strip()] for term in text.split(";")]
    if any(not term for term in terms):
        raise InputError(f"--margins {text!r} has an empty margin")
    return terms


def catem(
    data: Annotated[Path, typer.Argument(help="CSV file: one row per unit or per group of units.")],
    counts: CountsOption = None,
    variables: VariablesOption = None,
    margins: MarginsOption = None,
    prior: PriorOption = 1.0,
    tol: Annotated[
        float,
        typer.Option("--tol", help="Stopping tolerance (cat: 1e-4).", rich_help_panel=_CONVERGENCE),
    ] = CAT_TOL,
    max_iter: Annotated[
        int,
        typer.Option(
            "--max-iter", help="Most iterations (cat: 1000).", rich_help_panel=_CONVERGENCE
        ),
    ] = CAT_MAX_ITER,
    out: Annotated[
        Path | None,
        out_option(
            "Save the fit to this .json file (emstat show reads it), "
            "or write the cell probabilities to this CSV.",
            panel=_OUTPUT,
        ),
    ] = None,
    overwrite: Annotated[
        bool, overwrite_option("Replace an existing --out file.", panel=_OUTPUT)
    ] = False,
    as_category: Annotated[
        str | None,
        typer.Option(
            "--as-category",
            help="Comma-separated columns whose distinct values are all levels, as they are "
            "(skips the checks for continuous-looking, id-like and mistyped columns).",
            rich_help_panel="Data",
        ),
    ] = None,
    max_cells: Annotated[
        int,
        typer.Option(
            "--max-cells", help="Most cells the full table may have.", rich_help_panel="Data"
        ),
    ] = CAT_MAX_CELLS,
    output_format: FormatOption = Format.table,
) -> None:
    """Fit a log-linear model to incomplete categorical data by EM, as R's cat; print a summary."""
    from emstat._io import read_table
    from emstat.categorical.frontend import fit_categorical
    from emstat.engine import EMControl

    check_target(out, "--out", overwrite, folder_made=True)
    frame = read_table(data)
    result = fit_categorical(
        frame,
        counts,
        variables=parse_list(variables) or None,
        margins=parse_margins(margins),
        prior=prior,
        control=EMControl(tol=tol, criterion="param", max_iter=max_iter),
        as_category=parse_list(as_category) or None,
        max_cells=max_cells,
    )
    if not result.ok:
        raise DegenerateFitError(f"the fit is degenerate: {result.degenerate}")
    emit_table(result.to_frame(), output_format, result.summary())
    if out is None:
        return
    if out.suffix.lower() == ".json":
        result.save(out)
        note(f"fit written to {out} (emstat show {out} prints it again)", output_format)
    else:
        result.probabilities.reset_index().to_csv(out, index=False)
        note(f"probabilities written to {out}", output_format)
