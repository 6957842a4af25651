"""One replicate: draw a data set, fit it, align the estimates to the truth.

Functions here are pure (inputs in, columns out) and picklable, so the same
code runs in this process, in a process pool and on a Dask worker.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd

from emstat.errors import InputError
from emstat.mixture import fit_mixture, select_mixture
from emstat.results import ParamsArrays
from emstat.simulation.design import CRITERIA, Design, IntervalSettings, Scenario, Truth
from emstat.simulation.generate import add_outliers, missing_rng, noise_rng, replicate_rng
from emstat.simulation.missingness import delete_cells

__all__ = [
    "REPLICATE_COLUMNS",
    "SELECTION_COLUMNS",
    "BatchResult",
    "BatchTask",
    "ScenarioSetup",
    "interval_columns",
    "params_arrays",
    "replicate_columns",
    "run_batch",
    "run_replicate",
    "scenario_setup",
    "truth_table",
]

REPLICATE_COLUMNS = (
    "scenario",
    "replicate",
    "component",
    "parameter",
    "truth",
    "estimate",
    "std_err",
    "ci_low",
    "ci_high",
    "converged",
    "n_iter",
    "loglik",
    "seconds",
    "error",
)
SELECTION_COLUMNS = ("scenario", "replicate", "criterion", "k", "model", "true_k", "error")
#: The level of every interval a study computes (its Wald coverage is of 95% intervals too).
INTERVAL_LEVEL = 0.95
#: The column of a study with a ``[missing]`` table: the share of the replicate's cells deleted.
MISSING_COLUMN = "missing_share"
#: The component of a noise fit's rows about its uniform noise component.
NOISE_COMPONENT = 0


def interval_columns(methods: tuple[str, ...]) -> list[str]:
    """The replicate columns of the interval methods: ``ci_low_<method>``, ``ci_high_<method>``."""
    return [f"ci_{end}_{method}" for method in methods for end in ("low", "high")]


def replicate_columns(design: Design) -> list[str]:
    """The columns of a design's replicate rows: the fixed ones, its interval methods',
    and the share of cells deleted when it deletes some."""
    missing = [MISSING_COLUMN] if design.missing.active else []
    return [*REPLICATE_COLUMNS, *interval_columns(design.intervals.methods), *missing]


@dataclass(frozen=True)
class BatchTask:
    """Replicates ``replicates`` of one scenario of a design: the unit of work sent to a worker."""

    design: Design
    scenario: Scenario
    replicates: tuple[int, ...]


@dataclass(frozen=True)
class BatchResult:
    """The rows a batch produced: replicate rows, and selection rows when the scenario selects."""

    scenario: int
    replicates: tuple[int, ...]
    rows: pd.DataFrame
    selection: pd.DataFrame | None


def truth_table(mixture: Truth) -> tuple[list[str], np.ndarray]:
    """Parameter names of one component (in a fit's ``params`` order) and truths (k, p)."""
    return mixture.truth_table()


def params_arrays(fit: Any) -> ParamsArrays:
    """The fit's ``params`` columns as arrays: its own when it keeps them, else its table's."""
    own = getattr(fit, "params_arrays", None)
    if isinstance(own, ParamsArrays):
        return own
    return ParamsArrays.from_frame(fit.params)


def _intervals(
    fit: Any, settings: IntervalSettings, seed: int, params: ParamsArrays
) -> dict[str, np.ndarray]:
    """Each method's interval of every parameter, in ``params``' row order (NaN: none).

    A method that fails on this fit leaves NaN: the fit and the other
    methods' intervals still count.
    """
    key = pd.MultiIndex.from_arrays([params.component, params.parameter])
    out: dict[str, np.ndarray] = {}
    for method in settings.methods:
        options: dict[str, Any] = {}
        if method == "bootstrap":
            options = {
                **settings.bootstrap_options(fit),
                "interval": settings.interval,
                # its own stream: the fit's random choices use the seed itself
                "seed": np.random.SeedSequence(seed).spawn(1)[0],
                "workers": 1,
            }
        low = high = np.full(len(params), np.nan)
        try:
            table = fit.conf_int(INTERVAL_LEVEL, method=method, **options)
            table = table.set_index(["component", "parameter"]).reindex(key)
            low = table["ci_low"].to_numpy(dtype=float)
            high = table["ci_high"].to_numpy(dtype=float)
        except Exception:  # a method that fails on this fit gives no interval
            pass
        out[f"ci_low_{method}"], out[f"ci_high_{method}"] = low, high
    return out


def _aligned_rows(
    fit: Any,
    truth: Truth,
    names: list[str],
    truths: np.ndarray,
    intervals: Any = None,
    noise_weight: float = 0.0,
) -> dict[str, np.ndarray]:
    """The fit's rows in the truth's component order; ``intervals(params)`` adds its methods'.

    A noise fit's own rows come last as component 0, its weight's truth
    ``noise_weight``.
    """
    own = getattr(truth, "aligned_rows", None)
    if own is not None:  # a truth that lays out its own estimates (an HMM's states)
        return dict(own(fit, names, truths))
    params = params_arrays(fit)
    p = len(names)
    match = truth.match(fit)
    unmatched = np.flatnonzero(match < 0)
    labels = match
    if unmatched.size:  # the unmatched fitted components come after the true ones
        labels = match.copy()
        labels[unmatched] = truth.k + np.arange(unmatched.size)
    order = np.argsort(labels, kind="stable")
    ordered = labels[order]
    rows = (order[:, None] * p + np.arange(p)[None, :]).reshape(-1)
    if unmatched.size:
        truth_rows = np.full((fit.k, p), np.nan)
        matched = ordered < truth.k
        truth_rows[matched] = truths[ordered[matched]]
    else:  # every fitted component has its true one
        truth_rows = truths[ordered]
    component = np.repeat(ordered + 1, p)
    parameter = _parameter_column(tuple(names), fit.k).copy()
    truth_values = truth_rows.reshape(-1)
    noise = np.flatnonzero(params.component == NOISE_COMPONENT)
    if noise.size:  # a noise fit's own rows: its weight and its density Vinv
        noise_names = params.parameter[noise]
        rows = np.concatenate([rows, noise])
        component = np.concatenate([component, np.full(noise.size, NOISE_COMPONENT)])
        parameter = np.concatenate([parameter, noise_names])
        truth_values = np.concatenate(
            [truth_values, np.where(noise_names == "weight", noise_weight, np.nan)]
        )
    columns = {
        "component": component,
        "parameter": parameter,
        "truth": truth_values,
        "estimate": params.estimate[rows],
        "std_err": params.std_err[rows],
        "ci_low": params.ci_low[rows],
        "ci_high": params.ci_high[rows],
    }
    if intervals is not None:
        columns.update({name: values[rows] for name, values in intervals(params).items()})
    return columns


@lru_cache(maxsize=64)
def _parameter_column(names: tuple[str, ...], k: int) -> np.ndarray:
    """``names`` repeated for ``k`` components, as an object column (read-only: copy it)."""
    column = np.tile(np.asarray(names, dtype=object), k)
    column.flags.writeable = False
    return column


def _failed_rows(
    k: int,
    truth: Truth,
    names: list[str],
    truths: np.ndarray,
    methods: tuple[str, ...] = (),
) -> dict[str, Any]:
    own = getattr(truth, "failed_rows", None)
    if own is not None:
        return dict(own(k, names, truths))
    p = len(names)
    truth_rows = np.full((k, p), np.nan)
    shared = min(k, truth.k)
    truth_rows[:shared] = truths[:shared]
    nan = np.full(k * p, np.nan)
    return {
        "component": np.repeat(np.arange(1, k + 1), p),
        "parameter": np.tile(np.asarray(names, dtype=object), k),
        "truth": truth_rows.reshape(-1),
        "estimate": nan,
        "std_err": nan,
        "ci_low": nan,
        "ci_high": nan,
        **{name: nan for name in interval_columns(methods)},
    }


def _selection_rows(selection: Any, scenario: Scenario, replicate: int, true_k: int) -> list[tuple]:
    rows = []
    for criterion in CRITERIA:
        try:
            best = selection.best_for(criterion)
            rows.append((scenario.scenario, replicate, criterion, best.k, best.model, true_k, ""))
        except InputError as exc:
            rows.append((scenario.scenario, replicate, criterion, -1, "", true_k, str(exc)))
    return rows


@dataclass(frozen=True)
class ScenarioSetup:
    """What every replicate of a scenario shares: its truth, the truth's table, the fit's
    control and options (made once per batch, not once per replicate)."""

    truth: Truth
    names: list[str]
    truths: np.ndarray
    control: Any
    options: dict[str, Any]


def scenario_setup(design: Design, scenario: Scenario) -> ScenarioSetup:
    """The :class:`ScenarioSetup` of ``scenario``; its truths are read-only (shared)."""
    truth = design.mixture.separated(scenario.separation)
    names, truths = truth_table(truth)
    truths = np.array(truths, dtype=float)
    truths.flags.writeable = False
    return ScenarioSetup(truth, names, truths, design.fit.control(), design.fit.options())


def run_replicate(
    design: Design,
    scenario: Scenario,
    replicate: int,
    setup: ScenarioSetup | None = None,
) -> tuple[dict[str, Any], list[tuple]]:
    """Draw, fit and align replicate ``replicate`` of ``scenario``.

    Returns the replicate's columns (one entry per fitted component x
    parameter) and its selection rows (empty unless the scenario selects).
    A fit that raises or ends degenerate is recorded with NaN estimates and
    the reason in ``error``; it does not stop the study.  ``setup``: the
    scenario's :func:`scenario_setup`, when the caller runs several of its
    replicates.
    """
    if setup is None:
        setup = scenario_setup(design, scenario)
    truth, names, truths = setup.truth, setup.names, setup.truths
    rng, fit_seed = replicate_rng(design.seed, replicate)
    outliers = design.noise.rows(scenario.n)
    data, _ = truth.draw(scenario.n, rng)
    if outliers:
        data = add_outliers(data, outliers, noise_rng(design.seed, replicate))
    noise_weight = outliers / (scenario.n + outliers)
    if design.fit.noise and outliers:  # the Gaussian components share what noise leaves
        truths = truths.copy()
        truths[:, 0] *= 1.0 - noise_weight
    deleted = 0.0
    if design.missing.active:
        data, deleted = delete_cells(data, design.missing, missing_rng(design.seed, replicate))
    settings = design.fit
    control, options = setup.control, setup.options
    selection_rows: list[tuple] = []
    started = time.perf_counter()
    fit: Any = None
    error = ""
    try:
        if scenario.select:
            models = list(design.grid.select_models) or [scenario.model]
            selection = select_mixture(
                data,
                list(design.grid.select_k),
                **truth.select_arguments(models),
                init=settings.init,
                seed=fit_seed,
                control=control,
                **options,
            )
            selection_rows = _selection_rows(selection, scenario, replicate, truth.k)
            fit = selection.fits.get((scenario.k, scenario.model))
        fit_own = getattr(truth, "fit_replicate", None)
        if fit is None and fit_own is not None:  # a truth fitted by its own front end (HMM)
            fit = fit_own(data, scenario.k, scenario.model, settings.init, fit_seed, control)
        if fit is None:
            fit = fit_mixture(
                data,
                scenario.k,
                **truth.fit_arguments(scenario.model),
                init=settings.init,
                seed=fit_seed,
                control=control,
                **options,
            )
        methods = design.intervals.methods
        if fit.ok:
            intervals = None
            if methods:
                fitted = fit

                def intervals(params: ParamsArrays) -> dict[str, np.ndarray]:
                    return _intervals(fitted, design.intervals, fit_seed, params)

            columns = _aligned_rows(fit, truth, names, truths, intervals, noise_weight)
        else:
            error = f"degenerate: {fit.degenerate}"
            columns = _failed_rows(scenario.k, truth, names, truths, methods)
    except Exception as exc:  # a failing replicate is recorded, not fatal
        error = f"{type(exc).__name__}: {exc}"
        columns = _failed_rows(scenario.k, truth, names, truths, design.intervals.methods)
        if scenario.select and not selection_rows:
            selection_rows = [
                (scenario.scenario, replicate, c, -1, "", truth.k, error) for c in CRITERIA
            ]
    seconds = time.perf_counter() - started
    size = len(columns["parameter"])
    ok = fit is not None and fit.ok and not error
    columns.update(
        scenario=np.full(size, scenario.scenario),
        replicate=np.full(size, replicate),
        converged=np.full(size, bool(ok and fit is not None and fit.converged)),
        n_iter=np.full(size, fit.n_iter if fit is not None else 0),
        loglik=np.full(size, fit.loglik if ok and fit is not None else np.nan),
        seconds=np.full(size, seconds),
        error=np.full(size, error, dtype=object),
    )
    if design.missing.active:
        columns[MISSING_COLUMN] = np.full(size, deleted)
    return columns, selection_rows


def run_batch(task: BatchTask) -> BatchResult:
    """Run the replicates of a batch in order; the function workers execute."""
    parts: list[dict[str, Any]] = []
    selection: list[tuple] = []
    setup = scenario_setup(task.design, task.scenario)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for replicate in task.replicates:
            columns, sel = run_replicate(task.design, task.scenario, replicate, setup)
            parts.append(columns)
            selection.extend(sel)
    rows = pd.DataFrame(
        {
            name: np.concatenate([part[name] for part in parts])
            for name in replicate_columns(task.design)
        }
    )
    rows = rows.astype(
        {
            "scenario": "int64",
            "replicate": "int64",
            "component": "int64",
            "parameter": "string",
            "converged": "bool",
            "n_iter": "int64",
            "error": "string",
        }
    )
    sel_frame = (
        pd.DataFrame(selection, columns=list(SELECTION_COLUMNS)).astype(
            {
                "k": "int64",
                "true_k": "int64",
                "model": "string",
                "criterion": "string",
                "error": "string",
            }
        )
        if task.scenario.select
        else None
    )
    return BatchResult(task.scenario.scenario, task.replicates, rows, sel_frame)
