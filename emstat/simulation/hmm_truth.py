"""The data-generating hidden Markov model of a simulation study.

An :class:`HMMTruth` is to an HMM study what
:class:`~emstat.simulation.design.TrueMixture` is to a mixture study: it
draws data sets (``sequences`` sequences of ``n`` steps each), names and
holds the true parameters, matches fitted states to true ones, fits a
replicate with :func:`emstat.fit_hmm` and lays the estimates out as the
study's replicate rows.

The parameters of state ``j`` (the study's ``component``) are, in order: its
start probability ``start``, the row of transitions ``to 1`` ... ``to k``
(the probability of moving from state j to each state), then its emission
parameters (``mean[x]``, ``var[x]``, ``cov[x,y]`` for Gaussian emissions;
the family's names such as ``rate[count]``, ``prob[face=6]`` otherwise).
States are matched by the Hungarian assignment on the emission parameters
(means for Gaussian emissions; the link scale for the other families), and
a transition ``i -> j`` is compared with the true transition between the
matched states.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import InputError
from emstat.families import ProductFamily, family_from_spec
from emstat.simulation.align import match_means
from emstat.simulation.family_truth import FamilyTruth, _link

__all__ = ["SEQUENCE_COLUMN", "STEP_COLUMN", "HMMTruth", "hmm_truth_from_mapping"]

#: The columns of a drawn data set that say where each row is.
SEQUENCE_COLUMN = "sequence"
STEP_COLUMN = "step"
_SUM_TOL = 1e-6


def _probabilities(name: str, values: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``values`` as an array of ``shape`` whose last axis sums to 1; else one clear error."""
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"hmm: {name} must be numbers, got {values!r}") from None
    if array.shape != shape:
        raise InputError(f"hmm: {name} must have shape {shape}, got {array.shape}")
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise InputError(f"hmm: {name} must be probabilities (finite, >= 0), got {array.tolist()}")
    sums = array.sum(axis=-1)
    bad = np.flatnonzero(np.abs(np.atleast_1d(sums) - 1.0) > _SUM_TOL)
    if bad.size:
        where = f"row {bad[0] + 1} of " if array.ndim > 1 else ""
        raise InputError(
            f"hmm: {where}{name} sums to {np.atleast_1d(sums)[bad[0]]:g}, not 1 "
            "(a distribution over the states)"
        )
    return array


def stationary(transitions: np.ndarray, start: np.ndarray) -> np.ndarray:
    """A stationary distribution of the chain (``start`` where none is unique)."""
    k = transitions.shape[0]
    system = np.vstack([transitions.T - np.eye(k), np.ones(k)])
    target = np.concatenate([np.zeros(k), [1.0]])
    solution, _, rank, _ = np.linalg.lstsq(system, target, rcond=None)
    if rank < k or np.any(solution < -1e-9):
        return start
    solution = np.clip(solution, 0.0, None)
    return np.asarray(solution / solution.sum(), dtype=float)


def draw_states(
    start: np.ndarray, transitions: np.ndarray, sequences: int, n: int, rng: np.random.Generator
) -> np.ndarray:
    """State paths (sequences, n), 0-based: the first state from ``start``, then the chain."""
    k = start.shape[0]
    states = np.empty((sequences, n), dtype=np.int64)
    uniforms = rng.random((sequences, n))
    states[:, 0] = np.minimum((uniforms[:, 0, None] > np.cumsum(start)).sum(axis=1), k - 1)
    cumulative = np.cumsum(transitions, axis=1)
    for t in range(1, n):
        rows = cumulative[states[:, t - 1]]
        states[:, t] = np.minimum((uniforms[:, t, None] > rows).sum(axis=1), k - 1)
    return states


@dataclass(frozen=True, eq=False)
class HMMTruth:
    """A true HMM: start (k,), transitions (k, k) and emissions, and sequences per data set.

    Emissions are Gaussian (``means`` (k, d), ``covariances`` (k, d, d),
    ``columns``) or of a component family (``family``, with ``components``:
    one (k, p) array of parameters per column, in the family's order).
    """

    start: np.ndarray
    transitions: np.ndarray
    sequences: int = 1
    means: np.ndarray | None = None
    covariances: np.ndarray | None = None
    gaussian_columns: tuple[str, ...] = ()
    family: ProductFamily | None = None
    components: tuple[np.ndarray, ...] = ()

    alignment = "hungarian-emissions"
    alignment_method = (
        "Hungarian assignment on the squared Euclidean distance between fitted and true "
        "emission parameters (means for Gaussian emissions; log rates, logit probabilities, "
        "means for the other families); transitions compared between the matched states "
        "(emstat.mixture.align.match_components)"
    )

    # --- what every study truth offers --------------------------------------------------
    @property
    def k(self) -> int:
        return int(self.start.shape[0])

    @property
    def is_gaussian(self) -> bool:
        return self.family is None

    def gaussian_parameters(self) -> tuple[np.ndarray, np.ndarray]:
        """The Gaussian emissions' means (k, d) and covariances (k, d, d)."""
        if self.means is None or self.covariances is None:
            raise InputError(f"the HMM's emissions are {self.family_name}, not Gaussian")
        return self.means, self.covariances

    @property
    def columns(self) -> tuple[str, ...]:
        return self.gaussian_columns if self.family is None else tuple(self.family.columns)

    @property
    def d(self) -> int:
        return len(self.columns)

    @property
    def family_name(self) -> str:
        return "gaussian" if self.family is None else self.family.name

    @property
    def default_model(self) -> str:
        if self.family is not None:
            return self.family.name
        return "V" if self.d == 1 else "VVV"

    def resolve_models(self, names: Sequence[str]) -> list[str]:
        """mclust's names of the covariance models (Gaussian), or the family's name."""
        if self.family is not None:
            return self._as_family().resolve_models(names)
        from emstat.mixture.covariance import get_covariance_model

        return [get_covariance_model(m, self.d).name for m in names]

    def _as_family(self) -> FamilyTruth:
        """The family emissions as a mixture truth weighted by the stationary distribution."""
        if self.family is None:
            raise InputError("Gaussian emissions have no family truth")
        weights = stationary(self.transitions, self.start)
        return FamilyTruth(self.family, weights, self.components)

    def separated(self, factor: float) -> HMMTruth:
        """The HMM with the emission parameters moved ``factor`` times as far from their centre.

        The centre is weighted by the chain's stationary distribution;
        Gaussian means move, variances stay; the other families move on the
        link scale, as :meth:`FamilyTruth.separated`.
        """
        if factor == 1.0:
            return self
        if self.family is not None:
            moved = self._as_family().separated(factor)
            return _replace(self, components=moved.components)
        means, _ = self.gaussian_parameters()
        weights = stationary(self.transitions, self.start)
        centre = weights @ means
        return _replace(self, means=centre + factor * (means - centre))

    def draw(self, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
        """``sequences`` sequences of ``n`` steps and each step's state (0-based), flat."""
        states = draw_states(self.start, self.transitions, self.sequences, n, rng).reshape(-1)
        frame = pd.DataFrame(
            {
                SEQUENCE_COLUMN: np.repeat(np.arange(1, self.sequences + 1), n),
                STEP_COLUMN: np.tile(np.arange(1, n + 1), self.sequences),
            }
        )
        if self.family is None:
            means, covariances = self.gaussian_parameters()
            noise = rng.standard_normal((states.size, self.d))
            chol = np.linalg.cholesky(covariances)
            values = means[states] + np.einsum("nij,nj->ni", chol[states], noise)
            for j, column in enumerate(self.gaussian_columns):
                frame[column] = values[:, j]
        else:
            extras = [_constant_extra(part, states.size) for part in self.family.parts]
            for column, values in self.family.sample(self.components, states, extras, rng).items():
                frame[column] = values
        return frame, states

    def emission_table(self) -> tuple[list[str], np.ndarray]:
        """Names of one state's emission parameters and their truths (k, p)."""
        if self.family is not None:
            names, values, _ = self.family.rows(self.components)
            return names, values
        from emstat.mixture import gaussian

        means, covariances = self.gaussian_parameters()
        pairs = gaussian.parameter_names(list(self.gaussian_columns))
        values = np.empty((self.k, len(pairs)))
        for col, (_, pos) in enumerate(pairs):
            values[:, col] = means[:, pos[0]] if len(pos) == 1 else covariances[:, pos[0], pos[1]]
        return [name for name, _ in pairs], values

    def truth_table(self) -> tuple[list[str], np.ndarray]:
        """Parameter names of one state (start, to 1..k, emissions) and the truths (k, p)."""
        names, emissions = self.emission_table()
        to = [f"to {j + 1}" for j in range(self.k)]
        values = np.concatenate([self.start[:, None], self.transitions, emissions], axis=1)
        return ["start", *to, *names], values

    def match_features(self, emissions: np.ndarray) -> np.ndarray:
        """Emission parameters (k, p) on the scale states are matched on."""
        if self.family is None:
            return emissions[:, : self.d]  # the means
        out = []
        start = 0
        for part in self.family.parts:
            width = len(part.parameter_names())
            out.append(_link(part, emissions[:, start : start + width]))
            start += width
        return np.concatenate(out, axis=1)

    def fit_arguments(self, model: str) -> dict[str, Any]:
        """What :func:`emstat.fit_hmm` takes besides the data, k, seed and control."""
        arguments: dict[str, Any] = {
            "columns": list(self.columns),
            "sequence": SEQUENCE_COLUMN,
            "order": STEP_COLUMN,
        }
        if self.family is None:
            arguments["model"] = model
        else:
            arguments["family"] = _family_argument(self.family)
            for what in ("trials", "exposure"):
                value = next(
                    (getattr(p, what) for p in self.family.parts if getattr(p, what, None)), None
                )
                if value is not None:
                    arguments[what] = value
        return arguments

    def fit_defaults(self) -> dict[str, Any]:
        """The stopping rule of :func:`emstat.fit_hmm` (a design's ``[fit]`` overrides it)."""
        from emstat.hmm import HMM_CONTROL

        control = HMM_CONTROL
        return {"tol": control.tol, "criterion": control.criterion, "max_iter": control.max_iter}

    def select_arguments(self, models: Sequence[str]) -> dict[str, Any]:
        raise InputError("HMM studies do not select k yet; leave select and select_k out")

    # --- fitting and laying out a replicate ---------------------------------------------
    def fit_replicate(
        self, data: pd.DataFrame, k: int, model: str, init: str | None, seed: int, control: Any
    ) -> Any:
        """Fit one replicate with :func:`emstat.fit_hmm`."""
        from emstat.hmm import fit_hmm

        options: dict[str, Any] = {"seed": seed, "control": control}
        if init is not None:
            options["init"] = init
        return fit_hmm(data, k, **self.fit_arguments(model), **options)

    def match(self, fit: Any) -> np.ndarray:
        """For each fitted state, its true state, or -1 (Hungarian on the emissions)."""
        names, truths = self.truth_table()
        return self._match(fitted_table(fit, names)["estimate"], truths)

    def _match(self, estimates: np.ndarray, truths: np.ndarray) -> np.ndarray:
        k = estimates.shape[0]
        return match_means(
            self.match_features(truths[:, 1 + self.k :]),
            self.match_features(estimates[:, 1 + k :]),
        )

    def aligned_rows(self, fit: Any, names: list[str], truths: np.ndarray) -> dict[str, np.ndarray]:
        """The fit's estimates and Wald intervals as replicate rows, states matched to truth.

        Fitted state ``a`` matched to true state ``i`` is reported as
        component ``i``; its transition to fitted state ``b`` matched to
        true state ``j`` as ``to j``, compared with the true ``i -> j``.
        Unmatched fitted states (more than the truth has) come last, with
        NaN truths.
        """
        table = fitted_table(fit, names)
        k = table["estimate"].shape[0]
        match = self._match(table["estimate"], truths)
        labels = match.copy()
        unmatched = np.flatnonzero(match < 0)
        labels[unmatched] = self.k + np.arange(unmatched.size)
        order = np.argsort(labels, kind="stable")  # fitted states in the order of the truth
        n_emit = table["estimate"].shape[1] - 1 - k
        # row r is fitted state order[r]; column "to c" its move to fitted state order[c]
        columns = np.concatenate([[0], 1 + order, np.arange(1 + k, 1 + k + n_emit)])
        aligned = labels[order]
        truth_rows = np.full((k, columns.size), np.nan)
        for row, true_from in enumerate(aligned):
            if true_from >= self.k:
                continue
            truth_rows[row, 0] = truths[true_from, 0]
            for c, true_to in enumerate(aligned):
                if true_to < self.k:
                    truth_rows[row, 1 + c] = truths[true_from, 1 + true_to]
            truth_rows[row, 1 + k :] = truths[true_from, 1 + self.k :]
        names_k = ["start", *[f"to {j + 1}" for j in range(k)], *names[1 + self.k :]]
        out = {
            "component": np.repeat(aligned + 1, len(names_k)),
            "parameter": np.tile(np.asarray(names_k, dtype=object), k),
            "truth": truth_rows.reshape(-1),
        }
        for field in _FIELDS:
            out[field] = table[field][order][:, columns].reshape(-1)
        return out

    def failed_rows(self, k: int, names: list[str], truths: np.ndarray) -> dict[str, np.ndarray]:
        """NaN estimates for a replicate whose fit failed (the truth of the first states)."""
        names_k = ["start", *[f"to {j + 1}" for j in range(k)], *names[1 + self.k :]]
        p = len(names_k)
        truth_rows = np.full((k, p), np.nan)
        shared = min(k, self.k)
        truth_rows[:shared, 0] = truths[:shared, 0]
        truth_rows[:shared, 1 : 1 + shared] = truths[:shared, 1 : 1 + shared]
        truth_rows[:shared, 1 + k :] = truths[:shared, 1 + self.k :]
        nan = np.full(k * p, np.nan)
        return {
            "component": np.repeat(np.arange(1, k + 1), p),
            "parameter": np.tile(np.asarray(names_k, dtype=object), k),
            "truth": truth_rows.reshape(-1),
            "estimate": nan,
            "std_err": nan,
            "ci_low": nan,
            "ci_high": nan,
        }

    # --- records ------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": "hmm",
            "start": self.start.tolist(),
            "transitions": self.transitions.tolist(),
            "sequences": self.sequences,
        }
        if self.family is None:
            means, covariances = self.gaussian_parameters()
            out.update(
                columns=list(self.gaussian_columns),
                means=means.tolist(),
                covariances=covariances.tolist(),
            )
        else:
            out["emissions"] = [
                {**spec, "parameters": values.tolist()}
                for spec, values in zip(self.family.to_spec(), self.components, strict=True)
            ]
        return out


def _replace(truth: HMMTruth, **changes: Any) -> HMMTruth:
    from dataclasses import replace

    return replace(truth, **changes)


def _constant_extra(part: Any, n: int) -> np.ndarray | None:
    value = getattr(part, "trials", None) or getattr(part, "exposure", None)
    return None if value is None else np.full(n, float(value))


def _family_argument(family: ProductFamily) -> Any:
    """``family=`` of fit_hmm: one name, or a name per column."""
    names = [part.name for part in family.parts]
    if len(set(names)) == 1:
        return names[0]
    return {part.column: part.name for part in family.parts}


# --------------------------------------------------------------------------- estimates

_TO = re.compile(r"^to (\d+)$")


_FIELDS = ("estimate", "std_err", "ci_low", "ci_high")


def fitted_table(fit: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
    """The fit's estimates, standard errors and 95% intervals, (k, 1 + k + p_emit) each.

    Read from the fit's tidy ``params`` (``start``, ``to[j]``, the emission
    parameters of each state; the intervals are its Wald intervals, on each
    parameter's scale); the columns are start, to 1..k, then ``names``'
    emission parameters.  What the fit does not report (a start per
    sequence) is NaN.
    """
    params = fit.params
    k = int(fit.k)
    emission_names = [n for n in names if n != "start" and not _TO.match(n)]
    columns = ["start", *[f"to[{j + 1}]" for j in range(k)], *emission_names]
    position = {name: c for c, name in enumerate(columns)}
    out = {field: np.full((k, len(columns)), np.nan) for field in _FIELDS}
    states = params["state"].to_numpy(dtype=int) - 1
    where = [position.get(str(name), -1) for name in params["parameter"]]
    for row, (state, c) in enumerate(zip(states, where, strict=True)):
        if c < 0 or not 0 <= state < k:
            continue
        for field in _FIELDS:
            out[field][state, c] = float(params[field].iloc[row])
    return out


# --------------------------------------------------------------------------- design tables

_GAUSSIAN_KEYS = {"means", "covariances", "columns"}
_KEYS = {"start", "transitions", "sequences", "emissions", *_GAUSSIAN_KEYS}


def _sequences(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value):
        raise InputError(f"hmm: sequences must be a whole number >= 1, got {value!r}")
    if value < 1:
        raise InputError(f"hmm: sequences must be a whole number >= 1, got {int(value)}")
    return int(value)


def _gaussian(spec: Mapping[str, Any], k: int) -> dict[str, Any]:
    missing = [key for key in ("means", "covariances") if key not in spec]
    if missing:
        raise InputError(
            f"hmm: missing {', '.join(missing)} (Gaussian emissions need means and "
            "covariances; other families an [[hmm.emissions]] table per column)"
        )
    from emstat.simulation.design import TrueMixture, mixture_from_mapping

    mixture = mixture_from_mapping(
        {
            "weights": [1.0 / k] * k,
            "means": spec["means"],
            "covariances": spec["covariances"],
            **({"columns": spec["columns"]} if "columns" in spec else {}),
        }
    )
    if not isinstance(mixture, TrueMixture):  # pragma: no cover - a mapping gives a Gaussian
        raise InputError("hmm: means and covariances make Gaussian emissions")
    return {
        "means": mixture.means,
        "covariances": mixture.covariances,
        "gaussian_columns": tuple(mixture.columns),
    }


def _emissions(entries: Any, k: int) -> dict[str, Any]:
    if not isinstance(entries, list) or not entries:
        raise InputError(
            "hmm: emissions must be a list of tables, one per column "
            "([[hmm.emissions]] with family, column, parameters)"
        )
    specs = []
    values = []
    for entry in entries:
        if not isinstance(entry, Mapping) or "parameters" not in entry:
            raise InputError(f"hmm: every emission needs family, column and parameters: {entry!r}")
        spec = {key: value for key, value in entry.items() if key != "parameters"}
        if spec.get("family") == "normal":
            spec.setdefault("center", 0.0)
            spec.setdefault("scale", 1.0)
        specs.append(spec)
        values.append(entry["parameters"])
    family = family_from_spec(specs)
    components = []
    for part, given in zip(family.parts, values, strict=True):
        names = part.parameter_names()
        try:
            array = np.asarray(given, dtype=float)
        except (TypeError, ValueError):
            raise InputError(f"hmm: parameters of {part.column!r} must be numbers") from None
        if array.ndim == 1 and len(names) == 1:
            array = array[:, None]
        if array.shape != (k, len(names)):
            raise InputError(
                f"hmm: parameters of {part.column!r} must be {k} rows (one per state) of "
                f"{len(names)} ({', '.join(names)}), got shape {array.shape}"
            )
        if part.name == "categorical":
            array = _probabilities(f"parameters of {part.column!r}", array, (k, len(names)))
        components.append(array)
    for part, array in zip(family.parts, components, strict=True):
        for j, scale in enumerate(part.scales()):
            bad = (array[:, j] <= 0) if scale == "log" else (array[:, j] < 0) | (array[:, j] > 1)
            if scale in ("log", "logit") and bad.any():
                raise InputError(
                    f"hmm: {part.parameter_names()[j]} of state {int(np.argmax(bad)) + 1} is "
                    f"{array[int(np.argmax(bad)), j]:g}, outside its range"
                )
    return {"family": family, "components": tuple(components)}


def hmm_truth_from_mapping(spec: Mapping[str, Any]) -> HMMTruth:
    """An :class:`HMMTruth` from a design's ``[hmm]`` table.

    Keys: ``start`` (k probabilities), ``transitions`` (k rows of k, each
    summing to 1; zeros are structural), ``sequences`` (per data set,
    default 1), and either Gaussian ``means``/``covariances``/``columns`` (1-D:
    flat lists, the covariances then variances) or ``emissions``: a list of
    tables, each ``family``, ``column``, its options (``trials``,
    ``exposure``, ``levels``) and ``parameters`` (k rows, in the family's
    parameter order: ``[rate]``, ``[prob]``, the level probabilities).
    """
    if not isinstance(spec, Mapping):
        raise InputError(f"hmm must be a table, got {spec!r}")
    unknown = set(spec) - _KEYS
    if unknown:
        raise InputError(f"hmm: unknown keys {sorted(unknown)} ({', '.join(sorted(_KEYS))})")
    for key in ("start", "transitions"):
        if key not in spec:
            raise InputError(f"hmm: give {key} (the chain's {key} probabilities)")
    start_array = np.atleast_1d(np.asarray(spec["start"], dtype=object))
    k = int(start_array.shape[0])
    if k < 1:
        raise InputError("hmm: start must list one probability per state")
    start = _probabilities("start", spec["start"], (k,))
    transitions = _probabilities("transitions", spec["transitions"], (k, k))
    sequences = _sequences(spec.get("sequences", 1))
    if "emissions" in spec:
        given = _GAUSSIAN_KEYS & set(spec)
        if given:
            raise InputError(f"hmm: give emissions or Gaussian {sorted(given)}, not both")
        emissions = _emissions(spec["emissions"], k)
    else:
        emissions = _gaussian(spec, k)
    return HMMTruth(start, transitions, sequences, **emissions)


def hmm_truth_from_dict(payload: Mapping[str, Any]) -> HMMTruth:
    """The inverse of :meth:`HMMTruth.to_dict`."""
    body = {key: value for key, value in payload.items() if key != "kind"}
    return hmm_truth_from_mapping(body)
