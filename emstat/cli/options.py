"""Options shared by the commands, each declared once.

An option used by one command only is declared in that command's module.
Where commands share a flag but say different things about it (what
``--out`` saves, what ``--seed`` seeds), a small factory declares the flag
once and takes the command's help.  Nothing here imports numpy or pandas:
``emstat --help`` builds every option.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer

from emstat._parsing import number_or_column, parse_family
from emstat.errors import InputError

__all__ = [
    "CAT_MAX_CELLS",
    "CAT_MAX_ITER",
    "CAT_TOL",
    "AlgorithmOption",
    "ColumnsOption",
    "CountsOption",
    "CriterionOption",
    "DataPath",
    "DataPaths",
    "ExposureOption",
    "FamilyOption",
    "Format",
    "FormatOption",
    "InitOption",
    "KOption",
    "MarginsOption",
    "MaxIterOption",
    "MkdirOption",
    "ModelsOption",
    "NInitOption",
    "PdfOption",
    "PriorOption",
    "ReportOption",
    "SeedOption",
    "TolOption",
    "TrialsOption",
    "VariablesOption",
    "WeightsOption",
    "check_target",
    "family_options",
    "out_option",
    "overwrite_option",
    "quiet_option",
    "scheduler_option",
    "seed_option",
    "workers_option",
]

# Library defaults shown in --help, repeated so that --help imports no numpy
# (tests/test_cli_package.py checks each equals the library's own).
CAT_TOL = 1e-4  # emstat.categorical.frontend.CAT_CONTROL.tol
CAT_MAX_ITER = 1000  # emstat.categorical.frontend.CAT_CONTROL.max_iter
CAT_MAX_CELLS = 1_000_000  # emstat.categorical.frontend.MAX_CELLS

FAMILY = "Family"
REPORT = "Report"


class Format(str, Enum):
    """How a command prints its table."""

    table = "table"
    csv = "csv"
    json = "json"


# --- data -------------------------------------------------------------------------
DataPath = Annotated[Path, typer.Argument(help="CSV (or Parquet) file, one row per observation.")]
DataPaths = Annotated[
    list[Path],
    typer.Argument(
        help="CSV or Parquet files, one row per observation; several files are streamed "
        "in chunks, never held in memory together."
    ),
]
ColumnsOption = Annotated[
    str | None,
    typer.Option("--columns", "-c", help="Comma-separated columns to use (default: all numeric)."),
]
CountsOption = Annotated[
    str | None,
    typer.Option("--counts", help="Column of counts (units per row).", rich_help_panel="Data"),
]
VariablesOption = Annotated[
    str | None,
    typer.Option(
        "--variables",
        help="Comma-separated categorical columns (default: all but --counts).",
        rich_help_panel="Data",
    ),
]

# --- models -----------------------------------------------------------------------
KOption = Annotated[str, typer.Option("--k", "-k", help="Components: 3, 1:9 or 1,2,4.")]
ModelsOption = Annotated[
    str | None,
    typer.Option("--models", help="Comma-separated covariance models (default: mclust's)."),
]
InitOption = Annotated[
    str | None,
    typer.Option(
        "--init", help="hc, quantile, kmeans++, random, or cem (CEM from the default, then EM)."
    ),
]
AlgorithmOption = Annotated[
    str,
    typer.Option(
        "--algorithm",
        help="em; cem (classification EM: hard assignments); sem (stochastic EM: drawn "
        "assignments, seeded by --seed).",
    ),
]
NInitOption = Annotated[
    int, typer.Option("--n-init", help="Restarts from random starts (per k when selecting).")
]
FamilyOption = Annotated[
    str,
    typer.Option(
        "--family",
        help="gaussian (default), poisson, binomial, categorical (latent classes) or normal; "
        "or one per column: age=normal,visits=poisson,smoker=categorical.",
        rich_help_panel=FAMILY,
    ),
]
TrialsOption = Annotated[
    str | None,
    typer.Option("--trials", help="Binomial trials: a column or a number.", rich_help_panel=FAMILY),
]
ExposureOption = Annotated[
    str | None,
    typer.Option(
        "--exposure", help="Poisson exposure: a column or a number.", rich_help_panel=FAMILY
    ),
]
WeightsOption = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="Column of case weights (a weight of 2 counts a row twice).",
        rich_help_panel=FAMILY,
    ),
]
MarginsOption = Annotated[
    str | None,
    typer.Option(
        "--margins",
        help='Model terms: ";" between margins, "," within one, e.g. "V1,V2;V3,V4". '
        "Default: saturated.",
        rich_help_panel="Model",
    ),
]
PriorOption = Annotated[
    float,
    typer.Option(
        "--prior", help="Dirichlet hyperparameter per cell (1 = MLE).", rich_help_panel="Model"
    ),
]

# --- the EM run -------------------------------------------------------------------
TolOption = Annotated[
    float | None,
    typer.Option(
        "--tol", help="Tolerance of the stopping rule (Gaussian 1e-5; other families 1e-10)."
    ),
]
CriterionOption = Annotated[
    str | None,
    typer.Option(
        "--criterion",
        help="Stopping rule: rel (mclust, the Gaussian default), abs, per_sample "
        "(scikit-learn), param, aitken (the other families' default).",
    ),
]
MaxIterOption = Annotated[
    int | None, typer.Option("--max-iter", help="Most EM iterations (10000; other families 1e5).")
]


def seed_option(help: str, *, panel: str | None = None) -> Any:
    """``--seed``, with what it seeds in this command."""
    return typer.Option("--seed", help=help, rich_help_panel=panel)


SeedOption = Annotated[int, seed_option("Seed of every random choice.")]


def workers_option(help: str, *, panel: str | None = None) -> Any:
    """``--workers``/``-j``: processes to run on."""
    return typer.Option("--workers", "-j", help=help, rich_help_panel=panel)


def scheduler_option(help: str, *, panel: str | None = None) -> Any:
    """``--scheduler``: a Dask scheduler's address."""
    return typer.Option("--scheduler", help=help, rich_help_panel=panel)


# --- output -----------------------------------------------------------------------
def out_option(help: str, *, panel: str | None = None) -> Any:
    """``--out``/``-o``: what the command writes there."""
    return typer.Option("--out", "-o", help=help, rich_help_panel=panel)


def overwrite_option(help: str, *, panel: str | None = None) -> Any:
    """``--overwrite``: what it may replace."""
    return typer.Option("--overwrite", help=help, rich_help_panel=panel)


def quiet_option(help: str = "No progress bar.", *, panel: str | None = None) -> Any:
    """``--quiet``/``-q``."""
    return typer.Option("--quiet", "-q", help=help, rich_help_panel=panel)


FormatOption = Annotated[
    Format,
    typer.Option(
        "--format",
        help="table (to read), or csv or json (for scripts and pipes: only the table, on "
        "stdout; every other message goes to stderr).",
        case_sensitive=False,
        rich_help_panel="Output",
    ),
]
ReportOption = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Write a report: x.html, x.pdf or x.qmd (the Quarto source is kept beside it).",
        rich_help_panel=REPORT,
    ),
]
PdfOption = Annotated[
    bool,
    typer.Option("--pdf/--no-pdf", help="Also render the report as PDF.", rich_help_panel=REPORT),
]
MkdirOption = Annotated[
    bool,
    typer.Option(
        "--mkdir/--no-mkdir",
        help="Create the report's folder if it is missing (--no-mkdir: refuse instead).",
        rich_help_panel=REPORT,
    ),
]


def family_options(
    family: str, trials: str | None, exposure: str | None, weights: str | None
) -> dict[str, Any]:
    """The family keywords of fit_mixture/select_mixture from the command line's options."""
    return {
        "family": parse_family(family),
        "trials": number_or_column(trials),
        "exposure": number_or_column(exposure),
        "weights": weights,
    }


def check_target(
    path: Path | None, option: str, overwrite: bool, *, folder_made: bool = False
) -> None:
    """Refuse an output path before the work, not after it: a folder, a missing folder, a file.

    ``folder_made``: the writer creates missing folders itself.
    """
    if path is None:
        return
    if path.is_dir():
        raise InputError(f"{option} {str(path)!r} is a folder; give a file name inside it")
    if not folder_made and not path.parent.is_dir():
        raise InputError(f"{option} {str(path)!r}: there is no folder {str(path.parent)!r}")
    if path.exists() and not overwrite:
        raise InputError(f"{str(path)!r} exists; pass --overwrite to replace it")
