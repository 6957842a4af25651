"""The ``emstat hmm`` command: fit hidden Markov models for every k, print the table and the fit.

Registered in :data:`emstat.cli.COMMANDS`.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from emstat.cli.options import (
    ColumnsOption,
    DataPath,
    ExposureOption,
    FamilyOption,
    Format,
    FormatOption,
    MkdirOption,
    PdfOption,
    ReportOption,
    SeedOption,
    TrialsOption,
    check_target,
    overwrite_option,
)
from emstat.cli.output import emit_table, note
from emstat.errors import ConvergenceWarning, DegenerateFitError, InputError

if TYPE_CHECKING:
    import numpy as np

__all__ = ["hmm", "hmm_options"]

_HMM = "Hidden Markov model"

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
FixedOption = Annotated[
    list[str] | None,
    typer.Option(
        "--fixed",
        metavar="NAME@STATE=VALUE",
        help=(
            "Hold one state's emission parameter at a value: NAME@STATE=VALUE, names as in "
            "the fit's parameter table, e.g. 'mean\\[x]@1=0' or 'prob\\[face=6]@2=1/6'; "
            "repeat for more (a state's whole covariance in 'VVV': each var\\[...] and "
            "cov\\[...]). "
            "Fixed values are not free parameters (BIC); a k without that state says so in "
            "the table."
        ),
        rich_help_panel=_HMM,
    ),
]
TransitionsOption = Annotated[
    str | None,
    typer.Option(
        "--transitions",
        help=(
            "Constrain the transitions: rows joined by ';', entries by ',', '*' where free and "
            "a number where fixed (0: a structural zero), e.g. '*,*,0;0,*,*;0,0,1' (left to "
            "right, 3 states); other k say so in the table."
        ),
        rich_help_panel=_HMM,
    ),
]
StartOption = Annotated[
    str | None,
    typer.Option(
        "--start",
        help="Constrain the start distribution: entries joined by ',', '*' where free, e.g. "
        "'1,0,0' or '*,*,0'.",
        rich_help_panel=_HMM,
    ),
]
ByOption = Annotated[str, typer.Option("--by", help="Choose k (and the model) by bic, aic or icl.")]
SavePath = Annotated[Path | None, typer.Option("--save", "-o", help="Save the chosen fit as JSON.")]
OverwriteFlag = Annotated[bool, overwrite_option("Replace existing --save and --report files.")]

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
    fixed: list[str] | None = None,
    transitions: str | None = None,
    start: str | None = None,
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
    extras = {
        "trials": number_or_column(trials),
        "exposure": number_or_column(exposure),
        "fixed": parse_fixed(fixed),
        "transitions": parse_constraint(transitions, "--transitions"),
        "start": parse_constraint(start, "--start"),
    }
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
    fixed: FixedOption = None,
    transitions: TransitionsOption = None,
    start: StartOption = None,
    tol: HMMTolOption = None,
    criterion: HMMCriterionOption = None,
    max_iter: HMMMaxIterOption = None,
    by: ByOption = "bic",
    save: SavePath = None,
    report: ReportOption = None,
    pdf: PdfOption = False,
    overwrite: OverwriteFlag = False,
    mkdir: MkdirOption = True,
    output_format: FormatOption = Format.table,
) -> None:
    """Hidden Markov models for every k (and covariance model): the table and the chosen fit."""
    from emstat._io import read_table
    from emstat._parsing import parse_ks
    from emstat.hmm import select_hmm

    if by.lower() not in _BY:
        raise InputError(f"--by must be one of {', '.join(_BY)}, got {by!r}")
    check_target(save, "--save", overwrite)
    if report is not None:
        from emstat.cli.report import check_report

        check_report(report, pdf=pdf, overwrite=overwrite, mkdir=mkdir)
    if not data.is_file():
        raise InputError(f"no file {str(data)!r}")
    options = hmm_options(
        columns=columns, family=family, models=models, sequence=sequence, order=order,
        trials=trials, exposure=exposure, n_init=n_init, seed=seed, tol=tol,
        criterion=criterion, max_iter=max_iter, fixed=fixed, transitions=transitions,
        start=start,
    )  # fmt: skip
    frame = read_table(data)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        selection = select_hmm(frame, k=parse_ks(k), criterion=by.lower(), **options)
    best = selection.best
    if best is None:
        raise DegenerateFitError("every fit failed; try a smaller --k or another --models")
    emit_table(selection.table, output_format, f"{selection_text(selection)}\n\n{best.summary()}")
    if save is not None:
        best.save(save)
        note(f"saved to {save}", output_format)
    if report is not None:
        from emstat.cli.report import selection_report

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
            note(f"report: {path}", output_format)


_FIXED_FORM = "NAME@STATE=VALUE, e.g. 'mean[x]@1=0'"


def parse_fixed(texts: list[str] | None) -> dict[str, dict[int, float]] | None:
    """``["mean[x]@1=0", "var[x]@2=4"]`` -> ``{"mean[x]": {1: 0.0}, "var[x]": {2: 4.0}}``.

    The value follows the last ``=`` and the state the last ``@`` before it, so
    names that hold ``=`` (``prob[face=6]``) need no quoting of their own.
    """
    if not texts:
        return None
    fixed: dict[str, dict[int, float]] = {}
    for text in texts:
        left, equals, value = text.rpartition("=")
        name, at, state = left.rpartition("@")
        if not equals or not at or not name.strip():
            raise InputError(f"--fixed {text!r} must read {_FIXED_FORM}")
        if not state.strip().isdigit() or int(state) < 1:
            raise InputError(
                f"--fixed {text!r}: the state after '@' must be a number 1, 2, ..., got {state!r}"
            )
        number = _fixed_number(value.strip(), text)
        per_state = fixed.setdefault(name.strip(), {})
        if int(state) in per_state:
            raise InputError(f"--fixed gives {name.strip()}@{int(state)} twice")
        per_state[int(state)] = number
    return fixed


def parse_constraint(text: str | None, option: str) -> np.ndarray | None:
    """``"*,*,0;0,*,*"`` -> rows of fixed values, NaN where free (``--start``: one row)."""
    if text is None:
        return None
    import numpy as np  # not at import: --help loads no numerical stack

    rows = [row.split(",") for row in text.split(";")]
    if option == "--start" and len(rows) != 1:
        raise InputError(f"{option} is one row of entries joined by ','; got {text!r}")
    if len({len(row) for row in rows}) != 1:
        raise InputError(f"the rows of {option} {text!r} have different lengths")
    values = np.full((len(rows), len(rows[0])), np.nan)
    for i, row in enumerate(rows):
        for j, entry in enumerate(row):
            if entry.strip() != "*":
                values[i, j] = _fixed_number(entry.strip(), text, option)
    return values[0] if option == "--start" else values


def _fixed_number(value: str, text: str, option: str = "--fixed") -> float:
    """A number, or a fraction such as ``1/6`` (a probability written as users think of it)."""
    top, slash, bottom = value.partition("/")
    try:
        number = float(top) / float(bottom) if slash else float(value)
    except (ValueError, ZeroDivisionError):
        where = "the value after '='" if option == "--fixed" else "each entry"
        free = "" if option == "--fixed" else " or '*' (free)"
        raise InputError(
            f"{option} {text!r}: {where} must be a number (or a fraction such as 1/6){free}, "
            f"got {value!r}"
        ) from None
    if not math.isfinite(number):
        raise InputError(f"{option} {text!r}: the value must be finite, got {value!r}")
    return number


def selection_text(selection: Any) -> str:
    """The selection table as text, with the sign convention and the choice."""
    summary = getattr(selection, "summary", None)
    if callable(summary):
        return str(summary())
    table = selection.table
    return table.to_string(index=False, float_format=lambda v: f"{v:.4f}")
