"""Large tables and large counts: refused up front with the numbers, or fitted in linear time."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import emstat
from emstat.categorical import fit_categorical, kernels
from emstat.cli import app
from emstat.datasets import dataset_path
from emstat.errors import InputError

from ._refdata import read_reference_csv

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[2]


# --------------------------------------------------------------------------- continuous columns


def test_faithful_is_refused_as_continuous() -> None:
    with pytest.raises(InputError, match=r"'eruptions' looks continuous: 126 distinct") as info:
        fit_categorical(emstat.load_dataset("faithful"))
    message = str(info.value)
    assert "3.6 at row 0" in message and "as_category=['eruptions']" in message
    assert "\n" not in message


def test_catem_on_faithful_says_how_to_pass_it_in_one_line() -> None:
    started = time.perf_counter()
    result = runner.invoke(app, ["catem", str(dataset_path("faithful"))])
    assert time.perf_counter() - started < 30
    assert result.exit_code == 2
    assert "'eruptions' looks continuous" in result.output
    assert "--as-category eruptions" in result.output
    assert "Traceback" not in result.output


def test_as_category_fits_faithful_with_one_parameter_per_cell_less_one() -> None:
    res = fit_categorical(emstat.load_dataset("faithful"), as_category=["eruptions", "waiting"])
    assert res.theta.size == 126 * 51
    assert res.n_params == 126 * 51 - 1
    # saturated, complete data: the MLE is the empirical table
    empirical = emstat.load_dataset("faithful").value_counts(normalize=True)
    for cell, p in empirical.items():
        assert res.probabilities.loc[cell] == pytest.approx(p, rel=1e-9)


def test_catem_as_category_option_fits() -> None:
    result = runner.invoke(
        app, ["catem", str(dataset_path("faithful")), "--as-category", "eruptions,waiting"]
    )
    assert result.exit_code == 0, result.output
    assert "parameters: 6425" in result.output


def test_integer_column_with_more_levels_than_half_the_units_is_refused() -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"age": np.arange(80) % 60 + 20, "sex": rng.integers(0, 2, 80)})
    with pytest.raises(
        InputError, match=r"'age' looks continuous or like an identifier: 60 levels"
    ):
        fit_categorical(frame)
    # the same levels with enough units per level are a table
    counted = frame.assign(n=10)
    assert fit_categorical(counted, "n").theta.shape == (60, 2)


# --------------------------------------------------------------------------- the cell limit


def _binary_frame(n_vars: int, n_rows: int = 30) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        rng.integers(0, 2, (n_rows, n_vars)), columns=[f"v{j}" for j in range(n_vars)]
    )


def test_table_beyond_the_cell_limit_is_refused_before_allocating() -> None:
    started = time.perf_counter()
    with pytest.raises(InputError, match=r"16,777,216 cells .* limit of 1,000,000") as info:
        fit_categorical(_binary_frame(24))
    assert time.perf_counter() - started < 5
    assert "max_cells" in str(info.value)


def test_max_cells_moves_the_limit() -> None:
    frame = _binary_frame(12)
    with pytest.raises(InputError, match=r"4,096 cells .* limit of 1,000"):
        fit_categorical(frame, max_cells=1000)
    assert fit_categorical(frame, max_cells=4096).theta.size == 4096
    with pytest.raises(InputError, match=r"max_cells must be a whole number >= 1"):
        fit_categorical(frame, max_cells=0)


def test_catem_max_cells_option(tmp_path: Path) -> None:
    path = tmp_path / "wide.csv"
    _binary_frame(12).to_csv(path, index=False)
    refused = runner.invoke(app, ["catem", str(path), "--max-cells", "100"])
    assert refused.exit_code == 2 and "4,096 cells" in refused.output
    assert "Traceback" not in refused.output


# --------------------------------------------------------------------------- linear cost


@pytest.mark.parametrize("levels", [(3,) * 10, (2,) * 18])
def test_saturated_parameter_count_needs_no_cells_by_cells_matrix(levels: tuple[int, ...]) -> None:
    model = emstat.categorical.LogLinearModel(shape=levels, margins=(tuple(range(len(levels))),))
    started = time.perf_counter()
    assert model.n_params() == int(np.prod(levels)) - 1
    assert time.perf_counter() - started < 2


def _random_models() -> list[tuple[tuple[int, ...], list[tuple[int, ...]], np.ndarray]]:
    rng = np.random.default_rng(7)
    cases = []
    for trial in range(60):
        p = int(rng.integers(1, 5))
        shape = tuple(int(x) for x in rng.integers(2, 4, p))
        margins = [
            tuple(sorted(rng.choice(p, int(rng.integers(1, p + 1)), replace=False).tolist()))
            for _ in range(int(rng.integers(1, 4)))
        ]
        free = np.ones(shape, dtype=bool) if trial % 2 else rng.random(shape) > 0.25
        free.reshape(-1)[0] = True
        cases.append((shape, margins, free))
    return cases


@pytest.mark.parametrize(("shape", "margins", "free"), _random_models())
def test_parameter_count_equals_the_rank_of_the_design(
    shape: tuple[int, ...], margins: list[tuple[int, ...]], free: np.ndarray
) -> None:
    cells = np.flatnonzero(free.reshape(-1))
    rank = kernels.loglinear_basis(shape, margins, cells).shape[1]
    model = emstat.categorical.LogLinearModel(shape=shape, margins=tuple(margins), free=free)
    assert model.n_params() == rank


def test_fit_of_a_6561_cell_table_is_quick() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.integers(0, 3, (400, 8)), columns=list("abcdefgh"))
    started = time.perf_counter()
    res = fit_categorical(frame.mask(rng.random(frame.shape) < 0.05))
    assert res.n_params == 3**8 - 1 and np.isfinite(res.bic)
    assert time.perf_counter() - started < 60


_INTERRUPTED_SCRIPT = textwrap.dedent(
    """
    import signal, sys, warnings
    import numpy as np, pandas as pd
    # Ctrl-C as in a terminal, even where the runner started this with SIGINT ignored
    # (a background job of a shell without job control)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from emstat.categorical import fit_categorical
    from emstat.engine import EMControl
    warnings.simplefilter("ignore")
    rng = np.random.default_rng(3)
    frame = pd.DataFrame(rng.integers(0, 3, (400, 8)), columns=list("abcdefgh"))
    frame = frame.mask(rng.random(frame.shape) < 0.05)
    print("fitting", flush=True)
    while True:  # short fits, then what is computed after them
        res = fit_categorical(frame, control=EMControl(max_iter=3, criterion="param"))
        res.bic
    """
)


@pytest.mark.slow
def test_ctrl_c_stops_a_long_fit_promptly() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-c", _INTERRUPTED_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "fitting"
        time.sleep(5)  # well into the fits and what follows them
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode != 0
    assert "KeyboardInterrupt" in err


# --------------------------------------------------------------------------- large counts


@pytest.mark.parametrize("scale", [1e5, 1e9, 1e15])
def test_crimes_counts_scaled_give_the_same_probabilities(scale: float) -> None:
    crimes = emstat.load_dataset("crimes")
    base = fit_categorical(crimes, "N")
    big = fit_categorical(crimes.assign(N=crimes["N"] * scale), "N")
    np.testing.assert_allclose(big.theta, base.theta, rtol=0, atol=1e-10)
    assert big.n_iter == base.n_iter
    assert big.loglik == pytest.approx(scale * base.loglik, rel=1e-9)
    assert big.n_units == scale * base.n_units


def test_ecm_with_large_counts_matches_ordinary_counts() -> None:
    older = read_reference_csv("cat_older.csv")
    margins = [["M", "P"], ["D", "G"]]
    base = fit_categorical(older, "Freq", variables=list("MPDG"), margins=margins)
    big = fit_categorical(
        older.assign(Freq=older["Freq"] * 10**8), "Freq", variables=list("MPDG"), margins=margins
    )
    np.testing.assert_allclose(big.theta, base.theta, rtol=0, atol=1e-10)
    assert big.loglik == pytest.approx(1e8 * base.loglik, rel=1e-9)


def test_counts_beyond_float_range_are_refused() -> None:
    frame = pd.DataFrame({"a": [0, 1, 0, 1], "b": [0, 0, 1, 1], "n": [1e308] * 4})
    with pytest.raises(InputError, match=r"count column 'n' sums to inf"):
        fit_categorical(frame, "n")


def test_cells_of_the_saturated_model_stay_whole_with_structural_zeros() -> None:
    cells = [c for c in itertools.product([0, 1, 2], [0, 1]) if c != (2, 1)]
    frame = pd.DataFrame(cells * 3, columns=["a", "b"]).assign(n=10**9)
    res = fit_categorical(frame, "n", structural_zeros=[(2, 1)])
    assert res.theta[2, 1] == 0 and res.n_params == 4
    np.testing.assert_allclose(res.theta[res.model.free], 1 / 5, rtol=1e-12)
