"""Whole studies: real numbers, summaries against pandas, workers, failures, output dirs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from emstat.errors import InputError
from emstat.simulation import ALIGNMENT, load_design, match_components, simulate
from emstat.simulation import replicate as replicate_module

from .conftest import EXAMPLE, SEPARATED, comparable, read_replicates


def test_huge_n_estimates_the_truth(tmp_path: Path) -> None:
    summary = simulate(SEPARATED, n=10_000, reps=4, seed=2, out_dir=tmp_path / "big")
    assert set(summary["parameter"]) == {"weight", "mean[x]", "var[x]"}
    truth = {(1, "weight"): 0.4, (1, "mean[x]"): -3.0, (1, "var[x]"): 1.0,
             (2, "weight"): 0.6, (2, "mean[x]"): 3.0, (2, "var[x]"): 0.5}  # fmt: skip
    for row in summary.itertuples():
        assert row.truth == truth[(row.component, row.parameter)]
        assert row.mean == pytest.approx(row.truth, abs=0.04)
        assert abs(row.bias) < 0.04
        assert row.converged == 1.0 and row.n_ok == 4


def test_files_and_summary_match_pandas(tmp_path: Path) -> None:
    out = tmp_path / "sim"
    summary = simulate(EXAMPLE, n=60, reps=12, seed=5, out_dir=out, select_k=[1, 2, 3])
    for name in ("replicates.parquet", "selection.parquet", "summary.csv", "run.json",
                 "scenarios.csv", "selection_summary.csv"):  # fmt: skip
        assert (out / name).is_file(), name
    assert not (out / "parts").exists()
    rows = pd.read_parquet(out / "replicates.parquet")
    assert list(rows.columns[:13]) == [
        "scenario", "replicate", "component", "parameter", "truth", "estimate", "std_err",
        "ci_low", "ci_high", "converged", "n_iter", "loglik", "seconds",
    ]  # fmt: skip
    assert len(rows) == 12 * 2 * 3
    ok = rows.dropna(subset=["estimate"])
    grouped = ok.groupby(["component", "parameter"])
    expected = pd.DataFrame(
        {
            "mean": grouped["estimate"].mean(),
            "sd": grouped["estimate"].std(),
            "rmse": grouped.apply(lambda g: np.sqrt(((g["estimate"] - g["truth"]) ** 2).mean())),
            "coverage": grouped.apply(
                lambda g: ((g["ci_low"] <= g["truth"]) & (g["truth"] <= g["ci_high"]))[
                    g["std_err"].notna()
                ].mean()
            ),
            "mean_iter": grouped["n_iter"].mean(),
        }
    )
    expected["bias"] = expected["mean"] - grouped["truth"].first()
    got = summary.set_index(["component", "parameter"]).loc[expected.index]
    for column in expected.columns:
        np.testing.assert_allclose(got[column], expected[column], rtol=1e-12, err_msg=column)
    per_rep = rows.drop_duplicates("replicate")
    assert (got["converged"] == per_rep["converged"].mean()).all()
    on_disk = pd.read_csv(out / "summary.csv")
    np.testing.assert_allclose(on_disk["rmse"], summary["rmse"])
    manifest = json.loads((out / "run.json").read_text())
    assert manifest["seed"] == 5 and manifest["status"] == "complete"
    assert manifest["alignment"] == ALIGNMENT == summary.attrs["alignment"]
    assert (summary["aligned_by"] == ALIGNMENT).all()
    assert manifest["versions"]["numpy"] == np.__version__
    assert manifest["design"]["grid"]["select_k"] == [1, 2, 3]
    selection = pd.read_parquet(out / "selection.parquet")
    assert len(selection) == 12 * 3 and set(selection["criterion"]) == {"bic", "aic", "icl"}
    assert set(selection["k"]) <= {1, 2, 3}
    shares = pd.read_csv(out / "selection_summary.csv")
    assert shares.groupby("criterion")["share"].sum().to_numpy() == pytest.approx(1.0)


def test_workers_do_not_change_results(tmp_path: Path) -> None:
    args = dict(n=80, reps=24, seed=7, batch_size=5, separation=[1.0, 1.5])
    simulate(EXAMPLE, out_dir=tmp_path / "one", workers=1, **args)
    simulate(EXAMPLE, out_dir=tmp_path / "two", workers=2, **args)
    pd.testing.assert_frame_equal(
        read_replicates(tmp_path / "one"), read_replicates(tmp_path / "two")
    )


def test_scenarios_share_data_sets(design_toml: Path, tmp_path: Path) -> None:
    simulate(design=design_toml, out_dir=tmp_path / "d")
    rows = pd.read_parquet(tmp_path / "d" / "replicates.parquet")
    assert sorted(rows["scenario"].unique()) == [0, 1, 2, 3]
    assert set(rows["parameter"]) == {
        "weight",
        "mean[a]",
        "mean[b]",
        "var[a]",
        "cov[a,b]",
        "var[b]",
    }
    means = rows[rows["parameter"] == "mean[a]"].set_index(["scenario", "replicate", "component"])
    # separation 2 doubles the distance of the true means from their weighted centre (2.8)
    assert means.loc[(2, 0, 1), "truth"] == pytest.approx(2.8 - 2 * 2.8)


def test_failing_replicate_is_recorded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = replicate_module.fit_mixture

    def flaky(data, k, model, **kwargs):  # type: ignore[no-untyped-def]
        if abs(float(data.iloc[0, 0]) - first) < 1e-12:
            raise RuntimeError("boom")
        return real(data, k, model, **kwargs)

    from emstat.simulation.generate import draw_mixture, replicate_rng

    mixture = load_design_from(SEPARATED)
    first = draw_mixture(mixture, 50, replicate_rng(1, 3)[0])[0][0, 0]
    monkeypatch.setattr(replicate_module, "fit_mixture", flaky)
    summary = simulate(SEPARATED, n=50, reps=6, seed=1, out_dir=tmp_path / "f", workers=1)
    rows = pd.read_parquet(tmp_path / "f" / "replicates.parquet")
    bad = rows[rows["replicate"] == 3]
    assert (bad["error"] == "RuntimeError: boom").all() and bad["estimate"].isna().all()
    assert not bad["converged"].any()
    assert (rows.loc[rows["replicate"] != 3, "error"] == "").all()
    assert (summary["n_ok"] == 5).all() and (summary["reps"] == 6).all()
    assert summary["converged"].to_numpy() == pytest.approx(5 / 6)
    assert json.loads((tmp_path / "f" / "run.json").read_text())["failed_replicates"] == 1


def load_design_from(formula: str):  # type: ignore[no-untyped-def]
    from emstat.simulation.design import mixture_from_formula

    return mixture_from_formula(formula)


def test_output_directory_rules(tmp_path: Path) -> None:
    out = tmp_path / "o"
    first = simulate(SEPARATED, n=40, reps=3, seed=1, out_dir=out)
    again = simulate(SEPARATED, n=40, reps=3, seed=1, out_dir=out)  # finished: re-read
    pd.testing.assert_frame_equal(first, again)
    with pytest.raises(InputError, match="different design; pass --overwrite"):
        simulate(SEPARATED, n=40, reps=4, seed=1, out_dir=out)
    simulate(SEPARATED, n=40, reps=4, seed=1, out_dir=out, overwrite=True)
    assert pd.read_parquet(out / "replicates.parquet")["replicate"].nunique() == 4
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(InputError, match="not an emstat simulation output"):
        simulate(SEPARATED, n=40, reps=3, out_dir=other)


def test_alignment_undoes_label_switching() -> None:
    truth = np.array([[-1.0, 0.0], [1.0, 0.0], [0.0, 5.0]])
    fitted = truth[[2, 0, 1]] + 0.1
    assert match_components(truth, fitted).tolist() == [2, 0, 1]
    assert match_components(truth, fitted[:2]).tolist() == [2, 0]


def test_more_components_than_truth(tmp_path: Path) -> None:
    summary = simulate(SEPARATED, n=100, reps=3, k=3, seed=4, out_dir=tmp_path / "k3")
    extra = summary[summary["component"] == 3]
    assert extra["truth"].isna().all() and extra["bias"].isna().all()
    assert summary.loc[summary["component"] < 3, "truth"].notna().all()


def test_intervals_cover_about_95_percent(tmp_path: Path) -> None:
    summary = simulate(
        "0.5*N(-4,1) + 0.5*N(4,1)", n=400, reps=300, seed=11, out_dir=tmp_path / "cov", workers=2
    )
    assert (summary["n_se"] == 300).all(), "std_err should be filled by MixtureResult.params"
    assert summary["coverage"].mean() == pytest.approx(0.95, abs=0.025)
    assert summary["coverage"].between(0.90, 0.99).all()


def test_design_file_study_runs(design_toml: Path) -> None:
    design = load_design(design_toml)
    assert len(design.scenarios()) == 4


def test_comparable_drops_only_seconds() -> None:
    frame = pd.DataFrame({"seconds": [1.0], "estimate": [2.0]})
    assert list(comparable(frame).columns) == ["estimate"]
