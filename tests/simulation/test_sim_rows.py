"""A replicate's rows come from the fit's cached arrays: the same rows as from ``fit.params``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from emstat.mixture import fit_mixture
from emstat.mixture.result import MixtureResult
from emstat.simulation import make_design, mixture_from_formula, mixture_from_mapping
from emstat.simulation import replicate as rep
from emstat.simulation.generate import replicate_rng
from tests.simulation.conftest import EXAMPLE

MIX2 = {
    "weights": [0.4, 0.6],
    "means": [[0.0, 0.0], [2.5, 1.0]],
    "covariances": [[[1.0, 0.3], [0.3, 0.6]], [[0.8, 0.0], [0.0, 1.2]]],
}


def _rows_from_params_table(fit, truth, names, truths, noise_weight=0.0):
    """The replicate's estimate columns read from the public ``fit.params`` DataFrame."""
    table = fit.params
    p = len(names)
    match = truth.match(fit)
    labels = match.copy()
    unmatched = np.flatnonzero(match < 0)
    labels[unmatched] = truth.k + np.arange(unmatched.size)
    order = np.argsort(labels, kind="stable")
    rows = list((order[:, None] * p + np.arange(p)[None, :]).reshape(-1))
    rows += list(np.flatnonzero(table["component"].to_numpy() == 0))
    return {
        name: table[name].to_numpy(dtype=float)[rows]
        for name in ("estimate", "std_err", "ci_low", "ci_high")
    }


def _no_params_table(monkeypatch):
    def refuse(self):
        raise AssertionError("a replicate built fit.params")

    monkeypatch.setattr(MixtureResult, "params", property(refuse))


@pytest.mark.parametrize(
    ("mixture", "noise"),
    [(EXAMPLE, False), (MIX2, False), (MIX2, True)],
    ids=["1-D", "2-D", "2-D noise"],
)
def test_replicate_rows_equal_the_params_table_without_building_it(monkeypatch, mixture, noise):
    truth = (
        mixture_from_formula(mixture) if isinstance(mixture, str) else mixture_from_mapping(mixture)
    )
    options = {"noise": {"share": 0.05}, "fit": {"noise": True}} if noise else {}
    design = make_design(truth, n=80, reps=3, seed=7, **options)
    scenario = design.scenarios()[0]
    names, truths = rep.truth_table(truth)
    expected = []
    for replicate in range(3):  # the fits of run_replicate, made here as they are there
        data, _ = truth.draw(scenario.n, replicate_rng(design.seed, replicate)[0])
        outliers = design.noise.rows(scenario.n)
        if outliers:
            data = rep.add_outliers(data, outliers, rep.noise_rng(design.seed, replicate))
        fit = fit_mixture(
            data,
            scenario.k,
            model=scenario.model,
            init=design.fit.init,
            seed=replicate_rng(design.seed, replicate)[1],
            control=design.fit.control(),
            **design.fit.options(),
        )
        expected.append(_rows_from_params_table(fit, truth, names, truths))
    _no_params_table(monkeypatch)
    for replicate in range(3):
        columns, _ = rep.run_replicate(design, scenario, replicate)
        assert set(columns["error"]) == {""}
        for name, want in expected[replicate].items():
            assert columns[name].tobytes() == want.tobytes(), name
        if noise:
            assert columns["component"][-2:].tolist() == [0, 0]
            assert columns["parameter"][-2:].tolist() == ["weight", "Vinv"]


def test_wald_intervals_of_a_study_come_from_the_arrays(monkeypatch):
    design = make_design(mixture_from_formula(EXAMPLE), n=60, reps=2, seed=3, intervals="wald")
    scenario = design.scenarios()[0]
    _no_params_table(monkeypatch)
    columns, _ = rep.run_replicate(design, scenario, 0)
    assert set(columns["error"]) == {""}
    # the Wald method's intervals are the rows' own 95% Wald intervals
    np.testing.assert_array_equal(columns["ci_low_wald"], columns["ci_low"])
    np.testing.assert_array_equal(columns["ci_high_wald"], columns["ci_high"])


def test_a_family_fit_still_reads_its_params_table():
    design = make_design(mixture_from_formula("0.6*Pois(2) + 0.4*Pois(9)"), n=80, reps=1, seed=2)
    columns, _ = rep.run_replicate(design, design.scenarios()[0], 0)
    assert set(columns["error"]) == {""}
    assert np.isfinite(columns["estimate"]).all()


def test_a_replicates_streams_are_its_spawned_children():
    from emstat.simulation.generate import replicate_seed_sequence

    for seed, replicate in [(0, 0), (1, 7), (12345, 999)]:
        data_seq, fit_seq = replicate_seed_sequence(seed, replicate).spawn(2)
        rng, fit_seed = replicate_rng(seed, replicate)
        assert (rng.random(4) == np.random.default_rng(data_seq).random(4)).all()
        assert fit_seed == int(fit_seq.generate_state(1)[0])


def test_a_batch_shares_one_setup_and_gives_each_replicates_rows():
    design = make_design(mixture_from_formula(EXAMPLE), n=60, reps=3, seed=5)
    scenario = design.scenarios()[0]
    setup = rep.scenario_setup(design, scenario)
    assert not setup.truths.flags.writeable  # shared by the batch: no replicate may edit it
    batch = rep.run_batch(rep.BatchTask(design, scenario, (0, 1, 2)))
    alone = pd.concat(
        [
            pd.DataFrame(rep.run_replicate(design, scenario, r)[0])[list(batch.rows.columns)]
            for r in range(3)
        ],
        ignore_index=True,
    )
    for name in ("estimate", "std_err", "ci_low", "ci_high", "truth", "loglik"):
        np.testing.assert_array_equal(batch.rows[name].to_numpy(), alone[name].to_numpy())
