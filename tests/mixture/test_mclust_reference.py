"""emstat against frozen outputs of R's mclust 6.0.0 (tests/reference/, see README there).

From the same starting partition, every log-likelihood must match mclust's to
1e-8 relative; the whole BIC table of ``Mclust(X, G = 1:9)`` is checked.
Reported parameters come from an extra M-step in mclust's summary, so they
are compared more loosely than the log-likelihood.
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
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.gaussian import GaussianParams
from emstat.mixture.model import GaussianMixtureModel
from emstat.mixture.selection import SelectionResult

REFERENCE = Path(__file__).resolve().parent.parent / "reference"


def load(name: str) -> tuple[dict[str, Any], pd.DataFrame]:
    spec = json.loads((REFERENCE / f"{name}.json").read_text())
    data_file = spec["dataset"]["csv"] if "dataset" in spec else spec["simulation"]["csv"]
    return spec, pd.read_csv(REFERENCE / data_file)


def after_extra_m_step(fit: emstat.MixtureResult, data: Any) -> GaussianParams:
    """mclust's summary reports the parameters of one more M-step from the final z."""
    x = np.asarray(data, dtype=float).reshape(fit.n, fit.d)
    model = GaussianMixtureModel(get_covariance_model(fit.model, fit.d), fit.k)
    assert fit.params_ is not None
    stats, _ = model.e_step(fit.params_, x)
    return model.m_step(stats, fit.params_)


def select_quietly(data: Any, **kwargs: Any) -> SelectionResult:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", emstat.ConvergenceWarning)
        return emstat.select_mixture(data, convention="mclust", **kwargs)


def assert_table_matches(ours: pd.DataFrame, bic_table: dict[str, Any], rtol: float = 1e-8) -> None:
    expected = pd.DataFrame(
        [[math.nan if v is None else v for v in row] for row in bic_table["values"]],
        index=bic_table["G"],
        columns=bic_table["modelNames"],
    )
    ours = ours.loc[expected.index, expected.columns]
    assert (ours.isna().to_numpy() == expected.isna().to_numpy()).all()
    np.testing.assert_allclose(ours.to_numpy(), expected.to_numpy(), rtol=rtol)


def table_without(table: dict[str, Any], drop: list[str]) -> dict[str, Any]:
    keep = [j for j, m in enumerate(table["modelNames"]) if m not in drop]
    return {
        "G": table["G"],
        "modelNames": [table["modelNames"][j] for j in keep],
        "values": [[row[j] for j in keep] for row in table["values"]],
    }


def table_only(table: dict[str, Any], models: list[str]) -> dict[str, Any]:
    return table_without(table, [m for m in table["modelNames"] if m not in models])


@pytest.fixture(scope="module")
def faithful() -> tuple[dict[str, Any], pd.DataFrame, SelectionResult]:
    spec, data = load("mclust_faithful")
    return spec, data, select_quietly(data, k=range(1, 10), mclust_compatible=True)


def test_faithful_whole_bic_table(
    faithful: tuple[dict[str, Any], pd.DataFrame, SelectionResult],
) -> None:
    spec, _, selection = faithful
    # mclust_compatible runs mclust's own iterative M-steps (VEE, EVE, VVE), so
    # every cell agrees as closely as the closed forms do.
    assert_table_matches(selection.table, spec["runs"][0]["bic_table"], rtol=1e-10)


def test_exact_vve_beats_mclusts(
    faithful: tuple[dict[str, Any], pd.DataFrame, SelectionResult],
) -> None:
    # From the same start, the exact M-step climbs higher than mclust's approximation.
    _, data, selection = faithful
    exact = emstat.fit_mixture(data, k=3, model="VVE")
    assert exact.loglik > selection.fits[(3, "VVE")].loglik + 0.1


def test_faithful_chosen_model(
    faithful: tuple[dict[str, Any], pd.DataFrame, SelectionResult],
) -> None:
    spec, _, selection = faithful
    chosen = spec["runs"][0]["chosen"]
    best = selection.best
    assert (best.model, best.k) == (chosen["modelName"], chosen["G"])
    assert best.loglik == pytest.approx(chosen["loglik"], rel=1e-10)
    assert best.n_params == chosen["df"]
    assert best.bic_mclust == pytest.approx(chosen["bic"], rel=1e-10)
    assert best.icl_mclust == pytest.approx(chosen["icl"], rel=1e-8)
    assert best.n_iter == chosen["em"]["iterations"]
    reported = after_extra_m_step(best, faithful[1])
    np.testing.assert_allclose(reported.weights, chosen["pro"], rtol=1e-8)
    np.testing.assert_allclose(reported.means, chosen["mean"], rtol=1e-8)
    np.testing.assert_allclose(reported.covariances, chosen["sigma"], rtol=1e-7)


def test_faithful_vvv_three(faithful: tuple[dict[str, Any], pd.DataFrame, SelectionResult]) -> None:
    spec, data, _ = faithful
    chosen = spec["runs"][1]["chosen"]
    fit = emstat.fit_mixture(data, k=3, model="VVV")
    assert fit.loglik == pytest.approx(chosen["loglik"], rel=1e-10)
    assert fit.n_iter == chosen["em"]["iterations"]
    init = np.asarray(chosen["em"]["init_classification"]) - 1
    from_labels = emstat.fit_mixture(data, k=3, model="VVV", init=init)
    assert from_labels.loglik == pytest.approx(chosen["loglik"], rel=1e-10)


@pytest.fixture(scope="module")
def acidity() -> tuple[dict[str, Any], pd.DataFrame, SelectionResult]:
    spec, data = load("mclust_acidity")
    return spec, data, select_quietly(data["x"], k=range(1, 10))


def test_acidity_bic_table(acidity: tuple[dict[str, Any], pd.DataFrame, SelectionResult]) -> None:
    spec, _, selection = acidity
    assert_table_matches(selection.table, spec["runs"][0]["bic_table"])
    chosen = spec["runs"][0]["chosen"]
    assert (selection.best.model, selection.best.k) == (chosen["modelName"], chosen["G"])


@pytest.mark.parametrize("run", [1, 2])
def test_acidity_three_components(
    acidity: tuple[dict[str, Any], pd.DataFrame, SelectionResult], run: int
) -> None:
    spec, data, _ = acidity
    chosen = spec["runs"][run]["chosen"]
    fit = emstat.fit_mixture(data["x"], k=3, model=chosen["modelName"])
    assert fit.loglik == pytest.approx(chosen["loglik"], rel=1e-10)
    assert fit.n_iter == chosen["em"]["iterations"]
    reported = (
        after_extra_m_step(fit, data["x"])
        if chosen["em"]["extra_mstep_applied_by_summaryMclustBIC"]
        else fit.params_
    )
    assert reported is not None
    np.testing.assert_allclose(reported.means.ravel(), np.ravel(chosen["mean"]), rtol=1e-8)
    variances = reported.covariances.ravel()
    if chosen["modelName"] == "E":
        variances = variances[:1]
    np.testing.assert_allclose(variances, np.ravel(chosen["sigmasq"]), rtol=1e-7)


def test_simulated_two_component_v() -> None:
    spec, data = load("sim_mix2_V")
    expected = spec["result"]
    fit = emstat.fit_mixture(data["x"], k=2, model="V")
    assert fit.loglik == pytest.approx(expected["loglik"], rel=1e-10)
    assert fit.bic_mclust == pytest.approx(expected["bic"], rel=1e-10)
    assert fit.icl_mclust == pytest.approx(expected["icl"], rel=1e-8)
    assert fit.n_iter == expected["em"]["iterations"]
    assert fit.n_params == expected["df"]
    np.testing.assert_array_equal(
        emstat.mixture.hc.qclass(data["x"].to_numpy(), 2) + 1, expected["em"]["init_classification"]
    )
    np.testing.assert_array_equal(fit.predict(data["x"]).to_numpy(), expected["classification"])
    # This record has no extra M-step: the parameters are those of the last EM step.
    reported = fit.params_
    assert reported is not None
    np.testing.assert_allclose(reported.weights, expected["pro"], rtol=1e-8)
    np.testing.assert_allclose(reported.means.ravel(), expected["mean"], rtol=1e-8)
    np.testing.assert_allclose(reported.covariances.ravel(), expected["sigmasq"], rtol=1e-7)
