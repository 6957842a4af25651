"""Designs: files, grids, validation, separation, random streams, data generation."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from emstat.errors import InputError
from emstat.simulation.design import load_design, make_design, mixture_from_formula
from emstat.simulation.generate import draw_mixture, replicate_rng, replicate_seed_sequence

from .conftest import EXAMPLE


def test_toml_design_crosses_the_grid(design_toml: Path) -> None:
    design = load_design(design_toml)
    assert design.mixture.columns == ("a", "b")
    assert design.reps == 6 and design.seed == 3 and design.fit.tol == 1e-6
    cells = [(s.separation, s.model) for s in design.scenarios()]
    assert cells == [(1.0, "VVV"), (1.0, "EEE"), (2.0, "VVV"), (2.0, "EEE")]
    assert all(s.k == 2 for s in design.scenarios())  # default: the true number


def test_json_design_and_overrides(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"mixture": {"formula": EXAMPLE}, "grid": {"n": [50]}, "reps": 3}))
    design = load_design(path, reps=7, n=[80, 90])
    assert design.reps == 7 and design.grid.n == (80, 90) and design.seed == 0


def test_separation_scales_distance_from_weighted_centre() -> None:
    mixture = mixture_from_formula("0.25*N(0,1) + 0.75*N(4,1)")
    assert mixture.centre() == pytest.approx([3.0])
    assert mixture.separated(2.0).means[:, 0] == pytest.approx([-3.0, 5.0])
    assert mixture.separated(0.0).means[:, 0] == pytest.approx([3.0, 3.0])


def test_stream_i_is_spawn_i() -> None:
    spawned = np.random.SeedSequence(11).spawn(5)
    for i, child in enumerate(spawned):
        assert (replicate_seed_sequence(11, i).generate_state(4) == child.generate_state(4)).all()


def test_draws_follow_the_mixture() -> None:
    mixture = make_design(mixture_from_formula("0.3*N(-5,1) + 0.7*N(5,4)"), n=10, reps=1).mixture
    rng, _ = replicate_rng(0, 0)
    x, labels = draw_mixture(mixture, 40_000, rng)
    assert labels.mean() == pytest.approx(0.7, abs=0.01)
    assert x[labels == 1, 0].var() == pytest.approx(4.0, rel=0.05)
    assert x[labels == 0, 0].mean() == pytest.approx(-5.0, abs=0.03)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"n": 100, "reps": 0}, "reps must be a whole number >= 1"),
        ({"n": 1, "reps": 5}, "n = 1 is smaller than the number of components (2)"),
        ({"n": 3, "reps": 5, "k": 4}, "n = 3 is smaller than the number of components (4)"),
        ({"n": 100, "reps": 5, "model": "XYZ"}, "XYZ"),
        ({"n": 100, "reps": 5, "separation": -1}, "separations must be"),
        ({"n": 100, "reps": 5, "fit": {"tol": -1}}, "tol"),
    ],
)
def test_bad_design_values(kwargs: dict, words: str) -> None:
    with pytest.raises(InputError) as info:
        make_design(mixture_from_formula(EXAMPLE), **kwargs)
    assert words in str(info.value)
    assert len(str(info.value).splitlines()) == 1


@pytest.mark.parametrize(
    ("mixture", "words"),
    [
        ("weights = [0.5, 0.4]\nmeans = [0, 1]\ncovariances = [1, 1]", "sum to 0.9, not 1"),
        ("weights = [0.5, 0.5]\nmeans = [0, 1]\ncovariances = [1, -1]", "non-positive variance"),
        (
            "weights = [1.0]\nmeans = [[0, 0]]\ncovariances = [[[1, 2], [2, 1]]]",
            "not positive definite",
        ),
        ("weights = [1.0]\nmeans = [[0, 0]]", "missing covariances"),
    ],
)
def test_bad_mixture_in_file(tmp_path: Path, mixture: str, words: str) -> None:
    path = tmp_path / "d.toml"
    path.write_text(f"reps = 2\n[mixture]\n{mixture}\n[grid]\nn = [20]\n")
    with pytest.raises(InputError, match="mixture") as info:
        load_design(path)
    assert words in str(info.value)


def test_unreadable_design_file(tmp_path: Path) -> None:
    path = tmp_path / "d.toml"
    path.write_text("reps = = 2")
    with pytest.raises(InputError, match="not valid TOML"):
        load_design(path)
    with pytest.raises(InputError, match="no design file"):
        load_design(tmp_path / "missing.toml")
