"""The report of an image segmentation: the image beside its segments, the selection, EM."""

from __future__ import annotations

from typing import Any

import pandas as pd

from emstat import plotting
from emstat.report import figures
from emstat.report.document import Document, Section
from emstat.report.markdown import (
    FigureBlock,
    callout,
    code_block,
    fmt_fixed,
    fmt_int,
    fmt_sig,
    md_escape,
    paragraph,
    pipe_table,
)
from emstat.report.mixture import CONVENTION_TEXT, best_cell, criterion_table, degenerate_note
from emstat.report.provenance import reproduce_section
from emstat.report.registry import register_report
from emstat.segment.fit import IMAGE_START
from emstat.segment.image import FEATURES, feature_columns
from emstat.segment.result import SegmentationResult

__all__ = ["segment_call", "segment_document", "segments_table"]


def segment_call(result: SegmentationResult, data_name: str) -> str:
    """Python that segments the same image again."""
    ks = result.selection.ks if result.selection is not None else [result.k]
    models = result.selection.models if result.selection is not None else [result.fit.model]
    k_text = (
        f"range({ks[0]}, {ks[-1] + 1})"
        if len(ks) > 1 and ks == list(range(ks[0], ks[-1] + 1))
        else (repr(ks) if result.selection is not None else str(ks[0]))
    )
    model_text = repr(models[0]) if len(models) == 1 else repr(models)
    return (
        "import emstat\n"
        f"seg = emstat.segment_image({data_name!r}, k={k_text}, model={model_text}, "
        f"features={result.features!r}, seed={result.seed})"
    )


def segments_table(result: SegmentationResult) -> pd.DataFrame:
    """One row per segment: pixels, share, mean colour, mean uncertainty (formatted)."""
    frame = result.segments
    return pd.DataFrame(
        {
            "segment": frame["segment"].astype(str),
            "pixels": [fmt_int(v) for v in frame["pixels"]],
            "share": [f"{100 * v:.1f}%" for v in frame["share"]],
            "mean colour (R, G, B)": [
                f"{r}, {g}, {b}" for r, g, b in zip(frame["R"], frame["G"], frame["B"], strict=True)
            ],
            "hex": [f"`{c}`" for c in frame["colour"]],
            "mean uncertainty": [fmt_sig(v, 2) for v in frame["mean uncertainty"]],
        }
    )


def _figure(result: SegmentationResult, kind: str, width: float, height: float) -> Any:
    panels = 2 if kind == "segmentation" else 1
    fig, axes = figures.panel_grid(panels, width, height)
    plotting.draw_segmentation(result, kind, axes)
    return fig


def _image_blocks(result: SegmentationResult) -> list[Any]:
    height, width = result.shape
    aspect = height / max(width, 1)
    return [
        FigureBlock(
            "segmentation",
            _figure(result, "segmentation", 4.5, 4.5 * aspect + 0.4),
            "Left: the image. Right: every pixel in the mean colour of its segment.",
            width=100,
        ),
        FigureBlock(
            "uncertainty",
            _figure(result, "uncertainty", 5.5, 5.5 * aspect + 0.4),
            "The uncertainty of each pixel's segment, 1 − max z (dark: certain); it is "
            "largest where a colour lies between two segments.",
            width=60,
        ),
    ]


def _segment_blocks(result: SegmentationResult) -> list[Any]:
    return [
        pipe_table(
            segments_table(result),
            "The segments: pixels, share of the image, the mean colour of their pixels (0-255) "
            "and their mean uncertainty.",
            align=["r", "r", "r", "l", "l", "r"],
        ),
        FigureBlock(
            "sizes",
            _figure(result, "sizes", 5.0, 3.0),
            "Each segment's share of the pixels, filled with its mean colour.",
            width=60,
        ),
    ]


def _selection_blocks(result: SegmentationResult) -> list[Any]:
    selection = result.selection
    if selection is None:
        return []
    table = selection.table
    fig = figures.new_figure(7.0, 4.0)
    plotting.draw_selection(selection, "criterion", fig.add_subplot())
    blocks: list[Any] = [
        callout(CONVENTION_TEXT[("bic", "smaller")] + ".", "Sign convention"),
        pipe_table(
            criterion_table(table, best_cell(table, "smaller")),
            f"BIC of every fit; rows models, columns k; in bold the chosen fit, model "
            f"{result.fit.model} with k = {result.k}. NA: the fit was degenerate.",
            full_width=len(table.index) > 5,
        ),
        FigureBlock(
            "bic-by-k",
            fig,
            "BIC against the number of segments, one line per covariance model; the circle "
            "marks the chosen fit.",
            width=85,
        ),
    ]
    note = degenerate_note(selection)
    if note:
        blocks.append(note)
    return blocks


def _convergence_blocks(result: SegmentationResult) -> list[Any]:
    fit = result.fit
    status = (
        "converged"
        if fit.converged
        else f"did **not** converge (stopped by {md_escape(fit.stop_reason)})"
    )
    return [
        paragraph(
            f"EM {status} after {fit.n_iter} iterations. Stopping rule: "
            f"{md_escape(fit.control.describe())}.",
            f"Log-likelihood {fmt_fixed(fit.loglik, 4)}, {fit.n_params} free parameters, "
            f"BIC {fmt_fixed(fit.bic, 2)} (smaller is better).",
        ),
        FigureBlock(
            "trace",
            figures.trace_figure(fit.trace, fit.control, fit.n),
            "Left: log-likelihood after every iteration. Right: the quantity the stopping "
            "rule compares with its tolerance (dashed line).",
            width=95,
        ),
    ]


def _start_text(result: SegmentationResult) -> str:
    if result.fit.init == IMAGE_START:
        return (
            "EM started from the principal-axis quantiles: the pixels ranked along the first "
            "principal axis of their features and cut into k classes of equal size."
        )
    return f"EM started from the `{md_escape(result.fit.init)}` partition."


def segment_document(
    result: SegmentationResult,
    *,
    data_name: str | None = None,
    title: str | None = None,
    command: str | None = None,
    seed: int | None = None,
) -> Document:
    """The report of an image segmentation.

    Parameters
    ----------
    result
        What :func:`emstat.segment_image` returned.
    data_name
        How the image is named (default its file name).
    title
        The report's title.
    command
        The shell command or code that reproduces it (default the Python call).
    seed
        The seed (default the result's).
    """
    name = data_name or result.picture.name or "the image"
    seed = result.seed if seed is None else seed
    code = command or segment_call(result, name)
    language = "python" if command is None else "sh"
    height, width = result.shape
    columns = ", ".join(md_escape(c) for c in feature_columns(result.features))
    chosen = (
        f" chosen by BIC among k = {', '.join(str(k) for k in result.selection.ks)}"
        if result.selection is not None
        else ""
    )
    intro = [
        paragraph(
            f"**{md_escape(name)}**: {width} x {height} = {fmt_int(width * height)} pixels, "
            f"each a row of features `{result.features}` ({md_escape(FEATURES[result.features])}; "
            f"columns {columns}).",
            f"A Gaussian mixture, covariance model **{result.fit.model}** with **k = "
            f"{result.k}**{chosen}, was fitted by EM and each pixel assigned to its most "
            "probable component.",
            _start_text(result),
            "The pixels streamed through the chunked path (spilled to disk, read in chunks)."
            if result.chunked
            else "",
            f"From reading the image to the result took {fmt_fixed(result.seconds, 3)} s.",
        ),
        code_block(code, language),
    ]
    sections = [
        Section("Image and call", intro),
        Section("Segmentation", _image_blocks(result)),
        Section("Segments", _segment_blocks(result)),
    ]
    if result.selection is not None:
        sections.append(Section("Model selection", _selection_blocks(result)))
    sections += [
        Section("Convergence", _convergence_blocks(result)),
        reproduce_section(seed, code, language),
    ]
    return Document(
        title=title or f"Image segmentation: {name}",
        subtitle=f"{result.k} segments, model {result.fit.model}, features {result.features}",
        sections=sections,
        metadata={"seed": "" if seed is None else str(seed), "command": code},
    )


register_report(SegmentationResult, segment_document, "an image segmentation")
