"""Whatever a user passes, fit_mixture and select_mixture return a result or raise one EmstatError.

Random small frames with NaN, infinities, strings, bools, complex numbers,
object columns, repeated names, no rows or one row, and random bad
arguments: never a TypeError, KeyError or a numpy error from inside.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emstat
from emstat.errors import EmstatError

FLOATS = st.floats(allow_nan=True, allow_infinity=True, width=64) | st.sampled_from(
    [0.0, 1.0, -2.5, 3.25, 1e300]
)


@st.composite
def columns(draw: st.DrawFn, n: int) -> Any:
    """One column of n values, of a kind users meet."""
    kind = draw(st.sampled_from(["float", "int", "bool", "str", "complex", "object", "nan"]))
    if kind == "float":
        return np.array(draw(st.lists(FLOATS, min_size=n, max_size=n)), dtype=float)
    if kind == "int":
        return np.array(draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)), dtype=int)
    if kind == "bool":
        return np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)), dtype=bool)
    if kind == "str":
        return np.array(draw(st.lists(st.text(max_size=3), min_size=n, max_size=n)), dtype=object)
    if kind == "complex":
        values = draw(st.lists(st.complex_numbers(max_magnitude=10), min_size=n, max_size=n))
        return np.array(values, dtype=complex)
    if kind == "nan":
        return np.full(n, np.nan)
    items = st.one_of(st.none(), st.integers(-3, 3), FLOATS, st.text(max_size=2))
    return np.array(draw(st.lists(items, min_size=n, max_size=n)), dtype=object)


@st.composite
def frames(draw: st.DrawFn) -> Any:
    n = draw(st.integers(0, 7))
    d = draw(st.integers(0, 3))
    names = draw(
        st.lists(st.sampled_from(["a", "b", "c", "a", 0, 1]), min_size=d, max_size=d)
    )  # repeats on purpose
    frame = pd.DataFrame({j: draw(columns(n)) for j in range(d)}, index=range(n))
    frame.columns = pd.Index(names, dtype=object) if d else frame.columns
    shape = draw(st.sampled_from(["frame", "array", "series", "list"]))
    if shape == "array":
        return frame.to_numpy()
    if shape == "series" and d:
        return frame.iloc[:, 0]
    if shape == "list":
        return frame.to_numpy().tolist()
    return frame


def tidy(seed: int, n: int = 7) -> pd.DataFrame:
    """A valid frame, so that bad arguments are tried on good data as well."""
    rng = np.random.default_rng(seed)
    return pd.DataFrame(rng.normal(size=(n, 2)), columns=["a", "b"])


DATA = (
    frames()
    | st.builds(tidy, st.integers(0, 3))
    | st.sampled_from([None, {"a": [1.0]}, "x.csv", 3])
)
KS = st.sampled_from([1, 2, 3, 0, -1, 2.5, 2.0, "2", True, None, np.int64(2), [1, 2], [], [2.7]])
SEEDS = st.sampled_from([0, 1, None, -1, 1.5, "7", np.int64(3)])
MODELS = st.sampled_from([None, "EII", "VVV", "E", "V", "diag", "XYZ", 3, ""])
MODEL_LISTS = st.sampled_from([None, "EEE", "V", ["EII", "VVV"], ["E", "V"], [], ["XYZ"], "EE"])
INITS = st.sampled_from([None, "hc", "kmeans++", "random", "quantile", "bogus", [0, 1, np.nan]])
COLUMNS = st.sampled_from([None, ["a"], ["a", "b"], ["b", "b"], ["zz"], [], [0]])

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(call: Any) -> None:
    """The call returns, or raises an EmstatError whose message is one line."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call()
        except EmstatError as exc:
            assert "\n" not in str(exc), str(exc)


@SETTINGS
@given(data=DATA, k=KS, model=MODELS, seed=SEEDS, init=INITS, columns=COLUMNS)
def test_fit_mixture_returns_or_raises_an_emstat_error(
    data: Any, k: Any, model: Any, seed: Any, init: Any, columns: Any
) -> None:
    outcome(
        lambda: emstat.fit_mixture(data, k=k, model=model, seed=seed, init=init, columns=columns)
    )


@SETTINGS
@given(data=DATA, k=KS, models=MODEL_LISTS, seed=SEEDS)
def test_select_mixture_returns_or_raises_an_emstat_error(
    data: Any, k: Any, models: Any, seed: Any
) -> None:
    outcome(lambda: emstat.select_mixture(data, k=k, models=models, seed=seed))
