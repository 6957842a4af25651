"""Run a study: plan the batches still missing, execute them, save, summarise.

:func:`simulate` is the library entry point (``emstat.simulate``);
:func:`run_study` runs a validated :class:`Design` into an output directory
and is what the command line calls.
"""

from __future__ import annotations

import math
import os
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from emstat.errors import InputError
from emstat.simulation.design import (
    Design,
    FitSettings,
    TrueMixture,
    Truth,
    load_design,
    make_design,
    mixture_from_formula,
    mixture_from_mapping,
    share,
    whole_number,
)
from emstat.simulation.errors import StudyFailedError, StudyInterrupted
from emstat.simulation.executors import check_scheduler, prime, primes_workers, run_tasks
from emstat.simulation.family_truth import FamilyTruth
from emstat.simulation.hmm_truth import HMMTruth
from emstat.simulation.lock import study_lock
from emstat.simulation.replicate import BatchTask
from emstat.simulation.storage import StudyDir, now, output_files, package_versions, write_csv
from emstat.simulation.summarise import scenario_table, selection_summary, summarise_replicates

__all__ = ["MAX_FAILED", "check_failures", "plan_batches", "run_study", "simulate"]

#: A study in which more than this share of replicates fail stops with an error.
MAX_FAILED = 0.5
_MAX_BATCH = 50
_BATCHES_PER_WORKER = 4
_TAIL_PIECES = 4


def default_workers() -> int:
    """All the CPUs this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def plan_batches(
    design: Design,
    done: set[tuple[int, int]],
    *,
    workers: int,
    batch_size: int | None = None,
) -> list[BatchTask]:
    """Batches of the replicates not yet done, scenario by scenario, in replicate order.

    Without ``batch_size``, batches hold about a quarter of a worker's share
    (at most 50 replicates): few enough tasks to amortise overhead, enough to
    balance the workers and to lose little when a run is interrupted; the
    last ``workers`` batches are cut in quarters, so that the workers finish
    within a small batch of each other.
    """
    missing = {
        s.scenario: [r for r in range(design.reps) if (s.scenario, r) not in done]
        for s in design.scenarios()
    }
    total = sum(len(v) for v in missing.values())
    given = batch_size is not None
    if batch_size is None:
        batch_size = min(_MAX_BATCH, max(1, math.ceil(total / (_BATCHES_PER_WORKER * workers))))
    whole_number("batch_size", batch_size, 1)
    tasks = []
    for scenario in design.scenarios():
        todo = missing[scenario.scenario]
        for start in range(0, len(todo), batch_size):
            tasks.append(BatchTask(design, scenario, tuple(todo[start : start + batch_size])))
    if given or workers <= 1:
        return tasks
    head = tasks[: max(0, len(tasks) - workers)]
    return head + [piece for task in tasks[len(head) :] for piece in _quarters(task)]


def _quarters(task: BatchTask) -> list[BatchTask]:
    """``task`` cut in up to four batches of consecutive replicates."""
    size = max(1, math.ceil(len(task.replicates) / _TAIL_PIECES))
    return [
        BatchTask(task.design, task.scenario, task.replicates[start : start + size])
        for start in range(0, len(task.replicates), size)
    ]


def _finish(study: StudyDir, design: Design) -> tuple[pd.DataFrame, pd.DataFrame]:
    rows, selection = study.consolidate()
    scenarios = scenario_table(design.scenarios())
    summary = summarise_replicates(rows, scenarios, design.mixture.alignment)
    write_csv(study.path / "scenarios.csv", scenarios)
    write_csv(study.path / "summary.csv", summary)
    if selection is not None:
        write_csv(study.path / "selection_summary.csv", selection_summary(selection, scenarios))
    study.update_manifest(status="complete", finished=now(), failed_replicates=len(_failures(rows)))
    study.remove_parts()
    return rows, summary


def _failures(rows: pd.DataFrame) -> pd.DataFrame:
    """One row per failed replicate: scenario, replicate, error."""
    failed = rows.loc[rows["error"] != "", ["scenario", "replicate", "error"]]
    return failed.drop_duplicates(["scenario", "replicate"])


def check_failures(rows: pd.DataFrame, total: int, where: Path, max_failed: float) -> None:
    """Refuse a study in which more than ``max_failed`` of the replicates failed.

    Raises
    ------
    StudyFailedError
        Naming the count and the most common reasons; the rows stay on disk.
    """
    failed = _failures(rows)
    if len(failed) <= max_failed * total:
        return
    reasons = failed["error"].astype(str).str.slice(0, 120).value_counts().head(3)
    listed = "; ".join(f"{reason} ({count}x)" for reason, count in reasons.items())
    raise StudyFailedError(
        f"{len(failed)} of {total} replicates failed ({len(failed) / total:.0%}); "
        f"most common reasons: {listed}; the rows and summary are in {str(where)!r}"
    )


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """Handle SIGTERM as Ctrl-C while a study runs: saved batches stay, workers are ended.

    Only from the main thread, and only when nobody else handles SIGTERM.
    """
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGTERM) != signal.SIG_DFL
    ):
        yield
        return

    def stop(signum: int, frame: Any) -> None:
        raise StudyInterrupted(signum)

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _check_options(
    workers: int, batch_size: int | None, scheduler: str | None, max_failed: float
) -> tuple[int, int | None]:
    """The number of workers and the batch size, checked (as the scheduler and max_failed)."""
    share("max_failed", max_failed)
    if scheduler:
        check_scheduler(scheduler)
    return (
        whole_number("workers", workers, 1),
        None if batch_size is None else whole_number("batch_size", batch_size, 1),
    )


@contextmanager
def _progress(total: int, done: int, show: bool) -> Iterator[Callable[[int], None]]:
    """``advance(count)`` of the progress bar, or of none (rich is loaded only for a bar)."""
    if not show:
        yield lambda count: None
        return
    from emstat.cli.progress import progress_bar

    with progress_bar(total, done, show=True) as advance:
        yield advance


def _run_locked(
    design: Design,
    study: StudyDir,
    *,
    workers: int,
    scheduler: str | None,
    batch_size: int | None,
    overwrite: bool,
    progress: bool,
    command: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The replicate rows and the summary: read when finished, else computed (what is missing)."""
    spec = design.to_dict()
    scenarios = design.scenarios()
    selecting = {s.scenario for s in scenarios if s.select}
    if study.open(spec, overwrite=overwrite):
        finished = study.read_results(bool(selecting))
        if finished is not None:
            rows = finished[0]
            return rows, summarise_replicates(
                rows, scenario_table(scenarios), design.mixture.alignment
            )
    previous = study.read_manifest()
    # The manifest first: a directory with anything of emstat's in it names its owner.
    study.write_manifest(
        {
            "command": command,
            "seed": design.seed,
            "reps": design.reps,
            "alignment": design.mixture.alignment,
            "alignment_method": design.mixture.alignment_method,
            "streams": "replicate i of every scenario draws from "
            "np.random.SeedSequence(seed).spawn(reps)[i]",
            "variance_convention": "N(mean, variance)",
            "versions": package_versions(),
            "design": spec,
            "files": output_files(bool(selecting)),
            "status": "running",
            "started": previous.get("started", now()) if previous else now(),
            "resumed": now() if previous else None,
            "executor": f"dask {scheduler}" if scheduler else f"{workers} local process(es)",
        }
    )
    study.begin()
    done = study.done(selecting)
    tasks = plan_batches(design, done, workers=workers, batch_size=batch_size)
    total = design.reps * len(scenarios)
    primed = 0
    if primes_workers(tasks, workers=workers, scheduler=scheduler, batch_size=batch_size):
        tasks, result = prime(tasks)
        study.write_part(result)
        primed = len(result.replicates)
    if tasks:
        results = run_tasks(tasks, workers=workers, scheduler=scheduler)
        try:
            with _progress(total, len(done) + primed, progress) as advance:
                for result in results:
                    study.write_part(result)
                    advance(len(result.replicates))
        finally:
            close = getattr(results, "close", None)
            if close is not None:
                close()
    return _finish(study, design)


def run_study(
    design: Design,
    out_dir: str | Path,
    *,
    workers: int | None = None,
    scheduler: str | None = None,
    batch_size: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
    command: str = "",
    max_failed: float = MAX_FAILED,
) -> pd.DataFrame:
    """Run (or resume) ``design`` into ``out_dir`` and return the summary.

    A directory holding a finished study of the same design is summarised
    again without refitting; one holding parts of an interrupted run is
    completed; one of a different design is refused unless ``overwrite``;
    one that emstat did not write is refused.  One run at a time writes a
    directory (it holds ``.emstat.lock``).  Every option is checked before
    any work.

    Raises
    ------
    InputError
        A bad option, or an output directory this run may not use.
    StudyFailedError
        More than ``max_failed`` (a share) of the replicates failed; every
        output is written all the same.
    """
    workers, batch_size = _check_options(
        default_workers() if workers is None else workers, batch_size, scheduler, max_failed
    )
    study = StudyDir(Path(out_dir))
    study.check()
    with _sigterm_as_interrupt():
        study.create()
        with study_lock(study.path):
            rows, summary = _run_locked(
                design, study, workers=workers, scheduler=scheduler, batch_size=batch_size,
                overwrite=overwrite, progress=progress, command=command,
            )  # fmt: skip
    check_failures(rows, design.reps * len(design.scenarios()), study.path, max_failed)
    return summary


def _as_mixture(mixture: Any) -> Truth:
    if isinstance(mixture, (TrueMixture, FamilyTruth, HMMTruth)):
        return mixture
    if isinstance(mixture, str):
        return mixture_from_formula(mixture)
    if isinstance(mixture, Mapping):
        return mixture_from_mapping(mixture)
    raise InputError(
        "mixture must be a 1-D formula such as '0.5*N(-0.8,1) + 0.5*N(0.8,1)' or "
        "'0.6*Pois(2) + 0.4*Pois(9)', a mapping with weights, means and covariances, "
        "a TrueMixture, a FamilyTruth or an HMMTruth"
    )


def simulate(
    mixture: str | Mapping[str, Any] | Truth | None = None,
    *,
    design: str | Path | Design | None = None,
    n: int | Sequence[int] | None = None,
    reps: int | None = None,
    k: int | Sequence[int] | None = None,
    model: str | Sequence[str] | None = None,
    separation: float | Sequence[float] | None = None,
    select_k: int | Sequence[int] | None = None,
    select_models: str | Sequence[str] | None = None,
    seed: int | None = None,
    fit: FitSettings | Mapping[str, Any] | None = None,
    intervals: str | Sequence[str] | Mapping[str, Any] | None = None,
    n_boot: int | None = None,
    missing: Mapping[str, Any] | None = None,
    noise: Mapping[str, Any] | None = None,
    out_dir: str | Path | None = None,
    workers: int | None = 1,
    scheduler: str | None = None,
    batch_size: int | None = None,
    overwrite: bool = False,
    progress: bool = False,
    max_failed: float = MAX_FAILED,
) -> pd.DataFrame:
    """Study an estimator by simulation: draw, fit, align, summarise.

    Every replicate draws a sample of size ``n`` from the true ``mixture``,
    fits a ``k``-component mixture with covariance ``model`` (and, when
    ``select_k`` is given, selects k by BIC, AIC and ICL), aligns the fitted
    components to the true ones (Hungarian matching on the means), and
    records every estimate.  Replicate ``i`` draws from stream ``i`` of
    ``np.random.SeedSequence(seed).spawn(reps)`` in every scenario, so results
    do not depend on ``workers`` or the cluster.

    Parameters
    ----------
    mixture
        The true mixture: a 1-D formula ``"0.5*N(-0.8,1) + 0.5*N(0.8,1)"``
        (``N(mean, variance)``: the second number is the **variance**),
        ``"0.6*Pois(2) + 0.4*Pois(9)"`` or ``"0.3*Bin(20,0.15) + 0.7*Bin(20,0.6)"``
        (fitted with the Poisson or binomial family), a mapping with
        ``weights``, ``means``, ``covariances`` (and ``columns``), a
        :class:`TrueMixture`, a :class:`FamilyTruth`, or an :class:`HMMTruth` (a hidden
        Markov model, from a design's ``[hmm]`` table: see
        :func:`~emstat.simulation.hmm_truth.hmm_truth_from_mapping`; ``n`` is then
        the length of each sequence).  Give this or ``design``.
    design
        A TOML/JSON design file (see :func:`load_design`) or a
        :class:`Design`; the other arguments, when given, override its values.
    n, reps, k, model, separation
        Sample sizes, replicates per scenario, numbers of components to fit
        (default: the true number), covariance models (default ``V`` in 1-D,
        ``VVV`` otherwise) and separations (a factor on every mean's distance
        from the weighted centre; default 1).  Lists are crossed.
    select_k, select_models
        Turn on selection of k among ``select_k`` (with ``select_models``,
        default the scenario's model); the choices are in
        ``selection.parquet``.
    seed
        The study's seed (default 0), recorded in ``run.json``.
    fit
        ``init``, ``tol``, ``criterion``, ``max_iter`` of every fit, and
        the fitter's options ``algorithm``, ``prior``, ``inner_tol``,
        ``mclust_compatible``, ``noise`` (see
        :class:`~emstat.simulation.design.FitSettings` and :func:`load_design`).
    intervals, n_boot
        Interval methods to compare per replicate (``"wald,bootstrap,profile"``
        or a list; or a mapping of
        :class:`~emstat.simulation.design.IntervalSettings`), and the
        bootstrap's refits per replicate (default 199).  The summary then gives
        each method's coverage, its Monte Carlo standard error, median and mean width and
        share of replicates with an interval (see :func:`summarise_replicates`).
    missing
        Cells to delete from each replicate's data before it is fitted:
        ``{"rate": 0.1}`` (MCAR) or ``{"rate": 0.1, "mechanism": "mar"}``
        (see :class:`~emstat.simulation.design.MissingSettings`); the fits
        then use ``missing="em"`` and ``replicates.parquet`` records each
        replicate's ``missing_share``.
    noise
        Outliers appended to each replicate's data: ``{"count": 10}`` or
        ``{"share": 0.05}`` (of n), uniform over the data's bounding box
        (see :class:`~emstat.simulation.design.NoiseSettings`); fit them
        with ``fit={"noise": True}``.
    out_dir
        Where ``replicates.parquet``, ``summary.csv``, ``run.json`` … go; an
        interrupted run resumes there.  Default: a temporary directory,
        removed afterwards (only the summary is kept).
    workers, scheduler
        Local processes (default 1: this process), or the address of a Dask
        scheduler (``tcp://host:8786``; needs ``emstat[dask]``).
    batch_size
        Replicates per task (default: chosen from the work and the workers).
    overwrite
        Replace an ``out_dir`` that holds a study of another design (only the
        files emstat wrote there are removed).
    progress
        Show a progress bar when stderr is a terminal.
    max_failed
        Raise :class:`~emstat.simulation.errors.StudyFailedError` when more
        than this share of the replicates fail (default 0.5; 1 accepts any).

    Returns
    -------
    pandas.DataFrame
        One row per scenario x component x parameter: the scenario's factors,
        ``truth``, ``reps``, ``n_ok``, ``mean``, ``bias``, ``sd``, ``rmse``,
        ``coverage`` (95% intervals), ``n_se``, ``converged``, ``mean_iter``,
        ``aligned_by`` (see :func:`summarise_replicates`).

    Examples
    --------
    >>> from emstat.simulation import simulate
    >>> summary = simulate("0.5*N(-3,1) + 0.5*N(3,1)", n=200, reps=5, seed=1)
    >>> summary[["component", "parameter", "truth"]].head(3)
       component parameter  truth
    0          1    weight    0.5
    1          1   mean[x]   -3.0
    2          1    var[x]    1.0
    """
    values = dict(
        n=n, reps=reps, k=k, model=model, separation=separation, select_k=select_k,
        select_models=select_models, seed=seed, fit=fit, intervals=intervals, n_boot=n_boot,
        missing=missing, noise=noise,
    )  # fmt: skip
    if (mixture is None) == (design is None):
        raise InputError("give either a mixture or a design")
    if isinstance(design, Design):
        built = design
        if any(v is not None for v in values.values()):
            raise InputError("with a Design object, set its fields instead of passing arguments")
    elif design is not None:
        built = load_design(design, **values)
    else:
        if n is None or reps is None:
            raise InputError("give the sample size n and the number of replicates reps")
        values["seed"] = 0 if seed is None else seed
        built = make_design(_as_mixture(mixture), **values)  # type: ignore[arg-type]
    given = {key: value for key, value in values.items() if value is not None}
    command = "emstat.simulate(" + ", ".join(
        [*([repr(mixture)] if isinstance(mixture, str) else []),
         *([f"design={str(design)!r}"] if isinstance(design, (str, Path)) else []),
         *(f"{key}={value!r}" for key, value in given.items())]
    ) + ")"  # fmt: skip
    options = dict(
        workers=workers, scheduler=scheduler, batch_size=batch_size, overwrite=overwrite,
        progress=progress, command=command, max_failed=max_failed,
    )  # fmt: skip
    if out_dir is None:
        with tempfile.TemporaryDirectory(prefix="emstat-sim-") as tmp:
            return run_study(built, Path(tmp) / "study", **options)  # type: ignore[arg-type]
    return run_study(built, out_dir, **options)  # type: ignore[arg-type]
