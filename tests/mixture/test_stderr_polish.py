"""Standard errors after polishing reuse the last Newton step's derivatives, unchanged."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pytest

import emstat
from emstat.mixture import stderr


def seed_study_fit(seed: int) -> Any:
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(-0.8, 1, 50), rng.normal(0.8, 1, 50)])[:, None]
    return x, emstat.fit_mixture(x, k=2, model="V")


@pytest.mark.parametrize("seed", [1, 3, 4])
def test_the_polished_information_is_the_one_computed_again(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    x, fit = seed_study_fit(seed)
    calls: list[int] = []
    original = stderr._loglik_derivatives

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(stderr, "_loglik_derivatives", counted)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reused, reason = stderr.stationary_std_errors(x, fit.params_, "V")
        reused_calls = len(calls)
        polish = stderr._polish
        monkeypatch.setattr(stderr, "_polish", lambda *a: (*polish(*a)[:2], None, None))
        calls.clear()
        again, reason_again = stderr.stationary_std_errors(x, fit.params_, "V")
    assert reused_calls == len(calls) - 1  # one Hessian fewer: the Newton step's own
    np.testing.assert_array_equal(reused, again)
    assert reason == reason_again
    assert np.all(np.isfinite(reused))
