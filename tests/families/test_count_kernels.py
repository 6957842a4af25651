"""The compiled E-step of a Poisson or binomial column against the numpy E-step."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat import EMControl
from emstat.errors import DegenerateFitError
from emstat.families import base, binomial, poisson
from emstat.families.base import ColumnData, ProductFamily
from emstat.families.binomial import BinomialColumn
from emstat.families.normal import NormalColumn
from emstat.families.poisson import PoissonColumn
from emstat.mixture.family_fit import FamilyMixtureResult
from emstat.mixture.finite import FamilyData, FiniteMixture, MixtureStats, MixtureTheta

pytestmark = pytest.mark.skipif(base.count_kernels() is None, reason="numba is not installed")

PARALLEL_MIN_ROWS = 20_000


def count_data(
    family: str, n: int, *, extra: bool, weighted: bool, missing: bool, seed: int
) -> FamilyData:
    """Counts from a 3-component mixture, with exposures or trials, weights and NaNs as asked."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(3, size=n)
    if family == "poisson":
        exposure = rng.uniform(0.5, 6.0, size=n) if extra else None
        mean = np.array([0.7, 4.0, 15.0])[labels] * (1.0 if exposure is None else exposure)
        x = rng.poisson(mean).astype(float)
        values = ColumnData(x, exposure)
    else:
        trials = rng.integers(1, 40, size=n).astype(float) if extra else None
        x = rng.binomial(
            1 if trials is None else trials.astype(int), np.array([0.1, 0.5, 0.85])[labels]
        ).astype(float)
        values = ColumnData(x, trials)
    if missing:
        x[rng.random(n) < 0.07] = np.nan
    weights = rng.uniform(0.0, 4.0, size=n) if weighted else None
    return FamilyData((values,), weights)


def model_and_theta(family: str, k: int, seed: int) -> tuple[FiniteMixture, MixtureTheta]:
    rng = np.random.default_rng(seed)
    column = PoissonColumn("x") if family == "poisson" else BinomialColumn("x")
    if family == "poisson":
        parameters = np.sort(rng.uniform(0.3, 20.0, size=k))
    else:
        parameters = np.sort(rng.uniform(0.02, 0.98, size=k))
    weights = rng.dirichlet(np.full(k, 3.0))
    return FiniteMixture(ProductFamily((column,)), k), MixtureTheta(weights, (parameters[:, None],))


def fused_and_numpy(
    model: FiniteMixture, theta: MixtureTheta, data: FamilyData
) -> tuple[tuple[MixtureStats, float], tuple[MixtureStats, float]]:
    fused = model.family.fused_e_step(
        theta.weights, theta.components, data.blocks, data.case_weights
    )
    assert fused is not None
    return model.e_step(theta, data), model.numpy_e_step(theta, data)


def assert_same(fused: tuple[MixtureStats, float], reference: tuple[MixtureStats, float]) -> None:
    (stats, loglik), (ref_stats, ref_loglik) = fused, reference
    assert loglik == pytest.approx(ref_loglik, rel=1e-12)
    np.testing.assert_allclose(stats.nk, ref_stats.nk, rtol=1e-12)
    np.testing.assert_allclose(stats.components[0], ref_stats.components[0], rtol=1e-12)
    assert stats.classification_loglik == pytest.approx(
        ref_stats.classification_loglik, rel=1e-12, abs=1e-12
    )


@pytest.mark.parametrize("family", ["poisson", "binomial"])
@pytest.mark.parametrize("extra", [True, False], ids=["extra", "no_extra"])
@pytest.mark.parametrize("weighted", [True, False], ids=["weights", "no_weights"])
@pytest.mark.parametrize("missing", [True, False], ids=["missing", "complete"])
@pytest.mark.parametrize("k", [1, 2, 3, 4])
@pytest.mark.parametrize("n", [537, PARALLEL_MIN_ROWS + 1_234])
def test_fused_e_step_matches_numpy(
    family: str, extra: bool, weighted: bool, missing: bool, k: int, n: int
) -> None:
    seed = k * 10 + n
    data = count_data(family, n, extra=extra, weighted=weighted, missing=missing, seed=seed)
    model, theta = model_and_theta(family, k, seed)
    assert_same(*fused_and_numpy(model, theta, data))


@pytest.mark.parametrize(
    ("family", "parameters"),
    [
        ("poisson", [0.0, 2.0, 7.0]),  # a rate at 0: only zeros there
        ("binomial", [0.0, 0.4, 1.0]),  # probabilities at both ends
    ],
)
@pytest.mark.parametrize("weighted", [True, False])
def test_parameters_on_the_boundary(family: str, parameters: list[float], weighted: bool) -> None:
    data = count_data(family, 3_001, extra=True, weighted=weighted, missing=True, seed=5)
    model, _ = model_and_theta(family, 3, 0)
    theta = MixtureTheta(np.array([0.2, 0.5, 0.3]), (np.array(parameters)[:, None],))
    fused, reference = fused_and_numpy(model, theta, data)
    assert_same(fused, reference)
    assert fused[0].nk[0] > 0 and fused[0].nk[2] > 0  # the end components hold rows


@pytest.mark.parametrize("n", [50, PARALLEL_MIN_ROWS + 77])
def test_a_row_of_zero_density_is_named_as_by_the_numpy_path(n: int) -> None:
    x = np.zeros(n)
    x[n - 9] = 3.0  # impossible when every rate is 0
    data = FamilyData((ColumnData(x),))
    model, _ = model_and_theta("poisson", 2, 0)
    theta = MixtureTheta(np.array([0.5, 0.5]), (np.zeros((2, 1)),))
    with pytest.raises(DegenerateFitError, match=f"row {n - 9} has zero density") as fused:
        model.e_step(theta, data)
    with pytest.raises(DegenerateFitError) as reference:
        model.numpy_e_step(theta, data)
    assert str(fused.value) == str(reference.value)


@pytest.mark.parametrize("family", ["poisson", "binomial"])
@pytest.mark.parametrize("weighted", [True, False])
def test_parallel_result_does_not_depend_on_the_number_of_threads(
    family: str, weighted: bool
) -> None:
    import numba

    data = count_data(
        family, 3 * PARALLEL_MIN_ROWS + 11, extra=True, weighted=weighted, missing=True, seed=2
    )
    model, theta = model_and_theta(family, 3, 2)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one, one_ll = model.e_step(theta, data)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many, many_ll = model.e_step(theta, data)
    finally:
        numba.set_num_threads(before)
    assert one_ll == many_ll  # bit for bit: chunks are summed in a fixed order
    np.testing.assert_array_equal(one.nk, many.nk)
    np.testing.assert_array_equal(one.components[0], many.components[0])
    assert one.classification_loglik == many.classification_loglik


def test_row_constants_are_computed_once_per_data_set(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def counted(data: ColumnData) -> tuple[np.ndarray, float]:
        calls.append(data)
        return poisson_row_constant(data)

    poisson_row_constant = poisson.row_constant
    monkeypatch.setattr(poisson, "row_constant", counted)
    data = count_data("poisson", 400, extra=True, weighted=False, missing=True, seed=1)
    model, theta = model_and_theta("poisson", 2, 1)
    for _ in range(3):
        model.e_step(theta, data)
    assert len(calls) == 1
    other = count_data("poisson", 400, extra=True, weighted=False, missing=True, seed=2)
    model.e_step(theta, other)
    assert len(calls) == 2


@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_row_constants_against_scipy(family: str) -> None:
    from scipy import stats

    data = count_data(family, 200, extra=True, weighted=False, missing=True, seed=3).blocks[0]
    module = poisson if family == "poisson" else binomial
    constant, total = module.row_constant(data)
    seen = data.observed
    x, extra = data.values[seen], data.extra[seen]  # type: ignore[index]
    if family == "poisson":  # log f at rate 1 per unit exposure, plus the exposure
        expected = stats.poisson.logpmf(x, extra) + extra
    else:  # log f at p = 1/2, plus n log 2
        expected = stats.binom.logpmf(x, extra, 0.5) + extra * np.log(2.0)
    np.testing.assert_allclose(constant[seen], expected, rtol=1e-12, atol=1e-12)
    assert (constant[~seen] == 0.0).all()
    assert total == pytest.approx(expected.sum(), rel=1e-13)


def test_only_a_single_count_column_has_a_fused_e_step() -> None:
    data = count_data("poisson", 100, extra=False, weighted=False, missing=False, seed=0)
    weights = np.array([0.5, 0.5])
    theta = np.array([[1.0], [3.0]])
    single = ProductFamily((PoissonColumn("x"),))
    assert single.fused_e_step(weights, (theta,), data.blocks, None) is not None
    two = ProductFamily((PoissonColumn("x"), PoissonColumn("y")))
    assert two.fused_e_step(weights, (theta, theta), data.blocks * 2, None) is None
    normal = ProductFamily((NormalColumn("x"),))
    assert normal.fused_e_step(weights, (np.ones((2, 2)),), data.blocks, None) is None


def test_without_numba_the_numpy_e_step_serves(monkeypatch: pytest.MonkeyPatch) -> None:
    data = count_data("binomial", 300, extra=True, weighted=True, missing=True, seed=4)
    model, theta = model_and_theta("binomial", 3, 4)
    monkeypatch.setattr(base, "count_kernels", lambda: None)
    assert model.family.fused_e_step(theta.weights, theta.components, data.blocks, None) is None
    stats, loglik = model.e_step(theta, data)
    reference, reference_ll = model.numpy_e_step(theta, data)
    assert loglik == reference_ll
    np.testing.assert_array_equal(stats.components[0], reference.components[0])


@pytest.mark.parametrize("n", [800, PARALLEL_MIN_ROWS + 500])
@pytest.mark.parametrize("family", ["poisson", "binomial"])
def test_whole_fits_are_those_of_the_numpy_e_step(
    family: str, n: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = np.random.default_rng(n)
    z = rng.integers(2, size=n)
    size = rng.integers(1, 30, size=n)
    if family == "poisson":
        x = rng.poisson(np.where(z, 2.0, 8.0) * size)
        spec: object = emstat.Poisson(exposure="size")
    else:
        x = rng.binomial(size, np.where(z, 0.2, 0.7))
        spec = emstat.Binomial(trials="size")
    frame = pd.DataFrame({"x": x, "size": size})
    weights = rng.integers(1, 4, size=n).astype(float)
    control = EMControl(tol=1e-10, criterion="rel")

    def fit() -> FamilyMixtureResult:
        return emstat.fit_mixture(
            frame, 2, family=spec, columns=["x"], weights=weights, control=control
        )

    fused = fit()
    monkeypatch.setattr(ProductFamily, "fused_e_step", lambda *args: None)
    reference = fit()
    assert fused.n_iter == reference.n_iter
    assert fused.loglik == pytest.approx(reference.loglik, rel=1e-12)
    assert fused.icl == pytest.approx(reference.icl, rel=1e-10)
    np.testing.assert_allclose(
        fused.params["estimate"], reference.params["estimate"], rtol=1e-9, atol=1e-12
    )


@pytest.mark.parametrize("value", [1.0, 1.0 + 2**-52, 1.4142135623730951, 1.4142135623730950, 2.0])
def test_vectorised_logarithm_at_its_seams(value: float) -> None:
    from emstat.families._count_kernels import log_at_least_one

    assert log_at_least_one(value) == pytest.approx(np.log(value), rel=2.3e-16, abs=0.0)


def test_vectorised_logarithm_over_the_range_of_row_sums() -> None:
    from emstat.families._count_kernels import log_at_least_one

    grid = np.concatenate([np.linspace(1.0, 64.0, 200_001), np.geomspace(1.0, 1e6, 10_001)])
    ours = np.array([log_at_least_one(t) for t in grid[::97]])
    theirs = np.log(grid[::97])
    assert log_at_least_one(1.0) == 0.0
    np.testing.assert_allclose(ours, theirs, rtol=2.3e-16, atol=0.0)


def test_new_case_weights_on_the_same_column_are_not_served_stale_constants() -> None:
    data = count_data("binomial", 500, extra=True, weighted=True, missing=True, seed=6)
    model, theta = model_and_theta("binomial", 2, 6)
    column = data.blocks
    for weights in (data.case_weights, np.ones(500), np.linspace(0.0, 2.0, 500), None):
        reweighted = FamilyData(column, weights)
        assert_same(model.e_step(theta, reweighted), model.numpy_e_step(theta, reweighted))
