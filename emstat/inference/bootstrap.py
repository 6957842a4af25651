"""The bootstrap of a fitted mixture, with mclust's ``MclustBootstrap`` kinds, for every family.

:func:`bootstrap_fit` refits the mixture ``n_boot`` times (``n`` times for
the jackknife), each refit starting from the fit as mclust's do
(``start="fit"``) or repeating the fit's whole estimator on its resample
(``start="estimator"``: its start, restarts and stopping rule, see
:mod:`emstat.inference.estimator_refit`), each on its own
``SeedSequence(seed).spawn`` stream, so the replicates are the same
whichever process runs them; ``workers > 1`` runs them on forked processes,
``scheduler=`` on a Dask cluster.
:class:`BootstrapResult` holds the aligned replicates and gives their
standard errors and percentile, basic, BCa and normal intervals.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from emstat._validation import check_whole
from emstat.engine import EMControl
from emstat.errors import InputError
from emstat.execution import check_scheduler_argument, map_tasks
from emstat.inference import intervals
from emstat.inference.estimator_refit import estimator_refitter, resolve_start
from emstat.inference.refit import KINDS, Refitter, refitter_for
from emstat.results import wald_z

__all__ = ["KINDS", "BootstrapResult", "bootstrap_fit", "check_kind", "parameter_labels"]

Array = NDArray[np.float64]


def check_kind(kind: Any) -> str:
    if kind not in KINDS:
        raise InputError(
            f"unknown bootstrap kind {kind!r}; choose 'bs' (nonparametric), 'wlbs' (weighted "
            "likelihood), 'pb' (parametric) or 'jk' (jackknife)"
        )
    return str(kind)


def _seed_sequence(seed: Any) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return np.random.SeedSequence(int(seed.integers(2**63)))
    if seed is not None and (
        isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0
    ):
        raise InputError(
            f"seed must be None, a whole number >= 0, a SeedSequence or a Generator, got {seed!r}"
        )
    return np.random.SeedSequence(seed)


def _refit(refitter: Refitter, task: tuple[str, int, np.random.SeedSequence]) -> Array | None:
    """One refit's aligned estimates (None when it failed), from its own stream."""
    kind, b, seq = task
    return refitter.refit(kind, b, np.random.default_rng(seq))


def run_refits(
    refitter: Refitter,
    kind: str,
    n_boot: int,
    seed: np.random.SeedSequence,
    workers: int,
    scheduler: Any = None,
) -> Array:
    """``(n_boot, m)`` aligned refit estimates; a failed refit's row is NaN.

    The refits run on :func:`emstat.execution.map_tasks` (this process,
    ``workers`` processes or the Dask ``scheduler``); each refit draws from
    its own spawned stream, so the rows are those of a serial run whatever
    runs them.
    """
    tasks = [(kind, b, seq) for b, seq in enumerate(seed.spawn(n_boot))]
    if n_boot < 2 * workers:  # too few refits to pay for starting processes
        workers = 1
    rows = map_tasks(_refit, tasks, workers=workers, scheduler=scheduler, shared=refitter)
    m = next((len(r) for r in rows if r is not None), 0)
    out = np.full((n_boot, m), np.nan)
    for i, value in enumerate(rows):
        if value is not None:
            out[i] = value
    return out


def parameter_labels(table: pd.DataFrame) -> list[str]:
    """``"component:parameter"`` labels of the rows of a ``params`` table (``"2:mean[x]"``)."""
    return [f"{c}:{p}" for c, p in zip(table["component"], table["parameter"], strict=True)]


@dataclass(frozen=True, eq=False)
class BootstrapResult:
    """Aligned bootstrap (or jackknife) replicates of a fit's parameters.

    ``values`` is ``(n_boot, m)`` in the row order of the fit's ``params``
    (``table``: component, parameter, estimate, scale); a refit that failed
    has a row of NaN and is counted in :attr:`n_failed`.
    """

    kind: str
    n_boot: int
    table: pd.DataFrame
    values: Array = field(repr=False)
    seconds: float
    control: EMControl
    refitter: Refitter = field(default=None, repr=False)
    workers: int = 1
    scheduler: Any = field(default=None, repr=False)
    start: str = "fit"  # "estimator": each refit repeats the fit's start; "fit": from the fit
    _cache: dict[str, Array] = field(default_factory=dict, repr=False)

    @property
    def failed(self) -> NDArray[np.bool_]:
        return np.asarray(np.isnan(self.values).any(axis=1))

    @property
    def n_failed(self) -> int:
        """Refits that were degenerate (dropped from every statistic)."""
        return int(self.failed.sum())

    @property
    def kept(self) -> Array:
        return self.values[~self.failed]

    @property
    def estimate(self) -> Array:
        return self.table["estimate"].to_numpy(dtype=float)

    @property
    def _index(self) -> pd.MultiIndex:
        return pd.MultiIndex.from_frame(self.table[["component", "parameter"]])

    @property
    def replicates(self) -> pd.DataFrame:
        """The kept replicates: one row per refit (indexed by its number), one column per
        parameter (a (component, parameter) MultiIndex)."""
        index = pd.Index(np.flatnonzero(~self.failed), name="replicate")
        return pd.DataFrame(self.kept, index=index, columns=self._index)

    def _std_errors(self) -> Array:
        kept = self.kept
        if kept.shape[0] < 2:
            return np.full(kept.shape[1], np.nan)
        if self.kind == "jk":
            return intervals.jackknife_std_errors(kept)
        return np.asarray(np.std(kept, axis=0, ddof=1), dtype=float)

    @property
    def std_errors(self) -> pd.Series:
        """Bootstrap standard deviations (``ddof = 1``); the jackknife's for ``kind="jk"``."""
        return pd.Series(self._std_errors(), index=self._index, name="std_err")

    def _jackknife(self) -> Array:
        """Jackknife replicates for BCa's acceleration (this result's own when it is one)."""
        if self.kind == "jk":
            return self.kept
        if "jk" not in self._cache:
            if self.refitter is None:
                raise InputError("BCa intervals need the fit's data (its jackknife)")
            # the jackknife's leave-one-out refits start from the fit, whatever this one's start
            jack = run_refits(
                getattr(self.refitter, "base", self.refitter),
                "jk",
                self.refitter.n_units,
                np.random.SeedSequence(0),
                self.workers,
                self.scheduler,
            )
            self._cache["jk"] = jack[~np.isnan(jack).any(axis=1)]
        return self._cache["jk"]

    def conf_int(self, level: float = 0.95, interval: str | None = None) -> pd.DataFrame:
        """Intervals at ``level``: ``percentile`` (default), ``bca``, ``basic`` or ``normal``
        (the jackknife's default and only kind: estimate ± z·se on the parameter's scale).

        Returns the fit's ``params`` layout: component, parameter, estimate,
        std_err (the bootstrap's), ci_low, ci_high, scale and method.
        """
        wald_z(level)
        if interval is None:
            interval = "normal" if self.kind == "jk" else "percentile"
        if interval not in intervals.INTERVALS:
            raise InputError(
                f"unknown interval {interval!r}; choose one of {', '.join(intervals.INTERVALS)}"
            )
        if self.kind == "jk" and interval != "normal":
            raise InputError(
                f"the jackknife gives 'normal' intervals (estimate ± z·se), not {interval!r}"
            )
        kept, estimate = self.kept, self.estimate
        scales = list(self.table["scale"])
        se = self._std_errors()
        if kept.shape[0] < 2:
            low = high = np.full(estimate.shape, np.nan)
        elif interval == "percentile":
            low, high = intervals.percentile_interval(kept, level)
        elif interval == "basic":
            low, high = intervals.basic_interval(kept, estimate, scales, level)
        elif interval == "bca":
            low, high = intervals.bca_interval(kept, estimate, self._jackknife(), level)
        else:
            low, high = intervals.normal_interval(estimate, se, scales, level)
        out = self.table[["component", "parameter", "estimate"]].copy()
        out["std_err"] = se
        out["ci_low"] = low
        out["ci_high"] = high
        out["scale"] = self.table["scale"].to_numpy()
        out["method"] = f"bootstrap-{interval}"
        return out.reset_index(drop=True)

    def describe(self) -> str:
        """One line: the kind, the refits and how many failed."""
        names = {
            "bs": "nonparametric bootstrap",
            "wlbs": "weighted likelihood bootstrap",
            "pb": "parametric bootstrap",
            "jk": "jackknife",
        }
        starts = {
            "estimator": "each repeats the fit's start, restarts and stopping rule",
            "fit": "each from the fit",
        }
        return (
            f"{names[self.kind]} ({self.kind}): {self.n_boot} refits, {self.n_failed} failed, "
            f"{self.seconds:.2f} s; {starts[self.start]}"
        )

    def _repr_html_(self) -> str:
        from emstat._html import table_html

        return table_html(self)

    def summary(self, level: float = 0.95) -> str:
        """The kind, the refits, failures, and the standard errors and default intervals."""
        table = self.conf_int(level)
        table["component"] = table["component"].astype(str)
        text = table.drop(columns="method").to_string(
            index=False, float_format=lambda v: f"{v:.6g}"
        )
        interval = "normal" if self.kind == "jk" else "percentile"
        return f"{self.describe()}\n{level:.0%} {interval} intervals\n\n{text}"

    def __str__(self) -> str:
        return self.summary()


def bootstrap_fit(
    fit: Any,
    n_boot: int = 999,
    kind: str = "bs",
    seed: Any = None,
    workers: int = 1,
    control: EMControl | None = None,
    scheduler: Any = None,
    start: str | None = "fit",
) -> BootstrapResult:
    """Bootstrap a Gaussian or family mixture fit (``fit.bootstrap`` calls this).

    Parameters
    ----------
    fit
        A fit that is ``ok``.
    n_boot
        Refits (>= 2); the jackknife makes one per row fitted instead.
    kind
        ``"bs"`` (resample rows), ``"wlbs"`` (Dirichlet weights on the rows),
        ``"pb"`` (draw from the fit) or ``"jk"`` (leave one row out).
    seed
        None, a whole number, a SeedSequence or a Generator: replicate b
        draws from ``SeedSequence(seed).spawn(n_boot)[b]``.
    workers
        Processes to refit on (forked; 1: this process).
    control
        EM stopping rule of the refits (default: the fit's, as mclust).
    scheduler
        A Dask scheduler address (``"tcp://host:8786"``) or a
        ``distributed.Client``: the refits run on that cluster instead
        (``workers`` is then unused), with the same replicates as here.
    start
        Where each refit starts.  ``"fit"`` (the default, mclust's): EM from
        the fitted responsibilities of the resampled rows (bs, wlbs, jk) or
        of the parametric sample (pb; mclust starts from its simulated
        labels, the same limit), at ``control``; the spread is then EM's
        within the fit's basin.  ``"estimator"``: the fit's whole estimator
        again on each resample, its start (quantile, hc, kmeans++, random)
        with its restarts and its stopping rule (``control`` if given), so
        the replicates spread as the estimator does; on overlapping
        components the fit's start understates some spreads and overstates
        others (the seed's design: variances' percentile coverage 0.90,
        0.94 repeating the estimator).  None: ``"estimator"`` where the
        fit's start can be repeated on a resample (an EM fit of any family
        from a named start, kinds bs, wlbs, pb), ``"fit"`` otherwise.  ``kind``
        keeps mclust's meaning either way: what is resampled.
    """
    kind = check_kind(kind)
    if isinstance(n_boot, (bool, np.bool_)) or not isinstance(n_boot, (int, np.integer)):
        raise InputError(f"n_boot must be a whole number >= 2, got {n_boot!r}")
    if n_boot < 2:
        raise InputError(f"n_boot must be a whole number >= 2, got {n_boot!r}")
    workers = check_whole(workers, "workers")
    if control is not None and not isinstance(control, EMControl):
        raise InputError(f"control must be an EMControl, got {type(control).__name__}")
    sequence = _seed_sequence(seed)
    check_scheduler_argument(scheduler)
    start = resolve_start(start, kind, fit)
    table = fit.conf_int(0.95)[["component", "parameter", "estimate", "scale"]]
    refitter = refitter_for(fit, kind, control)
    if start == "estimator":
        refitter = estimator_refitter(fit, refitter)
    count = refitter.n_units if kind == "jk" else int(n_boot)
    started = time.perf_counter()
    values = run_refits(refitter, kind, count, sequence, workers, scheduler)
    if values.shape[1] != len(table):  # every refit failed
        values = np.full((count, len(table)), np.nan)
    return BootstrapResult(
        kind=kind,
        n_boot=count,
        table=table.reset_index(drop=True),
        values=values,
        seconds=time.perf_counter() - started,
        control=refitter.control,
        refitter=refitter,
        workers=workers,
        scheduler=scheduler,
        start=start,
    )
