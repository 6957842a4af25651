"""The 9 x 14 mclust selection: emstat against R's Mclust and against pymclustR, on one core.

``python bench/selection_vs_mclust.py`` (emstat and R: a minute; pymclustR:
up to ``--pymclustr-budget`` seconds per data set, ``--no-pymclustr`` to leave
it out; ``--data iris faithful`` for some data sets) times, on each data set,

- ``emstat.select_mixture(X, k=range(1, 10))`` (all 14 models, or E and V in 1-D),
- R's ``Mclust(X, G = 1:9)`` through rpy2, timed inside R (``proc.time``),
- pymclustR's ``Mclust(X, G=range(1, 10))`` (PyPI ``pymclustR``, a pure-Python port),
  in a child process, once (``--pymclustr-rounds``), stopped after the budget,

in turn, each after 0.2 s idle, best of ``--rounds`` (3) rounds, all on one
core. A timing runs the selection back to back until it has lasted at least
``--min-seconds`` (0.2 s; measured by a first call of each) and gives the time
per call: R's clock (``proc.time``) counts whole milliseconds, a fifth of a
selection on galaxies, and one cold call after the idle pause measures the
pause more than the code. numba runs on one thread, and the BLAS/OpenMP pools
of numpy and R are set to one thread before either starts. It then counts the
BIC cells of emstat and of pymclustR that agree with R's to 1e-6 relative
(both NA counts as agreeing; emstat's BIC is shown with mclust's sign).
emstat's default iterative M-steps (VEE, EVE, VVE) run to the exact
constrained maximum, where mclust 6.0 stops earlier, so a few of emstat's
cells differ from R's beyond 1e-6 by design; ``mclust_compatible=True``
matches them (tests/mixture/test_mclust_reference.py). This prints a table; it
tests nothing.
"""

from __future__ import annotations

import os

for _name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_name] = "1"  # before numpy and R load their thread pools

import argparse  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from collections.abc import Callable  # noqa: E402
from functools import partial  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SETTLE_SECONDS = 0.2
RTOL = 1e-6
KS = range(1, 10)
DATA = ("faithful", "iris", "wreath", "galaxies", "acidity", "banknote")


def load(name: str) -> np.ndarray:
    """The data set ``name`` as a float array (iris from R's datasets, as Mclust sees it)."""
    if name == "iris":
        import rpy2.robjects as ro

        # A copy: np.asarray of an R matrix is a view of R's memory, which R reuses
        # once it collects the matrix (the rows then change under the next fits).
        return np.array(ro.r("as.matrix(datasets::iris[, 1:4])"), dtype=float, copy=True)
    paths = {
        "faithful": ROOT / "data" / "faithful.csv",
        "acidity": ROOT / "data" / "acidity.csv",
        "wreath": ROOT / "tests" / "reference" / "mclust_wreath.csv",
        "galaxies": ROOT / "tests" / "reference" / "mclust_galaxies.csv",
        "banknote": ROOT / "tests" / "reference" / "mclust_banknote.csv",
    }
    return pd.read_csv(paths[name]).to_numpy(dtype=float)


def time_emstat(x: np.ndarray, tables: dict[str, pd.DataFrame], calls: int = 1) -> float:
    """``select_mixture``'s seconds per call over ``calls`` calls back to back."""
    import emstat

    frame = pd.DataFrame(x, columns=[f"x{j + 1}" for j in range(x.shape[1])])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        started = time.perf_counter()
        for _ in range(calls):
            selection = emstat.select_mixture(frame, k=KS)
        seconds = time.perf_counter() - started
    tables["emstat"] = selection.table_for("bic", "mclust")
    return seconds / calls


def time_r(x: np.ndarray, tables: dict[str, pd.DataFrame], calls: int = 1) -> float:
    """Mclust's seconds per call over ``calls`` calls back to back, timed inside R (the data
    are sent before the clock starts)."""
    import rpy2.robjects as ro
    from rpy2.robjects import numpy2ri
    from rpy2.robjects.conversion import localconverter

    with localconverter(ro.default_converter + numpy2ri.converter):
        ro.globalenv["X"] = x
        ro.globalenv["calls"] = calls
    seconds, bic, ks, models = ro.r(
        """
        local({
          started <- proc.time()[["elapsed"]]
          for (call in seq_len(calls)) fit <- Mclust(X, G = 1:9, verbose = FALSE)
          elapsed <- (proc.time()[["elapsed"]] - started) / calls
          list(elapsed, as.numeric(unclass(fit$BIC)), as.integer(rownames(fit$BIC)),
               colnames(fit$BIC))
        })
        """
    )
    ks, models = list(ks), list(models)
    values = np.asarray(bic, dtype=float).reshape(len(models), len(ks)).T  # R is column-major
    tables["R"] = pd.DataFrame(values, index=ks, columns=models)
    return float(seconds[0])


def _pymclustr_child(name: str) -> None:
    """In a child process: pymclustR's seconds and BIC table on ``name``, as JSON on stdout."""
    from mclust_py import Mclust

    x = load(name)
    started = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = Mclust(x, G=KS)
    seconds = time.perf_counter() - started
    table = fit.BIC.copy()
    table.index = table.index.astype(int)  # its G labels are strings
    print(json.dumps({"seconds": seconds, "table": table.to_json(orient="split")}))


def time_pymclustr(name: str, budget: float, tables: dict[str, pd.DataFrame]) -> float:
    """pymclustR's seconds, run in a child process stopped after ``budget`` seconds (inf then).

    pymclustR is pure Python: on a few hundred rows one selection takes minutes.
    """
    command = [sys.executable, __file__, "--pymclustr-child", name]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=budget, check=True)
    except subprocess.TimeoutExpired:
        return math.inf
    answer = json.loads(done.stdout.strip().splitlines()[-1])
    tables["pymclustR"] = pd.read_json(io.StringIO(answer["table"]), orient="split")
    return float(answer["seconds"])


def agreeing(table: pd.DataFrame, reference: pd.DataFrame) -> int:
    """Cells of ``table`` equal to ``reference``'s to ``RTOL`` relative (NA where it is NA)."""
    count = 0
    for k in reference.index:
        for model in reference.columns:
            r = float(reference.loc[k, model])
            try:
                value = float(table.loc[k, model])
            except KeyError:
                value = math.nan
            if math.isnan(r) or math.isnan(value):
                count += math.isnan(r) and math.isnan(value)
            else:
                count += abs(value - r) <= RTOL * abs(r)
    return count


def calls_for(seconds: float, min_seconds: float) -> int:
    """Calls back to back that last at least ``min_seconds`` at ``seconds`` per call."""
    return max(1, math.ceil(min_seconds / max(seconds, 1e-4)))


def interleaved_best(
    runs: dict[str, Callable[[], float]], rounds: dict[str, int]
) -> dict[str, float]:
    """The fastest time of each run over its ``rounds``, each round running them all in turn
    (a run stopped by its budget is not run again)."""
    best = dict.fromkeys(runs, math.inf)
    for round_ in range(max(rounds.values())):
        for name, run in runs.items():
            if round_ < rounds[name] and not (round_ and math.isinf(best[name])):
                time.sleep(SETTLE_SECONDS)
                best[name] = min(best[name], run())
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", nargs="+", choices=DATA, default=list(DATA))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--min-seconds",
        type=float,
        default=0.2,
        help="least duration of one timing of emstat or R, in calls back to back (default 0.2)",
    )
    parser.add_argument("--no-pymclustr", action="store_true", help="leave pymclustR out")
    parser.add_argument(
        "--pymclustr-budget",
        type=float,
        default=600.0,
        help="seconds one pymclustR selection may take before it is stopped (default 600)",
    )
    parser.add_argument(
        "--pymclustr-rounds",
        type=int,
        default=1,
        help="rounds of pymclustR (default 1: it is two orders of magnitude slower)",
    )
    parser.add_argument("--pymclustr-child", choices=DATA, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.pymclustr_child:
        _pymclustr_child(args.pymclustr_child)
        return

    import numba
    import rpy2.robjects as ro

    numba.set_num_threads(1)
    ro.r("suppressPackageStartupMessages(library(mclust))")
    version = str(ro.r('as.character(packageVersion("mclust"))')[0])
    rows = []
    for name in args.data:
        x = load(name)
        tables: dict[str, pd.DataFrame] = {}
        # the first calls compile and cache the kernels, and size the timings
        emstat_calls = calls_for(
            min(time_emstat(x, tables), time_emstat(x, tables)), args.min_seconds
        )
        r_calls = calls_for(time_r(x, tables), args.min_seconds)
        runs: dict[str, Callable[[], float]] = {
            "emstat": partial(time_emstat, x, tables, emstat_calls),
            "R": partial(time_r, x, tables, r_calls),
        }
        if not args.no_pymclustr:
            runs["pymclustR"] = partial(time_pymclustr, name, args.pymclustr_budget, tables)
        rounds = {"emstat": args.rounds, "R": args.rounds, "pymclustR": args.pymclustr_rounds}
        best = interleaved_best(runs, rounds)
        cells = tables["R"].size
        row = {
            "data": name,
            "n x d": f"{x.shape[0]} x {x.shape[1]}",
            "emstat s": best["emstat"],
            "R s": best["R"],
            "R/emstat": best["R"] / best["emstat"],
            "calls (emstat, R)": f"{emstat_calls}, {r_calls}",
        }
        if not args.no_pymclustr:
            stopped = math.isinf(best["pymclustR"])
            row["pymclustR s"] = f"> {args.pymclustr_budget:g}" if stopped else best["pymclustR"]
            row["pymclustR cells agreeing"] = (
                "stopped" if stopped else f"{agreeing(tables['pymclustR'], tables['R'])}/{cells}"
            )
        row["emstat cells agreeing"] = f"{agreeing(tables['emstat'], tables['R'])}/{cells}"
        rows.append(row)
        print(f"{name}: done", flush=True)
    print(
        f"\nmclust {version}; one core; best of {args.rounds} (pymclustR: "
        f"{args.pymclustr_rounds}); BIC cells agree to {RTOL:g} relative"
    )
    print(markdown(rows))


def markdown(rows: list[dict[str, object]]) -> str:
    """The rows as a Markdown table (seconds to 3 significant digits)."""
    header = list(rows[0])

    def cell(value: object) -> str:
        return f"{value:.3g}" if isinstance(value, float) else str(value)

    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(row[h]) for h in header) + " |" for row in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
