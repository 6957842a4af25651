"""The bootstrap likelihood-ratio test for the number of components (emstat.bootstrap_lrt)."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import emstat
from emstat.cli import app
from emstat.errors import InputError
from emstat.mixture.lrt import LRTResult, bootstrap_lrt, lrt_pvalue

runner = CliRunner()


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


def _two_normals(seed: int = 3, n: int = 200) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-3, 1, n // 2), rng.normal(3, 1, n - n // 2)])
    return pd.DataFrame({"x": x})


def test_pvalue_is_mclusts_formula() -> None:
    boot = np.array([0.5, 3.0, np.nan, 1.0, 4.0, 2.0])
    # finite draws 0.5, 3, 1, 4, 2: three at or above 2 -> (1 + 3) / (5 + 1)
    assert lrt_pvalue(boot, 2.0) == pytest.approx(4 / 6)
    assert lrt_pvalue(boot, 10.0) == pytest.approx(1 / 6)
    assert math.isnan(lrt_pvalue(boot, math.nan))


def test_two_separated_components_reject_one_and_keep_two() -> None:
    result = bootstrap_lrt(_two_normals(), model="V", max_k=3, n_boot=99, seed=1)
    assert list(result.table["k0"]) == [1, 2]
    first, second = result.table.iloc[0], result.table.iloc[1]
    assert first["rejected"] and first["p_value"] == pytest.approx(1 / 100)
    assert not second["rejected"] and second["p_value"] > 0.05
    assert result.chosen_k == 2
    assert set(result.bootstrap) == {1, 2}
    assert result.bootstrap[1].shape == (99,)
    # the observed statistic is 2 (l2 - l1) of the fits themselves
    assert first["statistic"] == pytest.approx(2 * (result.fits[2].loglik - result.fits[1].loglik))
    assert "k = 2 is not rejected against 3" in result.summary()


def test_same_numbers_on_two_workers() -> None:
    data = _two_normals()
    one = bootstrap_lrt(data, model="V", max_k=2, n_boot=40, seed=5)
    two = bootstrap_lrt(data, model="V", max_k=2, n_boot=40, seed=5, workers=2)
    pd.testing.assert_frame_equal(one.table, two.table)
    for k0 in one.bootstrap:
        np.testing.assert_array_equal(one.bootstrap[k0], two.bootstrap[k0])


def test_a_poisson_family_chooses_two() -> None:
    rng = np.random.default_rng(4)
    counts = np.concatenate([rng.poisson(2, 150), rng.poisson(12, 150)])
    result = bootstrap_lrt(
        pd.DataFrame({"y": counts}), family="poisson", max_k=3, n_boot=49, seed=2
    )
    assert result.model == "poisson"
    assert result.table.iloc[0]["rejected"]
    assert result.chosen_k == 2


def test_every_test_rejected_says_at_least() -> None:
    result = bootstrap_lrt(_two_normals(), model="V", max_k=1, n_boot=19, seed=1)
    assert result.every_test_rejected
    assert result.chosen_k == 2
    assert "at least 2 components" in result.summary()


def test_plot_draws_each_bootstrap_distribution() -> None:
    pytest.importorskip("matplotlib")
    result = bootstrap_lrt(_two_normals(), model="V", max_k=2, n_boot=19, seed=1)
    fig = result.plot()
    assert len(fig.axes) == 2
    from matplotlib.figure import Figure

    fig2 = Figure()
    ax = fig2.add_subplot()
    assert result.plot(k0=2, ax=ax) is fig2
    # the observed statistic is drawn as a vertical line at its value
    assert ax.lines[0].get_xdata()[0] == pytest.approx(result.table.iloc[1]["statistic"])
    with pytest.raises(InputError, match="no test of k0 = 5"):
        result.plot(k0=5)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"max_k": 0}, "max_k must be a whole number >= 1, got 0"),
        ({"n_boot": 0}, "n_boot must be a whole number >= 1, got 0"),
        ({"level": 0.0}, "level must be a number strictly between 0 and 1, got 0.0"),
        ({"level": 1.5}, "level must be a number strictly between 0 and 1, got 1.5"),
        ({"workers": 0}, "workers must be a whole number >= 1"),
    ],
)
def test_bad_options_are_one_line(options: dict, words: str) -> None:
    with pytest.raises(InputError, match=words):
        bootstrap_lrt(_two_normals(), **options)


def test_exported_from_the_package() -> None:
    assert emstat.bootstrap_lrt is bootstrap_lrt
    assert emstat.LRTResult is LRTResult


# --------------------------------------------------------------------------- CLI


def _csv(tmp_path: Path) -> Path:
    path = tmp_path / "two.csv"
    _two_normals().to_csv(path, index=False)
    return path


def test_cli_prints_the_tests(tmp_path: Path) -> None:
    out = runner.invoke(
        app, ["lrt", str(_csv(tmp_path)), "--model", "V", "--max-k", "3", "--n-boot", "19"]
    )
    assert out.exit_code == 0, out.output
    assert "1 vs 2" in out.output and "2 vs 3" in out.output
    assert "k = 2 is not rejected against 3" in out.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--max-k", "0"], "max_k must be a whole number >= 1"),
        (["--n-boot", "0"], "n_boot must be a whole number >= 1"),
        (["--level", "1"], "level must be a number strictly between 0 and 1"),
    ],
)
def test_cli_bad_options(tmp_path: Path, args: list[str], words: str) -> None:
    out = runner.invoke(app, ["lrt", str(_csv(tmp_path)), *args])
    assert out.exit_code == 2
    assert words in out.output
    assert "Traceback" not in out.output


def test_cli_report_is_refused_before_the_work_when_it_exists(tmp_path: Path) -> None:
    target = tmp_path / "lrt.html"
    target.write_text("mine")
    out = runner.invoke(app, ["lrt", str(_csv(tmp_path)), "--n-boot", "5", "--report", str(target)])
    assert out.exit_code == 2
    assert "exists" in out.output
    assert target.read_text() == "mine"


def test_cli_writes_a_report_with_the_distributions(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    target = tmp_path / "out" / "lrt.qmd"
    out = runner.invoke(
        app,
        ["lrt", str(_csv(tmp_path)), "--max-k", "2", "--n-boot", "19", "--report", str(target)],
    )
    assert out.exit_code == 0, out.output
    text = target.read_text()
    assert "Bootstrap distributions" in text
    assert "lrt-1-vs-2.png" in text and "lrt-2-vs-3.png" in text
    assert (tmp_path / "out" / "lrt_figures" / "lrt-2-vs-3.png").is_file()
    assert "**not rejected**" in text


def test_report_is_registered_for_the_result() -> None:
    from emstat.report import build_document

    result = bootstrap_lrt(_two_normals(), model="V", max_k=1, n_boot=19, seed=1)
    doc = build_document(result, data_name="two normals")
    assert "at least 2" in (doc.subtitle or "")
    assert [f.name for f in doc.figures] == ["lrt-1-vs-2"]


def test_a_k_the_data_cannot_hold_ends_the_sequence_with_the_reason() -> None:
    data = pd.DataFrame({"x": [0.0, 1.0, 5.0] * 20})
    result = bootstrap_lrt(data, model="E", max_k=4, n_boot=19, seed=1)
    last = result.table.iloc[-1]
    assert math.isnan(last["statistic"]) and not last["rejected"]
    assert "distinct rows" in last["note"] or "degenerate" in last["note"]
    assert result.chosen_k == int(last["k0"])
    assert f"The test of {result.chosen_k} vs {result.chosen_k + 1} could not be made" in (
        result.summary()
    )
    assert result.untestable


def test_binomial_with_a_trials_column_on_two_workers() -> None:
    rng = np.random.default_rng(8)
    trials = rng.integers(10, 30, 300)
    p = np.where(np.arange(300) < 150, 0.15, 0.7)
    data = pd.DataFrame({"y": rng.binomial(trials, p), "n": trials})
    one = bootstrap_lrt(data, family="binomial", columns=["y"], trials="n", max_k=2, n_boot=19)
    two = bootstrap_lrt(
        data, family="binomial", columns=["y"], trials="n", max_k=2, n_boot=19, workers=2
    )
    assert one.table.iloc[0]["rejected"] and one.chosen_k == 2
    pd.testing.assert_frame_equal(one.table, two.table)


@pytest.mark.parametrize("k", [1, 2])
def test_a_ridged_fit_is_refitted_with_its_ridge(k: int) -> None:
    from emstat.mixture.lrt import _gaussian_refit

    df = _two_normals()
    fit = emstat.fit_mixture(df, k=k, model="V", reg_covar=0.5, tol=1e-10)
    # refitted on its own data from itself, the ridged fit stays where it is
    refit = _gaussian_refit(fit, df.to_numpy(dtype=float))
    assert refit == pytest.approx(fit.loglik, rel=1e-7)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"prior": "mclust"}, "does not take prior="),
        ({"noise": True}, "does not take noise="),
        ({"algorithm": "cem"}, "refits by EM"),
        ({"init": "cem"}, "refits by EM"),
    ],
)
def test_options_the_refits_would_drop_are_refused(options: dict, words: str) -> None:
    df = emstat.load_dataset("faithful")
    with pytest.raises(InputError, match=words):
        emstat.bootstrap_lrt(df, model="EEE", max_k=1, n_boot=9, **options)


def test_data_with_missing_cells_are_refused() -> None:
    df = emstat.load_dataset("faithful").copy()
    df.iloc[3, 0] = np.nan
    with pytest.raises(InputError, match="needs complete data"):
        emstat.bootstrap_lrt(df, model="EEE", max_k=1, n_boot=9)
