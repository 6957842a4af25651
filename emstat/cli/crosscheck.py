"""``emstat crosscheck mclust|cat|flexmix|hmmlearn``: the cross-checks from the shell.

Exit codes: 0 every row agrees; 1 some row disagrees beyond ``--tol``;
2 unusable input or an error in R (one line, R's message); 3 R, rpy2, the
R package or hmmlearn is missing (one line naming what to install).  Convergence
warnings are not shown: the table's verdicts say what differs.
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from emstat._parsing import number_or_column, parse_ks, parse_list
from emstat.cli.catem import parse_margins
from emstat.cli.errors import EXIT_ERROR, error_wrapper
from emstat.cli.options import (
    ColumnsOption,
    CountsOption,
    DataPath,
    ExposureOption,
    Format,
    FormatOption,
    KOption,
    MarginsOption,
    ModelsOption,
    PriorOption,
    TrialsOption,
    VariablesOption,
    seed_option,
)
from emstat.cli.output import emit_table

__all__ = [
    "EXIT_DISAGREE",
    "EXIT_ERROR",
    "EXIT_MISSING",
    "crosscheck_app",
    "crosscheck_cat",
    "crosscheck_errors",
    "crosscheck_flexmix",
    "crosscheck_hmmlearn",
    "crosscheck_mclust",
]

EXIT_DISAGREE = 1
EXIT_MISSING = 3

#: The error wrapper of the cross-checks: exit 3 when R, rpy2 or an R package is missing.
crosscheck_errors = error_wrapper(missing_exit=EXIT_MISSING, convergence_warnings=False)

crosscheck_app = typer.Typer(
    name="crosscheck",
    help="Run emstat and R (mclust, cat, flexmix) or hmmlearn on the same data and compare, "
    "row by row.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

AgreementTol = Annotated[
    float, typer.Option("--tol", help="Largest relative difference that counts as agreement.")
]


def _finish(check: Any, output_format: Format) -> None:
    """Print the table (and the verdict, for people); exit 1 when a row disagrees."""
    emit_table(check.table, output_format, check.summary())
    if not check.agree:
        raise typer.Exit(EXIT_DISAGREE)


@crosscheck_app.command("mclust")
@crosscheck_errors
def crosscheck_mclust(
    data: DataPath,
    k: KOption = "1:9",
    models: ModelsOption = None,
    columns: ColumnsOption = None,
    tol: AgreementTol = 1e-6,
    seed: Annotated[int, seed_option("Seed of emstat's hc subset when n > 2000.")] = 0,
    em_tol: Annotated[
        float | None,
        typer.Option(
            "--em-tol",
            help="EM's tolerance on both sides: R's control = emControl(tol = EM_TOL) (EM and "
            "the inner M-steps), emstat's tol and inner_tol (default: emControl()'s).",
        ),
    ] = None,
    output_format: FormatOption = Format.table,
) -> None:
    """Compare emstat's select_mixture with R's Mclust, model by model (mclust_compatible)."""
    from emstat._io import read_table
    from emstat.crosscheck._mclust import mclust

    check = mclust(
        read_table(data),
        parse_ks(k),
        parse_list(models),
        columns=parse_list(columns),
        tol=tol,
        seed=seed,
        em_tol=em_tol,
    )
    _finish(check, output_format)


@crosscheck_app.command("cat")
@crosscheck_errors
def crosscheck_cat(
    data: DataPath,
    counts: CountsOption = None,
    variables: VariablesOption = None,
    margins: MarginsOption = None,
    prior: PriorOption = 1.0,
    tol: AgreementTol = 1e-6,
    output_format: FormatOption = Format.table,
) -> None:
    """Compare emstat's fit_categorical with R's cat (em.cat, or ecm.cat with --margins)."""
    from emstat._io import read_table
    from emstat.crosscheck._cat import cat

    check = cat(
        read_table(data),
        parse_margins(margins),
        prior,
        counts,
        variables=parse_list(variables),
        tol=tol,
    )
    _finish(check, output_format)


@crosscheck_app.command("flexmix")
@crosscheck_errors
def crosscheck_flexmix(
    data: DataPath,
    family: Annotated[
        str, typer.Option("--family", help="poisson, binomial or categorical (binary items).")
    ] = "poisson",
    k: KOption = "1:4",
    columns: ColumnsOption = None,
    trials: TrialsOption = None,
    exposure: ExposureOption = None,
    tol: AgreementTol = 1e-8,
    seed: Annotated[int, seed_option("Seed of the shared soft start.")] = 0,
    output_format: FormatOption = Format.table,
) -> None:
    """Compare emstat's count and latent-class mixtures with R's flexmix, k by k."""
    from emstat._io import read_table
    from emstat.crosscheck._flexmix import flexmix

    check = flexmix(
        read_table(data),
        parse_ks(k),
        family,
        columns=parse_list(columns),
        trials=number_or_column(trials),
        exposure=number_or_column(exposure),
        seed=seed,
        tol=tol,
    )
    _finish(check, output_format)


@crosscheck_app.command("hmmlearn")
@crosscheck_errors
def crosscheck_hmmlearn(
    data: DataPath,
    k: Annotated[int, typer.Option("--k", "-k", help="Number of hidden states.")] = 2,
    columns: ColumnsOption = None,
    sequence: Annotated[
        str | None,
        typer.Option(
            "--sequence", help="Column of sequence ids (the rows of a sequence together)."
        ),
    ] = None,
    covariance: Annotated[
        str, typer.Option("--covariance", help="hmmlearn's covariance type: full or diag.")
    ] = "full",
    tol: AgreementTol = 1e-6,
    fit_tol: Annotated[
        float,
        typer.Option("--fit-tol", help="Both stop when the log-likelihood rises by less."),
    ] = 1e-10,
    output_format: FormatOption = Format.table,
) -> None:
    """Compare emstat's fit_hmm with hmmlearn's GaussianHMM from the same start."""
    from emstat._io import read_table
    from emstat.crosscheck._hmmlearn import hmmlearn

    check = hmmlearn(
        read_table(data),
        k,
        columns=parse_list(columns),
        covariance_type=covariance,
        sequence=sequence,
        tol=tol,
        fit_tol=fit_tol,
    )
    _finish(check, output_format)
