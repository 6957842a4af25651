"""Command-line pieces of the reports: the ``emstat report`` command and helpers.

``report`` is a plain function with ``Annotated`` options; register it on the
package's Typer app with ``app.command("report")(friendly_errors(report))``.
:func:`selection_report` and :func:`simulation_report` are what ``emstat
select --report`` and ``emstat simulate --report`` call.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer

from emstat.errors import InputError
from emstat.report.api import report as make_report
from emstat.report.api import write_report
from emstat.report.render import render_qmd
from emstat.report.simulation import load_simulation, simulation_document

__all__ = [
    "EngineOpt",
    "PdfOpt",
    "ReportOpt",
    "command_line",
    "report",
    "selection_report",
    "simulation_report",
]

ReportOpt = Annotated[
    Path | None,
    typer.Option(
        "--report",
        help="Write a report: x.html, x.pdf or x.qmd (the Quarto source is kept beside it).",
        rich_help_panel="Report",
    ),
]
PdfOpt = Annotated[
    bool,
    typer.Option("--pdf/--no-pdf", help="Also render the report as PDF.", rich_help_panel="Report"),
]
EngineOpt = Annotated[
    str,
    typer.Option(
        "--engine",
        help="auto (quarto if found, else pandoc + Typst), quarto or pandoc.",
        rich_help_panel="Report",
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


def _check_engine(engine: str) -> Any:
    if engine not in ("auto", "quarto", "pandoc"):
        raise InputError(f"--engine takes auto, quarto or pandoc; got {engine!r}")
    return engine


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
) -> list[Path]:
    """The report ``emstat select --report PATH [--pdf]`` writes; returns the files."""
    return make_report(
        selection,
        path,
        formats=_formats(path, pdf),
        engine=_check_engine(engine),
        data=data,
        data_name=data_name or "the data",
        seed=seed,
        command=command or command_line(),
    )


def simulation_report(out_dir: Path, *, pdf: bool = True, engine: str = "auto") -> list[Path]:
    """``OUT_DIR/report.html`` (and ``.pdf``) from a simulation's saved results."""
    doc = simulation_document(load_simulation(out_dir))
    return write_report(
        doc, Path(out_dir) / "report.html", _formats(Path("x.html"), pdf), _check_engine(engine)
    )


def report(
    source: Annotated[
        Path,
        typer.Argument(
            help="A simulation output directory, or a report's .qmd to render again after editing."
        ),
    ],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", "-o", help="Report path (default DIR/report.html).", rich_help_panel="Report"
        ),
    ] = None,
    pdf: PdfOpt = True,
    html: Annotated[
        bool, typer.Option("--html/--no-html", help="Render HTML.", rich_help_panel="Report")
    ] = True,
    engine: EngineOpt = "auto",
) -> None:
    """(Re)render a report: from a simulation's saved results, or an edited .qmd."""
    formats = [f for f, on in (("html", html), ("pdf", pdf)) if on]
    if source.is_dir():
        path = out or source / "report.html"
        written = write_report(
            simulation_document(load_simulation(source)), path, formats, _check_engine(engine)
        )
    elif source.suffix.lower() == ".qmd" and source.is_file():
        if out is not None:
            raise InputError("--out does not apply to a .qmd: its outputs go beside it")
        written = [source, *render_qmd(source, formats, _check_engine(engine))]
    else:
        raise InputError(
            f"{str(source)!r} is neither a simulation output directory nor a .qmd file"
        )
    for path in written:
        typer.echo(f"wrote {path}")
