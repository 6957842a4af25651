"""The suite every component family passes: densities, closed forms, weights, recovery."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

import emstat
from emstat import EMControl
from emstat.mixture.family_fit import FamilyFitter, prepare_family_data
from emstat.mixture.finite import FamilyData, RowChunks

TIGHT = EMControl(tol=1e-12, criterion="rel")


def _counts(seed: int = 0, n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    z = rng.random(n) < 0.6
    days = rng.integers(1, 8, size=n).astype(float)
    visits = rng.poisson(np.where(z, 2.0, 9.0) * days)
    trials = rng.integers(10, 30, size=n)
    heads = rng.binomial(trials, np.where(z, 0.2, 0.7))
    smoker = np.where(rng.random(n) < np.where(z, 0.8, 0.2), "yes", "no")
    colour = rng.choice(["red", "green", "blue"], size=n)
    age = rng.normal(np.where(z, 30.0, 60.0), np.where(z, 4.0, 8.0))
    return pd.DataFrame(
        {
            "visits": visits,
            "days": days,
            "heads": heads,
            "trials": trials,
            "smoker": smoker,
            "colour": colour,
            "age": age,
        }
    )


COUNTS = _counts()
FAMILIES = {
    "poisson": {"family": emstat.Poisson(exposure="days"), "columns": ["visits"]},
    "binomial": {"family": emstat.Binomial(trials="trials"), "columns": ["heads"]},
    "categorical": {"family": "categorical", "columns": ["smoker", "colour"]},
    "normal": {"family": "normal", "columns": ["age"]},
    "mixed": {
        "family": {
            "age": "normal",
            "visits": emstat.Poisson(exposure="days"),
            "smoker": "categorical",
        }
    },
}


def _fit(
    name: str, k: int, data: pd.DataFrame = COUNTS, **extra: object
) -> emstat.FamilyMixtureResult:
    extra.setdefault("control", TIGHT)
    return emstat.fit_mixture(data, k=k, **FAMILIES[name], **extra)  # type: ignore[arg-type]


def _scipy_log_density(
    name: str, fit: emstat.FamilyMixtureResult, data: pd.DataFrame
) -> np.ndarray:
    """Each row's log density under component 1, from scipy.stats."""
    theta = fit.theta
    assert theta is not None
    pairs = zip(fit.family.parts, theta.components, strict=True)
    first = {part.column: values[0] for part, values in pairs}
    total = np.zeros(len(data))
    for column, values in first.items():
        if column == "visits":
            total += stats.poisson.logpmf(data["visits"], values[0] * data["days"])
        elif column == "heads":
            total += stats.binom.logpmf(data["heads"], data["trials"], values[0])
        elif column == "age":
            total += stats.norm.logpdf(data["age"], values[0], math.sqrt(values[1]))
        else:
            part = next(p for p in fit.family.parts if p.column == column)
            levels = list(part.levels)  # type: ignore[attr-defined]
            total += np.log(values[[levels.index(v) for v in data[column]]])
    return total


@pytest.mark.parametrize("name", list(FAMILIES))
def test_log_densities_match_scipy(name: str) -> None:
    fit = _fit(name, 2)
    assert fit.theta is not None
    encoded = FamilyData(fit.family.encode(COUNTS))
    ours = fit.family.log_density(fit.theta.components, encoded.blocks)[:, 0]
    np.testing.assert_allclose(ours, _scipy_log_density(name, fit, COUNTS), rtol=1e-12)
    # and the mixture's row densities sum to the log-likelihood
    assert fit.score_samples(COUNTS).sum() == pytest.approx(fit.loglik, rel=1e-12)


def test_one_component_is_the_plain_mle() -> None:
    data = COUNTS
    poisson = _fit("poisson", 1)
    assert poisson.theta.components[0][0, 0] == pytest.approx(  # type: ignore[union-attr]
        data["visits"].sum() / data["days"].sum(), rel=1e-14
    )
    binomial = _fit("binomial", 1)
    assert binomial.theta.components[0][0, 0] == pytest.approx(  # type: ignore[union-attr]
        data["heads"].sum() / data["trials"].sum(), rel=1e-14
    )
    normal = _fit("normal", 1)
    mean, var = normal.theta.components[0][0]  # type: ignore[union-attr]
    assert mean == pytest.approx(data["age"].mean(), rel=1e-13)
    assert var == pytest.approx(data["age"].var(ddof=0), rel=1e-12)
    categorical = _fit("categorical", 1)
    colour = categorical.theta.components[1][0]  # type: ignore[union-attr]
    expected = data["colour"].value_counts(normalize=True).sort_index().to_numpy()
    np.testing.assert_allclose(colour, expected, rtol=1e-14)
    # the plain log-likelihood, from scipy
    assert poisson.loglik == pytest.approx(
        stats.poisson.logpmf(
            data["visits"], poisson.theta.components[0][0, 0] * data["days"]
        ).sum(),  # type: ignore[union-attr]
        rel=1e-13,
    )


def test_one_component_standard_errors_are_the_closed_forms() -> None:
    poisson = _fit("poisson", 1).params.set_index("parameter")
    rate = COUNTS["visits"].sum() / COUNTS["days"].sum()
    assert poisson.loc["rate[visits]", "std_err"] == pytest.approx(
        math.sqrt(rate / COUNTS["days"].sum()), rel=1e-5
    )
    binomial = _fit("binomial", 1).params.set_index("parameter")
    p = COUNTS["heads"].sum() / COUNTS["trials"].sum()
    assert binomial.loc["prob[heads]", "std_err"] == pytest.approx(
        math.sqrt(p * (1 - p) / COUNTS["trials"].sum()), rel=1e-5
    )
    # Intervals on the log and logit scales stay inside the parameter space.
    low, high = binomial.loc["prob[heads]", ["ci_low", "ci_high"]]
    assert 0 < low < p < high < 1


@pytest.mark.parametrize("name", list(FAMILIES))
def test_weights_of_two_equal_duplicated_rows(name: str) -> None:
    head = COUNTS.iloc[:200]
    weights = np.where(np.arange(200) % 3 == 0, 2.0, 1.0)
    doubled = pd.concat([head, head[weights == 2.0]])
    # The same start parameters for both: then every EM step must agree.
    start = _start_from(_fit(name, 2, head, init="random", seed=3))
    weighted = _fit(name, 2, head, weights=weights, init=start)
    duplicated = _fit(name, 2, doubled, init=start)
    assert weighted.loglik == pytest.approx(duplicated.loglik, rel=1e-9)
    assert weighted.n == pytest.approx(len(doubled))
    assert weighted.bic == pytest.approx(duplicated.bic, rel=1e-9)
    np.testing.assert_allclose(
        weighted.params["estimate"], duplicated.params["estimate"], rtol=1e-6, atol=1e-9
    )


def _start_from(fit: emstat.FamilyMixtureResult) -> dict[str, list[float]]:
    """A fit's estimates, moved a little inside the parameter space, as start parameters."""
    table = fit.params
    start: dict[str, list[float]] = {}
    for name, rows in table.groupby("parameter", sort=False):
        values = rows["estimate"].to_numpy()
        start[str(name)] = list(values)
    for name, values in start.items():
        if name.startswith("prob") or name == "weight":
            start[name] = list(0.9 * np.asarray(values) + 0.1 * np.mean(values))
    return start


@pytest.mark.parametrize("name", list(FAMILIES))
def test_the_log_likelihood_never_decreases(name: str) -> None:
    fit = _fit(name, 3, init="random", seed=1, control=EMControl(tol=1e-8))
    assert np.all(np.diff(fit.trace) >= -1e-9 * np.abs(fit.trace[1:]))
    assert fit.trace[-1] == pytest.approx(fit.loglik, rel=1e-12)


def test_sampling_then_fitting_recovers_the_truth() -> None:
    truth = _fit("mixed", 2)
    draws = truth.sample(20_000, seed=5)
    refit = emstat.fit_mixture(draws, k=2, family=FAMILIES["mixed"]["family"], control=TIGHT)
    # components in the same order: by the normal column's mean
    order_truth = np.argsort(truth.theta.components[0][:, 0])  # type: ignore[union-attr]
    order_refit = np.argsort(refit.theta.components[0][:, 0])  # type: ignore[union-attr]
    np.testing.assert_allclose(
        refit.theta.weights[order_refit],
        truth.theta.weights[order_truth],
        atol=0.02,  # type: ignore[union-attr]
    )
    for a, b in zip(refit.theta.components, truth.theta.components, strict=True):  # type: ignore[union-attr]
        np.testing.assert_allclose(a[order_refit], b[order_truth], rtol=0.05, atol=0.02)


@pytest.mark.parametrize(
    ("name", "k", "expected"),
    [
        ("poisson", 3, 3 + 2),  # flexmix df: k rates + (k - 1) weights
        ("binomial", 2, 2 + 1),
        ("categorical", 3, 3 * (1 + 2) + 2),  # poLCA: k * sum(L - 1) + k - 1
        ("normal", 2, 4 + 1),
        ("mixed", 2, 2 * (2 + 1 + 1) + 1),
    ],
)
def test_parameter_counts(name: str, k: int, expected: int) -> None:
    assert _fit(name, k, init="random", seed=0).n_params == expected


def test_missing_values_are_marginalised_at_the_observed_data_mle() -> None:
    rng = np.random.default_rng(2)
    data = COUNTS[["smoker", "colour", "age"]].iloc[:300].copy()
    data.loc[rng.random(300) < 0.2, "smoker"] = np.nan
    data.loc[rng.random(300) < 0.2, "age"] = np.nan
    family = {"age": "normal", "smoker": "categorical", "colour": "categorical"}
    fit = emstat.fit_mixture(data, k=2, family=family, control=EMControl(tol=1e-14))
    model = fit._model

    def negative_loglik(free: np.ndarray) -> float:
        theta = model.from_free(free)
        inside = [theta.weights, *(c[:, 1] for c in theta.components[:1])]
        inside += [c for c in theta.components[1:]]
        if any((np.asarray(v) <= 0).any() for v in inside):
            return math.inf  # outside the parameter space
        return -model.loglik(theta, fit.data_)  # type: ignore[arg-type]

    start = model.to_free(fit.theta)  # type: ignore[arg-type]
    direct = optimize.minimize(negative_loglik, start + 0.01, method="BFGS", options={"gtol": 1e-9})
    assert -direct.fun == pytest.approx(fit.loglik, abs=1e-7)
    np.testing.assert_allclose(direct.x, start, atol=1e-3)
    # and the gradient at the EM answer is zero
    gradient = optimize.approx_fprime(start, negative_loglik, 1e-7)
    assert np.max(np.abs(gradient)) < 1e-3


def test_chunks_that_carry_their_rows_give_the_same_fit() -> None:
    family, encoded = prepare_family_data(COUNTS, FAMILIES["poisson"]["family"], ["visits"])
    whole = FamilyFitter(family, encoded, TIGHT, init="random", seed=4).fit(2)
    chunks = RowChunks(encoded, chunk_rows=64)
    assert [int(c.rows[0]) for c in chunks.chunks()[:3]] == [0, 64, 128]  # type: ignore[index]
    from emstat.engine import fit_em

    model = whole._model
    em = fit_em(model, chunks, theta0=whole.theta, control=TIGHT)
    assert em.loglik == pytest.approx(whole.loglik, rel=1e-12)


def test_select_mixture_chooses_the_true_number_of_components() -> None:
    sel = emstat.select_mixture(
        COUNTS, k=range(1, 5), family=emstat.Poisson(exposure="days"), columns=["visits"]
    )
    assert sel.best.k == 2
    assert list(sel.table.index) == [1, 2, 3, 4] and list(sel.table.columns) == ["poisson"]
    assert "Poisson mixtures" in sel.summary()
    bics = sel.table["poisson"].to_numpy()
    assert bics[1] == min(bics)


def test_save_and_load_round_trip(tmp_path: object) -> None:
    from pathlib import Path

    fit = _fit("mixed", 2)
    path = fit.save(Path(str(tmp_path)) / "fit.json")
    loaded = emstat.load_fit(path)
    assert isinstance(loaded, emstat.FamilyMixtureResult)
    pd.testing.assert_frame_equal(loaded.params, fit.params)
    assert loaded.bic == pytest.approx(fit.bic, rel=1e-15)
    pd.testing.assert_series_equal(loaded.predict(COUNTS), fit.predict(COUNTS))
    assert "<table" in loaded._repr_html_()


def test_deaths_of_london_women_as_published() -> None:
    """Hasselblad (1969): deaths per day of women aged 80+ in the London Times, 1910-1912.

    The two-component Poisson MLE reported there (and in Titterington, Smith
    and Makov 1985, Table 4.1.1): weight 0.3599, rates 1.2561 and 2.6634.
    """
    deaths = emstat.load_dataset("deaths")
    fit = emstat.fit_mixture(
        deaths,
        k=2,
        family="poisson",
        columns=["deaths"],
        weights="days",
        control=EMControl(tol=1e-14),
    )
    assert fit.n == 1096
    order = np.argsort(fit.theta.components[0][:, 0])  # type: ignore[union-attr]
    assert fit.theta.weights[order][0] == pytest.approx(0.3599, abs=5e-5)  # type: ignore[union-attr]
    np.testing.assert_allclose(
        fit.theta.components[0][order, 0],
        [1.2561, 2.6634],
        atol=5e-5,  # type: ignore[union-attr]
    )
    # the same answer by direct maximisation of the weighted log-likelihood
    counts, days = deaths["deaths"].to_numpy(), deaths["days"].to_numpy()

    def negative(v: np.ndarray) -> float:
        w, a, b = 1 / (1 + math.exp(-v[0])), math.exp(v[1]), math.exp(v[2])
        mix = w * stats.poisson.pmf(counts, a) + (1 - w) * stats.poisson.pmf(counts, b)
        return -float(days @ np.log(mix))

    direct = optimize.minimize(
        negative,
        [0.0, 0.0, 1.0],
        method="Nelder-Mead",
        options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 10_000},
    )
    assert -direct.fun == pytest.approx(fit.loglik, abs=1e-8)


@pytest.mark.parametrize(("k", "published"), [(2, -317.2568), (3, -293.705), (4, -289.2858)])
def test_latent_classes_of_the_carcinoma_ratings_as_published(k: int, published: float) -> None:
    """Agresti (2002), Tables 13.2-13.3 (poLCA's documentation reproduces them)."""
    ratings = emstat.load_dataset("carcinoma")
    fit = emstat.fit_mixture(
        ratings,
        k=k,
        family="categorical",
        init="random",
        n_init=20,
        seed=1,
        control=EMControl(tol=1e-10),
    )
    assert fit.loglik == pytest.approx(published, abs=5e-4)
    assert fit.n_params == k * 7 + k - 1
    assert fit.restarts is not None and len(fit.restarts) == 20


def test_one_results_base_gives_every_fit_the_same_criteria_and_intervals() -> None:
    gaussian = emstat.fit_mixture(emstat.load_dataset("faithful"), k=2, model="VVV")
    poisson = _fit("poisson", 2)
    for fit in (gaussian, poisson):
        assert fit.bic == pytest.approx(-2 * fit.loglik + fit.n_params * math.log(fit.n))
        assert fit.criterion("bic", "mclust") == pytest.approx(-fit.bic)
        assert fit.icl >= fit.bic
        narrow, wide = fit.conf_int(0.5), fit.conf_int(0.99)
        assert (narrow["ci_low"] >= wide["ci_low"] - 1e-12).all()
        assert (narrow["ci_high"] <= wide["ci_high"] + 1e-12).all()
        pd.testing.assert_frame_equal(fit.conf_int(0.95), fit.params)
    row = gaussian.params.iloc[1]
    z90 = stats.norm.ppf(0.95)
    assert gaussian.conf_int(0.9).iloc[1]["ci_low"] == pytest.approx(
        row["estimate"] - z90 * row["std_err"], rel=1e-14
    )
    with pytest.raises(emstat.InputError, match="between 0 and 1"):
        poisson.conf_int(95)


@pytest.mark.parametrize("model", ["VVV", "EEE", "VEV", "EII"])
def test_gaussian_case_weights_equal_duplicated_rows(model: str) -> None:
    """mclust's me.weighted: a weight of 2 counts a row twice, for every covariance model."""
    faithful = emstat.load_dataset("faithful")
    weights = np.where(np.arange(len(faithful)) % 3 == 0, 2.0, 1.0)
    doubled = pd.concat([faithful, faithful[weights == 2]])
    # The same start for both: each duplicated row starts in its original's class.
    start = emstat.fit_mixture(faithful, 3, model).predict(faithful).to_numpy()
    weighted = emstat.fit_mixture(faithful, 3, model, weights=weights, init=start, control=TIGHT)
    labels = np.concatenate([start, start[weights == 2]])
    duplicated = emstat.fit_mixture(doubled, 3, model, init=labels, control=TIGHT)
    assert weighted.n == len(doubled)
    assert weighted.loglik == pytest.approx(duplicated.loglik, rel=1e-10)
    # the observed information of the weighted log-likelihood is the duplicated rows'
    np.testing.assert_allclose(
        weighted.params["std_err"], duplicated.params["std_err"], rtol=1e-6, atol=1e-12
    )
    assert weighted.bic == pytest.approx(duplicated.bic, rel=1e-10)
    np.testing.assert_allclose(
        np.sort(weighted.means.to_numpy(), axis=0),
        np.sort(duplicated.means.to_numpy(), axis=0),
        rtol=1e-9,
    )


def test_gaussian_weights_column_is_not_modelled() -> None:
    faithful = emstat.load_dataset("faithful").assign(w=1.0)
    fit = emstat.fit_mixture(faithful, 2, "VVV", weights="w")
    plain = emstat.fit_mixture(faithful[["eruptions", "waiting"]], 2, "VVV")
    assert fit.columns == ["eruptions", "waiting"]
    assert fit.loglik == pytest.approx(plain.loglik, rel=1e-12)
    sel = emstat.select_mixture(faithful, k=[1, 2], models=["VVV"], weights="w")
    assert sel.best.loglik == pytest.approx(plain.loglik, rel=1e-12)


def test_a_fit_with_fractional_weights_round_trips(tmp_path: object) -> None:
    from pathlib import Path

    faithful = emstat.load_dataset("faithful")
    fit = emstat.fit_mixture(faithful, 2, "VVV", weights=np.full(len(faithful), 1.5))
    assert fit.n == 408
    half = emstat.fit_mixture(faithful, 2, "VVV", weights=np.full(len(faithful), 0.75))
    path = half.save(Path(str(tmp_path)) / "half.json")
    loaded = emstat.load_fit(path)
    assert loaded.n == pytest.approx(204.0) and loaded.bic == pytest.approx(half.bic, rel=1e-14)
    odd = emstat.fit_mixture(faithful, 2, "VVV", weights=np.r_[np.full(271, 1.0), 0.5])
    assert emstat.load_fit(odd.save(Path(str(tmp_path)) / "odd.json")).n == 271.5
