"""The ``emstat`` command line: thin wrappers over the library."""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.text import Text

from emstat._io import read_table
from emstat._parsing import number_or_column, parse_family, parse_ks, parse_list
from emstat._validation import describe_labels
from emstat.errors import ConvergenceWarning, DegenerateFitError, EmstatError, InputError

app = typer.Typer(
    name="emstat",
    help="Statistical models fitted by the EM algorithm.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err_console = Console(stderr=True)

F = TypeVar("F", bound=Callable[..., Any])

# Options shared by several commands, declared once.
DataPath = Annotated[Path, typer.Argument(help="CSV (or Parquet) file, one row per observation.")]
DataPaths = Annotated[
    list[Path],
    typer.Argument(
        help="CSV or Parquet files, one row per observation; several files are streamed "
        "in chunks, never held in memory together."
    ),
]
KOption = Annotated[str, typer.Option("--k", "-k", help="Components: 3, 1:9 or 1,2,4.")]
ColumnsOption = Annotated[
    str | None,
    typer.Option("--columns", "-c", help="Comma-separated columns to use (default: all numeric)."),
]
SeedOption = Annotated[int, typer.Option("--seed", help="Seed of every random choice.")]
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
FamilyOption = Annotated[
    str,
    typer.Option(
        "--family",
        help="gaussian (default), poisson, binomial, categorical (latent classes) or normal; "
        "or one per column: age=normal,visits=poisson,smoker=categorical.",
        rich_help_panel="Family",
    ),
]
TrialsOption = Annotated[
    str | None,
    typer.Option(
        "--trials", help="Binomial trials: a column or a number.", rich_help_panel="Family"
    ),
]
ExposureOption = Annotated[
    str | None,
    typer.Option(
        "--exposure", help="Poisson exposure: a column or a number.", rich_help_panel="Family"
    ),
]
WeightsOption = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="Column of case weights (a weight of 2 counts a row twice).",
        rich_help_panel="Family",
    ),
]


def say(text: str) -> None:
    """Print plain text: no markup, so ``mean[x]`` and ``[1]`` survive."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def _show_warning(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: Any = None,
    line: str | None = None,
) -> None:
    """A warning as one line on stderr, without the source path Python would print."""
    err_console.print(
        Text("warning: ", style="bold yellow") + Text(str(message)), highlight=False, soft_wrap=True
    )


def friendly_errors(func: F) -> F:
    """Show emstat's errors as one line and exit 2, without a traceback; warnings as one line."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("default", ConvergenceWarning)
                warnings.showwarning = _show_warning
                return func(*args, **kwargs)
        except EmstatError as exc:
            # No blank line after a message that quotes a library's (pandas ends some with "\n").
            message = Text("error: ", style="bold red") + Text(str(exc).strip())
            err_console.print(message, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


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


@app.command()
@friendly_errors
def fit(
    data: DataPaths,
    k: Annotated[int, typer.Option("--k", "-k", help="Number of components.")],
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Covariance model (VVV, EEE, V, full...).")
    ] = None,
    columns: ColumnsOption = None,
    init: Annotated[
        str | None, typer.Option("--init", help="hc, quantile, kmeans++ or random.")
    ] = None,
    n_init: Annotated[int, typer.Option("--n-init", help="Restarts (random inits).")] = 1,
    seed: SeedOption = 0,
    tol: TolOption = None,
    criterion: CriterionOption = None,
    max_iter: MaxIterOption = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Save the fit as JSON.")] = None,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace an existing --out file.")
    ] = False,
    chunk_rows: Annotated[
        int | None,
        typer.Option(
            "--chunk-rows",
            help="Stream the files in chunks of this many rows (memory stays bounded by it).",
            rich_help_panel="Large data",
        ),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option(
            "--scheduler",
            help="Dask scheduler address: the E-steps run on its workers, over the files' "
            "partitions (the workers must see the same paths).",
            rich_help_panel="Large data",
        ),
    ] = None,
    family: FamilyOption = "gaussian",
    trials: TrialsOption = None,
    exposure: ExposureOption = None,
    weights: WeightsOption = None,
) -> None:
    """Fit one mixture (Gaussian, or another family) and print its summary."""
    from emstat.mixture import fit_mixture
    from emstat.mixture.sources import DEFAULT_CHUNK_ROWS

    check_target(out, "--out", overwrite)
    result = fit_mixture(
        _fit_input(data, chunk_rows, scheduler),
        k,
        model,
        **family_options(family, trials, exposure, weights),
        columns=parse_list(columns, "--columns", "column"),
        init=init,
        n_init=n_init,
        seed=seed,
        tol=tol,
        criterion=criterion,
        max_iter=max_iter,
        chunk_rows=chunk_rows or DEFAULT_CHUNK_ROWS,
        client=scheduler,
    )
    if not result.ok:
        raise DegenerateFitError(
            f"the fit is degenerate ({result.degenerate}); nothing was saved. "
            "Try a smaller --k, another --model or --init"
        )

    say(result.summary())
    if out is not None:
        result.save(out)
        say(f"saved to {out}")


def _fit_input(paths: list[Path], chunk_rows: int | None, scheduler: str | None) -> Any:
    """One file read whole; several files (or --chunk-rows) streamed; Dask with --scheduler."""
    missing = [str(path) for path in paths if not path.is_file()]
    if missing:
        raise InputError(f"no file {describe_labels(missing)}")
    if chunk_rows is not None and chunk_rows < 1:
        raise InputError(f"--chunk-rows must be at least 1, got {chunk_rows}")
    if scheduler is not None:
        from emstat._optional import require

        dd = require("dask.dataframe", "dask")
        names = [str(path) for path in paths]
        parquet = [path.suffix.lower() in (".parquet", ".pq") for path in paths]
        if any(parquet) and not all(parquet):
            raise InputError("with --scheduler, give only Parquet files or only CSV files")
        try:
            return dd.read_parquet(names) if all(parquet) else dd.read_csv(names)
        except (ValueError, OSError) as exc:
            raise InputError(f"cannot read {describe_labels(names)}: {exc}") from None
    if len(paths) > 1 or chunk_rows is not None:
        return paths
    return read_table(paths[0])


@app.command()
@friendly_errors
def select(
    data: DataPath,
    k: KOption = "1:9",
    models: Annotated[
        str | None,
        typer.Option("--models", help="Comma-separated covariance models (default: mclust's)."),
    ] = None,
    columns: ColumnsOption = None,
    criterion: Annotated[str, typer.Option("--by", help="Choose by bic, aic or icl.")] = "bic",
    mclust: Annotated[
        bool, typer.Option("--mclust", help="Show mclust's sign (larger is better).")
    ] = False,
    seed: SeedOption = 0,
    tol: TolOption = None,
    max_iter: MaxIterOption = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Processes to fit the models on (same results).")
    ] = 1,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Save the chosen fit as JSON.")
    ] = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Write a report: x.html, x.pdf or x.qmd.", rich_help_panel="Report"
        ),
    ] = None,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also render the report as PDF.", rich_help_panel="Report")
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace existing --out and --report files.")
    ] = False,
    mkdir: Annotated[
        bool,
        typer.Option(
            "--mkdir/--no-mkdir",
            help="Create the report's folder if it is missing (--no-mkdir: refuse instead).",
            rich_help_panel="Report",
        ),
    ] = True,
    family: FamilyOption = "gaussian",
    trials: TrialsOption = None,
    exposure: ExposureOption = None,
    weights: WeightsOption = None,
    init: Annotated[
        str | None, typer.Option("--init", help="hc, quantile, kmeans++ or random.")
    ] = None,
    n_init: Annotated[
        int, typer.Option("--n-init", help="Restarts per k (other families; random inits).")
    ] = 1,
) -> None:
    """Fit every k (and covariance model); print the table and the chosen fit."""
    from emstat.mixture import select_mixture
    from emstat.report.cli import check_report

    check_target(out, "--out", overwrite)
    if report is not None:
        check_report(report, pdf=pdf, overwrite=overwrite, mkdir=mkdir)
    model_names = parse_list(models, "--models", "model")
    options = family_options(family, trials, exposure, weights)
    if init is not None:
        options["init"] = init
    if n_init != 1:
        options["n_init"] = n_init
    frame = read_table(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        selection = select_mixture(
            frame,
            parse_ks(k),
            model_names,
            columns=parse_list(columns, "--columns", "column"),
            criterion=criterion,
            convention="mclust" if mclust else "smaller",
            seed=seed,
            tol=tol,
            max_iter=max_iter,
            workers=workers,
            **options,
        )
    if not any(fit.ok for fit in selection.fits.values()):
        reasons = list(dict.fromkeys(fit.degenerate or "" for fit in selection.fits.values()))
        raise DegenerateFitError(f"every fit was degenerate: {describe_labels(reasons, 3)}")
    say(selection.summary())
    say("")
    say(selection.best.summary())
    if out is not None:
        selection.best.save(out)
        say(f"saved to {out}")
    if report is not None:
        from emstat.report.cli import selection_report

        for path in selection_report(
            selection,
            frame,
            report,
            pdf=pdf,
            data_name=data.name,
            seed=seed,
            overwrite=overwrite,
            mkdir=mkdir,
        ):
            say(f"report: {path}")


@app.command()
@friendly_errors
def show(fit_json: Annotated[Path, typer.Argument(help="A fit saved with --out.")]) -> None:
    """Print the summary of a saved fit."""
    from emstat.mixture import load_fit

    if fit_json.is_dir():
        raise InputError(
            f"{str(fit_json)!r} is a folder; give a fit saved with --out (a .json file)"
        )
    say(load_fit(fit_json).summary())


def _register_commands() -> None:
    from emstat.categorical.cli import catem
    from emstat.crosscheck._cli import crosscheck_app
    from emstat.report.cli import report as report_command
    from emstat.simulation.cli import simulate

    app.command("catem")(friendly_errors(catem))
    app.command("simulate")(friendly_errors(simulate))
    app.command("report")(friendly_errors(report_command))
    sys.modules.setdefault("emstat.cli", sys.modules[__name__])  # python -m: one module
    app.command("lrt")(friendly_errors(importlib.import_module("emstat.inference_cli").lrt))
    app.add_typer(crosscheck_app, name="crosscheck")


_register_commands()


def main() -> None:
    """Entry point of the ``emstat`` script."""
    app(prog_name="emstat")


if __name__ == "__main__":
    main()
