"""Time emstat.mixture.hc.hc_merges against the number of rows.

Run: python bench/hc_scaling.py [--d 3] [--model VVV] [--reps 3]

Prints the best-of-``reps`` wall time for n = 250, 500, 1000, 2000, 4000 rows
of a three-cluster Gaussian sample (after svd_transform) and the growth
exponent b of a least-squares fit time ~ a * n**b on the log scale.
The algorithm does O(n) work per merge, so b should be close to 2.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from emstat.mixture.hc import hc_merges, svd_transform

SIZES = (250, 500, 1000, 2000, 4000)


def sample(n: int, d: int, seed: int = 1) -> np.ndarray:
    """Three Gaussian clusters in d dimensions."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(3, d))
    labels = rng.integers(0, 3, size=n)
    return centres[labels] + rng.normal(size=(n, d))


def best_time(Z: np.ndarray, model: str, reps: int) -> float:
    best = np.inf
    for _ in range(reps):
        t0 = time.perf_counter()
        hc_merges(Z, model)  # type: ignore[arg-type]
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--d", type=int, default=3, help="number of variables")
    ap.add_argument("--model", default="VVV", choices=["VVV", "EII"])
    ap.add_argument("--reps", type=int, default=3)
    args = ap.parse_args()

    print(f"hc_merges, model {args.model}, d = {args.d}, best of {args.reps}")
    print(f"{'n':>6}  {'seconds':>9}")
    times = []
    for n in SIZES:
        Z = svd_transform(sample(n, args.d))
        t = best_time(Z, args.model, args.reps if n <= 2000 else 1)
        times.append(t)
        print(f"{n:>6}  {t:>9.3f}")
    b, _ = np.polyfit(np.log(SIZES), np.log(times), 1)
    print(f"fitted growth exponent: time ~ n^{b:.2f}")


if __name__ == "__main__":
    main()
