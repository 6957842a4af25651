"""Seconds per EM iteration with 10% of cells missing, against the complete data, in one run.

The same n rows are fitted twice from the same parameters for a fixed number
of iterations (the stopping rule off): once complete, once with a random 10%
of their cells set to NaN (missing completely at random; rows left with no
value are dropped, as ``fit_mixture`` drops them).  Both take turns, three
rounds after 0.2 s idle each, and the best of each is kept (see README.md).

    python bench/missing_speed.py                 # n = 1e6, d = 3, k = 3, VVV
    python bench/missing_speed.py --n 1e5 --model EEE
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from emstat.engine import EMControl, fit_em
from emstat.mixture import gaussian
from emstat.mixture.covariance import get_covariance_model
from emstat.mixture.missing import IncompleteRows
from emstat.mixture.model import GaussianMixtureModel


def make_data(n: int, d: int, k: int, share: float, seed: int = 0) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(k, d))
    x = centres[rng.integers(k, size=n)] + rng.normal(size=(n, d))
    holes = x.copy()
    holes[rng.random((n, d)) < share] = np.nan
    holes = holes[~np.isnan(holes).all(axis=1)]
    return x - x.mean(axis=0), holes - np.nanmean(holes, axis=0), centres - x.mean(axis=0)


def start(centres: np.ndarray, x: np.ndarray) -> gaussian.GaussianParams:
    k, d = centres.shape
    spread = np.repeat(np.cov(x.T).reshape(d, d)[None], k, axis=0)
    return gaussian.gaussian_params(np.full(k, 1.0 / k), centres.copy(), spread)


def per_iteration(model: GaussianMixtureModel, data: object, theta0: object, iters: int) -> float:
    control = EMControl(tol=0.0, criterion="abs", max_iter=iters)
    time.sleep(0.2)
    began = time.perf_counter()
    fit_em(model, data, theta0=theta0, control=control, warn=False)
    return (time.perf_counter() - began) / iters


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=float, default=1e6)
    parser.add_argument("--d", type=int, default=3)
    parser.add_argument("--k", type=int, default=3)
    parser.add_argument("--share", type=float, default=0.1, help="share of cells missing")
    parser.add_argument("--model", default="VVV")
    parser.add_argument("--iters", type=int, default=10)
    args = parser.parse_args()
    complete, holes, centres = make_data(int(args.n), args.d, args.k, args.share)
    model = GaussianMixtureModel(get_covariance_model(args.model, args.d), args.k)
    theta0 = start(centres, complete)
    began = time.perf_counter()
    incomplete = IncompleteRows.from_array(holes)
    layout_s = time.perf_counter() - began
    per_iteration(model, complete, theta0, 2)  # compile and warm both paths
    per_iteration(model, incomplete, theta0, 2)
    best_complete = best_missing = float("inf")
    for _ in range(3):
        best_complete = min(best_complete, per_iteration(model, complete, theta0, args.iters))
        best_missing = min(best_missing, per_iteration(model, incomplete, theta0, args.iters))
    print(
        f"n = {int(args.n):,}, d = {args.d}, k = {args.k}, model {args.model}, "
        f"{args.share:.0%} of cells missing: {incomplete.complete.shape[0]:,} complete rows, "
        f"{incomplete.n_fitted - incomplete.complete.shape[0]:,} incomplete in "
        f"{len(incomplete.patterns)} patterns (grouped once in {layout_s * 1e3:.0f} ms)"
    )
    print(f"complete data   {best_complete * 1e3:8.1f} ms per iteration")
    print(f"missing cells   {best_missing * 1e3:8.1f} ms per iteration")
    print(f"ratio           {best_missing / best_complete:8.2f}  (target <= 3)")


if __name__ == "__main__":
    main()
