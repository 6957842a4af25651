"""Classification EM (CEM) and stochastic EM (SEM): ``algorithm=`` and ``init="cem"``."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import emstat
from emstat import engine
from emstat.cli import app
from emstat.errors import InputError
from emstat.mixture import gaussian
from emstat.mixture.classification_em import HardEM
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.model import GaussianMixtureModel

MODELS_2D = [
    "EII",
    "VII",
    "EEI",
    "VEI",
    "EVI",
    "VVI",
    "EEE",
    "VEE",
    "EVE",
    "VVE",
    "EEV",
    "VEV",
    "EVV",
    "VVV",
]


@pytest.fixture(scope="module")
def faithful() -> pd.DataFrame:
    return emstat.load_dataset("faithful")


def _blobs(seed: int = 0, n: int = 150, apart: float = 10.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [apart, 0.0], [0.0, apart]])
    x = np.concatenate([rng.normal(c, 1.0, (n, 2)) for c in centres])
    return pd.DataFrame(x, columns=["a", "b"])


def _partition_means(x: np.ndarray, labels: np.ndarray, k: int) -> np.ndarray:
    return np.array([x[labels == j].mean(axis=0) for j in range(k)])


# --- CEM: the Gaussian family, every covariance model -------------------------------
@pytest.mark.parametrize("model", MODELS_2D)
def test_cem_ends_at_a_partition_its_own_estimate_reproduces(
    faithful: pd.DataFrame, model: str
) -> None:
    # A CEM fixpoint: classifying by the estimate gives the partition whose
    # M-step is the estimate (weights = proportions, means = class means).
    fit = emstat.fit_mixture(faithful, 3, model, algorithm="cem")
    assert fit.ok and fit.converged
    x = faithful.to_numpy()
    labels = fit.predict(faithful).to_numpy() - 1
    np.testing.assert_allclose(fit.means.to_numpy(), _partition_means(x, labels, 3), atol=1e-10)
    np.testing.assert_allclose(fit.params_.weights, np.bincount(labels, minlength=3) / len(x))
    em_model = GaussianMixtureModel(get_covariance_model(model, 2), 3)
    centred = x - x.mean(axis=0)
    again = em_model.m_step(em_model.stats_from_labels(centred, labels), None)
    # the iterative M-steps stop at their own tolerance (and CEM's started them elsewhere)
    rtol = 1e-6 if model in ("VEI", "VEE", "VEV", "EVE", "VVE", "EVV") else 1e-10
    np.testing.assert_allclose(again.covariances, fit.params_.covariances, rtol=rtol, atol=1e-12)


@pytest.mark.parametrize("model", [*MODELS_2D[::3], "E", "V"])
def test_cem_objective_never_decreases_and_is_the_classification_likelihood(
    faithful: pd.DataFrame, model: str
) -> None:
    data = faithful[["waiting"]] if len(model) == 1 else faithful
    fit = emstat.fit_mixture(data, 3, model, algorithm="cem", init="kmeans++", seed=4)
    trace = fit.trace
    assert np.all(np.diff(trace) >= -1e-9 * np.abs(trace[:-1]))
    # C = sum_i log(pi_z f_z(x_i)) at the estimate and its partition, from the densities
    x = data.to_numpy()
    log_joint = gaussian.component_log_densities(
        x - fit.params_.center, fit.params_.about(fit.params_.center)
    )
    labels = fit.predict(data).to_numpy() - 1
    assert fit.objective == pytest.approx(log_joint[np.arange(len(x)), labels].sum(), rel=1e-10)
    # the log-likelihood reported (and in BIC) is the observed-data one at the estimate
    assert fit.loglik == pytest.approx(fit.score_samples(data).sum(), rel=1e-10)
    assert fit.bic == pytest.approx(-2 * fit.loglik + fit.n_params * np.log(len(x)), rel=1e-12)
    assert fit.objective < fit.loglik


def test_cem_eii_on_separated_data_is_kmeans() -> None:
    from sklearn.cluster import KMeans

    data = _blobs()
    x = data.to_numpy()
    fit = emstat.fit_mixture(data, 3, "EII", algorithm="cem", init="kmeans++", seed=1)
    km = KMeans(3, n_init=10, random_state=0).fit(x)
    ours = fit.predict(data).to_numpy() - 1
    # the same partition up to the components' order
    pairs = set(zip(ours.tolist(), km.labels_.tolist(), strict=True))
    assert len(pairs) == 3
    order = [dict(pairs)[j] for j in range(3)]
    np.testing.assert_allclose(fit.means.to_numpy(), km.cluster_centers_[order], atol=1e-10)
    # EII's variance in closed form: the within-class sum of squares / (n d)
    sigma2 = km.inertia_ / x.size
    np.testing.assert_allclose(fit.params_.covariances, sigma2 * np.eye(2)[None].repeat(3, 0))


def test_cem_reads_out_of_core_chunks_as_it_reads_memory(faithful: pd.DataFrame) -> None:
    whole = emstat.fit_mixture(faithful, 2, "VVV", algorithm="cem")
    chunked = emstat.fit_mixture(
        iter([faithful.iloc[:100], faithful.iloc[100:]]), 2, "VVV", algorithm="cem"
    )
    assert chunked.loglik == pytest.approx(whole.loglik, rel=1e-12)
    np.testing.assert_allclose(chunked.means.to_numpy(), whole.means.to_numpy(), rtol=1e-12)


def test_cem_ties_go_to_the_lowest_component() -> None:
    x = np.array([[0.0], [1.0], [2.0]])
    model = GaussianMixtureModel(get_covariance_model("E", 1), 2)
    twins = gaussian.gaussian_params(
        np.array([0.5, 0.5]), np.array([[1.0], [1.0]]), np.ones((2, 1, 1)), diagonal=True
    )
    stats, _ = HardEM(model, "cem").e_step(twins, x)
    assert stats.nk.tolist() == [3.0, 0.0]


@pytest.mark.parametrize(("family", "k", "seed"), [(None, 4, 2), ("normal", 3, 0)])
def test_cem_restarts_keep_the_largest_classification_likelihood(
    faithful: pd.DataFrame, monkeypatch: pytest.MonkeyPatch, family: str | None, k: int, seed: int
) -> None:
    from emstat.mixture import _parallel, family_fit

    seen: list[list[float]] = []

    def recording(run, starts):
        best, runs = engine.fit_em_restarts(run, starts)
        seen.append([(r.objective, r.loglik) for r in runs if r.ok])
        return best, runs

    monkeypatch.setattr(_parallel, "fit_em_restarts", recording)  # the Gaussian restarts
    monkeypatch.setattr(family_fit, "fit_em_restarts", recording)
    data = faithful if family is None else faithful[["waiting"]]
    model = "VVV" if family is None else None
    fit = emstat.fit_mixture(
        data, k, model, family=family, algorithm="cem", init="kmeans++", n_init=12, seed=seed
    )
    best_objective = max(objective for objective, _ in seen[0])
    _, objective_of_best_loglik = max((loglik, objective) for objective, loglik in seen[0])
    assert objective_of_best_loglik < best_objective  # the two choices differ here
    assert fit.objective == best_objective


def test_cem_with_a_ridge_makes_no_monotone_promise(faithful: pd.DataFrame) -> None:
    model = GaussianMixtureModel(get_covariance_model("VVV", 2), 3, reg_covar=0.1)
    assert not HardEM(model, "cem").monotone
    assert HardEM(GaussianMixtureModel(model.covariance, 3), "cem").monotone


def test_an_emptied_component_is_a_degenerate_fit_not_a_crash() -> None:
    rng = np.random.default_rng(0)
    data = pd.DataFrame(
        np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal(8, 1, (100, 2))]), columns=["a", "b"]
    )
    labels = np.repeat([0, 1], 100)
    labels[0:100:4] = 2  # a quarter of the first cluster: CEM gives its rows to component 1
    fit = emstat.fit_mixture(data, 3, "EII", init=labels, algorithm="cem")
    assert not fit.ok
    assert "component 3 is empty" in fit.degenerate
    # in a selection it is a NaN cell with its reason
    sel = emstat.select_mixture(data, [1, 3], "EII", init=labels, algorithm="cem")
    assert np.isnan(sel.table.loc[3, "EII"]) and "empty" in sel.reasons.loc[3, "EII"]


def test_em_spelled_out_is_the_default_fit(faithful: pd.DataFrame) -> None:
    default = emstat.fit_mixture(faithful, 3, "EEE")
    explicit = emstat.fit_mixture(faithful, 3, "EEE", algorithm="em")
    assert explicit.loglik == default.loglik
    np.testing.assert_array_equal(explicit.trace, default.trace)
    assert "algorithm" not in default.summary()


# --- SEM ----------------------------------------------------------------------------
def test_sem_is_reproducible_by_seed_and_near_the_truth() -> None:
    data = _blobs(n=400, apart=4.0)  # overlapping: the draws differ from run to run
    first = emstat.fit_mixture(data, 3, "VVV", algorithm="sem", seed=5)
    again = emstat.fit_mixture(data, 3, "VVV", algorithm="sem", seed=5)
    other = emstat.fit_mixture(data, 3, "VVV", algorithm="sem", seed=6)
    np.testing.assert_array_equal(first.trace, again.trace)
    assert first.loglik == again.loglik
    assert not np.array_equal(first.params_.covariances, other.params_.covariances)
    means = first.means.to_numpy()
    truth = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0]])
    nearest = np.array([truth[np.argmin(((truth - m) ** 2).sum(axis=1))] for m in means])
    assert np.abs(means - nearest).max() < 0.3  # a standard error is about 0.06
    assert len({tuple(t) for t in nearest}) == 3
    np.testing.assert_allclose(first.params_.weights, 1 / 3, atol=0.05)
    # flexmix's defaults bound the run, and the summary says what was done
    assert first.control.max_iter == 200 and first.control.tol == 1e-6
    assert "stochastic EM" in first.summary()


def test_sem_draws_weighted_rows_as_repeated_rows() -> None:
    # A row of whole weight w draws w labels: the partition's total weight is the data's.
    data = _blobs(n=50)
    weights = np.random.default_rng(2).integers(1, 4, len(data)).astype(float)
    x = gaussian.WeightedRows(data.to_numpy() - data.to_numpy().mean(0), weights)
    model = GaussianMixtureModel(get_covariance_model("VVV", 2), 3)
    fit = emstat.fit_mixture(data, 3, "VVV", weights=weights)
    theta = fit.params_.about(data.to_numpy().mean(0))
    stats, loglik = HardEM(model, "sem", np.random.default_rng(0)).e_step(theta, x)
    assert stats.nk.sum() == weights.sum()
    assert np.all(stats.nk == np.round(stats.nk))
    assert loglik == pytest.approx(fit.loglik, rel=1e-10)


def test_sem_is_not_monotone_and_gives_no_decrease_warning() -> None:
    data = _blobs(n=60, apart=3.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = emstat.fit_mixture(data, 3, "VVV", algorithm="sem", max_iter=60, tol=0.0)
    assert fit.n_iter == 60 and fit.stop_reason == "max_iter"
    assert np.any(np.diff(fit.trace) < 0)


# --- init="cem" ---------------------------------------------------------------------
def test_init_cem_is_em_from_cems_partition(faithful: pd.DataFrame) -> None:
    cem = emstat.fit_mixture(faithful, 3, "VVV", algorithm="cem")
    from_partition = emstat.fit_mixture(faithful, 3, "VVV", init=cem.predict(faithful).to_numpy())
    fit = emstat.fit_mixture(faithful, 3, "VVV", init="cem")
    assert fit.algorithm == "em"
    assert fit.loglik == pytest.approx(from_partition.loglik, rel=1e-12)
    assert fit.init.startswith("cem from hc")
    assert fit.std_error_method == "observed information"  # an EM fit: standard errors as usual


def test_init_cem_serves_the_other_families() -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"y": np.concatenate([rng.poisson(2, 150), rng.poisson(12, 150)])})
    fit = emstat.fit_mixture(frame, 2, family="poisson", init="cem")
    reference = emstat.fit_mixture(frame, 2, family="poisson")
    assert fit.init.startswith("cem from quantile")
    assert fit.loglik == pytest.approx(reference.loglik, rel=1e-8)  # the same maximum


# --- the other families -------------------------------------------------------------
def _mixed(seed: int = 1, n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.4
    trials = rng.integers(5, 20, n)
    return pd.DataFrame(
        {
            "count": rng.poisson(np.where(z, 2.0, 9.0)),
            "heads": rng.binomial(trials, np.where(z, 0.2, 0.7)),
            "trials": trials,
            "size": rng.normal(np.where(z, 0.0, 4.0), 1.0),
            "colour": np.where(rng.random(n) < np.where(z, 0.8, 0.2), "red", "blue"),
        }
    )


@pytest.mark.parametrize(
    ("family", "columns", "options"),
    [
        ("poisson", ["count"], {}),
        (emstat.Binomial(trials="trials"), ["heads"], {}),
        ("normal", ["size"], {}),
        ("categorical", ["colour"], {}),
        ({"count": "poisson", "size": "normal", "colour": "categorical"}, None, {}),
    ],
)
def test_cem_of_every_family_ends_at_its_own_partition(
    family: object, columns: list[str] | None, options: dict[str, object]
) -> None:
    frame = _mixed()
    fit = emstat.fit_mixture(frame, 2, family=family, columns=columns, algorithm="cem", **options)
    assert fit.ok and fit.converged
    assert np.all(np.diff(fit.trace) >= -1e-9 * np.abs(fit.trace[:-1]))
    labels = fit.predict(frame).to_numpy() - 1
    np.testing.assert_allclose(fit.theta.weights, np.bincount(labels, minlength=2) / len(frame))
    assert fit.loglik == pytest.approx(fit.score_samples(frame).sum(), rel=1e-10)
    # the classification likelihood: log(pi_z f_z) = log z + the row's log density
    proba = fit.predict_proba(frame).to_numpy()
    c = np.log(proba[np.arange(len(frame)), labels]).sum() + fit.loglik
    assert fit.objective == pytest.approx(c, rel=1e-10)
    assert "classification EM" in fit.summary()
    assert np.isnan(fit.params["std_err"]).all()


def test_cem_poisson_rates_are_the_class_means() -> None:
    frame = _mixed()
    fit = emstat.fit_mixture(frame, 2, family="poisson", columns=["count"], algorithm="cem")
    labels = fit.predict(frame).to_numpy() - 1
    means = [frame["count"].to_numpy()[labels == j].mean() for j in range(2)]
    np.testing.assert_allclose(fit.theta.components[0][:, 0], means, rtol=1e-12)


def test_sem_of_a_family_is_seeded() -> None:
    frame = _mixed()
    fits = [
        emstat.fit_mixture(frame, 2, family="poisson", columns=["count"], algorithm="sem", seed=s)
        for s in (1, 1, 2)
    ]
    np.testing.assert_array_equal(fits[0].trace, fits[1].trace)
    assert not np.array_equal(fits[0].theta.components[0], fits[2].theta.components[0])


def test_select_with_cem_uses_each_estimates_loglik(faithful: pd.DataFrame) -> None:
    sel = emstat.select_mixture(faithful, [1, 2, 3], ["EEE", "VVV"], algorithm="cem")
    for fit in sel.fits.values():
        assert fit.algorithm == "cem"
        assert fit.bic == pytest.approx(-2 * fit.loglik + fit.n_params * np.log(272))
    family = emstat.select_mixture(
        _mixed(), [1, 2], family="poisson", columns=["count"], algorithm="sem"
    )
    assert all(f.algorithm == "sem" for f in family.fits.values())


# --- results ------------------------------------------------------------------------
def test_a_saved_cem_fit_keeps_its_algorithm(faithful: pd.DataFrame, tmp_path) -> None:
    fit = emstat.fit_mixture(faithful, 2, "VVV", algorithm="cem")
    back = emstat.load_fit(fit.save(tmp_path / "fit.json"))
    assert back.algorithm == "cem" and back.objective == fit.objective
    assert "classification EM" in back.summary()
    family = emstat.fit_mixture(_mixed(), 2, family="poisson", columns=["count"], algorithm="sem")
    assert emstat.load_fit(family.save(tmp_path / "f.json")).algorithm == "sem"
    payload = json.loads((tmp_path / "fit.json").read_text())
    payload["algorithm"] = "hard"
    (tmp_path / "bad.json").write_text(json.dumps(payload))
    with pytest.raises(InputError, match="unknown algorithm 'hard'; choose one of em, cem, sem"):
        emstat.load_fit(tmp_path / "bad.json")


def test_refits_by_em_are_refused_for_a_cem_fit(faithful: pd.DataFrame) -> None:
    fit = emstat.fit_mixture(faithful, 2, "VVV", algorithm="cem")
    assert "not a maximum of the likelihood" in fit.std_error_reason
    with pytest.raises(InputError, match="algorithm='cem'"):
        fit.bootstrap(n_boot=5)


# --- bad input ----------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["CEM", "hard", 1, None])
def test_an_unknown_algorithm_is_refused_naming_the_choices(faithful: pd.DataFrame, bad) -> None:
    with pytest.raises(InputError, match="choose one of em, cem, sem"):
        emstat.fit_mixture(faithful, 2, algorithm=bad)
    with pytest.raises(InputError, match="choose one of em, cem, sem"):
        emstat.select_mixture(faithful, [1, 2], algorithm=bad)
    with pytest.raises(InputError, match="choose one of em, cem, sem"):
        emstat.fit_mixture(faithful, 2, family="normal", algorithm=bad)


def test_sem_and_init_cem_need_data_in_memory(faithful: pd.DataFrame) -> None:
    chunks = [faithful.iloc[:100], faithful.iloc[100:]]
    with pytest.raises(InputError, match="algorithm='sem' needs the data in memory"):
        emstat.fit_mixture(iter(chunks), 2, algorithm="sem")
    with pytest.raises(InputError, match="init='cem' needs the data in memory"):
        emstat.fit_mixture(iter(chunks), 2, init="cem")


# --- the command line ---------------------------------------------------------------
def test_cli_fit_and_select_take_the_algorithm(faithful: pd.DataFrame, tmp_path) -> None:
    path = tmp_path / "faithful.csv"
    faithful.to_csv(path, index=False)
    runner = CliRunner()
    fit = runner.invoke(app, ["fit", str(path), "-k", "2", "--algorithm", "cem"])
    assert fit.exit_code == 0, fit.output
    assert "classification EM" in fit.output
    api = emstat.fit_mixture(faithful, 2, algorithm="cem")
    assert f"log-likelihood {api.loglik:.6f}" in fit.output
    select = runner.invoke(
        app, ["select", str(path), "-k", "1:2", "--models", "VVV", "--algorithm", "sem", "-q"]
    )
    assert select.exit_code == 0, select.output
    assert "stochastic EM" in select.output
    bad = runner.invoke(app, ["fit", str(path), "-k", "2", "--algorithm", "hard"])
    assert bad.exit_code != 0
    assert "unknown algorithm 'hard'; choose one of em, cem, sem" in bad.output
    init = runner.invoke(app, ["fit", str(path), "-k", "2", "--init", "cem"])
    assert init.exit_code == 0 and "init: cem from hc" in init.output
