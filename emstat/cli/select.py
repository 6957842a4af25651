"""``emstat select``: every k (and covariance model), the criterion's table and the choice."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from emstat._parsing import parse_ks, parse_list
from emstat.cli.fit import MissingOption
from emstat.cli.intervals import (
    BootIntervalOption,
    BootKindOption,
    BootStartOption,
    IntervalsOption,
    IntervalsOutOption,
    LevelOption,
    NBootOption,
    interval_settings,
    show_intervals,
)
from emstat.cli.options import (
    AlgorithmOption,
    ColumnsOption,
    DataPath,
    ExposureOption,
    FamilyOption,
    Format,
    FormatOption,
    GaussianPriorOption,
    InitOption,
    InnerTolOption,
    LabelsOption,
    MaxIterOption,
    MkdirOption,
    ModelsOption,
    NInitOption,
    NoiseOption,
    NoiseStartOption,
    PdfOption,
    ReportOption,
    SeedOption,
    TolOption,
    TrialsOption,
    VinvOption,
    WeightsOption,
    check_target,
    family_options,
    noise_options,
    out_option,
    overwrite_option,
    parse_noise_ks,
    quiet_option,
    workers_option,
)
from emstat.cli.output import emit_table, note
from emstat.errors import ConvergenceWarning, DegenerateFitError

if TYPE_CHECKING:
    import pandas as pd

    from emstat.mixture import SelectionResult

__all__ = ["select", "selection_frame"]


def selection_frame(
    selection: SelectionResult, criterion: str, convention: Literal["mclust", "smaller"]
) -> pd.DataFrame:
    """The criterion's table in long form: one row per (k, model), NaN where no fit."""
    import pandas as pd

    table = selection.table_for(criterion, convention)
    rows = [(int(k), str(m), float(table.loc[k, m])) for k in table.index for m in table.columns]
    return pd.DataFrame(rows, columns=["k", "model", criterion])


def select(
    data: DataPath,
    k: Annotated[
        str | None,
        typer.Option(
            "--k",
            "-k",
            help="Components: 3, 1:9 or 1,2,4 (1:9; 0:9 with --noise; with --labels, the classes).",
        ),
    ] = None,
    models: ModelsOption = None,
    columns: ColumnsOption = None,
    criterion: Annotated[str, typer.Option("--by", help="Choose by bic, aic or icl.")] = "bic",
    mclust: Annotated[
        bool, typer.Option("--mclust", help="Show mclust's sign (larger is better).")
    ] = False,
    seed: SeedOption = 0,
    tol: TolOption = None,
    inner_tol: InnerTolOption = None,
    max_iter: MaxIterOption = None,
    workers: Annotated[int, workers_option("Processes to fit the models on (same results).")] = 1,
    out: Annotated[Path | None, out_option("Save the chosen fit as JSON.")] = None,
    report: ReportOption = None,
    pdf: PdfOption = False,
    overwrite: Annotated[
        bool, overwrite_option("Replace existing --out and --report files.")
    ] = False,
    mkdir: MkdirOption = True,
    family: FamilyOption = "gaussian",
    trials: TrialsOption = None,
    exposure: ExposureOption = None,
    weights: WeightsOption = None,
    init: InitOption = None,
    n_init: NInitOption = 1,
    prior: GaussianPriorOption = None,
    algorithm: AlgorithmOption = "em",
    output_format: FormatOption = Format.table,
    quiet: Annotated[bool, quiet_option()] = False,
    labels: LabelsOption = None,
    noise: NoiseOption = False,
    noise_start: NoiseStartOption = None,
    vinv: VinvOption = None,
    missing: MissingOption = "em",
    intervals: IntervalsOption = None,
    level: LevelOption = 0.95,
    n_boot: NBootOption = 999,
    boot_kind: BootKindOption = "bs",
    boot_interval: BootIntervalOption = None,
    boot_start: BootStartOption = "fit",
    intervals_out: IntervalsOutOption = None,
) -> None:
    """Fit every k (and covariance model); print the table and the chosen fit."""
    from emstat._io import read_table
    from emstat._validation import describe_labels
    from emstat.cli.progress import spinner
    from emstat.cli.report import check_report
    from emstat.mixture import select_mixture

    check_target(out, "--out", overwrite)
    check_target(intervals_out, "--intervals-out", overwrite)
    settings = interval_settings(intervals, level, n_boot, boot_kind, boot_interval, boot_start)
    if report is not None:
        check_report(report, pdf=pdf, overwrite=overwrite, mkdir=mkdir)
    model_names = parse_list(models, "--models", "model")
    options = family_options(family, trials, exposure, weights)
    options.update(noise_options(noise, noise_start, vinv))
    ks = parse_noise_ks(k) if options["noise"] is not None else None if k is None else parse_ks(k)
    if init is not None:
        options["init"] = init
    if n_init != 1:
        options["n_init"] = n_init
    if prior is not None:
        options["prior"] = prior
    frame = read_table(data)
    convention: Literal["mclust", "smaller"] = "mclust" if mclust else "smaller"
    if labels is not None:
        options["labels"] = labels
    shown_k = k or ("the label classes" if labels is not None else ks)
    with warnings.catch_warnings(), spinner(f"selecting among k = {shown_k}", show=not quiet):
        warnings.simplefilter("ignore", ConvergenceWarning)
        selection = select_mixture(
            frame,
            ks,
            model_names,
            columns=parse_list(columns, "--columns", "column"),
            criterion=criterion,
            convention=convention,
            seed=seed,
            tol=tol,
            inner_tol=inner_tol,
            max_iter=max_iter,
            workers=workers,
            algorithm=algorithm,
            missing=missing,
            **options,
        )
    if not any(fit.ok for fit in selection.fits.values()):
        reasons = list(dict.fromkeys(fit.degenerate or "" for fit in selection.fits.values()))
        raise DegenerateFitError(f"every fit was degenerate: {describe_labels(reasons, 3)}")
    table = selection_frame(selection, criterion, convention)
    emit_table(table, output_format, f"{selection.summary()}\n\n{selection.best.summary()}")
    if out is not None:
        selection.best.save(out)
        note(f"saved to {out}", output_format)
    if settings is not None:
        show_intervals(
            selection.best, settings, intervals_out, seed=seed, workers=workers, fmt=output_format
        )
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
