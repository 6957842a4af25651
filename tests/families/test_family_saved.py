"""Saved family fits: every bad field is one clear error; mutated files load or are refused."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emstat
from emstat.errors import EmstatError, InputError
from emstat.mixture.family_fit import load_family_fit

COUNTS = pd.DataFrame({"x": np.r_[np.arange(60) % 4, 6 + np.arange(60) % 5], "d": 2.0})
FIT = emstat.fit_mixture(COUNTS, k=2, family=emstat.Poisson(exposure="d"), columns=["x"])
PAYLOAD = FIT.to_dict()


def _with(path: list[Any], value: Any) -> dict[str, Any]:
    payload = copy.deepcopy(PAYLOAD)
    target = payload
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return payload


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (["std_errors"], [1.0], "std_errors must be a list of 4"),
        (["family"], "poisson", "must be a list of column entries"),
        (["n"], -10, "n must be > 0"),
        (["n_params"], -5, "n_params must be a whole number >= 0"),
        (["n_params"], 7, "n_params is 7; this family with k = 2 has 3"),
        (["fixed_weights"], [0.9, 0.9], "fixed weights sum to 1.8"),
        (["fixed_weights"], [1.0], "fixed_weights must be a list of 2"),
        (["family", 0, "exposure"], -3, "saved exposure of column 'x' is -3"),
        (["weights"], [0.3, 0.3], "sum to 0.6"),
        (["components"], [[[1.0], [-2.0]]], "rates or variances of column 'x' are negative"),
        (["components"], [[[1.0, 2.0]]], "components\\[0\\] must be a list of 2"),
        (["k"], "2", "k must be a whole number"),
        (["control"], {"tol": 1}, "control must be an object"),
        (["family", 0, "family"], "negbin", "unknown family 'negbin'"),
    ],
)
def test_each_bad_field_is_named(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(InputError, match=message):
        load_family_fit(_with(path, value))


def test_a_saved_fit_round_trips(tmp_path: Path) -> None:
    path = FIT.save(tmp_path / "fit.json")
    loaded = emstat.load_fit(path)
    pd.testing.assert_frame_equal(loaded.params, FIT.params)
    assert loaded.bic == FIT.bic
    assert json.loads(path.read_text())["format"] == "emstat.FamilyMixtureResult/1"


def _mutations() -> st.SearchStrategy[dict[str, Any]]:
    keys = sorted(PAYLOAD)
    junk = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-10, 10),
        st.floats(allow_nan=True, allow_infinity=True),
        st.text(max_size=3),
        st.lists(st.floats(-2, 2), max_size=3),
        st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
    )

    @st.composite
    def mutated(draw: st.DrawFn) -> dict[str, Any]:
        payload = copy.deepcopy(PAYLOAD)
        for _ in range(draw(st.integers(1, 3))):
            key = draw(st.sampled_from(keys))
            if draw(st.booleans()):
                payload.pop(key, None)
            else:
                payload[key] = draw(junk)
        payload["format"] = PAYLOAD["format"]
        return payload

    return mutated()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutations())
def test_mutated_payloads_load_or_raise_an_emstat_error(payload: dict[str, Any]) -> None:
    try:
        fit = load_family_fit(payload)
    except EmstatError:
        return
    if fit.ok:
        assert np.isfinite(fit.params["estimate"]).all()
