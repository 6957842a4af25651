"""emstat.sklearn: scikit-learn's estimator checks, Pipeline, GridSearchCV, and agreement with
emstat's own fits."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import emstat
from emstat.sklearn import GaussianMixture, MixtureModel

# scikit-learn's checks fit 20 rows of 5 integer-valued columns (values 0, 1, 2) and 40 rows
# in 10-D: there the maximum-likelihood fit is singular.  GaussianMixture adds scikit-learn's
# ridge (reg_covar=1e-6) and passes; the normal family's per-column variances have no ridge.
_SINGULAR_ON_TINY_DATA = "the MLE is singular on the check's tiny data (no ridge in the family)"
_EXPECTED_FAILURES = {
    "normal": {"check_estimators_dtypes": _SINGULAR_ON_TINY_DATA},
}


def _expected_failures(estimator: object) -> dict[str, str]:
    kind = getattr(estimator, "model", None) or getattr(estimator, "family", None)
    return _EXPECTED_FAILURES.get(str(kind), {})


@parametrize_with_checks(
    [
        GaussianMixture(model="EEE"),
        GaussianMixture(k=3, model="EII"),
        GaussianMixture(),
        MixtureModel(family="normal"),
    ],
    expected_failed_checks=_expected_failures,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def faithful() -> pd.DataFrame:
    return emstat.load_dataset("faithful")


@pytest.fixture(scope="module")
def three_clusters() -> np.ndarray:
    rng = np.random.default_rng(3)
    x = np.vstack([rng.normal(c, 1.0, size=(100, 2)) for c in ([0, 0], [8, 0], [0, 8])])
    rng.shuffle(x)
    return x


def test_gaussian_estimator_agrees_with_fit_mixture(faithful):
    fit = emstat.fit_mixture(faithful, k=3, model="VVV", seed=0, reg_covar=1e-6)
    est = GaussianMixture(k=3, model="VVV", random_state=0).fit(faithful)
    x = faithful
    np.testing.assert_array_equal(est.predict(x), fit.predict(faithful).to_numpy() - 1)
    np.testing.assert_allclose(est.predict_proba(x), fit.predict_proba(faithful).to_numpy())
    np.testing.assert_allclose(est.score_samples(x), fit.score_samples(faithful).to_numpy())
    np.testing.assert_allclose(est.weights_, fit.weights.to_numpy())
    np.testing.assert_allclose(est.means_, fit.means.to_numpy())
    np.testing.assert_allclose(
        est.covariances_, np.stack([c.to_numpy() for c in fit.covariances.values()])
    )
    assert est.score(x) == pytest.approx(fit.loglik / len(faithful), rel=1e-12)
    assert est.lower_bound_ == pytest.approx(fit.loglik / len(faithful), rel=1e-12)
    assert est.lower_bounds_[-1] == pytest.approx(fit.trace[-1] / len(faithful))
    assert est.bic(x) == pytest.approx(fit.bic, rel=1e-12)
    assert est.aic(x) == pytest.approx(fit.aic, rel=1e-12)
    assert (est.n_iter_, est.converged_) == (fit.n_iter, fit.converged)
    assert est.n_features_in_ == 2
    assert est.feature_names_in_.tolist() == ["eruptions", "waiting"]
    assert est.result_.columns == ["eruptions", "waiting"]


def test_fit_on_an_array_has_no_feature_names(faithful):
    est = GaussianMixture(k=2).fit(faithful.to_numpy())
    assert not hasattr(est, "feature_names_in_")
    assert est.result_.columns == ["x1", "x2"]


def test_bic_on_other_rows_uses_their_count(faithful):
    est = GaussianMixture(k=2, model="EEE").fit(faithful)
    part = faithful.iloc[:50]
    loglik = est.score_samples(part).sum()
    expected = -2 * loglik + est.result_.n_params * math.log(50)
    assert est.bic(part) == pytest.approx(expected, rel=1e-12)


def test_sample_returns_rows_and_components(faithful):
    est = GaussianMixture(k=3, model="EEE", random_state=5).fit(faithful)
    x, y = est.sample(400)
    assert x.shape == (400, 2)
    assert set(np.unique(y)) <= {0, 1, 2}
    again, _ = est.sample(400)
    np.testing.assert_array_equal(x, again)  # seeded by random_state
    # rows drawn from component j lie around its mean
    big = np.argmax(est.weights_)
    np.testing.assert_allclose(x[y == big].mean(axis=0), est.means_[big], rtol=0.1)
    with pytest.raises(ValueError, match="n_samples"):
        est.sample(0)


def test_unfitted_estimator_raises_not_fitted():
    with pytest.raises(NotFittedError):
        GaussianMixture().predict(np.zeros((3, 2)))
    with pytest.raises(NotFittedError):
        MixtureModel().sample(3)


def test_bad_data_raise_value_errors(faithful):
    x = faithful.to_numpy().copy()
    x[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GaussianMixture().fit(x)
    with pytest.raises(ValueError, match="n_samples = 2"):
        GaussianMixture(k=3).fit(faithful.to_numpy()[:2])
    with pytest.raises(ValueError, match="k must be"):
        GaussianMixture(k=0).fit(faithful)
    with pytest.raises(ValueError, match="covariance model"):
        GaussianMixture(model="XYZ").fit(faithful)
    est = GaussianMixture(k=2).fit(faithful.to_numpy())
    with pytest.raises(ValueError, match="2 features"):
        est.predict(faithful.to_numpy()[:, :1])


def test_a_degenerate_fit_raises():
    x = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 5.0]]), 4, axis=0)
    with pytest.raises(emstat.DegenerateFitError, match="degenerate"):
        GaussianMixture(k=2, model="VVV", reg_covar=0.0).fit(x)


def test_pipeline_scales_then_fits(faithful):
    pipe = make_pipeline(StandardScaler(), GaussianMixture(k=3, model="EEE")).fit(faithful)
    scaled = StandardScaler().fit_transform(faithful)
    fit = emstat.fit_mixture(scaled, k=3, model="EEE", reg_covar=1e-6)
    np.testing.assert_array_equal(pipe.predict(faithful), fit.predict(scaled).to_numpy() - 1)
    assert pipe.score(faithful) == pytest.approx(fit.loglik / len(faithful), rel=1e-10)


def test_grid_search_picks_three_spherical_clusters(three_clusters):
    grid = GridSearchCV(
        GaussianMixture(),
        {"k": [1, 2, 3, 4, 5], "model": ["VVV", "EEE", "EII"]},
        cv=KFold(5, shuffle=True, random_state=0),
    ).fit(three_clusters)
    # three round clusters of equal size: k = 3 and the spherical, equal-volume model
    assert grid.best_params_ == {"k": 3, "model": "EII"}
    scores = pd.DataFrame(grid.cv_results_).set_index(["param_k", "param_model"])
    assert scores.loc[(3, "EII"), "mean_test_score"] > scores.loc[(2, "EII"), "mean_test_score"]
    refit = grid.best_estimator_
    fit = emstat.fit_mixture(three_clusters, k=3, model="EII")
    np.testing.assert_array_equal(
        refit.predict(three_clusters), fit.predict(three_clusters).to_numpy() - 1
    )


def test_set_params_changes_the_fit(faithful):
    est = GaussianMixture().set_params(k=3, model="EEE").fit(faithful)
    assert est.get_params()["k"] == 3
    assert est.result_.k == 3 and est.result_.model == "EEE"


@pytest.fixture(scope="module")
def counts() -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.r_[rng.poisson(2, 200), rng.poisson(12, 200)][:, None].astype(float)


def test_family_estimator_agrees_with_fit_mixture(counts):
    fit = emstat.fit_mixture(counts, k=2, family="poisson")
    est = MixtureModel(k=2, family="poisson").fit(counts)
    np.testing.assert_array_equal(est.predict(counts), fit.predict(counts).to_numpy() - 1)
    np.testing.assert_allclose(est.score_samples(counts), fit.score_samples(counts).to_numpy())
    np.testing.assert_allclose(est.weights_, fit.weights.to_numpy())
    pd.testing.assert_frame_equal(est.params_, fit.params)
    assert est.bic(counts) == pytest.approx(fit.bic, rel=1e-12)
    x, y = est.sample(50)
    assert x.shape == (50, 1) and np.all(x == np.round(x)) and set(y) <= {0, 1}


def test_family_estimator_takes_missing_values_and_names_bad_counts(counts):
    holes = np.c_[counts, counts[::-1]]
    holes[::10, 0] = np.nan
    est = MixtureModel(k=2).fit(holes)
    assert np.isfinite(est.score_samples(holes)).all()
    # a missing count is left out of its row's density, as emstat's own fit does
    fit = emstat.fit_mixture(holes, k=2, family="poisson")
    np.testing.assert_allclose(est.score_samples(holes), fit.score_samples(holes).to_numpy())
    with pytest.raises(ValueError, match="whole numbers"):
        MixtureModel(k=2).fit(counts + 0.5)
    with pytest.raises(ValueError, match="infinity"):
        MixtureModel(k=2).fit(np.r_[counts, [[np.inf]]])


def test_family_estimator_with_a_mapping_of_columns():
    rng = np.random.default_rng(2)
    group = rng.integers(0, 2, 300)
    frame = pd.DataFrame(
        {
            "visits": rng.poisson(np.where(group == 0, 1.0, 9.0)),
            "age": rng.normal(40 + 20 * group, 3),
        }
    )
    est = MixtureModel(k=2, family={"visits": "poisson", "age": "normal"}).fit(frame)
    fit = emstat.fit_mixture(frame, k=2, family={"visits": "poisson", "age": "normal"})
    np.testing.assert_array_equal(est.predict(frame), fit.predict(frame).to_numpy() - 1)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False, timeout=300
    )


def test_importing_emstat_does_not_import_scikit_learn():
    done = _run("import sys, emstat; print('sklearn' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_without_scikit_learn_the_error_names_the_extra():
    done = _run(
        "import sys; sys.modules['sklearn'] = None\n"
        "import emstat\n"
        "try:\n    import emstat.sklearn\n"
        "except emstat.OptionalDependencyError as exc:\n    print(exc)\n"
    )
    assert done.returncode == 0, done.stderr
    assert "pip install 'emstat[sklearn]'" in done.stdout
