"""The ``emstat hmm`` command: fit hidden Markov models for every k, print the table and the fit.

A plain function with ``Annotated`` options; register it on the package's
Typer app with ``app.command("hmm")(friendly_errors(hmm))``.  It needs
nothing of the app but the option types shared by every command.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated, Any

import typer

from emstat.errors import ConvergenceWarning, DegenerateFitError, InputError

__all__ = ["hmm", "hmm_options"]

_HMM = "Hidden Markov model"
_REPORT = "Report"

# --k and the stopping rule say what they mean for an HMM (the shared ones speak of
# mixture components and of the mixtures' defaults).
StatesOption = Annotated[
    str, typer.Option("--k", "-k", help="Numbers of hidden states: 3, 1:5 or 1,2,4.")
]
HMMTolOption = Annotated[
    float | None, typer.Option("--tol", help="Tolerance of the stopping rule (default 1e-10).")
]
HMMCriterionOption = Annotated[
    str | None,
    typer.Option(
        "--criterion", help="Stopping rule: aitken (the default), rel, abs, per_sample, param."
    ),
]
HMMMaxIterOption = Annotated[
    int | None, typer.Option("--max-iter", help="Most Baum-Welch iterations (default 10000).")
]
SequenceOption = Annotated[
    str | None,
    typer.Option(
        "--sequence",
        help="Column naming each row's sequence (subject, session); default: one sequence.",
        rich_help_panel=_HMM,
    ),
]
OrderOption = Annotated[
    str | None,
    typer.Option(
        "--order",
        help="Column giving the order of the rows within a sequence (default: the file's order).",
        rich_help_panel=_HMM,
    ),
]
ModelsOption = Annotated[
    str | None,
    typer.Option(
        "--models",
        help="Gaussian covariance models to compare: VVV,VVI (default: V in 1-D, VVV otherwise).",
        rich_help_panel=_HMM,
    ),
]
NInitOption = Annotated[
    int,
    typer.Option(
        "--n-init", help="Starts per k and model; the best is kept.", rich_help_panel=_HMM
    ),
]
ByOption = Annotated[str, typer.Option("--by", help="Choose k (and the model) by bic, aic or icl.")]
ReportPath = Annotated[
    Path | None,
    typer.Option(
        "--report", help="Write a report: x.html, x.pdf or x.qmd.", rich_help_panel=_REPORT
    ),
]
PdfFlag = Annotated[
    bool, typer.Option("--pdf", help="Also render the report as PDF.", rich_help_panel=_REPORT)
]
SavePath = Annotated[Path | None, typer.Option("--save", "-o", help="Save the chosen fit as JSON.")]
OverwriteFlag = Annotated[
    bool, typer.Option("--overwrite", help="Replace existing --save and --report files.")
]
MkdirFlag = Annotated[
    bool,
    typer.Option(
        "--mkdir/--no-mkdir",
        help="Create the report's folder if it is missing (--no-mkdir: refuse instead).",
        rich_help_panel=_REPORT,
    ),
]

_BY = ("bic", "aic", "icl")


def hmm_options(
    *,
    columns: str | None,
    family: str,
    models: str | None,
    sequence: str | None,
    order: str | None,
    trials: str | None,
    exposure: str | None,
    n_init: int,
    seed: int,
    tol: float | None,
    criterion: str | None,
    max_iter: int | None,
) -> dict[str, Any]:
    """The keywords of :func:`emstat.select_hmm` from the command line's options."""
    from emstat._parsing import number_or_column, parse_family, parse_list

    if n_init < 1:
        raise InputError(f"--n-init must be at least 1, got {n_init}")
    options: dict[str, Any] = {
        "columns": parse_list(columns, "--columns", "column"),
        "family": parse_family(family),
        "models": parse_list(models, "--models", "model"),
        "sequence": sequence,
        "order": order,
        "n_init": n_init,
        "seed": seed,
    }
    extras = {"trials": number_or_column(trials), "exposure": number_or_column(exposure)}
    options.update({key: value for key, value in extras.items() if value is not None})
    if tol is not None or criterion is not None or max_iter is not None:
        from emstat.hmm import HMM_CONTROL
        from emstat.mixture.fit import make_control

        options["control"] = make_control(None, tol, criterion, max_iter, HMM_CONTROL)
    return options


def hmm(
    data: DataPath,
    k: StatesOption = "1:5",
    columns: ColumnsOption = None,
    family: FamilyOption = "gaussian",
    models: ModelsOption = None,
    sequence: SequenceOption = None,
    order: OrderOption = None,
    trials: TrialsOption = None,
    exposure: ExposureOption = None,
    n_init: NInitOption = 1,
    seed: SeedOption = 0,
    tol: HMMTolOption = None,
    criterion: HMMCriterionOption = None,
    max_iter: HMMMaxIterOption = None,
    by: ByOption = "bic",
    save: SavePath = None,
    report: ReportPath = None,
    pdf: PdfFlag = False,
    overwrite: OverwriteFlag = False,
    mkdir: MkdirFlag = True,
) -> None:
    """Hidden Markov models for every k (and covariance model): the table and the chosen fit."""
    from emstat._io import read_table
    from emstat._parsing import parse_ks
    from emstat.hmm import select_hmm

    if by.lower() not in _BY:
        raise InputError(f"--by must be one of {', '.join(_BY)}, got {by!r}")
    check_target(save, "--save", overwrite)
    if report is not None:
        from emstat.report.cli import check_report

        check_report(report, pdf=pdf, overwrite=overwrite, mkdir=mkdir)
    if not data.is_file():
        raise InputError(f"no file {str(data)!r}")
    options = hmm_options(
        columns=columns, family=family, models=models, sequence=sequence, order=order,
        trials=trials, exposure=exposure, n_init=n_init, seed=seed, tol=tol,
        criterion=criterion, max_iter=max_iter,
    )  # fmt: skip
    frame = read_table(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        selection = select_hmm(frame, k=parse_ks(k), criterion=by.lower(), **options)
    best = selection.best
    if best is None:
        raise DegenerateFitError("every fit failed; try a smaller --k or another --models")
    say(selection_text(selection))
    say("")
    say(best.summary())
    if save is not None:
        best.save(save)
        say(f"saved to {save}")
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


def selection_text(selection: Any) -> str:
    """The selection table as text, with the sign convention and the choice."""
    summary = getattr(selection, "summary", None)
    if callable(summary):
        return str(summary())
    table = selection.table
    return table.to_string(index=False, float_format=lambda v: f"{v:.4f}")


# Last, not first: emstat.cli registers this command when it is imported, and the
# option types it shares are defined by then; imported first, the two would wait on
# each other (``python -m emstat.cli``).  Annotations are strings until typer reads them.
from emstat.cli import (  # noqa: E402
    ColumnsOption,
    DataPath,
    ExposureOption,
    FamilyOption,
    SeedOption,
    TrialsOption,
    check_target,
    say,
)
