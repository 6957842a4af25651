"""``emstat.report``: one call from a result to a rendered report."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from emstat.categorical.frontend import CategoricalResult
from emstat.errors import InputError
from emstat.mixture.result import MixtureResult
from emstat.mixture.selection import SelectionResult
from emstat.report.categorical import categorical_document
from emstat.report.document import Document, write_document
from emstat.report.mixture import fit_document, selection_document
from emstat.report.render import FORMATS, Engine, render_qmd
from emstat.report.simulation import SimulationResults, load_simulation, simulation_document

__all__ = ["build_document", "report", "write_report"]

_SUFFIXES = (".html", ".pdf", ".qmd")


def build_document(result: Any, **options: Any) -> Document:
    """The :class:`~emstat.report.document.Document` for any result emstat makes.

    ``result`` is a :class:`SelectionResult`, a :class:`MixtureResult`, a
    :class:`CategoricalResult` (or a pair of them, compared by a
    likelihood-ratio test), a simulation summary DataFrame, or the path of a
    simulation output directory.  ``options`` go to the builder (``data``,
    ``data_name``, ``title``, ``command``, ``seed``, ``other``).
    """
    if isinstance(result, SelectionResult):
        return selection_document(result, **options)
    if isinstance(result, MixtureResult):
        return fit_document(result, **options)
    if isinstance(result, CategoricalResult):
        return categorical_document(result, **options)
    if (
        isinstance(result, (tuple, list))
        and len(result) == 2
        and all(isinstance(r, CategoricalResult) for r in result)
    ):
        return categorical_document(result[0], result[1], **options)
    if isinstance(result, SimulationResults):
        return simulation_document(result, **options)
    if isinstance(result, pd.DataFrame):
        return simulation_document(SimulationResults.from_summary(result), **options)
    if isinstance(result, (str, Path)) and Path(result).is_dir():
        return simulation_document(load_simulation(result), **options)
    raise InputError(
        "report() takes a selection, a mixture or categorical fit (or two), a simulation "
        f"summary or a simulation output directory; got {type(result).__name__}"
    )


def write_report(
    doc: Document,
    path: str | Path,
    formats: Sequence[str] | None = None,
    engine: Engine = "auto",
) -> list[Path]:
    """Write ``doc`` as ``<stem>.qmd`` beside ``path`` and render it.

    Parameters
    ----------
    doc
        The document.
    path
        ``x.html``, ``x.pdf`` or ``x.qmd`` (the source only).
    formats
        What to render; default the suffix of ``path`` (nothing for ``.qmd``).
    engine
        ``"auto"`` (Quarto if found, else pandoc + Typst), ``"quarto"`` or ``"pandoc"``.

    Returns
    -------
    list of Path
        The ``.qmd`` followed by every rendered file.
    """
    path = Path(path)
    if path.suffix.lower() not in _SUFFIXES:
        raise InputError(f"a report path ends in .html, .pdf or .qmd; got {str(path)!r}")
    if formats is None:
        formats = [] if path.suffix.lower() == ".qmd" else [path.suffix.lower().lstrip(".")]
    formats = [f.lower().lstrip(".") for f in formats]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"cannot render to {unknown}; choose from {', '.join(FORMATS)}")
    path.parent.mkdir(parents=True, exist_ok=True)
    qmd = write_document(doc, path.with_suffix(".qmd"))
    return [qmd, *render_qmd(qmd, formats, engine)] if formats else [qmd]


def report(
    result: Any,
    path: str | Path,
    *,
    formats: Sequence[str] | None = None,
    engine: Engine = "auto",
    **options: Any,
) -> list[Path]:
    """Write a Quarto report of ``result`` and render it to HTML and/or PDF.

    The ``.qmd`` and its figures (``<stem>_figures/``) stay beside the output,
    so the report can be edited and rendered again, with ``quarto render``
    or ``emstat report x.qmd``.

    Parameters
    ----------
    result
        A :class:`SelectionResult` (from :func:`emstat.select_mixture`), a
        :class:`MixtureResult`, a :class:`CategoricalResult` or a pair of
        them (adds a likelihood-ratio test), a simulation summary DataFrame
        or a simulation output directory.
    path
        ``x.html``, ``x.pdf``, or ``x.qmd`` to write the source only.
    formats
        Formats to render, e.g. ``["html", "pdf"]``; default the suffix of
        ``path``.
    engine
        ``"auto"`` uses ``quarto`` when on PATH (or in ``QUARTO_PATH``),
        otherwise pandoc and Typst from PyPI (``pip install 'emstat[report]'``).
    **options
        ``data`` (the data frame, for classification plots), ``data_name``,
        ``title``, ``command``, ``seed``; ``other`` (a second categorical fit).

    Returns
    -------
    list of Path
        The ``.qmd`` and every rendered file.

    Examples
    --------
    >>> import emstat, tempfile, pathlib
    >>> df = emstat.load_dataset("faithful")
    >>> sel = emstat.select_mixture(df, k=[1, 2], models=["EEE"])
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "faithful.qmd"
    >>> [p.name for p in report(sel, out, data=df)]
    ['faithful.qmd']
    """
    if Path(path).suffix.lower() not in _SUFFIXES:
        raise InputError(f"a report path ends in .html, .pdf or .qmd; got {str(path)!r}")
    return write_report(build_document(result, **options), path, formats, engine)
