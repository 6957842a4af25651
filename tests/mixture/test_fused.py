"""The fused compiled E-step against the numpy reference, on every covariance model."""

from __future__ import annotations

import math
from decimal import Decimal, localcontext

import numpy as np
import pytest

from emstat.mixture import fused, gaussian
from emstat.mixture.covariance import COVARIANCE_MODELS, get_covariance_model
from emstat.mixture.fused import PARALLEL_MIN_ROWS
from emstat.mixture.model import GaussianMixtureModel

pytestmark = pytest.mark.skipif(not fused.available(), reason="numba is not installed")


def fitted_params(model: str, d: int, rng: np.random.Generator) -> gaussian.GaussianParams:
    """Parameters from one M-step of a random partition: they satisfy the model's constraint."""
    k = 3
    x = rng.normal(size=(400, d)) * np.linspace(1.0, 3.0, d) + rng.integers(3, size=(400, 1)) * 2.0
    em_model = GaussianMixtureModel(get_covariance_model(model, d), k)
    return em_model.m_step(
        em_model.stats_from_responsibilities(x, rng.dirichlet(np.ones(k), 400)), None
    )


def assert_same_statistics(
    x: np.ndarray, params: gaussian.GaussianParams, scatter: gaussian.ScatterKind
) -> None:
    fused_stats, fused_ll = gaussian.fused_e_step(x, params, scatter)
    numpy_stats, numpy_ll = gaussian.numpy_e_step(x, params, scatter)
    assert fused_ll == pytest.approx(numpy_ll, rel=1e-12)
    np.testing.assert_allclose(fused_stats.nk, numpy_stats.nk, rtol=1e-11)
    np.testing.assert_allclose(fused_stats.sums, numpy_stats.sums, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(fused_stats.second, numpy_stats.second, rtol=1e-10, atol=1e-9)
    assert fused_stats.classification_loglik == pytest.approx(
        numpy_stats.classification_loglik, rel=1e-10, abs=1e-10
    )


@pytest.mark.parametrize("model", list(COVARIANCE_MODELS))
@pytest.mark.parametrize("n", [37, 5_000, PARALLEL_MIN_ROWS + 1_234])
def test_fused_matches_numpy(model: str, n: int) -> None:
    d = 1 if len(model) == 1 else 3
    rng = np.random.default_rng(len(model) * 100 + n)
    params = fitted_params(model, d, rng)
    # Centred data, as the fitter gives them, with some rows far out in the tails.
    x = rng.normal(size=(n, d)) * 3.0
    x[:5] *= 40.0
    scatter = get_covariance_model(model, d).scatter
    assert_same_statistics(x, params, scatter)


def test_zero_weight_component_and_far_rows() -> None:
    params = gaussian.gaussian_params(
        np.array([0.0, 1.0]), np.array([[0.0], [1.0]]), np.ones((2, 1, 1))
    )
    x = np.array([[0.0], [1e3], [-1e3]])
    fused_stats, fused_ll = gaussian.fused_e_step(x, params, "full")
    _, numpy_ll = gaussian.numpy_e_step(x, params, "full")
    assert fused_ll == pytest.approx(numpy_ll, rel=1e-14)
    np.testing.assert_array_equal(fused_stats.nk, [0.0, 3.0])


@pytest.mark.parametrize("value", [0.0, -1e-300, -0.3, -1.0, -20.5, -700.0, -707.9, -708.5, -1e5])
def test_polynomial_exponential(value: float) -> None:
    from emstat.mixture._fused_kernels import exp_neg

    assert exp_neg(value) == pytest.approx(np.exp(value), rel=4e-16, abs=1e-307)


def chebyshev_interpolant_of_exp(degree: int, half_width: float) -> list[float]:
    """Monomial coefficients of the polynomial through exp at Chebyshev nodes, in 60 digits."""
    with localcontext() as context:
        context.prec = 60
        pi = Decimal("3.14159265358979323846264338327950288419716939937510582097494459")

        def cos(angle: Decimal) -> Decimal:
            total, term, j = Decimal(1), Decimal(1), 0
            while abs(term) > Decimal(10) ** -58:
                j += 2
                term = -term * angle * angle / (j * (j - 1))
                total += term
            return total

        m = degree + 1
        nodes = [Decimal(half_width) * cos((2 * j + 1) * pi / (2 * m)) for j in range(m)]
        rows = [[node**p for p in range(m)] + [node.exp()] for node in nodes]
        for c in range(m):  # Gauss-Jordan on the Vandermonde system
            pivot = max(range(c, m), key=lambda r: abs(rows[r][c]))
            rows[c], rows[pivot] = rows[pivot], rows[c]
            for r in range(m):
                if r != c:
                    factor = rows[r][c] / rows[c][c]
                    rows[r] = [a - factor * b for a, b in zip(rows[r], rows[c], strict=True)]
        return [float(rows[c][m] / rows[c][c]) for c in range(m)]


def test_exponential_coefficients_are_the_chebyshev_interpolant() -> None:
    from emstat.mixture._fused_kernels import _COEF

    assert list(_COEF) == chebyshev_interpolant_of_exp(11, math.log(2.0) / 2.0)


def test_exponential_over_a_grid() -> None:
    from emstat.mixture._fused_kernels import exp_neg

    grid = -np.geomspace(1e-12, 700.0, 20_001)
    ours = np.array([exp_neg(v) for v in grid])
    np.testing.assert_allclose(ours, np.exp(grid), rtol=5e-16)


@pytest.mark.parametrize("model", ["VVI", "VEV", "VVV"])
@pytest.mark.parametrize("d", [2, 3, 4, 5, 9, 10])
@pytest.mark.parametrize("n", [257, PARALLEL_MIN_ROWS + 77])
def test_fused_matches_numpy_in_every_dimension(model: str, d: int, n: int) -> None:
    # The kernel has separate code for d = 1, 2, 3 and a general path beyond.
    rng = np.random.default_rng(d * 1000 + n)
    params = fitted_params(model, d, rng)
    x = rng.normal(size=(n, d)) * 2.0
    scatter = get_covariance_model(model, d).scatter
    assert_same_statistics(x, params, scatter)


@pytest.mark.parametrize("d", [1, 3, 5])
def test_parallel_result_does_not_depend_on_the_number_of_threads(d: int) -> None:
    import numba

    rng = np.random.default_rng(d)
    params = fitted_params("VVV", d, rng)
    x = rng.normal(size=(3 * PARALLEL_MIN_ROWS + 11, d))
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one, one_ll = gaussian.fused_e_step(x, params, "full")
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many, many_ll = gaussian.fused_e_step(x, params, "full")
    finally:
        numba.set_num_threads(before)
    assert one_ll == many_ll  # bit for bit: chunks are summed in a fixed order
    np.testing.assert_array_equal(one.second, many.second)
    assert one.classification_loglik == many.classification_loglik


@pytest.mark.parametrize("n", [300, PARALLEL_MIN_ROWS + 5])
def test_identical_components_give_the_single_gaussian(n: int) -> None:
    # Every row's sum over components is exactly k, the largest it can be, so
    # the products taken before each logarithm reach their bound (2**996 here).
    from scipy import stats

    k = 64
    rng = np.random.default_rng(n)
    mean = np.array([0.5, -1.0])
    cov = np.array([[2.0, 0.6], [0.6, 1.0]])
    params = gaussian.gaussian_params(
        np.full(k, 1.0 / k), np.repeat(mean[None], k, axis=0), np.repeat(cov[None], k, axis=0)
    )
    x = rng.multivariate_normal(mean, cov, size=n)
    fused_stats, fused_ll = gaussian.fused_e_step(x, params, "full")
    assert fused_ll == pytest.approx(
        stats.multivariate_normal(mean, cov).logpdf(x).sum(), rel=1e-12
    )
    np.testing.assert_allclose(fused_stats.nk, np.full(k, n / k), rtol=1e-12)
    # Responsibilities are all 1/k: Σ_i max_k log z_ik is -n log k.
    assert fused_stats.classification_loglik == pytest.approx(-n * np.log(k), rel=1e-12)


@pytest.mark.parametrize("rows_per_log", [1, 3, 100])
def test_log_likelihood_does_not_depend_on_how_often_logarithms_are_taken(
    rows_per_log: int,
) -> None:
    # Fewer rows per logarithm than a block gives each lane take another path,
    # the one that keeps products of very many components from overflowing.
    from emstat.mixture import _fused_kernels as kernels

    rng = np.random.default_rng(rows_per_log)
    params = fitted_params("VVV", 3, rng)
    x = rng.normal(size=(5_000, 3)) * 2.0
    args = (
        x,
        params.weights,
        params.means,
        params.prec_chol,
        params.half_log_det_prec,
        False,
        False,
        512,
    )
    default = kernels.e_step_serial(*args, fused.rows_per_logarithm(params.k))
    other = kernels.e_step_serial(*args, rows_per_log)
    assert other[4] == pytest.approx(default[4], rel=1e-14)
    assert other[5] == pytest.approx(default[5], rel=1e-13)
    np.testing.assert_array_equal(other[2], default[2])


@pytest.mark.parametrize(
    ("model", "d", "n"), [("V", 1, 82), ("VVI", 2, 1_500), ("VVV", 3, 20_000), ("EEE", 5, 700)]
)
def test_a_reused_workspace_gives_the_statistics_of_a_fresh_one(model: str, d: int, n: int) -> None:
    # An EM loop hands one workspace to every E-step: what an earlier E-step
    # left in it (other parameters, other sums) must not reach the next one.
    from emstat.mixture import _fused_kernels as kernels

    rng = np.random.default_rng(n)
    x = rng.normal(size=(n, d)) * 2.0
    scatter = get_covariance_model(model, d).scatter
    block = fused.block_rows(d)
    workspace = kernels.e_step_workspace(n, d, 3, block)
    if n >= 20_000:  # chunks of their own, as the parallel kernel hands out
        assert workspace[2].shape[0] > 1
    for seed in range(3):
        params = fitted_params(model, d, np.random.default_rng(seed))
        args = (
            x,
            params.weights,
            params.means,
            params.prec_chol,
            params.half_log_det_prec,
            params.diagonal,
            scatter == "diag",
            block,
            fused.rows_per_logarithm(params.k),
        )
        fresh = kernels.e_step_serial(*args)
        reused = kernels.e_step_serial(*args, workspace)
        for a, b in zip(fresh, reused, strict=True):
            np.testing.assert_array_equal(a, b)
        numpy_stats, numpy_ll = gaussian.numpy_e_step(x, params, scatter)
        assert reused[4] == pytest.approx(numpy_ll, rel=1e-12)
        np.testing.assert_allclose(reused[0], numpy_stats.nk, rtol=1e-11)
