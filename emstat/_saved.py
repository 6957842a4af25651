"""Reading a saved fit's JSON: typed, checked fields, each error naming its field.

Shared by every result that saves itself (Gaussian mixtures, component
families, categorical data); a result's own loader adds its fields.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from emstat.engine import EMControl
from emstat.errors import InputError

__all__ = ["SavedFields", "finite_number", "number_array"]


class SavedFields:
    """Typed, checked reads of a saved fit's fields; each error names its field."""

    def __init__(self, payload: dict[str, Any]) -> None:
        self.payload = payload

    def get(self, key: str) -> Any:
        if key not in self.payload:
            raise InputError(f"the saved fit has no {key!r} field")
        return self.payload[key]

    def integer(self, key: str, minimum: int) -> int:
        value = self.get(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InputError(f"{key} must be a whole number >= {minimum}, got {value!r}")
        return value

    def boolean(self, key: str) -> bool:
        value = self.get(key)
        if not isinstance(value, bool):
            raise InputError(f"{key} must be true or false, got {value!r}")
        return value

    def string(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            raise InputError(f"{key} must be a string, got {value!r}")
        return value

    def optional_string(self, key: str) -> str | None:
        value = self.payload.get(key)
        return None if value is None else self.string(key)

    def number(self, key: str, nullable: bool = False) -> float:
        value = self.get(key)
        if value is None and nullable:
            return math.nan
        return finite_number(value, key)

    def array(self, key: str, shape: tuple[int, ...] | None, finite: bool = True) -> np.ndarray:
        """A list (nested to ``shape``; 1-D of any length when None) of numbers."""
        return number_array(self.get(key), key, shape, finite=finite)

    def control(self) -> EMControl:
        control = self.get("control")
        names = {"tol", "criterion", "max_iter"}
        if not isinstance(control, dict) or set(control) != names:
            raise InputError(
                f"control must be an object with tol, criterion and max_iter, got {control!r}"
            )
        if isinstance(control["max_iter"], bool) or isinstance(control["tol"], bool):
            raise InputError(f"control must hold numbers for tol and max_iter, got {control!r}")
        try:
            return EMControl(**control)
        except InputError as exc:
            raise InputError(f"control: {exc}") from None

    def run(self) -> dict[str, Any]:
        """How the fit's EM run ended (written by :func:`emstat.results.run_payload`)."""
        return {
            "n_iter": self.integer("n_iter", 0),
            "converged": self.boolean("converged"),
            "stop_reason": self.string("stop_reason"),
            "trace": self.array("trace", None, finite=False),
            "control": self.control(),
        }

    def std_errors(self, fitted: bool, size: int) -> np.ndarray | None:
        values = self.payload.get("std_errors")
        if values is None:
            return None
        if not fitted:
            raise InputError("std_errors are given for a fit without parameters")
        if not isinstance(values, list) or len(values) != size:
            raise InputError(f"std_errors must be a list of {size} numbers or nulls")
        cleaned = [math.nan if v is None else v for v in values]
        return number_array(cleaned, "std_errors", (size,), finite=False)


def finite_number(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InputError(f"{name} must be a number, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        number = math.inf
    if not math.isfinite(number):
        raise InputError(f"{name} must be finite, got {value!r}")
    return number


def number_array(
    value: Any, name: str, shape: tuple[int, ...] | None, *, finite: bool = True
) -> np.ndarray:
    """``value`` as a float array of ``shape``, every entry a JSON number (finite if asked)."""

    leaves = 1 if shape is None else len(shape)  # the depth at which numbers sit

    def check(item: Any, depth: int, where: str) -> None:
        if depth == leaves:
            if isinstance(item, bool) or not isinstance(item, (int, float)):
                raise InputError(f"{name}{where} must be a number, got {item!r}")
            if isinstance(item, int) and abs(item) > 2**1023:
                raise InputError(f"{name}{where} is out of the range of floats")
            if finite and not math.isfinite(item):
                raise InputError(f"{name}{where} must be finite, got {item!r}")
            return
        length = None if shape is None else shape[depth]
        if not isinstance(item, list) or (length is not None and len(item) != length):
            size = "a list" if length is None else f"a list of {length}"
            got = f"{len(item)} entries" if isinstance(item, list) else repr(item)
            raise InputError(f"{name}{where} must be {size}, got {got}")
        for i, entry in enumerate(item):
            check(entry, depth + 1, f"{where}[{i}]")

    check(value, 0, "")
    return np.array(value, dtype=float)
