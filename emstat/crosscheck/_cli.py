"""``emstat crosscheck mclust|cat|flexmix|hmmlearn``: the cross-checks from the shell.

Register on the package's app with
``app.add_typer(crosscheck_app, name="crosscheck")``.

Exit codes: 0 every row agrees; 1 some row disagrees beyond ``--tol``;
2 unusable input or an error in R (one line, R's message); 3 R, rpy2, the
R package or hmmlearn is missing (one line naming what to install).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from emstat.errors import ConvergenceWarning, EmstatError, OptionalDependencyError

__all__ = [
    "EXIT_DISAGREE",
    "EXIT_ERROR",
    "EXIT_MISSING",
    "crosscheck_app",
    "crosscheck_cat",
    "crosscheck_flexmix",
    "crosscheck_hmmlearn",
    "crosscheck_mclust",
]

EXIT_DISAGREE = 1
EXIT_ERROR = 2
EXIT_MISSING = 3

F = TypeVar("F", bound=Callable[..., Any])

crosscheck_app = typer.Typer(
    name="crosscheck",
    help="Run emstat and R (mclust, cat, flexmix) or hmmlearn on the same data and compare, "
    "row by row.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

DataArg = Annotated[Path, typer.Argument(help="CSV (or Parquet) file, one row per observation.")]
TolOpt = Annotated[
    float, typer.Option("--tol", help="Largest relative difference that counts as agreement.")
]


def one_line_errors(func: F) -> F:
    """emstat's errors as one line: exit 3 for a missing R/rpy2/R package, else 2.

    The same pattern as :func:`emstat.cli.friendly_errors`, plus the distinct
    code (``emstat.cli`` imports this module, so it cannot import that one).
    """

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                return func(*args, **kwargs)
        except OptionalDependencyError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_MISSING) from None
        except EmstatError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(EXIT_ERROR) from None

    return wrapper  # type: ignore[return-value]


@crosscheck_app.command("mclust")
@one_line_errors
def crosscheck_mclust(
    data: DataArg,
    k: Annotated[str, typer.Option("--k", "-k", help="Components: 3, 1:9 or 1,2,4.")] = "1:9",
    models: Annotated[
        str | None,
        typer.Option("--models", help="Comma-separated covariance models (default: mclust's)."),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option("--columns", "-c", help="Comma-separated columns (default: all numeric)."),
    ] = None,
    tol: TolOpt = 1e-6,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed of emstat's hc subset when n > 2000.")
    ] = 0,
) -> None:
    """Compare emstat's select_mixture with R's Mclust, model by model (mclust_compatible)."""
    from emstat._io import read_table
    from emstat._parsing import parse_ks, parse_list
    from emstat.crosscheck._mclust import mclust

    check = mclust(
        read_table(data),
        parse_ks(k),
        parse_list(models),
        columns=parse_list(columns),
        tol=tol,
        seed=seed,
    )
    typer.echo(check.summary())
    if not check.agree:
        raise typer.Exit(EXIT_DISAGREE)


@crosscheck_app.command("cat")
@one_line_errors
def crosscheck_cat(
    data: DataArg,
    counts: Annotated[
        str | None, typer.Option("--counts", help="Column of counts (units per row).")
    ] = None,
    variables: Annotated[
        str | None,
        typer.Option("--variables", help="Comma-separated variables (default: all but --counts)."),
    ] = None,
    margins: Annotated[
        str | None,
        typer.Option(
            "--margins", help='Model terms: ";" between margins, "," within one: "V1,V2;V3".'
        ),
    ] = None,
    prior: Annotated[
        float, typer.Option("--prior", help="Dirichlet hyperparameter per cell (1 = MLE).")
    ] = 1.0,
    tol: TolOpt = 1e-6,
) -> None:
    """Compare emstat's fit_categorical with R's cat (em.cat, or ecm.cat with --margins)."""
    from emstat._io import read_table
    from emstat._parsing import parse_list
    from emstat.categorical.cli import parse_margins
    from emstat.crosscheck._cat import cat

    check = cat(
        read_table(data),
        parse_margins(margins),
        prior,
        counts,
        variables=parse_list(variables),
        tol=tol,
    )
    typer.echo(check.summary())
    if not check.agree:
        raise typer.Exit(EXIT_DISAGREE)


@crosscheck_app.command("flexmix")
@one_line_errors
def crosscheck_flexmix(
    data: DataArg,
    family: Annotated[
        str, typer.Option("--family", help="poisson, binomial or categorical (binary items).")
    ] = "poisson",
    k: Annotated[str, typer.Option("--k", "-k", help="Components: 3, 1:4 or 1,2,4.")] = "1:4",
    columns: Annotated[
        str | None,
        typer.Option("--columns", "-c", help="Comma-separated columns (default: all numeric)."),
    ] = None,
    trials: Annotated[
        str | None, typer.Option("--trials", help="Binomial trials: a column or a number.")
    ] = None,
    exposure: Annotated[
        str | None, typer.Option("--exposure", help="Poisson exposure: a column or a number.")
    ] = None,
    tol: TolOpt = 1e-8,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the shared soft start.")] = 0,
) -> None:
    """Compare emstat's count and latent-class mixtures with R's flexmix, k by k."""
    from emstat._io import read_table
    from emstat._parsing import number_or_column, parse_ks, parse_list
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
    typer.echo(check.summary())
    if not check.agree:
        raise typer.Exit(EXIT_DISAGREE)


@crosscheck_app.command("hmmlearn")
@one_line_errors
def crosscheck_hmmlearn(
    data: DataArg,
    k: Annotated[int, typer.Option("--k", "-k", help="Number of hidden states.")] = 2,
    columns: Annotated[
        str | None,
        typer.Option("--columns", "-c", help="Comma-separated columns (default: all numeric)."),
    ] = None,
    sequence: Annotated[
        str | None,
        typer.Option(
            "--sequence", help="Column of sequence ids (the rows of a sequence together)."
        ),
    ] = None,
    covariance: Annotated[
        str, typer.Option("--covariance", help="hmmlearn's covariance type: full or diag.")
    ] = "full",
    tol: TolOpt = 1e-6,
    fit_tol: Annotated[
        float,
        typer.Option("--fit-tol", help="Both stop when the log-likelihood rises by less."),
    ] = 1e-10,
) -> None:
    """Compare emstat's fit_hmm with hmmlearn's GaussianHMM from the same start."""
    from emstat._io import read_table
    from emstat._parsing import parse_list
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
    typer.echo(check.summary())
    if not check.agree:
        raise typer.Exit(EXIT_DISAGREE)
