"""The two coins of Do & Batzoglou (2008): a binomial mixture against its published EM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat import EMControl

REFERENCE = json.loads(
    (Path(__file__).parent.parent / "reference" / "binomial_two_coins.json").read_text()
)
HEADS = pd.DataFrame({"heads": REFERENCE["dataset"]["heads"]})
START = {"prob[heads]": [REFERENCE["start"]["theta_A"], REFERENCE["start"]["theta_B"]]}
LOG_BINOMIAL_COEFFICIENTS = 21.7732759437753


def _fit(version: str, control: EMControl) -> emstat.FamilyMixtureResult:
    fixed = [0.5, 0.5] if version == "fixed_weight" else None
    return emstat.fit_mixture(
        HEADS,
        k=2,
        family=emstat.Binomial(trials=10),
        init=START,
        fixed_weights=fixed,
        control=control,
    )


@pytest.mark.parametrize("version", ["fixed_weight", "estimated_weight"])
@pytest.mark.parametrize("iterations", [1, 2, 5, 10])
def test_each_iteration_matches_the_published_trajectory(version: str, iterations: int) -> None:
    expected = REFERENCE["results"][version]["trajectory_iter0_to_10"][iterations]
    with pytest.warns(emstat.ConvergenceWarning, match="iteration cap"):
        fit = _fit(version, EMControl(tol=0.0, criterion="abs", max_iter=iterations))
    assert fit.theta is not None
    probs = fit.theta.components[0][:, 0]
    np.testing.assert_allclose(probs, [expected["theta_A"], expected["theta_B"]], rtol=1e-13)
    assert fit.theta.weights[0] == pytest.approx(expected["w_A"], rel=1e-13)
    assert fit.loglik == pytest.approx(expected["loglik"], rel=1e-13)
    assert fit.n_iter == iterations


@pytest.mark.parametrize("version", ["fixed_weight", "estimated_weight"])
def test_converged_values_and_loglik(version: str) -> None:
    expected = REFERENCE["results"][version]["converged"]
    fit = _fit(version, EMControl(tol=1e-14, criterion="param"))
    assert fit.converged
    probs = fit.theta.components[0][:, 0] if fit.theta is not None else None
    np.testing.assert_allclose(probs, [expected["theta_A"], expected["theta_B"]], atol=1e-10)
    assert fit.loglik == pytest.approx(expected["loglik"], abs=1e-12)
    # Without the binomial coefficients, as the paper's likelihood.
    no_coefficients = fit.loglik - LOG_BINOMIAL_COEFFICIENTS
    assert no_coefficients == pytest.approx(expected["loglik_no_binom_coef"], abs=1e-10)
    direct = REFERENCE["results"][version]["check_direct_maximisation"]
    np.testing.assert_allclose(probs, [direct["theta_A"], direct["theta_B"]], atol=1e-7)


def test_fixed_weights_are_not_counted_as_parameters() -> None:
    fixed = _fit("fixed_weight", EMControl(tol=1e-12, criterion="param"))
    free = _fit("estimated_weight", EMControl(tol=1e-12, criterion="param"))
    assert (fixed.n_params, free.n_params) == (2, 3)
    weights = fixed.params[fixed.params["parameter"] == "weight"]
    assert (weights["estimate"] == 0.5).all() and (weights["std_err"] == 0).all()


def test_responsibilities_of_the_first_e_step() -> None:
    with pytest.warns(emstat.ConvergenceWarning, match="iteration cap"):
        fit = _fit("fixed_weight", EMControl(max_iter=1, tol=0.0, criterion="abs"))
    # The responsibilities at the parameters after one iteration are the second E-step's.
    expected = REFERENCE["results"]["fixed_weight"]["e_step_responsibilities_first10"][1]
    proba = fit.predict_proba(HEADS)
    np.testing.assert_allclose(proba[1], expected["resp_A_used_in_this_E_step"], rtol=1e-12)
