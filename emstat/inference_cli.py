"""The ``emstat lrt`` command: a thin wrapper over :func:`emstat.bootstrap_lrt`.

Registered on the package's Typer app by ``emstat.cli``:
``app.command("lrt")(friendly_errors(lrt))``.  Self-contained: it takes its
shared option types from ``emstat.cli`` and nothing else from there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emstat._io import read_table
from emstat._parsing import parse_list
from emstat.cli import (
    ColumnsOption,
    DataPath,
    ExposureOption,
    FamilyOption,
    SeedOption,
    TrialsOption,
    WeightsOption,
    family_options,
    say,
)

__all__ = ["lrt"]

_TEST = "Test"
_REPORT = "Report"


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
        int,
        typer.Option(
            "--workers",
            "-j",
            help="Processes for the bootstrap refits (same results).",
            rich_help_panel=_TEST,
        ),
    ] = 1,
    family: FamilyOption = "gaussian",
    trials: TrialsOption = None,
    exposure: ExposureOption = None,
    weights: WeightsOption = None,
    report: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Write a report: x.html, x.pdf or x.qmd.", rich_help_panel=_REPORT
        ),
    ] = None,
    pdf: Annotated[
        bool, typer.Option("--pdf", help="Also render the report as PDF.", rich_help_panel=_REPORT)
    ] = False,
    overwrite: Annotated[
        bool, typer.Option("--overwrite", help="Replace existing report files.")
    ] = False,
    mkdir: Annotated[
        bool,
        typer.Option(
            "--mkdir/--no-mkdir",
            help="Create the report's folder if it is missing (--no-mkdir: refuse instead).",
            rich_help_panel=_REPORT,
        ),
    ] = True,
) -> None:
    """Bootstrap likelihood-ratio tests of k against k + 1 components (mclust's
    mclustBootstrapLRT): how many components the data support."""
    from emstat.mixture.lrt import bootstrap_lrt, check_lrt_options
    from emstat.report.cli import check_report

    check_lrt_options(max_k, n_boot, level, seed, workers)
    if report is not None:
        check_report(report, pdf=pdf, overwrite=overwrite, mkdir=mkdir)
    options = family_options(family, trials, exposure, weights)
    frame = read_table(data)
    result = bootstrap_lrt(
        frame,
        model,
        max_k=max_k,
        n_boot=n_boot,
        columns=parse_list(columns, "--columns", "column"),
        level=level,
        seed=seed,
        workers=workers,
        **options,
    )
    say(result.summary())
    if report is not None:
        from emstat.report.api import report as write
        from emstat.report.cli import _formats, command_line

        for path in write(
            result,
            report,
            formats=_formats(report, pdf),
            overwrite=overwrite,
            mkdir=mkdir,
            data_name=data.name,
            command=command_line(),
        ):
            say(f"report: {path}")
