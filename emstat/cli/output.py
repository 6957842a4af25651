"""What the commands print: text for people, or one table as CSV or JSON for scripts.

With ``--format csv`` or ``json`` the table is the only thing on stdout;
:func:`note` sends every other message to stderr then.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console

from emstat.cli.options import Format

if TYPE_CHECKING:  # pandas is loaded by the command that made the table
    import pandas as pd

__all__ = ["console", "emit_table", "note", "say", "table_records"]

console = Console(emoji=False)


def say(text: str) -> None:
    """Print plain text: no markup, so ``mean[x]`` and ``[1]`` survive."""
    console.print(text, markup=False, highlight=False, soft_wrap=True)


def note(text: str, fmt: Format = Format.table) -> None:
    """A message beside the table: on stdout for people, on stderr under csv/json."""
    if fmt is Format.table:
        say(text)
    else:
        typer.echo(text, err=True)


def _plain(value: Any) -> Any:
    """A JSON value: numpy scalars as Python numbers, NaN and missing as null."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def table_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per row, every value JSON's own (exact floats, null for NaN)."""
    columns = [str(name) for name in frame.columns]
    return [
        dict(zip(columns, (_plain(value) for value in row), strict=True))
        for row in frame.itertuples(index=False, name=None)
    ]


def emit_table(frame: pd.DataFrame, fmt: Format, text: str) -> None:
    """Print ``text`` (the table for people) or ``frame`` as CSV or JSON records.

    CSV and JSON carry every digit (floats round trip); NaN is an empty CSV
    field and JSON's null.
    """
    if fmt is Format.table:
        say(text)
    elif fmt is Format.csv:
        typer.echo(frame.to_csv(index=False), nl=False)
    else:
        typer.echo(json.dumps(table_records(frame), indent=1, allow_nan=False))
