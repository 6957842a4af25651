"""Fit a mixture to more rows than one would hold in memory, and measure the peak memory.

Writes ``--rows`` rows (default 2e7, d = 3, three components) as Parquet files
of one million rows, then fits ``k = 3, VVV`` from the list of files in a
fresh process and reports its peak resident memory (``ru_maxrss``), the time
and the iterations.  The data alone would take 480 MB as float64; the fit
streams them in chunks of ``--chunk-rows``.

    python bench/large_parquet.py                  # 2e7 rows in a temporary folder
    python bench/large_parquet.py --rows 2000000   # a quicker look
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

FILE_ROWS = 1_000_000


def write_files(folder: Path, rows: int, seed: int = 0) -> list[Path]:
    """Three well-separated components in 3-D, written one file at a time."""
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0, 0.0], [5.0, 0.0, 2.0], [0.0, 6.0, -3.0]])
    paths = []
    for start in range(0, rows, FILE_ROWS):
        m = min(FILE_ROWS, rows - start)
        x = centres[rng.integers(3, size=m)] + rng.normal(size=(m, 3))
        path = folder / f"rows-{start // FILE_ROWS:04d}.parquet"
        pd.DataFrame(x, columns=["a", "b", "c"]).to_parquet(path)
        paths.append(path)
    return paths


def fit_in_child(paths: list[Path], chunk_rows: int) -> dict[str, float]:
    """Fit in a fresh interpreter, so that its peak memory is the fit's alone."""
    code = (
        "import json, sys, time, warnings, emstat\n"
        "paths = sys.argv[2:]\n"
        "started = time.perf_counter()\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('ignore')\n"
        "    fit = emstat.fit_mixture(paths, k=3, model='VVV', chunk_rows=int(sys.argv[1]))\n"
        "print(json.dumps({'seconds': time.perf_counter() - started, 'n': fit.n,\n"
        "    'n_iter': fit.n_iter, 'loglik': fit.loglik, 'converged': fit.converged}))\n"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run(
        [sys.executable, "-c", code, str(chunk_rows), *map(str, paths)],
        check=True,
        capture_output=True,
        text=True,
    )
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result = json.loads(out.stdout.strip().splitlines()[-1])
    result["peak_rss_mb"] = max(peak_kib, before) / 1024
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=20_000_000)
    parser.add_argument("--chunk-rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="emstat-bench-") as tmp:
        started = time.perf_counter()
        paths = write_files(Path(tmp), args.rows)
        took = time.perf_counter() - started
        print(f"wrote {args.rows:,} rows in {len(paths)} files ({took:.1f} s)")
        result = fit_in_child(paths, args.chunk_rows)
    print(json.dumps(result, indent=1))
    raw_mb = args.rows * 3 * 8 / 1e6
    peak = result["peak_rss_mb"]
    print(f"the rows as float64: {raw_mb:.0f} MB; peak memory of the fit: {peak:.0f} MB")


if __name__ == "__main__":
    main()
