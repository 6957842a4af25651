"""Reading the tables the command line is given, with one clear error for each problem."""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from emstat.errors import InputError

__all__ = ["read_table", "read_table_with_notes", "split_row_index"]

# pandas' name for a column whose header cell is empty (R's write.csv and
# pandas' to_csv write the row names under an empty header).
_UNNAMED = re.compile(r"Unnamed: \d+")


def _note_to_stderr(note: str) -> None:
    print(f"note: {note}", file=sys.stderr)


def read_table(path: Path, note: Callable[[str], None] = _note_to_stderr) -> pd.DataFrame:
    """Read a CSV or Parquet file; a missing, empty or malformed file is an InputError.

    A leading unnamed column of row names (as written by R's ``write.csv`` or
    pandas' ``to_csv``) becomes the index, and ``note`` is told so; by default
    a line on stderr.
    """
    frame, notes = read_table_with_notes(path)
    for text in notes:
        note(text)
    return frame


def read_table_with_notes(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """:func:`read_table` that returns its notes instead of printing them."""
    if not path.is_file():
        raise InputError(f"no file {str(path)!r}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path), []
        frame = pd.read_csv(path)
        header = pd.read_csv(path, header=None, nrows=1, dtype=str, keep_default_na=False)
    except pd.errors.EmptyDataError:
        raise InputError(f"{str(path)!r} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        reason = " ".join(str(exc).split())  # pandas' messages may span lines
        raise InputError(f"cannot read {str(path)!r}: {reason}") from None
    _check_named_once(list(header.iloc[0]), path)
    frame, dropped = split_row_index(frame, str(path))
    return frame, ["column 1 is a row index and was left out"] if dropped else []


def _check_named_once(names: list[str], path: Path) -> None:
    # pandas renames a repeated header "x" to "x.1"; the file's own header tells.
    twice = list(dict.fromkeys(n for i, n in enumerate(names) if n and n in names[:i]))
    if twice:
        shown = ", ".join(repr(n) for n in twice)
        raise InputError(f"column {shown} is named twice in the header of {str(path)!r}")


def is_row_index(column: pd.Series) -> bool:
    """Row names: unique whole numbers (0..n-1, 1..n or any others) or unique strings."""
    if column.isna().any() or not column.is_unique:
        return False
    return pd.api.types.is_integer_dtype(column) or pd.api.types.is_string_dtype(column)


def split_row_index(frame: pd.DataFrame, where: str) -> tuple[pd.DataFrame, bool]:
    """Take a leading unnamed column of row names as the index; refuse other unnamed columns.

    Returns the frame and whether a row index was found.
    """
    unnamed = [j for j, name in enumerate(frame.columns) if _UNNAMED.fullmatch(str(name))]
    dropped = False
    if unnamed and unnamed[0] == 0 and is_row_index(frame.iloc[:, 0]):
        frame = frame.set_index(frame.columns[0])
        frame.index.name = None
        unnamed = [j - 1 for j in unnamed[1:]]
        dropped = True
    if unnamed:
        number = unnamed[0] + 1 + dropped
        raise InputError(
            f"column {number} of {where!r} has no name in the header and is not a row index "
            "(unique whole numbers or names); name it, or drop it"
        )
    return frame, dropped
