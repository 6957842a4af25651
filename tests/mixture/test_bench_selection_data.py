"""bench/selection_vs_mclust.py times every data set on the rows it loaded, to the end."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

pytestmark = [pytest.mark.r, pytest.mark.usefixtures("r_mclust_attached")]

BENCH = Path(__file__).resolve().parents[2] / "bench" / "selection_vs_mclust.py"


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("selection_vs_mclust", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_iris_from_r_keeps_its_values_while_r_fits_it() -> None:
    import rpy2.robjects as ro

    bench = _bench()
    x = bench.load("iris")
    first = x.copy()
    np.testing.assert_array_equal(x[0], [5.1, 3.5, 1.4, 0.2])  # iris's first row
    for _ in range(3):  # as the rounds do: R fits the rows, and collects its garbage
        bench.time_r(x, {})
        ro.r("invisible(gc())")
        np.testing.assert_array_equal(x, first)


def test_a_timing_of_several_calls_keeps_the_tables_of_one() -> None:
    bench = _bench()
    x = bench.load("galaxies")
    once: dict = {}
    thrice: dict = {}
    bench.time_r(x, once, 1)
    seconds = bench.time_r(x, thrice, 3)
    assert 0.0 <= seconds < 5.0
    np.testing.assert_array_equal(once["R"].to_numpy(), thrice["R"].to_numpy())
    bench.time_emstat(x, once, 1)
    bench.time_emstat(x, thrice, 2)
    np.testing.assert_array_equal(once["emstat"].to_numpy(), thrice["emstat"].to_numpy())
    # R's bic table (mclust's sign) is what emstat's agrees with on galaxies, cell by cell
    assert bench.agreeing(thrice["emstat"], thrice["R"]) == 18


@pytest.mark.parametrize(("seconds", "calls"), [(0.005, 40), (0.3, 1), (0.0, 2000)])
def test_timings_last_the_least_duration(seconds: float, calls: int) -> None:
    assert _bench().calls_for(seconds, 0.2) == calls
