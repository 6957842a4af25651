"""``emstat show``: the summary of a saved fit, or its estimates as a table."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from emstat.cli.options import Format, FormatOption
from emstat.cli.output import emit_table, say
from emstat.errors import InputError

__all__ = ["show"]


def show(
    fit_json: Annotated[Path, typer.Argument(help="A fit saved with --out.")],
    output_format: FormatOption = Format.table,
) -> None:
    """Print the summary of a saved fit (csv/json: its table of estimates)."""
    from emstat.mixture import load_fit

    if fit_json.is_dir():
        raise InputError(
            f"{str(fit_json)!r} is a folder; give a fit saved with --out (a .json file)"
        )
    result = load_fit(fit_json)
    if output_format is Format.table:
        say(result.summary())
        return
    if not result.ok:
        raise InputError(f"{str(fit_json)!r} holds a degenerate fit: it has no estimates")
    emit_table(result.to_frame(), output_format, "")
