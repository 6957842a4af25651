"""``emstat hmm --transitions / --start``, and the bad input of the HMM issue from the
command line: one line on stderr and exit 2 each."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import emstat
from emstat.cli import app
from emstat.cli.hmm import parse_constraint
from emstat.errors import InputError
from emstat.hmm import load_hmm

runner = CliRunner()


@pytest.fixture(scope="module")
def steps_csv(tmp_path_factory):
    rng = np.random.default_rng(0)
    x = np.r_[rng.normal(0, 1, 60), rng.normal(4, 1, 60), rng.normal(8, 1, 60)]
    path = tmp_path_factory.mktemp("hmm") / "steps.csv"
    pd.DataFrame({"x": x, "id": np.repeat([1, 2], 90), "t": np.tile(np.arange(90), 2)}).to_csv(
        path, index=False
    )
    return path


def test_parse_constraint_reads_free_and_fixed_entries():
    got = parse_constraint("*,*,0;0,*,*;0,0,1", "--transitions")
    expected = np.array([[np.nan, np.nan, 0], [0, np.nan, np.nan], [0, 0, 1]])
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(parse_constraint("1/2,*", "--start"), [0.5, np.nan])
    assert parse_constraint(None, "--start") is None


def test_left_to_right_chain_keeps_its_structural_zeros(steps_csv, tmp_path):
    saved = tmp_path / "lr.json"
    result = runner.invoke(
        app,
        ["hmm", str(steps_csv), "--columns", "x", "--k", "2:3", "--transitions",
         "*,*,0;0,*,*;0,0,1", "--start", "1,0,0", "--save", str(saved), "--format", "csv"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "the start constraint must have shape (2,), got (3,)" in result.stdout
    fit = load_hmm(saved)
    assert fit.k == 3
    trans = np.asarray(fit.transitions)
    assert trans[0, 2] == 0.0 and trans[1, 0] == 0.0 and trans[2, 0] == trans[2, 1] == 0.0
    assert trans[2, 2] == 1.0
    np.testing.assert_array_equal(np.asarray(fit.start), [1.0, 0.0, 0.0])
    direct = emstat.fit_hmm(
        pd.read_csv(steps_csv), 3, columns=["x"], start=[1.0, 0.0, 0.0],
        transitions=parse_constraint("*,*,0;0,*,*;0,0,1", "--transitions"),
    )  # fmt: skip
    assert fit.loglik == pytest.approx(direct.loglik, rel=1e-12)
    assert fit.n_params == direct.n_params == 2 + 3 + 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--k", "3", "--transitions", "*,*,0;0,0,0;0,0,1"],
         "row 2 of the transitions allows no state (every entry is a structural zero)"),
        (["--k", "2", "--start", "0.7,0.7"], "the start is fixed and sums to 1.4"),
        (["--k", "2", "--transitions", "*,*;a,*"], "each entry must be a number"),
        (["--k", "2", "--transitions", "*,*;*"], "the rows of --transitions '*,*;*' have"),
        (["--k", "2", "--start", "1,0;0,1"], "--start is one row of entries"),
        (["--k", "2", "--transitions", "*,*;2,*"], "fixed transitions values must be"),
        (["--k", "400"], "k = 400 states need at least 400 rows with an observed value; the "
                         "data have 180"),
        (["--k", "2", "--sequence", "x"], "column 'x' is both modelled and the sequence"),
        (["--k", "2", "--sequence", "id", "--order", "when"], "no order column 'when'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_exit_2(steps_csv, args, message):
    result = runner.invoke(app, ["hmm", str(steps_csv), "--columns", "x", *args])
    assert result.exit_code == 2, result.output
    assert message in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_order_ties_within_a_sequence_are_refused_from_the_command_line(tmp_path):
    path = tmp_path / "ties.csv"
    pd.DataFrame({"x": [0.1, 0.5, 2.0, 2.2], "id": [1, 1, 2, 2], "t": [1, 1, 1, 2]}).to_csv(
        path, index=False
    )
    result = runner.invoke(
        app, ["hmm", str(path), "--columns", "x", "--k", "1", "--sequence", "id", "--order", "t"]
    )
    assert result.exit_code == 2, result.output
    assert "share the order value 1; their order is unknown" in result.stderr


def test_an_index_out_of_order_within_a_sequence_names_the_rows():
    frame = pd.DataFrame({"x": [0.1, 0.5, 2.0, 2.2], "id": [1, 1, 2, 2]}, index=[1, 0, 2, 3])
    with pytest.raises(InputError, match="row 0 comes after row 1 in its sequence"):
        emstat.fit_hmm(frame, 1, columns=["x"], sequence="id")


def test_a_start_given_in_init_that_is_not_a_distribution():
    frame = pd.DataFrame({"x": [0.1, 0.5, 2.0, 2.2, 0.3, 1.9]})
    with pytest.raises(InputError, match=r"^the init's start is not a distribution: it sums"):
        emstat.fit_hmm(frame, 2, init={"start": [0.7, 0.7]})
