"""A categorical fit as JSON and back: format ``emstat.CategoricalResult/1``.

The payload holds what the estimate and its table need, not the data:
variables, levels, margins, prior, structural zeros, the cell
probabilities, the criteria's inputs, the convergence record, the stopping
rule and the standard errors of the parameter table.  Reading it back
checks every field; a file that is not a valid fit raises one
:class:`InputError` naming the field.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np
import pandas as pd

from emstat._saved import SavedFields, number_array
from emstat.engine import EMResult
from emstat.errors import InputError
from emstat.results import run_payload

if TYPE_CHECKING:
    from emstat.categorical.frontend import CategoricalResult

__all__ = ["FORMAT", "FORMAT_PREFIX", "fit_from_dict", "fit_to_dict"]

FORMAT_PREFIX = "emstat.CategoricalResult"
FORMAT = f"{FORMAT_PREFIX}/1"

# How far saved probabilities may sum from 1: rounding of theta / theta.sum().
_PROBABILITY_SUM_ATOL = 1e-9

T = TypeVar("T")


# --------------------------------------------------------------------------- writing


def _json_label(value: Any, variable: str) -> str | int | float | bool:
    """A level as a JSON scalar; a level JSON cannot hold is refused, naming it."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        raise InputError(f"level {value!r} of {variable!r} cannot be saved in JSON")
    if not isinstance(value, (str, int, float, bool)):
        raise InputError(
            f"level {value!r} of {variable!r} cannot be saved: JSON holds text and numbers only"
        )
    return value


def _finite_or_none(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def fit_to_dict(result: CategoricalResult) -> dict[str, Any]:
    """The payload of :meth:`CategoricalResult.save`."""
    record = result.record
    levels = [
        [_json_label(v, name) for v in lv]
        for name, lv in zip(record.variables, record.levels, strict=True)
    ]
    zero_cells = np.argwhere(~result.model.free)
    structural = [[levels[j][int(i)] for j, i in enumerate(cell)] for cell in zero_cells]
    return {
        "format": FORMAT,
        "variables": list(record.variables),
        "levels": levels,
        "margins": result.margins,
        "prior": result.prior,
        "structural_zeros": structural,
        "probabilities": result.theta.reshape(-1).tolist() if result.ok else None,
        "loglik": _finite_or_none(result.loglik),
        "logpost": _finite_or_none(result.logpost),
        "n_params": result.n_params,
        "n_units": result.n_units,
        "n_rows": record.n_rows,
        "n_patterns": record.n_patterns,
        **run_payload(result.em),
        "degenerate": result.degenerate,
        "std_errors": [_finite_or_none(v) for v in result.std_errors] if result.ok else None,
    }


# --------------------------------------------------------------------------- reading


def _in_field(name: str, check: Callable[[], T]) -> T:
    """Run a validator of the fitting code; its message is prefixed with the field."""
    try:
        return check()
    except InputError as exc:
        raise InputError(f"{name}: {exc}") from None


def _variables(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
        raise InputError(f"variables must be a non-empty list of names, got {value!r}")
    if len(set(value)) != len(value):
        raise InputError(f"variables repeat a name: {value!r}")
    return tuple(value)


def _is_label(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, (str, int, bool))


def _levels(value: Any, variables: tuple[str, ...]) -> tuple[pd.Index, ...]:
    if not isinstance(value, list) or len(value) != len(variables):
        raise InputError(f"levels must be a list of {len(variables)} lists, one per variable")
    out = []
    for name, labels in zip(variables, value, strict=True):
        if not isinstance(labels, list) or len(labels) < 2:
            raise InputError(f"levels of {name!r} must be a list of at least two labels")
        bad = [v for v in labels if not _is_label(v)]
        if bad:
            raise InputError(f"levels of {name!r}: {bad[0]!r} is not text or a finite number")
        if len(set(labels)) != len(labels):
            raise InputError(f"levels of {name!r} repeat a label: {labels!r}")
        out.append(pd.Index(labels))
    return tuple(out)


def _probabilities(value: Any, n_cells: int, free: np.ndarray) -> np.ndarray:

    theta = number_array(value, "probabilities", (n_cells,))
    if np.any(theta < 0):
        i = int(np.flatnonzero(theta < 0)[0])
        raise InputError(f"probabilities[{i}] is {theta[i]:.6g}; probabilities must be >= 0")
    total = float(theta.sum())
    if abs(total - 1.0) > _PROBABILITY_SUM_ATOL:
        raise InputError(f"probabilities sum to {total:.6g}, not 1")
    theta = theta.reshape(free.shape)
    if np.any(theta[~free] != 0):
        raise InputError("probabilities are positive on a structural zero")
    return theta


def _std_errors(value: Any, n_cells: int) -> np.ndarray:
    if not isinstance(value, list) or len(value) != n_cells:
        raise InputError(f"std_errors must be a list of {n_cells} numbers or nulls")

    se = number_array(
        [math.nan if v is None else v for v in value], "std_errors", (n_cells,), finite=False
    )
    if np.any(se < 0) or np.any(np.isinf(se)):
        raise InputError("std_errors must be finite numbers >= 0 (or null)")
    return se


def fit_from_dict(payload: Any) -> CategoricalResult:
    """A fit from :func:`fit_to_dict`'s payload, each field checked (InputError naming it)."""
    from emstat.categorical.frontend import (
        MAX_CELLS,
        CategoricalResult,
        FitRecord,
        _check_n_cells,
        _margin_axes,
        _structural_mask,
        _validate_prior,
    )
    from emstat.categorical.model import LogLinearModel

    if not isinstance(payload, dict):
        raise InputError(
            f"not a saved categorical fit (a JSON {type(payload).__name__}, not an object)"
        )
    if payload.get("format") != FORMAT:
        raise InputError(
            f"not a saved categorical fit this version reads (format {payload.get('format')!r}; "
            f"this version reads {FORMAT})"
        )
    fields = SavedFields(payload)
    variables = _variables(fields.get("variables"))
    levels = _levels(fields.get("levels"), variables)
    _in_field("levels", lambda: _check_n_cells(variables, levels, MAX_CELLS))
    margins = _in_field("margins", lambda: _margin_axes(fields.get("margins"), variables))
    prior = _in_field("prior", lambda: _validate_prior(fields.get("prior")))
    zeros = fields.get("structural_zeros")
    if not isinstance(zeros, list):
        raise InputError(f"structural_zeros must be a list of cells, got {zeros!r}")
    free = _in_field("structural_zeros", lambda: _structural_mask(zeros, variables, levels))
    model = LogLinearModel(
        shape=tuple(len(lv) for lv in levels), margins=margins, prior=prior, free=free
    )
    n_params = fields.integer("n_params", 0)
    expected = _in_field("margins", model.n_params)
    if n_params != expected:
        raise InputError(f"n_params is {n_params}; this model of these levels has {expected}")
    degenerate = fields.optional_string("degenerate")
    fitted = fields.get("probabilities") is not None
    if fitted == (degenerate is not None):
        raise InputError(
            "probabilities are given for a degenerate fit"
            if fitted
            else "probabilities are null but degenerate does not say why"
        )
    theta = std_errors = None
    if fitted:
        theta = _probabilities(payload["probabilities"], free.size, free)
        std_errors = _std_errors(fields.get("std_errors"), free.size)
    elif payload.get("std_errors") is not None:
        raise InputError("std_errors are given for a fit without probabilities")
    n_units = fields.number("n_units")
    if not n_units > 0:
        raise InputError(f"n_units must be > 0, got {n_units!r}")
    record = FitRecord(
        variables=variables,
        levels=levels,
        n_units=n_units,
        n_rows=fields.integer("n_rows", 1),
        n_patterns=fields.integer("n_patterns", 1),
        loglik=fields.number("loglik", nullable=not fitted),
        logpost=fields.number("logpost", nullable=not fitted),
        std_errors=std_errors,
    )
    if record.n_patterns > record.n_rows:
        raise InputError(
            f"n_patterns is {record.n_patterns}, more than the {record.n_rows} rows (n_rows)"
        )
    em: EMResult[Any, Any] = EMResult(
        theta=theta,
        stats=None,
        loglik=record.loglik,
        seconds=math.nan,
        **fields.run(),
        degenerate=degenerate,
    )
    return CategoricalResult.restored(model, em, record)
