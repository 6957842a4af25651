"""Settings and options are checked before the first replicate.

A study in which most replicates fail says so.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from emstat.cli import app as emstat_app
from emstat.cli import friendly_errors
from emstat.cli.simulate import simulate as simulate_command
from emstat.errors import InputError
from emstat.simulation import replicate as replicate_module
from emstat.simulation import simulate
from emstat.simulation.errors import StudyFailedError

from .conftest import SEPARATED

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command()(friendly_errors(simulate_command))
runner = CliRunner()
MIXTURE = ["--mixture", SEPARATED, "--n", "40", "--reps", "2", "-q"]


def _design(tmp_path: Path, grid: str = "", fit: str = "") -> Path:
    path = tmp_path / "d.toml"
    path.write_text(
        f'reps = 4\n[mixture]\nformula = "{SEPARATED}"\n[grid]\nn = [50]\n{grid}\n{fit}\n'
    )
    return path


@pytest.mark.parametrize(
    ("grid", "fit", "words"),
    [
        ("", '[fit]\ninit = "kmeans"', "fit: unknown init 'kmeans'; choose one of hc, quantile"),
        ("", '[fit]\ncriterion = "relative"', "fit: unknown convergence criterion 'relative'"),
        ("", "[fit]\nmax_iter = 0", "fit: max_iter must be a whole number >= 1"),
        ('separation = ["x"]', "", "separation: separations must be finite numbers >= 0, got 'x'"),
        ("separation = [true]", "", "separation: separations must be finite numbers"),
        ('select = ["no"]', "", "select must be true or false, got 'no'"),
        ("model = [3]", "", "model must be names of covariance models, got 3"),
        ('n = ["100"]', "", "n must be a whole number >= 1, got '100'"),
        ("k = [2.5]", "", "k must be a whole number >= 1, got 2.5"),
    ],
)
def test_bad_design_file_is_one_line_before_any_work(
    tmp_path: Path, grid: str, fit: str, words: str
) -> None:
    if grid.startswith("n ="):
        text = _design(tmp_path).read_text().replace("n = [50]", grid)
        path = tmp_path / "d.toml"
        path.write_text(text)
    else:
        path = _design(tmp_path, grid, fit)
    out = tmp_path / "o"
    result = runner.invoke(app, ["--design", str(path), "--out-dir", str(out), "-q"])
    assert result.exit_code == 2, result.output
    assert words in result.output
    assert result.output.startswith("error:") and len(result.output.strip().splitlines()) == 1
    assert not out.exists(), "nothing is written before the settings are checked"


def test_fit_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "d.toml"
    path.write_text(f'reps = 4\nfit = 3\n[mixture]\nformula = "{SEPARATED}"\n[grid]\nn = [50]\n')
    result = runner.invoke(app, ["--design", str(path), "--out-dir", str(tmp_path / "o")])
    assert result.exit_code == 2 and "fit must be a table of init, tol" in result.output


def test_library_refuses_a_bad_init_before_any_work(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown init 'kmeans'"):
        simulate(SEPARATED, n=40, reps=2, fit={"init": "kmeans"}, out_dir=tmp_path / "o")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--workers", "0"], "--workers must be a whole number >= 1, got 0"),
        (["--workers", "-2"], "--workers must be a whole number >= 1, got -2"),
        (["--batch-size", "0"], "--batch-size must be a whole number >= 1, got 0"),
        (["--max-failed", "1.5"], "--max-failed must be a share between 0 and 1, got 1.5"),
        (["--scheduler", "notanaddress"], "--scheduler 'notanaddress' is not a Dask scheduler"),
        (["--scheduler", "tcp://host:port"], "is not a Dask scheduler address"),
    ],
)
def test_bad_run_option_is_one_line_before_any_work(
    tmp_path: Path, args: list[str], words: str
) -> None:
    out = tmp_path / "o"
    started = time.monotonic()
    result = runner.invoke(app, [*MIXTURE, *args, "--out-dir", str(out)])
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert not out.exists()
    assert time.monotonic() - started < 5, "refused at once, not after a connection timeout"


def _fail_replicates(monkeypatch: pytest.MonkeyPatch, failing: set[int]) -> None:
    real = replicate_module.fit_mixture
    calls = {"n": 0}

    def flaky(data, k, model, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] - 1 in failing:
            raise RuntimeError("no start")
        return real(data, k, model, **kwargs)

    monkeypatch.setattr(replicate_module, "fit_mixture", flaky)


def test_study_where_most_replicates_fail_is_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fail_replicates(monkeypatch, {0, 1, 2, 4})
    out = tmp_path / "o"
    result = runner.invoke(
        app, ["--mixture", SEPARATED, "--n", "40", "--reps", "6", "-q", "-j", "1",
              "--batch-size", "6", "--out-dir", str(out)],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert "4 of 6 replicates failed (67%)" in result.output
    assert "RuntimeError: no start (4x)" in result.output
    # The finished replicates stay on disk, with the summary.
    rows = pd.read_parquet(out / "replicates.parquet")
    assert rows["replicate"].nunique() == 6
    assert (rows.loc[rows["replicate"].isin([3, 5]), "error"] == "").all()
    assert (out / "summary.csv").is_file()
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["status"] == "complete" and manifest["failed_replicates"] == 4
    # Rerunning the finished study says it again; --max-failed 1 accepts it.
    with pytest.raises(StudyFailedError, match="4 of 6 replicates failed"):
        simulate(SEPARATED, n=40, reps=6, seed=0, out_dir=out)
    summary = simulate(SEPARATED, n=40, reps=6, seed=0, out_dir=out, max_failed=1)
    assert (summary["n_ok"] == 2).all()


def test_half_failing_is_still_accepted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fail_replicates(monkeypatch, {0, 1, 2})
    summary = simulate(SEPARATED, n=40, reps=6, seed=0, out_dir=tmp_path / "o", workers=1)
    assert (summary["n_ok"] == 3).all()


@pytest.mark.parametrize(
    ("the_app", "prefix"), [(app, []), (emstat_app, ["simulate"])], ids=["alone", "emstat"]
)
def test_help_shows_the_design_file_tables(the_app: typer.Typer, prefix: list[str]) -> None:
    result = runner.invoke(the_app, [*prefix, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for table in ("[mixture]", "[grid]", "[fit]"):
        assert table in result.output, table
    assert "\\[" not in result.output
