"""``emstat lrt``: the bootstrap likelihood-ratio test for the number of components."""

from __future__ import annotations

from typing import Annotated

import typer

from emstat._parsing import parse_list
from emstat.cli.options import (
    ColumnsOption,
    DataPath,
    ExposureOption,
    FamilyOption,
    MkdirOption,
    PdfOption,
    ReportOption,
    SeedOption,
    TrialsOption,
    WeightsOption,
    family_options,
    overwrite_option,
    workers_option,
)
from emstat.cli.output import say

__all__ = ["lrt"]

_TEST = "Test"


def lrt(
    data: DataPath,
    model: Annotated[
        str | None,
        typer.Option(
            "--model",
            "-m",
            help="Covariance model (V, E, EEE...; default V in 1-D, VVV otherwise).",
        ),
    ] = None,
    max_k: Annotated[
        int,
        typer.Option(
            "--max-k", help="The largest k tested (against k + 1).", rich_help_panel=_TEST
        ),
    ] = 4,
    n_boot: Annotated[
        int, typer.Option("--n-boot", help="Bootstrap samples per test.", rich_help_panel=_TEST)
    ] = 999,
    level: Annotated[
        float,
        typer.Option(
            "--level", help="Stop at the first p-value above this level.", rich_help_panel=_TEST
        ),
    ] = 0.05,
    columns: ColumnsOption = None,
    seed: SeedOption = 0,
    workers: Annotated[
        int, workers_option("Processes for the bootstrap refits (same results).", panel=_TEST)
    ] = 1,
    family: FamilyOption = "gaussian",
    trials: TrialsOption = None,
    exposure: ExposureOption = None,
    weights: WeightsOption = None,
    report: ReportOption = None,
    pdf: PdfOption = False,
    overwrite: Annotated[bool, overwrite_option("Replace existing report files.")] = False,
    mkdir: MkdirOption = True,
) -> None:
    """Bootstrap likelihood-ratio tests of k against k + 1 components (mclust's
    mclustBootstrapLRT): how many components the data support."""
    from emstat._io import read_table
    from emstat.cli.report import check_report, command_line
    from emstat.mixture.lrt import bootstrap_lrt, check_lrt_options

    check_lrt_options(max_k, n_boot, level, seed, workers)
    if report is not None:
        check_report(report, pdf=pdf, overwrite=overwrite, mkdir=mkdir)
    result = bootstrap_lrt(
        read_table(data),
        model,
        max_k=max_k,
        n_boot=n_boot,
        columns=parse_list(columns, "--columns", "column"),
        level=level,
        seed=seed,
        workers=workers,
        **family_options(family, trials, exposure, weights),
    )
    say(result.summary())
    if report is not None:
        from emstat.cli.report import _formats
        from emstat.report.api import report as write_report

        for path in write_report(
            result,
            report,
            formats=_formats(report, pdf),
            overwrite=overwrite,
            mkdir=mkdir,
            data_name=data.name,
            command=command_line(),
        ):
            say(f"report: {path}")
