"""The example files under examples/ run as their comments say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from emstat.cli import app
from emstat.simulation.design import load_design

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

runner = CliRunner()


def test_the_hmm_study_design_holds_the_truth_its_comments_give():
    design = load_design(EXAMPLES / "hmm_study.toml")
    assert design.reps == 500 and design.seed == 1
    truth = design.mixture
    np.testing.assert_array_equal(truth.transitions, [[0.9, 0.1], [0.2, 0.8]])
    np.testing.assert_array_equal(truth.start, [0.5, 0.5])
    np.testing.assert_array_equal(np.ravel(truth.means), [-1.0, 2.0])
    np.testing.assert_array_equal(np.ravel(truth.covariances), [1.0, 0.5])
    assert truth.sequences == 3
    assert list(design.grid.n) == [100, 400]


def test_the_hmm_study_runs_from_the_command_line(tmp_path):
    out = tmp_path / "sim_hmm"
    result = runner.invoke(
        app,
        ["simulate", "--design", str(EXAMPLES / "hmm_study.toml"), "--reps", "3", "--n", "60",
         "--out-dir", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "summary.csv").set_index(["component", "parameter"])
    assert summary.loc[(2, "mean[x]"), "truth"] == 2.0
    assert summary.loc[(1, "var[x]"), "truth"] == 1.0
    assert summary.loc[(1, "to 2"), "truth"] == 0.1
    assert (summary["n_ok"] == 3).all()
