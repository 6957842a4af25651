"""The EM loop, on the genetic-linkage example of Dempster, Laird & Rubin (1977).

197 animals fall in four cells with probabilities (1/2 + t/4, (1 - t)/4,
(1 - t)/4, t/4); the first cell hides a split.  The MLE solves
197 t^2 - 15 t - 68 = 0, a closed form the engine must reach.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from emstat.engine import EMControl, fit_em, fit_em_restarts
from emstat.errors import ConvergenceWarning, DegenerateFitError, InputError

COUNTS = np.array([125.0, 18.0, 20.0, 34.0])
THETA_MLE = (15 + math.sqrt(15**2 + 4 * 197 * 68)) / (2 * 197)


def cell_probabilities(t: float) -> np.ndarray:
    return np.array([0.5 + t / 4, (1 - t) / 4, (1 - t) / 4, t / 4])


@dataclass(frozen=True)
class Linkage:
    """Stats: (expected count of the t/4 part of cell 1 plus cell 4, count of cells 2 and 3)."""

    shrink: float = 1.0  # < 1 makes a deliberately bad M-step

    def e_step(self, theta: float, counts: np.ndarray) -> tuple[np.ndarray, float]:
        hidden = counts[0] * (theta / 4) / (0.5 + theta / 4)
        stats = np.array([hidden + counts[3], counts[1] + counts[2]])
        return stats, float(counts @ np.log(cell_probabilities(theta)))

    def m_step(self, stats: np.ndarray, previous: float | None) -> float:
        if stats[1] < 0:
            raise DegenerateFitError("negative count")
        return self.shrink * float(stats[0] / stats.sum())

    def parameter_vector(self, theta: float) -> np.ndarray:
        return np.array([theta])


class Chunks:
    """Counts split in pieces: the engine must sum the statistics."""

    def __init__(self, pieces: list[np.ndarray]) -> None:
        self.pieces = pieces

    def map_reduce(self, e_step: Callable[[Any], tuple[Any, float]]) -> tuple[Any, float]:
        results = [e_step(piece) for piece in self.pieces]
        return sum(r[0] for r in results), sum(r[1] for r in results)


@pytest.mark.parametrize(
    "control",
    [
        EMControl(tol=1e-12, criterion="rel"),
        EMControl(tol=1e-10, criterion="abs"),
        EMControl(tol=1e-12, criterion="per_sample"),
        EMControl(tol=1e-12, criterion="param"),
    ],
    ids=lambda c: c.criterion,
)
def test_reaches_the_closed_form_mle(control: EMControl) -> None:
    result = fit_em(Linkage(), COUNTS, theta0=0.5, control=control, n_obs=197)
    assert result.converged and result.stop_reason == "converged"
    # A log-likelihood rule pins the loglik; the parameter is known to about its square root.
    theta_tol = 1e-9 if control.criterion == "param" else 1e-5
    assert result.theta == pytest.approx(THETA_MLE, abs=theta_tol)
    assert result.loglik == pytest.approx(
        float(COUNTS @ np.log(cell_probabilities(THETA_MLE))), rel=1e-12
    )
    assert np.all(np.diff(result.trace) >= -1e-12)
    assert result.trace[-1] == result.loglik


def test_iterations_count_m_steps_and_trace_follows_e_steps() -> None:
    result = fit_em(Linkage(), COUNTS, theta0=0.5, control=EMControl(tol=1e-8))
    # From parameters: E, then (M, E) per iteration.
    assert len(result.trace) == result.n_iter + 1
    from_stats = fit_em(
        Linkage(), COUNTS, stats0=np.array([60.0, 38.0]), control=EMControl(tol=1e-8)
    )
    # From statistics (a partition), the first step is an M-step, as in mclust's me().
    assert len(from_stats.trace) == from_stats.n_iter
    assert from_stats.theta == pytest.approx(THETA_MLE, abs=1e-3)


def test_rel_rule_is_mclusts() -> None:
    tol = 1e-5
    result = fit_em(Linkage(), COUNTS, theta0=0.1, control=EMControl(tol=tol))
    last, before = result.trace[-1], result.trace[-2]
    assert abs(last - before) / (1 + abs(last)) <= tol
    earlier = result.trace[-3]
    assert abs(before - earlier) / (1 + abs(before)) > tol


def test_param_rule_is_cats() -> None:
    tol = 1e-4
    model = Linkage()
    result = fit_em(model, COUNTS, theta0=0.5, control=EMControl(tol=tol, criterion="param"))
    # Replay the iterations: the rule must fail before the last and hold at it.
    theta, changes = 0.5, []
    for _ in range(result.n_iter):
        new = model.m_step(model.e_step(theta, COUNTS)[0], theta)
        changes.append(abs(new - theta) <= tol * abs(theta))
        theta = new
    assert changes[-1] and not any(changes[:-1])
    assert result.theta == theta


def test_iteration_cap_warns_and_says_so() -> None:
    with pytest.warns(ConvergenceWarning, match="iteration cap"):
        result = fit_em(Linkage(), COUNTS, theta0=0.5, control=EMControl(tol=0, max_iter=3))
    assert not result.converged and result.stop_reason == "max_iter" and result.n_iter == 3


def test_decreasing_loglik_warns() -> None:
    # Shrinking the M-step's answer moves away from the maximum from above.
    with pytest.warns(ConvergenceWarning, match="decreased"), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="EM stopped at the iteration cap")
        fit_em(Linkage(shrink=0.5), COUNTS, theta0=0.9, control=EMControl(tol=0, max_iter=5))


def test_chunks_sum_to_the_whole() -> None:
    whole = fit_em(Linkage(), COUNTS, theta0=0.5, control=EMControl(tol=1e-10))
    parts = Chunks([np.array([100.0, 10.0, 5.0, 30.0]), np.array([25.0, 8.0, 15.0, 4.0])])
    chunked = fit_em(Linkage(), parts, theta0=0.5, control=EMControl(tol=1e-10))
    assert chunked.theta == pytest.approx(whole.theta, abs=1e-14)
    np.testing.assert_allclose(chunked.trace, whole.trace, rtol=1e-14)


def test_degenerate_fit_is_reported_not_raised() -> None:
    result = fit_em(Linkage(), COUNTS, stats0=np.array([1.0, -1.0]))
    assert not result.ok and result.degenerate == "negative count" and math.isnan(result.loglik)


def test_restarts_keep_the_best_valid_run() -> None:
    starts = [0.05, 0.5, -1.0]

    def run(t0: float) -> Any:
        if t0 < 0:
            return fit_em(Linkage(), COUNTS, stats0=np.array([1.0, -1.0]))
        return fit_em(Linkage(), COUNTS, theta0=t0, control=EMControl(tol=1e-3))

    best, runs = fit_em_restarts(run, starts)
    assert len(runs) == 3 and not runs[2].ok
    assert best.loglik == max(r.loglik for r in runs[:2])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"criterion": "bogus"}, "unknown convergence criterion"),
        ({"tol": -1.0}, "tol must be"),
        ({"tol": math.nan}, "tol must be"),
        ({"max_iter": 0}, "max_iter must be"),
    ],
)
def test_control_rejects_bad_settings(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(InputError, match=message):
        EMControl(**kwargs)


def test_start_must_be_given_once() -> None:
    with pytest.raises(InputError, match="exactly one"):
        fit_em(Linkage(), COUNTS)
    with pytest.raises(InputError, match="n_obs"):
        fit_em(Linkage(), COUNTS, theta0=0.5, control=EMControl(criterion="per_sample"))


def test_no_warning_when_all_is_well() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit_em(Linkage(), COUNTS, theta0=0.5)


class _Geometric:
    """A model whose log-likelihood after t M-steps is L - c a^t: EM's linear convergence."""

    limit, gap, rate = -100.0, 5.0, 0.99

    def e_step(self, theta: float, data: object) -> tuple[float, float]:
        return theta, self.limit - self.gap * self.rate**theta

    def m_step(self, stats: float, previous: float | None) -> float:
        return stats + 1.0

    def parameter_vector(self, theta: float) -> np.ndarray:
        return np.array([theta])


def test_aitken_waits_for_the_predicted_limit_where_the_change_rule_stops_early() -> None:
    from emstat.engine import EMControl, fit_em

    model = _Geometric()
    tol = 1e-6
    scale = tol * (1 + abs(model.limit))
    aitken = fit_em(model, None, theta0=0.0, control=EMControl(tol=tol, criterion="aitken"))
    change = fit_em(model, None, theta0=0.0, control=EMControl(tol=tol, criterion="rel"))
    # Aitken's limit is exact on a geometric sequence: it stops once c a^t <= tol (1 + |L|).
    expected = math.ceil(math.log(scale / model.gap) / math.log(model.rate))
    assert aitken.n_iter == pytest.approx(expected, abs=1)
    assert model.limit - aitken.loglik <= scale * 1.01
    # The change rule stops when c a^t (1 - a) is that small: 100 times farther away here.
    assert model.limit - change.loglik > 50 * scale
    assert "Aitken" in EMControl(criterion="aitken").describe()


class _Penalised(_Geometric):
    """The geometric model with an objective: the log-likelihood plus a log-prior of theta."""

    def objective(self, theta: float, stats: float, loglik: float) -> float:
        return loglik - 0.01 * theta


class _Wandering(_Geometric):
    """A model whose log-likelihood goes down and up: it declares itself not monotone."""

    monotone = False

    def e_step(self, theta: float, data: object) -> tuple[float, float]:
        return theta, -100.0 + (1.0 if theta % 2 else -1.0) / (1.0 + theta)


def test_the_trace_and_stopping_rule_follow_the_objective() -> None:
    from emstat.engine import EMControl, fit_em

    model = _Penalised()
    result = fit_em(model, None, theta0=0.0, control=EMControl(tol=1e-8, max_iter=50))
    theta = float(result.theta)  # type: ignore[arg-type]
    assert result.loglik == pytest.approx(model.limit - model.gap * model.rate**theta)
    assert result.objective == pytest.approx(result.loglik - 0.01 * theta)
    assert result.trace[-1] == pytest.approx(result.objective)
    assert result.trace[0] == pytest.approx(model.limit - model.gap)  # theta 0: no penalty


def test_a_model_that_need_not_be_monotone_is_not_warned_about() -> None:
    import warnings

    from emstat.engine import EMControl, fit_em

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a decrease warning would fail the test
        result = fit_em(_Wandering(), None, theta0=0.0, control=EMControl(tol=1e-3, max_iter=40))
    assert np.any(np.diff(result.trace) < 0)
    with pytest.warns(ConvergenceWarning, match="decreased"):
        monotone = type("Monotone", (_Wandering,), {"monotone": True})()
        fit_em(monotone, None, theta0=0.0, control=EMControl(tol=1e-3, max_iter=40))
