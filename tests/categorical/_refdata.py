"""Shared helpers for the categorical tests: reference files beside the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

REFERENCE = Path(__file__).resolve().parent.parent / "reference"


def read_reference_csv(name: str) -> pd.DataFrame:
    """A reference CSV from tests/reference/."""
    return pd.read_csv(REFERENCE / name)


def read_reference_json(name: str) -> dict[str, Any]:
    """A reference JSON from tests/reference/."""
    with open(REFERENCE / name, encoding="utf-8") as fh:
        return json.load(fh)
