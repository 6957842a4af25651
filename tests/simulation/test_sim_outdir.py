"""--out-dir rules: emstat removes only what it wrote, and refuses folders that are not its own."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from emstat.cli import friendly_errors
from emstat.cli.simulate import simulate as simulate_command
from emstat.errors import InputError
from emstat.simulation import simulate

from .conftest import SEPARATED

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command()(friendly_errors(simulate_command))
runner = CliRunner()
ARGS = ["--mixture", "N(-2,1) + N(2,1)", "--n", "50", "--reps", "2", "-q", "-j", "1"]


def test_overwrite_refuses_a_folder_emstat_did_not_create(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    (proj / "parts").mkdir(parents=True)
    (proj / "parts" / "thesis.tex").write_text("x")
    (proj / "summary.csv").write_text("my,own\n1,2\n")
    result = runner.invoke(app, [*ARGS, "--out-dir", str(proj), "--overwrite"])
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and len(result.output.strip().splitlines()) == 1
    assert "not an emstat simulation output" in result.output
    assert "parts, summary.csv" in result.output and "--overwrite replaces only" in result.output
    assert (proj / "parts" / "thesis.tex").read_text() == "x"
    assert (proj / "summary.csv").read_text() == "my,own\n1,2\n"
    assert sorted(p.name for p in proj.iterdir()) == ["parts", "summary.csv"]


def test_a_run_json_that_is_not_emstat_s_does_not_make_the_folder_emstat_s(
    tmp_path: Path,
) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "run.json").write_text(json.dumps({"status": "complete", "mine": True}))
    (proj / "replicates.parquet").write_text("not parquet")
    result = runner.invoke(app, [*ARGS, "--out-dir", str(proj), "--overwrite"])
    assert result.exit_code == 2 and "cannot be read as an emstat manifest" in result.output
    assert json.loads((proj / "run.json").read_text())["mine"] is True
    assert (proj / "replicates.parquet").read_text() == "not parquet"


def test_overwrite_of_emstat_s_own_folder_keeps_files_it_did_not_write(tmp_path: Path) -> None:
    out = tmp_path / "o"
    simulate(SEPARATED, n=40, reps=2, seed=1, out_dir=out, select_k=[1, 2])
    assert (out / "selection.parquet").is_file()
    (out / "notes.txt").write_text("mine")
    (out / "parts").mkdir()
    (out / "parts" / "draft.tex").write_text("mine too")
    simulate(SEPARATED, n=40, reps=3, seed=1, out_dir=out, overwrite=True)
    assert (out / "notes.txt").read_text() == "mine"
    assert (out / "parts" / "draft.tex").read_text() == "mine too"
    # The old study's outputs went; the new one (no selection) wrote its own.
    assert not (out / "selection.parquet").exists()
    assert not (out / "selection_summary.csv").exists()
    assert pd.read_parquet(out / "replicates.parquet")["replicate"].nunique() == 3
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["files"] == [
        "run.json", "replicates.parquet", "scenarios.csv", "summary.csv"
    ]  # fmt: skip
    assert not (out / ".emstat.lock").exists()


def test_out_dir_that_is_a_file_is_refused_before_any_work(tmp_path: Path) -> None:
    target = tmp_path / "afile"
    target.write_text("keep")
    result = runner.invoke(app, [*ARGS, "--out-dir", str(target)])
    assert result.exit_code == 2
    assert result.output.strip() == f"error: --out-dir {str(target)!r} is a file, not a directory"
    assert target.read_text() == "keep"
    with pytest.raises(InputError, match="is a file, not a directory"):
        simulate(SEPARATED, n=40, reps=2, out_dir=target / "sub")


def test_rerun_with_other_design_over_unfinished_parts_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from emstat.simulation.storage import StudyDir

    out = tmp_path / "o"
    real = StudyDir.write_part
    written: list[int] = []

    def stop_after_two(self: StudyDir, result) -> None:  # type: ignore[no-untyped-def]
        if len(written) == 2:
            raise KeyboardInterrupt
        written.append(1)
        real(self, result)

    monkeypatch.setattr(StudyDir, "write_part", stop_after_two)
    with pytest.raises(KeyboardInterrupt):
        simulate(SEPARATED, n=40, reps=8, seed=1, out_dir=out, batch_size=2)
    monkeypatch.undo()
    parts = sorted(p.name for p in (out / "parts").glob("s*.parquet"))
    assert len(parts) == 2
    with pytest.raises(InputError, match="different design; pass --overwrite"):
        simulate(SEPARATED, n=40, reps=8, seed=2, out_dir=out, batch_size=2)
    assert sorted(p.name for p in (out / "parts").glob("s*.parquet")) == parts
    assert not (out / ".emstat.lock").exists()
    simulate(SEPARATED, n=40, reps=8, seed=2, out_dir=out, overwrite=True)
    assert json.loads((out / "run.json").read_text())["seed"] == 2


def test_only_emstat_s_temporary_files_are_tidied(tmp_path: Path) -> None:
    out = tmp_path / "o"
    out.mkdir()
    # What a run killed while writing its first manifest leaves: emstat's, so not refused.
    (out / ".run.json.999.tmp").write_text("{")
    simulate(SEPARATED, n=40, reps=2, seed=1, out_dir=out)
    assert not (out / ".run.json.999.tmp").exists()
    (out / ".notes.tmp").write_text("mine")
    (out / "parts").mkdir()
    (out / "parts" / ".draft.tmp").write_text("mine")
    (out / "parts" / ".s00000_r0000000-0000001.parquet.12.tmp").write_text("half")
    simulate(SEPARATED, n=40, reps=3, seed=1, out_dir=out, overwrite=True)
    assert (out / ".notes.tmp").read_text() == "mine"
    assert sorted(p.name for p in (out / "parts").iterdir()) == [".draft.tmp"]
