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
    "GaussianPriorOption",
    "InitOption",
    "KOption",
    "LabelsOption",
    "MarginsOption",
    "MaxIterOption",
    "MkdirOption",
    "ModelsOption",
    "NInitOption",
    "NoiseOption",
    "NoiseStartOption",
    "PdfOption",
    "PriorOption",
    "ReportOption",
    "SeedOption",
    "TolOption",
    "TrialsOption",
    "VariablesOption",
    "VinvOption",
    "WeightsOption",
    "check_target",
    "family_options",
    "noise_options",
    "out_option",
    "overwrite_option",
    "parse_noise_ks",
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
LabelsOption = Annotated[
    str | None,
    typer.Option(
        "--labels",
        help="Column of known classes, empty where unknown (semi-supervised, as mclust's "
        "MclustSSC); it is not modelled.",
        rich_help_panel=FAMILY,
    ),
]
NoiseOption = Annotated[
    bool,
    typer.Option(
        "--noise",
        help="Add mclust's uniform noise component for outliers (component 0), started from "
        "nearest-neighbour clutter unless --noise-start names a column.",
    ),
]
NoiseStartOption = Annotated[
    str | None,
    typer.Option(
        "--noise-start",
        help="A True/False (or 1/0) column marking the rows that start as noise (implies --noise).",
    ),
]
VinvOption = Annotated[
    float | None,
    typer.Option(
        "--vinv",
        help="The noise component's density (default: 1 / the data's hypervolume, as mclust).",
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
GaussianPriorOption = Annotated[
    str | None,
    typer.Option(
        "--prior",
        help="'mclust': MAP EM under mclust's priorControl() defaults (Gaussian family; "
        "loglik and BIC exclude the prior).",
        rich_help_panel="Model",
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
InnerTolOption = Annotated[
    float | None,
    typer.Option(
        "--inner-tol",
        help="Tolerance of the iterative M-steps (VEI, VEE, EVE, VVE, VEV; default sqrt(eps), "
        "mclust's emControl()$tol[2]).",
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


def noise_options(noise: bool, noise_start: str | None, vinv: float | None) -> dict[str, Any]:
    """The noise keywords of fit_mixture/select_mixture from --noise, --noise-start and --vinv."""
    if vinv is not None and not noise and noise_start is None:
        raise InputError("--vinv is the noise component's density; add --noise or --noise-start")
    if noise_start is not None:
        return {"noise": noise_start, "Vinv": vinv}
    return {"noise": True if noise else None, "Vinv": vinv}


def parse_noise_ks(text: str | None) -> list[int]:
    """``--k`` with a noise component: 0 (noise only) may lead; 0:9 when not given."""
    from emstat._parsing import parse_ks

    if text is None:
        return list(range(10))
    head, separator, rest = text.partition(":" if ":" in text else ",")
    if head.strip() != "0":
        return parse_ks(text)
    if not separator:
        return [0]
    return [0, *parse_ks(f"1:{rest}" if separator == ":" else rest)]


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
