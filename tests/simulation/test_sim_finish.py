"""The finish of a study: the parts this run wrote are consolidated from memory, not read
back from disk; parts an earlier run left are read; the tables are the same either way."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from emstat.simulation import simulate, storage
from emstat.simulation.design import make_design, mixture_from_formula
from emstat.simulation.replicate import run_batch
from emstat.simulation.runner import plan_batches
from emstat.simulation.storage import StudyDir

from .conftest import EXAMPLE, read_replicates


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The paths storage reads with pandas from now on."""
    read: list[Path] = []
    real = pd.read_parquet

    def recording(path: Path, *args: object, **kwargs: object) -> pd.DataFrame:
        read.append(Path(path))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(storage.pd, "read_parquet", recording)
    return read


def test_a_fresh_study_reads_back_none_of_its_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    read = _reads(monkeypatch)
    simulate(EXAMPLE, n=60, reps=12, k=2, seed=5, out_dir=tmp_path / "out", batch_size=4)
    assert not [p for p in read if p.parent.name == "parts"], read
    assert len(read_replicates(tmp_path / "out")) == 12 * 6


def test_parts_of_an_earlier_run_are_read_and_give_the_same_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    design = make_design(mixture_from_formula(EXAMPLE), n=[60], reps=6, seed=5, k=[2])
    results = [run_batch(task) for task in plan_batches(design, set(), workers=1, batch_size=2)]
    first = StudyDir(tmp_path / "a")
    first.create()
    first.begin()
    for result in results:
        first.write_part(result)
    read = _reads(monkeypatch)
    rows, _ = first.consolidate()
    assert read == []  # what this run wrote comes from memory
    resumed = StudyDir(tmp_path / "a")  # a rerun: the parts on disk are all it has
    again, _ = resumed.consolidate()
    assert len(read) == len(results) and all(p.parent.name == "parts" for p in read)
    pd.testing.assert_frame_equal(rows, again, check_exact=True)
    assert len(rows) == 6 * 6


def test_a_removed_part_does_not_come_back_from_memory(tmp_path: Path) -> None:
    design = make_design(mixture_from_formula(EXAMPLE), n=[60], reps=2, seed=5, k=[2])
    study = StudyDir(tmp_path / "b")
    study.create()
    study.begin()
    first, second = plan_batches(design, set(), workers=1, batch_size=1)
    study.write_part(run_batch(first))
    study.remove_parts()
    study.begin()  # the folders again, as a rerun that starts over makes them
    study.write_part(run_batch(second))
    rows, _ = study.consolidate()
    assert set(rows["replicate"]) == set(second.replicates)  # the removed part is gone
