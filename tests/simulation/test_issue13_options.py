"""Issue 13's fitter options and missing cells through simulation studies (CLI and API)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

import emstat
from emstat.cli import friendly_errors
from emstat.cli.simulate import simulate as simulate_command
from emstat.engine import EMControl
from emstat.errors import InputError
from emstat.simulation import simulate
from emstat.simulation.design import Design, FitSettings, load_design
from emstat.simulation.generate import replicate_rng

from .conftest import SEPARATED

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
app.command()(friendly_errors(simulate_command))
runner = CliRunner()

#: Two 2-D components, close enough that the fitter's options change the estimates.
MIXTURE_2D = """
[mixture]
columns = ["a", "b"]
weights = [0.4, 0.6]
means = [[0.0, 0.0], [2.5, 1.0]]
covariances = [[[1.0, 0.3], [0.3, 0.5]], [[0.8, 0.0], [0.0, 1.2]]]
"""


def _design_file(tmp_path: Path, body: str, *, reps: int = 20, n: int = 100) -> Path:
    path = tmp_path / "design.toml"
    path.write_text(f"reps = {reps}\nseed = 7\n{MIXTURE_2D}\n[grid]\nn = [{n}]\n{body}")
    return path


def _run_cli(design: Path, out: Path, *extra: str) -> Any:
    return runner.invoke(
        app, ["--design", str(design), "--out-dir", str(out), "-j", "1", "-q", *extra]
    )


def _replicate_data(design: Design, replicate: int, n: int) -> tuple[pd.DataFrame, int]:
    """The replicate's data as the documented streams draw them, and its fit's seed."""
    rng, fit_seed = replicate_rng(design.seed, replicate)
    data, _ = design.mixture.separated(1.0).draw(n, rng)
    return data, fit_seed


def _missing_mask(seed: int, replicate: int, shape: tuple[int, int], rate: float) -> np.ndarray:
    """MCAR deletions from the replicate's third stream, computed here from its definition."""
    stream = np.random.SeedSequence(seed, spawn_key=(replicate, 2))
    return np.random.default_rng(stream).random(shape) < rate


def _stored(rows: pd.DataFrame, replicate: int) -> np.ndarray:
    return np.sort(rows.loc[rows["replicate"] == replicate, "estimate"].to_numpy(dtype=float))


def _fitted(fit: Any) -> np.ndarray:
    return np.sort(fit.params["estimate"].to_numpy(dtype=float))


# --------------------------------------------------------------------------- #
# algorithm, init, inner_tol, mclust_compatible
# --------------------------------------------------------------------------- #


def test_cem_study_through_the_cli_stores_cem_fits(tmp_path: Path) -> None:
    design_path = _design_file(tmp_path, '[fit]\nalgorithm = "cem"\n')
    out = tmp_path / "cem"
    result = _run_cli(design_path, out)
    assert result.exit_code == 0, result.output
    rows = pd.read_parquet(out / "replicates.parquet")
    assert rows["replicate"].nunique() == 20 and (rows["error"] == "").all()
    design = load_design(design_path)
    control = design.fit.control()
    differs = 0
    for replicate in (0, 7, 19):
        data, fit_seed = _replicate_data(design, replicate, 100)
        cem = emstat.fit_mixture(data, 2, algorithm="cem", seed=fit_seed, control=control)
        np.testing.assert_allclose(_stored(rows, replicate), _fitted(cem), rtol=1e-12)
        em = emstat.fit_mixture(data, 2, seed=fit_seed, control=control)
        differs += not np.allclose(_stored(rows, replicate), _fitted(em), rtol=1e-6)
    assert differs >= 1  # the option reached the fits: CEM's estimates are not EM's
    recorded = json.loads((out / "run.json").read_text())["design"]["fit"]
    assert recorded["algorithm"] == "cem"


def test_sem_study_is_seeded_and_stops_by_flexmix_rule() -> None:
    design = load_design_from({"algorithm": "sem"})
    assert (design.fit.tol, design.fit.criterion, design.fit.max_iter) == (1e-6, "rel", 200)
    summary_a, rows = _run_api(design)
    data, fit_seed = _replicate_data(design, 3, 100)
    sem = emstat.fit_mixture(
        data, 2, algorithm="sem", seed=fit_seed, control=EMControl(1e-6, "rel", 200)
    )
    np.testing.assert_allclose(_stored(rows, 3), _fitted(sem), rtol=1e-12)
    summary_b, _ = _run_api(design)
    pd.testing.assert_frame_equal(summary_a, summary_b)


def test_cem_start_inner_tol_and_mclust_compatible_reach_the_fit() -> None:
    options = {"init": "cem", "inner_tol": 1e-9, "mclust_compatible": True}
    design = load_design_from(options, model="VEE")
    _, rows = _run_api(design)
    data, fit_seed = _replicate_data(design, 5, 100)
    fit = emstat.fit_mixture(data, 2, "VEE", seed=fit_seed, control=design.fit.control(), **options)
    np.testing.assert_allclose(_stored(rows, 5), _fitted(fit), rtol=1e-12)


def test_family_study_takes_the_algorithm(tmp_path: Path) -> None:
    truth = "0.5*Pois(2) + 0.5*Pois(9)"
    fit_options = {"algorithm": "cem"}
    out = tmp_path / "pois"
    simulate(truth, n=100, reps=6, seed=4, fit=fit_options, out_dir=out)
    rows = pd.read_parquet(out / "replicates.parquet")
    design = json.loads((out / "run.json").read_text())["design"]
    assert design["fit"]["algorithm"] == "cem"
    from emstat.simulation.design import mixture_from_formula

    rng, fit_seed = replicate_rng(4, 2)
    data, _ = mixture_from_formula(truth).draw(100, rng)
    fit = emstat.fit_mixture(
        data, 2, family="poisson", algorithm="cem", seed=fit_seed, control=EMControl()
    )
    np.testing.assert_allclose(_stored(rows, 2), _fitted(fit), rtol=1e-12)


# --------------------------------------------------------------------------- #
# prior and noise
# --------------------------------------------------------------------------- #


def test_prior_study_stores_map_fits_and_selects_with_the_prior(tmp_path: Path) -> None:
    out = tmp_path / "prior"
    simulate(
        SEPARATED, n=60, reps=5, seed=2, model="V", select_k=[1, 2, 3],
        fit={"prior": "mclust"}, out_dir=out, workers=1,
    )  # fmt: skip
    rows = pd.read_parquet(out / "replicates.parquet")
    chosen = pd.read_parquet(out / "selection.parquet")
    design = load_design_from_dir(out)
    for replicate in (0, 4):
        data, fit_seed = _replicate_data(design, replicate, 60)
        control = design.fit.control()
        selection = emstat.select_mixture(
            data, [1, 2, 3], ["V"], prior="mclust", seed=fit_seed, control=control
        )
        best = chosen[(chosen["replicate"] == replicate) & (chosen["criterion"] == "bic")]
        assert int(best["k"].iloc[0]) == selection.best_for("bic").k
        fit = emstat.fit_mixture(data, 2, "V", prior="mclust", seed=fit_seed, control=control)
        np.testing.assert_allclose(_stored(rows, replicate), _fitted(fit), rtol=1e-10)
        mle = emstat.fit_mixture(data, 2, "V", seed=fit_seed, control=control)
        assert not np.allclose(_stored(rows, replicate), _fitted(mle), rtol=1e-8)


def test_prior_table_of_hyperparameters() -> None:
    prior = {"shrinkage": 0.5, "dof": 6.0, "scale": 2.0}
    design = load_design_from({"prior": prior})
    assert design.to_dict()["fit"]["prior"] == prior
    _, rows = _run_api(design)
    data, fit_seed = _replicate_data(design, 1, 100)
    fit = emstat.fit_mixture(
        data, 2, prior=emstat.GaussianPrior(**prior), seed=fit_seed,
        control=design.fit.control(),
    )  # fmt: skip
    np.testing.assert_allclose(_stored(rows, 1), _fitted(fit), rtol=1e-12)


def test_noise_study_records_the_noise_weight_as_component_zero(tmp_path: Path) -> None:
    design_path = _design_file(tmp_path, "[fit]\nnoise = true\n", reps=6)
    out = tmp_path / "noise"
    result = _run_cli(design_path, out)
    assert result.exit_code == 0, result.output
    rows = pd.read_parquet(out / "replicates.parquet")
    noise = rows[rows["component"] == 0]
    assert sorted(noise["parameter"].unique()) == ["Vinv", "weight"]
    assert (noise.loc[noise["parameter"] == "weight", "truth"] == 0.0).all()
    design = load_design(design_path)
    data, fit_seed = _replicate_data(design, 2, 100)
    fit = emstat.fit_mixture(data, 2, noise=True, seed=fit_seed, control=design.fit.control())
    np.testing.assert_allclose(_stored(rows, 2), _fitted(fit), rtol=1e-12)
    summary = pd.read_csv(out / "summary.csv")
    weight = summary[(summary["component"] == 0) & (summary["parameter"] == "weight")]
    assert len(weight) == 1 and weight["bias"].iloc[0] == pytest.approx(
        noise.loc[noise["parameter"] == "weight", "estimate"].mean()
    )


def test_noise_truth_adds_outliers_for_the_noise_fit_to_find(tmp_path: Path) -> None:
    body = "[fit]\nnoise = true\n[noise]\nshare = 0.2\n"
    design_path = _design_file(tmp_path, body, reps=8, n=150)
    out = tmp_path / "outliers"
    result = _run_cli(design_path, out)
    assert result.exit_code == 0, result.output
    rows = pd.read_parquet(out / "replicates.parquet")
    assert json.loads((out / "run.json").read_text())["design"]["noise"] == {"share": 0.2}
    design = load_design(design_path)
    data, fit_seed = _replicate_data(design, 4, 150)
    # 30 outliers from the replicate's fourth stream, uniform over the data's box
    stream = np.random.default_rng(np.random.SeedSequence(7, spawn_key=(4, 3)))
    low, high = data.min().to_numpy(), data.max().to_numpy()
    outliers = pd.DataFrame(low + (high - low) * stream.random((30, 2)), columns=["a", "b"])
    noisy = pd.concat([data, outliers], ignore_index=True)
    fit = emstat.fit_mixture(noisy, 2, noise=True, seed=fit_seed, control=design.fit.control())
    np.testing.assert_allclose(_stored(rows, 4), _fitted(fit), rtol=1e-12)
    weights = rows[rows["parameter"] == "weight"].drop_duplicates("component")
    truth = dict(zip(weights["component"], weights["truth"], strict=True))
    assert truth == pytest.approx({0: 30 / 180, 1: 0.4 * 150 / 180, 2: 0.6 * 150 / 180})
    summary = pd.read_csv(out / "summary.csv")
    found = summary[(summary["component"] == 0) & (summary["parameter"] == "weight")]
    clean = tmp_path / "clean"
    assert (
        _run_cli(_design_file(tmp_path, "[fit]\nnoise = true\n", reps=8, n=150), clean).exit_code
        == 0
    )
    plain = pd.read_csv(clean / "summary.csv")
    without = plain[(plain["component"] == 0) & (plain["parameter"] == "weight")]
    # the noise component takes some tail points either way (0.08 here without outliers);
    # the outliers raise its weight by about their share
    rise = found["mean"].iloc[0] - without["mean"].iloc[0]
    assert rise == pytest.approx(30 / 180, abs=0.04)


def test_noise_truth_is_refused_where_it_cannot_apply() -> None:
    with pytest.raises(InputError, match="count or a share of outliers, not both"):
        load_design_from(None, noise={"count": 3, "share": 0.1})
    with pytest.raises(InputError, match="noise: unknown keys"):
        load_design_from(None, noise={"rows": 3})
    with pytest.raises(InputError, match="Gaussian studies only"):
        simulate("0.5*Pois(2) + 0.5*Pois(9)", n=50, reps=2, noise={"count": 3})


# --------------------------------------------------------------------------- #
# missing cells
# --------------------------------------------------------------------------- #


def test_missing_cells_through_the_cli(tmp_path: Path) -> None:
    design_path = _design_file(tmp_path, "[missing]\nrate = 0.1\n")
    out = tmp_path / "missing"
    result = _run_cli(design_path, out)
    assert result.exit_code == 0, result.output
    rows = pd.read_parquet(out / "replicates.parquet")
    design = load_design(design_path)
    shares = rows.drop_duplicates("replicate").set_index("replicate")["missing_share"]
    total = 0
    for replicate in range(20):
        mask = _missing_mask(7, replicate, (100, 2), 0.1)
        total += int(mask.sum())
        assert shares[replicate] == pytest.approx(mask.mean())
    assert 0.08 < total / (20 * 100 * 2) < 0.12
    for replicate in (0, 11):
        data, fit_seed = _replicate_data(design, replicate, 100)
        holed = data.mask(_missing_mask(7, replicate, (100, 2), 0.1))
        with warnings.catch_warnings():  # rows with both cells gone are left out, with a warning
            warnings.simplefilter("ignore")
            fit = emstat.fit_mixture(holed, 2, seed=fit_seed, control=design.fit.control())
        assert fit.params.attrs["missing"]["cells"] == int(holed.isna().sum().sum())
        np.testing.assert_allclose(_stored(rows, replicate), _fitted(fit), rtol=1e-12)
    # the same data sets without their holes: the study without [missing] fits them whole
    whole = tmp_path / "whole"
    plain = _design_file(tmp_path, "")
    assert _run_cli(plain, whole).exit_code == 0
    complete = pd.read_parquet(whole / "replicates.parquet")
    data, fit_seed = _replicate_data(design, 0, 100)
    fit = emstat.fit_mixture(data, 2, seed=fit_seed, control=design.fit.control())
    np.testing.assert_allclose(_stored(complete, 0), _fitted(fit), rtol=1e-12)
    assert "missing_share" not in complete.columns


def test_mar_deletes_other_columns_more_where_the_first_is_high() -> None:
    design = load_design_from(None, missing={"rate": 0.2, "mechanism": "mar"}, reps=4, n=2000)
    from emstat.simulation.generate import missing_rng
    from emstat.simulation.missingness import delete_cells

    data, _ = _replicate_data(design, 0, 2000)
    holed, deleted = delete_cells(data, design.missing, missing_rng(design.seed, 0))
    assert holed["a"].notna().all()
    gone = holed["b"].isna()
    assert 0.17 < gone.mean() < 0.23 and deleted == pytest.approx(gone.mean() / 2)
    high = data["a"] > data["a"].median()
    assert gone[high].mean() > 2 * gone[~high].mean()  # chance 2 r (rank - 1/2) / n
    pd.testing.assert_frame_equal(holed[~gone], data[~gone])


# --------------------------------------------------------------------------- #
# resumption, bad input
# --------------------------------------------------------------------------- #


def test_resume_refuses_a_changed_option(tmp_path: Path) -> None:
    out = tmp_path / "study"
    cem = _design_file(tmp_path, '[fit]\nalgorithm = "cem"\n', reps=3)
    assert _run_cli(cem, out).exit_code == 0
    assert _run_cli(cem, out).exit_code == 0  # the same study: read again
    sem = _design_file(tmp_path, '[fit]\nalgorithm = "sem"\n', reps=3)
    refused = _run_cli(sem, out)
    assert refused.exit_code == 2 and "different design" in refused.output
    holed = _design_file(tmp_path, '[fit]\nalgorithm = "em"\n[missing]\nrate = 0.1\n', reps=3)
    refused = _run_cli(holed, out)
    assert refused.exit_code == 2 and "different design" in refused.output
    assert (out / "replicates.parquet").is_file()


def test_a_study_without_the_options_is_recorded_as_before() -> None:
    spec = load_design_from(None).to_dict()
    assert list(spec["fit"]) == ["init", "tol", "criterion", "max_iter"]
    assert "missing" not in spec
    spec = load_design_from({"algorithm": "em", "noise": False}).to_dict()
    assert list(spec["fit"]) == ["init", "tol", "criterion", "max_iter"]


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('[fit]\nalgorithm = "gibbs"\n', ["algorithm 'gibbs'", "em, cem, sem"]),
        ('[fit]\ninit = "ward"\n', ["init 'ward'", "cem"]),
        ('[fit]\nprior = "flat"\n', ["prior 'flat'", "mclust"]),
        ("[fit.prior]\ndof = 0.5\n", ["prior", "dof"]),
        ("[fit.prior]\nwidth = 1\n", ["prior keys", "width", "shrinkage"]),
        ("[fit]\ninner_tol = -1\n", ["fit: inner_tol", ">= 0 and < 1"]),
        ('[fit]\nnoise = "yes"\n', ["noise must be true or false"]),
        ("[fit]\nmclust_compatible = 1\n", ["mclust_compatible must be true or false"]),
        ('[fit]\nnoise = true\nalgorithm = "cem"\n', ["noise", "cem"]),
        ("[fit]\nboost = 1\n", ["unknown keys", "boost", "algorithm"]),
        ("[missing]\nrate = 1.5\n", ["missing: rate", "between 0 and 1"]),
        ('[missing]\nrate = 0.1\nmechanism = "mnar"\n', ["mechanism 'mnar'", "mcar, mar"]),
        ('[missing]\nrate = 0.6\nmechanism = "mar"\n', ["at most 0.5", "mar"]),
        ("[missing]\nshare = 0.1\n", ["missing: unknown keys", "share", "rate"]),
        ('[fit]\nalgorithm = "cem"\n[missing]\nrate = 0.1\n', ["missing", "algorithm = 'cem'"]),
    ],
)
def test_bad_options_are_one_clear_line(tmp_path: Path, body: str, words: list[str]) -> None:
    result = _run_cli(_design_file(tmp_path, body, reps=2), tmp_path / "o")
    assert result.exit_code == 2, result.output
    assert result.output.startswith("error:") and "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    for word in words:
        assert word in result.output
    assert not (tmp_path / "o").exists()


def test_gaussian_only_options_are_refused_for_other_families() -> None:
    with pytest.raises(InputError, match=r"prior serves Gaussian studies only.*poisson"):
        simulate("0.5*Pois(2) + 0.5*Pois(9)", n=50, reps=2, fit={"prior": "mclust"})
    with pytest.raises(InputError, match="mar needs at least 2 columns"):
        simulate(SEPARATED, n=50, reps=2, missing={"rate": 0.1, "mechanism": "mar"})


def test_fit_settings_refuse_bad_values_directly() -> None:
    with pytest.raises(InputError, match="unknown algorithm 'x'"):
        FitSettings(algorithm="x")
    prior = FitSettings(prior={"dof": 5}).options()["prior"]
    assert isinstance(prior, emstat.GaussianPrior) and prior.dof == 5.0 and prior.scale is None
    with pytest.raises(InputError, match="dof must be > d - 1 = 1"):
        load_design_from({"prior": {"dof": 0.5}})
    with pytest.raises(InputError, match="prior mean has 3 values; the data have d = 2"):
        load_design_from({"prior": {"mean": [0, 0, 0]}})


# --------------------------------------------------------------------------- #
# helpers
# --------------------------------------------------------------------------- #


def load_design_from(
    fit: dict[str, Any] | None,
    *,
    model: str = "VVV",
    missing: dict[str, Any] | None = None,
    noise: dict[str, Any] | None = None,
    reps: int = 6,
    n: int = 100,
) -> Design:
    from emstat.simulation.design import make_design, mixture_from_mapping

    truth = mixture_from_mapping(
        {
            "columns": ["a", "b"],
            "weights": [0.4, 0.6],
            "means": [[0.0, 0.0], [2.5, 1.0]],
            "covariances": [[[1.0, 0.3], [0.3, 0.5]], [[0.8, 0.0], [0.0, 1.2]]],
        }
    )
    return make_design(
        truth, n=n, reps=reps, seed=7, model=model, fit=fit, missing=missing, noise=noise
    )


def load_design_from_dir(out: Path) -> Design:
    """The design of a study directory's run.json (a 1-D formula study)."""
    from emstat.simulation.design import make_design, mixture_from_mapping

    spec = json.loads((out / "run.json").read_text())["design"]
    truth = mixture_from_mapping(spec["mixture"])
    return make_design(truth, n=spec["grid"]["n"], reps=spec["reps"], seed=spec["seed"])


def _run_api(design: Design) -> tuple[pd.DataFrame, pd.DataFrame]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        summary = simulate(design=design, out_dir=Path(tmp) / "s", workers=1)
        rows = pd.read_parquet(Path(tmp) / "s" / "replicates.parquet")
    return summary, rows
