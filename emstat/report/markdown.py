"""Quarto markdown pieces: number formats, pipe tables, callouts, figures.

Everything here is a pure function from values to text.  The markup keeps to
what both Quarto and plain pandoc understand: ATX headings, pipe tables with a
``: caption`` line, ``![caption](path){width=..}`` figures and fenced divs
(Quarto draws ``.callout-*`` divs as callouts; the pandoc fallback styles them
with a Lua filter, see :mod:`emstat.report.render`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

__all__ = [
    "NA",
    "FigureBlock",
    "bold",
    "callout",
    "code_block",
    "fmt_fixed",
    "fmt_int",
    "fmt_sig",
    "heading",
    "md_escape",
    "paragraph",
    "pipe_table",
]

#: How a missing value is shown in every table.
NA = "NA"

_MD_SPECIAL = "\\`*_[]<>|#$@~^"


def _missing(value: Any) -> bool:
    try:
        return value is None or bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def fmt_fixed(value: Any, decimals: int = 2) -> str:
    """``value`` with a fixed number of decimals; :data:`NA` when missing.

    Examples
    --------
    >>> fmt_fixed(-2314.3859), fmt_fixed(float("nan"))
    ('-2314.39', 'NA')
    """
    if _missing(value):
        return NA
    return f"{float(value):.{decimals}f}"


def fmt_sig(value: Any, digits: int = 4) -> str:
    """``value`` to ``digits`` significant digits, in fixed notation where sensible.

    Examples
    --------
    >>> fmt_sig(3.48787), fmt_sig(79.9681), fmt_sig(20671.3), fmt_sig(0.000123456)
    ('3.488', '79.97', '20671', '1.235e-04')
    """
    if _missing(value):
        return NA
    x = float(value)
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    magnitude = math.floor(math.log10(abs(x)))
    if -3 <= magnitude < 9:
        return f"{x:.{max(digits - 1 - magnitude, 0)}f}"
    return f"{x:.{digits - 1}e}"


def fmt_int(value: Any) -> str:
    """A whole number without decimals; :data:`NA` when missing."""
    return NA if _missing(value) else str(round(float(value)))


def md_escape(text: Any) -> str:
    """Backslash-escape characters that markdown would read as markup."""
    return "".join("\\" + c if c in _MD_SPECIAL else c for c in str(text))


def bold(text: str) -> str:
    """Strong emphasis around already-escaped ``text``."""
    return f"**{text}**"


def heading(text: str, level: int = 2) -> str:
    """An ATX heading."""
    return f"{'#' * level} {text}"


def paragraph(*sentences: str) -> str:
    """Sentences joined into one paragraph."""
    return " ".join(s.strip() for s in sentences if s.strip())


def code_block(text: str, language: str = "") -> str:
    """A fenced code block (shown, never run)."""
    return f"```{language}\n{text.rstrip()}\n```"


def python_call(name: str, function: str, arguments: Sequence[str], data_name: str) -> str:
    """The Python that reproduces a fit: ``name = emstat.function(df, ...)``, a line per argument.

    Each of ``arguments`` is one ``key=value,`` line.
    """
    body = "".join(f"    {line}\n" for line in arguments)
    return (
        "import emstat, pandas as pd\n"
        f"df = pd.read_csv(...)  # {data_name}\n"
        f"{name} = emstat.{function}(\n    df,\n{body})"
    )


def callout(text: str, title: str | None = None, kind: str = "note") -> str:
    """A Quarto callout (``note``, ``tip``, ``warning``, ``important``, ``caution``)."""
    attrs = f".callout-{kind}" + (f' title="{title}"' if title else "")
    return f"::: {{{attrs}}}\n{text.strip()}\n:::"


def pipe_table(
    frame: pd.DataFrame,
    caption: str | None = None,
    align: Sequence[str] | None = None,
    full_width: bool = False,
) -> str:
    """A pipe table of already formatted (string) cells.

    Parameters
    ----------
    frame
        Cells as text (markdown allowed); the header is the column labels,
        escaped here.  The index is not written: reset it first.
    caption
        The table's caption (a ``: caption`` line after the table).
    align
        One of ``"l"``, ``"r"``, ``"c"`` per column; default right for
        columns whose cells look numeric, left otherwise.
    full_width
        Make the separator line longer than pandoc's 72 columns, so the
        table spans the text width with columns in proportion to the
        dashes and cells wrap instead of overflowing the page.
    """
    header = [md_escape(c) for c in frame.columns]
    rows = [
        [str(v).replace("|", "\\|").replace("\n", " ") for v in row] for row in frame.to_numpy()
    ]
    if align is None:
        align = [_guess_align(frame[c]) for c in frame.columns]
    widths = [max([len(header[j]), *(len(r[j]) for r in rows), 3]) for j in range(len(header))]
    if full_width:
        while sum(w + 3 for w in widths) + 1 <= 80:
            widths = [w + 1 for w in widths]

    def rule(width: int, how: str) -> str:
        if how == "r":
            return "-" * (width - 1) + ":"
        if how == "c":
            return ":" + "-" * (width - 2) + ":"
        return ":" + "-" * (width - 1)

    lines = [
        "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |",
        "|" + "|".join(rule(w + 2, a) for w, a in zip(widths, align, strict=True)) + "|",
        *(
            "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
            for r in rows
        ),
    ]
    if caption:
        lines += ["", f": {caption}"]
    return "\n".join(lines)


def _guess_align(column: pd.Series) -> str:
    def numeric(text: str) -> bool:
        text = text.strip("*").replace(",", "")
        if text == NA:
            return True
        try:
            float(text.split(" ")[0])
        except ValueError:
            return False
        return True

    cells = [str(v) for v in column]
    return "r" if cells and all(numeric(c) for c in cells) else "l"


@dataclass(frozen=True, eq=False)
class FigureBlock:
    """A figure in a document: saved as ``<stem>_figures/<name>.png`` when written.

    Attributes
    ----------
    name
        File name without suffix (letters, digits, ``-``).
    figure
        A matplotlib ``Figure``.
    caption
        The caption under the figure.
    width
        Width on the page, as a percentage of the text width.
    """

    name: str
    figure: Any
    caption: str
    width: int = 100

    def markdown(self, path: str) -> str:
        """The figure's markup, pointing at ``path``."""
        return f"![{self.caption}]({path}){{width={self.width}%}}"
