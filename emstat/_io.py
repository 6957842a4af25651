"""Reading the tables the command line is given, with one clear error for each problem."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emstat.errors import InputError

__all__ = ["read_table"]


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file; a missing, empty or malformed file is an InputError."""
    if not path.is_file():
        raise InputError(f"no file {str(path)!r}")
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except pd.errors.EmptyDataError:
        raise InputError(f"{str(path)!r} is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise InputError(f"cannot read {str(path)!r}: {exc}") from None
