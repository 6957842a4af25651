"""Assemble a report into a Quarto document and write it beside its figures."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from emstat.report.files import figure_dir, recorded_figures, remember, write_text_atomic
from emstat.report.markdown import FigureBlock

__all__ = [
    "HTML_HEADER",
    "TYPST_HEADER",
    "Document",
    "Section",
    "figure_dir",
    "to_qmd",
    "write_document",
    "yaml_header",
]

Block = str | FigureBlock

#: Styles that only the pandoc fallback needs (Quarto styles callouts itself).
HTML_HEADER = """<style>
body { max-width: 60em; }
table { border-collapse: collapse; margin: 0.5em auto 1em auto; font-size: 0.9em; }
th, td { padding: 0.15em 0.6em; border-bottom: 1px solid #ddd; }
thead th { border-bottom: 2px solid #555; }
caption { caption-side: top; font-style: italic; padding-bottom: 0.3em; }
figure { margin: 1em 0; text-align: center; }
figcaption { font-style: italic; font-size: 0.9em; }
img { max-width: 100%; height: auto; }
div[class^="callout"] { border-left: 4px solid #4a78b5; background: #f3f6fa;
  padding: 0.4em 1em; margin: 1em 0; }
div.callout-warning { border-left-color: #d08a00; background: #fdf6e8; }
.callout-title { font-weight: bold; margin: 0.2em 0; }
pre { background: #f6f6f6; padding: 0.5em; overflow-x: auto; font-size: 0.85em; }
</style>
"""

#: Typst settings: smaller tables that fit the page, numbered pages.
TYPST_HEADER = """#set page(numbering: "1")
#show table: set text(size: 8pt)
#show raw.where(block: true): set text(size: 7.5pt)
#show raw.where(block: true): set block(breakable: false)
#show figure.where(kind: table): set block(breakable: true)
"""


@dataclass(frozen=True)
class Section:
    """A titled part of a report: markdown strings and figures, in order."""

    title: str
    blocks: Sequence[Block]
    new_page: bool = False


@dataclass(frozen=True)
class Document:
    """A whole report before it is written.

    Attributes
    ----------
    title, subtitle
        Shown at the top of the report.
    sections
        The body.
    metadata
        Extra facts kept in the YAML header under ``emstat:`` (seed, command).
    """

    title: str
    sections: Sequence[Section]
    subtitle: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def figures(self) -> list[FigureBlock]:
        """Every figure, in order of appearance."""
        return [b for s in self.sections for b in s.blocks if isinstance(b, FigureBlock)]


def yaml_header(doc: Document, stem: str) -> str:
    """A Quarto YAML header: self-contained HTML and Typst PDF, nothing executed."""
    lines = [
        "---",
        f"title: {json.dumps(doc.title)}",
        *([f"subtitle: {json.dumps(doc.subtitle)}"] if doc.subtitle else []),
        f"date: {json.dumps(date.today().isoformat())}",
        "format:",
        "  html:",
        "    embed-resources: true",
        "    toc: true",
        "    html-math-method: mathml",
        f"    include-in-header: {stem}_figures/header.html",
        "  typst:",
        "    papersize: a4",
        "    margin:",
        "      x: 2cm",
        "      y: 2cm",
        "    toc: false",
        f"    include-in-header: {stem}_figures/header.typ",
        "execute:",
        "  enabled: false",
    ]
    if doc.metadata:
        lines.append("emstat:")
        lines += [f"  {key}: {json.dumps(value)}" for key, value in doc.metadata.items()]
    return "\n".join([*lines, "---"])


def to_qmd(doc: Document, stem: str) -> str:
    """The document as Quarto markdown, figures pointing into :func:`figure_dir`."""
    parts = [yaml_header(doc, stem)]
    folder = figure_dir(stem)
    for section in doc.sections:
        if section.new_page:
            parts.append("```{=typst}\n#pagebreak(weak: true)\n```")
        parts.append(f"## {section.title}")
        for block in section.blocks:
            if isinstance(block, FigureBlock):
                parts.append(block.markdown(f"{folder}/{block.name}.png"))
            else:
                parts.append(block)
    return "\n\n".join(parts) + "\n"


def write_document(doc: Document, qmd: Path, dpi: int = 150) -> Path:
    """Write ``qmd``, its figures (PNG) and the header files beside it.

    The folder of ``qmd`` must exist; :func:`emstat.report.write_report`
    checks first that nothing the user edited is in the way.  Figures emstat
    wrote before and no longer needs are removed; other files in the figures
    folder are left alone.  The ``.qmd`` is written under a temporary name
    and renamed at the end, and recorded (see :mod:`emstat.report.files`).

    Returns the path of the ``.qmd``.
    """
    qmd = Path(qmd)
    stem = qmd.stem
    folder = qmd.parent / figure_dir(stem)
    folder.mkdir(exist_ok=True)
    names = [f"{fig.name}.png" for fig in doc.figures]
    for old in set(recorded_figures(qmd)) - set(names):
        (folder / Path(old).name).unlink(missing_ok=True)
    for fig, name in zip(doc.figures, names, strict=True):
        fig.figure.savefig(folder / name, dpi=dpi, bbox_inches="tight")
    write_text_atomic(folder / "header.html", HTML_HEADER)
    write_text_atomic(folder / "header.typ", TYPST_HEADER)
    write_text_atomic(qmd, to_qmd(doc, stem))
    remember(qmd, [qmd], figures=names)
    return qmd
