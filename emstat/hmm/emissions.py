"""What a hidden state emits: the families' contract and the Gaussian mixture's M-steps.

An emission model of k states states, for data it has encoded:

- ``log_density(theta, data)``: the ``(T, k)`` log densities, 0 on a row
  with nothing observed (a step of the chain without emission);
- ``stats(theta, data, gamma)``: additive weighted statistics, the
  posterior state probabilities ``gamma`` playing the responsibilities;
- ``m_step(stats, previous)``: the parameters;

plus the free parametrisation (for the observed information), the tidy
rows of ``params``, sampling and saving.  :class:`FamilyEmission` wraps a
:class:`~emstat.families.ProductFamily` (Poisson, binomial, categorical,
normal, multinomial, mixed columns) and :class:`GaussianEmission` the
multivariate Gaussian with one of mclust's covariance models; neither has
an M-step of its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from emstat._validation import describe_labels
from emstat.errors import DegenerateFitError, InputError
from emstat.families.base import (
    ColumnData,
    ProductFamily,
    Scale,
    SimplexColumns,
    check_nonempty,
    numeric_column,
    part_columns,
)
from emstat.mixture import gaussian
from emstat.mixture.covariance import CovarianceModel, get_covariance_model
from emstat.mixture.gaussian import GaussianParams, GaussianStats, upper_triangle
from emstat.mixture.model import GaussianMixtureModel

__all__ = ["Emission", "FamilyEmission", "GaussianEmission", "GaussianRows"]

_LOG_2PI = math.log(2.0 * math.pi)


class Emission:
    """The interface the hidden Markov layer uses (see the module docstring)."""

    name: str
    columns: list[str]

    @property
    def model(self) -> str:
        """The variant's name in a selection table (a covariance model or the family)."""
        raise NotImplementedError

    def encode(self, frame: pd.DataFrame) -> Any:
        raise NotImplementedError

    def observed(self, data: Any) -> np.ndarray:
        """Rows with at least one value observed."""
        raise NotImplementedError

    def take(self, data: Any, rows: np.ndarray) -> Any:
        raise NotImplementedError

    def log_density(self, theta: Any, data: Any) -> np.ndarray:
        raise NotImplementedError

    def stats(self, theta: Any, data: Any, gamma: np.ndarray) -> Any:
        raise NotImplementedError

    def m_step(self, stats: Any, previous: Any, fixed: np.ndarray | None = None) -> Any:
        """The parameters maximising the expected log-likelihood, the entries of
        ``fixed`` (``(k, m)`` as :meth:`rows`, NaN where free) held at their values."""
        raise NotImplementedError

    def n_free(self, k: int) -> int:
        raise NotImplementedError

    def check_fixed(self, fixed: np.ndarray) -> int:
        """Refuse fixed values the M-step cannot hold exactly; the number of free
        parameters they take away."""
        raise NotImplementedError

    def fix(self, theta: Any, fixed: np.ndarray | None) -> Any:
        """``theta`` with the fixed values put in (a start given by the user)."""
        if fixed is None:
            return theta
        _, values, _ = self.rows(theta)
        return self.theta_from_rows(np.where(np.isnan(fixed), values, fixed))

    def chart(
        self, theta: Any, fixed: np.ndarray | None = None
    ) -> tuple[np.ndarray, Callable[[np.ndarray], Any], str | None]:
        """Free coordinates at ``theta`` (fixed entries are none), the map back, and why
        there are none (or None)."""
        raise NotImplementedError

    def rows(self, theta: Any) -> tuple[list[str], np.ndarray, list[Scale]]:
        """Parameter names, ``(k, m)`` estimates in the data's units, and their scales."""
        raise NotImplementedError

    def edge(self, theta: Any) -> np.ndarray:
        """``(k, m)``: the estimates on the edge of the parameter space (a probability
        at 0 or 1, a rate at 0), which the observed information holds there."""
        return np.zeros(self.rows(theta)[1].shape, dtype=bool)

    def parameter_names(self) -> tuple[list[str], list[Scale]]:
        """The names of one state's parameters, as :meth:`rows` lays them out, and their scales."""
        raise NotImplementedError

    def vector(self, theta: Any) -> np.ndarray:
        return self.rows(theta)[1].reshape(-1)

    def start_features(self, data: Any) -> np.ndarray:
        raise NotImplementedError

    def theta_from_rows(self, values: np.ndarray) -> Any:
        """Parameters from a ``(k, m)`` table laid out as :meth:`rows` (starts, saved fits)."""
        raise NotImplementedError

    def sample(
        self,
        theta: Any,
        states: np.ndarray,
        rng: np.random.Generator,
        given: dict[str, Any] | None = None,
    ) -> dict[str, np.ndarray]:
        """Draws for the ``states``; ``given``: each row's ``"trials"`` / ``"exposure"`` /
        ``"totals"``."""
        raise NotImplementedError

    def describe(self) -> str:
        raise NotImplementedError

    def to_spec(self) -> dict[str, Any]:
        raise NotImplementedError


# --------------------------------------------------------------------------- #
# families
# --------------------------------------------------------------------------- #


@dataclass(frozen=True)
class FamilyEmission(Emission):
    """Emissions of a (product) family: its densities, statistics and M-step as they are."""

    family: ProductFamily

    @property
    def name(self) -> str:  # type: ignore[override]
        return self.family.name

    @property
    def columns(self) -> list[str]:  # type: ignore[override]
        return self.family.columns

    @property
    def model(self) -> str:
        return self.family.name

    def encode(self, frame: pd.DataFrame) -> tuple[ColumnData, ...]:
        for part in self.family.parts:
            levels = getattr(part, "levels", None)
            if levels is not None and part.column in frame.columns:
                _check_levels(frame, part.column, list(levels))
        return self.family.encode(frame)

    def observed(self, data: tuple[ColumnData, ...]) -> np.ndarray:
        return np.logical_or.reduce([block.observed for block in data])

    def take(self, data: tuple[ColumnData, ...], rows: np.ndarray) -> tuple[ColumnData, ...]:
        return tuple(block.take(rows) for block in data)

    def log_density(self, theta: Any, data: tuple[ColumnData, ...]) -> np.ndarray:
        return self.family.log_density(theta, data)

    def stats(self, theta: Any, data: tuple[ColumnData, ...], gamma: np.ndarray) -> Any:
        return self.family.stats(data, gamma)

    def _split(self, table: np.ndarray) -> list[np.ndarray]:
        """A ``(k, m)`` table as :meth:`rows` lays it out, cut into the parts' blocks."""
        return list(self.theta_from_rows(table))

    def m_step(self, stats: Any, previous: Any, fixed: np.ndarray | None = None) -> Any:
        if fixed is None:
            return self.family.m_step(stats)
        out = []
        for part, s, held in zip(self.family.parts, stats, self._split(fixed), strict=True):
            if isinstance(part, SimplexColumns):
                # the free levels share what the fixed ones leave, as counts say
                from emstat.hmm.model import Constraint

                part.m_step(s)  # its checks (a state without counts)
                out.append(Constraint(held).update(s, None))
            else:
                out.append(np.where(np.isnan(held), part.m_step(s), held))
        return tuple(out)

    def n_free(self, k: int) -> int:
        return self.family.n_free(k)

    def check_fixed(self, fixed: np.ndarray) -> int:
        from emstat.hmm.model import check_constraint

        k = fixed.shape[0]
        taken = 0
        for part, held in zip(self.family.parts, self._split(fixed), strict=True):
            if np.isnan(held).all():
                continue
            if isinstance(part, SimplexColumns):
                what = f"probabilities of {describe_labels(part_columns(part))}"
                constraint = check_constraint(held, k, held.shape[1], what)
                taken += part.n_free(k) - constraint.n_free()
            elif held.shape[1] == 1:
                taken += int((~np.isnan(held)).sum())
            else:
                raise InputError(
                    f"the parameters of the {part.name} column {part.column!r} cannot be "
                    "fixed; fix those of family='gaussian' instead"
                )
        return taken

    def fix(self, theta: Any, fixed: np.ndarray | None) -> Any:
        if fixed is None:
            return theta
        from emstat.hmm.model import Constraint

        out = []
        for part, th, held in zip(self.family.parts, theta, self._split(fixed), strict=True):
            if isinstance(part, SimplexColumns):
                out.append(Constraint(held).project(th))
            else:
                out.append(np.where(np.isnan(held), th, held))
        return tuple(out)

    def chart(
        self, theta: Any, fixed: np.ndarray | None = None
    ) -> tuple[np.ndarray, Callable[[np.ndarray], Any], str | None]:
        """Coordinates in which every step stays in the parameter space: log-ratios of
        probabilities over levels, logits of probabilities, logs of rates (a step of
        the probabilities themselves leaves the space near an edge)."""
        if fixed is None:
            fixed = np.full_like(self.rows(theta)[1], np.nan)
        charts = [
            _part_chart(part, np.asarray(th, dtype=float), held)
            for part, th, held in zip(self.family.parts, theta, self._split(fixed), strict=True)
        ]
        sizes = np.cumsum([0] + [c[0].size for c in charts])

        def back(v: np.ndarray) -> tuple[np.ndarray, ...]:
            return tuple(
                c[1](v[a:b]) for c, a, b in zip(charts, sizes[:-1], sizes[1:], strict=True)
            )

        return np.concatenate([c[0] for c in charts]), back, None

    def edge(self, theta: Any) -> np.ndarray:
        from emstat.mixture.finite import FiniteMixture, MixtureTheta, _boundary_rows

        k = theta[0].shape[0]
        rows = _boundary_rows(
            FiniteMixture(self.family, k), MixtureTheta(np.full(k, 1.0 / k), tuple(theta))
        )
        return rows.reshape(k, -1)[:, 1:]  # without the mixture's weights

    def rows(self, theta: Any) -> tuple[list[str], np.ndarray, list[Scale]]:
        return self.family.rows(theta)

    def parameter_names(self) -> tuple[list[str], list[Scale]]:
        names: list[str] = []
        scales: list[Scale] = []
        for part in self.family.parts:
            names += part.parameter_names()
            scales += part.scales()
        return names, scales

    def start_features(self, data: tuple[ColumnData, ...]) -> np.ndarray:
        return self.family.start_features(data)

    def theta_from_rows(self, values: np.ndarray) -> tuple[np.ndarray, ...]:
        out = []
        col = 0
        for part in self.family.parts:
            width = len(part.parameter_names())
            out.append(np.asarray(values[:, col : col + width], dtype=float))
            col += width
        return tuple(out)

    def sample(
        self,
        theta: Any,
        states: np.ndarray,
        rng: np.random.Generator,
        given: dict[str, Any] | None = None,
    ) -> dict[str, np.ndarray]:
        """Draws for the ``states``; ``given`` maps ``"trials"`` / ``"exposure"`` to each
        row's values (n numbers, a number, or a DataFrame holding the fit's column),
        which a fit whose trials or exposure are a column needs; such columns are
        returned beside the draws.  ``"totals"``: each row's total count of a
        multinomial emission (n numbers, a number, or a DataFrame whose rows of
        the emission's columns are summed)."""
        given = {key: value for key, value in (given or {}).items() if value is not None}
        n = states.shape[0]
        kinds = {
            kind
            for part in self.family.parts
            for kind in ("trials", "exposure")
            if getattr(part, kind, None) is not None
        }
        if any(getattr(part, "name", "") == "multinomial" for part in self.family.parts):
            kinds.add("totals")
        unused = sorted(set(given) - kinds)
        if unused:
            owner = {"trials": "binomial", "exposure": "Poisson", "totals": "multinomial"}
            raise InputError(
                f"{unused[0]}= belongs to a {owner[unused[0]]} emission; this fit "
                f"({self.family.describe()}) has none"
            )
        extras: list[np.ndarray | None] = []
        columns: dict[str, np.ndarray] = {}
        for part in self.family.parts:
            if getattr(part, "name", "") == "multinomial":
                extras.append(_multinomial_totals(given.get("totals"), part_columns(part), n))
                continue
            kind = "trials" if hasattr(part, "trials") else "exposure"
            source = getattr(part, kind, None)
            if kind in given and source is not None:
                values = _row_extras(given[kind], source, kind, part.column, n)
                extras.append(values)
                if isinstance(source, str):
                    columns[source] = values
            elif isinstance(source, str):
                raise InputError(
                    f"sampling needs each row's {kind}: this fit's {kind} is the column "
                    f"{source!r}; give {kind}= ({n} numbers, or a DataFrame with column "
                    f"{source!r})"
                )
            else:
                extras.append(None if source is None else np.full(n, float(source)))
        return {**self.family.sample(theta, states, extras, rng), **columns}

    def describe(self) -> str:
        return self.family.describe()

    def to_spec(self) -> dict[str, Any]:
        return {"kind": "family", "family": self.family.to_spec()}


def _multinomial_totals(value: Any, columns: Sequence[str], n: int) -> np.ndarray:
    """Each sampled row's total count of a multinomial emission over ``columns``, checked."""
    names = ", ".join(columns)
    if value is None:
        raise InputError(
            f"sampling the multinomial emission of {names} needs each row's total count: "
            f"give totals= ({n} numbers, one number, or a DataFrame with those columns)"
        )
    if isinstance(value, pd.DataFrame):
        absent = [name for name in columns if name not in value.columns]
        if absent:
            raise InputError(f"the totals= DataFrame has no column {absent[0]!r}")
        value = value[list(columns)].sum(axis=1, skipna=False)
    if isinstance(value, bool):
        raise InputError(f"totals= must be numbers, got {value!r}")
    try:
        values = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"totals= must be numbers, got {value!r}") from None
    values = np.full(n, float(values)) if values.ndim == 0 else values.reshape(-1)
    if values.shape[0] != n:
        raise InputError(f"totals= has {values.shape[0]} values; sampling {n} rows needs {n}")
    bad = ~np.isfinite(values) | (values < 0) | (values != np.round(values))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(
            f"the total of {names} is {values[i]:g} at row {i}; totals are whole numbers >= 0"
        )
    return values


def _row_extras(value: Any, source: str | float, kind: str, column: str, n: int) -> np.ndarray:
    """Each sampled row's trials or exposure from what the user gave, checked."""
    if isinstance(value, pd.DataFrame):
        if not isinstance(source, str):
            raise InputError(
                f"this fit's {kind} is {source:g} for every row; give {kind}= as {n} numbers"
            )
        if source not in value.columns:
            raise InputError(f"the {kind}= DataFrame has no column {source!r}")
        value = value[source]
    if isinstance(value, bool):
        raise InputError(f"{kind}= must be numbers, got {value!r}")
    try:
        values = np.asarray(value, dtype=float)
    except (TypeError, ValueError):
        raise InputError(f"{kind}= must be numbers, got {value!r}") from None
    values = np.full(n, float(values)) if values.ndim == 0 else values.reshape(-1)
    if values.shape[0] != n:
        raise InputError(f"{kind}= has {values.shape[0]} values; sampling {n} rows needs {n}")
    if kind == "trials":
        bad = ~np.isfinite(values) | (values < 1) | (values != np.round(values))
        rule = "trials are whole numbers >= 1"
    else:
        bad = ~np.isfinite(values) | (values <= 0)
        rule = "exposures are finite and > 0"
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"the {kind} of {column!r} is {values[i]:g} at row {i}; {rule}")
    return values


def _about(stats: GaussianStats, means: np.ndarray) -> GaussianStats:
    """Statistics whose M-step gives the ``means`` where they are not NaN, and the
    scatter about them: Σ γ (x - m)(x - m)' = S2 - s m' - m s' + n m m'."""
    if np.isnan(means).all():
        return stats
    nk = stats.nk
    m = np.where(np.isnan(means), stats.sums / nk[:, None], means)
    sums = nk[:, None] * m
    if stats.second.ndim == 2:  # diagonal scatter
        second = stats.second - 2.0 * stats.sums * m + 2.0 * nk[:, None] * m * m
    else:
        outer = np.einsum("ki,kj->kij", stats.sums, m)
        second = (
            stats.second
            - outer
            - outer.transpose(0, 2, 1)
            + 2.0 * nk[:, None, None] * np.einsum("ki,kj->kij", m, m)
        )
    return GaussianStats(nk, sums, second)


def _part_chart(
    part: Any, theta: np.ndarray, fixed: np.ndarray
) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
    """One part's free coordinates and the map back (fixed entries stay as they are)."""
    from emstat.hmm.model import Constraint
    from emstat.hmm.stderr import _SimplexChart

    if isinstance(part, SimplexColumns):
        simplex = _SimplexChart.of(theta, Constraint(fixed))
        return simplex.coordinates(), simplex.point
    free = np.isnan(fixed)
    scales = np.array(part.scales())[None, :].repeat(theta.shape[0], axis=0)[free]
    coords = np.array([_SCALE_MAPS[s][0](x) for s, x in zip(scales, theta[free], strict=True)])

    def point(v: np.ndarray) -> np.ndarray:
        out = theta.copy()
        out[free] = [_SCALE_MAPS[s][1](x) for s, x in zip(scales, v, strict=True)]
        return out

    return coords.astype(float).reshape(-1), point


# A scale's map to unbounded coordinates and back.
_SCALE_MAPS: dict[str, tuple[Callable[[float], float], Callable[[float], float]]] = {
    "identity": (lambda x: x, lambda v: v),
    "log": (math.log, math.exp),
    "logit": (lambda x: math.log(x / (1.0 - x)), lambda v: 1.0 / (1.0 + math.exp(-v))),
}


def _check_levels(frame: pd.DataFrame, column: str, levels: list[Any]) -> None:
    """Refuse a categorical value that the fit never saw: its probabilities are unknown."""
    values = frame[column]
    unseen = values.notna().to_numpy() & ~values.isin(levels).to_numpy()
    if unseen.any():
        i = int(np.flatnonzero(unseen)[0])
        plain = lambda v: v.item() if isinstance(v, np.generic) else v  # noqa: E731
        raise InputError(
            f"column {column!r} holds {plain(values.iloc[i])!r} at row "
            f"{plain(frame.index[i])!r}, a level never seen in fitting; its levels are "
            f"{describe_labels([plain(v) for v in levels], 20)}"
        )


# --------------------------------------------------------------------------- #
# Gaussian
# --------------------------------------------------------------------------- #


@dataclass(frozen=True, eq=False)
class GaussianRows:
    """Centred rows (NaN where missing), grouped by their pattern of missing coordinates.

    ``complete`` are the rows with every coordinate; ``partial`` maps a
    pattern (a tuple of observed coordinates) to its rows.
    """

    x: np.ndarray
    complete: np.ndarray | None  # None: every row complete
    partial: dict[tuple[int, ...], np.ndarray]

    @property
    def n(self) -> int:
        return int(self.x.shape[0])

    @classmethod
    def of(cls, x: np.ndarray) -> GaussianRows:
        seen = ~np.isnan(x)
        if seen.all():
            return cls(x, None, {})
        full = seen.all(axis=1)
        partial: dict[tuple[int, ...], list[int]] = {}
        for i in np.flatnonzero(~full & seen.any(axis=1)):
            partial.setdefault(tuple(np.flatnonzero(seen[i]).tolist()), []).append(int(i))
        return cls(
            x,
            np.flatnonzero(full),
            {key: np.asarray(rows, dtype=np.intp) for key, rows in partial.items()},
        )


@dataclass(frozen=True)
class GaussianEmission(Emission):
    """Multivariate Gaussian emissions with one of mclust's covariance models.

    The data are centred once at ``center``; the parameters are kept about
    it, as the Gaussian mixture keeps them.  The M-step is the mixture's
    (:class:`~emstat.mixture.model.GaussianMixtureModel`), fed expected
    statistics: a missing coordinate of a partly observed row enters by its
    conditional mean and variance given the observed ones (EM for data
    missing at random); a row with nothing observed carries no statistics.
    """

    covariance: CovarianceModel
    columns: list[str]
    center: np.ndarray

    name = "gaussian"

    @property
    def model(self) -> str:
        return self.covariance.name

    @property
    def d(self) -> int:
        return len(self.columns)

    def encode(self, frame: pd.DataFrame) -> GaussianRows:
        values = np.column_stack([numeric_column(frame, c, "gaussian") for c in self.columns])
        return GaussianRows.of(values - self.center)

    def observed(self, data: GaussianRows) -> np.ndarray:
        return np.asarray(~np.isnan(data.x).all(axis=1))

    def take(self, data: GaussianRows, rows: np.ndarray) -> GaussianRows:
        return GaussianRows.of(data.x[rows])

    def log_density(self, theta: GaussianParams, data: GaussianRows) -> np.ndarray:
        if data.complete is None:
            return _complete_log_density(data.x, theta)
        out = np.zeros((data.n, theta.k))
        if data.complete.size:
            out[data.complete] = _complete_log_density(data.x[data.complete], theta)
        for pattern, rows in data.partial.items():
            seen = np.asarray(pattern, dtype=np.intp)
            out[rows] = _marginal_log_density(data.x[np.ix_(rows, seen)], theta, pattern)
        return out

    def stats(self, theta: GaussianParams | None, data: GaussianRows, gamma: np.ndarray) -> Any:
        scatter = self.covariance.scatter
        if data.complete is None:
            return gaussian.stats_from_responsibilities(data.x, gamma, scatter)
        rows = data.complete
        stats = gaussian.stats_from_responsibilities(data.x[rows], gamma[rows], scatter)
        if theta is None:  # a start: the complete rows only
            return stats
        for pattern, members in data.partial.items():
            stats = stats + _conditional_stats(
                data.x[members], gamma[members], theta, pattern, scatter
            )
        return stats

    def fused_e_step(
        self,
        theta: GaussianParams,
        data: GaussianRows,
        offsets: np.ndarray,
        starts: np.ndarray,
        trans: np.ndarray,
        work: dict[str, np.ndarray] | None = None,
    ) -> tuple[GaussianStats, np.ndarray, np.ndarray, float, int] | None:
        """The whole E-step in one compiled pass each way, for diagonal covariances
        (every model whose orientation is ``I``); None for the others.

        Returns the statistics, the expected transitions, the posterior of each
        sequence's first row, the log-likelihood and the first row of zero
        likelihood (or -1).
        """
        if not theta.diagonal:
            return None
        from emstat.hmm import kernels

        variances = np.einsum("kii->ki", theta.covariances)
        nk, sums, second, xi, first, loglik, bad = kernels.gaussian_diagonal_e_step(
            data.x, offsets, starts, trans, theta.means, variances, work
        )
        return GaussianStats(nk, sums, second), xi, first, loglik, bad

    def m_step(
        self,
        stats: GaussianStats,
        previous: GaussianParams | None,
        fixed: np.ndarray | None = None,
    ) -> GaussianParams:
        check_nonempty(stats.nk)
        mixture = GaussianMixtureModel(self.covariance, stats.nk.shape[0])
        if fixed is None:
            return mixture.m_step(stats, previous)
        means, covariances = self._fixed_parts(fixed)
        theta = mixture.m_step(_about(stats, means), previous)
        # the scatter about the fixed means gives the free covariances; the fixed ones are
        # put in exactly (check_fixed allows only models whose states' covariances are
        # estimated apart, where this is the constrained maximum)
        return gaussian.gaussian_params(
            theta.weights,
            np.where(np.isnan(means), theta.means, means),
            np.where(np.isnan(covariances), theta.covariances, covariances),
            diagonal=theta.diagonal,
        )

    def _fixed_parts(self, fixed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Fixed means about the centre (k, d) and fixed covariances (k, d, d), NaN where
        free (the rows lay out the covariance's upper triangle)."""
        d = self.d
        upper = upper_triangle(d)
        covariances = np.full((fixed.shape[0], d, d), np.nan)
        covariances[:, upper[0], upper[1]] = fixed[:, d:]
        covariances[:, upper[1], upper[0]] = fixed[:, d:]
        return fixed[:, :d] - self.center, covariances

    def check_fixed(self, fixed: np.ndarray) -> int:
        d, name = self.d, self.covariance.name
        means = ~np.isnan(fixed[:, :d])
        partly = means.any(axis=1) & ~means.all(axis=1)
        if partly.any() and self.covariance.scatter != "diag":
            raise InputError(
                f"state {int(np.flatnonzero(partly)[0]) + 1} fixes some coordinates of its "
                f"mean; with correlated coordinates ({name!r}) fix all of them or use a "
                "diagonal model"
            )
        _, covariances = self._fixed_parts(fixed)
        return int(means.sum()) + _check_fixed_covariances(name, covariances, self.columns)

    def n_free(self, k: int) -> int:
        return self.covariance.n_var_params(k, self.d) + k * self.d

    def chart(
        self, theta: GaussianParams, fixed: np.ndarray | None = None
    ) -> tuple[np.ndarray, Callable[[np.ndarray], Any], str | None]:
        from emstat.mixture.stderr import _build_chart, _chart_point

        chart = _build_chart(theta, self.covariance.name)
        k, d = theta.k, theta.d
        skip = k - 1  # the chart's weight coordinates: the states have no weights
        moving = np.ones(chart.n_free - skip, dtype=bool)
        if fixed is not None:
            means, covariances = self._fixed_parts(fixed)
            held = ~np.isnan(covariances).all(axis=(1, 2))
            if held.any() and self.covariance.name in ("V", "VVI"):
                return _diagonal_chart(theta, means, covariances)
            # a fixed mean is its own coordinate; a fixed covariance its state's own
            # volume, shape and orientation (the models check_fixed allows share none)
            moving[: k * d] = np.isnan(means).reshape(-1)
            for j in np.flatnonzero(held):
                moving[chart.cov_index[j] - skip] = False

        def back(v: np.ndarray) -> GaussianParams:
            local = np.zeros(moving.size)
            local[moving] = v
            _, means, covariances = _chart_point(chart, np.concatenate([np.zeros(skip), local]))
            return gaussian.gaussian_params(
                np.full(k, 1.0 / k), means, covariances, diagonal=theta.diagonal
            )

        return np.zeros(int(moving.sum())), back, None

    def rows(self, theta: GaussianParams) -> tuple[list[str], np.ndarray, list[Scale]]:
        names = gaussian.parameter_names(self.columns)
        means = theta.means + self.center
        values = np.empty((theta.k, len(names)))
        scales: list[Scale] = []
        for j, (name, where) in enumerate(names):
            if len(where) == 1:
                values[:, j] = means[:, where[0]]
                scales.append("identity")
            else:
                values[:, j] = theta.covariances[:, where[0], where[1]]
                scales.append("log" if name.startswith("var[") else "identity")
        return [name for name, _ in names], values, scales

    def parameter_names(self) -> tuple[list[str], list[Scale]]:
        names = [name for name, _ in gaussian.parameter_names(self.columns)]
        scales: list[Scale] = [
            "identity" if not name.startswith("var[") else "log" for name in names
        ]
        return names, scales

    def start_features(self, data: GaussianRows) -> np.ndarray:
        spread = np.nanstd(data.x, axis=0)
        features = data.x / np.where(spread > 0, spread, 1.0)
        return np.nan_to_num(features, nan=0.0)

    def theta_from_rows(self, values: np.ndarray) -> GaussianParams:
        k, d = values.shape[0], self.d
        names = gaussian.parameter_names(self.columns)
        means = np.empty((k, d))
        covariances = np.empty((k, d, d))
        for j, (_, where) in enumerate(names):
            if len(where) == 1:
                means[:, where[0]] = values[:, j] - self.center[where[0]]
            else:
                covariances[:, where[0], where[1]] = values[:, j]
                covariances[:, where[1], where[0]] = values[:, j]
        try:
            return gaussian.gaussian_params(
                np.full(k, 1.0 / k), means, covariances, diagonal=self.covariance.scatter == "diag"
            )
        except DegenerateFitError as exc:
            raise InputError(f"the Gaussian start values are not valid: {exc}") from None

    def sample(
        self,
        theta: GaussianParams,
        states: np.ndarray,
        rng: np.random.Generator,
        given: dict[str, Any] | None = None,
    ) -> dict[str, np.ndarray]:
        named = [key for key, value in (given or {}).items() if value is not None]
        if named:
            raise InputError(
                f"{named[0]}= belongs to Poisson, binomial and multinomial emissions, not "
                "Gaussian ones"
            )
        chol = np.linalg.cholesky(theta.covariances)
        noise = rng.standard_normal((states.shape[0], self.d))
        x = theta.means[states] + self.center + np.einsum("nij,nj->ni", chol[states], noise)
        return {c: x[:, j] for j, c in enumerate(self.columns)}

    def describe(self) -> str:
        return f"Gaussian {self.covariance.name} ({self.covariance.description}) of " + ", ".join(
            self.columns
        )

    def to_spec(self) -> dict[str, Any]:
        return {
            "kind": "gaussian",
            "model": self.covariance.name,
            "columns": list(self.columns),
            "center": self.center.tolist(),
        }


def _check_fixed_covariances(name: str, covariances: np.ndarray, columns: list[str]) -> int:
    """Refuse fixed covariances the M-step cannot hold exactly; the free parameters
    they take away.  ``covariances`` is (k, d, d), NaN where free."""
    held = ~np.isnan(covariances)
    states = held.any(axis=(1, 2))
    if not states.any():
        return 0
    shared = [what for letter, what in zip(name, _SHARED, strict=False) if letter == "E"]
    if shared:
        raise InputError(
            f"variances cannot be fixed with model {name!r}: its states share one "
            f"{' and '.join(shared)}, so a state's fixed value would move the others; "
            "use 'V' (1-D), 'VII', 'VVI' or 'VVV'"
        )
    d = covariances.shape[1]
    off = held & ~np.eye(d, dtype=bool)[None]
    if name in ("V", "VII", "VVI") and off.any():
        state, a, b = (int(v) for v in np.argwhere(off)[0])
        raise InputError(
            f"state {state + 1} fixes cov[{columns[min(a, b)]},{columns[max(a, b)]}]; the "
            f"diagonal model {name!r} has no covariances (fix variances, or use 'VVV')"
        )
    diagonals = np.einsum("kii->ki", covariances)
    if name == "VII":
        for j in np.flatnonzero(states):
            if np.isnan(diagonals[j]).any() or np.ptp(diagonals[j]) > 0:
                raise InputError(
                    f"state {j + 1}: the spherical model 'VII' has one variance per state; "
                    "fix every var[...] of the state to one value (or use 'VVI')"
                )
        return int(states.sum())
    if name == "VVV":
        for j in np.flatnonzero(states):
            if not held[j].all():
                raise InputError(
                    f"state {j + 1} fixes part of its covariance; with correlated coordinates "
                    "('VVV') fix every var[...] and cov[...] of the state, or use 'VVI'"
                )
            if not (np.linalg.eigvalsh(covariances[j]) > 0).all():
                raise InputError(f"the fixed covariance of state {j + 1} is not positive definite")
        return int(states.sum()) * d * (d + 1) // 2
    return int((~np.isnan(diagonals)).sum())  # 'V' and 'VVI': each variance its own


# What the letters of an mclust model's name tie across states where they are E.
_SHARED = ("volume", "shape", "orientation")


def _diagonal_chart(
    theta: GaussianParams, means: np.ndarray, covariances: np.ndarray
) -> tuple[np.ndarray, Callable[[np.ndarray], GaussianParams], str | None]:
    """Free coordinates of diagonal covariances per state with some variances fixed:
    the free means and the logs of the free variances, each its own (the volume and
    shape of the mixtures' chart mix a state's variances)."""
    k, d = theta.k, theta.d
    free_means = np.isnan(means)
    variances = np.einsum("kii->ki", theta.covariances).copy()
    free_variances = np.isnan(np.einsum("kii->ki", covariances))
    n_means = int(free_means.sum())
    diagonal = np.arange(d)

    def back(v: np.ndarray) -> GaussianParams:
        moved = theta.means.copy()
        moved[free_means] += v[:n_means]
        scaled = variances.copy()
        scaled[free_variances] *= np.exp(v[n_means:])
        out = np.zeros((k, d, d))
        out[:, diagonal, diagonal] = scaled
        return gaussian.gaussian_params(np.full(k, 1.0 / k), moved, out, diagonal=theta.diagonal)

    return np.zeros(n_means + int(free_variances.sum())), back, None


def gaussian_emission(
    frame: pd.DataFrame, columns: Sequence[str] | None, model: str | None
) -> GaussianEmission:
    """The Gaussian emission of ``frame``'s numeric ``columns`` (all numeric ones by default)."""
    if columns is None:
        chosen = [str(c) for c in frame.columns if pd.api.types.is_numeric_dtype(frame[c])]
        if not chosen:
            raise InputError("the data have no numeric column for Gaussian emissions")
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
        if len(set(chosen)) != len(chosen):
            raise InputError(
                f"column {next(c for c in chosen if chosen.count(c) > 1)!r} is named twice"
            )
    values = np.column_stack([numeric_column(frame, c, "gaussian") for c in chosen])
    seen = ~np.isnan(values)
    empty = [c for c, s in zip(chosen, seen.any(axis=0), strict=True) if not s]
    if empty:
        raise InputError(f"column {describe_labels(empty)} has no observed value")
    center = np.nanmean(values, axis=0)
    constant = [
        c
        for c, lo, hi in zip(chosen, np.nanmin(values, 0), np.nanmax(values, 0), strict=True)
        if lo == hi
    ]
    if constant:
        raise InputError(
            f"column {describe_labels(constant)} is constant; Gaussian emissions need variation "
            "in every column (drop it)"
        )
    if model is None:
        model = "V" if len(chosen) == 1 else "VVV"
    return GaussianEmission(get_covariance_model(model, len(chosen)), chosen, center)


def _complete_log_density(x: np.ndarray, theta: GaussianParams) -> np.ndarray:
    """log N(x_t | μ_j, Σ_j) of complete rows, (T, k)."""
    if theta.d == 1:
        # one column: (x - μ) / σ directly, without the batched whitening
        precision = theta.prec_chol[:, 0, 0]
        z = (x[:, 0:1] - theta.means[None, :, 0]) * precision[None, :]
        return theta.half_log_det_prec[None, :] - 0.5 * (_LOG_2PI + z * z)
    with np.errstate(divide="ignore"):
        log_w = np.log(theta.weights)
    return gaussian.component_log_densities(x, theta) - log_w[None, :]


def _marginal_log_density(
    x: np.ndarray, theta: GaussianParams, pattern: tuple[int, ...]
) -> np.ndarray:
    """log densities of the observed coordinates ``pattern`` (their marginal), (m, k)."""
    idx = list(pattern)
    out = np.empty((x.shape[0], theta.k))
    for j in range(theta.k):
        sigma = theta.covariances[j][np.ix_(idx, idx)]
        chol = np.linalg.cholesky(sigma)
        z = np.linalg.solve(chol, (x - theta.means[j, idx]).T)
        out[:, j] = -np.log(np.diag(chol)).sum() - 0.5 * (
            len(idx) * _LOG_2PI + np.einsum("ij,ij->j", z, z)
        )
    return out


def _conditional_stats(
    x: np.ndarray,
    gamma: np.ndarray,
    theta: GaussianParams,
    pattern: tuple[int, ...],
    scatter: str,
) -> GaussianStats:
    """Expected statistics of rows observed at ``pattern``: missing coordinates by their
    conditional mean, and their conditional covariance added to the second moments."""
    k, d = theta.k, theta.d
    seen = list(pattern)
    hidden = [c for c in range(d) if c not in pattern]
    nk = gamma.sum(axis=0)
    sums = np.zeros((k, d))
    second = np.zeros((k, d)) if scatter == "diag" else np.zeros((k, d, d))
    for j in range(k):
        sigma = theta.covariances[j]
        s_oo = sigma[np.ix_(seen, seen)]
        s_ho = sigma[np.ix_(hidden, seen)]
        gain = np.linalg.solve(s_oo, s_ho.T).T  # (h, o)
        filled = np.empty((x.shape[0], d))
        filled[:, seen] = x[:, seen]
        filled[:, hidden] = theta.means[j, hidden] + (x[:, seen] - theta.means[j, seen]) @ gain.T
        conditional = np.zeros((d, d))
        conditional[np.ix_(hidden, hidden)] = sigma[np.ix_(hidden, hidden)] - gain @ s_ho.T
        g = gamma[:, j]
        sums[j] = g @ filled
        if scatter == "diag":
            second[j] = g @ (filled * filled) + nk[j] * np.diag(conditional)
        else:
            second[j] = (filled * g[:, None]).T @ filled + nk[j] * conditional
    return GaussianStats(nk, sums, second)
