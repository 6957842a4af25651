"""The bundled dishonest-casino rolls are what data/make_casino.py writes."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import emstat

ROOT = Path(__file__).resolve().parent.parent


def _generator():
    spec = importlib.util.spec_from_file_location("make_casino", ROOT / "data" / "make_casino.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_casino_csv_is_reproduced_by_its_documented_seed():
    make = _generator()
    assert (ROOT / "data" / "casino.csv").read_text() == make.casino_csv(20260101)
    assert make.casino_csv(1) != make.casino_csv(20260101)


def test_casino_loads_with_the_documented_columns_and_sessions():
    df = emstat.load_dataset("casino")
    assert list(df.columns) == ["session", "roll", "face", "die"]
    assert df.shape == (900, 4)
    assert df.groupby("session").size().tolist() == [300, 300, 300]
    assert set(df["face"]) == {1, 2, 3, 4, 5, 6}
    assert (df.groupby("session")["die"].first() == "fair").all()
    # the loaded die shows a six about half the time (0.5 in the model)
    sixes = (df.loc[df["die"] == "loaded", "face"] == 6).mean()
    assert 0.4 < sixes < 0.6
