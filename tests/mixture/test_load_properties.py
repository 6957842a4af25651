"""Any mutation of a saved fit loads as a valid fit or raises EmstatError, nothing else."""

from __future__ import annotations

import copy
import json
import tempfile
import warnings
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emstat
from emstat.errors import EmstatError

Path_ = tuple[Any, ...]


@cache
def data() -> pd.DataFrame:
    return emstat.load_dataset("faithful")


@cache
def base_payloads() -> tuple[dict[str, Any], ...]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        good = emstat.fit_mixture(data(), k=2, model="VVV").to_dict()
        diagonal = emstat.fit_mixture(data(), k=2, model="VVI").to_dict()
        x = np.vstack([np.random.default_rng(0).normal(size=(30, 2)), [[5.0, 5.0]] * 3])
        degenerate = emstat.fit_mixture(x, k=2, model="VVV", init=np.repeat([0, 1], [30, 3]))
    return good, diagonal, degenerate.to_dict()


def paths(node: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every place in the payload: keys of objects, positions in lists."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += paths(value, (*prefix, i))
    return found


def parent_of(payload: Any, path: Path_) -> Any:
    node = payload
    for step in path[:-1]:
        node = node[step]
    return node


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.sampled_from(["VVV", "E", "V", "EEE", "VVI", "full", "emstat.MixtureResult/1"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)


@st.composite
def mutations(draw: st.DrawFn) -> dict[str, Any]:
    payload = copy.deepcopy(draw(st.sampled_from(base_payloads())))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        where = paths(payload)
        if not where:
            break
        path = draw(st.sampled_from(where))
        parent = parent_of(payload, path)
        key = path[-1]
        action = draw(st.sampled_from(["drop", "replace", "scale", "duplicate", "wrap"]))
        if action == "drop":
            del parent[key]
        elif action == "replace":
            parent[key] = draw(values)
        elif action == "scale" and isinstance(parent[key], (int, float)):
            factor = draw(st.sampled_from([-1.0, 0.0, 0.5, 1.8, 1e300, float("nan")]))
            parent[key] = parent[key] * factor
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(key, copy.deepcopy(parent[key]))
        elif action == "wrap":
            parent[key] = [parent[key]]
    return payload


def exercise(fit: emstat.MixtureResult) -> None:
    """What a user does with a loaded fit."""
    fit.summary()
    fit._repr_html_()
    json.dumps(fit.to_dict())
    if fit.ok:
        fit.params  # noqa: B018
        fit.predict(data())
        fit.sample(3, seed=0)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(mutations())
def test_a_mutated_fit_loads_or_raises_emstat_error(payload: dict[str, Any]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fit.json"
        path.write_text(json.dumps(payload))
        try:
            fit = emstat.load_fit(path)
        except EmstatError:
            return
        try:
            exercise(fit)
        except EmstatError:
            return
