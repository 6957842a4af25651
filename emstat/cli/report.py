"""``emstat report``, and the report steps of ``select --report`` and ``simulate --report``.

A command that fits first calls :func:`check_report` before fitting, so a
bad report path costs no time; :func:`selection_report` and
:func:`simulation_report` write the reports afterwards.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from emstat.cli.options import MkdirOption, PdfOption, out_option, overwrite_option
from emstat.errors import InputError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "EngineOption",
    "check_report",
    "command_line",
    "report",
    "selection_report",
    "simulation_report",
]

_REPORT = "Report"

EngineOption = Annotated[
    str,
    typer.Option(
        "--engine",
        help="auto (quarto if found, else pandoc + Typst), quarto or pandoc.",
        rich_help_panel=_REPORT,
    ),
]


def command_line() -> str:
    """The command being run, quoted for a shell (``emstat ...``)."""
    args = [Path(sys.argv[0]).name if sys.argv else "emstat", *sys.argv[1:]]
    if args[0] in ("__main__.py", "cli.py", "-c"):
        args[0] = "emstat"
    return shlex.join(args)


def _formats(path: Path, pdf: bool) -> list[str]:
    suffix = path.suffix.lower().lstrip(".")
    formats = [] if suffix == "qmd" else [suffix]
    if pdf and "pdf" not in formats:
        formats.append("pdf")
    return formats


def check_report(
    path: Path, *, pdf: bool = False, overwrite: bool = False, mkdir: bool = False
) -> None:
    """Refuse a report path before the fit (see :func:`emstat.report.check_report_path`)."""
    from emstat.report.api import check_report_path

    check_report_path(path, _formats(path, pdf), overwrite=overwrite, mkdir=mkdir)


def selection_report(
    selection: Any,
    data: pd.DataFrame,
    path: Path,
    *,
    pdf: bool = False,
    data_name: str | None = None,
    seed: int | None = None,
    command: str | None = None,
    engine: str = "auto",
    overwrite: bool = False,
    mkdir: bool = False,
) -> list[Path]:
    """The report ``emstat select --report PATH [--pdf]`` writes; returns the files."""
    from emstat.report.api import report as make_report
    from emstat.report.render import check_engine

    return make_report(
        selection,
        path,
        formats=_formats(path, pdf),
        engine=check_engine(engine, "--engine"),
        overwrite=overwrite,
        mkdir=mkdir,
        data=data,
        data_name=data_name or "the data",
        seed=seed,
        command=command or command_line(),
    )


def simulation_report(
    out_dir: Path, *, pdf: bool = True, engine: str = "auto", overwrite: bool = False
) -> list[Path]:
    """``OUT_DIR/report.html`` (and ``.pdf``) from a simulation's saved results.

    An edited ``OUT_DIR/report.qmd`` is kept (an InputError) unless ``overwrite``.
    """
    from emstat.report.api import check_report_path, write_report
    from emstat.report.render import check_engine
    from emstat.report.simulation import load_simulation, simulation_document

    path = Path(out_dir) / "report.html"
    formats = _formats(path, pdf)
    engine = check_engine(engine, "--engine")
    check_report_path(path, formats, overwrite=overwrite)
    doc = simulation_document(load_simulation(out_dir))
    return write_report(doc, path, formats, engine, overwrite=overwrite)


def report(
    source: Annotated[
        Path,
        typer.Argument(
            help="A simulation output directory, or a report's .qmd to render again after editing."
        ),
    ],
    out: Annotated[
        Path | None, out_option("Report path (default DIR/report.html).", panel=_REPORT)
    ] = None,
    pdf: PdfOption = True,
    html: Annotated[
        bool, typer.Option("--html/--no-html", help="Render HTML.", rich_help_panel=_REPORT)
    ] = True,
    engine: EngineOption = "auto",
    overwrite: Annotated[
        bool,
        overwrite_option(
            "Replace report files emstat did not write or that were edited (an edited .qmd).",
            panel=_REPORT,
        ),
    ] = False,
    mkdir: MkdirOption = False,
) -> None:
    """(Re)render a report: from a simulation's saved results, or an edited .qmd.

    From a directory the .qmd is written again, unless it was edited (then
    pass --overwrite, or give the .qmd itself to render it as it is).
    """
    from emstat.report.api import check_report_path, render_report, write_report
    from emstat.report.render import check_engine
    from emstat.report.simulation import load_simulation, simulation_document

    formats = [f for f, on in (("html", html), ("pdf", pdf)) if on]
    engine = check_engine(engine, "--engine")
    if source.is_dir():
        path = out or source / "report.html"
        check_report_path(path, formats, overwrite=overwrite, mkdir=mkdir)
        doc = simulation_document(load_simulation(source))
        written = write_report(doc, path, formats, engine, overwrite=overwrite, mkdir=mkdir)
    elif source.suffix.lower() == ".qmd" and source.is_file():
        if out is not None:
            raise InputError("--out does not apply to a .qmd: its outputs go beside it")
        written = [source, *render_report(source, formats, engine, overwrite=overwrite)]
    else:
        raise InputError(
            f"{str(source)!r} is neither a simulation output directory nor a .qmd file"
        )
    for path in written:
        typer.echo(f"wrote {path}")
