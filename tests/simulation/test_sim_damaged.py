"""Damaged files in --out-dir: set aside, only their replicates recomputed, same results."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from emstat.simulation import executors, simulate
from emstat.simulation.errors import StudyWarning
from emstat.simulation.storage import StudyDir, atomic_write, write_parquet

from .conftest import SEPARATED, read_replicates

ARGS = dict(n=40, reps=12, seed=4, batch_size=2, select_k=[1, 2], workers=1)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "whole"
    simulate(SEPARATED, out_dir=out, **ARGS)  # type: ignore[arg-type]
    return out


def _interrupt_after(monkeypatch: pytest.MonkeyPatch, parts: int) -> None:
    """Make the run stop (as a kill would) after ``parts`` batches are saved."""
    real = StudyDir.write_part
    written: list[int] = []

    def write_then_stop(self: StudyDir, result) -> None:  # type: ignore[no-untyped-def]
        if len(written) == parts:
            raise KeyboardInterrupt
        written.append(1)
        real(self, result)

    monkeypatch.setattr(StudyDir, "write_part", write_then_stop)


def _count_replicates(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Count the replicates the next run computes."""
    real = executors.run_batch
    seen: list[int] = []

    def counting(task):  # type: ignore[no-untyped-def]
        seen.extend(task.replicates)
        return real(task)

    monkeypatch.setattr(executors, "run_batch", counting)
    return seen


def _same_as(out: Path, reference: Path) -> None:
    pd.testing.assert_frame_equal(read_replicates(out), read_replicates(reference))
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "selection.parquet"), pd.read_parquet(reference / "selection.parquet")
    )


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _empty(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize("damage", [_truncate, _empty], ids=["truncated", "zero-byte"])
def test_damaged_part_is_set_aside_and_only_its_replicates_recomputed(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    reference: Path,
    damage: Callable[[Path], None],
) -> None:
    out = tmp_path / "o"
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        simulate(SEPARATED, out_dir=out, **ARGS)  # type: ignore[arg-type]
    monkeypatch.undo()
    parts = sorted((out / "parts").glob("s*.parquet"))
    assert len(parts) == 3
    damage(parts[1])
    seen = _count_replicates(monkeypatch)
    with pytest.warns(StudyWarning, match=f"parts/{parts[1].name} .* cannot be read") as caught:
        simulate(SEPARATED, out_dir=out, **ARGS)  # type: ignore[arg-type]
    assert len(caught) == 1 and "computing its replicates again" in str(caught[0].message)
    assert sorted(seen) == [2, 3, *range(6, 12)], "only the damaged part and the missing work"
    assert not (out / "parts").exists(), "the parts, the damaged one too, go at the end"
    _same_as(out, reference)


def test_damaged_selection_part_recomputes_its_batch_without_duplicates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: Path
) -> None:
    out = tmp_path / "o"
    _interrupt_after(monkeypatch, 3)
    with pytest.raises(KeyboardInterrupt):
        simulate(SEPARATED, out_dir=out, **ARGS)  # type: ignore[arg-type]
    monkeypatch.undo()
    selection_parts = sorted((out / "parts" / "selection").glob("s*.parquet"))
    _empty(selection_parts[0])
    # A batch killed between its selection part and its rows part: an orphan.
    (out / "parts" / selection_parts[2].name).unlink()
    seen = _count_replicates(monkeypatch)
    with pytest.warns(StudyWarning, match="selection/.* cannot be read"):
        # Another batch size than the first run: the orphan's name is not rewritten.
        simulate(SEPARATED, out_dir=out, **{**ARGS, "batch_size": 3})  # type: ignore[arg-type]
    assert sorted(seen) == [0, 1, *range(4, 12)]
    _same_as(out, reference)


def test_damaged_finished_results_are_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: Path
) -> None:
    out = tmp_path / "o"
    simulate(SEPARATED, out_dir=out, **ARGS)  # type: ignore[arg-type]
    _truncate(out / "replicates.parquet")
    with pytest.warns(
        StudyWarning,
        match="replicates.parquet .* cannot be read .* rebuilding it by computing every",
    ):
        simulate(SEPARATED, out_dir=out, **ARGS)  # type: ignore[arg-type]
    _same_as(out, reference)
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    _empty(out / "selection.parquet")
    with pytest.warns(StudyWarning, match="selection.parquet"):
        simulate(SEPARATED, out_dir=out, **ARGS)  # type: ignore[arg-type]
    _same_as(out, reference)


def test_damaged_results_are_rebuilt_from_parts_left_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, reference: Path
) -> None:
    out = tmp_path / "o"
    # A run killed after it marked the study complete, before it removed the parts.
    monkeypatch.setattr(StudyDir, "remove_parts", lambda self: None)
    simulate(SEPARATED, out_dir=out, **ARGS)  # type: ignore[arg-type]
    monkeypatch.undo()
    _empty(out / "replicates.parquet")
    seen = _count_replicates(monkeypatch)
    with pytest.warns(StudyWarning, match="rebuilding it from the saved parts"):
        simulate(SEPARATED, out_dir=out, **ARGS)  # type: ignore[arg-type]
    assert seen == [], "every replicate is in the parts"
    _same_as(out, reference)
    assert not (out / "parts").exists()


def test_atomic_write_syncs_and_never_leaves_a_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "t.parquet"
    synced: list[int] = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd))[1])
    write_parquet(target, pd.DataFrame({"a": [1, 2]}))
    assert len(synced) >= 2, "the file and its directory are synced"
    before = target.read_bytes()

    def half_then_fail(tmp: Path) -> None:
        tmp.write_bytes(b"PAR1 half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet"]
