"""The section every report ends with: versions, the seed, the command that reproduces it."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version

import pandas as pd

from emstat.report.document import Section
from emstat.report.markdown import code_block, md_escape, paragraph, pipe_table
from emstat.report.render import versions_of_renderers

__all__ = ["package_versions", "reproduce_section"]

_PACKAGES = ("emstat", "numpy", "scipy", "pandas", "matplotlib")


def package_versions() -> dict[str, str]:
    """Python, emstat, its numerical dependencies and the renderers, by name."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            if name == "emstat":
                import emstat

                out[name] = emstat.__version__
    out.update(versions_of_renderers())
    return out


def reproduce_section(seed: int | None, command: str, language: str = "python") -> Section:
    """Versions, seed and command, as the last section of a report."""
    table = pd.DataFrame(
        [(md_escape(k), md_escape(v)) for k, v in package_versions().items()],
        columns=["software", "version"],
    )
    seed_text = (
        f"The seed was **{seed}**; every random choice derives from it."
        if seed is not None
        else "No seed was recorded with these results; the command below states what was run."
    )
    return Section(
        "Reproducibility",
        [
            paragraph(seed_text, "This command reproduces the results:"),
            code_block(command, language),
            pipe_table(table, "Software versions", align=["l", "l"]),
        ],
    )
