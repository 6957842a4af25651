"""The one EM loop.

Every model emstat fits is a pair of pure functions around additive
sufficient statistics::

    e_step(theta, chunk) -> (stats, loglik)      # stats add over chunks
    m_step(stats, previous_theta) -> theta

The engine knows no model: it drives those two functions, applies the
stopping rule the user chose, records the log-likelihood trace, warns on
trouble, and runs restarts.  Data are whatever the model's ``e_step``
accepts, or a :class:`ChunkedData` whose chunks it accepts; the statistics of
the chunks are summed, so one loop serves arrays in memory, files read chunk
by chunk and partitions on a cluster.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any, Generic, Literal, Protocol, TypeVar, runtime_checkable

import numpy as np

from emstat.errors import ConvergenceWarning, DegenerateFitError, InputError

__all__ = [
    "CRITERIA",
    "Chunk",
    "ChunkedData",
    "CompiledRun",
    "Criterion",
    "EMControl",
    "EMModel",
    "EMResult",
    "add_stats",
    "aitken_distance",
    "fit_em",
    "fit_em_restarts",
    "run_e_step",
]

Criterion = Literal["rel", "abs", "per_sample", "param", "aitken"]
CRITERIA: tuple[Criterion, ...] = ("rel", "abs", "per_sample", "param", "aitken")

# Decreases smaller than this (relative to 1 + |loglik|) are rounding, not a bug.
_DECREASE_TOLERANCE = math.sqrt(np.finfo(float).eps)

ThetaT = TypeVar("ThetaT")
StatsT = TypeVar("StatsT")


class EMModel(Protocol[ThetaT, StatsT]):
    """What a model gives the engine."""

    def e_step(self, theta: ThetaT, data: Any) -> tuple[StatsT, float]:
        """Expected sufficient statistics of ``data`` and its log-likelihood at ``theta``."""
        ...

    def m_step(self, stats: StatsT, previous: ThetaT | None) -> ThetaT:
        """Parameters maximising the expected complete-data log-likelihood."""
        ...

    def parameter_vector(self, theta: ThetaT) -> np.ndarray:
        """The parameters as one flat vector, for the ``param`` stopping rule."""
        ...


# A model may also define, and the engine then uses:
#   objective(theta, stats, loglik) -> float: what EM maximises when it is not the
#       log-likelihood (a log-posterior under a prior, a classification likelihood);
#       the trace and the stopping rule follow it, BIC keeps the log-likelihood.
#   monotone: bool = False for algorithms whose objective need not increase
#       (stochastic EM): a decrease is then no warning.


#   run_compiled(data, theta, control, n_iter, trace, n_obs) -> CompiledRun | None:
#       the loop below from ``theta`` (the parameters its next E-step uses) in one
#       compiled call; None where it cannot run there.  The engine applies what it
#       returns and goes on in Python from there, so every rule, message and
#       warning is the loop's own.


@dataclass(frozen=True, eq=False)
class CompiledRun(Generic[ThetaT, StatsT]):
    """Where a model's compiled loop (``run_compiled``) left EM.

    ``trace`` holds the objectives it added and ``decreases`` their positions
    (in ``trace``) where the objective fell by more than rounding.  With
    ``stop_reason`` ``"converged"`` or ``"max_iter"`` the run is over:
    ``theta`` is from the last M-step, ``stats`` and ``loglik`` from the last
    E-step.  With ``stop_reason`` ``""`` the loop goes on in Python from an
    E-step at ``theta`` (where the compiled M-step doubted, or the
    log-likelihood was not finite: the Python loop decides, with its messages).
    """

    theta: ThetaT
    stats: StatsT | None
    loglik: float
    n_iter: int
    trace: np.ndarray
    decreases: np.ndarray
    stop_reason: str


def _decrease_note(what: str, n_iter: int, old: float, new: float) -> str:
    return f"the {what} decreased at iteration {n_iter}: {old!r} -> {new!r}"


def _cap_note(control: EMControl) -> str:
    return (
        f"EM stopped at the iteration cap ({control.max_iter}) before meeting "
        f"{control.describe().split(',')[0]}"
    )


def _record_compiled(
    done: CompiledRun[Any, Any],
    n_iter: int,
    control: EMControl,
    trace: list[float],
    notes: list[str],
) -> None:
    """Add a compiled run's objectives to ``trace`` and its warnings to ``notes``, as the
    loop below words them; ``n_iter`` is where the run started."""
    start = len(trace)
    trace.extend(done.trace.tolist())
    for position in done.decreases.tolist():
        at = start + position
        notes.append(_decrease_note("log-likelihood", n_iter + position, trace[at - 1], trace[at]))
    if done.stop_reason == "max_iter":
        notes.append(_cap_note(control))


def _objective_of(model: Any) -> Callable[[Any, Any, float], float] | None:
    return getattr(model, "objective", None)


@dataclass(frozen=True)
class Chunk:
    """Rows of a data set with what they carry besides their values.

    ``rows`` are the positions of the rows in the whole data (known labels
    are looked up by them); ``info`` holds anything else a model needs per
    chunk (sequence boundaries of hidden Markov chains).
    """

    values: Any
    rows: np.ndarray | None = None
    info: dict[str, Any] = field(default_factory=dict)


def add_stats(a: Any, b: Any) -> Any:
    """The sum of two statistics: arrays and numbers add, tuples and dataclasses field by field."""
    if isinstance(a, tuple):
        return tuple(add_stats(x, y) for x, y in zip(a, b, strict=True))
    if is_dataclass(a) and not isinstance(a, type):
        return replace(
            a, **{f.name: add_stats(getattr(a, f.name), getattr(b, f.name)) for f in fields(a)}
        )
    return a + b


@runtime_checkable
class ChunkedData(Protocol):
    """Data too large, or too scattered, to hand to ``e_step`` in one piece.

    ``map_reduce`` applies ``e_step`` to every chunk and returns the summed
    statistics and log-likelihood; an implementation may run the chunks
    anywhere (a loop over files, Dask partitions) as long as it adds.
    """

    def map_reduce(self, e_step: Callable[[Any], tuple[Any, float]]) -> tuple[Any, float]:
        """Sum ``e_step`` over the chunks."""
        ...


def _finite(value: float) -> bool:
    """Whether ``value`` is a finite float (an int beyond float's range is not)."""
    try:
        return math.isfinite(value)
    except OverflowError:
        return False


@dataclass(frozen=True)
class EMControl:
    """How EM stops.

    Parameters
    ----------
    tol
        Tolerance of the stopping rule.
    criterion
        ``"rel"`` (mclust): ``|l_old - l| / (1 + |l|) <= tol``.
        ``"abs"``: ``|l_old - l| <= tol``.
        ``"per_sample"`` (scikit-learn): ``|l_old - l| / n <= tol``.
        ``"param"`` (R's cat): every parameter satisfies
        ``|old - new| <= tol * |old|``.
        ``"aitken"`` (Böhning et al. 1994; McLachlan & Peel 2000, 2.11):
        Aitken's acceleration predicts the limit ``l_inf = l_1 + (l - l_1) /
        (1 - a)`` with ``a = (l - l_1) / (l_1 - l_2)`` from the last three
        values; stop when ``|l_inf - l| / (1 + |l|) <= tol``.  Where EM
        crawls (a near 1), a small change is not mistaken for convergence.
    max_iter
        The most M-steps to take.
    """

    tol: float = 1e-5
    criterion: Criterion = "rel"
    max_iter: int = 10_000

    def __post_init__(self) -> None:
        if self.criterion not in CRITERIA:
            raise InputError(
                f"unknown convergence criterion {self.criterion!r}; "
                f"choose one of {', '.join(CRITERIA)}"
            )
        if not (isinstance(self.tol, (int, float)) and self.tol >= 0 and _finite(self.tol)):
            raise InputError(f"tol must be a finite number >= 0, got {self.tol!r}")
        if not (isinstance(self.max_iter, (int, np.integer)) and self.max_iter >= 1):
            raise InputError(f"max_iter must be a whole number >= 1, got {self.max_iter!r}")

    def describe(self) -> str:
        """The stopping rule in words, for summaries and reports."""
        rules = {
            "rel": "|l_old - l| / (1 + |l|) <= {tol:g}",
            "abs": "|l_old - l| <= {tol:g}",
            "per_sample": "|l_old - l| / n <= {tol:g}",
            "param": "every parameter |old - new| <= {tol:g} |old|",
            "aitken": "|l_inf - l| / (1 + |l|) <= {tol:g} (Aitken's limit l_inf)",
        }
        return rules[self.criterion].format(tol=self.tol) + f", at most {self.max_iter} iterations"


@dataclass(frozen=True, eq=False)
class EMResult(Generic[ThetaT, StatsT]):
    """What one EM run produced.

    ``theta`` is from the last M-step and ``loglik`` is the log-likelihood at
    ``theta`` (as mclust reports them); ``objective`` is what EM maximised
    there (the log-likelihood unless the model defines another objective).
    ``trace`` holds the objective after every E-step.  A degenerate run has
    ``degenerate`` set to the reason, ``loglik`` NaN and ``theta`` the last
    parameters that were valid (``None`` when even the first M-step failed).
    """

    theta: ThetaT | None
    stats: StatsT | None
    loglik: float
    trace: np.ndarray
    n_iter: int
    converged: bool
    stop_reason: str
    seconds: float
    control: EMControl
    degenerate: str | None = None
    warnings: tuple[str, ...] = field(default=())
    objective: float = math.nan

    @property
    def ok(self) -> bool:
        """True when the run ended with valid parameters."""
        return self.degenerate is None and self.theta is not None


def run_e_step(model: EMModel[ThetaT, StatsT], theta: ThetaT, data: Any) -> tuple[StatsT, float]:
    """One E-step over ``data``, summing over its chunks when it has them."""
    return _e_step_for(model, data)(theta)


def _e_step_for(
    model: EMModel[ThetaT, StatsT], data: Any
) -> Callable[[ThetaT], tuple[StatsT, float]]:
    # Decided once per fit: a Protocol isinstance check costs microseconds (arrays skip it).
    if not isinstance(data, np.ndarray) and isinstance(data, ChunkedData):
        return lambda theta: data.map_reduce(lambda chunk: model.e_step(theta, chunk))
    return lambda theta: model.e_step(theta, data)


def _loglik_converged(control: EMControl, trace: Sequence[float], n_obs: float) -> bool:
    old, new = trace[-2], trace[-1]
    change = abs(new - old)
    if control.criterion == "aitken":
        return _aitken_converged(trace, control.tol)
    if control.criterion == "rel":
        return change / (1.0 + abs(new)) <= control.tol
    if control.criterion == "abs":
        return change <= control.tol
    return change / n_obs <= control.tol  # per_sample


def aitken_distance(l2: float, l1: float, l0: float) -> float:
    """Aitken's predicted distance from ``l0`` to the limit, relative to ``1 + |l0|``.

    NaN before EM's linear phase (a rate outside [0, 1)), when no limit is
    predicted; 0 when the last step is 0.
    """
    step, previous = l0 - l1, l1 - l2
    if step == 0.0:
        return 0.0
    if previous == 0.0:
        return math.nan
    rate = step / previous
    if not 0.0 <= rate < 1.0:
        return math.nan
    limit = l1 + step / (1.0 - rate)
    return abs(limit - l0) / (1.0 + abs(l0))


def _aitken_converged(trace: Sequence[float], tol: float) -> bool:
    """Aitken's predicted distance to the limit, relative, within ``tol``."""
    if len(trace) < 3:
        return False
    return aitken_distance(trace[-3], trace[-2], trace[-1]) <= tol  # NaN: not yet


def _param_converged(control: EMControl, old: np.ndarray, new: np.ndarray) -> bool:
    return bool(np.all(np.abs(old - new) <= control.tol * np.abs(old)))


def fit_em(
    model: EMModel[ThetaT, StatsT],
    data: Any,
    *,
    theta0: ThetaT | None = None,
    stats0: StatsT | None = None,
    control: EMControl | None = None,
    n_obs: float | None = None,
    warn: bool = True,
) -> EMResult[ThetaT, StatsT]:
    """Run EM from parameters ``theta0`` or from statistics ``stats0``.

    Starting from statistics (those of an initial partition) makes the first
    step an M-step, as mclust's ``me`` does; starting from parameters makes it
    an E-step.  ``n_obs`` is the number of observations, needed only by the
    ``per_sample`` rule.  ``n_iter`` counts M-steps.
    """
    control = control or EMControl()
    if (theta0 is None) == (stats0 is None):
        raise InputError("give exactly one of theta0 and stats0 to start EM")
    if control.criterion == "per_sample" and not n_obs:
        raise InputError("the per_sample criterion needs the number of observations n_obs")
    started = time.perf_counter()
    trace: list[float] = []
    notes: list[str] = []
    theta: ThetaT | None = None
    stats: StatsT | None = None
    n_iter = 0
    converged = False
    stop_reason = ""

    objective_of = _objective_of(model)
    monotone = bool(getattr(model, "monotone", True))
    objective = math.nan

    def finish(loglik: float, degenerate: str | None = None) -> EMResult[ThetaT, StatsT]:
        for note in notes:
            if warn:
                warnings.warn(note, ConvergenceWarning, stacklevel=3)
        return EMResult(
            theta=theta,
            stats=stats,
            loglik=loglik,
            trace=np.asarray(trace, dtype=float),
            n_iter=n_iter,
            converged=converged,
            stop_reason=stop_reason,
            seconds=time.perf_counter() - started,
            control=control,
            degenerate=degenerate,
            warnings=tuple(notes),
            objective=objective if degenerate is None else math.nan,
        )

    e_step = _e_step_for(model, data)
    try:
        if stats0 is not None:
            theta = model.m_step(stats0, None)
            n_iter = 1
        else:
            theta = theta0
        assert theta is not None  # narrowed for the type checker; set on both branches
        objective_old: float | None = None
        run_compiled = getattr(model, "run_compiled", None)
        if run_compiled is not None and objective_of is None and control.criterion != "param":
            done = run_compiled(data, theta, control, n_iter, trace, n_obs or 1.0)
            if done is not None:
                _record_compiled(done, n_iter, control, trace, notes)
                theta, n_iter = done.theta, done.n_iter
                if done.stop_reason:
                    stats, objective, stop_reason = done.stats, trace[-1], done.stop_reason
                    converged = stop_reason == "converged"
                    return finish(done.loglik)
                objective_old = trace[-1] if trace else None
        while True:
            current, loglik = e_step(theta)
            stats = current
            if not math.isfinite(loglik):
                raise DegenerateFitError(f"the log-likelihood is {loglik} at iteration {n_iter}")
            objective = loglik if objective_of is None else objective_of(theta, current, loglik)
            trace.append(objective)
            if objective_old is not None:
                if monotone and objective < objective_old - _DECREASE_TOLERANCE * (
                    1.0 + abs(objective)
                ):
                    what = "log-likelihood" if objective_of is None else "objective"
                    notes.append(_decrease_note(what, n_iter, objective_old, objective))
                if control.criterion != "param" and _loglik_converged(control, trace, n_obs or 1.0):
                    converged, stop_reason = True, "converged"
                    return finish(loglik)
            if n_iter >= control.max_iter:
                stop_reason = "max_iter"
                notes.append(_cap_note(control))
                return finish(loglik)
            theta_new = model.m_step(current, theta)
            n_iter += 1
            if control.criterion == "param" and _param_converged(
                control, model.parameter_vector(theta), model.parameter_vector(theta_new)
            ):
                theta = theta_new
                current, loglik = e_step(theta)
                stats = current
                objective = loglik if objective_of is None else objective_of(theta, current, loglik)
                trace.append(objective)
                converged, stop_reason = True, "converged"
                return finish(loglik)
            theta, objective_old = theta_new, objective
    except DegenerateFitError as exc:
        stop_reason = "degenerate"
        return finish(math.nan, degenerate=str(exc))


def fit_em_restarts(
    run: Callable[[Any], EMResult[ThetaT, StatsT]],
    starts: Sequence[Any],
) -> tuple[EMResult[ThetaT, StatsT], list[EMResult[ThetaT, StatsT]]]:
    """Run EM once per start; return the best valid run and all of them.

    The best run has the largest log-likelihood among runs that ended with
    valid parameters; if none did, the first run is returned as the best.
    """
    if not starts:
        raise InputError("at least one start is needed")
    runs = [run(start) for start in starts]
    valid = [r for r in runs if r.ok]
    best = max(valid, key=lambda r: r.loglik) if valid else runs[0]
    return best, runs
