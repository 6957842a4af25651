"""The noise component against frozen outputs of R's mclust 6.0.0.

``tests/reference/mclust_noise.json`` was written by
``tests/reference/make_noise_reference.R`` (see README_noise.md there):
``Mclust(X, G = 0:9, initialization = list(noise = start))`` on Old Faithful
with 60 uniform outliers (2-D, all 14 models) and on its eruptions with 25
(1-D), the start being the rows drawn as outliers.
"""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.mixture.noise import log_hypervolume

REFERENCE = Path(__file__).resolve().parent / "reference"
SPEC = json.loads((REFERENCE / "mclust_noise.json").read_text())
# mclust 6.0's own VEE, EVE and VVE M-steps stop early: their cells need mclust_compatible
_APPROXIMATE = {"VEE", "EVE", "VVE"}


def data(name: str) -> pd.DataFrame:
    return pd.read_csv(REFERENCE / f"mclust_noise_{name}.csv")


def values(name: str) -> np.ndarray:
    return data(name).drop(columns="noise_start").to_numpy()


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


@pytest.fixture(scope="module")
def selections() -> dict[str, emstat.SelectionResult]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return {
            name: emstat.select_mixture(
                data(name), noise="noise_start", mclust_compatible=True, convention="mclust"
            )
            for name in ("faithful", "eruptions")
        }


def r_table(name: str) -> pd.DataFrame:
    spec = SPEC[name]
    return pd.DataFrame(spec["bic"], index=spec["bic_G"], columns=spec["bic_models"])


@pytest.mark.parametrize("name", ["faithful", "eruptions"])
def test_hypervolume_and_vinv_are_mclusts(name: str) -> None:
    assert math.exp(log_hypervolume(values(name))) == pytest.approx(SPEC[name]["hypvol"], 1e-13)
    fit = emstat.fit_mixture(data(name), 1, noise="noise_start")
    assert fit.vinv == pytest.approx(SPEC[name]["Vinv"], rel=1e-13)


@pytest.mark.parametrize("name", ["faithful", "eruptions"])
def test_whole_bic_table_over_k_0_to_9_agrees_with_mclust(
    name: str, selections: dict[str, emstat.SelectionResult]
) -> None:
    selection = selections[name]
    expected = r_table(name)
    assert selection.ks == list(range(10))  # G = 0:9, mclust's default with noise
    table = selection.table.loc[expected.index, expected.columns]
    relative = np.abs(table.to_numpy() - expected.to_numpy()) / np.abs(expected.to_numpy())
    worst = np.unravel_index(np.argmax(relative), relative.shape)
    assert relative.max() <= 1e-6, (expected.index[worst[0]], expected.columns[worst[1]])


@pytest.mark.parametrize("name", ["faithful", "eruptions"])
def test_noise_only_row_is_two_n_log_vinv_minus_log_n(
    name: str, selections: dict[str, emstat.SelectionResult]
) -> None:
    spec = SPEC[name]
    row = selections[name].table.loc[0]
    assert np.allclose(
        row, 2 * spec["n"] * math.log(spec["Vinv"]) - math.log(spec["n"]), rtol=1e-12
    )
    assert selections[name].fits[(0, row.index[0])].n_params == 1


@pytest.mark.parametrize("name", ["faithful", "eruptions"])
def test_best_model_and_classification_are_mclusts(
    name: str, selections: dict[str, emstat.SelectionResult]
) -> None:
    best = selections[name].best
    spec = SPEC[name]["best"]
    assert (best.model, best.k) == (spec["model"], spec["G"])
    assert best.loglik == pytest.approx(spec["loglik"], rel=1e-10)
    assert best.n_params == spec["df"]
    frame = data(name).drop(columns="noise_start")
    # mclust labels the noise 0 and the components 1..G, as predict does
    assert best.predict(frame).tolist() == spec["classification"]


def _cells() -> list[tuple[str, dict[str, Any]]]:
    return [(name, cell) for name in ("faithful", "eruptions") for cell in SPEC[name]["cells"]]


@pytest.mark.parametrize(
    ("name", "cell"), _cells(), ids=[f"{n}-{c['model']}{c['G']}" for n, c in _cells()]
)
def test_cell_parameters_agree_with_mclust(name: str, cell: dict[str, Any]) -> None:
    fit = emstat.fit_mixture(
        data(name),
        cell["G"],
        cell["model"],
        noise="noise_start",
        mclust_compatible=cell["model"] in _APPROXIMATE,
    )
    assert fit.loglik == pytest.approx(cell["loglik"], rel=1e-9)
    assert fit.bic_mclust == pytest.approx(cell["bic"], rel=1e-9)
    assert fit.n_params == cell["df"]
    pro = np.asarray(cell["pro"])
    assert fit.noise_weight == pytest.approx(pro[-1], abs=1e-7)
    assert fit.weights.to_numpy() == pytest.approx(pro[:-1], abs=1e-7)
    assert fit.weights.sum() + fit.noise_weight == pytest.approx(1.0, abs=1e-14)
    assert fit.means.to_numpy() == pytest.approx(np.asarray(cell["mean"]), rel=1e-6)
    sigma = np.asarray(cell["sigma"]).reshape(cell["G"], fit.d, fit.d)
    covariances = np.stack([c.to_numpy() for c in fit.covariances.values()])
    assert covariances == pytest.approx(sigma, rel=1e-6, abs=1e-9)
    assert fit.predict(data(name).drop(columns="noise_start")).tolist() == cell["classification"]


def test_exact_m_steps_agree_with_mclust_outside_its_approximate_models() -> None:
    models = [m for m in SPEC["faithful"]["bic_models"] if m not in _APPROXIMATE]
    selection = emstat.select_mixture(
        data("faithful"), k=[0, 1, 2, 3], models=models, noise="noise_start", convention="mclust"
    )
    expected = r_table("faithful").loc[[0, 1, 2, 3], models]
    assert np.allclose(selection.table.to_numpy(), expected.to_numpy(), rtol=1e-8, atol=0)


def test_users_vinv_is_mclusts_vinv_argument() -> None:
    spec = SPEC["faithful_vinv"]
    fit = emstat.fit_mixture(data("faithful"), 2, "VVV", noise="noise_start", Vinv=spec["Vinv"])
    assert fit.vinv == spec["Vinv"]
    assert fit.loglik == pytest.approx(spec["loglik"], rel=1e-9)
    assert fit.bic_mclust == pytest.approx(spec["bic"], rel=1e-9)
    assert fit.noise_weight == pytest.approx(spec["pro"][-1], abs=1e-7)
