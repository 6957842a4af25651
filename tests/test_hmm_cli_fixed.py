"""``emstat hmm --fixed NAME@STATE=VALUE``: fixed emission values from the command line."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import emstat
from emstat.cli import app
from emstat.cli.hmm import parse_fixed
from emstat.errors import InputError
from emstat.hmm import load_hmm

runner = CliRunner()


@pytest.fixture(scope="module")
def regimes_csv(tmp_path_factory) -> Path:
    rng = np.random.default_rng(8)
    states = np.repeat([0, 1, 0, 1], 30)
    x = np.array([0.0, 3.0])[states] + rng.normal(size=states.size)
    path = tmp_path_factory.mktemp("hmm") / "regimes.csv"
    pd.DataFrame({"x": x}).to_csv(path, index=False)
    return path


def run(*args: str):
    return runner.invoke(app, ["hmm", *map(str, args)])


def test_parse_fixed_reads_names_states_values_and_fractions():
    assert parse_fixed(["mean[x]@1=0", "var[x]@2=4", "prob[face=6]@2=1/6"]) == {
        "mean[x]": {1: 0.0},
        "var[x]": {2: 4.0},
        "prob[face=6]": {2: 1 / 6},
    }
    assert parse_fixed(None) is None


def test_fixed_reaches_every_k_and_a_missing_state_is_a_reason(regimes_csv, tmp_path):
    saved = tmp_path / "best.json"
    result = run(regimes_csv, "--k", "1:3", "--fixed", "mean[x]@2=3", "--save", saved,
                 "--format", "csv")  # fmt: skip
    assert result.exit_code == 0, result.output
    table = pd.read_csv(io.StringIO(result.stdout.split("saved to")[0])).set_index("k")
    assert "names state 2; a fit of k = 1 has state 1 only" in table.loc[1, "reason"]
    assert np.isnan(table.loc[1, "bic"]) and np.isfinite(table.loc[2, "bic"])
    frame = pd.read_csv(regimes_csv)
    alone = emstat.fit_hmm(frame, 2, fixed={"mean[x]": [None, 3.0]})
    assert table.loc[2, "n_params"] == alone.n_params == 6
    assert table.loc[2, "loglik"] == pytest.approx(alone.loglik, rel=1e-10)
    best = load_hmm(saved).params.set_index(["state", "parameter"])
    assert best.loc[(2, "mean[x]"), "estimate"] == 3.0
    assert best.loc[(2, "mean[x]"), "note"] == "fixed"


def test_a_fixed_probability_as_a_fraction(tmp_path):
    casino = emstat.datasets.dataset_path("casino")
    saved = tmp_path / "casino.json"
    result = runner.invoke(
        app,
        ["hmm", str(casino), "--k", "2", "--family", "categorical", "--columns", "face",
         "--sequence", "session", "--order", "roll", "--fixed", "prob[face=6]@1=1/6",
         "--save", str(saved)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    params = load_hmm(saved).params.set_index(["state", "parameter"])
    assert params.loc[(1, "prob[face=6]"), "estimate"] == 1 / 6


@pytest.mark.parametrize(
    ("fixed", "message"),
    [
        ("mean[x]=0", "--fixed 'mean[x]=0' must read NAME@STATE=VALUE"),
        ("mean[x]@first=0", "the state after '@' must be a number 1, 2, ..., got 'first'"),
        ("mean[x]@0=0", "the state after '@' must be a number 1, 2, ..., got '0'"),
        ("mean[x]@1=zero", "the value after '=' must be a number (or a fraction"),
        ("mean[x]@1=inf", "the value must be finite"),
        ("mu[x]@1=0", "fixed names 'mu[x]', not an emission parameter of this model"),
        ("mean[x]@4=0", "fixed['mean[x]'] names state 4; a fit of k = 3 has states 1 to 3"),
        ("var[x]@1=-2", "fixed['var[x]'] must be numbers > 0, got -2 for state 1"),
    ],
)
def test_bad_fixed_is_one_line_and_exit_2(regimes_csv, fixed, message):
    result = run(regimes_csv, "--k", "2:3", "--fixed", fixed)
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_the_same_state_twice_is_refused():
    with pytest.raises(InputError, match=r"--fixed gives mean\[x\]@1 twice"):
        parse_fixed(["mean[x]@1=0", "mean[x]@1=2"])


def test_fixed_is_in_the_help():
    result = runner.invoke(app, ["hmm", "--help"], env={"COLUMNS": "200"})
    assert "--fixed" in result.output and "NAME@STATE=VALUE" in result.output
    # the names' brackets are shown, not read as markup
    assert "'mean[x]@1=0'" in result.output and "'prob[face=6]@2=1/6'" in result.output
