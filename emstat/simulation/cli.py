"""The ``emstat simulate`` command: a thin wrapper over :func:`run_study`.

Register it on the package's Typer app with
``app.command("simulate")(friendly_errors(simulate))``.
"""

from __future__ import annotations

import shlex
import signal
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from emstat.errors import InputError
from emstat.simulation.design import (
    load_design,
    make_design,
    mixture_from_formula,
    share,
    whole_number,
)
from emstat.simulation.errors import StudyInterrupted
from emstat.simulation.formula import FORMULA_HELP
from emstat.simulation.runner import MAX_FAILED, default_workers, run_study
from emstat.simulation.summarise import interval_summary

__all__ = ["parse_floats", "parse_ints", "parse_names", "simulate"]

_DESIGN = "Design"
_RUN = "Run"

MixtureOpt = Annotated[
    str | None,
    typer.Option(
        "--mixture",
        help="True 1-D mixture: " + FORMULA_HELP + ". Give this or --design.",
        rich_help_panel=_DESIGN,
    ),
]
DesignOpt = Annotated[
    Path | None,
    typer.Option(
        "--design",
        # escape(): rich would read [mixture] and the other table names as markup.
        help=escape(
            "TOML (or .json) design file: [mixture] (formula, or weights/means/covariances), "
            "[grid], reps, seed, [fit]. Options given here override it."
        ),
        rich_help_panel=_DESIGN,
    ),
]
NOpt = Annotated[
    str | None,
    typer.Option("--n", help="Sample sizes: 100 or 50,100,200.", rich_help_panel=_DESIGN),
]
RepsOpt = Annotated[
    int | None, typer.Option("--reps", help="Replicates per scenario.", rich_help_panel=_DESIGN)
]
KOpt = Annotated[
    str | None,
    typer.Option(
        "--k", "-k", help="Components to fit: 2 or 2,3 (default: the true number).",
        rich_help_panel=_DESIGN,
    ),
]  # fmt: skip
ModelOpt = Annotated[
    str | None,
    typer.Option(
        "--model", "-m", help="Covariance models: V or E,V (default V in 1-D, VVV otherwise).",
        rich_help_panel=_DESIGN,
    ),
]  # fmt: skip
SeparationOpt = Annotated[
    str | None,
    typer.Option(
        "--separation",
        help="Factors on the means' distance from their weighted centre: 1 or 0.5,1,2.",
        rich_help_panel=_DESIGN,
    ),
]
SelectKOpt = Annotated[
    str | None,
    typer.Option(
        "--select-k",
        help="Also select k among these (1:4 or 1,2,3) by BIC, AIC and ICL.",
        rich_help_panel=_DESIGN,
    ),
]
SelectModelsOpt = Annotated[
    str | None,
    typer.Option(
        "--select-models", help="Models to select among (default: --model).",
        rich_help_panel=_DESIGN,
    ),
]  # fmt: skip
SeedOpt = Annotated[
    int | None,
    typer.Option(
        "--seed", help="Seed of the study (default 0, or the design file's); recorded.",
        rich_help_panel=_DESIGN,
    ),
]  # fmt: skip
IntervalsOpt = Annotated[
    str | None,
    typer.Option(
        "--intervals",
        help="Also compare these interval methods per replicate: wald,bootstrap,profile.",
        rich_help_panel=_DESIGN,
    ),
]
NBootOpt = Annotated[
    int | None,
    typer.Option(
        "--n-boot", help="Bootstrap refits per replicate with --intervals bootstrap (199).",
        rich_help_panel=_DESIGN,
    ),
]  # fmt: skip
OutDirOpt = Annotated[
    Path,
    typer.Option(
        "--out-dir", "-o", help="Output directory; rerun the same command to resume.",
        rich_help_panel=_RUN,
    ),
]  # fmt: skip
WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers", "-j", help="Local worker processes (default: every CPU).",
        rich_help_panel=_RUN,
    ),
]  # fmt: skip
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786): run there (needs emstat[dask]).",
        rich_help_panel=_RUN,
    ),
]
BatchOpt = Annotated[
    int | None,
    typer.Option("--batch-size", help="Replicates per task (default: automatic).",
                 rich_help_panel=_RUN),
]  # fmt: skip
OverwriteOpt = Annotated[
    bool,
    typer.Option(
        "--overwrite",
        help="Start over in an --out-dir of an earlier study (removes only the files emstat "
        "wrote there).",
        rich_help_panel=_RUN,
    ),
]
MaxFailedOpt = Annotated[
    float,
    typer.Option(
        "--max-failed",
        help="Exit with an error when more than this share of replicates fail (1: never).",
        rich_help_panel=_RUN,
    ),
]
QuietOpt = Annotated[
    bool, typer.Option("--quiet", "-q", help="No progress bar or summary.", rich_help_panel=_RUN)
]


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
    return None if text is None else _split(option, text)


def simulate(
    out_dir: OutDirOpt,
    mixture: MixtureOpt = None,
    design: DesignOpt = None,
    n: NOpt = None,
    reps: RepsOpt = None,
    k: KOpt = None,
    model: ModelOpt = None,
    separation: SeparationOpt = None,
    select_k: SelectKOpt = None,
    select_models: SelectModelsOpt = None,
    seed: SeedOpt = None,
    intervals: IntervalsOpt = None,
    n_boot: NBootOpt = None,
    workers: WorkersOpt = None,
    scheduler: SchedulerOpt = None,
    batch_size: BatchOpt = None,
    overwrite: OverwriteOpt = False,
    max_failed: MaxFailedOpt = MAX_FAILED,
    quiet: QuietOpt = False,
    report: Annotated[
        bool,
        typer.Option("--report", help="Also write OUT_DIR/report.html and report.pdf."),
    ] = False,
) -> None:
    """Simulation study: draw from a true mixture, fit, and summarise bias, RMSE and coverage.

    Writes replicates.parquet, summary.csv, run.json (and selection.parquet
    with --select-k) to --out-dir; an interrupted run resumes when rerun.
    """
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
        shown = summary[
            ["scenario", "component", "parameter", "truth", "mean", "bias", "sd", "rmse",
             "coverage", "converged"]
        ]  # fmt: skip
        typer.echo(shown.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        by_method = interval_summary(summary)
        if not by_method.empty:
            typer.echo(
                "\ninterval methods: coverage (Monte Carlo SE), mean width, with an interval"
            )
            typer.echo(by_method.to_string(index=False, float_format=lambda v: f"{v:.4g}"))
        typer.echo(f"results in {out_dir}")
    if report:
        from emstat.report.cli import simulation_report

        for path in simulation_report(out_dir):
            typer.echo(f"report: {path}")
