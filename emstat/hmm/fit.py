"""``fit_hmm``: pandas in, an :class:`~emstat.hmm.result.HMMResult` out."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emstat._validation import check_k_value, check_seed, check_whole, describe_labels
from emstat.engine import EMControl, EMResult, fit_em, fit_em_restarts
from emstat.errors import DegenerateFitError, InputError
from emstat.families import is_gaussian, resolve_family
from emstat.hmm.data import SequenceLayout, sequence_layout
from emstat.hmm.emissions import Emission, FamilyEmission, gaussian_emission
from emstat.hmm.model import (
    HMMData,
    HMMModel,
    HMMStats,
    HMMTheta,
    check_constraint,
    check_distribution,
)
from emstat.hmm.result import HMMResult
from emstat.mixture.family_fit import _starts, as_frame
from emstat.results import restart_table, run_fields

__all__ = ["HMM_CONTROL", "HMMFitter", "fit_hmm", "hmm_from_params", "prepare_hmm"]

#: The stopping rule unless one is given: Baum-Welch crawls where states overlap,
#: where a small change is not convergence (Aitken's limit, as the other families).
HMM_CONTROL = EMControl(tol=1e-10, criterion="aitken", max_iter=10_000)

# The start's chance of staying in a state: hidden states persist, so the first
# E-step sees a chain rather than a mixture (hmmlearn's users set 0.8 by hand).
_START_STAY = 0.8


@dataclass(frozen=True, eq=False)
class Prepared:
    """What every fit to one data set shares: the emission family, the encoded
    sequences and their layout in the frame."""

    emission: Emission
    data: HMMData
    layout: SequenceLayout
    sequence: str | None
    order: str | None
    index: pd.Index  # the rows' labels in fit order


def _emission(
    frame: pd.DataFrame,
    family: Any,
    columns: Sequence[str] | None,
    model: str | None,
    reserved: list[str],
    trials: Any,
    exposure: Any,
) -> Emission:
    if is_gaussian(family):
        if trials is not None or exposure is not None:
            raise InputError("trials and exposure belong to the binomial and Poisson families")
        if columns is None:
            columns = [
                str(c)
                for c in frame.columns
                if str(c) not in reserved and pd.api.types.is_numeric_dtype(frame[c])
            ]
        return gaussian_emission(frame, columns, model)
    if model is not None:
        raise InputError(
            f"model={model!r} is a Gaussian covariance model; the {family!r} family has none"
        )
    bound = resolve_family(
        family, frame, columns, trials=trials, exposure=exposure, reserved=reserved
    )
    return FamilyEmission(bound)


def prepare_hmm(
    data: Any,
    *,
    columns: Sequence[str] | None = None,
    family: Any = "gaussian",
    model: str | None = None,
    sequence: str | None = None,
    lengths: Any = None,
    order: str | None = None,
    trials: Any = None,
    exposure: Any = None,
) -> Prepared:
    """Validate the data, lay out the sequences and encode the emissions."""
    if isinstance(columns, str):  # one column by name, not its letters
        columns = [columns]
    frame = as_frame(data)
    layout = sequence_layout(frame, sequence=sequence, lengths=lengths, order=order)
    ordered = frame.iloc[layout.rows]
    reserved = [c for c in (sequence, order) if isinstance(c, str)]
    emission = _emission(ordered, family, columns, model, reserved, trials, exposure)
    named = [c for c in emission.columns if c in reserved]
    if named:
        raise InputError(f"column {named[0]!r} is both modelled and the sequence or order column")
    encoded = emission.encode(ordered)
    if not emission.observed(encoded).any():
        raise InputError("no row has an observed value of the modelled columns")
    hmm_data = HMMData(
        encoded,
        layout.offsets,
        np.arange(layout.n_sequences, dtype=np.int64),
        layout.n_sequences,
    )
    return Prepared(emission, hmm_data, layout, sequence, order, ordered.index)


def emission_from_names(
    emission: Emission, k: int, given: Mapping[str, Any], what: str = "init"
) -> Any:
    """Emission parameters given by name, one value per state (all of them, or None
    when none is given), checked to lie in the parameter space."""
    names, scales = emission.parameter_names()
    named = [key for key in given if key not in ("transitions", "start", "method")]
    unknown = [key for key in named if key not in names]
    if unknown:
        raise InputError(
            f"{what} names {describe_labels(unknown)}, not a parameter of this model; "
            f"its parameters are {describe_labels(['transitions', 'start', *names], 20)}"
        )
    if not named:
        return None
    missing = [name for name in names if name not in given]
    if missing:
        raise InputError(f"{what} gives no start value for {describe_labels(missing)}")
    table = np.empty((k, len(names)))
    for j, (name, scale) in enumerate(zip(names, scales, strict=True)):
        table[:, j] = _state_values(given[name], k, scale, f"{what}[{name!r}]")
    return emission.theta_from_rows(table)


def _state_number(state: Any, k: int, label: str) -> int:
    """A state named by its number (1..k), as ``params`` and ``viterbi`` number them."""
    if isinstance(state, str) and state.strip().isdigit():
        state = int(state)
    if isinstance(state, bool) or not isinstance(state, (int, np.integer)) or state < 1:
        raise InputError(f"{label} names state {state!r}; states are numbered 1, 2, ...")
    if state > k:
        have = "state 1 only" if k == 1 else f"states 1 to {k}"
        raise InputError(f"{label} names state {int(state)}; a fit of k = {k} has {have}")
    return int(state)


def _by_state(value: Mapping[Any, Any], k: int, label: str) -> list[Any]:
    """``{state: value}`` (states 1..k) as one value per state, None where not named."""
    column: list[Any] = [None] * k
    for state, given in value.items():
        column[_state_number(state, k, label) - 1] = given
    return column


def _state_values(value: Any, k: int, scale: str, label: str, free: bool = False) -> np.ndarray:
    """One parameter's values for the k states, in its parameter space; with ``free``,
    None (or NaN) marks a state where it is not given, and ``{state: value}`` names
    the states given (any k with that many states)."""
    if free and isinstance(value, Mapping):
        value = _by_state(value, k, label)
    if free and not isinstance(value, str):
        value = [np.nan if v is None else v for v in np.asarray(value, dtype=object).reshape(-1)]
    try:
        column = np.asarray(value, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        raise InputError(f"{label} must be {k} numbers, got {value!r}") from None
    given = ~np.isnan(column) if free else np.ones(column.shape, dtype=bool)
    if column.shape[0] != k or not np.isfinite(column[given]).all():
        kind = "numbers (None where free)" if free else "finite numbers"
        raise InputError(f"{label} must be {k} {kind}, one per state, got {value!r}")
    outside = np.zeros(k, dtype=bool)
    if scale == "logit":
        outside = given & ((column < 0) | (column > 1))
    elif scale == "log":
        outside = given & (column <= 0)
    if outside.any():
        space = "probabilities in [0, 1]" if scale == "logit" else "numbers > 0"
        i = int(np.flatnonzero(outside)[0])
        raise InputError(f"{label} must be {space}, got {column[i]:g} for state {i + 1}")
    return column


def emission_fixed(emission: Emission, k: int, fixed: Any) -> np.ndarray | None:
    """Emission parameters held at given values, ``{name: k values, None where free}``,
    as a ``(k, m)`` table laid out as ``params`` (NaN where free), checked."""
    if fixed is None:
        return None
    if not isinstance(fixed, Mapping):
        raise InputError(
            "fixed must map parameter names to one value per state (None where free), "
            f"got {type(fixed).__name__}"
        )
    names, scales = emission.parameter_names()
    unknown = [key for key in fixed if key not in names]
    if unknown:
        hint = (
            "; constrain the chain by transitions= and start="
            if any(key in ("transitions", "start") for key in unknown)
            else ""
        )
        raise InputError(
            f"fixed names {describe_labels([str(u) for u in unknown])}, not an emission "
            f"parameter of this model; its parameters are {describe_labels(names, 20)}{hint}"
        )
    table = np.full((k, len(names)), np.nan)
    for j, (name, scale) in enumerate(zip(names, scales, strict=True)):
        if name in fixed:
            table[:, j] = _state_values(fixed[name], k, scale, f"fixed[{name!r}]", free=True)
    if np.isnan(table).all():
        return None
    emission.check_fixed(table)
    return table


def _default_transitions(k: int) -> np.ndarray:
    if k == 1:
        return np.ones((1, 1))
    trans = np.full((k, k), (1.0 - _START_STAY) / (k - 1))
    np.fill_diagonal(trans, _START_STAY)
    return trans


@dataclass
class HMMFitter:
    """Fits k-state chains with one emission family to one prepared data set."""

    prepared: Prepared
    control: EMControl
    transitions: Any = None
    start: Any = None
    start_per_sequence: bool = False
    init: Any = None
    n_init: int = 1
    seed: int | None = 0
    fixed: Any = None

    def model(self, k: int) -> HMMModel:
        return HMMModel(
            self.prepared.emission,
            k,
            check_constraint(self.start, 1, k, "start"),
            check_constraint(self.transitions, k, k, "transitions"),
            per_sequence=self.start_per_sequence,
            emission_fixed=emission_fixed(self.prepared.emission, k, self.fixed),
        )

    def _chain_start(
        self, model: HMMModel, given: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        k = model.k
        if "transitions" in given:
            trans = check_distribution(given["transitions"], (k, k), "init's transitions")
            trans = np.where(model.trans_constraint.free, trans, model.trans_constraint.fixed)
        else:
            trans = model.trans_constraint.project(_default_transitions(k))
        if "start" in given:
            start = check_distribution(given["start"], (k,), "init's start")
            start = np.where(model.start_constraint.free[0], start, model.start_constraint.fixed[0])
        else:
            start = model.start_constraint.project(np.full((1, k), 1.0 / k))[0]
        if model.per_sequence:
            start = np.tile(start, (self.prepared.data.n_sequences, 1))
        return start, trans

    def _emission_rows(self, k: int, given: Mapping[str, Any]) -> Any:
        """Emission start values given by name, or None when none are given."""
        return emission_from_names(self.prepared.emission, k, given)

    def starts(self, model: HMMModel) -> list[tuple[HMMTheta | None, str, str | None]]:
        """Start parameters, how each was made, and why one failed (or None)."""
        given: Mapping[str, Any] = self.init if isinstance(self.init, Mapping) else {}
        method = given.get("method") if isinstance(self.init, Mapping) else self.init
        start, trans = self._chain_start(model, given)
        emission = self._emission_rows(model.k, given) if given else None
        if emission is not None:
            emission = self.prepared.emission.fix(emission, model.emission_fixed)
            return [(HMMTheta(start, trans, emission), "given parameters", None)]
        data = self.prepared.data
        features = self.prepared.emission.start_features(data.emissions)
        if method is None and self.n_init > 1:
            method = "kmeans++"
        partitions = _starts(
            features, model.k, method, self.n_init, np.random.default_rng(self.seed)
        )
        out: list[tuple[HMMTheta | None, str, str | None]] = []
        for partition in partitions:
            resp = partition.resp
            if partition.rows is not None:  # pragma: no cover - the HMM starts cover every row
                raise InputError("an HMM start must give every row a state")
            try:
                theta_e = self.prepared.emission.m_step(
                    self.prepared.emission.stats(None, data.emissions, resp),
                    None,
                    model.emission_fixed,
                )
            except DegenerateFitError as exc:
                out.append((None, partition.method, str(exc)))
                continue
            out.append((HMMTheta(start, trans, theta_e), partition.method, None))
        return out

    def fit(self, k: int) -> HMMResult:
        k = check_k_value(k)
        observed = int(self.prepared.emission.observed(self.prepared.data.emissions).sum())
        if k > observed:
            raise InputError(
                f"k = {k} states need at least {k} rows with an observed value; the data have "
                f"{observed}"
            )
        model = self.model(k)
        starts = self.starts(model)

        def run(
            start: tuple[HMMTheta | None, str, str | None],
        ) -> EMResult[HMMTheta, HMMStats]:
            theta0, _, failure = start
            if theta0 is None:
                return EMResult(
                    None,
                    None,
                    np.nan,
                    np.empty(0),
                    0,
                    False,
                    "degenerate",
                    0.0,
                    self.control,
                    failure,
                )
            return fit_em(
                model,
                self.prepared.data,
                theta0=theta0,
                control=self.control,
                n_obs=self.prepared.data.n,
                warn=len(starts) == 1,
            )

        best, runs = fit_em_restarts(run, starts)
        methods = [method for _, method, _ in starts]
        best_method = next(m for m, r in zip(methods, runs, strict=True) if r is best)
        return self._result(model, best, best_method, restart_table(runs, methods))

    def _result(
        self,
        model: HMMModel,
        em: EMResult[HMMTheta, HMMStats],
        init: str,
        restarts: pd.DataFrame,
    ) -> HMMResult:
        theta = em.theta if em.ok else None
        prepared = self.prepared
        return HMMResult(
            hmm=model,
            theta=theta,
            n=float(prepared.emission.observed(prepared.data.emissions).sum()),
            n_rows=prepared.data.n,
            n_sequences=prepared.data.n_sequences,
            n_params=model.n_params(prepared.data.n_sequences),
            init=init,
            restarts=restarts,
            sequence=prepared.sequence,
            order=prepared.order,
            **_in_states(run_fields(em, theta is not None)),
            data_=prepared.data if theta is not None else None,
        )


def _in_states(fields: dict[str, Any]) -> dict[str, Any]:
    """The run's fields, a degenerate run's reason speaking of states (the mixture
    M-steps it comes from speak of components)."""
    reason = fields.get("degenerate")
    if isinstance(reason, str):
        fields["degenerate"] = reason.replace("component", "state")
    return fields


def hmm_from_params(
    params: Mapping[str, Any],
    *,
    family: Any = "gaussian",
    columns: Sequence[str] | None = None,
    model: str | None = None,
    data: Any = None,
    transitions: Any = None,
    start: Any = None,
    trials: Any = None,
    exposure: Any = None,
) -> HMMResult:
    """A hidden Markov model with given parameters (a simulation's truth), without fitting.

    ``params`` holds ``"transitions"`` (k x k), ``"start"`` (k,) and every
    emission parameter by its ``params`` name (``"mean[x]"``, ``"var[x]"``,
    ``"rate[count]"``, ``"prob[face=6]"`` ...), one value per state.  The
    family learns what it needs from ``data`` where it needs data (the levels
    of a categorical column, the centre of a normal one); Gaussian emissions
    take their columns from the ``mean[...]`` names unless ``columns`` are
    given.  ``transitions`` and ``start`` constraints are recorded (for
    ``n_params``).  The result decodes, scores and samples; its fit fields
    (loglik, trace) are empty.
    """
    if "transitions" not in params or "start" not in params:
        raise InputError("params must give 'transitions' and 'start'")
    trans = check_distribution(
        params["transitions"], np.shape(params["transitions"]), "transitions"
    )
    if trans.ndim != 2 or trans.shape[0] != trans.shape[1]:
        raise InputError(f"transitions must be a k x k matrix, got shape {trans.shape}")
    k = trans.shape[0]
    emission: Emission
    if is_gaussian(family) and data is None:
        from emstat.hmm.emissions import GaussianEmission
        from emstat.mixture.covariance import get_covariance_model

        if columns is None:
            columns = [n[5:-1] for n in params if n.startswith("mean[") and n.endswith("]")]
        if not columns:
            raise InputError("Gaussian emissions need mean[<column>] parameters or columns=")
        chosen = [str(c) for c in columns]
        name = model or ("V" if len(chosen) == 1 else "VVV")
        emission = GaussianEmission(
            get_covariance_model(name, len(chosen)), chosen, np.zeros(len(chosen))
        )
    else:
        if data is None:
            names = list(columns) if columns is not None else None
            if names is None:
                raise InputError("give columns= (or data= to learn the family from)")
            data = pd.DataFrame({c: [0.0, 1.0] for c in names})
        frame = as_frame(data)
        emission = _emission(frame, family, columns, model, [], trials, exposure)
    hmm = HMMModel(
        emission,
        k,
        check_constraint(start, 1, k, "start"),
        check_constraint(transitions, k, k, "transitions"),
    )
    theta_e = emission_from_names(emission, k, params, what="params")
    if theta_e is None:
        raise InputError("params give no emission parameter")
    theta = HMMTheta(
        check_distribution(params["start"], (k,), "start distribution"), trans, theta_e
    )
    return HMMResult(
        hmm=hmm,
        theta=theta,
        n=math.nan,
        n_rows=0,
        n_sequences=1,
        n_params=hmm.n_params(1),
        loglik=math.nan,
        n_iter=0,
        converged=False,
        stop_reason="given parameters",
        trace=np.empty(0),
        seconds=0.0,
        control=HMM_CONTROL,
    )


def fit_hmm(
    data: Any,
    k: int,
    *,
    columns: Sequence[str] | None = None,
    family: Any = "gaussian",
    model: str | None = None,
    sequence: str | None = None,
    lengths: Any = None,
    order: str | None = None,
    start_per_sequence: bool = False,
    transitions: Any = None,
    start: Any = None,
    init: Any = None,
    fixed: Mapping[str, Any] | None = None,
    n_init: int = 1,
    seed: int | None = 0,
    control: EMControl | None = None,
    tol: float | None = None,
    criterion: str | None = None,
    max_iter: int | None = None,
    trials: Any = None,
    exposure: Any = None,
) -> HMMResult:
    """Fit a hidden Markov model with k states by Baum-Welch (EM).

    Parameters
    ----------
    data
        A DataFrame (or a Series or array), one row per time step.
    k
        Number of hidden states.
    columns
        The modelled columns (default: every numeric column for the
        Gaussian family, as ``fit_mixture`` for the others), never the
        sequence or order column.
    family
        ``"gaussian"`` (default: multivariate, with ``model``'s covariance
        structure) or any family of :func:`emstat.fit_mixture`:
        ``"poisson"``, ``"binomial"``, ``"categorical"``, ``"normal"``,
        ``"multinomial"``, a family object, or a mapping of columns to
        families (mixed columns, independent given the state).
    model
        The Gaussian covariance model: any of mclust's (``"E"``/``"V"`` in
        1-D, ``"EII"`` … ``"VVV"``); default ``"V"`` in 1-D, else ``"VVV"``.
    sequence, lengths
        The sequences: a column of sequence ids, or the lengths of
        consecutive runs of rows (as hmmlearn's ``lengths``); default one
        sequence.  Any length, 1 included.
    order
        A column that orders the rows within each sequence (the rows are
        sorted by it); without it the frame's order is used, and a numeric
        or datetime index that does not increase within a sequence is refused.
    start_per_sequence
        One start distribution per sequence instead of one shared.
    transitions, start
        Constraints: a boolean mask (False: a structural zero) or an array of
        fixed values with NaN where free; fixed entries stay exactly as given.
    init
        A mapping of start values: ``"transitions"`` (k x k), ``"start"``
        (k,), emission parameters by their ``params`` names (all of them, or
        none: then they come from a partition of the rows), and optionally
        ``"method"``; or the method alone: ``"quantile"`` (default in 1-D),
        ``"kmeans++"`` (default otherwise and for restarts) or ``"random"``.
    fixed
        Emission parameters held at given values while the rest are
        estimated: their ``params`` names mapped to one value per state,
        None where free, e.g. ``{"mean[x]": [0.0, None]}`` or
        ``{"prob[face=6]": [1 / 6, None]}`` (the other levels of a fixed
        state share what is left), or to ``{state: value}`` with states
        numbered from 1, e.g. ``{"var[x]": {2: 4.0}}``.  Gaussian means may
        be fixed in any covariance model (all of a state's coordinates
        unless the model is diagonal); variances in the models whose states
        share nothing: ``"V"`` (1-D) and ``"VVI"`` any of a state's,
        ``"VII"`` a state's one variance, ``"VVV"`` a state's whole
        covariance matrix.  Fixed values are not free parameters
        (``n_params``, BIC) and have no standard error.
    n_init, seed
        Restarts from seeded random partitions; ``restarts`` reports each.
    control, tol, criterion, max_iter
        The stopping rule (:class:`emstat.EMControl`); by default Aitken's at
        1e-10.  ``converged`` is True only when the rule was met.
    trials, exposure
        The binomial family's trials and the Poisson family's exposure.

    Missing values (NaN) are marginalised in the emission density; a row
    with nothing observed is a step of the chain without emission.

    Examples
    --------
    >>> import numpy as np, pandas as pd, emstat
    >>> x = np.r_[np.zeros(50), np.full(50, 5.0)] + np.random.default_rng(0).normal(size=100)
    >>> hmm = emstat.fit_hmm(pd.DataFrame({"x": x}), k=2)
    >>> hmm.viterbi(pd.DataFrame({"x": x}))[[0, 99]].tolist()
    [1, 2]
    """
    from emstat.mixture.fit import make_control

    check_whole(n_init, "n_init")
    seed = check_seed(seed)
    if not isinstance(start_per_sequence, bool):
        raise InputError(f"start_per_sequence must be True or False, got {start_per_sequence!r}")
    prepared = prepare_hmm(
        data,
        columns=columns,
        family=family,
        model=model,
        sequence=sequence,
        lengths=lengths,
        order=order,
        trials=trials,
        exposure=exposure,
    )
    fitter = HMMFitter(
        prepared,
        make_control(control, tol, criterion, max_iter, HMM_CONTROL),
        transitions=transitions,
        start=start,
        start_per_sequence=start_per_sequence,
        init=init,
        n_init=n_init,
        seed=seed,
        fixed=fixed,
    )
    return fitter.fit(k)
