"""Render a ``.qmd`` to self-contained HTML and to PDF.

With a ``quarto`` binary (on ``PATH`` or named by ``QUARTO_PATH``) the
document is rendered by ``quarto render``.  Otherwise the engines Quarto
drives do it directly: pandoc (PyPI ``pypandoc-binary``) writes one HTML file
with every image embedded as a ``data:`` URI and MathML for formulas, and
Typst (PyPI ``typst``) compiles the Typst source pandoc writes into a PDF.
Both are imported lazily through the ``report`` extra.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

from emstat._optional import require
from emstat.errors import EmstatError, InputError
from emstat.report.files import figure_dir, scratch, staged

__all__ = [
    "CALLOUT_FILTER",
    "ENGINES",
    "FORMATS",
    "RenderError",
    "check_engine",
    "find_quarto",
    "render_qmd",
    "render_with_pandoc",
    "render_with_quarto",
    "versions_of_renderers",
]

Format = Literal["html", "pdf"]
Engine = Literal["auto", "quarto", "pandoc"]
FORMATS: tuple[str, ...] = ("html", "pdf")
ENGINES: tuple[str, ...] = ("auto", "quarto", "pandoc")


class RenderError(EmstatError, RuntimeError):
    """Rendering a report failed; the message carries the renderer's own words."""


#: Lua filter: draw Quarto callouts (``::: {.callout-note title=".."}``) with plain pandoc.
CALLOUT_FILTER = r"""
local function callout_kind(el)
  for _, c in ipairs(el.classes) do
    local kind = c:match("^callout%-(%a+)$")
    if kind then return kind end
  end
  return nil
end

function Div(el)
  local kind = callout_kind(el)
  if not kind then return nil end
  local title = el.attributes["title"]
  local blocks = pandoc.List()
  if title then
    local inlines = pandoc.read(title, "markdown").blocks[1].content
    if FORMAT:match("typst") then
      blocks:insert(pandoc.Para({pandoc.Strong(inlines)}))
    else
      blocks:insert(pandoc.Div({pandoc.Para(inlines)}, pandoc.Attr("", {"callout-title"})))
    end
  end
  blocks:extend(el.content)
  if FORMAT:match("typst") then
    local colour = (kind == "warning" or kind == "caution") and "#d08a00" or "#4a78b5"
    local open = '#block(fill: luma(244), stroke: (left: 3pt + rgb("' .. colour
      .. '")), inset: 8pt, radius: 2pt, width: 100%)['
    local out = pandoc.List({pandoc.RawBlock("typst", open)})
    out:extend(blocks)
    out:insert(pandoc.RawBlock("typst", "]"))
    return out
  end
  el.content = blocks
  return el
end
"""


def find_quarto() -> str | None:
    """The ``quarto`` binary: ``QUARTO_PATH`` if it names a file, else ``PATH``; or None."""
    named = os.environ.get("QUARTO_PATH")
    if named and Path(named).is_file():
        return named
    return shutil.which("quarto")


def check_engine(engine: object, name: str = "engine") -> Engine:
    """``engine`` itself when one of :data:`ENGINES`, else an InputError naming the choices."""
    if engine not in ENGINES:
        raise InputError(f"{name} takes {', '.join(ENGINES)}; got {engine!r}")
    return engine  # type: ignore[return-value]


def _check_formats(formats: Sequence[str]) -> list[Format]:
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise InputError(f"cannot render to {unknown}; choose from {', '.join(FORMATS)}")
    return [f for f in FORMATS if f in formats]  # type: ignore[misc]


def render_qmd(
    qmd: str | Path, formats: Sequence[str] = FORMATS, engine: Engine = "auto"
) -> list[Path]:
    """Render ``qmd`` to each of ``formats``; outputs go beside it (``x.qmd`` -> ``x.html``).

    Parameters
    ----------
    qmd
        A Quarto document written by emstat (or edited from one).
    formats
        ``"html"`` and/or ``"pdf"``.
    engine
        ``"quarto"``, ``"pandoc"`` (pandoc + Typst from PyPI) or ``"auto"``:
        Quarto when its binary is found, the fallback otherwise.

    Returns
    -------
    list of Path
        The rendered files, in the order of ``formats``.
    """
    qmd = Path(qmd)
    engine = check_engine(engine)
    if not qmd.is_file():
        raise InputError(f"no file {str(qmd)!r}")
    wanted = _check_formats(formats)
    quarto = find_quarto() if engine in ("auto", "quarto") else None
    if engine == "quarto" and quarto is None:
        raise RenderError("no quarto binary on PATH or in QUARTO_PATH; use engine='pandoc'")
    if quarto is not None:
        return [render_with_quarto(quarto, qmd, fmt) for fmt in wanted]
    return [render_with_pandoc(qmd, fmt) for fmt in wanted]


def render_with_quarto(quarto: str, qmd: Path, fmt: Format) -> Path:
    """``quarto render qmd --to html|typst``; returns the file it wrote."""
    target = {"html": "html", "pdf": "typst"}[fmt]
    proc = subprocess.run(
        [quarto, "render", qmd.name, "--to", target],
        cwd=qmd.parent,
        capture_output=True,
        text=True,
        check=False,
    )
    out = qmd.with_suffix(f".{fmt}")
    if proc.returncode != 0 or not out.is_file():
        raise RenderError(f"quarto render failed for {qmd}: {proc.stderr.strip()[-2000:]}")
    return out


def render_with_pandoc(qmd: Path, fmt: Format) -> Path:
    """Render without Quarto: pandoc for HTML, pandoc -> Typst -> PDF for PDF."""
    pypandoc = require("pypandoc", "report")
    folder = qmd.parent.resolve()
    headers = folder / figure_dir(qmd.stem)
    lua = headers / "callouts.lua"
    headers.mkdir(exist_ok=True)
    lua.write_text(CALLOUT_FILTER)
    common = [f"--resource-path={folder}", f"--lua-filter={lua}"]
    out = qmd.with_suffix(f".{fmt}")
    try:
        # written under a temporary name, renamed onto ``out`` once complete
        with staged(out) as partial:
            _pandoc_to(pypandoc, qmd, fmt, partial, folder, common)
    except (RuntimeError, OSError) as exc:
        raise RenderError(f"rendering {qmd} to {fmt} failed: {exc}") from exc
    return out


def _pandoc_to(
    pypandoc: Any, qmd: Path, fmt: Format, out: Path, folder: Path, common: list[str]
) -> None:
    """pandoc (and for PDF, Typst) from ``qmd`` into the file ``out``."""
    headers = folder / figure_dir(qmd.stem)
    if fmt == "html":
        header = headers / "header.html"
        pypandoc.convert_file(
            str(qmd),
            "html5",
            format="markdown",
            outputfile=str(out),
            extra_args=[
                *common,
                "--standalone",
                "--embed-resources",
                "--mathml",
                "--toc",
                "--toc-depth=2",
                *([f"--include-in-header={header}"] if header.is_file() else []),
            ],
        )
        return
    header = headers / "header.typ"
    # the Typst source sits beside the .qmd (figure paths are relative to it)
    # under a temporary name, so a user's own x.typ is never touched
    with scratch(qmd.with_suffix(".typ")) as typ:
        pypandoc.convert_file(
            str(qmd),
            "typst",
            format="markdown",
            outputfile=str(typ),
            extra_args=[
                *common,
                "--standalone",
                "--variable=papersize:a4",
                "--variable=margin.x:2cm",
                "--variable=margin.y:2cm",
                *([f"--include-in-header={header}"] if header.is_file() else []),
            ],
        )
        _compile_typst(typ, out, folder)


def _compile_typst(typ: Path, pdf: Path, root: Path) -> None:
    """Typst from PyPI when installed, else a ``typst`` binary on PATH."""
    binary = shutil.which("typst")
    try:
        typst = require("typst", "report")
    except ImportError:
        if binary is None:
            raise
        proc = subprocess.run(
            [binary, "compile", "--root", str(root), str(typ), str(pdf)],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            raise RenderError(f"typst failed on {typ}: {proc.stderr.strip()}") from None
        return
    typst.compile(str(typ), output=str(pdf), root=str(root))


def versions_of_renderers() -> dict[str, str]:
    """Versions of whatever renders the report (not found: left out)."""
    out: dict[str, str] = {}
    quarto = find_quarto()
    if quarto is not None:
        proc = subprocess.run([quarto, "--version"], capture_output=True, text=True, check=False)
        out["quarto"] = proc.stdout.strip() or "unknown"
        return out
    try:
        import pypandoc

        out["pandoc"] = str(pypandoc.get_pandoc_version())
    except (ImportError, OSError):
        pass
    try:
        from importlib.metadata import version

        out["typst (PyPI)"] = version("typst")
    except Exception:
        pass
    return out
