"""``emstat simulate`` (also ``python -m emstat.simulation``): a thin wrapper over run_study."""

from __future__ import annotations

import shlex
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from emstat.cli.options import (
    Format,
    FormatOption,
    overwrite_option,
    quiet_option,
    scheduler_option,
    seed_option,
    workers_option,
)
from emstat.cli.output import emit_table, note
from emstat.errors import InputError

__all__ = ["parse_floats", "parse_ints", "parse_names", "simulate", "standalone"]

_DESIGN = "Design"
_RUN = "Run"

# Library values shown in --help, repeated so that --help imports no pandas
# (tests/test_cli_package.py checks they equal emstat.simulation's).
MAX_FAILED = 0.5  # emstat.simulation.runner.MAX_FAILED
FORMULA_HELP = (  # emstat.simulation.formula.FORMULA_HELP
    "terms 'weight*N(mean, variance)', 'weight*Pois(rate)' or 'weight*Bin(trials, prob)' "
    "joined by '+', e.g. '0.5*N(-0.8,1) + 0.5*N(0.8,1)' or '0.6*Pois(2) + 0.4*Pois(9)'; "
    "N's second number is the variance (N(mu, sigma^2)), not the sd"
)

# The columns of the summary the command prints.
SUMMARY_COLUMNS = [
    "scenario", "component", "parameter", "truth", "mean", "bias", "sd", "rmse", "coverage",
    "converged",
]  # fmt: skip


def _split(option: str, text: str) -> list[str]:
    parts = [part.strip() for part in text.split(",")]
    if not parts or any(not part for part in parts):
        raise InputError(f"{option} takes a comma-separated list; got {text!r}")
    return parts


def parse_ints(option: str, text: str | None) -> list[int] | None:
    """``"3"`` -> [3]; ``"1:4"`` -> [1, 2, 3, 4]; ``"50,100"`` -> [50, 100]; None -> None."""
    if text is None:
        return None
    try:
        if ":" in text:
            lo, hi = (int(part) for part in text.split(":"))
            return list(range(lo, hi + 1)) or _empty(option, text)
        return [int(part) for part in _split(option, text)]
    except ValueError:
        raise InputError(f"{option} takes whole numbers: 3, 1:4 or 1,2,4; got {text!r}") from None


def _empty(option: str, text: str) -> list[int]:
    raise InputError(f"{option} {text!r} is an empty range")


def parse_floats(option: str, text: str | None) -> list[float] | None:
    """``"0.5,1,2"`` -> [0.5, 1.0, 2.0]; None -> None."""
    if text is None:
        return None
    try:
        return [float(part) for part in _split(option, text)]
    except ValueError:
        raise InputError(f"{option} takes numbers such as 0.5,1,2; got {text!r}") from None


def parse_names(option: str, text: str | None) -> list[str] | None:
    """``"E,V"`` -> ["E", "V"]; None -> None."""
    return None if text is None else _split(option, text)


def simulate(
    out_dir: Annotated[
        Path,
        typer.Option(
            "--out-dir",
            "-o",
            help="Output directory; rerun the same command to resume.",
            rich_help_panel=_RUN,
        ),
    ],
    mixture: Annotated[
        str | None,
        typer.Option(
            "--mixture",
            help="True 1-D mixture: " + FORMULA_HELP + ". Give this or --design.",
            rich_help_panel=_DESIGN,
        ),
    ] = None,
    design: Annotated[
        Path | None,
        typer.Option(
            "--design",
            # escape(): rich would read [mixture] and the other table names as markup.
            help=escape(
                "TOML (or .json) design file: [mixture] (formula, or weights/means/covariances) "
                "or [hmm] (start, transitions, means/covariances or [[hmm.emissions]], "
                "sequences), [grid], reps, seed, [fit], [intervals], [missing] (cells deleted), "
                "[noise] (outliers added). Options given here override it."
            ),
            rich_help_panel=_DESIGN,
        ),
    ] = None,
    n: Annotated[
        str | None,
        typer.Option("--n", help="Sample sizes: 100 or 50,100,200.", rich_help_panel=_DESIGN),
    ] = None,
    reps: Annotated[
        int | None,
        typer.Option("--reps", help="Replicates per scenario.", rich_help_panel=_DESIGN),
    ] = None,
    k: Annotated[
        str | None,
        typer.Option(
            "--k",
            "-k",
            help="Components to fit: 2 or 2,3 (default: the true number).",
            rich_help_panel=_DESIGN,
        ),
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Covariance models: V or E,V (default V in 1-D, VVV otherwise).",
            rich_help_panel=_DESIGN,
        ),
    ] = None,
    separation: Annotated[
        str | None,
        typer.Option(
            "--separation",
            help="Factors on the means' distance from their weighted centre: 1 or 0.5,1,2.",
            rich_help_panel=_DESIGN,
        ),
    ] = None,
    select_k: Annotated[
        str | None,
        typer.Option(
            "--select-k",
            help="Also select k among these (1:4 or 1,2,3) by BIC, AIC and ICL.",
            rich_help_panel=_DESIGN,
        ),
    ] = None,
    select_models: Annotated[
        str | None,
        typer.Option(
            "--select-models",
            help="Models to select among (default: --model).",
            rich_help_panel=_DESIGN,
        ),
    ] = None,
    seed: Annotated[
        int | None,
        seed_option(
            "Seed of the study (default 0, or the design file's); recorded.", panel=_DESIGN
        ),
    ] = None,
    intervals: Annotated[
        str | None,
        typer.Option(
            "--intervals",
            help="Also compare these interval methods per replicate: wald,bootstrap,profile.",
            rich_help_panel=_DESIGN,
        ),
    ] = None,
    n_boot: Annotated[
        int | None,
        typer.Option(
            "--n-boot",
            help="Bootstrap refits per replicate with --intervals bootstrap (199).",
            rich_help_panel=_DESIGN,
        ),
    ] = None,
    workers: Annotated[
        int | None, workers_option("Local worker processes (default: every CPU).", panel=_RUN)
    ] = None,
    scheduler: Annotated[
        str | None,
        scheduler_option(
            "Dask scheduler address (tcp://host:8786): run there (needs emstat[dask]).",
            panel=_RUN,
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size", help="Replicates per task (default: automatic).", rich_help_panel=_RUN
        ),
    ] = None,
    overwrite: Annotated[
        bool,
        overwrite_option(
            "Start over in an --out-dir of an earlier study (removes only the files emstat "
            "wrote there).",
            panel=_RUN,
        ),
    ] = False,
    max_failed: Annotated[
        float,
        typer.Option(
            "--max-failed",
            help="Exit with an error when more than this share of replicates fail (1: never).",
            rich_help_panel=_RUN,
        ),
    ] = MAX_FAILED,
    quiet: Annotated[bool, quiet_option("No progress bar or summary.", panel=_RUN)] = False,
    report: Annotated[
        bool,
        typer.Option("--report", help="Also write OUT_DIR/report.html and report.pdf."),
    ] = False,
    output_format: FormatOption = Format.table,
) -> None:
    """Simulation study: draw from a true mixture or HMM, fit, and summarise bias, RMSE, coverage.

    Writes replicates.parquet, summary.csv, run.json (and selection.parquet
    with --select-k) to --out-dir; an interrupted run resumes when rerun.
    """
    from emstat.simulation.design import (
        load_design,
        make_design,
        mixture_from_formula,
        share,
        whole_number,
    )
    from emstat.simulation.errors import StudyInterrupted
    from emstat.simulation.runner import default_workers, run_study

    if workers is not None:
        whole_number("--workers", workers, 1)
    if batch_size is not None:
        whole_number("--batch-size", batch_size, 1)
    share("--max-failed", max_failed)
    values: dict[str, Any] = {
        "n": parse_ints("--n", n),
        "reps": reps,
        "k": parse_ints("--k", k),
        "model": parse_names("--model", model),
        "separation": parse_floats("--separation", separation),
        "select_k": parse_ints("--select-k", select_k),
        "select_models": parse_names("--select-models", select_models),
        "seed": seed,
        "intervals": intervals,
        "n_boot": n_boot,
    }
    if (mixture is None) == (design is None):
        raise InputError("give either --mixture FORMULA or --design FILE")
    if design is not None:
        built = load_design(design, **values)
    else:
        if values["n"] is None or reps is None:
            raise InputError("--mixture needs --n and --reps")
        values["seed"] = 0 if seed is None else seed
        built = make_design(mixture_from_formula(str(mixture)), **values)
    if reps is not None and reps < 1:  # pragma: no cover - make_design already refuses
        raise InputError(f"--reps must be >= 1, got {reps}")
    command = shlex.join(["emstat", *sys.argv[1:]]) if sys.argv else "emstat simulate"
    try:
        summary = run_study(
            built,
            out_dir,
            workers=default_workers() if workers is None else workers,
            scheduler=scheduler,
            batch_size=batch_size,
            overwrite=overwrite,
            progress=not quiet,
            command=command,
            max_failed=max_failed,
        )
    except KeyboardInterrupt as exc:
        typer.echo(
            f"interrupted: finished batches are saved in {out_dir}; "
            "rerun the same command to resume",
            err=True,
        )
        signum = exc.signum if isinstance(exc, StudyInterrupted) else signal.SIGINT
        raise typer.Exit(128 + signum) from None
    if not quiet:
        shown = summary[SUMMARY_COLUMNS]
        text = shown.to_string(index=False, float_format=lambda v: f"{v:.4g}")
        emit_table(shown, output_format, text)
        from emstat.simulation.summarise import interval_summary

        by_method = interval_summary(summary)
        if not by_method.empty:  # beside the table: the one table stays alone on stdout
            note(
                "\ninterval methods: coverage, its Monte Carlo SE, median and mean width, "
                "with interval\n"
                + by_method.to_string(index=False, float_format=lambda v: f"{v:.4g}"),
                output_format,
            )
        note(f"results in {out_dir}", output_format)
    if report:
        from emstat.cli.report import simulation_report

        for path in simulation_report(out_dir):
            note(f"report: {path}", output_format)


def standalone() -> None:
    """``python -m emstat.simulation``: ``emstat simulate`` as a one-command app."""
    from emstat.cli import freeze_heap_for_exit
    from emstat.cli.errors import friendly_errors

    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    app.command()(friendly_errors(simulate))
    try:
        app(prog_name="python -m emstat.simulation")
    finally:
        freeze_heap_for_exit()
