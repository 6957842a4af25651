"""Speed of a simulation study: 1,000 replicates of n = 100, k = 2, 1-D (target: ~1 s on 2 CPUs).

Run: ``python bench/simulation_speed.py [--reps 1000] [--workers 2]``.  Prints
the wall time of the whole study (pool start-up, fits with information
standard errors, alignment, storage and summary), the mean time per fit as
recorded in ``replicates.parquet``, and where one fit's time goes (cProfile of
``fit_mixture`` + ``params`` in this process).

``--compare`` times, in this run, EM's compiled loop against the engine's
Python loop (``emstat.mixture._em_kernels.enabled``): one small fit's EM
(n = 100, d = 1, k = 2, model V), one replicate of the study at the margin,
and ``select_mixture`` on faithful and iris; ``--before DIR`` also times the
whole command (``emstat simulate ... --workers 2 -q``, start-up, pool, fits,
storage, summary and exit) with the package in DIR (an older checkout, or a
git revision, unpacked for the run) against this one, alternating, with 20
replicates (about the start-up alone) and with ``--reps``; a first run of
each writes numba's cache of its kernels.  ``--stderr`` times the
information standard errors of the study's fits (``fit.params_arrays`` on
the fits of its 1,000 replicates, ms per fit, CPU time: the Newton polish,
the EM route where it does not reach a maximum within reach, the empirical
information and the Wald table), with ``--before DIR`` also with the
package in DIR, alternating.  Every time is the best of ``--rounds`` (the
machine is shared).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from emstat.mixture import fit_mixture
from emstat.simulation import simulate

FORMULA = "0.5*N(-0.8,1) + 0.5*N(0.8,1)"


def study(reps: int, workers: int) -> tuple[float, pd.DataFrame]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "sim"
        started, cpu = time.perf_counter(), time.process_time()
        simulate(FORMULA, n=100, reps=reps, k=2, model="V", seed=1, out_dir=out, workers=workers)
        seconds = time.perf_counter() - started
        if workers == 1:  # CPU time is a fair measure only when the work runs in this process
            print(f"workers=1: CPU {time.process_time() - cpu:.2f} s")
        rows = pd.read_parquet(out / "replicates.parquet")
    return seconds, rows


def profile_fits(count: int = 200) -> str:
    rng = np.random.default_rng(1)
    data = [
        pd.DataFrame({"x": np.concatenate([rng.normal(-0.8, 1, 50), rng.normal(0.8, 1, 50)])})
        for _ in range(count)
    ]
    profiler = cProfile.Profile()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _ = fit_mixture(data[0], 2, "V").params  # warm up
        profiler.enable()
        for x in data:
            fit = fit_mixture(x, 2, "V")
            if fit.ok:
                _ = fit.params  # the information standard errors
        profiler.disable()
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
    return out.getvalue()


def _best(function, rounds: int, repeat: int = 1) -> float:  # type: ignore[no-untyped-def]
    """The best of ``rounds`` timings of ``repeat`` calls, per call."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(repeat):
            function()
        times.append((time.perf_counter() - started) / repeat)
    return min(times)


def _both_loops(function, rounds: int, repeat: int = 1) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    """``function``'s best time with the Python loop and with the compiled loop, alternating."""
    from emstat.mixture import _em_kernels

    python, compiled = [], []
    for _ in range(rounds):
        for enabled, times in ((False, python), (True, compiled)):
            _em_kernels.enabled = enabled
            times.append(_best(function, 1, repeat))
    _em_kernels.enabled = True
    return min(python), min(compiled)


def _row(label: str, python: float, compiled: float, unit: float = 1e3) -> str:
    name = "ms" if unit == 1e3 else "s"
    return (
        f"{label:<34} {python * unit:>9.3f} {compiled * unit:>9.3f} {name:<2} "
        f"{python / compiled:>6.2f}x"
    )


def compare(rounds: int) -> None:
    """The compiled loop against the Python loop, in this process (see the module docstring)."""
    from sklearn.datasets import load_iris

    from emstat import load_dataset, select_mixture
    from emstat.engine import EMControl, fit_em
    from emstat.mixture.covariance import get_covariance_model
    from emstat.mixture.model import GaussianMixtureModel
    from emstat.simulation.design import make_design, mixture_from_formula
    from emstat.simulation.replicate import run_replicate

    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-0.8, 1, 50), rng.normal(0.8, 1, 50)])[:, None]
    x = np.ascontiguousarray(x - x.mean())
    em_model = GaussianMixtureModel(get_covariance_model("V", 1), 2)
    stats0 = em_model.stats_from_labels(x, (x[:, 0] > 0).astype(int))
    n_iter = fit_em(em_model, x, stats0=stats0, control=EMControl()).n_iter
    design = make_design(mixture_from_formula(FORMULA), n=100, reps=1000, k=2, model="V", seed=1)
    scenario = design.scenarios()[0]
    iris = load_iris(as_frame=True).data
    faithful = load_dataset("faithful")
    print(f"{'best of ' + str(rounds):<34} {'Python':>9} {'compiled':>9}    {'ratio':>7}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        small = _both_loops(lambda: fit_em(em_model, x, stats0=stats0), rounds, 200)
        print(_row(f"small fit's EM ({n_iter} iterations)", *small))
        replicate = _both_loops(lambda: run_replicate(design, scenario, 7), rounds, 50)
        print(_row("one seed-study replicate", *replicate))
        for name, data in (("faithful", faithful), ("iris", iris)):
            grid = _both_loops(lambda d=data: select_mixture(d, k=range(1, 10)), rounds)
            print(_row(f"select_mixture({name}), 9 x 14", *grid, unit=1.0))


def whole_command(before: str, reps: int, workers: int, rounds: int) -> None:
    """``emstat simulate`` as a command with the package in ``before`` and in this tree."""
    here = str(Path(__file__).resolve().parent.parent)
    for tree in (before, here):  # bytecode and numba's cache of each tree, as installed
        subprocess.run([sys.executable, "-m", "compileall", "-q", tree + "/emstat"], check=True)
        _run_command(tree, 20, workers)
    for count in dict.fromkeys((20, reps)):  # 20 replicates: the start-up alone, about
        times: dict[str, list[float]] = {before: [], here: []}
        for _ in range(rounds):
            for tree in (before, here):
                times[tree].append(_run_command(tree, count, workers))
        old, new = min(times[before]), min(times[here])
        print(
            f"emstat simulate, {count} replicates, {workers} workers (best of {rounds}): "
            f"before {old:.2f} s, now {new:.2f} s, {old / new:.2f}x"
        )


def _tree(before: str, folder: Path) -> str:
    """A directory holding the package ``before`` names (itself, absolute, or that git
    revision's, unpacked in ``folder``), checked to be the one a child process imports."""
    if Path(before).is_dir():
        tree = str(Path(before).resolve())
    else:
        root = Path(__file__).resolve().parent.parent
        archive = subprocess.run(
            ["git", "-C", str(root), "archive", before, "emstat"], capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
        tree = str(folder.resolve())
    _check_imported_from(tree)
    return tree


def _check_imported_from(tree: str) -> None:
    """Stop unless a child process with ``PYTHONPATH=tree`` imports emstat from ``tree``
    (an editable install or a relative path would time this tree against itself)."""
    with tempfile.TemporaryDirectory() as tmp:
        found = subprocess.run(
            [sys.executable, "-c", "import emstat; print(emstat.__file__)"],
            env={**os.environ, "PYTHONPATH": tree},
            cwd=tmp,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
    if not Path(found).resolve().is_relative_to(Path(tree)):
        raise SystemExit(f"--before {tree}: a child process imports emstat from {found}")


def _run_command(tree: str, reps: int, workers: int) -> float:
    """The wall time of the seed's study as a command (quiet) with the package in ``tree``."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "emstat.cli", "simulate", "--mixture", FORMULA]
        command += ["--n", "100", "--reps", str(reps), "--k", "2", "--model", "V"]
        command += ["--seed", "1", "--workers", str(workers), "-o", tmp + "/x", "-q"]
        started = time.perf_counter()
        subprocess.run(  # run elsewhere: ``-m`` puts the working directory first on the path
            command,
            env={**os.environ, "PYTHONPATH": tree},
            cwd=tmp,
            check=True,
            capture_output=True,
        )
        return time.perf_counter() - started


def stderr_replicates(reps: int = 1000) -> list[tuple[np.ndarray, dict]]:
    """The study's first ``reps`` replicates (seed 1): data and ``fit_mixture`` arguments,
    as ``emstat simulate`` draws and fits them."""
    from emstat.simulation.design import make_design, mixture_from_formula
    from emstat.simulation.replicate import replicate_rng, scenario_setup

    design = make_design(mixture_from_formula(FORMULA), n=100, reps=reps, k=2, model="V", seed=1)
    scenario = design.scenarios()[0]
    setup = scenario_setup(design, scenario)
    replicates = []
    for replicate in range(reps):
        rng, fit_seed = replicate_rng(design.seed, replicate)
        x, _ = setup.truth.draw(scenario.n, rng)
        arguments = {
            **setup.truth.fit_arguments(scenario.model),
            "init": design.fit.init,
            "seed": fit_seed,
            "control": setup.control,
            **setup.options,
        }
        replicates.append((x, arguments))
    return replicates


def stderr_time(rounds: int) -> float:
    """The best of ``rounds`` CPU times of ``fit.params_arrays`` (the information standard
    errors and the Wald table) per fit of the study's 1,000 replicates, in ms; the fits
    themselves are not timed."""
    replicates = stderr_replicates()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _ = fit_mixture(replicates[0][0], 2, **replicates[0][1]).params_arrays  # warm up
        times = []
        for _ in range(rounds):
            cpu, count = 0.0, 0
            for x, arguments in replicates:
                fit = fit_mixture(x, 2, **arguments)
                if fit.ok:
                    started = time.process_time()
                    _ = fit.params_arrays
                    cpu += time.process_time() - started
                    count += 1
            times.append(cpu / count)
    return min(times) * 1e3


def stderr_compare(before: str | None, rounds: int) -> None:
    """:func:`stderr_time` in this tree and, with ``before``, in that one (one round each,
    alternating, in fresh processes)."""
    here = str(Path(__file__).resolve().parent.parent)
    trees = [here] if before is None else [before, here]
    times: dict[str, list[float]] = {tree: [] for tree in trees}
    for _ in range(rounds):
        for tree in trees:
            command = [sys.executable, __file__, "--stderr-here", "--rounds", "3"]
            env = {**os.environ, "PYTHONPATH": tree}
            out = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
            times[tree].append(float(out.stdout.split()[-1]))
    now = min(times[here])
    line = f"fit.params_arrays, ms per fit (CPU, best of {rounds}): now {now:.3f}"
    if before is not None:
        old = min(times[before])
        line += f", before {old:.3f}, {old / now:.2f}x"
    print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="also profile single fits")
    parser.add_argument("--compare", action="store_true", help="compiled loop against Python's")
    parser.add_argument(
        "--before", help="an older checkout or git revision: time the whole command against it"
    )
    parser.add_argument("--stderr", action="store_true", help="time the standard errors")
    parser.add_argument("--stderr-here", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    if args.stderr_here:  # one measurement in this process, for stderr_compare
        print(f"{stderr_time(args.rounds):.6f}")
        return
    print(f"cpus: {os.cpu_count()}, load average {os.getloadavg()[0]:.1f}")
    if args.stderr:
        with tempfile.TemporaryDirectory() as tmp:
            before = None if args.before is None else _tree(args.before, Path(tmp))
            stderr_compare(before, args.rounds)
        return
    if args.compare:
        compare(args.rounds)
    if args.before:
        with tempfile.TemporaryDirectory() as tmp:
            whole_command(_tree(args.before, Path(tmp)), args.reps, args.workers, args.rounds)
    if args.compare or args.before:
        return
    for workers in sorted({1, args.workers}):
        seconds, rows = study(args.reps, workers)
        per_rep = rows.drop_duplicates(["scenario", "replicate"])
        print(
            f"workers={workers}: {args.reps} replicates in {seconds:.2f} s "
            f"({args.reps / seconds:.0f} rep/s); "
            f"mean fit+SE {per_rep['seconds'].mean() * 1e3:.1f} ms, "
            f"mean EM iterations {per_rep['n_iter'].mean():.1f}"
        )
    if args.profile:
        print(profile_fits())


if __name__ == "__main__":
    main()
