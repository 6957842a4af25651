"""The options of issue-13 fits combined: what composes, and one clear line for what does not."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import emstat
from emstat.errors import InputError
from emstat.mixture.fit import MixtureFitter, prepare_data


@pytest.fixture(scope="module")
def faithful() -> pd.DataFrame:
    return emstat.load_dataset("faithful")


@pytest.fixture(scope="module")
def with_missing(faithful: pd.DataFrame) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    frame = faithful.copy()
    frame.iloc[rng.choice(len(frame), 20, replace=False), 0] = np.nan
    frame.iloc[rng.choice(len(frame), 10, replace=False), 1] = np.nan
    return frame


@pytest.fixture(scope="module")
def labels(faithful: pd.DataFrame) -> pd.Series:
    rng = np.random.default_rng(2)
    classes = pd.Series(np.where(faithful.waiting > 70, "long", "short"), index=faithful.index)
    return classes.where(rng.random(len(faithful)) < 0.1)


def test_a_prior_with_missing_cells_reads_the_observed_data_mle(
    with_missing: pd.DataFrame,
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one = emstat.fit_mixture(with_missing, 1, "VVV", tol=1e-12, criterion="abs")
    fitter = MixtureFitter(prepare_data(with_missing), prior=emstat.GaussianPrior())
    moments = fitter._data_moments()
    n = one.n  # the rows with every cell missing are left out
    np.testing.assert_allclose(moments.mean, one.params_.means[0], rtol=1e-7)
    np.testing.assert_allclose(
        moments.covariance, one.params_.covariances[0] * n / (n - 1), rtol=1e-6
    )
    fit = emstat.fit_mixture(with_missing, 2, "VVV", prior="mclust")
    assert fit.ok and fit.prior is not None and fit.missing is not None
    # the prior pulls the MAP estimate off the MLE: the likelihood is lower
    mle = emstat.fit_mixture(with_missing, 2, "VVV")
    assert fit.loglik < mle.loglik


def test_known_labels_take_the_prior(faithful: pd.DataFrame, labels: pd.Series) -> None:
    plain = emstat.fit_mixture(faithful, 2, "VVV", labels=labels)
    map_fit = emstat.fit_mixture(faithful, 2, "VVV", labels=labels, prior="mclust")
    assert map_fit.prior is not None and plain.prior is None
    assert map_fit.loglik < plain.loglik
    assert "prior:" in map_fit.summary()


def test_a_noise_fit_takes_the_prior(faithful: pd.DataFrame) -> None:
    fit = emstat.fit_mixture(faithful, 2, "VVV", noise=True, prior="mclust")
    assert fit.ok and fit.has_noise and fit.prior is not None
    assert "prior:" in fit.summary()


def test_cem_takes_the_prior(faithful: pd.DataFrame) -> None:
    fit = emstat.fit_mixture(faithful, 2, "VVV", algorithm="cem", prior="mclust")
    assert fit.ok and fit.algorithm == "cem" and fit.prior is not None


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"algorithm": "cem"}, "algorithm='cem' cannot be combined with missing cells"),
        ({"init": "cem"}, "init='cem' cannot be combined with missing cells"),
        ({"noise": True}, "noise component cannot be combined with missing cells"),
    ],
)
def test_what_missing_cells_do_not_serve_is_refused(
    with_missing: pd.DataFrame, options: dict[str, object], words: str
) -> None:
    with pytest.raises(InputError, match=words):
        emstat.fit_mixture(with_missing, 2, "VVV", **options)


def test_labels_with_missing_cells_are_refused(
    with_missing: pd.DataFrame, labels: pd.Series
) -> None:
    with pytest.raises(InputError, match="known labels cannot be combined with missing cells"):
        emstat.fit_mixture(with_missing, 2, "VVV", labels=labels)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"algorithm": "sem", "noise": True}, "cannot be combined with a noise component"),
        ({"init": "cem", "noise": True}, "cannot be combined with a noise component"),
        ({"algorithm": "cem", "use_labels": True}, "cannot be combined with known labels"),
        ({"noise": True, "use_labels": True}, "known labels and a noise component"),
    ],
)
def test_combinations_not_built_are_one_clear_line(
    faithful: pd.DataFrame, labels: pd.Series, options: dict[str, object], words: str
) -> None:
    options = dict(options)
    if options.pop("use_labels", False):
        options["labels"] = labels
    with pytest.raises(InputError, match=words):
        emstat.fit_mixture(faithful, 2, "VVV", **options)
    with pytest.raises(InputError, match=words):
        emstat.select_mixture(faithful, [2], "VVV", **options)


def test_a_noise_fit_refuses_to_predict_rows_with_missing_cells(faithful: pd.DataFrame) -> None:
    fit = emstat.fit_mixture(faithful, 2, "VVV", noise=True)
    rows = faithful.head(3).copy()
    rows.iloc[0, 0] = np.nan
    with pytest.raises(InputError, match="noise component predicts complete rows only"):
        fit.predict(rows)


def test_one_component_with_missing_cells_reaches_the_mle_under_the_default_rule() -> None:
    # R's airquality: the observed-data MLE of one normal (tests/reference/README_missing.md)
    from pathlib import Path

    air = pd.read_csv(Path(__file__).parents[1] / "reference" / "mvn_missing_airquality.csv")
    fit = emstat.fit_mixture(air, 1, "VVV")
    assert fit.loglik == pytest.approx(-2326.6973827983365, abs=1e-9)
    told = emstat.fit_mixture(air, 1, "VVV", tol=1e-3)  # a rule given is the rule used
    assert abs(told.loglik - -2326.6973827983365) > 1e-6


@pytest.mark.parametrize("extra", [{"noise": True}, {"use_labels": True}])
def test_inner_tol_reaches_noise_and_labelled_fits(
    faithful: pd.DataFrame, labels: pd.Series, extra: dict[str, object]
) -> None:
    options = dict(extra)
    if options.pop("use_labels", False):
        options["labels"] = labels
    loose, tight = (
        emstat.fit_mixture(faithful, 2, "VVE", inner_tol=t, **options).loglik for t in (0.5, 1e-12)
    )
    assert loose != tight  # the inner M-step iterations stop where told


def test_a_selection_with_missing_cells_and_workers_fits_in_this_process(
    with_missing: pd.DataFrame,
) -> None:
    emstat.fit_mixture(with_missing, 2, "VVV")  # its E-step has run threads in this process
    two = emstat.select_mixture(with_missing, [1, 2], ["VVV", "EEE"], workers=2)
    one = emstat.select_mixture(with_missing, [1, 2], ["VVV", "EEE"])
    pd.testing.assert_frame_equal(two.table, one.table)


@pytest.mark.parametrize(
    "options",
    [{"missing_cells": True}, {"algorithm": "cem"}, {"prior": "mclust"}, {"reg_covar": 1e-3}],
)
def test_a_saved_fit_keeps_why_it_has_no_standard_errors(
    faithful: pd.DataFrame, with_missing: pd.DataFrame, options: dict[str, object]
) -> None:
    options = dict(options)
    data = with_missing if options.pop("missing_cells", False) else faithful
    fit = emstat.fit_mixture(data, 2, "VVV", **options)
    loaded = type(fit).from_dict(fit.to_dict())
    assert fit.std_error_reason is not None
    assert loaded.std_error_reason == fit.std_error_reason


def test_a_noise_selection_with_a_prior_says_so_with_k_zero_in_the_table(
    faithful: pd.DataFrame,
) -> None:
    selection = emstat.select_mixture(faithful, [0, 1, 2], "VVV", noise=True, prior="mclust")
    assert "MAP fits under a prior" in selection.summary()


def test_the_refusal_names_the_option_given(faithful: pd.DataFrame, labels: pd.Series) -> None:
    for call in (emstat.fit_mixture, emstat.select_mixture):
        with pytest.raises(InputError, match=r"^init='cem' cannot be combined with known labels"):
            call(faithful, 2, "VVV", labels=labels, init="cem")
