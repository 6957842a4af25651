"""``emstat.report``: one call from a result to a rendered report."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from emstat._validation import describe_labels
from emstat.errors import InputError

# imported for their registrations: each module registers the results it reports on
from emstat.report import categorical, family, hmm, lrt, mixture, segment, simulation  # noqa: F401
from emstat.report.document import Document, write_document
from emstat.report.files import check_replaceable, figure_dir, remember
from emstat.report.registry import Builder, find_report
from emstat.report.render import FORMATS, Engine, check_engine, render_qmd

__all__ = ["build_document", "check_report_path", "render_report", "report", "write_report"]

_SUFFIXES = (".html", ".pdf", ".qmd")
#: Keywords of :func:`report` itself; the rest go to the document's builder.
_REPORT_OPTIONS = ("formats", "engine", "overwrite", "mkdir")


def _builder(result: Any) -> tuple[Builder, tuple[Any, ...], str]:
    """The registered builder for ``result``, its positional arguments, and what ``result`` is."""
    found = find_report(result)
    if found is None:
        raise InputError(
            "report() takes a selection, a mixture or categorical fit (or two), a bootstrap "
            "LRT, a simulation summary or a simulation output directory; got "
            f"{type(result).__name__}"
        )
    return found


def _check_options(
    caller: str,
    builder: Builder,
    n_args: int,
    what: str,
    options: dict[str, Any],
    own: Sequence[str] = (),
) -> None:
    """One InputError naming any option neither ``caller`` nor ``builder`` takes."""
    taken = [*own, *list(inspect.signature(builder).parameters)[n_args:]]
    unknown = [name for name in options if name not in taken]
    if unknown:
        raise InputError(
            f"{caller}() has no option {describe_labels(unknown)} for {what}; "
            f"its options are {', '.join(taken)}"
        )


def build_document(result: Any, **options: Any) -> Document:
    """The :class:`~emstat.report.document.Document` for any result emstat makes.

    ``result`` is a :class:`SelectionResult` (Gaussian or of a component
    family), a :class:`MixtureResult` or a ``FamilyMixtureResult``, a
    :class:`CategoricalResult` (or a pair of them, compared by a
    likelihood-ratio test), a simulation summary DataFrame, or the path of a
    simulation output directory: whatever a report module registered with
    :func:`~emstat.report.registry.register_report`.  ``options`` go to the builder (``data``,
    ``data_name``, ``title``, ``command``, ``seed``, ``other``); one it does
    not take is an InputError that lists those it does.
    """
    builder, args, what = _builder(result)
    _check_options("build_document", builder, len(args), what, options)
    return builder(*args, **options)


def _formats(path: Path, formats: Sequence[str] | None) -> list[str]:
    """What to render: ``formats``, lower case, or by default the suffix of ``path``."""
    if formats is None:
        formats = [] if path.suffix.lower() == ".qmd" else [path.suffix.lower().lstrip(".")]
    formats = [f.lower().lstrip(".") for f in formats]
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"cannot render to {unknown}; choose from {', '.join(FORMATS)}")
    return formats


def _check_targets(qmd: Path, formats: Sequence[str], overwrite: bool, source: bool) -> None:
    """The figures folder is a folder (or absent); each output (and the source) may be replaced."""
    folder = qmd.parent / figure_dir(qmd.stem)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{str(folder)!r} is a file; the report keeps its figures in that folder")
    outputs = [qmd.with_suffix(f".{f}") for f in formats]
    check_replaceable(qmd, [qmd, *outputs] if source else outputs, overwrite)


def check_report_path(
    path: str | Path,
    formats: Sequence[str] | None = None,
    *,
    overwrite: bool = False,
    mkdir: bool = False,
) -> list[str]:
    """Check that a report can be written to ``path``, writing nothing; return the formats.

    Refused, each with one InputError: a suffix other than ``.html``,
    ``.pdf``, ``.qmd``; a ``path`` that is a folder; a missing folder
    (unless ``mkdir``); a format other than html or pdf; and a ``.qmd``,
    ``.html`` or ``.pdf`` in the way that emstat did not write or that was
    changed since (unless ``overwrite``).  Commands call it before fitting.
    """
    path = Path(path)
    if path.is_dir():
        raise InputError(f"{str(path)!r} is a folder; a report path is a file such as report.html")
    if path.suffix.lower() not in _SUFFIXES:
        raise InputError(f"a report path ends in .html, .pdf or .qmd; got {str(path)!r}")
    formats = _formats(path, formats)
    folder = path.parent
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{str(folder)!r} is a file, not a folder to write the report into")
    if not folder.exists() and not mkdir:
        raise InputError(
            f"no folder {str(folder)!r} for the report; create it, or pass --mkdir (mkdir=True)"
        )
    _check_targets(path.with_suffix(".qmd"), formats, overwrite, source=True)
    return formats


def _make_folder(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create the folder {str(folder)!r}: {exc.strerror}") from None


def render_report(
    qmd: str | Path,
    formats: Sequence[str] = FORMATS,
    engine: Engine = "auto",
    *,
    overwrite: bool = False,
) -> list[Path]:
    """Render a report's ``.qmd`` as it is (edited or not) to files beside it.

    Unlike :func:`~emstat.report.render.render_qmd`, an ``.html`` or
    ``.pdf`` in the way is replaced only when emstat wrote it and it is
    unchanged since, or with ``overwrite``; what is rendered is recorded.

    Returns
    -------
    list of Path
        The rendered files.
    """
    qmd = Path(qmd)
    engine = check_engine(engine)
    if qmd.suffix.lower() != ".qmd" or not qmd.is_file():
        raise InputError(f"no .qmd file {str(qmd)!r} to render")
    formats = _formats(qmd, formats)
    _check_targets(qmd, formats, overwrite, source=False)
    rendered: list[Path] = []
    for fmt in formats:
        # recorded one by one: a PDF that fails leaves the HTML known as emstat's
        rendered += render_qmd(qmd, [fmt], engine)
        remember(qmd, rendered[-1:])
    return rendered


def write_report(
    doc: Document,
    path: str | Path,
    formats: Sequence[str] | None = None,
    engine: Engine = "auto",
    *,
    overwrite: bool = False,
    mkdir: bool = False,
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
    overwrite
        Replace a ``.qmd``, ``.html`` or ``.pdf`` that emstat did not write,
        or that was changed since (an edited ``.qmd``).  Without it such a
        file stops the report before anything is written; files emstat wrote
        and nobody changed are replaced either way, figures always.
    mkdir
        Create the folder of ``path`` (and its parents) when missing.

    Returns
    -------
    list of Path
        The ``.qmd`` followed by every rendered file.
    """
    path = Path(path)
    engine = check_engine(engine)
    formats = check_report_path(path, formats, overwrite=overwrite, mkdir=mkdir)
    if mkdir:
        _make_folder(path.parent)
    qmd = write_document(doc, path.with_suffix(".qmd"))
    # already checked, and the .qmd is emstat's own now
    return [qmd, *render_report(qmd, formats, engine, overwrite=True)] if formats else [qmd]


def report(
    result: Any,
    path: str | Path,
    *,
    formats: Sequence[str] | None = None,
    engine: Engine = "auto",
    overwrite: bool = False,
    mkdir: bool = False,
    **options: Any,
) -> list[Path]:
    """Write a Quarto report of ``result`` and render it to HTML and/or PDF.

    The ``.qmd`` and its figures (``<stem>_figures/``) stay beside the output,
    so the report can be edited and rendered again, with ``quarto render``,
    ``emstat report x.qmd`` or :func:`render_report`.  Making the report
    again never replaces an edited ``.qmd`` unless ``overwrite`` is given.

    Parameters
    ----------
    result
        A :class:`SelectionResult` (from :func:`emstat.select_mixture`, of
        any family), a :class:`MixtureResult` or a ``FamilyMixtureResult``
        (from :func:`emstat.fit_mixture`), a :class:`CategoricalResult` or a pair of
        them (adds a likelihood-ratio test), an :class:`~emstat.LRTResult`
        (from :func:`emstat.bootstrap_lrt`), a simulation summary DataFrame
        or a simulation output directory.
    path
        ``x.html``, ``x.pdf``, or ``x.qmd`` to write the source only.
    formats
        Formats to render, e.g. ``["html", "pdf"]``; default the suffix of
        ``path``.
    engine
        ``"auto"`` uses ``quarto`` when on PATH (or in ``QUARTO_PATH``),
        otherwise pandoc and Typst from PyPI (``pip install 'emstat[report]'``).
    overwrite
        Replace report files that emstat did not write or that were changed
        since (see :func:`write_report`).
    mkdir
        Create the folder of ``path`` when missing (otherwise an InputError).
    **options
        ``data`` (the data frame, for classification plots), ``data_name``,
        ``title``, ``command``, ``seed``; ``other`` (a second categorical fit);
        for a Gaussian fit or selection ``options``, keyword arguments of the
        call that the fit does not keep (``mclust_compatible``, ``inner_tol``,
        a user's ``emstat.GaussianPrior``), written into the reproduce code.
        An option the report does not take is an InputError naming it.

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
    engine = check_engine(engine)
    check_report_path(path, formats, overwrite=overwrite, mkdir=mkdir)  # before the figures
    builder, args, what = _builder(result)
    _check_options("report", builder, len(args), what, options, _REPORT_OPTIONS)
    doc = builder(*args, **options)
    return write_report(doc, path, formats, engine, overwrite=overwrite, mkdir=mkdir)
