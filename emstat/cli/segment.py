"""The ``emstat segment`` command: a thin wrapper over :func:`emstat.segment_image`.

Registered in :data:`emstat.cli.COMMANDS`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emstat.cli.options import (
    Format,
    FormatOption,
    KOption,
    MkdirOption,
    PdfOption,
    ReportOption,
    SeedOption,
    out_option,
    overwrite_option,
    quiet_option,
)
from emstat.cli.output import emit_table, note
from emstat.cli.report import check_report, command_line

# The choices of --features, as emstat.segment.image.FEATURES names them (a test checks);
# spelt out here so that --help imports no numpy.
FEATURE_HELP = {
    "rgb": "colour: R, G, B in 0..255",
    "rgb+xy": "colour and position: R, G, B and x, y scaled so the longer side spans 0..255",
    "lab": "perceptual colour: CIELAB L*, a*, b* (D65 white)",
}

__all__ = ["default_out", "segment"]


def default_out(image: Path) -> Path:
    """The segmented image's default path: ``<stem>_segmented.png`` beside the input."""
    return image.with_name(f"{image.stem}_segmented.png")


def segment(
    image: Annotated[
        Path, typer.Argument(help="A colour photograph (PNG, JPEG, TIFF...: any Pillow reads).")
    ],
    k: KOption = "2",
    model: Annotated[
        str,
        typer.Option(
            "--model", "-m", help="Covariance model, or several comma-separated (VVV, EEE...)."
        ),
    ] = "VVV",
    features: Annotated[
        str,
        typer.Option(
            "--features",
            help="What a pixel is: "
            + "; ".join(f"{n}: {t}" for n, t in FEATURE_HELP.items())
            + ".",
        ),
    ] = "rgb",
    out: Annotated[
        Path | None,
        out_option(
            "The segmented image (default IMAGE_segmented.png beside the image); the "
            "label image goes beside it as OUT_labels.png."
        ),
    ] = None,
    seed: SeedOption = 0,
    report: ReportOption = None,
    pdf: PdfOption = False,
    overwrite: Annotated[
        bool, overwrite_option("Replace existing --out images and report files (an edited .qmd).")
    ] = False,
    mkdir: MkdirOption = False,
    output_format: FormatOption = Format.table,
    quiet: Annotated[bool, quiet_option()] = False,
) -> None:
    """Segment a photograph: a Gaussian mixture over its pixels, each in its segment's colour."""
    from emstat._parsing import parse_ks, parse_list
    from emstat.cli.progress import spinner
    from emstat.report.api import report as make_report
    from emstat.segment.fit import segment_image
    from emstat.segment.result import check_outputs, labels_path

    target = out or default_out(image)
    check_outputs([target, labels_path(target)], overwrite)
    formats: list[str] = []
    if report is not None:
        check_report(report, pdf=pdf, overwrite=overwrite, mkdir=mkdir)
        suffix = report.suffix.lower().lstrip(".")
        formats = [f for f in dict.fromkeys([suffix, "pdf" if pdf else suffix]) if f != "qmd"]
    ks = parse_ks(k)
    models = parse_list(model, "--model", "model") or ["VVV"]
    with spinner(f"segmenting {image.name}", show=not quiet):
        result = segment_image(
            image,
            k=ks if len(ks) > 1 else ks[0],
            model=models if len(models) > 1 else models[0],
            features=features,
            seed=seed,
        )
    emit_table(result.segments, output_format, result.summary())
    segmented, labels = result.save(target, overwrite=overwrite)
    note(f"segmented image: {segmented}", output_format)
    note(f"label image: {labels}", output_format)
    if report is not None:
        for path in make_report(
            result,
            report,
            formats=formats,
            overwrite=overwrite,
            mkdir=mkdir,
            data_name=image.name,
            seed=seed,
            command=command_line(),
        ):
            note(f"report: {path}", output_format)
