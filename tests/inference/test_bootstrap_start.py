"""Bootstrap refits that repeat the fit's whole estimator (``start="estimator"``), checked
against the public fit run by hand on the same resample, and the studies that use them."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.errors import InputError
from emstat.inference.bootstrap import bootstrap_fit
from emstat.inference.estimator_refit import estimator_refitter
from emstat.inference.refit import refitter_for
from emstat.simulation import mixture_from_formula, simulate
from emstat.simulation.design import IntervalSettings
from emstat.simulation.generate import replicate_rng

SEED_DESIGN = "0.5*N(-0.8,1) + 0.5*N(0.8,1)"


@pytest.fixture(autouse=True)
def _quiet() -> None:
    warnings.simplefilter("ignore")


def _seed_data(rep: int) -> tuple[pd.DataFrame, int]:
    rng, fit_seed = replicate_rng(1, rep)
    data, _ = mixture_from_formula(SEED_DESIGN).draw(100, rng)
    return data, fit_seed


def _by_mean(fit: emstat.MixtureResult) -> np.ndarray:
    order = np.argsort(fit.means.to_numpy()[:, 0])
    return np.concatenate([fit.params["estimate"].to_numpy()[3 * j : 3 * j + 3] for j in order])


@pytest.mark.parametrize("init", ["quantile", "kmeans++"])
def test_a_refit_is_the_fit_run_again_on_its_resample(init: str) -> None:
    data, seed = _seed_data(3)
    n_init = 1 if init == "quantile" else 3
    fit = emstat.fit_mixture(data, 2, model="V", init=init, n_init=n_init, seed=seed)
    refitter = estimator_refitter(fit, refitter_for(fit, "bs", None))
    got = refitter.refit("bs", 0, np.random.default_rng(11))
    # by hand: the same rows, the same seed, the public fit
    rng = np.random.default_rng(11)
    rows = rng.integers(100, size=100)
    again = emstat.fit_mixture(
        data.iloc[rows].to_numpy(), 2, model="V", init=init, n_init=n_init,
        seed=int(rng.integers(2**32)), control=fit.control,
    )  # fmt: skip
    assert again.n_iter > 0 and (n_init == 1 or len(again.restarts) == n_init)
    # aligned to the fit: in 1-D, rank by rank of the means
    ranks = np.argsort(np.argsort(fit.means.to_numpy()[:, 0]))
    expected = _by_mean(again).reshape(2, 3)[ranks].reshape(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_the_estimator_start_is_stated_and_the_jackknife_keeps_the_fits() -> None:
    data, seed = _seed_data(3)
    fit = emstat.fit_mixture(data, 2, model="V", seed=seed)
    boot = fit.bootstrap(30, kind="pb", seed=2, start="estimator")
    assert boot.start == "estimator" and boot.n_failed == 0
    assert "each repeats the fit's start, restarts and stopping rule" in boot.describe()
    assert fit.bootstrap(30, kind="pb", seed=2).start == "fit"  # mclust's, the default
    assert bootstrap_fit(fit, 30, kind="jk", start=None).start == "fit"
    assert bootstrap_fit(fit, 30, kind="pb", seed=2, start=None).start == "estimator"
    table = fit.conf_int(method="bootstrap", n_boot=30, kind="pb", seed=2, start="estimator")
    np.testing.assert_allclose(table["ci_low"], boot.conf_int()["ci_low"], rtol=1e-12)
    # BCa's jackknife starts from the fit whatever the bootstrap's start
    bca = boot.conf_int(interval="bca")
    assert np.isfinite(bca[["ci_low", "ci_high"]].to_numpy()).all()


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda f: f.bootstrap(10, start="labels"), ["unknown bootstrap start 'labels'",
                                                      "'estimator'", "'fit'"]),
        (lambda f: f.bootstrap(10, kind="jk", start="estimator"), ["jackknife", "start='fit'"]),
    ],
)  # fmt: skip
def test_bad_starts_are_refused_in_one_line(call, words) -> None:  # type: ignore[no-untyped-def]
    data, seed = _seed_data(3)
    fit = emstat.fit_mixture(data, 2, model="V", seed=seed)
    with pytest.raises(InputError) as info:
        call(fit)
    message = str(info.value)
    assert "\n" not in message and all(w in message for w in words), message


def test_a_fit_from_given_labels_cannot_repeat_its_start() -> None:
    data, _ = _seed_data(3)
    labels = (data["x"] > 0).astype(int).to_numpy()
    fit = emstat.fit_mixture(data, 2, model="V", init=labels)
    with pytest.raises(InputError, match="cannot be repeated on a resample"):
        fit.bootstrap(10, start="estimator")
    assert bootstrap_fit(fit, 10, kind="pb", seed=1, start=None).start == "fit"


def test_a_study_bootstraps_each_replicate_by_its_estimator(tmp_path: Path) -> None:
    settings = IntervalSettings(methods=("bootstrap",), n_boot=20)
    assert settings.start == "estimator"
    data, seed = _seed_data(1)
    fit = emstat.fit_mixture(data, 2, model="V", seed=seed)
    assert settings.bootstrap_options(fit) == {
        "n_boot": 20, "kind": "pb", "start": "estimator", "control": None,
    }  # fmt: skip
    # a fit whose start cannot be repeated refits from the fit, stopped at the settings' tol
    labelled = emstat.fit_mixture(data, 2, model="V", init=(data["x"] > 0).astype(int).to_numpy())
    assert settings.bootstrap_options(labelled) == {
        "n_boot": 20, "kind": "pb", "start": "fit", "control": settings.control(),
    }  # fmt: skip
    with pytest.raises(InputError, match="unknown bootstrap start 'z'; choose from estimator, fit"):
        IntervalSettings(methods=("bootstrap",), start="z")
    simulate(
        SEED_DESIGN, n=100, reps=2, seed=1, intervals={"methods": ["bootstrap"], "n_boot": 20},
        out_dir=tmp_path / "s",
    )  # fmt: skip
    rows = pd.read_parquet(tmp_path / "s" / "replicates.parquet")
    one = rows[rows["replicate"] == 1]
    table = fit.conf_int(
        method="bootstrap", n_boot=20, kind="pb", start="estimator",
        seed=np.random.SeedSequence(seed).spawn(1)[0],
    )  # fmt: skip
    assert np.isfinite(one["ci_low_bootstrap"]).all()
    np.testing.assert_allclose(
        np.sort(one["ci_low_bootstrap"].to_numpy()), np.sort(table["ci_low"].to_numpy()), rtol=1e-12
    )


def _counts() -> pd.DataFrame:
    rng = np.random.default_rng(4)
    return pd.DataFrame({"y": np.concatenate([rng.poisson(1.5, 70), rng.poisson(9.0, 50)])})


@pytest.mark.parametrize(("init", "n_init"), [("quantile", 1), ("random", 3)])
def test_a_family_refit_is_the_family_fit_run_again_on_its_resample(init: str, n_init: int) -> None:
    data = _counts()
    fit = emstat.fit_mixture(data, 2, family="poisson", init=init, n_init=n_init, seed=5)
    refitter = estimator_refitter(fit, refitter_for(fit, "bs", None))
    got = refitter.refit("bs", 0, np.random.default_rng(11))
    assert got is not None
    rng = np.random.default_rng(11)
    rows = rng.integers(len(data), size=len(data))
    again = emstat.fit_mixture(
        data.iloc[rows].reset_index(drop=True), 2, family="poisson", init=init, n_init=n_init,
        seed=int(rng.integers(2**32)), control=fit.control,
    )  # fmt: skip
    assert n_init == 1 or len(again.restarts) == n_init
    table = again.params
    rates = table[table["parameter"] == "rate[y]"]["estimate"].to_numpy()
    fitted = fit.params
    fitted_rates = fitted[fitted["parameter"] == "rate[y]"]["estimate"].to_numpy()
    # aligned to the fit: the refit's components in the order of the fitted rates
    order = np.argsort(rates)[np.argsort(np.argsort(fitted_rates))]
    expected = table["estimate"].to_numpy().reshape(2, -1)[order].reshape(-1)
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_family_bootstraps_repeat_the_estimator_where_asked_and_in_studies() -> None:
    fit = emstat.fit_mixture(_counts(), 2, family="poisson", seed=5)
    boot = fit.bootstrap(40, kind="pb", seed=2, start="estimator")
    assert boot.start == "estimator" and boot.n_failed == 0
    assert fit.bootstrap(10, kind="bs", seed=2).start == "fit"  # mclust's, the default
    assert bootstrap_fit(fit, 10, kind="pb", seed=2, start=None).start == "estimator"
    # the parametric bootstrap's sd of the larger rate is its sampling sd, about sqrt(9 / 50)
    rates = boot.conf_int()
    spread = rates[rates["parameter"] == "rate[y]"]["std_err"].max()
    assert 0.25 < spread < 0.7
    cem = emstat.fit_mixture(_counts(), 2, family="poisson", algorithm="cem")
    with pytest.raises(InputError, match="algorithm 'cem' is not the likelihood's estimator"):
        cem.bootstrap(10, start="estimator")
