"""Component families for mixtures: which distribution each column follows.

Pass a family to :func:`emstat.fit_mixture` and :func:`emstat.select_mixture`
by name (``"poisson"``, ``"binomial"``, ``"categorical"``, ``"normal"``), as
an object carrying its options (``Poisson(exposure="days")``,
``Binomial(trials="n")``), or as a mapping from columns to either, for mixed
columns under local independence::

    family={"age": "normal", "visits": "poisson", "smoker": "categorical"}

``"multinomial"`` models several count columns together (each row a vector
of counts, as mixtools' ``multmixEM``).  ``"gaussian"`` (the default) is the
multivariate Gaussian family with mclust's covariance models.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from emstat._validation import describe_labels
from emstat.errors import InputError
from emstat.families.base import ColumnData, ColumnFamily, ProductFamily
from emstat.families.binomial import BinomialColumn
from emstat.families.categorical import CategoricalColumn
from emstat.families.multinomial import MultinomialColumns
from emstat.families.normal import NormalColumn
from emstat.families.poisson import PoissonColumn

__all__ = [
    "FAMILY_NAMES",
    "Binomial",
    "Categorical",
    "ColumnData",
    "ColumnFamily",
    "Multinomial",
    "Normal",
    "Poisson",
    "ProductFamily",
    "family_from_spec",
    "is_gaussian",
    "resolve_family",
]


@dataclass(frozen=True)
class Poisson:
    """Poisson counts; ``exposure`` a column name or constant (rates per unit exposure)."""

    exposure: str | float | None = None

    def bind(self, column: str) -> ColumnFamily:
        return PoissonColumn(column, self.exposure)

    def extra_columns(self) -> list[str]:
        return [self.exposure] if isinstance(self.exposure, str) else []


@dataclass(frozen=True)
class Binomial:
    """Successes out of ``trials`` (a column name or a whole number per row)."""

    trials: str | int | None = None

    def bind(self, column: str) -> ColumnFamily:
        return BinomialColumn(column, self.trials)

    def extra_columns(self) -> list[str]:
        return [self.trials] if isinstance(self.trials, str) else []


@dataclass(frozen=True)
class Categorical:
    """Unordered categories; the levels are those seen in the data."""

    def bind(self, column: str) -> ColumnFamily:
        return CategoricalColumn(column)

    def extra_columns(self) -> list[str]:
        return []


@dataclass(frozen=True)
class Multinomial:
    """Counts of several categories per row, one column each (mixtools' ``multmixEM``)."""

    def bind(self, column: str) -> ColumnFamily:
        raise InputError(
            "the multinomial family models several count columns together: "
            "family='multinomial', columns=[...]"
        )

    def extra_columns(self) -> list[str]:
        return []


@dataclass(frozen=True)
class Normal:
    """A univariate normal per column (mixed columns, latent profiles)."""

    def bind(self, column: str) -> ColumnFamily:
        return NormalColumn(column)

    def extra_columns(self) -> list[str]:
        return []


FamilySpec = Poisson | Binomial | Categorical | Normal | Multinomial
_BY_NAME: dict[str, type[FamilySpec]] = {
    "poisson": Poisson,
    "binomial": Binomial,
    "categorical": Categorical,
    "normal": Normal,
    "multinomial": Multinomial,
}
FAMILY_NAMES: tuple[str, ...] = ("gaussian", *_BY_NAME)


def is_gaussian(family: Any) -> bool:
    """True for the multivariate Gaussian family (the default)."""
    return family is None or (isinstance(family, str) and family.lower() == "gaussian")


def _spec(family: Any, *, trials: Any = None, exposure: Any = None) -> FamilySpec:
    if isinstance(family, (Poisson, Binomial, Categorical, Normal, Multinomial)):
        return family
    if not isinstance(family, str):
        raise InputError(
            f"family must be a name ({', '.join(FAMILY_NAMES)}), a family object such as "
            f"emstat.Poisson(), or a mapping of columns to families; got {family!r}"
        )
    name = family.lower()
    if name not in _BY_NAME:
        raise InputError(f"unknown family {family!r}; choose one of {', '.join(FAMILY_NAMES)}")
    if name == "binomial":
        return Binomial(trials=trials)
    if name == "poisson":
        return Poisson(exposure=exposure)
    return _BY_NAME[name]()


def _default_columns(frame: pd.DataFrame, spec: FamilySpec, reserved: Sequence[str]) -> list[str]:
    candidates = [str(c) for c in frame.columns if str(c) not in reserved]
    if isinstance(spec, Categorical):
        return candidates
    numeric = [c for c in candidates if pd.api.types.is_numeric_dtype(frame[c])]
    if not numeric:
        raise InputError(f"the data have no numeric column for the {type(spec).__name__} family")
    return numeric


def _check_options_apply(specs: Sequence[FamilySpec], trials: Any, exposure: Any) -> None:
    """trials= and exposure= belong to the binomial and Poisson families: refuse them elsewhere."""
    if trials is not None and not any(isinstance(s, Binomial) for s in specs):
        raise InputError("trials= belongs to the binomial family; this fit has no binomial column")
    if exposure is not None and not any(isinstance(s, Poisson) for s in specs):
        raise InputError("exposure= belongs to the Poisson family; this fit has no Poisson column")


def _check_not_modelled(family: ProductFamily, reserved: Sequence[str]) -> None:
    """A column of weights, trials or exposures is not also a modelled column."""
    extras = [getattr(p, "trials", None) or getattr(p, "exposure", None) for p in family.parts]
    named = [*reserved, *(e for e in extras if isinstance(e, str))]
    twice = [c for c in family.columns if c in named]
    if twice:
        raise InputError(
            f"column {twice[0]!r} is both modelled and used as weights, trials or exposure"
        )


def resolve_family(
    family: Any,
    frame: pd.DataFrame,
    columns: Sequence[str] | None = None,
    *,
    trials: Any = None,
    exposure: Any = None,
    reserved: Sequence[str] = (),
) -> ProductFamily:
    """The per-column families of a fit, with what they learn from ``frame`` fixed.

    ``reserved`` columns (case weights) are never modelled.
    """
    bound = _bind_family(
        family, frame, columns, trials=trials, exposure=exposure, reserved=reserved
    )
    _check_not_modelled(bound, reserved)
    return bound


def _bind_family(
    family: Any,
    frame: pd.DataFrame,
    columns: Sequence[str] | None,
    *,
    trials: Any,
    exposure: Any,
    reserved: Sequence[str],
) -> ProductFamily:
    frame = frame.rename(columns=str)
    if isinstance(family, ProductFamily):  # already bound (a simulation's truth, a saved fit)
        if trials is not None or exposure is not None:
            raise InputError("a bound family carries its own trials and exposure")
        return family.prepare(frame)
    if isinstance(family, Mapping):
        if columns is not None:
            raise InputError("give the columns either as the family mapping's keys or as columns=")
        if not family:
            raise InputError("the family mapping names no column")
        specs = [_spec(entry, trials=trials, exposure=exposure) for entry in family.values()]
        _check_options_apply(specs, trials, exposure)
        parts = [spec.bind(str(column)) for column, spec in zip(family, specs, strict=True)]
        return ProductFamily(tuple(parts)).prepare(frame)
    spec = _spec(family, trials=trials, exposure=exposure)
    _check_options_apply([spec], trials, exposure)
    used = [*reserved, *spec.extra_columns()]
    if columns is None:
        chosen = _default_columns(frame, spec, used)
    else:
        chosen = [str(c) for c in columns]
        if not chosen:
            raise InputError("columns names no column")
        missing = [c for c in chosen if c not in frame.columns]
        if missing:
            raise InputError(
                f"no column {describe_labels(missing)} in the data; its columns are "
                f"{describe_labels([str(c) for c in frame.columns], 20)}"
            )
    if not chosen:
        raise InputError("the data have no column to model")
    if isinstance(spec, Multinomial):
        return ProductFamily((MultinomialColumns(tuple(chosen)),)).prepare(frame)
    return ProductFamily(tuple(spec.bind(c) for c in chosen)).prepare(frame)


def _saved_extra(entry: Mapping[str, Any], key: str) -> str | float | None:
    """A saved trials or exposure: a column name, a positive number, or null."""
    value = entry.get(key)
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise InputError(f"the saved {key} of column {entry.get('column')!r} is {value!r}")
    return value


def family_from_spec(entries: Any) -> ProductFamily:
    """The family a saved fit describes (the inverse of ``ProductFamily.to_spec``)."""
    if not isinstance(entries, list) or not all(isinstance(e, Mapping) for e in entries):
        raise InputError(f"the saved family must be a list of column entries, got {entries!r}")
    parts: list[ColumnFamily] = []
    for entry in entries:
        name = entry.get("family")
        column = entry.get("column")
        if not isinstance(column, str):
            raise InputError(f"a saved family entry has no column name: {dict(entry)!r}")
        if name == "poisson":
            parts.append(PoissonColumn(column, _saved_extra(entry, "exposure")))
        elif name == "binomial":
            trials = _saved_extra(entry, "trials")
            if isinstance(trials, float):
                if not trials.is_integer():
                    raise InputError(f"the saved trials of column {column!r} is {trials!r}")
                trials = int(trials)
            parts.append(BinomialColumn(column, trials))
        elif name == "normal":
            parts.append(NormalColumn(column, float(entry["center"]), float(entry["scale"])))
        elif name == "multinomial":
            names = entry.get("columns")
            if not isinstance(names, list) or len(names) < 2:
                raise InputError(f"the saved multinomial part {column!r} has no columns")
            parts.append(MultinomialColumns(tuple(str(c) for c in names)))
        elif name == "categorical":
            levels = entry.get("levels")
            if not isinstance(levels, list) or len(levels) < 2:
                raise InputError(f"the saved categorical column {column!r} has no levels")
            parts.append(CategoricalColumn(column, tuple(levels)))
        else:
            raise InputError(f"the saved fit names an unknown family {name!r}")
    if not parts:
        raise InputError("the saved fit names no column family")
    return ProductFamily(tuple(parts))
