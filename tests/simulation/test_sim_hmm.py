"""Simulation studies of hidden Markov models: designs, aligned states, accuracy, resuming."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from emstat.cli import app
from emstat.errors import InputError
from emstat.simulation import hmm_truth_from_mapping, load_design, simulate
from emstat.simulation.hmm_truth import HMMTruth, draw_states

from .conftest import read_replicates

GAUSSIAN = """
reps = {reps}
seed = 11

[hmm]
start = [0.5, 0.5]
transitions = [[0.9, 0.1], [0.2, 0.8]]
means = [-1.0, 2.0]
covariances = [1.0, 0.5]
sequences = {sequences}

[grid]
n = [{n}]
"""

SPEC = {
    "start": [0.5, 0.5],
    "transitions": [[0.9, 0.1], [0.2, 0.8]],
    "means": [-1.0, 2.0],
    "covariances": [1.0, 0.5],
}


def _design(tmp_path: Path, reps: int, n: int = 150, sequences: int = 2) -> Path:
    path = tmp_path / "hmm_study.toml"
    path.write_text(GAUSSIAN.format(reps=reps, n=n, sequences=sequences))
    return path


# ------------------------------------------------------------------ the truth


def test_draw_follows_the_chain_and_the_emissions() -> None:
    truth = hmm_truth_from_mapping({**SPEC, "sequences": 4})
    frame, states = truth.draw(20000, np.random.default_rng(0))
    assert list(frame.columns) == ["sequence", "step", "x"]
    assert frame.groupby("sequence").size().tolist() == [20000] * 4
    seq = frame["sequence"].to_numpy()
    same = seq[1:] == seq[:-1]
    moves = pd.crosstab(states[:-1][same], states[1:][same], normalize="index").to_numpy()
    np.testing.assert_allclose(moves, [[0.9, 0.1], [0.2, 0.8]], atol=0.012)
    x = frame["x"].to_numpy()
    assert abs(x[states == 0].mean() + 1.0) < 0.04 and abs(x[states == 1].var() - 0.5) < 0.04


def test_structural_zeros_never_move() -> None:
    start = np.array([1.0, 0.0, 0.0])
    trans = np.array([[0.7, 0.3, 0.0], [0.0, 0.6, 0.4], [0.0, 0.0, 1.0]])
    states = draw_states(start, trans, 50, 40, np.random.default_rng(1))
    assert (states[:, 0] == 0).all()
    assert (np.diff(states, axis=1) >= 0).all()  # left to right only
    assert (np.diff(states, axis=1) <= 1).all()  # never 0 -> 2


def test_family_emissions_from_a_design_table() -> None:
    truth = hmm_truth_from_mapping(
        {
            "start": [1.0, 0.0],
            "transitions": [[0.95, 0.05], [0.1, 0.9]],
            "emissions": [
                {"family": "poisson", "column": "count", "parameters": [2.0, 9.0]},
                {
                    "family": "categorical",
                    "column": "face",
                    "levels": [1, 2, 3],
                    "parameters": [[0.2, 0.3, 0.5], [0.6, 0.2, 0.2]],
                },
            ],
        }
    )
    names, truths = truth.truth_table()
    assert names == ["start", "to 1", "to 2", "rate[count]", "prob[face=1]", "prob[face=2]",
                     "prob[face=3]"]  # fmt: skip
    np.testing.assert_allclose(truths[1], [0.0, 0.1, 0.9, 9.0, 0.6, 0.2, 0.2])
    frame, states = truth.draw(4000, np.random.default_rng(2))
    assert abs(frame.loc[states == 1, "count"].mean() - 9.0) < 0.3
    assert truth.fit_arguments("mixed")["family"] == {"count": "poisson", "face": "categorical"}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"transitions": [[0.9, 0.2], [0.2, 0.8]]}, "row 1 of transitions sums to 1.1"),
        ({"start": [0.7, 0.7]}, "start sums to 1.4"),
        ({"transitions": [[0.9, 0.1]]}, "transitions must have shape (2, 2)"),
        ({"sequences": 0}, "sequences must be a whole number >= 1"),
        ({"colour": 1}, "unknown keys ['colour']"),
        ({"means": [0.0, 1.0, 2.0]}, "means must be 2 rows"),
    ],
)
def test_bad_hmm_tables_are_one_clear_error(change: dict, words: str) -> None:
    with pytest.raises(InputError) as info:
        hmm_truth_from_mapping({**SPEC, **change})
    assert words in str(info.value)


def test_design_file_takes_an_hmm_table_and_the_hmm_stopping_rule(tmp_path: Path) -> None:
    design = load_design(_design(tmp_path, reps=3))
    assert isinstance(design.mixture, HMMTruth)
    assert design.grid.model == ("V",)
    assert (design.fit.criterion, design.fit.tol) == ("aitken", 1e-10)
    both = tmp_path / "both.toml"
    both.write_text(_design(tmp_path, 3).read_text() + '\n[mixture]\nformula = "1*N(0,1)"\n')
    with pytest.raises(InputError, match=r"needs a \[mixture\] table or an \[hmm\] table"):
        load_design(both)
    with pytest.raises(InputError, match="do not select k yet"):
        load_design(_design(tmp_path, 3), select_k=[1, 2])


# ------------------------------------------------------------------ alignment


def _fake_fit(start: list[float], trans: list[list[float]], means: list[float]) -> SimpleNamespace:
    """A fit's tidy params, laid out as fit_hmm lays them out (states 1..k)."""
    rows = []
    k = len(start)
    for s in range(k):
        rows.append((s + 1, "start", start[s]))
        rows += [(s + 1, f"to[{j + 1}]", trans[s][j]) for j in range(k)]
        rows += [(s + 1, "mean[x]", means[s]), (s + 1, "var[x]", 1.0 + s)]
    params = pd.DataFrame(rows, columns=["state", "parameter", "estimate"])
    params["std_err"] = 0.01
    params["ci_low"] = params["estimate"] - 0.02
    params["ci_high"] = params["estimate"] + 0.02
    return SimpleNamespace(k=k, params=params)


def test_switched_labels_are_aligned_with_their_transitions() -> None:
    truth = hmm_truth_from_mapping(
        {
            "start": [0.6, 0.3, 0.1],
            "transitions": [[0.8, 0.15, 0.05], [0.1, 0.7, 0.2], [0.3, 0.3, 0.4]],
            "means": [-5.0, 0.0, 5.0],
            "covariances": [1.0, 1.0, 1.0],
        }
    )
    names, truths = truth.truth_table()
    # fitted state 1 is true state 3, fitted 2 is true 1, fitted 3 is true 2
    perm = [2, 0, 1]
    fitted_trans = [[truths[perm[a], 1 + perm[b]] for b in range(3)] for a in range(3)]
    fit = _fake_fit([truths[p, 0] for p in perm], fitted_trans, [5.1, -4.9, 0.2])
    rows = pd.DataFrame(truth.aligned_rows(fit, names, truths))
    chain = rows[rows["parameter"].str.startswith("to") | (rows["parameter"] == "start")]
    np.testing.assert_allclose(chain["estimate"], chain["truth"], atol=1e-12)
    means = rows[rows["parameter"] == "mean[x]"]
    assert means["component"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(means["estimate"], [-4.9, 0.2, 5.1])
    # the intervals travel with their estimates
    np.testing.assert_allclose(rows["ci_high"] - rows["estimate"], 0.02, atol=1e-12)


def test_a_state_beyond_the_truth_has_no_truth() -> None:
    truth = hmm_truth_from_mapping(SPEC)
    names, truths = truth.truth_table()
    fit = _fake_fit(
        [0.5, 0.2, 0.3], [[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]], [2.0, 9.0, -1.0]
    )
    rows = pd.DataFrame(truth.aligned_rows(fit, names, truths))
    assert sorted(set(rows["component"])) == [1, 2, 3]
    extra = rows[rows["component"] == 3]
    assert extra["truth"].isna().all()
    to_extra = rows[(rows["component"] < 3) & (rows["parameter"] == "to 3")]
    assert to_extra["truth"].isna().all()
    kept = rows[(rows["component"] == 1) & (rows["parameter"] == "to 2")]
    # component 1 is fitted state 3 (mean -1); its move to fitted state 1 (mean 2) is 0.1
    assert kept["truth"].tolist() == [0.1] and kept["estimate"].tolist() == [0.1]


# ------------------------------------------------------------------ studies


def test_two_state_gaussian_study_is_unbiased_and_covers(tmp_path: Path) -> None:
    reps = 60
    summary = simulate(design=_design(tmp_path, reps, n=200, sequences=3), out_dir=tmp_path / "s")
    summary = summary.set_index(["component", "parameter"])
    assert summary["converged"].min() == 1.0
    for state, parameter in [(1, "to 1"), (1, "mean[x]"), (2, "to 2"), (2, "mean[x]"),
                             (1, "var[x]"), (2, "var[x]")]:  # fmt: skip
        row = summary.loc[(state, parameter)]
        assert abs(row["bias"]) < 3 * row["sd"] / np.sqrt(reps) + 0.01, (state, parameter)
        assert 0.8 <= row["coverage"] <= 1.0, (state, parameter, row["coverage"])
    assert summary["aligned_by"].iloc[0] == "hungarian-emissions"
    manifest = json.loads((tmp_path / "s" / "run.json").read_text())
    assert manifest["design"]["mixture"]["kind"] == "hmm"


def test_simulate_command_runs_an_hmm_design_and_its_report(tmp_path: Path) -> None:
    pytest.importorskip("pypandoc", reason="the report extra is not installed")
    pytest.importorskip("typst", reason="the report extra is not installed")
    out = tmp_path / "sim_hmm"
    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--design",
            str(_design(tmp_path, 4)),
            "--out-dir",
            str(out),
            "-j",
            "1",
            "--report",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "to 1" in result.output and "mean[x]" in result.output
    html = (out / "report.html").read_text()
    summary = pd.read_csv(out / "summary.csv")
    bias = summary.loc[(summary["component"] == 2) & (summary["parameter"] == "mean[x]"), "bias"]
    from emstat.report.markdown import fmt_sig

    assert fmt_sig(float(bias.iloc[0]), 3) in html
    words = " ".join(html.split())  # pandoc wraps lines
    assert "a component is a hidden state" in words
    assert "Each data set holds 2 sequence(s) of n = 150 steps each." in words
    assert (out / "report.pdf").stat().st_size > 1000


@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="needs SIGKILL")
def test_killed_hmm_study_resumes_to_the_uninterrupted_result(tmp_path: Path) -> None:
    reps = 24
    design = _design(tmp_path, reps, n=300, sequences=2)
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "emstat.simulation", "--design", str(design), "--quiet",
               "--batch-size", "1", "--out-dir", str(out)]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.Popen(
        [*command, "--workers", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env
    )
    parts = out / "parts"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and len(list(parts.glob("s*.parquet"))) < 3:
        if proc.poll() is not None:
            pytest.fail(f"the run ended before it could be killed: {proc.stderr.read()!r}")
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    saved = len(list(parts.glob("s*.parquet")))
    assert 3 <= saved < reps, "kill the run part way"
    assert json.loads((out / "run.json").read_text())["status"] == "running"

    resumed = subprocess.run(
        [*command, "--workers", "2"], capture_output=True, text=True, timeout=180, env=env
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "run.json").read_text())["resumed"]
    whole = tmp_path / "whole"
    simulate(design=design, out_dir=whole, workers=1)
    pd.testing.assert_frame_equal(read_replicates(out), read_replicates(whole))


def test_a_poisson_hmm_study_recovers_its_rates(tmp_path: Path) -> None:
    path = tmp_path / "poisson.toml"
    path.write_text(
        """
reps = 8
seed = 5

[hmm]
start = [1.0, 0.0]
transitions = [[0.95, 0.05], [0.1, 0.9]]
sequences = 3

[[hmm.emissions]]
family = "poisson"
column = "count"
parameters = [2.0, 9.0]

[grid]
n = [200]
"""
    )
    summary = simulate(design=path).set_index(["component", "parameter"])
    assert set(summary.index.get_level_values("parameter")) == {"start", "to 1", "to 2",
                                                                "rate[count]"}  # fmt: skip
    assert summary["n_ok"].min() == 8 and summary["converged"].min() == 1.0
    for state, rate in [(1, 2.0), (2, 9.0)]:
        row = summary.loc[(state, "rate[count]")]
        assert row["truth"] == rate and abs(row["bias"]) < 0.1 * rate


def test_an_hmm_study_refuses_other_interval_methods(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="Wald intervals only"):
        load_design(_design(tmp_path, reps=2), intervals="bootstrap")
