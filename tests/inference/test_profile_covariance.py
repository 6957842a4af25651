"""Profile intervals of the variances and covariances of multivariate Gaussian fits.

The oracle is a brute-force grid of constrained fits computed here by other
means: each model's parameters in coordinates of its own (Cholesky factors,
or volume, shape and rotation angles) in which the held entry is solved from
the others, the log-likelihood written out with numpy and maximised by scipy,
and the interval's ends found by Brent's method on that profile.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

import emstat
from emstat.errors import InputError
from emstat.inference.profile import profile_loglik

Unpack = Callable[[np.ndarray, float], tuple[np.ndarray, np.ndarray] | None]
CUT = float(stats.chi2.ppf(0.95, 1))


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


@pytest.fixture(scope="module")
def faithful() -> pd.DataFrame:
    return emstat.datasets.load_dataset("faithful")


# --------------------------------------------------------------------------- the oracle


def _mixture_loglik(x: np.ndarray, w: np.ndarray, means: np.ndarray, covs: np.ndarray) -> float:
    logs = []
    for j in range(w.size):
        sign, logdet = np.linalg.slogdet(covs[j])
        if sign <= 0:
            return -math.inf
        r = x - means[j]
        q = np.einsum("ni,ni->n", r, np.linalg.solve(covs[j], r.T).T)
        logs.append(math.log(w[j]) - 0.5 * (q + logdet + x.shape[1] * math.log(2 * math.pi)))
    return float(np.sum(np.logaddexp.reduce(np.array(logs), axis=0)))


def _rotation(phi: float) -> np.ndarray:
    return np.array([[math.cos(phi), -math.sin(phi)], [math.sin(phi), math.cos(phi)]])


def _cholesky(values: np.ndarray, d: int) -> np.ndarray:
    """A lower-triangular factor with a positive diagonal from d(d+1)/2 free numbers."""
    factor = np.zeros((d, d))
    factor[np.tril_indices(d)] = values
    factor[np.diag_indices(d)] = np.exp(np.diag(factor))
    return factor


def _held_cholesky(values: np.ndarray, d: int, entry: tuple[int, int], c: float) -> np.ndarray:
    """A covariance whose ``entry`` is ``c``: in the order that puts the entry's rows first,
    a Cholesky factor with ``L00 = sqrt(c)`` (a variance) or ``L10 = c / L00`` (a covariance)."""
    a, b = entry
    order = [a] + ([b] if b != a else []) + [i for i in range(d) if i not in (a, b)]
    full = np.zeros(d * (d + 1) // 2)
    slot = 0 if a == b else 1  # the Cholesky coordinate solved from the others
    full[np.arange(full.size) != slot] = values
    factor = _cholesky(full, d)
    if a == b:
        factor[0, 0] = math.sqrt(c)
    else:
        factor[1, 0] = c / factor[0, 0]
    permuted = factor @ factor.T
    back = np.empty_like(permuted)
    back[np.ix_(order, order)] = permuted
    return back


def _weights_means(u: np.ndarray, k: int, d: int) -> tuple[np.ndarray, np.ndarray, int]:
    logits = np.append(u[: k - 1], 0.0)
    w = np.exp(logits - logits.max())
    return w / w.sum(), u[k - 1 : k - 1 + k * d].reshape(k, d), k - 1 + k * d


def unpack_vvv(k: int, d: int, j: int, entry: tuple[int, int]) -> Unpack:
    """VVV with entry ``entry`` of component ``j`` held."""
    q = d * (d + 1) // 2

    def unpack(u: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray] | None:
        w, means, o = _weights_means(u, k, d)
        covs = []
        for comp in range(k):
            if comp == j:
                covs.append(_held_cholesky(u[o : o + q - 1], d, entry, c))
                o += q - 1
            else:
                factor = _cholesky(u[o : o + q], d)
                covs.append(factor @ factor.T)
                o += q
        return w, np.concatenate([means.ravel(), np.stack(covs).ravel()])

    return unpack


def unpack_eee(k: int, d: int, entry: tuple[int, int]) -> Unpack:
    def unpack(u: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray] | None:
        w, means, o = _weights_means(u, k, d)
        common = _held_cholesky(u[o:], d, entry, c)
        return w, np.concatenate([means.ravel(), np.stack([common] * k).ravel()])

    return unpack


def unpack_vvi(k: int, j: int, a: int) -> Unpack:
    def unpack(u: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray] | None:
        w, means, o = _weights_means(u, k, 2)
        variances = np.exp(np.insert(u[o:], 2 * j + a, 0.0)).reshape(k, 2)
        variances[j, a] = c
        covs = np.stack([np.diag(v) for v in variances])
        return w, np.concatenate([means.ravel(), covs.ravel()])

    return unpack


def unpack_orientations(k: int, j: int, entry: tuple[int, int], equal_volume: bool) -> Unpack:
    """EEV (``equal_volume``) or VEV at d = 2: ``lambda_k R(phi_k) diag(s, 1/s) R(phi_k)^T``,
    the volume of component ``j`` (the common one for EEV) solved from the held entry."""
    a, b = entry

    def unpack(u: np.ndarray, c: float) -> tuple[np.ndarray, np.ndarray] | None:
        w, means, o = _weights_means(u, k, 2)
        shape = np.diag([math.exp(u[o]), math.exp(-u[o])])
        angles = u[o + 1 : o + 1 + k]
        volumes = np.exp(np.insert(u[o + 1 + k :], j, 0.0)) if not equal_volume else np.ones(k)
        units = np.stack([_rotation(p) @ shape @ _rotation(p).T for p in angles])
        scale = c / units[j, a, b]
        if not 0 < scale < math.inf:
            return None
        volumes = volumes * scale if equal_volume else volumes
        if not equal_volume:
            volumes[j] = scale
        covs = volumes[:, None, None] * units
        return w, np.concatenate([means.ravel(), covs.ravel()])

    return unpack


class Oracle:
    """The profile log-likelihood of a held entry by scipy, warm-started along a grid."""

    def __init__(self, x: np.ndarray, k: int, unpack: Unpack, start: np.ndarray) -> None:
        self.x, self.k, self.unpack, self.start = x, k, unpack, start
        self.d = x.shape[1]

    def _negative(self, u: np.ndarray, c: float) -> float:
        out = self.unpack(u, c)
        if out is None:
            return 1e10
        w, rest = out
        means = rest[: self.k * self.d].reshape(self.k, self.d)
        covs = rest[self.k * self.d :].reshape(self.k, self.d, self.d)
        value = _mixture_loglik(self.x, w, means, covs)
        return -value if math.isfinite(value) else 1e10

    def profile(self, c: float) -> float:
        best = optimize.minimize(
            self._negative, self.start, args=(c,), method="BFGS", options={"gtol": 1e-6}
        )
        best = optimize.minimize(
            self._negative, best.x, args=(c,), method="BFGS", options={"gtol": 1e-8}
        )
        return -float(best.fun)


def _oracle_start(fit: emstat.MixtureResult, unpack: Unpack, c: float, size: int) -> np.ndarray:
    """Oracle coordinates reproducing the fit (to least squares): the oracle's start only."""
    target = np.concatenate([fit.params_.means.ravel(), fit.params_.covariances.ravel()])
    w = fit.params_.weights

    def miss(u: np.ndarray) -> np.ndarray:
        out = unpack(u, c)
        if out is None:
            return np.full(target.size + w.size, 1e3)
        return np.concatenate([out[0] - w, (out[1] - target) / np.maximum(np.abs(target), 1e-3)])

    logit = np.log(w[:-1] / w[-1])
    u0 = np.concatenate([logit, fit.params_.means.ravel(), np.full(size, 0.1)])
    return np.asarray(optimize.least_squares(miss, u0, xtol=1e-14, ftol=1e-14).x)


def _check_against_oracle(fit: emstat.MixtureResult, label: str, unpack: Unpack, size: int) -> None:
    x = np.asarray(fit.data_, dtype=float)
    row = fit.params.set_index(["component", "parameter"]).loc[
        (int(label.split(":")[0]), label.split(":")[1])
    ]
    estimate = float(row["estimate"])
    oracle = Oracle(x, fit.k, unpack, _oracle_start(fit, unpack, estimate, size))
    l_max = oracle.profile(estimate)  # the entry's MLE: the profile's top is the maximum
    assert l_max == pytest.approx(fit.loglik, abs=1e-6)
    interval = fit.conf_int(method="profile", parameters=[label]).iloc[0]
    low, high = float(interval["ci_low"]), float(interval["ci_high"])
    assert low < estimate < high and interval["note"] == ""
    grid = np.array([low, 0.5 * (low + estimate), 0.5 * (estimate + high), high])
    ours = profile_loglik(fit, label, grid)
    np.testing.assert_allclose(ours, [oracle.profile(c) for c in grid], atol=1e-5)

    def deviance(c: float) -> float:
        return 2 * (l_max - oracle.profile(c)) - CUT

    # brackets wider than our ends: the roots themselves are the oracle's
    margin_low, margin_high = 0.2 * (estimate - low), 0.2 * (high - estimate)
    floor = (
        low - margin_low
        if not label.split(":")[1].startswith("var")
        else max(low - margin_low, 0.5 * low)
    )
    root_low = optimize.brentq(deviance, floor, estimate, xtol=1e-7)
    root_high = optimize.brentq(deviance, estimate, high + margin_high, xtol=1e-7)
    assert (low, high) == pytest.approx((root_low, root_high), abs=1e-4)


# --------------------------------------------------------------------------- against the oracle


@pytest.mark.parametrize(
    ("model", "label", "make", "size"),
    [
        ("VVV", "2:var[eruptions]", lambda: unpack_vvv(2, 2, 1, (0, 0)), 5),
        ("VVV", "1:cov[eruptions,waiting]", lambda: unpack_vvv(2, 2, 0, (0, 1)), 5),
        ("EEE", "1:var[waiting]", lambda: unpack_eee(2, 2, (1, 1)), 2),
        ("EEE", "2:cov[eruptions,waiting]", lambda: unpack_eee(2, 2, (0, 1)), 2),
        ("VVI", "1:var[waiting]", lambda: unpack_vvi(2, 0, 1), 3),
        ("EEV", "2:cov[eruptions,waiting]", lambda: unpack_orientations(2, 1, (0, 1), True), 3),
        ("EEV", "1:var[eruptions]", lambda: unpack_orientations(2, 0, (0, 0), True), 3),
        ("VEV", "2:var[waiting]", lambda: unpack_orientations(2, 1, (1, 1), False), 4),
        ("VEV", "1:cov[eruptions,waiting]", lambda: unpack_orientations(2, 0, (0, 1), False), 4),
    ],
)
def test_profile_of_a_covariance_entry_matches_a_brute_force_grid(
    faithful: pd.DataFrame, model: str, label: str, make: Callable[[], Unpack], size: int
) -> None:
    fit = emstat.fit_mixture(faithful, 2, model=model, tol=1e-10)
    _check_against_oracle(fit, label, make(), size)


TRUTH_COVARIANCES = np.array(
    [
        [[1.0, 0.5, -0.3], [0.5, 2.0, 0.4], [-0.3, 0.4, 1.5]],
        [[0.6, -0.2, 0.1], [-0.2, 0.8, 0.3], [0.1, 0.3, 1.2]],
    ]
)
TRUTH_MEANS = np.array([[0.0, 0.0, 0.0], [5.0, 4.0, -3.0]])


def _draw_3d(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Two well-separated 3-D components (weights 0.6, 0.4), in component order."""
    n1 = int(rng.binomial(n, 0.6))
    rows = [
        rng.multivariate_normal(TRUTH_MEANS[j], TRUTH_COVARIANCES[j], size)
        for j, size in enumerate((n1, n - n1))
    ]
    return pd.DataFrame(np.vstack(rows), columns=["x", "y", "z"])


@pytest.mark.parametrize(("label", "j", "entry"), [("2:cov[x,z]", 1, (0, 2))])
def test_profile_in_three_dimensions_matches_a_brute_force_grid(
    label: str, j: int, entry: tuple[int, int]
) -> None:
    data = _draw_3d(160, np.random.default_rng(11))
    fit = emstat.fit_mixture(data, 2, model="VVV", tol=1e-10)
    assert fit.means.iloc[0, 0] < fit.means.iloc[1, 0]  # components in the truth's order
    _check_against_oracle(fit, label, unpack_vvv(2, 3, j, entry), 11)


# --------------------------------------------------------------------------- every model


MODELS_2D = ["EII", "VII", "EEI", "VEI", "EVI", "VVI", "EEE"]
MODELS_2D += ["VEE", "EVE", "VVE", "EEV", "VEV", "EVV", "VVV"]


@pytest.mark.parametrize("model", MODELS_2D)
def test_every_model_has_profile_intervals_of_its_covariance_inside_the_space(
    faithful: pd.DataFrame, model: str
) -> None:
    fit = emstat.fit_mixture(faithful, 2, model=model)
    rows = fit.params[(fit.params["component"] == 1) & fit.params["parameter"].str.match("var|cov")]
    diagonal = model.endswith("I")
    labels = [f"1:{p}" for p in rows["parameter"] if not (diagonal and p.startswith("cov"))]
    table = fit.conf_int(method="profile", parameters=labels).set_index("parameter")
    assert len(table) == (2 if diagonal else 3)
    assert (table["ci_low"] < table["estimate"]).all()
    assert (table["estimate"] < table["ci_high"]).all()
    assert (table.filter(like="var[", axis=0)["ci_low"] > 0).all()
    assert (table["note"] == "").all()
    wald = rows.set_index("parameter").loc[table.index]
    # the profile and the Wald interval (log scale for variances) agree to first order
    np.testing.assert_allclose(table["ci_low"], wald["ci_low"], rtol=0.25)
    np.testing.assert_allclose(table["ci_high"], wald["ci_high"], rtol=0.25)
    if model in ("EII", "VII"):  # one variance per component: both rows are it
        assert tuple(table.iloc[0][["ci_low", "ci_high"]]) == pytest.approx(
            tuple(table.iloc[1][["ci_low", "ci_high"]]), rel=1e-7
        )


def test_a_shared_covariance_has_the_same_interval_in_every_component(
    faithful: pd.DataFrame,
) -> None:
    fit = emstat.fit_mixture(faithful, 2, model="EEE")
    table = fit.conf_int(
        method="profile", parameters=["1:cov[eruptions,waiting]", "2:cov[eruptions,waiting]"]
    )
    first, second = table.iloc[0], table.iloc[1]
    assert (first["ci_low"], first["ci_high"]) == pytest.approx(
        (second["ci_low"], second["ci_high"]), rel=1e-7
    )


def test_a_higher_level_gives_a_wider_interval_around_the_estimate(
    faithful: pd.DataFrame,
) -> None:
    fit = emstat.fit_mixture(faithful, 2, model="VVV")
    label = "2:cov[eruptions,waiting]"
    ends = [
        fit.conf_int(level, method="profile", parameters=[label]).iloc[0]
        for level in (0.5, 0.8, 0.95, 0.99)
    ]
    lows = [float(e["ci_low"]) for e in ends]
    highs = [float(e["ci_high"]) for e in ends]
    estimate = float(ends[0]["estimate"])
    assert lows == sorted(lows, reverse=True) and len(set(lows)) == 4
    assert highs == sorted(highs) and len(set(highs)) == 4
    assert lows[0] < estimate < highs[0]


def test_a_diagonal_model_has_no_profile_of_a_covariance_it_fixes(
    faithful: pd.DataFrame,
) -> None:
    fit = emstat.fit_mixture(faithful, 2, model="VVI")
    table = fit.conf_int(method="profile")
    assert not table["parameter"].str.startswith("cov").any()
    assert table["parameter"].str.startswith("var").sum() == 4
    with pytest.raises(InputError, match=r"'2:cov\[eruptions,waiting\]'.*diagonal model"):
        fit.conf_int(method="profile", parameters=["2:cov[eruptions,waiting]"])


# --------------------------------------------------------------------------- the truth


def test_profile_intervals_of_a_covariance_cover_the_truth() -> None:
    """Replicates of a 2-D design with known covariances: the 95% intervals cover at
    about 0.95 (at least 21 of 25: P(X <= 20) = 0.007 for X ~ Bin(25, 0.95))."""
    rng = np.random.default_rng(2024)
    truth = {"1:cov[x,y]": TRUTH_COVARIANCES[0, 0, 1], "2:var[y]": TRUTH_COVARIANCES[1, 1, 1]}
    covered = dict.fromkeys(truth, 0)
    for _ in range(25):
        data = _draw_3d(200, rng)[["x", "y"]]
        fit = emstat.fit_mixture(data, 2, model="VVV")
        first = 1 if fit.means.iloc[0, 0] < fit.means.iloc[1, 0] else 2
        labels = {f"{first}:cov[x,y]": "1:cov[x,y]", f"{3 - first}:var[y]": "2:var[y]"}
        table = fit.conf_int(method="profile", parameters=list(labels))
        for (_, row), name in zip(table.iterrows(), labels.values(), strict=True):
            covered[name] += int(row["ci_low"] <= truth[name] <= row["ci_high"])
    assert min(covered.values()) >= 21, covered


# --------------------------------------------------------------------------- a failing end


class _FailsBelow:
    """A profile whose constrained fits fail below ``edge`` (a quadratic above it)."""

    l_max = 0.0

    def __init__(self, edge: float) -> None:
        self.edge = edge

    def loglik(self, value: float, start: object = None) -> tuple[float, object]:
        if value < self.edge:
            return -math.inf, None
        return -0.5 * value**2, None


def test_an_end_whose_fits_fail_stops_there_and_says_so() -> None:
    from emstat.inference.profile import _end

    # the deviance v^2 reaches the cut-off 3.84 at -1.96, but the fits fail below -1
    low, note = _end(_FailsBelow(-1.0), 0.0, -0.3, -math.inf, CUT, 100)
    assert -1.0 <= low < -0.99
    assert "stops at" in note and "constrained fit" in note
    high, note = _end(_FailsBelow(-1.0), 0.0, 0.3, math.inf, CUT, 100)
    assert high == pytest.approx(math.sqrt(CUT), abs=1e-8) and note == ""


class _LeavesBelow(_FailsBelow):
    """A profile that jumps above the maximum (a degenerate spike) below ``edge``."""

    def loglik(self, value: float, start: object = None) -> tuple[float, object]:
        if value < self.edge:
            return 50.0, None
        return -0.5 * value**2, None


def test_an_end_whose_fits_leave_the_maximum_stops_there_and_says_so() -> None:
    from emstat.inference.profile import _end

    low, note = _end(_LeavesBelow(-1.0), 0.0, -0.3, -math.inf, CUT, 100)
    assert -1.0 <= low < -0.9
    assert "leave the estimate's local maximum" in note


def test_a_covariance_a_rotation_cannot_reach_is_profiled_by_way_of_half_way_values() -> None:
    """A near-spherical component (variances 0.56 and 0.88, covariance -0.13): a
    covariance of -0.47 needs a more elongated shape, which no straight line from the
    estimate in the chart reaches; the profile goes there by way of -0.30."""
    rng = np.random.default_rng(5)
    for _ in range(3):  # the third data set of this stream
        n1 = rng.binomial(100, 0.5)
        x = np.vstack(
            [
                rng.multivariate_normal([0, 0], [[1, 0.3], [0.3, 1]], n1),
                rng.multivariate_normal([1.5, 1.0], [[1, -0.2], [-0.2, 0.7]], 100 - n1),
            ]
        )
    fit = emstat.fit_mixture(pd.DataFrame(x, columns=["x", "y"]), 2, model="VVV")
    label = "2:cov[x,y]"
    assert fit.params.set_index(["component", "parameter"]).loc[
        (2, "cov[x,y]"), "estimate"
    ] == pytest.approx(-0.1287, abs=1e-3)
    unpack = unpack_vvv(2, 2, 1, (0, 1))
    estimate = float(fit.params_.covariances[1, 0, 1])
    oracle = Oracle(x, 2, unpack, _oracle_start(fit, unpack, estimate, 5))
    ours = profile_loglik(fit, label, [-0.472])
    assert ours[0] == pytest.approx(oracle.profile(-0.472), abs=1e-5)


def test_case_weights_profile_as_repeated_rows(faithful: pd.DataFrame) -> None:
    weights = np.where(np.arange(len(faithful)) % 3 == 0, 2.0, 1.0)
    repeated = faithful.loc[faithful.index.repeat(weights.astype(int))].reset_index(drop=True)
    labels = ["1:cov[eruptions,waiting]", "2:var[waiting]"]
    weighted = emstat.fit_mixture(faithful, 2, model="VVV", weights=weights)
    plain = emstat.fit_mixture(repeated, 2, model="VVV")
    ours = weighted.conf_int(method="profile", parameters=labels)[["ci_low", "ci_high"]]
    theirs = plain.conf_int(method="profile", parameters=labels)[["ci_low", "ci_high"]]
    np.testing.assert_allclose(ours.to_numpy(), theirs.to_numpy(), rtol=1e-6)
