"""Agreement with R's cat 0.0-9 (tests/reference/cat_*.json, see README_cat.md)."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest

from emstat.categorical import fit_categorical

from ._refdata import read_reference_csv, read_reference_json

CASES = {"cat_crimes.json": "N", "cat_older4.json": "Freq"}


def _margins_from_call(r_call: str, variables: list[str]) -> list[list[str]] | None:
    """cat's ``margins = c(1, 2, 0, 3, 4)`` as column names; None for em.cat."""
    found = re.search(r"margins\s*=\s*c\(([^)]*)\)", r_call)
    if found is None:
        return None
    terms: list[list[str]] = [[]]
    for token in found.group(1).split(","):
        number = int(token)
        if number == 0:
            terms.append([])
        else:
            terms[-1].append(variables[number - 1])
    return [t for t in terms if t]


def _prior_from_call(r_call: str) -> float:
    found = re.search(r"prior\s*=\s*([0-9.eE+-]+)", r_call)
    return float(found.group(1)) if found else 1.0


def _runs() -> list[Any]:
    params = []
    for name, counts in CASES.items():
        ref = read_reference_json(name)
        for est in ref["estimates"]:
            params.append(pytest.param(name, counts, ref, est, id=f"{name}:{est['r_call']}"))
    return params


def _fit(name: str, counts: str, ref: dict[str, Any], est: dict[str, Any]) -> Any:
    frame = read_reference_csv(ref["dataset"]["csv"])
    variables = ref["variables"]
    return fit_categorical(
        frame,
        counts,
        variables=variables,
        margins=_margins_from_call(est["r_call"], variables),
        prior=_prior_from_call(est["r_call"]),
    )


@pytest.mark.parametrize(("name", "counts", "ref", "est"), _runs())
def test_cell_probabilities_match_cat(
    name: str, counts: str, ref: dict[str, Any], est: dict[str, Any]
) -> None:
    res = _fit(name, counts, ref, est)
    want = np.reshape(est["theta_colmajor"], est["dim"], order="F")
    np.testing.assert_allclose(res.theta, want, rtol=0, atol=1e-8)
    # the labelled Series says the same, cell by cell
    for cell, value in res.probabilities.items():
        codes = [
            ref["dimnames"][v].index(str(int(level)))
            for v, level in zip(res.variables, cell, strict=True)
        ]
        assert abs(value - want[tuple(codes)]) <= 1e-8


@pytest.mark.parametrize(("name", "counts", "ref", "est"), _runs())
def test_loglik_and_iterations_match_cat(
    name: str, counts: str, ref: dict[str, Any], est: dict[str, Any]
) -> None:
    res = _fit(name, counts, ref, est)
    assert res.loglik == pytest.approx(est["loglik"], rel=1e-9, abs=0)
    assert res.n_iter == est["iterations"]
    assert res.converged is (not est["hit_maxits"])
    if "logpost_with_prior" in est:
        assert res.logpost == pytest.approx(est["logpost_with_prior"], rel=1e-9, abs=0)


@pytest.mark.parametrize("name", list(CASES))
def test_patterns_match_prelim_cat(name: str) -> None:
    ref = read_reference_json(name)
    frame = read_reference_csv(ref["dataset"]["csv"])
    res = fit_categorical(frame, CASES[name], variables=ref["variables"])
    pats = ref["prelim"]["missingness_patterns"]
    got = res.patterns
    np.testing.assert_array_equal(got[ref["variables"]].to_numpy().astype(int), np.array(pats["r"]))
    np.testing.assert_array_equal(
        got["count"].to_numpy(), [float(x) for x in pats["pattern_sizes"]]
    )
    assert res.n_units == ref["prelim"]["total_count"]
    assert got["n_rows"].sum() == ref["prelim"]["nrow_x"]


@pytest.mark.parametrize("name", list(CASES))
def test_saturated_equals_full_margin(name: str) -> None:
    """em.cat is ecm.cat with the single full margin: the same numbers either way."""
    ref = read_reference_json(name)
    frame = read_reference_csv(ref["dataset"]["csv"])
    a = fit_categorical(frame, CASES[name], variables=ref["variables"])
    b = fit_categorical(frame, CASES[name], variables=ref["variables"], margins=[ref["variables"]])
    np.testing.assert_array_equal(a.theta, b.theta)
    assert a.n_iter == b.n_iter
