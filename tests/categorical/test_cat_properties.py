"""Property: any small frame, however malformed, gives a valid fit or an EmstatError."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emstat.categorical import fit_categorical
from emstat.errors import EmstatError

N_ROWS = st.integers(min_value=0, max_value=12)

_SCALARS: dict[str, st.SearchStrategy[Any]] = {
    "codes": st.integers(0, 2),
    "floats": st.one_of(st.sampled_from([0.0, 1.0, 2.0, np.nan]), st.floats(-3, 3)),
    "odd_floats": st.sampled_from([np.nan, np.inf, -np.inf, 1.5, 1e300, -0.0]),
    "text": st.sampled_from(["x", "y", "z", None]),
    "mixed": st.one_of(
        st.integers(-2, 2),
        st.sampled_from(["one", "1", "2.0", "", None, True, np.nan, 1.5, (1,)]),
    ),
    "nan_only": st.just(np.nan),
    "constant": st.just("k"),
}

# Mostly usable columns, so that the other arguments are reached and checked too.
_KINDS = ["codes"] * 5 + ["text"] * 3 + sorted(_SCALARS)

_COUNTS: st.SearchStrategy[Any] = st.one_of(
    st.integers(-1, 5),
    st.sampled_from([0.0, 2.5, np.nan, np.inf, 1e15, 1e200, 1e308, -3.0]),
)


@st.composite
def _column(draw: st.DrawFn, n: int) -> pd.Series:
    kind = draw(st.sampled_from(_KINDS))
    values = draw(st.lists(_SCALARS[kind], min_size=n, max_size=n))
    series = pd.Series(values, dtype=object if kind in ("mixed", "text") else None)
    if kind == "codes" and draw(st.booleans()):
        series = series.astype("category")
    if kind == "floats" and series.dtype == object:
        series = series.astype(float)
    return series


@st.composite
def _case(draw: st.DrawFn) -> tuple[pd.DataFrame, dict[str, Any]]:
    n = draw(N_ROWS)
    n_cols = draw(st.integers(0, 4))
    names = ["a", "b", "c", "d"][:n_cols]
    if n_cols > 1 and draw(st.integers(0, 4)) == 0:
        names[-1] = names[0]
    frame = pd.DataFrame({i: draw(_column(n)) for i in range(n_cols)}, index=range(n))
    frame.columns = pd.Index(names, dtype=object)
    kwargs: dict[str, Any] = {}
    if draw(st.booleans()):
        frame["N"] = draw(st.lists(_COUNTS, min_size=n, max_size=n)) if n else []
        kwargs["counts"] = "N"
    if draw(st.booleans()):
        kwargs["margins"] = draw(
            st.one_of(
                st.sampled_from([[None], "a", 3, [["a"], 2], [["a"], [None]]]),
                st.lists(st.lists(st.sampled_from(["a", "b", "c", "q"]), max_size=2), max_size=3),
            )
        )
    if draw(st.booleans()):
        kwargs["structural_zeros"] = draw(
            st.sampled_from([(1, 2), 5, [[None, None]], [("x", [0])], [("x", 0)], [(0, 1)], []])
        )
    if draw(st.booleans()):
        kwargs["prior"] = draw(st.sampled_from([0.0, 0.5, 2.0, -1.0, np.nan]))
    return frame, kwargs


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_case())
def test_malformed_frames_give_a_fit_or_an_emstat_error(
    case: tuple[pd.DataFrame, dict[str, Any]],
) -> None:
    frame, kwargs = case
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            res = fit_categorical(frame, **kwargs)
        except EmstatError as exc:
            assert str(exc) and "\n" not in str(exc)
            return
        if not res.ok:  # a failed fit is a result that says why
            assert res.degenerate and "\n" not in res.degenerate
            assert np.isnan(res.bic) and f"degenerate fit: {res.degenerate}" in res.summary()
            return
        theta = res.theta
        assert np.all(np.isfinite(theta)) and np.all(theta >= 0)
        assert abs(float(theta.sum()) - 1.0) < 1e-9
        assert np.isfinite(res.loglik) and res.n_params >= 0
        assert isinstance(res.summary(), str)
