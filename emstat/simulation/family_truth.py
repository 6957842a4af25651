"""The data-generating mixture of a component family (Poisson, binomial, categorical, normal).

A :class:`FamilyTruth` is to a simulation study what
:class:`~emstat.simulation.design.TrueMixture` is for Gaussian mixtures: it
draws data sets, names and holds the true parameters in the row order of a
fit's ``params``, matches fitted components to true ones, and says how to fit
a replicate.  Separation moves every component's parameters away from their
weighted centre on the link scale (log rates, logit probabilities, means).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import InputError
from emstat.families import ProductFamily, family_from_spec
from emstat.families.base import ColumnFamily
from emstat.simulation.formula import FormulaTerm

__all__ = ["FamilyTruth", "family_truth_from_terms"]


def _link(part: ColumnFamily, values: np.ndarray) -> np.ndarray:
    """Each parameter on the scale where separation and matching are linear."""
    out = np.asarray(values, dtype=float).copy()
    for j, scale in enumerate(part.scales()):
        if scale == "log":
            out[:, j] = np.log(out[:, j])
        elif scale == "logit":
            from scipy.special import logit  # slow to import: when needed

            out[:, j] = logit(np.clip(out[:, j], 1e-12, 1 - 1e-12))
    return out


def _unlink(part: ColumnFamily, values: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=float).copy()
    for j, scale in enumerate(part.scales()):
        if scale == "log":
            out[:, j] = np.exp(out[:, j])
        elif scale == "logit":
            from scipy.special import expit

            out[:, j] = expit(out[:, j])
    return out


@dataclass(frozen=True, eq=False)
class FamilyTruth:
    """True weights (k,) and per-column parameters of a family mixture."""

    family: ProductFamily
    weights: np.ndarray
    components: tuple[np.ndarray, ...]

    alignment = "hungarian-link-scale"
    alignment_method = (
        "Hungarian assignment on the squared Euclidean distance between fitted and true "
        "parameters on the link scale: log rates, logit probabilities, means "
        "(emstat.mixture.align.match_components)"
    )

    @property
    def k(self) -> int:
        return int(self.weights.shape[0])

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.family.columns)

    @property
    def d(self) -> int:
        return len(self.columns)

    @property
    def family_name(self) -> str:
        return self.family.name

    @property
    def default_model(self) -> str:
        """The variant axis of a study of this family: the family's name."""
        return self.family.name

    def fit_options(self) -> dict[str, Any]:
        """What :func:`emstat.fit_mixture` needs besides the data to fit this family."""
        return {"family": self.family}

    def separated(self, factor: float) -> FamilyTruth:
        if factor == 1.0:
            return self
        if any(part.name == "categorical" for part in self.family.parts):
            raise InputError("separation is defined for count and normal columns, not categorical")
        moved = []
        for part, values in zip(self.family.parts, self.components, strict=True):
            linked = _link(part, values)
            centre = self.weights @ linked
            shifted = linked.copy()
            for j, name in enumerate(part.parameter_names()):
                if not name.startswith("var"):  # variances keep their size
                    shifted[:, j] = centre[j] + factor * (linked[:, j] - centre[j])
            moved.append(_unlink(part, shifted))
        return FamilyTruth(self.family, self.weights, tuple(moved))

    def draw(self, n: int, rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray]:
        """``n`` rows and each row's component (0-based)."""
        labels = rng.choice(self.k, size=n, p=self.weights)
        extras = [_constant_extra(part, n) for part in self.family.parts]
        draws = self.family.sample(self.components, labels, extras, rng)
        return pd.DataFrame(draws), labels

    def truth_table(self) -> tuple[list[str], np.ndarray]:
        """Parameter names of one component (``params`` order) and the truths (k, p)."""
        names, values, _ = self.family.rows(self.components)
        return ["weight", *names], np.concatenate([self.weights[:, None], values], axis=1)

    def resolve_models(self, names: Sequence[str]) -> list[str]:
        """The variant axis: a family without covariance models has only its own name."""
        for name in names:
            if name.lower() != self.family.name:
                raise InputError(
                    f"model {name!r}: the {self.family.name} family has no covariance models; "
                    "leave the model out"
                )
        return [self.family.name for _ in names]

    def fit_arguments(self, model: str) -> dict[str, Any]:
        """What :func:`emstat.fit_mixture` takes besides the data, k, init, seed and control."""
        return self.fit_options()

    def select_arguments(self, models: Sequence[str]) -> dict[str, Any]:
        return self.fit_options()

    def match(self, fit: Any) -> np.ndarray:
        """For each fitted component, its true component, or -1 (Hungarian, link scale)."""
        from emstat.simulation.align import match_means

        fitted = fit.theta.components
        truth = np.concatenate(
            [_link(p, v) for p, v in zip(self.family.parts, self.components, strict=True)], axis=1
        )
        other = np.concatenate(
            [_link(p, v) for p, v in zip(self.family.parts, fitted, strict=True)], axis=1
        )
        return match_means(truth, other)

    def to_dict(self) -> dict[str, Any]:
        return {
            "family": self.family.to_spec(),
            "weights": self.weights.tolist(),
            "components": [c.tolist() for c in self.components],
        }

    @classmethod
    def from_dict(cls, payload: dict[str, Any]) -> FamilyTruth:
        family = family_from_spec(payload["family"])
        return cls(
            family,
            np.asarray(payload["weights"], dtype=float),
            tuple(np.asarray(c, dtype=float) for c in payload["components"]),
        )


def _constant_extra(part: ColumnFamily, n: int) -> np.ndarray | None:
    value = getattr(part, "trials", None) or getattr(part, "exposure", None)
    return None if value is None else np.full(n, float(value))


def family_truth_from_terms(terms: Sequence[FormulaTerm], column: str = "x") -> FamilyTruth:
    """The mixture of a ``Pois(...)`` or ``Bin(...)`` formula, in one column ``column``."""
    from emstat.families.binomial import BinomialColumn
    from emstat.families.poisson import PoissonColumn

    weights = np.array([t.weight for t in terms], dtype=float)
    kind = terms[0].distribution
    if kind == "Pois":
        part: ColumnFamily = PoissonColumn(column)
        values = np.array([[t.args[0]] for t in terms])
    elif kind == "Bin":
        part = BinomialColumn(column, int(terms[0].args[0]))
        values = np.array([[t.args[1]] for t in terms])
    else:
        raise InputError(f"no family truth for {kind}(...) terms")
    return FamilyTruth(ProductFamily((part,)), weights, (values,))
