"""A fitted hidden Markov model: estimates, criteria, decoding, sampling, saving."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from emstat._saved import SavedFields, number_array
from emstat.engine import EMControl
from emstat.errors import InputError
from emstat.hmm.data import SequenceLayout, sequence_layout
from emstat.hmm.model import HMMData, HMMModel, HMMTheta
from emstat.results import CONVENTION_TEXT, FitCriteria, run_payload, wald_intervals

__all__ = ["HMMResult", "load_hmm"]

FORMAT = "emstat.HMMResult/1"


@dataclass(frozen=True, eq=False)
class HMMResult(FitCriteria):
    """A hidden Markov model fitted by Baum-Welch.

    States are numbered 1..k.  ``start`` is the start distribution (k,), or
    one per sequence (n_seq, k); ``transitions[i, j]`` is the probability
    of a move from state i to state j.  ``loglik`` is the observed-data
    log-likelihood at the estimate; ``trace`` the log-likelihood after every
    E-step (``trace[0]`` at the start values, as hmmlearn's
    ``monitor_.history[0]``); ``converged`` is True only when the stopping
    rule was met, never at the iteration cap.  Criteria are
    ``-2 loglik + penalty`` (smaller is better) with n the rows observed;
    ICL adds twice the entropy of the posterior distribution of the state
    path.  A degenerate fit has ``degenerate`` set and NaN criteria.
    """

    hmm: HMMModel
    theta: HMMTheta | None
    n: float
    n_rows: int
    n_sequences: int
    n_params: int
    loglik: float
    n_iter: int
    converged: bool
    stop_reason: str
    trace: np.ndarray
    seconds: float
    control: EMControl
    init: str = "given parameters"
    degenerate: str | None = None
    restarts: pd.DataFrame | None = field(default=None, repr=False)
    sequence: str | None = None
    order: str | None = None
    std_errors: np.ndarray | None = field(default=None, repr=False)
    # why a saved standard error is missing (a fixed value, the boundary), entry by entry
    std_error_notes: list[str] | None = field(default=None, repr=False)
    data_: HMMData | None = field(default=None, repr=False)

    # --- what was fitted ---------------------------------------------------------
    @property
    def k(self) -> int:
        return self.hmm.k

    @property
    def family(self) -> str:
        return self.hmm.emission.name

    @property
    def model(self) -> str:
        """The Gaussian covariance model, or the family's name."""
        return self.hmm.emission.model

    @property
    def columns(self) -> list[str]:
        return list(self.hmm.emission.columns)

    @property
    def ok(self) -> bool:
        return self.degenerate is None and self.theta is not None

    def _require_ok(self) -> HMMTheta:
        if self.theta is None or self.degenerate is not None:
            raise InputError(f"this HMM fit with k = {self.k} is degenerate: {self.degenerate}")
        return self.theta

    @property
    def _labels(self) -> pd.Index:
        return pd.Index(range(1, self.k + 1), name="state")

    @property
    def start(self) -> np.ndarray:
        return self._require_ok().start.copy()

    @property
    def transitions(self) -> pd.DataFrame:
        """The transition matrix, rows the state moved from, columns the state moved to."""
        labels = self._labels
        return pd.DataFrame(
            self._require_ok().trans,
            index=labels.rename("from"),
            columns=labels.rename("to"),
        )

    @property
    def emission_params(self) -> pd.DataFrame:
        """The emission parameters, one row per state."""
        names, values, _ = self.hmm.emission.rows(self._require_ok().emission)
        return pd.DataFrame(values, index=self._labels, columns=names)

    # --- criteria ------------------------------------------------------------------
    @cached_property
    def classification_loglik(self) -> float:  # type: ignore[override]
        """Minus the entropy of the posterior state path (ICL's term)."""
        if not self.ok or self.data_ is None:
            return math.nan
        return -self.hmm.path_entropy(self._require_ok(), self.data_)

    # --- standard errors and the tidy table ------------------------------------------
    @cached_property
    def _std_errors_and_notes(self) -> tuple[np.ndarray, list[str]]:
        from emstat.hmm.stderr import observed_information_std_errors, reported

        theta = self._require_ok()
        size = reported(self.hmm, theta).shape[0]
        if self.std_errors is not None:
            notes = self.std_error_notes or [
                "" if np.isfinite(v) else "not available" for v in self.std_errors
            ]
            return self.std_errors, notes
        if self.data_ is None:
            return np.full(size, np.nan), ["no data kept"] * size
        return observed_information_std_errors(self.hmm, theta, self.data_)

    def conf_int(self, level: float = 0.95) -> pd.DataFrame:
        """``params`` with Wald intervals at ``level`` on each parameter's ``scale``."""
        from emstat.hmm.stderr import reported

        theta = self._require_ok()
        k = self.k
        names, _, scales = self.hmm.emission.rows(theta.emission)
        per_state = [f"to[{j}]" for j in range(1, k + 1)] + names
        per_scale: list[str] = ["logit"] * k + list(scales)
        if not self.hmm.per_sequence:
            per_state = ["start", *per_state]
            per_scale = ["logit", *per_scale]
        estimate = reported(self.hmm, theta)
        std_err, notes = self._std_errors_and_notes
        all_scales = per_scale * k
        low, high = wald_intervals(estimate, std_err, all_scales, level)
        return pd.DataFrame(
            {
                "state": np.repeat(np.arange(1, k + 1), len(per_state)),
                "parameter": per_state * k,
                "estimate": estimate,
                "std_err": std_err,
                "ci_low": low,
                "ci_high": high,
                "scale": all_scales,
                "note": notes,
            }
        )

    @cached_property
    def params(self) -> pd.DataFrame:
        """One row per estimate: state, parameter (``start``, ``to[j]``, the emission's),
        estimate, std_err (observed information), ci_low, ci_high (95% Wald), scale, note
        (why a standard error is 0 or NaN)."""
        return self.conf_int(0.95)

    def params_text(self) -> str:
        table = self.params.copy()
        return str(table.to_string(index=False, float_format=lambda v: f"{v:.6g}"))

    # --- decoding ----------------------------------------------------------------------
    def _encode(self, data: Any, lengths: Any = None) -> tuple[HMMData, SequenceLayout, pd.Index]:
        from emstat.mixture.family_fit import as_frame

        frame = as_frame(data)
        sequence = self.sequence if self.sequence in frame.columns else None
        if self.sequence is not None and sequence is None and lengths is None:
            raise InputError(f"the data have no sequence column {self.sequence!r}")
        order = self.order if self.order in frame.columns else None
        layout = sequence_layout(frame, sequence=sequence, lengths=lengths, order=order)
        ordered = frame.iloc[layout.rows]
        encoded = self.hmm.emission.encode(ordered)
        if self.hmm.per_sequence:
            raise InputError(
                "this fit has one start distribution per fitted sequence; decoding other data "
                "needs a shared start (fit with start_per_sequence=False)"
            )
        data_ = HMMData(
            encoded,
            layout.offsets,
            np.arange(layout.n_sequences, dtype=np.int64),
            layout.n_sequences,
        )
        return data_, layout, frame.index

    def _decode_theta(self, data: HMMData) -> HMMTheta:
        return self._require_ok()

    def viterbi(self, data: Any, *, lengths: Any = None) -> np.ndarray:
        """The most probable state path (states 1..k), in the data's row order."""
        from emstat.hmm import kernels

        theta = self._require_ok()
        encoded, layout, _ = self._encode(data, lengths)
        log_b = self.hmm.emission.log_density(theta.emission, encoded.emissions)
        path, _ = kernels.viterbi(
            log_b, encoded.offsets, self.hmm.starts_of(theta, encoded), theta.trans
        )
        return layout.restore(path + 1)

    def viterbi_logprob(self, data: Any, *, lengths: Any = None) -> float:
        """The joint log-probability of the data and the Viterbi path."""
        from emstat.hmm import kernels

        theta = self._require_ok()
        encoded, _, _ = self._encode(data, lengths)
        log_b = self.hmm.emission.log_density(theta.emission, encoded.emissions)
        return kernels.viterbi(
            log_b, encoded.offsets, self.hmm.starts_of(theta, encoded), theta.trans
        )[1]

    def posterior(self, data: Any, *, lengths: Any = None) -> pd.DataFrame:
        """Posterior state probabilities, one column per state, aligned to the data's index."""
        theta = self._require_ok()
        encoded, layout, index = self._encode(data, lengths)
        gamma, _, _ = self.hmm.posterior(theta, encoded)
        return pd.DataFrame(layout.restore(gamma), index=index, columns=self._labels)

    def predict(self, data: Any, *, lengths: Any = None) -> np.ndarray:
        """The state of largest posterior probability at each row (1..k)."""
        return np.argmax(self.posterior(data, lengths=lengths).to_numpy(), axis=1) + 1

    def score(self, data: Any, *, lengths: Any = None) -> float:
        """The log-likelihood of ``data`` under the fitted model."""
        theta = self._require_ok()
        encoded, _, _ = self._encode(data, lengths)
        return float(self.hmm.loglik(theta, encoded))

    def sample(
        self,
        n: int,
        seed: int | np.random.Generator | None = None,
        lengths: Any = None,
        *,
        exposure: Any = None,
        trials: Any = None,
        totals: Any = None,
    ) -> pd.DataFrame:
        """Draw ``n`` rows: one sequence, or several of ``lengths``; columns, ``state`` (1..k)
        and ``sequence`` (1, 2, ...) when there are several.

        A Poisson emission whose exposure is a column, or a binomial one whose
        trials are, needs each row's ``exposure`` / ``trials``: ``n`` numbers,
        one number, or a DataFrame holding the fit's column; they are returned
        beside the draws, under the column's name.  A multinomial emission
        needs each row's total count, ``totals``: ``n`` numbers, one number,
        or a DataFrame whose rows of the emission's columns are summed (the
        fitted data, say).
        """
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InputError(f"the number of rows to sample must be a whole number >= 1, got {n!r}")
        theta = self._require_ok()
        rng = np.random.default_rng(seed)
        if lengths is None:
            sizes = [int(n)]
        else:
            sizes = [int(v) for v in lengths]
            if any(v < 1 for v in sizes) or sum(sizes) != n:
                raise InputError(f"lengths must be whole numbers >= 1 that sum to n = {n}")
        start = theta.start if theta.start.ndim == 1 else theta.start.mean(axis=0)
        cumulative = np.cumsum(theta.trans, axis=1)
        states = np.empty(int(n), dtype=np.int64)
        at = 0
        for size in sizes:
            draws = rng.random(size)
            state = min(int(np.searchsorted(np.cumsum(start), draws[0], side="right")), self.k - 1)
            states[at] = state
            for t in range(1, size):
                row = cumulative[state]
                state = min(int(np.searchsorted(row, draws[t] * row[-1], side="right")), self.k - 1)
                states[at + t] = state
            at += size
        given = {"exposure": exposure, "trials": trials, "totals": totals}
        values = self.hmm.emission.sample(theta.emission, states, rng, given)
        out = pd.DataFrame(values)
        out["state"] = states + 1
        if len(sizes) > 1:
            out["sequence"] = np.repeat(np.arange(1, len(sizes) + 1), sizes)
        return out

    # --- text ------------------------------------------------------------------------------
    def summary(self) -> str:
        """A plain-text summary of the fit."""
        head = [
            f"Hidden Markov model: {self.k} states; emissions {self.hmm.emission.describe()}",
            f"{self.n_rows} rows in {self.n_sequences} sequence"
            f"{'s' if self.n_sequences != 1 else ''}; start: "
            f"{'one per sequence' if self.hmm.per_sequence else 'shared'}",
            f"init: {self.init}; stopping rule: {self.control.describe()}",
        ]
        if not self.ok:
            return "\n".join([*head, f"degenerate fit: {self.degenerate}"])
        status = "converged" if self.converged else f"NOT converged ({self.stop_reason})"
        head += [
            f"log-likelihood {self.loglik:.6f}; {self.n_params} parameters; {status} after "
            f"{self.n_iter} iterations ({self.seconds:.3f} s)",
            f"BIC {self.bic:.4f}  AIC {self.aic:.4f}  ICL {self.icl:.4f}  ({CONVENTION_TEXT})",
            "standard errors: observed information (numerical Hessian); 95% Wald intervals on "
            "the scale shown",
            "",
            "transitions (row: from, column: to):",
            self.transitions.to_string(float_format=lambda v: f"{v:.6g}"),
            "",
        ]
        return "\n".join(head) + self.params_text()

    # --- persistence ---------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The fit as plain JSON-ready data (:func:`load_hmm` reads it back)."""
        theta = self.theta
        finite = lambda v: None if v is None or not math.isfinite(v) else float(v)  # noqa: E731
        emission_values = None
        if theta is not None:
            emission_values = self.hmm.emission.rows(theta.emission)[1].tolist()
        return {
            "format": FORMAT,
            "emission": self.hmm.emission.to_spec(),
            "k": self.k,
            "n": self.n,
            "n_rows": self.n_rows,
            "n_sequences": self.n_sequences,
            "start_per_sequence": self.hmm.per_sequence,
            "start_constraint": _nan_to_none(self.hmm.start_constraint.fixed),
            "transitions_constraint": _nan_to_none(self.hmm.trans_constraint.fixed),
            "emission_fixed": None
            if self.hmm.emission_fixed is None
            else _nan_to_none(self.hmm.emission_fixed),
            "start": None if theta is None else theta.start.tolist(),
            "transitions": None if theta is None else theta.trans.tolist(),
            "emission_params": emission_values,
            "loglik": finite(self.loglik),
            "n_params": self.n_params,
            **run_payload(self),
            "seconds": self.seconds,
            "init": self.init,
            "degenerate": self.degenerate,
            "sequence": self.sequence,
            "order": self.order,
            "std_errors": None
            if not self.ok
            else [finite(v) for v in self._std_errors_and_notes[0]],
            "std_error_notes": None if not self.ok else list(self._std_errors_and_notes[1]),
        }

    def save(self, path: str | Path) -> Path:
        """Write the fit as JSON; :func:`emstat.hmm.load_hmm` reads it back."""
        path = Path(path)
        path.write_text(json.dumps(self.to_dict(), indent=1))
        return path


def _nan_to_none(values: np.ndarray) -> list[list[float | None]]:
    return [[None if math.isnan(v) else float(v) for v in row] for row in values]


def _emission_from_spec(spec: Any) -> Any:
    from emstat.families import family_from_spec
    from emstat.hmm.emissions import FamilyEmission, GaussianEmission
    from emstat.mixture.covariance import get_covariance_model

    if not isinstance(spec, dict) or spec.get("kind") not in ("gaussian", "family"):
        raise InputError(f"the saved emission is not a known kind: {spec!r}")
    if spec["kind"] == "family":
        return FamilyEmission(family_from_spec(spec.get("family")))
    columns = spec.get("columns")
    if not isinstance(columns, list) or not columns or not all(isinstance(c, str) for c in columns):
        raise InputError("the saved Gaussian emission names no columns")
    center = number_array(spec.get("center"), "emission.center", (len(columns),))
    model = spec.get("model")
    if not isinstance(model, str):
        raise InputError("the saved Gaussian emission names no covariance model")
    return GaussianEmission(get_covariance_model(model, len(columns)), columns, center)


def _constraint(payload: Any, shape: tuple[int, int], name: str) -> Any:
    from emstat.hmm.model import Constraint

    if not isinstance(payload, list):
        raise InputError(f"the saved {name} is not a table")
    values = np.array([[np.nan if v is None else v for v in row] for row in payload], dtype=float)
    if values.shape != shape:
        raise InputError(f"the saved {name} has shape {values.shape}, not {shape}")
    return Constraint(values)


def _emission_fixed(emission: Any, payload: Any, k: int) -> np.ndarray | None:
    """The saved emission parameters held at given values (None: none), checked."""
    if payload is None:
        return None
    width = len(emission.parameter_names()[0])
    if not isinstance(payload, list) or not all(isinstance(row, list) for row in payload):
        raise InputError("the saved emission_fixed is not a table")
    values = np.array([[np.nan if v is None else v for v in row] for row in payload], dtype=float)
    if values.shape != (k, width):
        raise InputError(f"the saved emission_fixed has shape {values.shape}, not {(k, width)}")
    emission.check_fixed(values)
    return values


def load_hmm(path: str | Path) -> HMMResult:
    """A fit saved by :meth:`HMMResult.save`, checked field by field.

    Decoding, scoring and sampling work on it; standard errors are the saved ones.
    """
    from emstat.hmm.model import check_distribution

    try:
        payload = json.loads(Path(path).read_text())
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read a saved HMM from {path}: {exc}") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = payload.get("format") if isinstance(payload, dict) else None
        raise InputError(f"not a saved emstat HMM fit (format {found!r})")
    fields = SavedFields(payload)
    emission = _emission_from_spec(fields.get("emission"))
    k = fields.integer("k", 1)
    per_sequence = fields.boolean("start_per_sequence")
    n_sequences = fields.integer("n_sequences", 1)
    model = HMMModel(
        emission,
        k,
        _constraint(fields.get("start_constraint"), (1, k), "start constraint"),
        _constraint(fields.get("transitions_constraint"), (k, k), "transitions constraint"),
        per_sequence=per_sequence,
        emission_fixed=_emission_fixed(emission, fields.get("emission_fixed"), k),
    )
    n_params = fields.integer("n_params", 0)
    if n_params != model.n_params(n_sequences):
        raise InputError(f"n_params is {n_params}; this model has {model.n_params(n_sequences)}")
    theta = None
    size = 0
    if payload.get("transitions") is not None:
        start_shape = (n_sequences, k) if per_sequence else (k,)
        start = check_distribution(fields.get("start"), start_shape, "saved start distribution")
        trans = check_distribution(fields.get("transitions"), (k, k), "saved transitions")
        values = fields.get("emission_params")
        first = values[0] if isinstance(values, list) and values else None
        width = len(first) if isinstance(first, list) else 0
        table = number_array(values, "emission_params", (k, width))
        theta = HMMTheta(start, trans, emission.theta_from_rows(table))
        from emstat.hmm.stderr import reported

        size = reported(model, theta).shape[0]
    return HMMResult(
        hmm=model,
        theta=theta,
        n=fields.number("n"),
        n_rows=fields.integer("n_rows", 1),
        n_sequences=n_sequences,
        n_params=n_params,
        loglik=fields.number("loglik", nullable=True),
        **fields.run(),
        seconds=fields.number("seconds"),
        init=fields.string("init"),
        degenerate=fields.optional_string("degenerate"),
        sequence=fields.optional_string("sequence"),
        order=fields.optional_string("order"),
        std_errors=fields.std_errors(theta is not None, size),
        std_error_notes=_notes(payload.get("std_error_notes"), size),
    )


def _notes(payload: Any, size: int) -> list[str] | None:
    """The saved notes of the standard errors (None in files written before they were kept)."""
    if payload is None:
        return None
    if not isinstance(payload, list) or len(payload) != size:
        raise InputError(f"std_error_notes must be a list of {size} strings")
    if not all(isinstance(v, str) for v in payload):
        raise InputError("std_error_notes must hold strings only")
    return list(payload)
