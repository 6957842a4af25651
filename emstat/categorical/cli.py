"""The ``emstat catem`` command: a thin wrapper over :func:`fit_categorical`.

Register it on the package's Typer app with ``app.command("catem")(catem)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emstat._io import read_table
from emstat.categorical.frontend import CAT_CONTROL, MAX_CELLS, fit_categorical
from emstat.engine import EMControl
from emstat.errors import DegenerateFitError, InputError

__all__ = ["catem", "parse_margins"]

DataArg = Annotated[Path, typer.Argument(help="CSV file: one row per unit or per group of units.")]
CountsOpt = Annotated[
    str | None,
    typer.Option("--counts", help="Column of counts (units per row).", rich_help_panel="Data"),
]
VariablesOpt = Annotated[
    str | None,
    typer.Option(
        "--variables",
        help="Comma-separated categorical columns (default: all but --counts).",
        rich_help_panel="Data",
    ),
]
AsCategoryOpt = Annotated[
    str | None,
    typer.Option(
        "--as-category",
        help="Comma-separated columns whose distinct values are all levels, as they are "
        "(skips the checks for continuous-looking, id-like and mistyped columns).",
        rich_help_panel="Data",
    ),
]
MaxCellsOpt = Annotated[
    int,
    typer.Option(
        "--max-cells",
        help="Most cells the full table may have.",
        rich_help_panel="Data",
    ),
]
MarginsOpt = Annotated[
    str | None,
    typer.Option(
        "--margins",
        help='Model terms: ";" between margins, "," within one, e.g. "V1,V2;V3,V4". '
        "Default: saturated.",
        rich_help_panel="Model",
    ),
]
PriorOpt = Annotated[
    float,
    typer.Option(
        "--prior", help="Dirichlet hyperparameter per cell (1 = MLE).", rich_help_panel="Model"
    ),
]
TolOpt = Annotated[
    float,
    typer.Option("--tol", help="Stopping tolerance (cat: 1e-4).", rich_help_panel="Convergence"),
]
MaxIterOpt = Annotated[
    int,
    typer.Option("--max-iter", help="Most iterations (cat: 1000).", rich_help_panel="Convergence"),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        help="Save the fit to this .json file (emstat show reads it), "
        "or write the cell probabilities to this CSV.",
        rich_help_panel="Output",
    ),
]
OverwriteOpt = Annotated[
    bool,
    typer.Option("--overwrite", help="Replace an existing --out file.", rich_help_panel="Output"),
]


def parse_margins(text: str | None) -> list[list[str]] | None:
    """``"V1,V2;V3,V4"`` -> ``[["V1", "V2"], ["V3", "V4"]]``; None/empty -> None."""
    if text is None or not text.strip():
        return None
    terms = [[name.strip() for name in term.split(",") if name.strip()] for term in text.split(";")]
    if any(not term for term in terms):
        raise InputError(f"--margins {text!r} has an empty margin")
    return terms


def _name_list(text: str | None) -> list[str] | None:
    """``"a, b"`` -> ``["a", "b"]``; None/empty -> None."""
    return [v.strip() for v in text.split(",") if v.strip()] if text else None


def catem(
    data: DataArg,
    counts: CountsOpt = None,
    variables: VariablesOpt = None,
    margins: MarginsOpt = None,
    prior: PriorOpt = 1.0,
    tol: TolOpt = CAT_CONTROL.tol,
    max_iter: MaxIterOpt = CAT_CONTROL.max_iter,
    out: OutOpt = None,
    overwrite: OverwriteOpt = False,
    as_category: AsCategoryOpt = None,
    max_cells: MaxCellsOpt = MAX_CELLS,
) -> None:
    """Fit a log-linear model to incomplete categorical data by EM, as R's cat; print a summary."""
    # Errors reach the user through emstat.cli.friendly_errors, which wraps this command.
    if out is not None and out.is_dir():
        raise InputError(f"--out {str(out)!r} is a folder; give a file name inside it")
    if out is not None and out.exists() and not overwrite:
        raise InputError(f"{out} exists; pass --overwrite to replace it")
    frame = read_table(data)
    names = _name_list(variables)
    result = fit_categorical(
        frame,
        counts,
        variables=names,
        margins=parse_margins(margins),
        prior=prior,
        control=EMControl(tol=tol, criterion="param", max_iter=max_iter),
        as_category=_name_list(as_category),
        max_cells=max_cells,
    )
    if not result.ok:
        raise DegenerateFitError(f"the fit is degenerate: {result.degenerate}")
    typer.echo(result.summary())
    if out is None:
        return
    if out.suffix.lower() == ".json":
        result.save(out)
        typer.echo(f"fit written to {out} (emstat show {out} prints it again)")
    else:
        result.probabilities.reset_index().to_csv(out, index=False)
        typer.echo(f"probabilities written to {out}")
