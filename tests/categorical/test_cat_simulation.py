"""Simulation: known probabilities are recovered from data made missing at random,
and multiple imputations reproduce the true margins."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emstat.categorical import fit_categorical

from ._refdata import read_reference_csv

TRUTH = np.array(
    [[[0.10, 0.05], [0.08, 0.02], [0.05, 0.10]], [[0.04, 0.06], [0.12, 0.08], [0.20, 0.10]]]
)  # a (2) x b (3) x c (2)


def _simulate_mar(n: int, seed: int) -> pd.DataFrame:
    """Units from TRUTH; b and c go missing with probabilities that depend on the observed a."""
    rng = np.random.default_rng(seed)
    cells = rng.choice(TRUTH.size, size=n, p=TRUTH.reshape(-1))
    a, b, c = np.unravel_index(cells, TRUTH.shape)
    frame = pd.DataFrame(
        {
            "a": pd.Categorical(np.array(["lo", "hi"])[a], categories=["lo", "hi"]),
            "b": np.array(["p", "q", "r"], dtype=object)[b],
            "c": c.astype(float),
        }
    )
    miss_b = rng.random(n) < np.where(a == 0, 0.15, 0.45)
    miss_c = rng.random(n) < np.where(a == 0, 0.40, 0.10)
    frame.loc[miss_b, "b"] = None
    frame.loc[miss_c, "c"] = np.nan
    return frame


@pytest.fixture(scope="module")
def simulated() -> pd.DataFrame:
    return _simulate_mar(6000, seed=20240601)


def test_mar_data_recover_known_probabilities(simulated: pd.DataFrame) -> None:
    res = fit_categorical(simulated)
    est = res.params
    z = (est["estimate"].to_numpy() - TRUTH.reshape(-1)) / est["std_err"].to_numpy()
    assert np.all(np.abs(z) < 4), z
    # complete-case proportions are biased here (MAR on a), EM is not
    complete = simulated.dropna()
    cc = complete.groupby(["a", "b", "c"], observed=False).size().to_numpy() / len(complete)
    assert np.abs(cc - TRUTH.reshape(-1)).max() > np.abs(res.theta - TRUTH).max()


def test_mar_data_recover_independence_margins() -> None:
    pa, pb, pc = np.array([0.3, 0.7]), np.array([0.2, 0.5, 0.3]), np.array([0.6, 0.4])
    truth = pa[:, None, None] * pb[None, :, None] * pc[None, None, :]
    rng = np.random.default_rng(5)
    cells = rng.choice(truth.size, size=5000, p=truth.reshape(-1))
    a, b, c = np.unravel_index(cells, truth.shape)
    frame = pd.DataFrame({"a": a, "b": b.astype(float), "c": c.astype(float)})
    frame.loc[rng.random(5000) < np.where(a == 0, 0.1, 0.5), "b"] = np.nan
    frame.loc[rng.random(5000) < 0.3, "c"] = np.nan
    res = fit_categorical(frame, margins=[["a"], ["b"], ["c"]])
    est = res.params
    z = (est["estimate"].to_numpy() - truth.reshape(-1)) / est["std_err"].to_numpy()
    assert np.all(np.abs(z) < 4), z


@pytest.fixture(scope="module")
def imputations(simulated: pd.DataFrame) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    res = fit_categorical(simulated)
    return simulated, res.impute(m=10, seed=7, burn_in=50, spacing=20)


def test_imputed_margins_recover_the_truth(
    imputations: tuple[pd.DataFrame, list[pd.DataFrame]],
) -> None:
    original, imputed = imputations
    n = len(original)
    for columns in (["b"], ["c"], ["a", "b"], ["b", "c"]):
        axes = [["a", "b", "c"].index(c) for c in columns]
        other = tuple(ax for ax in range(3) if ax not in axes)
        truth = TRUTH.sum(axis=other).reshape(-1)
        props = np.mean(
            [frame.groupby(columns, observed=False).size().to_numpy() / n for frame in imputed],
            axis=0,
        )
        se = np.sqrt(truth * (1 - truth) / n)
        # missing information inflates the variance; 6 complete-data SEs is generous but finite
        assert np.all(np.abs(props - truth) < 6 * se), (columns, props, truth)


def test_imputations_keep_index_dtypes_and_observed_values(
    imputations: tuple[pd.DataFrame, list[pd.DataFrame]],
) -> None:
    original, imputed = imputations
    for frame in imputed:
        assert frame.index.equals(original.index)
        assert (frame.dtypes == original.dtypes).all()
        assert not frame.isna().any().any()
        seen = original.notna()
        for column in original.columns:
            assert (frame.loc[seen[column], column] == original.loc[seen[column], column]).all()
    assert not imputed[0].equals(imputed[1])


def test_imputation_is_reproducible_from_the_seed() -> None:
    frame = _simulate_mar(500, seed=1)
    res = fit_categorical(frame)
    one = res.impute(m=2, seed=123, burn_in=5, spacing=3)
    two = res.impute(m=2, seed=123, burn_in=5, spacing=3)
    three = res.impute(m=2, seed=124, burn_in=5, spacing=3)
    for x, y in zip(one, two, strict=True):
        pd.testing.assert_frame_equal(x, y)
    assert not all(x.equals(z) for x, z in zip(one, three, strict=True))


@pytest.mark.parametrize("margins", [None, [["V1"], ["V2"]]])
def test_imputation_with_counts_splits_rows(margins: list[list[str]] | None) -> None:
    frame = read_reference_csv("cat_crimes.csv")
    res = fit_categorical(frame, "N", margins=margins)
    for completed in res.impute(m=3, seed=3, burn_in=10, spacing=5):
        assert not completed[["V1", "V2"]].isna().any().any()
        assert (completed.dtypes == frame.dtypes).all()
        # each original row's units are all accounted for, under the same index label
        pd.testing.assert_series_equal(
            completed.groupby(level=0)["N"].sum(), frame["N"], check_names=False
        )
        assert set(completed.index) == set(frame.index)
        for label, row in frame.iterrows():
            part = completed.loc[[label]]
            for column in ("V1", "V2"):
                if not pd.isna(row[column]):
                    assert (part[column] == row[column]).all()
        assert completed["N"].gt(0).all()


def test_mean_of_imputations_matches_the_estimate() -> None:
    """Averaged over the posterior, imputed tables are centred on the observed-data fit."""
    frame = read_reference_csv("cat_crimes.csv")
    res = fit_categorical(frame, "N")
    tables = [
        completed.groupby(["V1", "V2"])["N"].sum().to_numpy() / 756.0
        for completed in res.impute(m=200, seed=11, burn_in=20, spacing=2)
    ]
    se = res.params["std_err"].to_numpy()
    assert np.all(np.abs(np.mean(tables, axis=0) - res.theta.reshape(-1)) < 0.5 * se)
