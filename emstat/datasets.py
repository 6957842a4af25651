"""Example data sets shipped with emstat."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from emstat.errors import InputError

__all__ = ["dataset_path", "list_datasets", "load_dataset"]


def _data_dir() -> Path:
    # In a wheel the CSVs sit in emstat/_data; in a source checkout, in data/.
    packaged = Path(__file__).parent / "_data"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "data"


def list_datasets() -> list[str]:
    """Names of the bundled data sets."""
    return sorted(p.stem for p in _data_dir().glob("*.csv"))


def dataset_path(name: str) -> Path:
    """Path of a bundled data set's CSV file."""
    path = _data_dir() / f"{name}.csv"
    if not path.is_file():
        raise InputError(
            f"no bundled data set {name!r}; choose one of {', '.join(list_datasets())}"
        )
    return path


def load_dataset(name: str) -> pd.DataFrame:
    """Load a bundled data set as a DataFrame.

    Examples
    --------
    >>> load_dataset("faithful").shape
    (272, 2)
    """
    return pd.read_csv(dataset_path(name))
