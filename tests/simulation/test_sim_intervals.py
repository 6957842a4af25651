"""Studies that compare interval methods: per-replicate intervals, coverage with its MC error."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from emstat.cli import app
from emstat.errors import InputError
from emstat.simulation import make_design, mixture_from_formula, simulate
from emstat.simulation.design import IntervalSettings
from emstat.simulation.storage import StudyDir
from emstat.simulation.summarise import interval_summary, summarise_replicates

from .conftest import EXAMPLE, SEPARATED, read_replicates

runner = CliRunner()


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


def _tiny_rows() -> pd.DataFrame:
    """Five replicates of one parameter with truth 1: three covered, one missed, one without."""
    low = [0.5, 0.9, 1.2, 0.0, np.nan]
    high = [1.5, 1.1, 2.0, 1.0, np.nan]
    return pd.DataFrame(
        {
            "scenario": 0,
            "replicate": range(5),
            "component": 1,
            "parameter": "mean[x]",
            "truth": 1.0,
            "estimate": [1.0, 1.0, 1.5, 0.5, 1.1],
            "ci_low": low,
            "ci_high": high,
            "converged": True,
            "n_iter": 3,
            "ci_low_boot": low,
            "ci_high_boot": high,
        }
    )


def test_coverage_and_its_monte_carlo_error_by_hand() -> None:
    scenarios = pd.DataFrame({"scenario": [0], "n": [10]})
    summary = summarise_replicates(_tiny_rows(), scenarios)
    row = summary.iloc[0]
    # intervals [0.5,1.5] [0.9,1.1] [0.0,1.0] hold 1 (the bound counts); [1.2,2.0] does not
    assert row["coverage_boot"] == pytest.approx(3 / 4)
    assert row["coverage_se_boot"] == pytest.approx(math.sqrt(0.75 * 0.25 / 4))
    assert row["mean_width_boot"] == pytest.approx((1.0 + 0.2 + 0.8 + 1.0) / 4)
    assert row["median_width_boot"] == pytest.approx((0.8 + 1.0) / 2)
    assert row["with_interval_boot"] == pytest.approx(4 / 5)
    long = interval_summary(summary)
    assert long[["method", "coverage", "with_interval"]].to_dict("records") == [
        {"method": "boot", "coverage": 0.75, "with_interval": 0.8}
    ]


def test_no_interval_methods_leave_the_design_as_it_was() -> None:
    design = make_design(mixture_from_formula(SEPARATED), n=50, reps=2)
    assert "intervals" not in design.to_dict()
    with_them = make_design(mixture_from_formula(SEPARATED), n=50, reps=2, intervals="wald")
    assert with_them.to_dict()["intervals"]["methods"] == ["wald"]


@pytest.mark.parametrize(
    ("intervals", "n_boot", "words"),
    [
        ("wald,jackknife", None, "unknown interval method 'jackknife'; choose from wald, "
         "bootstrap, profile"),
        ("bootstrap", 1, "n_boot must be a whole number >= 2, got 1"),
        ({"methods": ["wald"], "kind": "xx"}, None, "unknown bootstrap kind 'xx'"),
        ({"methods": ["wald"], "level": 0.9}, None, "intervals: unknown keys ['level']"),
    ],
)  # fmt: skip
def test_bad_interval_settings(intervals: object, n_boot: int | None, words: str) -> None:
    with pytest.raises(InputError, match=words.replace("[", r"\[").replace("]", r"\]")):
        make_design(
            mixture_from_formula(SEPARATED), n=50, reps=2, intervals=intervals, n_boot=n_boot
        )


def test_every_converged_replicate_has_each_interval(tmp_path: Path) -> None:
    summary = simulate(
        SEPARATED, n=120, reps=6, seed=2, intervals="wald,bootstrap", n_boot=19,
        out_dir=tmp_path / "s",
    )  # fmt: skip
    rows = pd.read_parquet(tmp_path / "s" / "replicates.parquet")
    converged = rows[rows["converged"]]
    for method in ("wald", "bootstrap"):
        assert converged[f"ci_low_{method}"].notna().all()
        assert (converged[f"ci_low_{method}"] <= converged[f"ci_high_{method}"]).all()
        assert summary[f"with_interval_{method}"].min() == pytest.approx(1.0)
    # Wald here is the fit's own interval; the bootstrap is its own
    np.testing.assert_allclose(rows["ci_low_wald"], rows["ci_low"])
    assert not np.allclose(rows["ci_low_bootstrap"], rows["ci_low"])
    weights = rows[rows["parameter"] == "weight"]
    assert (weights["ci_low_bootstrap"] >= 0).all() and (weights["ci_high_bootstrap"] <= 1).all()


def test_resume_with_intervals_equals_an_uninterrupted_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options = dict(n=80, reps=8, seed=4, intervals="wald,bootstrap", n_boot=9, batch_size=2)
    whole = tmp_path / "whole"
    simulate(EXAMPLE, out_dir=whole, **options)  # type: ignore[arg-type]

    cut = tmp_path / "cut"
    written = []
    original = StudyDir.write_part

    def stop_after_two(self: StudyDir, result: object) -> None:
        if len(written) == 2:
            raise KeyboardInterrupt
        original(self, result)  # type: ignore[arg-type]
        written.append(result)

    monkeypatch.setattr(StudyDir, "write_part", stop_after_two)
    with pytest.raises(KeyboardInterrupt):
        simulate(EXAMPLE, out_dir=cut, **options)  # type: ignore[arg-type]
    monkeypatch.undo()
    assert len(list((cut / "parts").glob("s*.parquet"))) == 2
    assert json.loads((cut / "run.json").read_text())["design"]["intervals"]["n_boot"] == 9

    simulate(EXAMPLE, out_dir=cut, **options)  # type: ignore[arg-type]
    assert json.loads((cut / "run.json").read_text())["resumed"]
    pd.testing.assert_frame_equal(read_replicates(cut), read_replicates(whole))
    pd.testing.assert_frame_equal(
        pd.read_csv(cut / "summary.csv").drop(columns=["mean_iter"]),
        pd.read_csv(whole / "summary.csv").drop(columns=["mean_iter"]),
    )


def test_other_intervals_are_another_study(tmp_path: Path) -> None:
    out = tmp_path / "s"
    simulate(SEPARATED, n=60, reps=2, seed=1, intervals="wald", out_dir=out)
    with pytest.raises(InputError, match="different design"):
        simulate(SEPARATED, n=60, reps=2, seed=1, intervals="wald,bootstrap", out_dir=out)


def test_cli_intervals_and_report(tmp_path: Path) -> None:
    out = tmp_path / "cli"
    result = runner.invoke(
        app,
        ["simulate", "--mixture", SEPARATED, "--n", "80", "--reps", "4", "--seed", "3",
         "--intervals", "wald,bootstrap", "--n-boot", "9", "-o", str(out), "--workers", "1"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "interval methods: coverage" in result.output
    assert "coverage_se_bootstrap" in pd.read_csv(out / "summary.csv").columns

    from emstat.report import build_document

    doc = build_document(str(out))
    titles = [s.title for s in doc.sections]
    assert "Interval methods compared" in titles
    assert "interval-coverage" in [f.name for f in doc.figures]
    text = "\n".join(
        str(b) for s in doc.sections if s.title == "Interval methods compared" for b in s.blocks
    )
    assert "Closest to 0.95 per parameter" in text


def test_cli_unknown_interval_method_is_one_line(tmp_path: Path) -> None:
    result = runner.invoke(
        app,
        ["simulate", "--mixture", SEPARATED, "--n", "50", "--reps", "2",
         "--intervals", "wald,sandwich", "-o", str(tmp_path / "x")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "unknown interval method 'sandwich'; choose from wald, bootstrap, profile" in (
        result.output
    )
    assert not (tmp_path / "x").exists()


def test_interval_settings_default_to_a_percentile_parametric_bootstrap() -> None:
    settings = IntervalSettings(methods=("bootstrap",))
    assert (settings.n_boot, settings.kind, settings.interval) == (199, "pb", "percentile")
    assert (settings.control().tol, settings.control().criterion) == (1e-7, "rel")
    with pytest.raises(InputError, match="intervals: tol"):
        IntervalSettings(methods=("bootstrap",), tol=-1.0)


def test_a_summary_saved_before_median_widths_still_reads() -> None:
    scenarios = pd.DataFrame({"scenario": [0], "n": [10]})
    summary = summarise_replicates(_tiny_rows(), scenarios).drop(columns="median_width_boot")
    long = interval_summary(summary)
    assert long["coverage"].tolist() == [0.75] and long["median_width"].isna().all()
