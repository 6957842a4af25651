"""Reports as Quarto documents, rendered to self-contained HTML and to PDF.

emstat computes the tables and figures in Python, writes a ``.qmd`` beside
its figures, and renders it with ``quarto`` when found, otherwise with pandoc
and Typst from PyPI (the ``report`` extra).
"""

from __future__ import annotations

from emstat.report.api import build_document, check_report_path, render_report, report, write_report
from emstat.report.registry import register_report
from emstat.report.render import RenderError, find_quarto, render_qmd
from emstat.report.simulation import SimulationResults, load_simulation

__all__ = [
    "RenderError",
    "SimulationResults",
    "build_document",
    "check_report_path",
    "find_quarto",
    "load_simulation",
    "register_report",
    "render_qmd",
    "render_report",
    "report",
    "write_report",
]
