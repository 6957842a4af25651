"""``emstat fit/select --intervals``: Wald, bootstrap and profile intervals on the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import special, stats
from typer.testing import CliRunner

import emstat
from emstat.cli import app

runner = CliRunner()


@pytest.fixture
def faithful_csv() -> Path:
    return emstat.datasets.dataset_path("faithful")


def _invoke(args: list[str]) -> tuple[int, str]:
    result = runner.invoke(app, args)
    return result.exit_code, result.output


def test_wald_intervals_are_the_delta_method_on_the_logit_and_log_scales(
    faithful_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "intervals.csv"
    code, output = _invoke(
        ["fit", str(faithful_csv), "-k", "2", "-m", "VVV", "--intervals", "wald", "--level",
         "0.9", "--intervals-out", str(out)]
    )  # fmt: skip
    assert code == 0, output
    assert "90% confidence intervals" in output and f"intervals written to {out}" in output
    table = pd.read_csv(out)
    assert set(table["method"]) == {"wald"} and len(table) == 12
    z = stats.norm.ppf(0.95)
    weights = table[table["parameter"] == "weight"]
    w, se = weights["estimate"].to_numpy(), weights["std_err"].to_numpy()
    half = z * se / (w * (1 - w))  # the delta method: d logit(w) / dw = 1 / (w (1 - w))
    logit = special.logit(w)
    np.testing.assert_allclose(weights["ci_low"], special.expit(logit - half), rtol=1e-12)
    np.testing.assert_allclose(weights["ci_high"], special.expit(logit + half), rtol=1e-12)
    variances = table[table["parameter"].str.startswith("var[")]
    v, se = variances["estimate"].to_numpy(), variances["std_err"].to_numpy()
    np.testing.assert_allclose(variances["ci_low"], v * np.exp(-z * se / v), rtol=1e-12)
    np.testing.assert_allclose(variances["ci_high"], v * np.exp(z * se / v), rtol=1e-12)


def test_bootstrap_and_profile_intervals_equal_the_api_with_the_same_seed(
    faithful_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "intervals.csv"
    code, output = _invoke(
        ["fit", str(faithful_csv), "-k", "2", "-m", "V", "-c", "waiting", "--seed", "3",
         "--intervals", "bootstrap,profile", "--n-boot", "49", "--boot-kind", "pb",
         "--boot-interval", "basic", "--boot-start", "estimator", "--intervals-out", str(out)]
    )  # fmt: skip
    assert code == 0, output
    assert "parametric bootstrap (pb): 49 refits, 0 failed" in output
    assert "each repeats the fit's start" in output
    table = pd.read_csv(out)
    fit = emstat.fit_mixture(emstat.load_dataset("faithful")[["waiting"]], 2, "V", seed=3)
    boot = fit.conf_int(
        method="bootstrap", n_boot=49, kind="pb", interval="basic", start="estimator", seed=3
    )
    profile = fit.conf_int(method="profile")
    expected = pd.concat([boot, profile], ignore_index=True)
    assert list(table["method"]) == list(expected["method"])
    for name in ("estimate", "ci_low", "ci_high"):
        np.testing.assert_allclose(table[name], expected[name], rtol=1e-15)
    # the profile interval of a variance is not the Wald one: it is asymmetric on the log scale
    rows = table[(table["method"] == "profile") & (table["parameter"] == "var[waiting]")]
    log_low, log_high = np.log(rows[["ci_low", "ci_high"]].to_numpy().T)
    centre = np.log(rows["estimate"].to_numpy())
    assert np.all(np.abs((log_high - centre) - (centre - log_low)) > 1e-4)


def test_select_gives_the_chosen_fits_intervals_beside_a_csv_table(faithful_csv: Path) -> None:
    result = runner.invoke(
        app,
        ["select", str(faithful_csv), "-k", "1:3", "--models", "VVV", "--format", "csv",
         "--intervals", "bootstrap", "--boot-kind", "jk"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("k,")  # the selection table alone on stdout
    assert "jackknife (jk): 272 refits" in result.stderr
    assert "bootstrap-normal" in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--intervals", "wald,bogus"], "--intervals: unknown method 'bogus'"),
        (["--intervals", ","], "no interval method named in --intervals"),
        (["--intervals", "wald", "--level", "95"], "--level must be between 0 and 1, got 95"),
        (["--intervals", "bootstrap", "--boot-kind", "xx"], "--boot-kind: unknown choice 'xx'"),
        (["--intervals", "bootstrap", "--boot-start", "r"], "--boot-start: unknown choice 'r'"),
        (["--intervals", "bootstrap", "--n-boot", "1"], "--n-boot must be at least 2, got 1"),
        (
            ["--intervals", "bootstrap", "--boot-kind", "jk", "--boot-interval", "bca"],
            "jk gives 'normal' intervals",
        ),
        (
            ["--intervals", "bootstrap", "--boot-interval", "wide"],
            "--boot-interval: unknown choice 'wide'",
        ),
        (
            ["--intervals", "bootstrap", "--boot-kind", "jk", "--boot-start", "estimator"],
            "--boot-kind jk refits each leave-one-out sample from the fit",
        ),
    ],
)
def test_bad_interval_options_are_refused_before_the_fit(
    faithful_csv: Path, args: list[str], words: str
) -> None:
    code, output = _invoke(["fit", str(faithful_csv), "-k", "2", *args])
    assert code == 2, output
    assert words in output
    assert "loglik" not in output  # refused before fitting: no summary was printed


def test_other_families_bootstrap_by_their_estimator_too(tmp_path: Path) -> None:
    counts = tmp_path / "counts.csv"
    rng = np.random.default_rng(0)
    pd.DataFrame({"y": np.concatenate([rng.poisson(1, 60), rng.poisson(8, 60)])}).to_csv(
        counts, index=False
    )
    code, output = _invoke(
        ["fit", str(counts), "-k", "2", "--family", "poisson", "--intervals", "wald,bootstrap",
         "--n-boot", "19", "--boot-start", "estimator"]
    )  # fmt: skip
    assert code == 0, output
    assert "nonparametric bootstrap (bs): 19 refits, 0 failed" in output
    assert "each repeats the fit's start" in output and "rate[y]" in output
    code, output = _invoke(
        ["fit", str(counts), "-k", "2", "--family", "poisson", "--algorithm", "cem",
         "--intervals", "bootstrap", "--boot-start", "estimator"]
    )  # fmt: skip
    assert code == 2 and "algorithm 'cem'" in output


def test_an_existing_intervals_file_is_kept_without_overwrite(
    faithful_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "intervals.csv"
    out.write_text("mine\n")
    code, output = _invoke(
        ["fit", str(faithful_csv), "-k", "2", "--intervals", "wald", "--intervals-out", str(out)]
    )
    assert code == 2 and "--overwrite" in output
    assert out.read_text() == "mine\n"


def test_the_heading_keeps_the_level_and_profile_notes_are_kept(
    faithful_csv: Path, tmp_path: Path
) -> None:
    out = tmp_path / "intervals.csv"
    code, output = _invoke(
        ["fit", str(faithful_csv), "-k", "2", "-m", "V", "-c", "waiting", "--intervals",
         "wald,profile", "--level", "0.975", "--intervals-out", str(out)]
    )  # fmt: skip
    assert code == 0, output
    assert "97.5% confidence intervals" in output
    table = pd.read_csv(out)
    assert "note" in table.columns


def test_a_write_that_fails_leaves_the_old_intervals_file_whole(
    faithful_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "intervals.csv"
    out.write_text("the old table\n")

    def half_then_fail(self: pd.DataFrame, path: Path, **options: object) -> None:
        Path(path).write_text("method,comp")  # a part, then the process dies
        raise KeyboardInterrupt

    monkeypatch.setattr(pd.DataFrame, "to_csv", half_then_fail)
    runner.invoke(
        app,
        ["fit", str(faithful_csv), "-k", "2", "--intervals", "wald", "--intervals-out", str(out),
         "--overwrite"],
    )  # fmt: skip
    assert out.read_text() == "the old table\n"
    assert [p.name for p in tmp_path.iterdir()] == ["intervals.csv"]  # no temporary left
